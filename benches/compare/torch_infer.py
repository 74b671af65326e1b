#!/usr/bin/env python3
"""PyTorch's inference, the same work as `mnist bench`'s: the 10,000 test images, as bytes, turned
into floats in [0, 1], the logits, the loss and the predicted class of each, counted correct;
batches of 500 (the project's evaluation batch). Then single-image latency, the web app's case:
one image's bytes to its probabilities and predicted class, one at a time. Run by hand, not by CI:

    /path/to/venv/bin/python benches/compare/torch_infer.py [--model mlp|cnn] [--threads 2]
        [--repeats 5] [--json] [--data data/mnist_all.mat]

The weights are drawn at random (Glorot-uniform, as the project's initialisation): the work, not
the answers, is what is timed, and the accuracy it prints only shows the images were read. The
networks are configs/mlp.toml's (784-300 tanh-10) and configs/cnn.toml's (PyTorch's
examples/mnist network: two 3x3 convolutions of 32 and 64 channels, a 2x2 max-pool, dense 128,
dense 10; inputs normalised by the mean 0.1307 and deviation 0.3081).
"""
import argparse
import json
import statistics
import time

import numpy as np
import scipy.io
import torch

TEST_BATCH = 500  # the project's EVAL_BATCH (crates/trainer/src/training/evaluate.rs)


def load_test(path):
    mat = scipy.io.loadmat(path)
    xs = [mat[f"test{d}"] for d in range(10)]
    y = np.concatenate([np.full(len(x), d) for d, x in enumerate(xs)])
    # uint8 [10000, 784]: the bytes, as the project holds them
    return torch.from_numpy(np.ascontiguousarray(np.concatenate(xs))), torch.from_numpy(y).long()


def prepare_for(kind):
    """u8 [B, 784] -> the network's input: floats in [0, 1], for the CNN normalised and
    [B, 1, 28, 28]."""
    if kind == "mlp":
        return lambda x: x.float() / 255.0
    return lambda x: ((x.float() / 255.0 - 0.1307) / 0.3081).view(-1, 1, 28, 28)


def network(kind):
    if kind == "mlp":
        net = torch.nn.Sequential(
            torch.nn.Linear(784, 300), torch.nn.Tanh(), torch.nn.Linear(300, 10))
    else:
        net = torch.nn.Sequential(
            torch.nn.Conv2d(1, 32, 3), torch.nn.ReLU(), torch.nn.Conv2d(32, 64, 3),
            torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Dropout(0.25), torch.nn.Flatten(),
            torch.nn.Linear(9216, 128), torch.nn.ReLU(), torch.nn.Dropout(0.5),
            torch.nn.Linear(128, 10))
    for m in net:
        if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
            torch.nn.init.xavier_uniform_(m.weight)
            torch.nn.init.zeros_(m.bias)
    return net.eval(), prepare_for(kind)


def time_inference(net, prepare, x, y, repeats=5, singles=1000, device=torch.device("cpu")):
    """Images per second over (x, y) (u8 [N, 784], labels [N], in host memory) in batches of
    TEST_BATCH, the median of `repeats` passes after a warm-up pass, and the median seconds of one
    image alone over `singles` images after ten warm-up calls; and the accuracy the passes
    counted. On a GPU (`device`, where `net` already is) each batch's bytes are copied to it inside
    the timed loop, as the project's wgpu evaluation uploads each batch; `.item()` and `int()`
    wait for the GPU, so every time is the finished work's."""
    net.eval()
    loss_fn = torch.nn.CrossEntropyLoss(reduction="sum")
    rates = []
    with torch.inference_mode():
        for _ in range(repeats + 1):
            start = time.perf_counter()
            loss, correct = 0.0, 0
            for i in range(0, len(x), TEST_BATCH):
                labels = y[i:i + TEST_BATCH].to(device)
                logits = net(prepare(x[i:i + TEST_BATCH].to(device)))
                loss += loss_fn(logits, labels).item()
                correct += (logits.argmax(1) == labels).sum().item()
            rates.append(len(x) / (time.perf_counter() - start))
        latencies = []
        for i in range(singles + 10):
            start = time.perf_counter()
            probs = torch.softmax(net(prepare(x[i % len(x)].view(1, 784).to(device))), dim=1)
            _ = int(probs.argmax(1))
            latencies.append(time.perf_counter() - start)
    return {
        "images_per_second": statistics.median(rates[1:]),
        "single_image_seconds": statistics.median(latencies[10:]),
        "inference_accuracy": correct / len(x),
    }


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="data/mnist_all.mat")
    p.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--singles", type=int, default=1000, help="images timed one at a time")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(42)
    x, y = load_test(args.data)
    net, prepare = network(args.model)
    result = time_inference(net, prepare, x, y, args.repeats, args.singles)
    result["implementation"] = f"torch {torch.__version__} cpu ({torch.get_num_threads()} threads)"
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['implementation']}, {args.model}: {result['images_per_second']:.0f} "
              f"images/s over the test set (median of {args.repeats}), single image "
              f"{1e6 * result['single_image_seconds']:.0f} us (median of {args.singles})")


if __name__ == "__main__":
    main()
