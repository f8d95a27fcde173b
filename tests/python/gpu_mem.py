"""tests/python/gpu_mem.py: logs the CUDA_VISIBLE_DEVICES its host got, in init(); on the
first try only, allocates 512 MB for files matching --hog P, and exits the host
(os._exit(3)) for files matching --die P. Rows: "NAME<TAB>ok"."""
import argparse
import os

from azureml_user.parallel_run import EntryScript

parser = argparse.ArgumentParser()
parser.add_argument("--hog")
parser.add_argument("--die")
args, _ = parser.parse_known_args()


def init():
    EntryScript().logger.info("gpu_mem: worker %d CUDA_VISIBLE_DEVICES=%s",
                              EntryScript().worker_id, os.environ.get("CUDA_VISIBLE_DEVICES"))


def run(mini_batch):
    names = [os.path.basename(p) for p in mini_batch]
    first = EntryScript().attempt == 1
    if first and args.hog and any(args.hog in n for n in names):
        hog = bytearray(512 << 20)
        del hog
    if first and args.die and any(args.die in n for n in names):
        os._exit(3)
    return ["%s\tok" % n for n in names]
