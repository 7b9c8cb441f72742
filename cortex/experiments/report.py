"""Text the experiments print: tables shared by several summaries."""
from __future__ import annotations


def accuracy_table(table: dict) -> str:
    """A condition x method accuracy table as aligned text, the model's columns first (its ablations beside it)."""
    cols = sorted({c for row in table.values() for c in row},
                  key=lambda c: (c != "model", not c.startswith("model"), c))
    w = max([12, *(len(c) + 1 for c in table)])
    lines = [f"{'accuracy':<{w}}" + "".join(f"{c:>22}" for c in cols)]
    for cond, row in table.items():
        lines.append(f"{cond:<{w}}" + "".join(f"{row[c]:>22.3f}" if c in row else f"{'-':>22}" for c in cols))
    return "\n".join(lines)
