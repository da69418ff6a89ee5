"""The layers of README "Layout", checked on the source tree: each folder includes only the
layers it may use; MPI is called only in src/comm and HDF5 only in src/io; kernels neither
allocate nor print; experiments/ holds one NAME.c, NAME.ini and NAME.md per experiment and
nothing else. Prints every violation and exits 1 if there is one.

Usage: python3 tests/layers.py [SOURCE_DIR]"""
import re
import sys
from pathlib import Path

ROOT = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)

# What each layer may include (besides itself), as README's Layout table says.
BASE = {"kernels"}
MAY_USE = {
    "kernels": set(),
    "src/core": BASE,
    "src/comm": BASE | {"src/core"},
    "src/data": BASE | {"src/core", "src/comm", "src/io"},
    "src/select": BASE | {"src/core", "src/comm"},
    "src/nn": BASE | {"src/core"},
    "src/io": BASE | {"src/core", "src/comm"},
    "src/run": BASE | {"src/core", "src/comm", "src/io"},
    "src/train": BASE | {"src/core", "src/comm", "src/data", "src/nn", "src/io", "src/run"},
}
MAY_USE["experiments"] = set(MAY_USE) - {"experiments"}
MAY_USE["src/cli"] = set(MAY_USE) - {"src/cli"}
LAYERS = sorted(MAY_USE, key=len, reverse=True)

MPI_CALL = re.compile(r"\bMPI_[A-Z][A-Za-z_]*\s*\(")
HDF5_CALL = re.compile(r"\bH5[A-Z]?[a-z][A-Za-z0-9_]*\s*\(")
ALLOC_OR_PRINT = re.compile(r"\b(malloc|calloc|realloc|free|printf|fprintf|puts|fputs)\s*\(")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)
COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
STRING = re.compile(r'"(?:\\.|[^"\\])*"')


def layer_of(path):
    rel = path.relative_to(ROOT).as_posix()
    for layer in LAYERS:
        if rel.startswith(layer + "/"):
            return layer
    return None


def code_of(text):
    """The text without comments and string literals (calls named in prose do not count)."""
    blank = lambda m: " " + "\n" * m.group(0).count("\n")  # keeps line numbers
    return STRING.sub('""', COMMENT.sub(blank, text))


def check_sources():
    problems = []
    sources = [p for d in ("kernels", "src", "experiments") for p in (ROOT / d).rglob("*.[ch]")]
    for path in sorted(sources):
        layer = layer_of(path)
        rel = path.relative_to(ROOT).as_posix()
        if layer is None:
            problems.append(f"{rel}: in no layer of the Layout table (add the folder to it)")
            continue
        text = path.read_text(errors="replace")
        for kind, header in INCLUDE.findall(text):
            if kind == '"':
                target = next((l for l in LAYERS if header.startswith(l + "/")), None)
                if target and target != layer and target not in MAY_USE[layer]:
                    problems.append(f"{rel}: includes {header}, but {layer} may not use {target}")
            elif header in ("mpi.h", "hdf5.h"):
                owner = "src/comm" if header == "mpi.h" else "src/io"
                if layer != owner:
                    problems.append(f"{rel}: includes <{header}>, which only {owner} may")
        code = code_of(text)
        for pattern, owner, what in ((MPI_CALL, "src/comm", "MPI"), (HDF5_CALL, "src/io", "HDF5")):
            if layer != owner:
                for m in pattern.finditer(code):
                    line = code.count("\n", 0, m.start()) + 1
                    problems.append(f"{rel}:{line}: calls {what} ({m.group(0)[:-1].strip()}),"
                                    f" which only {owner} may")
        if layer == "kernels":
            for m in ALLOC_OR_PRINT.finditer(code):
                line = code.count("\n", 0, m.start()) + 1
                problems.append(f"{rel}:{line}: a kernel calls {m.group(1)} (kernels neither "
                                "allocate nor print)")
    return problems


def check_experiments():
    problems = []
    folder = ROOT / "experiments"
    names = {}
    for c in sorted(folder.glob("*.c")):
        found = re.findall(r'\.name\s*=\s*"([^"]+)"', c.read_text())
        if len(found) != 1 or found[0].replace("-", "_") != c.stem:
            problems.append(f"experiments/{c.name}: must define one experiment named "
                            f"\"{c.stem.replace('_', '-')}\" (found {found})")
            continue
        names[found[0]] = c.name
    expected = set(names.values())
    for name in names:
        expected |= {f"{name}.ini", f"{name}.md"}
    present = {p.name for p in folder.iterdir()}
    for missing in sorted(expected - present):
        problems.append(f"experiments/{missing}: missing (each experiment has NAME.c, .ini, .md)")
    for extra in sorted(present - expected):
        problems.append(f"experiments/{extra}: not an experiment's .c, .ini or .md (the run and "
                        "training layers live in src/run and src/train)")
    return problems


problems = check_sources() + check_experiments()
for p in problems:
    print(p)
print(f"layers: {len(problems)} violation(s)")
sys.exit(1 if problems else 0)
