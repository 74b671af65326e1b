#!/usr/bin/env python3
"""The course's MLP in PyTorch on the CPU, timed side by side with `mnist bench`. Run by hand, not
by CI; PyTorch is not a dependency of the project. In a throwaway virtualenv (the CPU-only use needs
none of the CUDA wheels PyPI's torch pulls in, hence --no-deps):

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install --no-deps torch
    /tmp/torchvenv/bin/pip install filelock typing-extensions sympy networkx jinja2 fsspec numpy scipy
    /tmp/torchvenv/bin/python benches/compare/torch_mlp.py [--epochs 3] [--threads 2]

Same model (784-300 tanh-10, Glorot-uniform weights, zero biases), same optimizer (Adam, lr 1e-3,
betas 0.9/0.999, eps 1e-7), same loss, batch 50 reshuffled each epoch, the same data file. Batches
are slices of one pre-built tensor, the fastest way to feed PyTorch (no DataLoader overhead).
Prints the training seconds per epoch (median) and the test accuracy after the epochs.
"""
import argparse
import statistics
import time

import numpy as np
import scipy.io
import torch


def load(path):
    mat = scipy.io.loadmat(path)
    def split(prefix):
        xs = [mat[f"{prefix}{d}"] for d in range(10)]
        y = np.concatenate([np.full(len(x), d) for d, x in enumerate(xs)])
        x = np.concatenate(xs).astype(np.float32) / 255.0
        return torch.from_numpy(x), torch.from_numpy(y).long()
    return split("train"), split("test")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="data/mnist_all.mat")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(42)
    (x, y), (xt, yt) = load(args.data)
    model = torch.nn.Sequential(torch.nn.Linear(784, 300), torch.nn.Tanh(), torch.nn.Linear(300, 10))
    for m in model:
        if isinstance(m, torch.nn.Linear):
            torch.nn.init.xavier_uniform_(m.weight)
            torch.nn.init.zeros_(m.bias)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()
    times = []
    for _ in range(args.epochs):
        model.train()
        order = torch.randperm(len(x))
        start = time.perf_counter()
        for i in range(0, len(x), args.batch):
            idx = order[i:i + args.batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            # The Rust side reads each batch's loss and accuracy for its metrics; so does this.
            _ = loss.item()
        times.append(time.perf_counter() - start)
    model.eval()
    with torch.no_grad():
        acc = (model(xt).argmax(1) == yt).float().mean().item()
        start = time.perf_counter()
        for _ in range(5):
            model(xt)
        rate = 5 * len(xt) / (time.perf_counter() - start)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads: "
          f"{statistics.median(times):.2f} s/epoch training (median of {args.epochs}; {[round(t, 2) for t in times]}), "
          f"test accuracy {100 * acc:.2f}% after {args.epochs} epochs, inference {rate:.0f} images/s")


if __name__ == "__main__":
    main()
