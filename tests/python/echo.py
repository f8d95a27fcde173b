"""tests/python/echo.py: one row "NAME<TAB>CONTENT" per file; logs, prints, reports its
arguments, environment and output_dir (test_python.c checks them in the logs)."""
import argparse
import os
import sys

from azureml_user.parallel_run import EntryScript

print("echo: imported")


def init():
    global args
    parser = argparse.ArgumentParser()
    parser.add_argument("--labels_dir")
    args, _ = parser.parse_known_args()
    log = EntryScript().logger
    log.info("echo: labels_dir=%s exists=%s", args.labels_dir, os.path.isdir(args.labels_dir or ""))
    log.debug("echo: a debug line")
    log.info("echo: env ECHO_ENV=%s", os.environ.get("ECHO_ENV"))
    log.info("echo: output_dir=%s", EntryScript().output_dir)
    print("echo: printed from init")
    print("echo: to stderr", file=sys.stderr)


def run(mini_batch):
    rows = []
    for path in mini_batch:
        assert os.path.isabs(path), path
        with open(path) as f:
            rows.append("%s\t%s" % (os.path.basename(path), f.read().strip()))
    return rows


def shutdown():
    print("echo: shutdown")
