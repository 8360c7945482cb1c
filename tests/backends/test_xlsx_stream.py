"""Writes into sheets as Excel and XlsxWriter save them (no <c> for an empty cell), streamed
through the rewrite a piece at a time, and the progress hook."""

from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path

import xlsxwriter
from lxml import etree
from python_calamine import CalamineWorkbook

from sheetfollow.backends import _xlsxml as xml
from sheetfollow.backends.xlsx import XlsxBackend
from sheetfollow.sheet import CellValue, CellWrite, TabChanges

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def sparse_workbook(path: Path, rows: int) -> None:
    """A tab whose columns C..E have a header and no cells, with a formula in F."""
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Prospects")
    for column, header in enumerate(["ID", "Name", "Next", "Status", "Why", "Double"]):
        sheet.write(0, column, header)
    for row in range(1, rows + 1):
        sheet.write(row, 0, f"P-{row}")
        sheet.write(row, 1, f"Company {row}")
        sheet.write_formula(row, 5, f"=A{row + 1}&B{row + 1}", None, f"P-{row}Company {row}")
    book.close()


def cell_refs(path: Path, row: int) -> list[str]:
    with zipfile.ZipFile(path) as package:
        root = etree.fromstring(package.read("xl/worksheets/sheet1.xml"))
    found = root.xpath(f"//m:row[@r='{row}']/m:c/@r", namespaces=NS)
    return [str(ref) for ref in found]


def test_absent_cells_go_in_before_the_formula_in_column_order(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.xlsx"
    sparse_workbook(path, 3)
    writes = [
        # Out of column order on purpose: D is first where C goes in, then written itself.
        CellWrite(2, 5, "why"),
        CellWrite(2, 3, date(2026, 3, 11)),
        CellWrite(2, 4, "due"),
        CellWrite(3, 4, "overdue"),
        CellWrite(4, 7, "after the last cell"),
    ]
    result = XlsxBackend(path).write([TabChanges(tab="Prospects", cells=writes)])

    assert result.cells_written == 5
    assert cell_refs(path, 2) == ["A2", "B2", "C2", "D2", "E2", "F2"]
    assert cell_refs(path, 3) == ["A3", "B3", "D3", "F3"]
    assert cell_refs(path, 4) == ["A4", "B4", "F4", "G4"]
    grid = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Prospects").to_python()
    assert grid[1][:6] == ["P-1", "Company 1", date(2026, 3, 11), "due", "why", "P-1Company 1"]
    assert grid[2][3] == "overdue"
    assert grid[3][6] == "after the last cell"


def test_a_sheet_larger_than_a_piece_is_rewritten_in_pieces(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.xlsx"
    rows = 30_000  # a sheet part of several megabytes: many pieces of a megabyte
    sparse_workbook(path, rows)
    writes = [CellWrite(row, 4, "due" if row % 2 else "overdue") for row in range(2, rows + 2)]
    result = XlsxBackend(path).write([TabChanges(tab="Prospects", cells=writes)])

    assert result.cells_written == rows
    grid = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Prospects").to_python()
    assert [line[3] for line in grid[1:]] == [
        "due" if row % 2 else "overdue" for row in range(2, rows + 2)
    ]
    assert [line[5] for line in grid[1:4]] == ["P-1Company 1", "P-2Company 2", "P-3Company 3"]


def test_a_write_that_changes_nothing_streams_nothing(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.xlsx"
    sparse_workbook(path, 3)
    before = path.read_bytes()
    result = XlsxBackend(path).write([TabChanges(tab="Prospects", cells=[CellWrite(2, 1, "P-1")])])
    assert result.cells_written == 0
    assert path.read_bytes() == before


def test_progress_is_told_while_reading_writing_and_checking(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.xlsx"
    sparse_workbook(path, 20_000)  # a sheet part of a few megabytes
    told: list[tuple[str, float]] = []
    backend = XlsxBackend(path)
    backend.progress = lambda phase, fraction: told.append((phase, fraction))

    rows = backend.read_tab("Prospects")
    assert rows is not None
    writes = [CellWrite(row, 4, "due") for row in range(2, 20_002)]
    backend.write([TabChanges(tab="Prospects", cells=writes)])

    phases = [phase for phase, _ in told]
    for phase in ("reading Prospects", "writing pipeline.xlsx", "checking the new file"):
        fractions = [fraction for name, fraction in told if name == phase]
        assert len(fractions) >= 10, phase  # along the way, not only at the ends
        assert fractions == sorted(fractions)
        assert fractions[-1] == 1.0
        assert all(0.0 <= fraction <= 1.0 for fraction in fractions)
    assert phases.index("writing pipeline.xlsx") < phases.index("checking the new file")


def test_no_progress_without_a_listener(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.xlsx"
    sparse_workbook(path, 10)
    backend = XlsxBackend(path)
    assert backend.progress is None
    backend.write([TabChanges(tab="Prospects", cells=[CellWrite(2, 4, "due")])])


def test_streamed_and_in_memory_rewrites_agree() -> None:
    data = (
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b'<dimension ref="A1:C3"/><sheetData>'
        + b"".join(
            b'<row r="%d"><c r="A%d"><v>%d</v></c><c r="C%d"><v>1</v></c></row>' % (n, n, n, n)
            for n in range(1, 4000)
        )
        + b"</sheetData></worksheet>"
    )
    styles = xml.StyleSheet(None, None)
    ctx = xml.SheetContext("T", date(1899, 12, 30), styles, xml.SharedStrings(lambda: None))
    writes = {(n, 2): f"v{n}" for n in range(1, 4000, 7)} | {(4005, 1): "new row"}
    whole = xml.rewrite_sheet(data, writes, ctx).to_bytes()
    pieces: list[bytes | memoryview] = []
    cut = [data[at : at + 997] for at in range(0, len(data), 997)]
    written, _ = xml.rewrite_stream(cut, xml.Writes(writes), ctx, frozenset(), pieces.append)
    assert b"".join(pieces) == whole
    assert written == len(writes)


def _numbered_sheet(rows: int, *, unnumbered: frozenset[int] = frozenset()) -> bytes:
    """A sheet part of `rows` rows as Excel writes them; rows in `unnumbered` without r=."""

    def row(n: int) -> bytes:
        number = b"" if n in unnumbered else b' r="%d"' % n
        return b'<row%s spans="1:3"><c r="A%d" t="inlineStr"><is><t>P-%d</t></is></c>' % (
            number,
            n,
            n,
        ) + b'<c r="C%d"><v>%d</v></c></row>' % (n, n)

    return (
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b'<dimension ref="A1:C%d"/><sheetData>'
        % rows
        + b"".join(row(n) for n in range(1, rows + 1))
        + b"</sheetData></worksheet>"
    )


def _stream(data: bytes, writes: dict[tuple[int, int], CellValue], size: int = 4096) -> bytes:
    styles = xml.StyleSheet(None, None)
    ctx = xml.SheetContext("T", date(1899, 12, 30), styles, xml.SharedStrings(lambda: None))
    pieces: list[bytes | memoryview] = []
    cut = [data[at : at + size] for at in range(0, len(data), size)]
    xml.rewrite_stream(cut, xml.Writes(writes), ctx, frozenset(), pieces.append)
    return b"".join(bytes(piece) for piece in pieces)


def _row_values(data: bytes) -> dict[str, list[str]]:
    root = etree.fromstring(data)
    return {
        str(row.get("r") or index): [
            "".join(cell.itertext()) for cell in row.xpath("m:c", namespaces=NS)
        ]
        for index, row in enumerate(root.xpath("//m:row", namespaces=NS), start=1)
    }


def test_a_write_near_the_end_keeps_every_other_row_byte_for_byte() -> None:
    # The rows before the one written are copied a piece at a time without being looked
    # at one by one; whether they are numbered or not, the write lands in its row and no
    # other byte changes.
    for unnumbered in (frozenset(), frozenset({1}), frozenset({2_990}), frozenset({2_999})):
        data = _numbered_sheet(3_000, unnumbered=unnumbered)
        out = _stream(data, {(2_995, 2): "written"})
        before, after = data.split(b'<c r="C2995">')
        assert out.startswith(before[: before.rfind(b"<row")])
        assert out.endswith(b'<c r="C2995">' + after)
        rows, old = _row_values(out), _row_values(data)
        assert rows["2995"] == ["P-2995", "written", "2995"]
        assert [key for key, values in rows.items() if values != old[key]] == ["2995"]


def test_a_row_appended_after_the_last_one_of_a_long_part() -> None:
    data = _numbered_sheet(3_000)
    out = _stream(data, {(3_002, 1): "new"}, size=997)
    head, tail = data.split(b"</sheetData>")
    assert out.startswith(head[: head.find(b"<dimension")])
    assert out.endswith(
        b'<row r="3002"><c r="A3002" t="inlineStr"><is><t>new</t></is></c></row></sheetData>' + tail
    )
    assert out.count(b"<row ") == 3_001


def test_a_row_left_open_before_the_end_is_still_refused() -> None:
    data = _numbered_sheet(50).replace(b"</row></sheetData>", b"</sheetData>")
    try:
        _stream(data, {(60, 1): "new"})
    except xml.DamagedPart as error:
        assert "not closed" in str(error)
    else:
        raise AssertionError("a row without its end was copied as if it were whole")
