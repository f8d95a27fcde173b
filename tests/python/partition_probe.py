"""tests/python/partition_probe.py: partition_probe.c in Python, through ParallelRunStep's
run(mini_batch, mini_batch_context): one row per record,
"<batch id>\t<key>=<value or NULL>[,...]\t<the record: id,state[,city]>", the keys from
mini_batch_context.partition_key_value, so test_partition.c checks that every batch's dict
equals its rows' keys. It also checks the context's minibatch_index against EntryScript."""
import math

from azureml_user.parallel_run import EntryScript


def run(mini_batch, mini_batch_context):
    keys = mini_batch_context.partition_key_value
    assert isinstance(keys, dict), type(keys)
    batch = EntryScript().mini_batch_id
    assert mini_batch_context.minibatch_index == batch, mini_batch_context
    text = ",".join("%s=%s" % (k, "NULL" if v is None else v) for k, v in keys.items())
    rows = []
    for rec in mini_batch.itertuples(index=False):
        record = "%d,%s" % (rec.id, rec.state)
        if not (isinstance(rec.city, float) and math.isnan(rec.city)):
            record += "," + rec.city
        rows.append("%d\t%s\t%s" % (batch, text, record))
    return rows
