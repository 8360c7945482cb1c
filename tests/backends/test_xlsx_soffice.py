"""LibreOffice, an independent reader, opens what the backend wrote and sees the new values."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

import pytest
from soffice import SOFFICE, soffice_convert
from xlsx_fixtures import (
    NEXT_COLUMN,
    PROSPECT_HEADERS,
    STATUS_COLUMN,
    make_feature_workbook,
    members,
    raw_cells,
    sheet_part,
)

from sheetfollow.backends.xlsx import XlsxBackend
from sheetfollow.sheet import CellWrite, TabChanges

# UTF-8, comma separated, double quotes; the last option (-1) exports every sheet to its own
# file named <stem>-<sheet>.csv.
CSV_FILTER = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"

pytestmark = [
    pytest.mark.soffice,
    pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed"),
]


def convert(workbook: Path, target: str, folder: Path) -> None:
    soffice_convert([workbook], target, folder)


def export_csv(workbook: Path, folder: Path) -> dict[str, list[list[str]]]:
    convert(workbook, CSV_FILTER, folder)
    sheets = {}
    for path in folder.glob(f"{workbook.stem}-*.csv"):
        with open(path, newline="", encoding="utf-8") as handle:
            sheets[path.stem.removeprefix(f"{workbook.stem}-")] = list(csv.reader(handle))
    return sheets


def as_date(text: str) -> date:
    for layout in ("%m/%d/%Y", "%m/%d/%y", "%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, layout).date()
        except ValueError:
            continue
    raise AssertionError(f"{text!r} is not a date")


def test_libreoffice_reads_the_written_cells(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.xlsx"
    make_feature_workbook(path)
    step = len(PROSPECT_HEADERS) + 1
    changes = [
        TabChanges(
            "Prospects",
            new_headers={step: "Step"},
            cells=[
                CellWrite(2, NEXT_COLUMN, date(2024, 6, 3)),
                CellWrite(2, STATUS_COLUMN, "overdue"),
                CellWrite(2, step, ' 2 of 5 <&> "x" '),
            ],
        ),
        TabChanges("Log", create=True, new_headers={1: "When", 2: "ID"}, append_rows=[["t", 1]]),
    ]
    XlsxBackend(path).write(changes)
    out = tmp_path / "csv"
    out.mkdir()

    sheets = export_csv(path, out)

    prospects = sheets["Prospects"]
    assert prospects[0][step - 1] == "Step"
    assert prospects[1][STATUS_COLUMN - 1] == "overdue"
    assert prospects[1][step - 1] == ' 2 of 5 <&> "x" '
    assert as_date(prospects[1][NEXT_COLUMN - 1]) == date(2024, 6, 3)
    assert prospects[1][0] == "P0001"
    assert sheets["Log"] == [["When", "ID"], ["t", "1"]]


def test_a_workbook_saved_by_libreoffice_can_be_written(tmp_path: Path) -> None:
    source = tmp_path / "source.xlsx"
    make_feature_workbook(source)
    saved = tmp_path / "saved"
    saved.mkdir()
    convert(source, "xlsx", saved)
    path = saved / "source.xlsx"
    before = members(path)
    prospects = sheet_part(path, "Prospects")
    changes = TabChanges(
        "Prospects",
        new_headers={len(PROSPECT_HEADERS) + 1: "Step"},
        cells=[CellWrite(3, NEXT_COLUMN, date(2024, 6, 4)), CellWrite(3, STATUS_COLUMN, "due")],
    )

    XlsxBackend(path).write([changes])

    after = members(path)
    assert list(after) == list(before)
    old_cells, new_cells = raw_cells(before[prospects]), raw_cells(after[prospects])
    written = {(3, NEXT_COLUMN), (3, STATUS_COLUMN), (1, len(PROSPECT_HEADERS) + 1)}
    assert {k: v for k, v in old_cells.items() if k not in written} == {
        k: v for k, v in new_cells.items() if k not in written
    }
    table = XlsxBackend(path).read_tab("Prospects")
    assert table is not None
    assert table.rows[2][NEXT_COLUMN - 1] == date(2024, 6, 4)
    assert table.rows[2][STATUS_COLUMN - 1] == "due"
    assert table.rows[0][len(PROSPECT_HEADERS)] == "Step"
