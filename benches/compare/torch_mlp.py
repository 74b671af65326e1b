#!/usr/bin/env python3
"""The course's MLP in PyTorch, timed side by side with `mnist bench` (and point by point by
`mnist bench --sweep --torch PYTHON`). Run by hand, not by CI; PyTorch is not a dependency of the
project. In a throwaway virtualenv:

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install torch==2.15.0 scipy numpy
    /tmp/torchvenv/bin/python benches/compare/torch_mlp.py [--epochs 3] [--threads 2]
        [--hidden 300] [--batch 50] [--device cpu|cuda] [--json]

(PyPI's Linux torch wheel is the CUDA build and pulls in its CUDA libraries, about 3 GB; the CPU
timings do not use them. Where download.pytorch.org/whl/cpu is reachable, its CPU-only wheel is
smaller and times the same.)

Same model (784-hidden tanh-10, Glorot-uniform weights, zero biases), same optimizer (Adam,
lr 1e-3, betas 0.9/0.999, eps 1e-7), same loss, batches reshuffled each epoch, the same data file.
Batches are slices of one pre-built tensor on the device, the fastest way to feed PyTorch (no
DataLoader). Prints the training seconds per epoch (median), the test accuracy after the epochs
and the process's peak resident memory; with --json, one JSON line `mnist bench --sweep` reads.
"""
import argparse
import json
import resource
import statistics
import time

import numpy as np
import scipy.io
import torch


def load(path, device):
    mat = scipy.io.loadmat(path)

    def split(prefix):
        xs = [mat[f"{prefix}{d}"] for d in range(10)]
        y = np.concatenate([np.full(len(x), d) for d, x in enumerate(xs)])
        x = np.concatenate(xs).astype(np.float32) / 255.0
        return torch.from_numpy(x).to(device), torch.from_numpy(y).long().to(device)

    return split("train"), split("test")


def train_epochs(model, opt, x, y, batch, epochs, sync=lambda: None, after_epoch=lambda: None):
    """Trains `epochs` epochs of cross-entropy on batches sliced from x, y in a fresh random
    order each epoch; returns each epoch's training seconds. `sync` empties a GPU's queue before
    the clock is read; `after_epoch` runs after each epoch's clock stops (a schedule's step)."""
    loss_fn = torch.nn.CrossEntropyLoss()
    times = []
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x), device=x.device)
        sync()
        start = time.perf_counter()
        for i in range(0, len(x), batch):
            idx = order[i:i + batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            # The project reads each batch's loss and accuracy for its metrics; so does this.
            _ = loss.item()
        sync()
        times.append(time.perf_counter() - start)
        after_epoch()
    return times


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="data/mnist_all.mat")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--hidden", type=int, default=300)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    p.add_argument("--infer", action="store_true",
                   help="with --json: add the trained model's inference as torch_infer.py times "
                        "it (images per second over the test set, one image alone), on --device")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(42)
    device = torch.device(args.device)
    # On a GPU every step is queued; the clock may only be read once the queue is empty.
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    (x, y), (xt, yt) = load(args.data, device)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, args.hidden), torch.nn.Tanh(), torch.nn.Linear(args.hidden, 10)
    ).to(device)
    for m in model:
        if isinstance(m, torch.nn.Linear):
            torch.nn.init.xavier_uniform_(m.weight)
            torch.nn.init.zeros_(m.bias)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    times = train_epochs(model, opt, x, y, args.batch, args.epochs, sync=sync)
    model.eval()
    with torch.no_grad():
        acc = (model(xt).argmax(1) == yt).float().mean().item()
        sync()
        start = time.perf_counter()
        for _ in range(5):
            model(xt)
        sync()
        rate = 5 * len(xt) / (time.perf_counter() - start)
    # ru_maxrss is in KiB on Linux.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    what = f"torch {torch.__version__} {args.device} ({torch.get_num_threads()} threads)"
    if args.json:
        result = {
            "seconds_per_epoch": statistics.median(times),
            "accuracy": acc,
            "peak_rss_bytes": peak,
            "implementation": what,
        }
        if args.infer:
            from torch_infer import load_test, prepare_for, time_inference
            xb, yb = load_test(args.data)
            figures = time_inference(model, prepare_for("mlp"), xb, yb, device=device)
            result["images_per_second"] = figures["images_per_second"]
            result["single_image_seconds"] = figures["single_image_seconds"]
        print(json.dumps(result))
    else:
        print(f"{what}: hidden {args.hidden}, batch {args.batch}: "
              f"{statistics.median(times):.2f} s/epoch training (median of {args.epochs}; "
              f"{[round(t, 2) for t in times]}), test accuracy {100 * acc:.2f}% after "
              f"{args.epochs} epochs, inference {rate:.0f} images/s, peak RSS {peak / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
