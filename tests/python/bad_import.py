"""tests/python/bad_import.py: does not import."""
import prs_no_such_module_anywhere  # noqa: F401


def run(mini_batch):
    return mini_batch
