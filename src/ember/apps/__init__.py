"""``ember.apps``: small end-to-end applications behind the ``ember`` command (e.g. ``translate-dates``).

Each app is a module with a training recipe, evaluation, saving and loading, plus
``add_arguments(parser)`` and an entry point that the CLI calls with the parsed arguments.
"""


def format_table(header: list, rows: list) -> str:
    """A plain aligned text table: the first column left-aligned, the others right-aligned.

    >>> print(format_table(["case", "ratio"], [["mlp", "1.28x"]]))
    """
    cells = [[str(c) for c in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
             for row in cells]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])
