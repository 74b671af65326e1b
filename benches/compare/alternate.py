#!/usr/bin/env python3
"""Times the project and its anchor side by side, alternated, and says how steady each was.

    python3 benches/compare/alternate.py mlp --rounds 4 --python /tmp/torchvenv/bin/python
    python3 benches/compare/alternate.py linear --rounds 4 --python /tmp/venv/bin/python

Each round runs the project, then the anchor (the next round the anchor first, so neither side
always runs on a machine the other has just warmed or heated), each in a process of its own:

- `mlp`: `mnist bench --point 300x50` (the course MLP's training epoch through burn's Learner)
  against `torch_mlp.py --json` (the same model, init, optimizer and batch in PyTorch);
- `linear`: `mnist bench` (its scratch linear epoch) against `numpy_linear.py` (the course's
  method, vectorised).

Prints every round (both sides' seconds per epoch and their ratio), then each side's median and
spread over the rounds ((max - min) / median), and the ratio of the medians. A side whose spread
is over 10% is called noisy: its ratio is not a claim (measure again on a quiet machine).
Run from the repository root, after `cargo build --release`.
"""
import argparse
import json
import re
import statistics
import subprocess
import sys

NOISY = 0.10


def run(cmd):
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def last_json(text):
    return json.loads(text.strip().splitlines()[-1])


def number(pattern, text, what):
    m = re.search(pattern, text)
    if not m:
        sys.exit(f"no {what} in:\n{text}")
    return float(m.group(1))


def sides(args):
    """(project, anchor): each a function that runs once and answers seconds per epoch."""
    epochs = str(args.epochs)
    if args.what == "mlp":
        point = f"{args.hidden}x{args.batch}"

        def project():
            out = run([args.mnist, "bench", "--point", point, "--epochs", epochs])
            return last_json(out)["seconds_per_epoch"]

        def anchor():
            out = run([args.python, "benches/compare/torch_mlp.py", "--json", "--epochs", epochs,
                       "--hidden", str(args.hidden), "--batch", str(args.batch),
                       "--threads", str(args.threads), "--data", args.data])
            return last_json(out)["seconds_per_epoch"]

        return project, anchor, "PyTorch"

    def project():
        out = run([args.mnist, "bench", "--epochs", epochs, "--repeats", "1"])
        return number(r"scratch linear epoch\s+([0-9.]+) s", out, "scratch linear epoch")

    def anchor():
        out = run([args.python, "benches/compare/numpy_linear.py", "--epochs", epochs,
                   "--data", args.data])
        return number(r"([0-9.]+) s/epoch", out, "seconds per epoch")

    return project, anchor, "numpy"


def spread(values):
    return (max(values) - min(values)) / statistics.median(values)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("what", choices=["mlp", "linear"])
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--mnist", default="target/release/mnist")
    p.add_argument("--python", required=True, help="a Python with the anchor's libraries")
    p.add_argument("--data", default="data/mnist_all.mat")
    p.add_argument("--hidden", type=int, default=300)
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    project, anchor, name = sides(args)
    ours, theirs = [], []
    print(f"round  project s/epoch  {name} s/epoch  ratio")
    for k in range(args.rounds):
        if k % 2 == 0:
            a, b = project(), anchor()
        else:
            b, a = anchor(), project()
        ours.append(a)
        theirs.append(b)
        print(f"{k + 1:>5}  {a:>15.3f}  {b:>13.3f}  {a / b:>5.2f}", flush=True)
    mo, mt = statistics.median(ours), statistics.median(theirs)
    so, st = spread(ours), spread(theirs)
    print(f"median {mo:>15.3f}  {mt:>13.3f}  {mo / mt:>5.2f}")
    print(f"spread {100 * so:>14.1f}%  {100 * st:>12.1f}%")
    noisy = [side for side, s in [("project", so), (name, st)] if s > NOISY]
    if noisy:
        print(f"noisy: {', '.join(noisy)} spread over {100 * NOISY:.0f}%: the ratio is not a claim")
    else:
        print(f"ratio {mo / mt:.2f} (both sides within {100 * NOISY:.0f}%)")


if __name__ == "__main__":
    main()
