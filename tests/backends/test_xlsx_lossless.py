"""Writing owned cells leaves every other byte of a real workbook as it was."""

from __future__ import annotations

import os
import shutil
import warnings
import zipfile
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from lxml import etree
from python_calamine import CalamineWorkbook
from xlsx_fixtures import (
    MAIN_NS,
    NEXT_COLUMN,
    PROSPECT_HEADERS,
    STATUS_COLUMN,
    add_prospects_sheet,
    make_feature_workbook,
    members,
    prospect_rows,
    raw_cells,
    sheet_part,
)

from sheetfollow.backends.xlsx import XlsxBackend
from sheetfollow.sheet import CellWrite, TabChanges

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus" / "xlsx"
CORPUS_FILES = sorted(CORPUS.glob("*.xls[xm]"))
STEP, WHY = len(PROSPECT_HEADERS) + 1, len(PROSPECT_HEADERS) + 2
ROWS = 12


def owned_changes() -> TabChanges:
    """What a refresh writes: dates and statuses in existing columns, two new columns."""
    cells = []
    for row in range(2, ROWS + 2):
        cells.append(CellWrite(row, NEXT_COLUMN, date(2024, 6, row)))
        cells.append(CellWrite(row, STATUS_COLUMN, "overdue" if row % 2 else "due"))
        cells.append(CellWrite(row, STEP, f"{row % 5 + 1} of 5"))
        cells.append(CellWrite(row, WHY, f'  Attempt {row}: "no answer" <&> retry  '))
    return TabChanges("Prospects", new_headers={STEP: "Step", WHY: "Why"}, cells=cells)


def openpyxl_values(path: Path, tab: str) -> list[list[object]]:
    # openpyxl warns about extensions it cannot model (x14 validation, slicers); those are
    # not errors in the file.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        workbook = openpyxl.load_workbook(path)
    try:
        return [list(row) for row in workbook[tab].iter_rows(values_only=True)]
    finally:
        workbook.close()


def calamine_values(path: Path, tab: str) -> list[list[object]]:
    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(tab)
    return [list(row) for row in sheet.to_python(skip_empty_area=False)]


def without_calc_flag(workbook_xml: bytes) -> bytes:
    root = etree.fromstring(workbook_xml)
    for calc in root.iter(f"{{{MAIN_NS}}}calcPr"):
        calc.attrib.pop("fullCalcOnLoad", None)
        if not calc.attrib:
            root.remove(calc)
    return etree.tostring(root, method="c14n")


def check_lossless(
    before: Path, after: Path, changes: TabChanges, extended_tables: frozenset[str] = frozenset()
) -> None:
    old, new = members(before), members(after)
    assert list(new) == list(old), "member names and order must not change"
    prospects = sheet_part(after, "Prospects")
    with zipfile.ZipFile(before) as a, zipfile.ZipFile(after) as b:
        for info in a.infolist():
            assert b.getinfo(info.filename).date_time == info.date_time
    for name, data in old.items():
        if name == prospects:
            continue
        if name == "xl/workbook.xml":
            assert without_calc_flag(new[name]) == without_calc_flag(data)
            continue
        if name in extended_tables:
            continue  # the caller checks what changed in it
        assert new[name] == data, f"{name} changed"

    written = {(w.row, w.column) for w in changes.cells}
    written |= {(changes.header_row, c) for c in changes.new_headers}
    old_cells, new_cells = raw_cells(old[prospects]), raw_cells(new[prospects])
    for key, xml in old_cells.items():
        if key not in written:
            assert new_cells.get(key) == xml, f"cell {key} changed"
    assert set(new_cells) - set(old_cells) <= written

    expected = {(w.row, w.column): w.value for w in changes.cells}
    expected |= {(changes.header_row, c): t for c, t in changes.new_headers.items()}
    for reader in (calamine_values, openpyxl_values):
        grid = reader(after, "Prospects")
        for (row, column), value in expected.items():
            got = grid[row - 1][column - 1]
            if isinstance(value, date) and hasattr(got, "date"):
                got = got.date()
            assert got == value, f"{reader.__name__} {row},{column}: {got!r} != {value!r}"


@pytest.mark.parametrize("source", CORPUS_FILES, ids=lambda p: p.name)
def test_corpus_workbook_keeps_everything(source: Path, tmp_path: Path) -> None:
    before = tmp_path / f"before{source.suffix}"
    add_prospects_sheet(source, before, prospect_rows(ROWS))
    target = tmp_path / f"pipeline{source.suffix}"
    shutil.copy(before, target)
    changes = owned_changes()

    result = XlsxBackend(target).write([changes])

    assert result.cells_written == 4 * ROWS + 2
    check_lossless(before, target, changes)
    old = members(before)
    formulas = any(name.endswith("calcChain.xml") for name in old) or any(
        b"<f>" in data or b"<f " in data
        for name, data in old.items()
        if name.startswith("xl/worksheets/")
    )
    workbook = members(target)["xl/workbook.xml"]
    if formulas:
        assert b'fullCalcOnLoad="1"' in workbook
    else:
        assert workbook == old["xl/workbook.xml"]


def test_feature_workbook_keeps_everything(tmp_path: Path) -> None:
    before = tmp_path / "before.xlsx"
    make_feature_workbook(before)
    target = tmp_path / "pipeline.xlsx"
    shutil.copy(before, target)
    changes = owned_changes()

    XlsxBackend(target).write([changes])

    check_lossless(before, target, changes, frozenset({"xl/tables/table1.xml"}))
    table = etree.fromstring(members(target)["xl/tables/table1.xml"])
    assert table.get("ref") == f"A1:N{ROWS + 1}"
    names = [c.get("name") for c in table.iter(f"{{{MAIN_NS}}}tableColumn")]
    assert names == [*PROSPECT_HEADERS, "Step", "Why"]
    workbook = etree.fromstring(members(target)["xl/workbook.xml"])
    calc = workbook.find(f"{{{MAIN_NS}}}calcPr")
    assert calc is not None and calc.get("fullCalcOnLoad") == "1"


def test_macro_workbook_keeps_its_vba_project(tmp_path: Path) -> None:
    source = CORPUS / "SimpleMacro.xlsm"
    if not source.exists():
        pytest.skip("the corpus is not available")
    before = tmp_path / "before.xlsm"
    add_prospects_sheet(source, before, prospect_rows(ROWS))
    target = tmp_path / "pipeline.xlsm"
    shutil.copy(before, target)

    XlsxBackend(target).write([owned_changes()])

    assert members(target)["xl/vbaProject.bin"] == members(before)["xl/vbaProject.bin"]
    content_types = members(target)["[Content_Types].xml"]
    assert b"application/vnd.ms-excel.sheet.macroEnabled.main+xml" in content_types
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        workbook = openpyxl.load_workbook(target, keep_vba=True)
    assert workbook.vba_archive is not None
    workbook.close()


def test_second_write_of_same_values_leaves_file_alone(tmp_path: Path) -> None:
    target = tmp_path / "pipeline.xlsx"
    make_feature_workbook(target)
    XlsxBackend(target).write([owned_changes()])
    data, mtime = target.read_bytes(), os.stat(target).st_mtime_ns

    result = XlsxBackend(target).write([owned_changes()])

    assert result.cells_written == 0
    assert target.read_bytes() == data
    assert os.stat(target).st_mtime_ns == mtime


def test_same_instance_can_write_twice(tmp_path: Path) -> None:
    target = tmp_path / "pipeline.xlsx"
    make_feature_workbook(target)
    backend = XlsxBackend(target)
    backend.write([owned_changes()])

    result = backend.write([TabChanges("Prospects", cells=[CellWrite(2, STATUS_COLUMN, "dead")])])

    assert result.cells_written == 1
    table = backend.read_tab("Prospects")
    assert table is not None and table.rows[1][STATUS_COLUMN - 1] == "dead"


def test_every_corpus_workbook_is_covered() -> None:
    # A missing corpus must fail loudly, not quietly run zero losslessness cases.
    assert len(CORPUS_FILES) == 9
