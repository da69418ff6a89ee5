"""Peer of bench/engine.c (issue 15) in Debian's torch 1.13 on one thread: the same layers at the
same shapes (forward; backward = weight and input gradient), the forward of mlp 784-512-512-10,
and training epochs of a CNN spec (the subset of ranklab's spec grammar that bench/run_engine.py
uses: convCkK[sS], gnG, bn, relu, maxpoolS, resCgG / resCsSgG, gap, fcN) on the first N Fashion-MNIST
training images, batch 128, Adam (lr 1e-3), cross-entropy, a new random order each epoch.
Usage: /usr/bin/python3 bench/peers/engine_torch.py layers BATCH NAME=SPEC...
       /usr/bin/python3 bench/peers/engine_torch.py epoch SPEC N EPOCHS
Output lines as bench_engine's ("layer NAME FWD_S BWD_S", "mlp_forward BATCH S") and
"epoch SECONDS" (the best epoch), all in CPU seconds of the thread (the machine is shared)."""
import gzip
import os
import re
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchlib import best_time  # noqa: E402


def parse_layers(spec):
    """cnn:CxHxW-LAYER-... -> (input shape, torch.nn.Sequential)."""
    body = spec.split(":", 1)[1]
    tokens = body.split("-")
    c, h, w = (int(v) for v in tokens[0].split("x"))
    shape = (c, h, w)
    layers = []
    for tok in tokens[1:]:
        if m := re.fullmatch(r"conv(\d+)k(\d+)(?:s(\d+))?", tok):
            out, k, s = int(m[1]), int(m[2]), int(m[3] or 1)
            layers.append(torch.nn.Conv2d(c, out, k, stride=s, padding=k // 2))
            c, h, w = out, (h + s - 1) // s, (w + s - 1) // s
        elif m := re.fullmatch(r"gn(\d+)", tok):
            layers.append(torch.nn.GroupNorm(int(m[1]), c))
        elif tok == "bn":
            layers.append(torch.nn.BatchNorm2d(c))
        elif tok == "relu":
            layers.append(torch.nn.ReLU())
        elif m := re.fullmatch(r"maxpool(\d+)", tok):
            s = int(m[1])
            layers.append(torch.nn.MaxPool2d(s))
            h, w = h // s, w // s
        elif m := re.fullmatch(r"res(\d+)(?:s(\d+))?g(\d+)", tok):
            out, s, g = int(m[1]), int(m[2] or 1), int(m[3])
            layers.append(BasicBlock(c, out, s, g))
            c, h, w = out, (h + s - 1) // s, (w + s - 1) // s
        elif tok == "gap":
            layers.append(torch.nn.AdaptiveAvgPool2d(1))
            h = w = 1
        elif m := re.fullmatch(r"fc(\d+)", tok):
            layers += [torch.nn.Flatten(), torch.nn.Linear(c * h * w, int(m[1]))]
            c, h, w = int(m[1]), 1, 1
        else:
            raise SystemExit(f"engine_torch.py: layer {tok} of {spec} is not supported")
    return shape, torch.nn.Sequential(*layers)


class BasicBlock(torch.nn.Module):
    """conv3x3(s)-gn-relu-conv3x3-gn + shortcut (1x1 stride-s conv when the shape changes), relu:
    ranklab's resCsSgG."""

    def __init__(self, c, out, s, g):
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(c, out, 3, stride=s, padding=1), torch.nn.GroupNorm(g, out),
            torch.nn.ReLU(), torch.nn.Conv2d(out, out, 3, padding=1), torch.nn.GroupNorm(g, out))
        self.proj = torch.nn.Conv2d(c, out, 1, stride=s) if c != out or s != 1 else None

    def forward(self, x):
        skip = self.proj(x) if self.proj is not None else x
        return F.relu(self.body(x) + skip)


def layer_case(name, spec, batch):
    shape, model = parse_layers(spec)
    x = torch.rand(batch, *shape) * 2 - 1
    x.requires_grad_(True)
    params = [p for p in model.parameters()]
    with torch.no_grad():
        fwd = best_time(lambda: model(x))
    y = model(x)
    dy = torch.rand_like(y) * 2 - 1
    bwd = best_time(lambda: torch.autograd.grad(y, [x] + params, dy, retain_graph=True))
    print(f"layer {name} {fwd:.6e} {bwd:.6e}", flush=True)


def layers_main(batch, cases):
    for case in cases:
        name, spec = case.split("=", 1)
        if spec.startswith("mlp:"):
            a, b = (int(v) for v in spec[4:].split("-"))
            spec = f"cnn:{a}x1x1-fc{b}"
        layer_case(name, spec, batch)
    for b in (64, 256):
        model = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(),
                                    torch.nn.Linear(512, 512), torch.nn.ReLU(),
                                    torch.nn.Linear(512, 10))
        x = torch.rand(b, 784)
        with torch.no_grad():
            print(f"mlp_forward {b} {best_time(lambda: model(x)):.6e}", flush=True)


def idx(path, offset):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def epoch_main(spec, n, epochs):
    torch.manual_seed(1)
    shape, model = parse_layers(spec)
    d = "/usr/share/datasets/fashion-mnist/"
    x = idx(d + "train-images-idx3-ubyte.gz", 16).reshape(-1, *shape)[:n]
    y = idx(d + "train-labels-idx1-ubyte.gz", 8)[:n]
    x = torch.from_numpy(x.astype(np.float32) / 255.0)
    y = torch.from_numpy(y.astype(np.int64))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    best = float("inf")
    for _ in range(epochs):
        perm = torch.randperm(n)
        t0 = time.process_time()
        for s in range(0, n, 128):
            b = perm[s:s + 128]
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x[b]), y[b]).backward()
            opt.step()
        best = min(best, time.process_time() - t0)
    print(f"epoch {best:.6e}", flush=True)


if __name__ == "__main__":
    torch.set_num_threads(1)
    if len(sys.argv) >= 3 and sys.argv[1] == "layers":
        layers_main(int(sys.argv[2]), sys.argv[3:])
    elif len(sys.argv) == 5 and sys.argv[1] == "epoch":
        epoch_main(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        raise SystemExit(__doc__)
