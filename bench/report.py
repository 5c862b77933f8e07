"""The one table `make bench` prints, as aligned text for the terminal and as Markdown."""

from __future__ import annotations

from dataclasses import dataclass

from bench.stats import Spread

COLUMNS = ("Figure", "Subject", "Median", "Min", "Max", "Baseline", "Ratio", "Target", "Met", "Notes")


def number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if unit == "$":
        return f"${value:,.2f}" if value >= 0.1 else f"${value:,.4f}"
    if unit in ("B", "calls", "") and float(value).is_integer():
        text = f"{int(value):,}"
    elif abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}" if abs(value) >= 0.1 else f"{value:.3f}"
    return f"{text} {unit}".strip() if unit not in ("", "calls") else text


@dataclass
class Row:
    figure: str
    subject: str
    value: Spread | float | None
    unit: str = ""
    baseline: str = ""
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    notes: str = ""

    def cells(self) -> tuple[str, ...]:
        if isinstance(self.value, Spread):
            median, low, high = (number(v, self.unit) for v in (self.value.median, self.value.low, self.value.high))
        else:
            median, low, high = number(self.value, self.unit), "", ""
        ratio = f"{self.ratio:.2f}x" if self.ratio is not None else ""
        met = "" if self.met is None else ("yes" if self.met else "NO")
        return (self.figure, self.subject, median, low, high, self.baseline, ratio, self.target, met, self.notes)


def as_text(rows: list[Row]) -> str:
    table = [COLUMNS, *(row.cells() for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    lines = []
    previous_figure = None
    for index, line in enumerate(table):
        figure = line[0].split(" ", 1)[0]  # the figure's number: one block per figure
        if index == 1 or (index > 1 and figure != previous_figure):
            lines.append("-+-".join("-" * w for w in widths))
        previous_figure = figure
        lines.append(" | ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
    return "\n".join(lines)


def _md(cell: str) -> str:
    return cell.replace("|", "\\|")


def as_markdown(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    lines += ["| " + " | ".join(_md(c) for c in row.cells()) + " |" for row in rows]
    return "\n".join(lines)
