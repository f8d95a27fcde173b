"""tools/examples/score.py -- a ParallelRunStep entry script that scores files with numpy.

A small k-means model: init() fits it once per worker on the files of a side input (the
training set), run() puts every file of its mini-batch in its nearest cluster. A file's
features are its byte histogram (16 bins, normalised), so any files will do.

    build/gen /tmp/data --files 20000
    build/prs run --entry-script tools/examples/score.py --input /tmp/data --output /tmp/out \\
                  --side-input train=/tmp/data -- --train_dir train --clusters 4

Rows: "FILE<TAB>CLUSTER<TAB>DISTANCE". The script is unchanged ParallelRunStep code: run
it there with the same arguments (side input: the dataset mounted as --train_dir).
"""
import argparse
import os

import numpy as np
from azureml_user.parallel_run import EntryScript

BINS = 16
TRAIN_FILES = 500  # at most, from the training directory, in sorted order


def features(path):
    data = np.fromfile(path, dtype=np.uint8)
    hist = np.bincount(data >> 4, minlength=BINS).astype(np.float64)
    return hist / max(len(data), 1)


def kmeans(x, k, iterations=25, seed=7):
    rng = np.random.default_rng(seed)
    centers = x[rng.choice(len(x), size=k, replace=False)]
    for _ in range(iterations):
        labels = np.argmin(((x[:, None, :] - centers[None, :, :]) ** 2).sum(-1), axis=1)
        for c in range(k):
            members = x[labels == c]
            if len(members):
                centers[c] = members.mean(axis=0)
    return centers


def init():
    global centers
    parser = argparse.ArgumentParser()
    parser.add_argument("--train_dir", required=True)
    parser.add_argument("--clusters", type=int, default=4)
    args, _ = parser.parse_known_args()
    paths = []
    for root, _, names in sorted(os.walk(args.train_dir)):
        paths += [os.path.join(root, n) for n in sorted(names)]
    paths = paths[:TRAIN_FILES]
    x = np.stack([features(p) for p in paths])
    centers = kmeans(x, min(args.clusters, len(x)))
    EntryScript().logger.info("score: k-means with %d clusters fitted on %d files",
                              len(centers), len(x))


def run(mini_batch):
    x = np.stack([features(p) for p in mini_batch]) if mini_batch else np.zeros((0, BINS))
    d = np.sqrt(((x[:, None, :] - centers[None, :, :]) ** 2).sum(-1))
    best = d.argmin(axis=1)
    return ["%s\t%d\t%.6f" % (os.path.basename(p), c, d[i, c])
            for i, (p, c) in enumerate(zip(mini_batch, best))]
