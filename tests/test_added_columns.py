"""Columns sheetfollow adds look like the sheet's: the neighbouring header's style, a width
that fits a date and a sentence, dates formatted as dates (also as LibreOffice shows them)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from conftest import Cli
from openpyxl.styles import Font, PatternFill
from soffice import SOFFICE, soffice_convert

TODAY = "2026-12-01"


def team_workbook(path: Path, *, sized: bool) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Prospects"
    sheet.append(["Company", "Owner", "Created", "Notes"])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="FFD966")
    sheet.append(["Acme", "Anna", datetime(2026, 11, 30), "first call"])
    sheet.append(["Beta", "Bob", datetime(2026, 11, 23), ""])
    if sized:  # a team that set its own widths: the <cols> the new ones go among
        sheet.column_dimensions["A"].width = 30
        sheet.column_dimensions["D"].width = 40
    book.save(path)


@pytest.mark.parametrize("sized", [False, True])
def test_new_columns_are_styled_sized_and_dated(cli: Cli, tmp_path: Path, sized: bool) -> None:
    path = tmp_path / "pipeline.xlsx"
    team_workbook(path, sized=sized)
    result = cli("refresh", "--sheet", path, "--today", TODAY)
    assert result.exit_code == 0, result.output

    sheet = openpyxl.load_workbook(path)["Prospects"]
    headers = {cell.value: cell for cell in sheet[1]}
    neighbour = headers["Notes"]
    widths = {
        name: sheet.column_dimensions[cell.column_letter].width for name, cell in headers.items()
    }
    for name in ("ID", "Next follow-up", "Status", "Step", "Why", "Assigned to"):
        cell = headers[name]
        assert cell.font.bold and cell.fill.fgColor.rgb == neighbour.fill.fgColor.rgb, name
        assert widths[name] >= len(name) + 3, name
    assert widths["Next follow-up"] >= 12  # "2026-12-01" and a margin
    assert widths["Why"] >= 60  # a sentence
    if sized:
        assert widths["Company"] == 30 and widths["Notes"] == 40
    column = headers["Next follow-up"].column_letter
    assert sheet[f"{column}2"].is_date and sheet[f"{column}3"].is_date


@pytest.mark.soffice
@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice is not installed")
def test_libreoffice_shows_the_new_dates(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "pipeline.xlsx"
    team_workbook(path, sized=True)
    assert cli("refresh", "--sheet", path, "--today", TODAY).exit_code == 0
    out = tmp_path / "lo"
    for kind in ("html", "xlsx:Calc MS Excel 2007 XML"):
        soffice_convert([path], kind, out, profile=tmp_path / "profile", timeout=180)
    html = (out / "pipeline.html").read_text(encoding="utf-8", errors="replace")
    shown = [
        re.sub(r"<[^>]+>", "", body).strip()
        for body in re.findall(r"<td[^>]*>(.*?)</td>", html, re.S)
    ]
    assert "###" not in " ".join(shown)
    # Shown as a date (in the workbook's own date format), not as a serial number.
    assert shown.count("P-0001") == 1
    follow_up = shown[shown.index("P-0001") + 1]
    assert re.match(r"2026-11-30\b", follow_up), shown
    # LibreOffice keeps the width: a date of ten characters fits.
    saved = openpyxl.load_workbook(out / "pipeline.xlsx")["Prospects"]
    letter = next(c.column_letter for c in saved[1] if c.value == "Next follow-up")
    assert (saved.column_dimensions[letter].width or 0) >= 11
