"""Benchmark tables: rows must fit the columns, Markdown escapes pipes, cells format alike."""

from __future__ import annotations

import pytest

from hearthcam_bench import report as fmt
from hearthcam_bench.report import Report, markdown


def test_a_row_with_the_wrong_number_of_cells_is_refused() -> None:
    table = Report("t", ["a", "b"])
    with pytest.raises(ValueError, match="1 cells for 2"):
        table.add("only one")


def test_markdown_has_heading_aligned_columns_escaped_pipes_and_notes() -> None:
    table = Report("cameras", ["system", "N"])
    table.add("hearthcam | ours", "16")
    table.notes.append("one note")
    text = markdown(table)
    assert text.endswith("\n")  # sections can be joined with a blank line between them
    assert text.splitlines() == [
        "### cameras",
        "",
        "| system | N |",
        "|---|---:|",
        "| hearthcam \\| ours | 16 |",
        "",
        "- one note",
    ]


def test_cells_format_numbers_and_show_a_dash_for_none() -> None:
    assert fmt.num(1.25, 1) == "1.2"
    assert fmt.pct(12.345) == "12.3 %"
    assert fmt.ratio(4.0) == "4.00x"
    assert fmt.secs(0.5) == "0.50 s"
    assert fmt.ms(0.0275) == "27.5 ms"
    assert [fmt.num(None), fmt.pct(None), fmt.ratio(None), fmt.secs(None), fmt.ms(None)] == [
        "-"
    ] * 5
