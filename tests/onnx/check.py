#!/usr/bin/env python3
"""Runs an exported model in onnxruntime (not burn) and compares it with burn's own logits.

    python check.py MODEL.onnx IMAGES.f32 LOGITS.f32

IMAGES.f32 is [n, 784] and LOGITS.f32 [n, 10], little-endian f32, as `tests/export.rs` writes
them; the images are handed to the model in the shape it declares ([n, 784], or [n, 1, 28, 28]
for a CNN). Prints one JSON line: the model's declared input and output shapes, the largest absolute
logit difference over all n images in one batch, the same with batches of 1 and of 7 (the batch
axis must be dynamic), and the fraction of identical predictions.
"""
import json
import sys

import numpy as np
import onnxruntime as ort


def main():
    model, images, logits = sys.argv[1:4]
    ours = np.fromfile(logits, dtype="<f4").reshape(-1, 10)
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    x = np.fromfile(images, dtype="<f4").reshape([len(ours)] + [int(d) for d in inp.shape[1:]])

    def run(batch):
        parts = [session.run(None, {inp.name: x[i:i + batch]})[0] for i in range(0, len(x), batch)]
        return np.concatenate(parts)

    theirs = run(len(x))
    print(json.dumps({
        "input": [str(d) for d in inp.shape],
        "input_type": inp.type,
        "output": [str(d) for d in out.shape],
        "n": len(x),
        "max_abs_diff": float(np.abs(theirs - ours).max()),
        "max_abs_diff_batch_1": float(np.abs(run(1) - ours).max()),
        "max_abs_diff_batch_7": float(np.abs(run(7) - ours).max()),
        "same_predictions": float((theirs.argmax(1) == ours.argmax(1)).mean()),
        "onnxruntime": ort.__version__,
    }))


if __name__ == "__main__":
    main()
