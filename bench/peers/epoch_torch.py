"""Peer of bench/mw_epoch.c: one training epoch of the same MLP (relu between dense layers),
batch, Adam (lr 1e-3) and cross-entropy in Debian's torch on one thread, on the first N
Fashion-MNIST training images read from the same IDX files (pixels / 255), shuffled each epoch.
Usage: /usr/bin/python3 epoch_torch.py [SIZES] [BATCH] [N] [EPOCHS]
       (defaults 784-256-256-10 128 20000 3); prints the best epoch time."""
import gzip
import sys
import time

import numpy as np
import torch


def idx(path, offset):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def main():
    sizes = [int(s) for s in (sys.argv[1] if len(sys.argv) > 1 else "784-256-256-10").split("-")]
    batch = int(sys.argv[2]) if len(sys.argv) > 2 else 128
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
    epochs = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    torch.set_num_threads(1)
    torch.manual_seed(1)
    d = "/usr/share/datasets/fashion-mnist/"
    x = idx(d + "train-images-idx3-ubyte.gz", 16).reshape(-1, sizes[0])[:n]
    y = idx(d + "train-labels-idx1-ubyte.gz", 8)[:n]
    x = torch.from_numpy(x.astype(np.float32) / 255.0)
    y = torch.from_numpy(y.astype(np.int64))
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    best = float("inf")
    for e in range(epochs):
        perm = torch.randperm(n)
        t0 = time.perf_counter()
        total = 0.0
        for s in range(0, n, batch):
            b = perm[s:s + batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[b]), y[b])
            loss.backward()
            opt.step()
            total += loss.item() * len(b)
        dt = time.perf_counter() - t0
        best = min(best, dt)
        print(f"epoch {e + 1}: {dt:.3f} s (train loss {total / n:.4f})")
    print(f"epoch torch {torch.__version__} batch {batch} n {n}: {best:.3f} s")


if __name__ == "__main__":
    main()
