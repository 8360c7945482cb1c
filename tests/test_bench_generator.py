"""The benchmark's workbook generator (tests/benchmarks/realistic.py) makes what it promises:
a workbook shaped as Excel writes it, that sheetfollow reads and refreshes."""

from __future__ import annotations

import csv
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
import xlsx_fixtures
from conftest import Cli
from json_output import data_of

ROWS = 200
realistic = xlsx_fixtures.realistic()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> object:
    return realistic.build(tmp_path_factory.mktemp("bench") / "pipeline.xlsx", ROWS)


def _part(path: Path, name: str) -> str:
    with zipfile.ZipFile(path) as package:
        return package.read(name).decode()


def test_empty_owned_cells_have_no_element(built: object) -> None:
    sheet = _part(built.path, "xl/worksheets/sheet1.xml")  # type: ignore[attr-defined]
    owned = {realistic.HEADERS[c] for c in realistic.OWNED_COLUMNS}
    assert owned == {"Next follow-up", "Status", "Step", "Why", "Assigned to"}
    # Columns Q..U: only the header row (3) has cells there, and the merged title row (1)
    # its styled blanks, as Excel writes a merged range.
    rows = {int(r) for r in re.findall(r'<c r="[Q-U]([0-9]+)"', sheet)}
    assert rows == {realistic.TITLE_ROW, realistic.HEADER_ROW}
    # Below the title, blank cells are absent, never written as empty elements.
    body = sheet[sheet.index(f'<row r="{realistic.HEADER_ROW}"') :]
    assert not re.search(r"<c [^>]*/>", body)
    assert sheet.count("<row ") == ROWS + 2  # the title row, the header row, the prospects


def test_strings_styles_table_formula_and_title(built: object) -> None:
    path = built.path  # type: ignore[attr-defined]
    sheet = _part(path, "xl/worksheets/sheet1.xml")
    assert 't="s"' in sheet and "inlineStr" not in sheet
    assert "<si>" in _part(path, "xl/sharedStrings.xml")
    log = _part(path, "xl/worksheets/sheet3.xml")
    assert 't="inlineStr"' in log and 't="s"' not in log
    assert re.search(r'<c r="J4" s="[1-9][0-9]*"><v>[0-9]+</v></c>', sheet)  # a styled date
    table = _part(path, "xl/tables/table1.xml")
    assert f'ref="A3:V{ROWS + 3}"' in table and "calculatedColumnFormula" in table
    assert len(re.findall(r'<c r="V[0-9]+"[^>]*><f>', sheet)) == ROWS
    assert '<mergeCell ref="A1:V1"/>' in sheet
    book = openpyxl.load_workbook(path, read_only=True)
    assert book.sheetnames == ["Prospects", "Owners", "Log"]
    log_rows = book["Log"].max_row
    book.close()
    assert log_rows == ROWS // 10 + 1


def test_sheetfollow_reads_and_refreshes_it(built: object, cli: Cli, tmp_path: Path) -> None:
    work = tmp_path / "pipeline.xlsx"
    work.write_bytes(built.path.read_bytes())  # type: ignore[attr-defined]
    result = cli("refresh", "--json", "--sheet", work, "--today", realistic.TODAY.isoformat())
    assert result.exit_code == 0, result.output
    summary = data_of(result.stdout)
    assert summary["rows"] == ROWS and summary["needs_attention"] == 0
    book = openpyxl.load_workbook(work)
    sheet = book["Prospects"]
    statuses = [sheet.cell(r, 18).value for r in range(4, ROWS + 4)]
    assert all(statuses), statuses
    assert str(sheet.cell(4, 22).value).startswith("=IF(")  # the formula column is kept
    assert sheet.tables["Pipeline"].ref == f"A3:V{ROWS + 3}"
    mark = cli("mark", built.mark_id, "no-answer", "--sheet", work,  # type: ignore[attr-defined]
               "--today", realistic.TODAY.isoformat())  # fmt: skip
    assert mark.exit_code == 0, mark.output


def test_import_csv_has_new_leads_and_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    count = realistic.write_import_csv(path, 3000)
    with open(path, encoding="utf-8") as handle:
        lines = list(csv.DictReader(handle))
    assert count == len(lines) == 30
    assert sum("import" not in line["Company"] for line in lines) == 3  # one in ten is known
