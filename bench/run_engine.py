"""Engine benchmarks (issue 15, bench/RESULTS.md): ranklab against torch 1.13 (one thread) in the
same run, each timing alternating the two ROUNDS times and keeping the best of each side. Times
are CPU seconds of the timed thread or process (the machine is shared: other jobs stretch wall
time but not these), except for the run on 2 ranks (wall):
  1. layers at ResNet-20 / small-CNN shapes, forward and backward (bench/engine.c against
     bench/peers/engine_torch.py), GFLOP/s and fraction of this core's OpenBLAS sgemm rate;
  2. the forward of mlp:784-512-512-10 against its GEMM floor (bench_engine alone);
  3. a MeZO step of mlp:784-512-512-10 at batch 64 and 256 (bench_zo against mezo_torch.py);
  4. a training epoch (batch 128, Adam, lr 1e-3) of the small CNN on 20,000 Fashion-MNIST images
     and of ResNet-20 (group norm) on the first RESNET_N images: `ranklab run train` (the
     difference between 2 epochs and 1, so loading is not counted; the
     test evaluation on data.test_limit=128 images is) against engine_torch.py epoch;
  5. the ResNet-20 epoch on 1 rank (pinned to CORE) and on 2 ranks (mpiexec, both cores), wall
     time (so only meaningful on an idle machine).
Usage: /usr/bin/python3 bench/run_engine.py [BUILD_DIR]
Environment: CORE (default 1), ROUNDS (default 3), RESNET_N (default 2000), SKIP (comma list of
sections 1-5 to skip)."""
import os
import sys
import tempfile

from benchlib import PIN as pin, PYTHON as python, ROUNDS as rounds, best_of, child_cpu, lines, \
    load_range, machine, run

build = sys.argv[1] if len(sys.argv) > 1 else "build"
resnet_n = int(os.environ.get("RESNET_N", "2000"))
skip = set(os.environ.get("SKIP", "").split(","))
here = os.path.dirname(os.path.abspath(__file__))
SMALL_CNN = "cnn:1x28x28-conv8k5-relu-maxpool2-conv16k5-relu-maxpool2-fc10"
RESNET20 = ("cnn:1x28x28-conv16k3-gn4-relu-res16g4-res16g4-res16g4-res32s2g4-res32g4-res32g4-"
            "res64s2g4-res64g4-res64g4-gap-fc10")


def ranklab_epoch(spec, n, ranks=1, wall=False):
    """Seconds of one epoch of `ranklab run train`, the difference between 2 epochs and 1: CPU
    seconds of the process on 1 rank (the machine is shared), else /final/wall_seconds (needed on
    several ranks: their CPU time counts MPI's busy polling)."""
    walls, cpus = [], []
    for epochs in (1, 2):
        with tempfile.TemporaryDirectory() as out:
            launch = pin if ranks == 1 else ["mpiexec", "--oversubscribe", "-n", str(ranks)]
            cpu0 = child_cpu()
            run(launch + [f"{build}/ranklab", "run", "train", f"model.spec={spec}",
                          f"data.train_limit={n}", "data.test_limit=128", "train.batch=128",
                          "train.optim=adam", "train.lr=0.001", "ckpt.every=0",
                          f"train.epochs={epochs}", "--out", out + "/run"])
            cpus.append(child_cpu() - cpu0)
            info = run([f"{build}/ranklab", "inspect", out + "/run/results.h5"])
            walls.append(float(next(f[1] for f in (l.split() for l in info.splitlines())
                                    if len(f) > 1 and f[0] == "wall_seconds")))
    return walls[1] - walls[0] if wall or ranks > 1 else cpus[1] - cpus[0]


def torch_epoch(spec, n):
    out = run(pin + [python, f"{here}/peers/engine_torch.py", "epoch", spec, str(n), "2"])
    return float(lines(out, "epoch")[0][1])


def main():
    print(f"# engine benchmarks: {machine()}, load average at start {os.getloadavg()}")
    if "1" not in skip or "2" not in skip:
        ours, theirs, sgemm = {}, {}, 0.0
        for _ in range(rounds):
            out = run(pin + [f"{build}/bench_engine", "128"])
            sgemm = max(sgemm, float(lines(out, "sgemm")[0][1]))
            cases = []
            for f in lines(out, "layer"):
                old = ours.get(f[1])
                t = [float(v) for v in f[2:6]]
                ours[f[1]] = t if old is None else [min(old[0], t[0]), min(old[1], t[1])] + t[2:]
                cases.append(f"{f[1]}={f[6]}")
            for f in lines(out, "mlp_forward"):
                old = ours.get("mlp" + f[1], [float("inf")] * 3)
                ours["mlp" + f[1]] = [min(a, float(b)) for a, b in zip(old, f[2:5])]
            peer = run(pin + [python, f"{here}/peers/engine_torch.py", "layers", "128"] + cases)
            for f in lines(peer, "layer") + [["mlp", "mlp" + g[1], g[2]]
                                             for g in lines(peer, "mlp_forward")]:
                t = [float(v) for v in f[2:]]
                old = theirs.get(f[1], [float("inf")] * len(t))
                theirs[f[1]] = [min(a, b) for a, b in zip(old, t)]
        print(f"\nOpenBLAS sgemm (512^3, one core): {sgemm:.1f} GFLOP/s (best of {rounds})\n")
        print("Layers, batch 128 (backward = weight + input gradient), ms; GFLOP/s and share of "
              "the sgemm rate; torch / ranklab time\n")
        print("| layer | pass | ranklab ms | GFLOP/s | of sgemm | torch ms | torch GFLOP/s | "
              "torch / ranklab |")
        print("|---|---|---|---|---|---|---|---|")
        for name, (fwd, bwd, flop_f, flop_b) in ((k, v) for k, v in ours.items()
                                                 if not k.startswith("mlp")):
            for p, t, flop in (("fwd", fwd, flop_f), ("bwd", bwd, flop_b)):
                tt = theirs[name][0 if p == "fwd" else 1]
                rate = f"{flop / t / 1e9:.1f}" if flop else "-"
                share = f"{100 * flop / t / 1e9 / sgemm:.0f} %" if flop else "-"
                trate = f"{flop / tt / 1e9:.1f}" if flop else "-"
                print(f"| {name} | {p} | {1e3 * t:.3f} | {rate} | {share} | {1e3 * tt:.3f} | "
                      f"{trate} | **{tt / t:.2f}×** |")
        print("\nmlp:784-512-512-10 forward, ms; floor = its three GEMMs alone\n")
        print("| batch | ranklab | floor (OpenBLAS sgemm) | floor / ranklab | floor (exact GEMM) |"
              " torch | torch / ranklab |")
        print("|---|---|---|---|---|---|---|")
        for b in ("64", "256"):
            f, fb, fe = ours["mlp" + b]
            print(f"| {b} | {1e3 * f:.3f} | {1e3 * fb:.3f} | **{100 * fb / f:.0f} %** | "
                  f"{1e3 * fe:.3f} | {1e3 * theirs['mlp' + b][0]:.3f} | "
                  f"{theirs['mlp' + b][0] / f:.2f}× |")
    if "3" not in skip:
        print("\nMeZO step (K = 1), mlp:784-512-512-10, ms\n")
        print("| batch | ranklab | torch | torch / ranklab |")
        print("|---|---|---|---|")
        for b in ("64", "256"):
            steps = "100" if b == "64" else "40"

            def ours_zo():
                out = run(pin + [f"{build}/bench_zo", "mlp:784-512-512-10", b, steps])
                return float(next(l.split()[4] for l in out.splitlines()
                                  if l.startswith("MeZO step CPU"))) / 1e3

            def theirs_zo():
                out = run(pin + [python, f"{here}/peers/mezo_torch.py", "784-512-512-10", b,
                                 steps])
                return float(next(l.split()[4] for l in out.splitlines()
                                  if l.startswith("MeZO step CPU"))) / 1e3

            r, t = best_of([ours_zo, theirs_zo])
            print(f"| {b} | {1e3 * r:.3f} | {1e3 * t:.3f} | **{t / r:.2f}×** |", flush=True)
    if "4" not in skip:
        print("\nEpoch, batch 128, Adam, one core, s\n")
        print("| model | images | ranklab | torch | torch / ranklab |")
        print("|---|---|---|---|---|")
        for name, spec, n in (("small CNN", SMALL_CNN, 20000), ("ResNet-20 (GN)", RESNET20,
                                                                 resnet_n)):
            r, t = best_of([lambda: ranklab_epoch(spec, n), lambda: torch_epoch(spec, n)])
            print(f"| {name} | {n} | {r:.3f} | {t:.3f} | **{t / r:.2f}×** |", flush=True)
    if "5" not in skip:
        one, two = best_of([lambda: ranklab_epoch(RESNET20, resnet_n, wall=True),
                            lambda: ranklab_epoch(RESNET20, resnet_n, ranks=2)])
        print(f"\nResNet-20 epoch, {resnet_n} images, wall time: 1 rank {one:.3f} s, 2 ranks "
              f"{two:.3f} s ({one / two:.2f}× faster)")
    print(f"\n{load_range()}")


if __name__ == "__main__":
    main()
