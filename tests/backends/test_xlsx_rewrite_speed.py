"""The quick ways a rewrite of many rows takes: rows numbered from their start tag, the cell
a write goes to found by its r= (one cell written: no bookkeeping), held to the slow paths
they stand for; and a written row broken in the file refused however the new part is
checked."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import pytest
from lxml import etree
from xlsx_fixtures import MAIN_NS, MINIMAL_STYLES, minimal_workbook, sheet_document

from sheetfollow.backends import _xlsxml as xml
from sheetfollow.backends import xlsx
from sheetfollow.backends.xlsx import XlsxBackend
from sheetfollow.errors import SheetError
from sheetfollow.sheet import CellWrite, TabChanges

EPOCH = date(1899, 12, 30)


def context() -> xml.SheetContext:
    styles = xml.StyleSheet("xl/styles.xml", MINIMAL_STYLES.encode())
    return xml.SheetContext("Prospects", EPOCH, styles, xml.SharedStrings(lambda: None))


def random_cell(rng: random.Random, ref: str, p: str) -> str:
    kind = rng.randrange(6)
    if kind == 0:
        return (
            f'<{p}c r="{ref}" t="inlineStr"><{p}is><{p}t>w{rng.randrange(9)}</{p}t></{p}is></{p}c>'
        )
    if kind == 1:
        return f'<{p}c r="{ref}" s="{rng.randrange(3)}"><{p}v>{rng.randrange(99)}</{p}v></{p}c>'
    if kind == 2:
        return f'<{p}c r="{ref}" s="1"/>'
    if kind == 3:
        return f'<{p}c r="{ref}"><{p}f>1+1</{p}f><{p}v>2</{p}v></{p}c>'
    if kind == 4:
        return f'<{p}c r="{ref}" t="inlineStr"><{p}is><{p}r><{p}t>a</{p}t></{p}r></{p}is></{p}c>'
    return f'<{p}c r="{ref}" t="b"><{p}v>1</{p}v></{p}c>'


def random_sheet(rng: random.Random, p: str) -> tuple[bytes, dict[tuple[int, int], object]]:
    rows, writes = [], {}
    values = ["due", " spaced ", "a & <b>", "", None, 3, 2.5, True, date(2026, 3, 12), "w1"]
    for number in range(1, 40):
        columns = sorted(rng.sample(range(1, 12), rng.randrange(0, 8)))
        cells = "".join(random_cell(rng, f"{xml.column_letters(c)}{number}", p) for c in columns)
        spans = f' spans="{columns[0]}:{columns[-1]}"' if columns and rng.random() < 0.7 else ""
        rows.append(f'<{p}row r="{number}"{spans}>{cells}</{p}row>')
        # One cell written in most rows (the nightly refresh), a few in some.
        for column in rng.sample(range(1, 14), 1 if rng.random() < 0.7 else rng.randrange(2, 5)):
            writes[number, column] = rng.choice(values)
    return sheet_document("".join(rows), prefix=p.rstrip(":")).encode(), writes


@pytest.mark.parametrize("prefix", ["", "x:"])
def test_a_cell_found_by_its_reference_is_written_as_a_walk_over_every_cell_writes_it(
    monkeypatch: pytest.MonkeyPatch, prefix: str
) -> None:
    rng = random.Random(11)
    for _ in range(40):
        data, writes = random_sheet(rng, prefix)
        quick = xml.rewrite_sheet(data, writes, context())  # type: ignore[arg-type]
        with monkeypatch.context() as patch:
            # The slow path: every cell of the row parsed (as for a row without r= on each).
            patch.setattr(
                xml._RowEditor,
                "_cells",
                lambda self, row, _: list(xml.iter_cells(self.data, row, self.prefix)),
            )
            slow = xml.rewrite_sheet(data, writes, context())  # type: ignore[arg-type]
        assert quick.to_bytes() == slow.to_bytes()
        assert (quick.cells_written, quick.skipped) == (slow.cells_written, slow.skipped)
        etree.fromstring(quick.to_bytes())


def test_rows_are_numbered_as_a_parser_numbers_them() -> None:
    rows = (
        '<row r="3" spans="1:2"><c r="A3"><v>1</v></c></row>'
        "<row><c><v>2</v></c></row>"  # 4: after the row before it
        '<row spans="1:1" r="9"><c r="A9"><v>3</v></c></row>'  # r= not first
        '<row r="10"/>'
        '<row\tr="12"></row>'  # r= after a tab
        "<row/>"  # 13
        '<row r="20" s="2" customFormat="1"><c r="B20"/></row>'
    )
    data = sheet_document(rows).encode()
    layout = xml.locate_sheet_data(data)
    spans = list(xml.iter_rows(data, layout))

    number, expected = 0, []
    for row in etree.fromstring(data).iter(f"{{{MAIN_NS}}}row"):
        number = int(row.get("r", number + 1))
        expected.append(number)
    assert [span.number for span in spans] == expected == [3, 4, 9, 10, 12, 13, 20]
    assert [span.self_closing for span in spans] == [False, False, False, True, True, True, False]
    for span in spans:
        whole = data[span.start : span.end]
        etree.fromstring(whole.replace(b"<row", f'<row xmlns="{MAIN_NS}"'.encode(), 1))
        assert data[span.start : span.tag_end] == span.tag


@pytest.mark.parametrize(
    ("rows_checked", "rows"),
    [(xlsx._CHECKED_ROWS, [5]), (0, [5]), (0, list(range(1, 31)))],
    ids=["a few rows", "many rows", "nearly every row"],
)
def test_a_written_row_broken_in_the_file_is_refused_however_the_part_is_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows_checked: int, rows: list[int]
) -> None:
    # A few rows are parsed as they were and as they are; many, as they are; nearly every
    # row: the new part is parsed whole. Row 5 keeps a cell left open in the file (<v>
    # never closed); a Status written into it copies that cell.
    monkeypatch.setattr(xlsx, "_CHECKED_ROWS", rows_checked)
    body = "".join(
        f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>P{n}</t></is></c>'
        + (f'<c r="B{n}"><v>{n}</v></c>' if n != 5 else f'<c r="B{n}"><v>{n}</c>')
        + "</row>"
        for n in range(1, 31)
    )
    path = tmp_path / "pipeline.xlsx"
    minimal_workbook(path, {"Prospects": sheet_document(body)})
    before = path.read_bytes()

    with pytest.raises(SheetError, match="was not changed: the new version did not read back"):
        XlsxBackend(path).write(
            [TabChanges("Prospects", cells=[CellWrite(row, 3, "due") for row in rows])]
        )
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def _columns(row: etree._Element) -> list[int]:
    """The column of each cell of a row element: its r=, else the one after the cell before
    (a cell without r= is in the next column)."""
    found, column = [], 0
    for cell in row:
        ref = cell.get("r")
        column = xml.column_number(ref.rstrip("0123456789")) if ref else column + 1
        found.append(column)
    return found


@pytest.mark.parametrize(
    "odd",
    ["<c/>", '<c\n r="C2"/>', '<c\tr="C2"></c>'],
    ids=["bare", "line break", "tab"],
)
def test_a_cell_not_found_by_its_r_is_never_written_twice(odd: str) -> None:
    """A row holding rich text (<color> and <charset> start like a cell) and a cell whose
    start does not read '<c r="' (no r=, or a line break before it): the write to that cell
    replaces it, and the row never holds two cells for one column."""
    rich = (
        '<c r="A2" t="inlineStr"><is><r><rPr><color rgb="FFFF0000"/><charset val="0"/>'
        "</rPr><t>red</t></r></is></c>"
    )
    data = sheet_document(
        f'<row r="1"><c r="A1"><v>1</v></c></row><row r="2">{rich}'
        f'<c r="B2"><v>1</v></c>{odd}<c r="D2"><v>4</v></c></row>'
    ).encode()
    result = xml.rewrite_sheet(data, {(2, 3): "new"}, context())  # type: ignore[arg-type]
    root = etree.fromstring(result.to_bytes())
    row = root.find(f".//{{{MAIN_NS}}}row[@r='2']")
    assert row is not None
    assert _columns(row) == [1, 2, 3, 4]
    assert "".join(row[2].itertext()) == "new"


@pytest.mark.parametrize("cleared", [1, 2, 3])
def test_clearing_a_cell_of_a_row_without_r_moves_no_other_cell(
    tmp_path: Path, cleared: int
) -> None:
    """Cells written without r= (the format allows it: each is in the column after the one
    before it). Emptying one of them must not take it out of the row: every cell after it
    would move one column to the left. Read back by calamine, every other cell is where it
    was."""
    cells = "".join(f'<c t="inlineStr"><is><t>{letter}2</t></is></c>' for letter in "ABCD")
    body = f'<row r="1"><c r="A1"><v>1</v></c></row><row r="2">{cells}</row>'
    path = tmp_path / "pipeline.xlsx"
    minimal_workbook(path, {"Prospects": sheet_document(body)})
    XlsxBackend(path).write([TabChanges("Prospects", cells=[CellWrite(2, cleared, None)])])
    table = XlsxBackend(path).read_tab("Prospects")
    assert table is not None
    expected = ["A2", "B2", "C2", "D2"]
    expected[cleared - 1] = None  # type: ignore[call-overload]
    assert table.rows[1] == expected
