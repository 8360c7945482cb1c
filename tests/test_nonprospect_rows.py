"""Rows that are no prospect (totals, formula rows, notes under the list) are left alone."""

from __future__ import annotations

from pathlib import Path

import openpyxl
from conftest import Cli

from sheetfollow import schema
from sheetfollow.sheet import Table

HEADERS = ["Company", "Owner", "Email", "Value", "Status"]


def left_alone(rows: list[list[object]]) -> dict[int, tuple[str, str]]:
    table = Table("Prospects", [HEADERS, *rows])  # type: ignore[list-item]
    header = schema.map_headers(table)
    return {
        n: (item.kind, item.text) for n, item in schema.non_prospect_rows(table, header).items()
    }


def test_totals_rows_in_every_language() -> None:
    words = ["Total", "Totaal", "Totals", "Summe", "Gesamt", "I alt", "Subtotal", "Totaal:"]
    rows: list[list[object]] = [["Acme", "Anna", "a@acme.example", 100, None]]
    rows += [[word, None, None, 100.0, None] for word in words]
    found = left_alone(rows)
    assert found == {n: ("totals row", w) for n, w in enumerate(words, start=3)}


def test_a_company_called_total_with_an_owner_is_a_prospect() -> None:
    assert left_alone([["Total S.A.", "Anna", "t@total.example", 5, None]]) == {}
    # ... and an ID or status an earlier run wrote does not make a totals row a prospect.
    assert left_alone([["Totaal", None, None, 9.0, "needs attention"]]) == {
        2: ("totals row", "Totaal")
    }


def test_formula_rows_and_notes_after_a_blank_row() -> None:
    rows: list[list[object]] = [
        ["Acme", "Anna", "a@acme.example", 100, None],
        [None, None, None, 100.0, None],  # =SUM without a label
        [None, None, None, None, None],
        ["Prices without VAT.", None, None, None, None],
        ["Region north", None, None, None, None],
    ]
    assert left_alone(rows) == {
        3: ("row of numbers only", ""),
        5: ("note or heading", "Prices without VAT."),
        6: ("note or heading", "Region north"),
    }


def test_a_half_typed_prospect_right_below_the_list_is_still_one() -> None:
    rows: list[list[object]] = [["Acme", "Anna", "a@acme.example", 100, None], ["Beta"]]
    assert left_alone(rows) == {}


def test_refresh_gives_them_nothing_and_check_reports_them_once(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "pipeline.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Prospects"
    sheet.append(["Company", "Owner", "Value", "Created"])
    sheet.append(["Acme", "Anna", 100, "2026-11-30"])
    sheet.append(["Beta", "Bob", 200, "2026-11-30"])
    sheet.append(["Totaal", None, "=SUM(C2:C3)"])
    book.save(path)

    checked = cli("check", "--sheet", path, "--today", "2026-12-01")
    assert checked.output.count("row 4: totals row ('Totaal'), left alone") == 1
    assert "2 prospects" in checked.output
    refreshed = cli("refresh", "--sheet", path, "--today", "2026-12-01")
    assert refreshed.exit_code == 0, refreshed.output
    assert "2 prospects" in refreshed.output
    after = openpyxl.load_workbook(path)["Prospects"]
    assert [c.value for c in after[4]][:3] == ["Totaal", None, "=SUM(C2:C3)"]
    assert all(c.value is None for c in after[4][3:])  # no ID, no status
    assert after["E2"].value == "P-0001" and after["E3"].value == "P-0002"
