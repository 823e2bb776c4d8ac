"""A row of the results table, the ratio rows most figures make, and the table itself."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class Row:
    figure: str
    measured: str
    reference: str
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    python: str = ""  # which interpreter ran it


def ratio_row(
    figure: str, measured: float, reference: float, what: str, target: float, detail: str = ""
) -> Row:
    ratio = measured / reference
    return Row(
        figure,
        (f"{measured:.2f} ms" if measured < 10 else f"{measured:.0f} ms")
        + (f" ({detail})" if detail else ""),
        f"{reference:.2f} ms ({what})" if reference < 10 else f"{reference:.0f} ms ({what})",
        ratio,
        f"<= {target}x",
        ratio <= target,
    )


def table(rows: list[Row]) -> str:
    """Rows grouped by figure (1-5), each figure's interpreters in the order they ran."""
    header = ("figure", "python", "measured", "reference", "ratio", "target", "met?")
    cells = [
        (
            row.figure,
            row.python,
            row.measured,
            row.reference,
            f"{row.ratio:.2f}x" if row.ratio is not None else "",
            row.target,
            {True: "yes", False: "NO", None: ""}[row.met],
        )
        for row in sorted(rows, key=lambda row: row.figure[:2])
    ]
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header))]

    def line(values: Sequence[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + " |"

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, cells)])
