"""No merge-conflict markers in the source tree: a line starting with seven '<' or seven '>'
(followed by a space or the line's end) in any text file outside build and run directories and
.git. Prints every such line and exits 1 if there is one.

Usage: python3 tests/merge_markers.py [SOURCE_DIR]"""
import re
import sys
from pathlib import Path

ROOT = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)
SKIP_DIRS = {".git", "runs"}
MARKER = re.compile(r"^(<{7}|>{7})( |$)", re.M)


def skipped(path):
    parts = path.relative_to(ROOT).parts
    return any(p in SKIP_DIRS or p.startswith("build") for p in parts[:-1])


found = 0
for path in sorted(ROOT.rglob("*")):
    if not path.is_file() or skipped(path):
        continue
    data = path.read_bytes()
    if b"\0" in data:  # binary (images, HDF5)
        continue
    text = data.decode("utf-8", "replace")
    for m in MARKER.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        print(f"{path.relative_to(ROOT)}:{line}: merge-conflict marker {m.group(1)[:1] * 7}")
        found += 1
print(f"merge markers: {found} found")
sys.exit(1 if found else 0)
