"""tests/python/frame.py: tabular: run() gets a DataFrame, returns one with the id and
x * 2 (a value with a space in it too, for the row formats)."""
import numpy as np


def run(df):
    out = df[["id"]].copy()
    out["twice"] = np.asarray(df["x"], dtype=float) * 2
    out["label"] = "v " + df["id"].astype(str)
    return out
