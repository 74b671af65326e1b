#!/usr/bin/env python3
"""Times the project and its anchor side by side, alternated, and says how steady each was.

    python3 benches/compare/alternate.py mlp    --rounds 4 --python /path/to/torch-venv/bin/python
    python3 benches/compare/alternate.py linear --rounds 4 --python /path/to/numpy-venv/bin/python
    python3 benches/compare/alternate.py cnn    --rounds 3 --epochs 1 --python ...
    python3 benches/compare/alternate.py mlp --batch 500 --backend wgpu --device cuda --python ...

Each round runs the project, then the anchor (the next round the anchor first, so neither side
always runs on a machine the other has just warmed or heated), each in a process of its own:

- `mlp`: `mnist bench --only configs/mlp.toml` (the course MLP's training epoch through burn's
  Learner, then the trained model's inference: images per second over the test set, one image
  alone) against `torch_mlp.py --infer` (the same model, init, optimizer and batch in PyTorch,
  then torch_infer.py's inference);
- `linear`: `mnist bench --only configs/linear-scratch.toml` (the scratch linear epoch) against
  `numpy_linear.py` (the course's method, vectorised);
- `cnn`: `mnist bench --only configs/cnn.toml` (a training epoch, then inference) against
  `torch_cnn.py` (the same network, init, optimizer and batch, then the same inference).

Prints every round (both sides' figures and their ratio, project over anchor: below 1 the
project is faster for seconds, above 1 for images per second), then each side's median and
spread over the rounds ((max - min) / median), and the ratio of the medians. A side whose spread
is over 10% is called noisy: its ratio is not a claim (measure again on a quiet machine).
`--batch` times the MLP or the CNN at another batch size (the project's side reads a copy of the
config with that batch); `--backend` picks the project's backend (a binary built with its
feature), `--device` the anchor's (`cuda` for PyTorch on a GPU, set beside `--backend wgpu`).
Run from the repository root, after `cargo build --release`.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

NOISY = 0.10

# (key in the JSON lines, label, scale for printing, unit)
SECONDS = ("seconds_per_epoch", "s/epoch", 1.0, "s")
RATE = ("images_per_second", "images/s", 1.0, "")
SINGLE = ("single_image_seconds", "one image", 1e6, "us")


def run(cmd):
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def with_batch(config, batch):
    """A copy of `config` in a temporary folder with `batch_size = batch`, its relative `data` and
    `artifacts` paths made absolute (a config's paths are relative to its own folder)."""
    here = os.path.dirname(os.path.abspath(config))
    text = re.sub(r"(?m)^batch_size\s*=.*$", f"batch_size = {batch}", open(config).read())
    text = re.sub(r'(?m)^(data|artifacts)(\s*=\s*)"([^"]*)"',
                  lambda m: f'{m[1]}{m[2]}"{os.path.normpath(os.path.join(here, m[3]))}"', text)
    path = os.path.join(tempfile.mkdtemp(prefix="alternate-"), os.path.basename(config))
    with open(path, "w") as f:
        f.write(text)
    return path


def sides(args):
    """(project command, anchor command, anchor name, figures compared)."""
    epochs = ["--epochs", str(args.epochs)]
    data = ["--data", args.data]
    threads = ["--threads", str(args.threads)]
    mnist = [args.mnist, "bench", "--backend", args.backend] if args.backend else [args.mnist, "bench"]
    script = lambda name: [args.python, f"benches/compare/{name}"]
    torch = ["--device", args.device]
    config = lambda path: with_batch(path, args.batch) if args.batch else path
    batch = ["--batch", str(args.batch)] if args.batch else []
    if args.what == "mlp":
        return (mnist + ["--only", config("configs/mlp.toml")] + epochs,
                script("torch_mlp.py") + ["--json", "--infer"] + epochs + threads + data + torch
                + batch, "PyTorch", [SECONDS, RATE, SINGLE])
    if args.what == "linear":
        return (mnist + ["--only", config("configs/linear-scratch.toml"), "--repeats", "1"]
                + epochs, script("numpy_linear.py") + ["--json"] + epochs + threads + data + batch,
                "numpy", [SECONDS])
    return (mnist + ["--only", config("configs/cnn.toml")] + epochs,
            script("torch_cnn.py") + ["--json"] + epochs + threads + data + torch + batch,
            "PyTorch", [SECONDS, RATE, SINGLE])


def spread(values):
    return (max(values) - min(values)) / statistics.median(values)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("what", choices=["mlp", "linear", "cnn"])
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--mnist", default="target/release/mnist")
    p.add_argument("--python", required=True, help="a Python with the anchor's libraries")
    p.add_argument("--data", default="data/mnist_all.mat")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, help="another batch size than the config's")
    p.add_argument("--backend", help="the project's backend (mnist --backend), e.g. wgpu")
    p.add_argument("--device", default="cpu", help="the anchor's device: cpu or cuda")
    args = p.parse_args()
    project, anchor, name, figures = sides(args)
    print(f"project: {' '.join(project)}\nanchor:  {' '.join(anchor)}")
    ours, theirs = [], []
    header = "  ".join(f"{'project ' + f[1]:>20}  {name + ' ' + f[1]:>20}  ratio" for f in figures)
    print(f"round  {header}")
    for k in range(args.rounds):
        if k % 2 == 0:
            a, b = run(project), run(anchor)
        else:
            b, a = run(anchor), run(project)
        ours.append(a)
        theirs.append(b)
        cells = "  ".join(f"{a[f[0]] * f[2]:>20.4g}  {b[f[0]] * f[2]:>20.4g}  {a[f[0]] / b[f[0]]:>5.2f}"
                          for f in figures)
        print(f"{k + 1:>5}  {cells}", flush=True)
    print(f"project: {ours[-1].get('implementation')}; anchor: {theirs[-1].get('implementation')}")
    for key, label, scale, unit in figures:
        o = [r[key] for r in ours]
        t = [r[key] for r in theirs]
        mo, mt = statistics.median(o), statistics.median(t)
        so, st = spread(o), spread(t)
        print(f"{label}: median project {mo * scale:.4g} {unit}, {name} {mt * scale:.4g} {unit}, "
              f"ratio {mo / mt:.2f}; spread project {100 * so:.1f}%, {name} {100 * st:.1f}%")
        noisy = [side for side, s in [("project", so), (name, st)] if s > NOISY]
        if noisy:
            print(f"  noisy: {', '.join(noisy)} spread over {100 * NOISY:.0f}%: "
                  "the ratio is not a claim")
        else:
            print(f"  ratio {mo / mt:.2f} (both sides within {100 * NOISY:.0f}%)")


if __name__ == "__main__":
    main()
