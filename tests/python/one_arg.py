"""tests/python/one_arg.py: a run(mini_batch) of one parameter in a partitioned job: prs
must call it with the mini-batch only (as Azure does), one row per record."""


def run(mini_batch):
    return ["%d" % r for r in mini_batch["id"]]
