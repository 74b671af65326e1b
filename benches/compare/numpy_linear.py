#!/usr/bin/env python3
"""The course's method in vectorised numpy: one epoch of mini-batch SGD (batch 50, lr 0.01) on the
linear softmax classifier with the hand-written gradient [1, X]^T (P - Y) / B, timed side by side
with `mnist bench` / the scratch trainer. Run by hand, not by CI:

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install numpy scipy
    /tmp/venv/bin/python benches/compare/numpy_linear.py [--epochs 5] [--data data/mnist_all.mat]

Vectorised as numpy is best used: each epoch gathers the shuffled images, labels and one-hot
targets once (timed), and every batch is then a contiguous slice of them; per batch the same work
as the project's scratch trainer: logits, softmax, the NLL of each image's class and the number
correct (what the course plotted), the gradient and the update.

Prints seconds per epoch (median over the epochs) and the test accuracy after them; with --json,
one JSON line (benches/compare/alternate.py linear reads it).
"""
import argparse
import json
import os
import statistics
import time


def load(path):
    import numpy as np
    import scipy.io

    mat = scipy.io.loadmat(path)
    def split(prefix):
        xs = [mat[f"{prefix}{d}"].astype(np.float32) / 255.0 for d in range(10)]
        ys = [np.full(len(x), d) for d, x in enumerate(xs)]
        x = np.concatenate(xs)
        # [1, x]: the bias is row 0 of W, as in the course. Row-major: loadmat hands MATLAB's
        # column-major arrays over as they are, and gathering the rows of a batch from those
        # would cost numpy more than the whole epoch's arithmetic.
        x = np.ascontiguousarray(np.hstack([np.ones((len(x), 1), np.float32), x]))
        return x, np.concatenate(ys)
    return split("train"), split("test")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="data/mnist_all.mat")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--threads", type=int, default=2, help="BLAS threads")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    args = p.parse_args()
    # Read by numpy's BLAS when it loads, so set before the import.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np

    (x, y), (xt, yt) = load(args.data)
    rng = np.random.default_rng(42)
    w = np.zeros((785, 10), np.float32)
    w[1:] = rng.normal(0, 0.1, (784, 10))
    onehot = np.eye(10, dtype=np.float32)[y]
    b = args.batch
    times = []
    for _ in range(args.epochs):
        start = time.perf_counter()
        order = rng.permutation(len(x))
        xs, ys, ts = x[order], y[order], onehot[order]
        for i in range(0, len(x), b):
            xb, yb, tb = xs[i:i + b], ys[i:i + b], ts[i:i + b]  # [B, 785], [B], [B, 10]
            z = xb @ w                                           # [B, 10]
            z -= z.max(axis=1, keepdims=True)
            e = np.exp(z)
            pr = e / e.sum(axis=1, keepdims=True)
            nll = -np.log((pr * tb).sum(axis=1))                 # what the course plotted
            correct = (pr.argmax(axis=1) == yb).sum()
            w -= (args.lr / len(yb)) * (xb.T @ (pr - tb))
        times.append(time.perf_counter() - start)
    acc = float(((xt @ w).argmax(axis=1) == yt).mean())
    what = f"numpy {np.__version__}"
    if args.json:
        print(json.dumps({"seconds_per_epoch": statistics.median(times), "accuracy": acc,
                          "implementation": what}))
    else:
        print(f"{what}: {statistics.median(times):.3f} s/epoch (median of {args.epochs}; "
              f"{[round(t, 3) for t in times]}), test accuracy {100 * acc:.2f}% after "
              f"{args.epochs} epochs")


if __name__ == "__main__":
    main()
