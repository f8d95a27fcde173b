"""tests/python/init_raise.py: init() raises on every worker."""


def init():
    raise RuntimeError("init_raise: model file missing")


def run(mini_batch):
    return mini_batch
