"""Exit 0 when two results.h5 files hold the same bits in /metrics, /final and /arrays, leaving
out measurements of the machine (/final/wall_seconds, /final/peak_mb_*, /final/update_mb_*);
otherwise print the first differences and exit 1."""
import sys

import h5py


def datasets(f):
    out = {}
    for group in ("metrics", "final", "arrays"):
        if group in f:
            for name, obj in f[group].items():
                if name != "wall_seconds" and not name.startswith(("peak_mb_", "update_mb_")):
                    out[f"{group}/{name}"] = obj[()]
    return out


a, b = (datasets(h5py.File(path, "r")) for path in sys.argv[1:3])
problems = [f"{k}: only in one file" for k in sorted(set(a) ^ set(b))]
for k in sorted(set(a) & set(b)):
    va, vb = a[k], b[k]
    if getattr(va, "tobytes", lambda: va)() != getattr(vb, "tobytes", lambda: vb)():
        problems.append(f"{k}: differs ({va!r:.60} vs {vb!r:.60})")
for p in problems[:10]:
    print(p)
sys.exit(1 if problems or not a else 0)
