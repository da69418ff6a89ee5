"""A report as a document: Markdown text, tables and PNG figures, the tables also as LaTeX
(booktabs). A table has a caption, a header and rows of text cells; its first `labels` columns
name the row (left-aligned), the others hold numbers.

    doc = Document("runs/lr/report")
    doc.table(Table("Final metrics ...", ["train.optim", "n", "test_acc"], [["adam", "3", "…"]]))
    doc.figure(fig, "accuracy.png", "what the bands are")
    doc.write(latex=True)        # report.md, report.tex (\\toprule ... \\midrule ... \\bottomrule)

Nothing reaches the disk before write() (it makes out_dir), so a report that stops on an error
leaves no files and no empty directory behind.
"""
import io
import os
import re

import numpy as np

# Characters with a meaning in LaTeX, and the Unicode the reports print, in LaTeX.
_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
          "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
          "±": r"$\pm$", "−": r"$-$", "–": "--", "Δ": r"$\Delta$", "ε": r"$\varepsilon$",
          "λ": r"$\lambda$", "×": r"$\times$", "≤": r"$\leq$", "·": r"$\cdot$", "…": r"\dots{}"}
_LATEX_RE = re.compile("|".join(re.escape(c) for c in _LATEX))


def latex_escape(text):
    return _LATEX_RE.sub(lambda m: _LATEX[m.group()], str(text))


def value_text(value):
    """A config value as a table shows it: numbers with %g, booleans as true/false."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)):
        return "%g" % value
    return str(value)


class Table:
    """A captioned table of text cells; the first `labels` columns are left-aligned."""

    def __init__(self, caption, header, rows, labels=1):
        self.caption, self.header, self.rows, self.labels = caption, header, rows, labels

    def markdown(self):
        lines = [f"**{self.caption}**", "", "| " + " | ".join(self.header) + " |",
                 "|" + "".join(":---|" if i < self.labels else "---:|"
                               for i in range(len(self.header)))]
        return lines + ["| " + " | ".join(row) + " |" for row in self.rows]

    def latex(self):
        spec = "l" * self.labels + "r" * (len(self.header) - self.labels)
        body = [" & ".join(latex_escape(c) for c in row) + r" \\" for row in self.rows]
        return "\n".join([r"\begin{table}[ht]", r"\centering",
                          r"\caption{" + latex_escape(self.caption) + "}",
                          r"\begin{tabular}{" + spec + "}", r"\toprule",
                          " & ".join(latex_escape(c) for c in self.header) + r" \\",
                          r"\midrule", *body, r"\bottomrule", r"\end{tabular}",
                          r"\end{table}"])


class Document:
    """A report being written into out_dir: Markdown text, tables and PNG figures in order; the
    tables also as LaTeX. Kept in memory until write() makes out_dir, the figures, report.md and,
    with latex, report.tex."""

    def __init__(self, out_dir):
        self.out_dir, self.lines, self.tables, self.figures = out_dir, [], [], []

    def text(self, *lines):
        self.lines += ["", *lines]

    def table(self, table):
        self.tables.append(table)
        self.lines += ["", *table.markdown()]

    def figure(self, fig, name, caption):
        """Render a matplotlib figure as PNG (written as out_dir/name) and show it with its
        caption."""
        png = io.BytesIO()
        fig.savefig(png, format="png", dpi=110)
        self.figures.append((os.path.join(self.out_dir, name), png.getvalue()))
        self.lines += ["", f"![{name}]({name})", "", f"*{caption}*"]

    def write(self, latex=False):
        """Write the figures, report.md (and report.tex); returns the paths written, figures
        included."""
        os.makedirs(self.out_dir, exist_ok=True)
        for path, png in self.figures:
            with open(path, "wb") as f:
                f.write(png)
        paths = [os.path.join(self.out_dir, "report.md")]
        with open(paths[0], "w") as f:
            f.write("\n".join(self.lines).lstrip("\n") + "\n")
        if latex:
            paths.append(os.path.join(self.out_dir, "report.tex"))
            with open(paths[1], "w") as f:
                f.write("% Tables of report.md; \\input this file, with \\usepackage{booktabs}.\n\n"
                        + "\n\n".join(t.latex() for t in self.tables) + "\n")
        return paths + [path for path, _ in self.figures]
