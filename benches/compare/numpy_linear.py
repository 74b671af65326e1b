#!/usr/bin/env python3
"""The course's method in vectorised numpy: one epoch of mini-batch SGD (batch 50, lr 0.01) on the
linear softmax classifier with the hand-written gradient [1, X]^T (P - Y) / B, timed side by side
with `mnist bench` / the scratch trainer. Run by hand, not by CI:

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install numpy scipy
    /tmp/venv/bin/python benches/compare/numpy_linear.py [--epochs 5] [--data data/mnist_all.mat]

Prints seconds per epoch (median over the epochs) and the test accuracy after them.
"""
import argparse
import statistics
import time

import numpy as np
import scipy.io


def load(path):
    mat = scipy.io.loadmat(path)
    def split(prefix):
        xs = [mat[f"{prefix}{d}"].astype(np.float32) / 255.0 for d in range(10)]
        ys = [np.full(len(x), d) for d, x in enumerate(xs)]
        x = np.concatenate(xs)
        # [1, x]: the bias is row 0 of W, as in the course
        return np.hstack([np.ones((len(x), 1), np.float32), x]), np.concatenate(ys)
    return split("train"), split("test")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="data/mnist_all.mat")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--lr", type=float, default=0.01)
    args = p.parse_args()
    (x, y), (xt, yt) = load(args.data)
    rng = np.random.default_rng(42)
    w = np.zeros((785, 10), np.float32)
    w[1:] = rng.normal(0, 0.1, (784, 10))
    onehot = np.eye(10, dtype=np.float32)[y]
    times = []
    for _ in range(args.epochs):
        order = rng.permutation(len(x))
        start = time.perf_counter()
        for i in range(0, len(x), args.batch):
            idx = order[i:i + args.batch]
            xb = x[idx]                                   # [B, 785]
            z = xb @ w                                    # [B, 10]
            z -= z.max(axis=1, keepdims=True)
            e = np.exp(z)
            pr = e / e.sum(axis=1, keepdims=True)
            nll = -np.log(pr[np.arange(len(idx)), y[idx]])  # what the course plotted
            correct = (pr.argmax(axis=1) == y[idx]).sum()
            w -= args.lr * (xb.T @ (pr - onehot[idx])) / len(idx)
        times.append(time.perf_counter() - start)
    acc = ((xt @ w).argmax(axis=1) == yt).mean()
    print(f"numpy {np.__version__}: {statistics.median(times):.3f} s/epoch (median of {args.epochs}), "
          f"test accuracy {100 * acc:.2f}% after {args.epochs} epochs")


if __name__ == "__main__":
    main()
