"""Peer for bench_zo: a MeZO step (Malladi et al. 2023) with PyTorch on the same MLP and batch,
one thread. z is regenerated from a seed four times per step, as in MeZO's reference code.
Usage: /usr/bin/python3 bench/peers/mezo_torch.py [SIZES] [BATCH] [STEPS]"""
import sys
import time

import torch

sizes = [int(s) for s in (sys.argv[1] if len(sys.argv) > 1 else "784-256-256-10").split("-")]
batch = int(sys.argv[2]) if len(sys.argv) > 2 else 64
steps = int(sys.argv[3]) if len(sys.argv) > 3 else 200
torch.set_num_threads(1)
torch.manual_seed(0)
layers = []
for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
    layers.append(torch.nn.Linear(a, b))
    if i < len(sizes) - 2:
        layers.append(torch.nn.ReLU())
model = torch.nn.Sequential(*layers)
x = torch.rand(batch, sizes[0])
y = torch.arange(batch) % sizes[-1]
loss_fn = torch.nn.CrossEntropyLoss()
params = [p for p in model.parameters()]
eps, lr = 1e-3, 1e-4


def perturb(seed, scale):
    gen = torch.Generator().manual_seed(seed)
    for p in params:
        z = torch.normal(0.0, 1.0, size=p.shape, generator=gen)
        p.data.add_(z, alpha=scale)


@torch.no_grad()
def mezo_step(seed):
    perturb(seed, eps)
    lp = loss_fn(model(x), y).item()
    perturb(seed, -2 * eps)
    lm = loss_fn(model(x), y).item()
    perturb(seed, eps)
    g = (lp - lm) / (2 * eps)
    perturb(seed, -lr * g)


@torch.no_grad()
def forward():
    return loss_fn(model(x), y).item()


for i in range(10):
    mezo_step(i)
t0 = time.perf_counter()
for i in range(steps):
    forward()
tf = (time.perf_counter() - t0) / steps
t0, c0 = time.perf_counter(), time.thread_time()
for i in range(steps):
    mezo_step(i)
tm, tc = (time.perf_counter() - t0) / steps, (time.thread_time() - c0) / steps
n = sum(p.numel() for p in params)
print(f"torch {torch.__version__}: {n} parameters, batch {batch}")
print(f"fp32 forward            {1e3 * tf:10.3f} ms")
print(f"MeZO step (K=1)         {1e3 * tm:10.3f} ms")
print(f"MeZO step CPU time      {1e3 * tc:10.3f} ms")
