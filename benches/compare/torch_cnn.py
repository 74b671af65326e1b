#!/usr/bin/env python3
"""configs/cnn.toml's network trained in PyTorch, timed side by side with
`mnist bench --only configs/cnn.toml` (benches/compare/alternate.py cnn). Run by hand, not by CI:

    /path/to/venv/bin/python benches/compare/torch_cnn.py [--epochs 1] [--threads 2]
        [--batch 64] [--device cpu|cuda] [--json]

The network of PyTorch's examples/mnist (two 3x3 convolutions of 32 and 64 channels with ReLU,
a 2x2 max-pool, dropout 0.25, dense 128 with ReLU, dropout 0.5, dense 10), inputs normalised by
0.1307 / 0.3081, Glorot-uniform weights and zero biases as the project's, and the config's
optimizer and batch: Adam lr 1e-3 (eps 1e-7, as burn's), batch 64, reshuffled each epoch, the
learning rate times 0.7 after each epoch (the config's step schedule). The data are the same
file's, loaded by torch_mlp.py's loader, and fed as slices of one tensor (no DataLoader).
Prints the training seconds per epoch (median), the test accuracy after the epochs, and the trained
network's inference as torch_infer.py times it (images per second over the test set, one image
alone).
"""
import argparse
import json
import statistics

import torch

from torch_infer import load_test, network, time_inference
from torch_mlp import load, train_epochs


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="data/mnist_all.mat")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(42)
    device = torch.device(args.device)
    # On a GPU every step is queued; the clock may only be read once the queue is empty.
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    (x, y), _ = load(args.data, device)
    # [N, 784] in [0, 1] -> [N, 1, 28, 28], normalised as the config says
    x = ((x - 0.1307) / 0.3081).view(-1, 1, 28, 28)
    net, prepare = network("cnn")
    net = net.to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    schedule = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    times = train_epochs(net, opt, x, y, args.batch, args.epochs, sync=sync,
                         after_epoch=schedule.step)
    # Inference as torch_infer.py times it: the test images' bytes to predictions.
    xb, yb = load_test(args.data)
    what = f"torch {torch.__version__} {args.device} ({torch.get_num_threads()} threads)"
    result = {"seconds_per_epoch": statistics.median(times),
              **time_inference(net, prepare, xb, yb, device=device), "implementation": what}
    result["accuracy"] = result.pop("inference_accuracy")
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['implementation']}: {result['seconds_per_epoch']:.2f} s/epoch training "
              f"(median of {args.epochs}; {[round(t, 2) for t in times]}), test accuracy "
              f"{100 * result['accuracy']:.2f}% after {args.epochs} epochs, inference "
              f"{result['images_per_second']:.0f} images/s, one image "
              f"{1e6 * result['single_image_seconds']:.0f} us")


if __name__ == "__main__":
    main()
