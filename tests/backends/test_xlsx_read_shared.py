"""Reading a tab shares the texts and dates it repeats, and nothing else; and the shape of a
worksheet (found while the package is checked for zip bombs) is the same whatever the
pieces it is unpacked in."""

from __future__ import annotations

import math
import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest
import xlsxwriter

from sheetfollow.backends import _xlsxml as xml
from sheetfollow.backends import xlsx
from sheetfollow.backends.xlsx import XlsxBackend

STAGES = ["new", "contacted", "quote"]
DAYS = [date(2026, 3, d) for d in (2, 3, 4, 5, 6)]
#: More rows than are all learnt from, so the sampled rows after them count too.
ROWS = xlsx._LEARN_ALL * 3


def _pipeline(path: Path) -> None:
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Prospects")
    day = book.add_format({"num_format": "dd-mm-yyyy"})
    sheet.write_row(0, 0, ["ID", "Stage", "Last contact", "Attempts", "Notes"])
    for n in range(1, ROWS + 1):
        sheet.write_string(n, 0, f"P{n:05d}")
        sheet.write_string(n, 1, STAGES[n % 3])
        sheet.write_datetime(n, 2, datetime.combine(DAYS[n % 5], datetime.min.time()), day)
        sheet.write_number(n, 3, n % 4)
        if n % 7 == 0:
            sheet.write_string(n, 4, f"note {n % 2}")
    book.close()


def test_a_repeated_text_or_date_is_read_as_one_object(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.xlsx"
    _pipeline(path)

    table = XlsxBackend(path).read_tab("Prospects")

    assert table is not None
    rows = table.rows[1:]
    assert len(rows) == ROWS
    for n, row in enumerate(rows, start=1):
        note = f"note {n % 2}" if n % 7 == 0 else None
        assert row == [f"P{n:05d}", STAGES[n % 3], DAYS[n % 5], float(n % 4), note]
        assert type(row[2]) is date
    # One object per distinct value: the column of stages holds three, not ROWS.
    assert len({id(row[1]) for row in rows}) == len(STAGES)
    assert len({id(row[2]) for row in rows}) == len(DAYS)
    assert len({id(row[4]) for row in rows if row[4] is not None}) == 2
    assert len({id(row[0]) for row in rows}) == ROWS


def test_numbers_booleans_and_date_times_are_never_taken_for_one_another(
    tmp_path: Path,
) -> None:
    # 1 == 1.0 == True and 0.0 == -0.0 hash alike: a reader that shared them would turn a
    # TRUE into 1.0 or a -0 into 0. (calamine reads a date-time at midnight as a date.)
    path = tmp_path / "mixed.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Prospects")
    day = book.add_format({"num_format": "dd-mm-yyyy"})
    stamp = book.add_format({"num_format": "dd-mm-yyyy hh:mm"})
    midnight, morning = datetime(2026, 3, 2), datetime(2026, 3, 2, 10, 30)
    for row in range(ROWS):
        sheet.write_string(row, 0, "same text")
        if row % 2:
            sheet.write_number(row, 1, 1)
            sheet.write_number(row, 2, 0.0)
            sheet.write_datetime(row, 3, midnight, day)
        else:
            sheet.write_boolean(row, 1, True)
            sheet.write_number(row, 2, -0.0)
            sheet.write_datetime(row, 3, morning, stamp)
    book.close()

    table = XlsxBackend(path).read_tab("Prospects")

    assert table is not None and len(table.rows) == ROWS
    for row, values in enumerate(table.rows):
        flag, zero, when = values[1], values[2], values[3]
        if row % 2:
            assert type(flag) is float and flag == 1.0
            assert math.copysign(1.0, zero) == 1.0
            assert type(when) is date and when == midnight.date()
        else:
            assert flag is True
            assert math.copysign(1.0, zero) == -1.0
            assert type(when) is datetime and when == morning


# -- the shape of a worksheet, fed in pieces


def _sheet(cells: str, *, tail: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<sheetData>{cells}</sheetData>{tail}</worksheet>"
    ).encode()


def _rows(count: int, extra: str = "") -> str:
    return "".join(
        f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>filter{n}</t></is></c>'
        f'<c r="B{n}"><v>{n}</v></c>{extra if n == count // 2 else ""}</row>'
        for n in range(1, count + 1)
    )


def _shape(data: bytes, size: int) -> xml.SheetShape:
    shape = xml.SheetShape()
    for at in range(0, len(data), size):
        shape.feed(data[at : at + size])
    return shape


def _facts(shape: xml.SheetShape) -> tuple[object, ...]:
    return (
        shape.rows,
        shape.size,
        shape.far_letters,
        shape.columns(),
        shape.formulas,
        sorted(shape.merged),
    )


@pytest.mark.parametrize("size", [1, 3, 7, 64, 1000, 1 << 20])
def test_the_shape_is_the_same_whatever_the_pieces(size: int) -> None:
    wide = '<c r="AB40"><v>1</v></c><c r="ZZ40"><v>2</v></c>'
    # The second tag's reference lies far from its name (a piece may end in between), and
    # far from the next tag.
    merges = (
        '<mergeCells><mergeCell ref="C2:D3"/>'
        '<mergeCell xml:space="preserve" uid="{00000000-0001-0000-0000-000000000000}" '
        f'ref="A5:B6"/>{" " * 200}</mergeCells>'
    )
    data = _sheet(_rows(80, wide), tail=merges)

    shape = _shape(data, size)

    assert _facts(shape) == (80, len(data), 2, 702, False, [(2, 3, 3, 4), (5, 1, 6, 2)])
    assert _facts(shape) == _facts(_shape(data, len(data)))


@pytest.mark.parametrize("size", [1, 5, 1 << 20])
def test_a_three_letter_column_is_found(size: int) -> None:
    shape = _shape(_sheet(_rows(10, '<c r="XFD5"><v>1</v></c>')), size)

    assert (shape.far_letters, shape.columns(), shape.columns(2)) == (3, 16_384, 26)


@pytest.mark.parametrize(
    ("formula", "found"),
    [
        ("<f>SUM(B1:B2)</f>", True),
        ('<f t="shared" ref="C1:C9" si="0">B1*2</f>', True),
        ('<f t="shared" si="0"/>', True),
        ("<x:f>B1*2</x:f>", True),
        ("", False),
        # Tags that start like a formula but are none.
        ("<filterColumn/>", False),
        ("<x:foo/>", False),
    ],
)
@pytest.mark.parametrize("size", [2, 1 << 20])
def test_formulas_are_found_with_or_without_a_prefix(formula: str, found: bool, size: int) -> None:
    cell = f'<c r="C20">{formula}<v>4</v></c>' if formula else ""

    assert _shape(_sheet(_rows(40, cell)), size).formulas is found


def test_a_workbook_is_checked_and_read_with_its_shapes(tmp_path: Path) -> None:
    # The shapes come from the check of the package, which unpacks every part once.
    path = tmp_path / "pipeline.xlsx"
    _pipeline(path)
    backend = XlsxBackend(path)

    package = backend._package()

    with zipfile.ZipFile(path) as archive:
        part = "xl/worksheets/sheet1.xml"
        expected = _shape(archive.read(part), 1 << 16)
    assert _facts(package.shapes[part]) == _facts(expected)
    assert expected.rows == ROWS + 1
