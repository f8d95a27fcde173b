"""tests/python/no_run.py: imports, but defines no run()."""
VALUE = 1
