"""Helpers shared by the benchmark drivers (bench/run_*.py) and their torch peers (bench/peers/):
timing by CPU time (the machine is shared: other jobs stretch wall time but not CPU time), runs
pinned to one core with one BLAS thread, alternating ranklab and its peer ROUNDS times.
Environment: CORE (default 1), ROUNDS (default 3)."""
import os
import resource
import subprocess
import time

SAMPLES = 7           # timed runs of each case; the best counts (as bench/timing.h)
SAMPLE_SECONDS = 0.05  # each run repeats the call for about this long
PYTHON = "/usr/bin/python3"
CORE = os.environ.get("CORE", "1")
ROUNDS = int(os.environ.get("ROUNDS", "3"))
PIN = ["taskset", "-c", CORE]
ENV = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1",
           OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
loads = []  # 1-minute load average at the start of each run()


def best_time(call):
    """Best CPU seconds of this thread (torch runs its one thread's work in it) per call over
    SAMPLES runs of about SAMPLE_SECONDS each, after a warm-up call (as bench/timing.h)."""
    t0 = time.thread_time()
    call()
    once = time.thread_time() - t0
    reps = int(SAMPLE_SECONDS / max(once, 1e-7)) + 1 if once < SAMPLE_SECONDS else 1
    best = float("inf")
    for _ in range(SAMPLES):
        t0 = time.thread_time()
        for _ in range(reps):
            call()
        best = min(best, (time.thread_time() - t0) / reps)
    return best


def run(cmd):
    """stdout of cmd (checked), with the load average noted."""
    loads.append(os.getloadavg()[0])
    return subprocess.run(cmd, env=ENV, check=True, capture_output=True, text=True).stdout


def lines(text, tag):
    """The whitespace-split lines of text that start with the word tag."""
    return [line.split() for line in text.splitlines() if line.startswith(tag + " ")]


def child_cpu():
    """CPU seconds (user + system) of the finished children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def best_of(pairs):
    """Alternate (ranklab, torch) callables ROUNDS times; the best of each."""
    best = [float("inf"), float("inf")]
    for _ in range(ROUNDS):
        for side, call in enumerate(pairs):
            best[side] = min(best[side], call())
    return best


def machine():
    """'CPU model, N cores, core C, R rounds' for a results header."""
    cpu = next(l.split(":", 1)[1].strip() for l in run(["lscpu"]).splitlines()
               if l.startswith("Model name"))
    return f"{cpu}, {os.cpu_count()} cores, core {CORE}, {ROUNDS} rounds"


def load_range():
    return f"load average (1 min) during the run: {min(loads):.2f} .. {max(loads):.2f}"
