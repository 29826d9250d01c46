"""Benchmark results as tables: one ``Report`` per table, shown with Rich or written as Markdown.

Scenarios return Reports and never print; ``main`` decides where they go. Cells are strings
already formatted by the helpers here, so the terminal and the Markdown file show the same text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table


@dataclass
class Report:
    """One table of results, with notes saying what was measured and how."""

    title: str
    columns: Sequence[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: str) -> None:
        """Adds one row; it must have a cell per column."""
        if len(cells) != len(self.columns):
            raise ValueError(f"{self.title}: row has {len(cells)} cells for {len(self.columns)}")
        self.rows.append(list(cells))


def show(report: Report, console: Console) -> None:
    """Prints a report as a Rich table followed by its notes."""
    table = Table(title=report.title, title_justify="left", show_lines=False)
    for i, column in enumerate(report.columns):
        table.add_column(column, justify="left" if i == 0 else "right", overflow="fold")
    for row in report.rows:
        table.add_row(*row)
    console.print(table)
    for note in report.notes:
        console.print(f"  [dim]{note}[/]", highlight=False)
    console.print()


def markdown(report: Report) -> str:
    """A report as a Markdown section: heading, pipe table, notes as a list."""
    escape = str.maketrans({"|": "\\|"})
    lines = [f"### {report.title}", ""]
    lines.append("| " + " | ".join(c.translate(escape) for c in report.columns) + " |")
    lines.append(
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(report.columns))) + "|"
    )
    for row in report.rows:
        lines.append("| " + " | ".join(c.translate(escape) for c in row) + " |")
    if report.notes:
        lines.append("")
        lines.extend(f"- {note}" for note in report.notes)
    lines.append("")
    return "\n".join(lines)


# --- cell formatting ---------------------------------------------------------------------------


def num(value: float | None, digits: int = 1) -> str:
    """A number with fixed decimals, or a dash when there is none."""
    return "-" if value is None else f"{value:.{digits}f}"


def pct(value: float | None, digits: int = 1) -> str:
    """A percentage (value already in percent)."""
    return "-" if value is None else f"{value:.{digits}f} %"


def ratio(value: float | None) -> str:
    """A ratio such as ``3.20x``."""
    return "-" if value is None else f"{value:.2f}x"


def secs(value: float | None, digits: int = 2) -> str:
    """Seconds."""
    return "-" if value is None else f"{value:.{digits}f} s"


def ms(value: float | None, digits: int = 1) -> str:
    """Milliseconds from a value in seconds."""
    return "-" if value is None else f"{value * 1000:.{digits}f} ms"


def verdict(ok: bool | None) -> str:
    """Met / missed for a target, or n/a."""
    return "n/a" if ok is None else ("met" if ok else "MISSED")
