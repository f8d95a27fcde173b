"""tests/python/newline_rows.py: one row per file, "NAME<TAB>ok"; for a file whose name
contains --newline S the row holds a newline ("NAME<TAB>first\\nsecond"): prs refuses it
as a failed item."""
import argparse
import os


def init():
    global args
    parser = argparse.ArgumentParser()
    parser.add_argument("--newline", default="\x01")
    args, _ = parser.parse_known_args()


def run(mini_batch):
    rows = []
    for path in mini_batch:
        name = os.path.basename(path)
        rows.append("%s\t%s" % (name, "first\nsecond" if args.newline in name else "ok"))
    return rows
