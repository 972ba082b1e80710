"""Plain aligned text tables, for reports printed to a terminal (benchmarks, searches)."""


def format_table(header: list, rows: list, rule: bool = True) -> str:
    """A plain aligned text table: the first column left-aligned, the others right-aligned, and
    (``rule``) a line of dashes under the header.

    >>> print(format_table(["case", "ratio"], [["mlp", "1.28x"]]))
    """
    cells = [[str(c) for c in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
             for row in cells]
    ruler = ["  ".join("-" * w for w in widths)] if rule else []
    return "\n".join([lines[0], *ruler, *lines[1:]])
