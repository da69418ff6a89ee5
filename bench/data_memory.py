"""Memory per node of `ranklab run train` on 1, 2 and 4 ranks (issue 15, bench/RESULTS.md): while
the job runs, every 20 ms, each rank's peak resident set (VmHWM, /proc/PID/status) and its
proportional set size (Pss, /proc/PID/smaps_rollup: a page shared by k processes counts 1/k in
each), summed over the ranks. Reports the sum of the ranks' peak RSS and the largest sum of PSS
seen, for the whole Fashion-MNIST and for a 500-example subset (about the same job without the
data), so their difference is the data's footprint.

Usage: /usr/bin/python3 bench/data_memory.py RANKLAB [RANKLAB ...]   (each a build's program)"""
import os
import subprocess
import sys
import tempfile
import time

JOB = ["run", "train", "model.spec=mlp:784-32-10", "train.epochs=1", "train.batch=500"]
DATA = {"all": [], "500": ["data.train_limit=500", "data.test_limit=500"]}


def ranks_of(launcher, program):
    """The pids of the launcher's children running `program`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid == launcher and os.readlink(f"/proc/{pid}/exe") == program:
                found.append(int(pid))
        except (OSError, ValueError, IndexError):
            pass
    return found


def kib(path, field):
    with open(path) as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def measure(program, p, args):
    """(sum over ranks of peak RSS, largest sum of PSS), in MiB."""
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OPENBLAS_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as out:
        job = subprocess.Popen(["mpiexec", "--oversubscribe", "-n", str(p), program, *JOB, *args,
                                "--out", f"{out}/run"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        peak_rss, peak_pss = {}, 0
        while job.poll() is None:
            pss = 0
            for pid in ranks_of(job.pid, program):
                try:
                    hwm = kib(f"/proc/{pid}/status", "VmHWM:")  # 0 once a zombie
                    peak_rss[pid] = max(peak_rss.get(pid, 0), hwm)
                    pss += kib(f"/proc/{pid}/smaps_rollup", "Pss:")
                except OSError:  # the rank just ended
                    pass
            peak_pss = max(peak_pss, pss)
            time.sleep(0.02)
        if job.returncode != 0 or len(peak_rss) != p:
            sys.exit(f"{program} on {p} ranks: exit {job.returncode}, saw {len(peak_rss)} ranks")
    return sum(peak_rss.values()) / 1024, peak_pss / 1024


print(f"machine: {os.uname().nodename}, {os.cpu_count()} cores; job: ranklab {' '.join(JOB)}")
for program in sys.argv[1:]:
    program = os.path.realpath(program)
    for p in (1, 2, 4):
        cells = []
        for name, args in DATA.items():
            rss, pss = measure(program, p, args)
            cells.append((name, rss, pss))
        text = ", ".join(f"{n}: RSS {r:.0f} MiB, PSS {s:.0f} MiB" for n, r, s in cells)
        (_, r_all, s_all), (_, r_few, s_few) = cells
        print(f"{program} {p} rank(s): {text}; data: RSS {r_all - r_few:.0f}, PSS "
              f"{s_all - s_few:.0f} MiB", flush=True)
