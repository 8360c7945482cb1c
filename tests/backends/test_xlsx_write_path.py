"""The fast paths of a write: the last used row of a tab found from the end of its rows, the
new part checked row by row as it is written (and parsed whole when that proves nothing),
shared strings found by a split. Each is held to the slow path it replaces."""

from __future__ import annotations

import random
import zipfile
from datetime import date
from pathlib import Path

import pytest
from lxml import etree
from python_calamine import CalamineWorkbook
from xlsx_fixtures import MAIN_NS, members, minimal_workbook, sheet_document

from sheetfollow.backends import _segments, xlsx
from sheetfollow.backends import _xlsxml as xml
from sheetfollow.backends.xlsx import XlsxBackend
from sheetfollow.errors import SheetError
from sheetfollow.sheet import CellWrite, TabChanges

# --------------------------------------------------------------------------- last used row


def reference_last_row(sheet: bytes) -> int:
    """The last row with a value or formula, the slow way: every row parsed."""
    root = etree.fromstring(sheet)
    last = number = 0
    for row in root.iter(f"{{{MAIN_NS}}}row"):
        number = int(row.get("r", number + 1))
        if any(
            child.tag in {f"{{{MAIN_NS}}}{name}" for name in ("v", "is", "f")}
            for cell in row
            for child in cell
        ):
            last = number
    return last


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[at : at + size] for at in range(0, len(data), size)]


def random_rows(rng: random.Random, *, numbered: bool) -> str:
    """Rows as writers leave them: values, formulas, inline rich text, cells with only a
    style, self-closing formatted rows, gaps, and (unless numbered) rows without r=."""
    rows, number = [], 0
    for _ in range(rng.randint(0, 40)):
        if numbered or rng.random() < 0.7:
            number += rng.choice([1, 1, 1, 2, 7])
            r = f' r="{number}"'
        else:
            number += 1  # a row without r= is the one after the row before it
            r = ""
        kind = rng.choice(["value", "formula", "rich", "styled", "empty", "shared"])
        cell = {
            "value": f'<c r="A{number}"><v>{number}</v></c>',
            "formula": f'<c r="B{number}"><f>A{number}*2</f></c>',
            "rich": f'<c r="C{number}" t="inlineStr"><is><r><rPr><vertAlign val="superscript"/>'
            f'<family val="2"/></rPr><t>x</t></r></is></c>',
            "styled": f'<c r="D{number}" s="1"/><c r="E{number}" s="1"></c>',
            "empty": "",
            "shared": f'<c r="F{number}" t="s"><v>0</v></c>',
        }[kind]
        if kind == "empty" and rng.random() < 0.5:
            rows.append(f'<row{r} spans="1:6" s="1" customFormat="1"/>')
        else:
            rows.append(f'<row{r} spans="1:6">{cell}</row>')
    return "".join(rows)


@pytest.mark.parametrize("seed", range(60))
def test_the_last_used_row_is_the_one_every_row_parsed_finds(seed: int) -> None:
    rng = random.Random(seed)
    numbered = seed % 3 != 0
    # The dimension lies on purpose: it is not what the answer comes from.
    head = '<dimension ref="A1:F5"/>'
    sheet = sheet_document(random_rows(rng, numbered=numbered), head=head).encode()
    expected = reference_last_row(sheet)
    for size in (7, 61, 400, len(sheet)):
        assert xml.last_used_row(pieces(sheet, size)) == expected, size


def test_trailing_formatted_rows_and_a_dimension_that_lies_are_not_used_rows() -> None:
    rows = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>Date</t></is></c></row>'
        '<row r="2"><c r="A2"><v>45000</v></c></row>'
        '<row r="3"><c r="A3"><f>A2+1</f></c></row>'
        # Formatted, never typed into: Excel keeps these after a value is deleted.
        + "".join(
            f'<row r="{n}" s="2" customFormat="1"><c r="A{n}" s="2"/></row>' for n in range(4, 900)
        )
        + '<row r="900" ht="20" customHeight="1"/>'
    )
    sheet = sheet_document(rows, head='<dimension ref="A1:A5000"/>').encode()
    assert xml.last_used_row(pieces(sheet, 1000)) == 3


def test_rows_without_r_are_counted_from_the_top() -> None:
    rows = (
        '<row r="5"><c r="A5"><v>1</v></c></row>'
        "<row><c><v>2</v></c></row>"  # row 6
        "<row/>"  # row 7
        "<row><c><v>3</v></c></row>"  # row 8
        '<row r="20"><c r="A20" s="1"/></row>'
    )
    sheet = sheet_document(rows).encode()
    for size in (5, 50, len(sheet)):
        assert xml.last_used_row(pieces(sheet, size)) == 8


def test_a_prefixed_sheet_and_an_empty_one() -> None:
    rows = '<x:row r="1"><x:c r="A1"><x:v>1</x:v></x:c></x:row><x:row r="2"><x:c r="A2"/></x:row>'
    assert xml.last_used_row([sheet_document(rows, prefix="x").encode()]) == 1
    assert xml.last_used_row([sheet_document("").encode()]) == 0
    assert xml.last_used_row([sheet_document('<row r="3"><c r="A3" s="1"/></row>').encode()]) == 0


def log_workbook(path: Path, rows: str) -> None:
    header = '<row r="1"><c r="A1" t="inlineStr"><is><t>Date</t></is></c></row>'
    minimal_workbook(
        path,
        {"Log": sheet_document(header + rows, head='<dimension ref="A1:B3"/>')},
        styles=xml_styles_with_two_formats(),
    )


def xml_styles_with_two_formats() -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<styleSheet xmlns="{MAIN_NS}">'
        '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
        '<borders count="1"><border/></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
        "</cellStyleXfs>"
        '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
        "</styleSheet>"
    )


def test_an_append_lands_below_the_last_value_not_below_formatted_rows(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.xlsx"
    # Row 2 has a value, row 3 has no r= (so it is row 3), rows 4-50 are only formatted.
    rows = (
        '<row r="2"><c r="A2" t="inlineStr"><is><t>first</t></is></c></row>'
        '<row><c t="inlineStr"><is><t>second</t></is></c></row>'
        + "".join(
            f'<row r="{n}" s="1" customFormat="1"><c r="A{n}" s="1"/></row>' for n in range(4, 51)
        )
    )
    log_workbook(path, rows)

    result = XlsxBackend(path).write([TabChanges("Log", append_rows=[["third"], ["fourth"]])])

    assert result.rows_appended == 2
    grid = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Log").to_python()
    assert [row[0] for row in grid[:5]] == ["Date", "first", "second", "third", "fourth"]


# --------------------------------------------------------------------------- the new part checked


def prospects_workbook(path: Path, *, rows: int = 30, extra: str = "") -> None:
    body = "".join(
        f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>P{n}</t></is></c>'
        f'<c r="B{n}"><v>{n}</v></c></row>'
        for n in range(1, rows + 1)
    )
    minimal_workbook(
        path,
        {
            "Prospects": sheet_document(
                body + extra,
                tail='<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" '
                'header="0.3" footer="0.3"/>',
            )
        },
    )


def write_status(path: Path, rows: list[int]) -> None:
    XlsxBackend(path).write(
        [TabChanges("Prospects", cells=[CellWrite(row, 3, "due") for row in rows])]
    )


#: How a rewrite is checked: (rows checked as they were and as they are, rows written).
#: A few rows: each as it was and as it is; many: each as it is; nearly every row of the
#: part: the new part parsed whole once written.
CHECKED = pytest.mark.parametrize(
    ("rows_checked", "rows"),
    [(xlsx._CHECKED_ROWS, [5]), (0, [5]), (0, list(range(1, 31)))],
    ids=["a few rows", "many rows", "nearly every row"],
)


@CHECKED
def test_a_rewritten_row_that_is_not_well_formed_is_never_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows_checked: int, rows: list[int]
) -> None:
    monkeypatch.setattr(xlsx, "_CHECKED_ROWS", rows_checked)
    path = tmp_path / "pipeline.xlsx"
    prospects_workbook(path)
    before = path.read_bytes()
    real = xml._RowEditor.rewrite_row

    def broken(self: xml._RowEditor, row: xml.RowSpan, writes: object) -> bytes | None:
        new = real(self, row, writes)  # type: ignore[arg-type]
        return None if new is None or row.number != 5 else new.replace(b"</row>", b"")

    monkeypatch.setattr(xml._RowEditor, "rewrite_row", broken)
    with pytest.raises(SheetError, match="was not changed: the new version did not read back"):
        write_status(path, rows)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_row_taken_out_must_be_one_whole_element() -> None:
    check = xml.RewriteCheck()
    check.replaced(b'<row r="2"><c r="A2">', b'<row r="2"/>')
    check.settle()
    assert check.error is not None

    check = xml.RewriteCheck()
    check.inserted(b'<row r="3"><c r="A3"><v>1</v></c></row></sheetData><sheetData>')
    check.settle()
    assert check.error is not None

    check = xml.RewriteCheck()
    check.inserted(b'<row r="3"><c r="A3"><v>1</v></c></row>')
    check.settle()
    assert check.error is None


def test_a_check_proves_nothing_when_the_rows_hold_a_comment_and_the_part_is_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "pipeline.xlsx"
    prospects_workbook(path, extra='<!-- <row r="99"><c r="A99"> -->')
    seen: list[xml.RewriteCheck | None] = []
    real = xlsx._SheetJob.run

    def run(self: xlsx._SheetJob, *args: object) -> None:
        real(self, *args)  # type: ignore[arg-type]
        seen.append(self.check)

    monkeypatch.setattr(xlsx._SheetJob, "run", run)
    write_status(path, [5])

    assert len(seen) == 1 and seen[0] is not None
    assert not seen[0].proven and seen[0].error is None
    grid = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Prospects").to_python()
    assert grid[4][2] == "due"


def test_a_few_rows_written_are_checked_as_written_and_the_part_is_not_parsed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "pipeline.xlsx"
    prospects_workbook(path, rows=200)
    # The part rewritten whole each time (not only the pieces changed: test_xlsx_segments).
    monkeypatch.setattr(_segments, "SMALLEST", 1 << 62)
    parsed: list[bool] = []
    real = xlsx._SheetJob.run

    def run(self: xlsx._SheetJob, *args: object) -> None:
        real(self, *args)  # type: ignore[arg-type]
        assert self.check is not None
        parsed.append(self.check.proven)

    monkeypatch.setattr(xlsx._SheetJob, "run", run)
    write_status(path, [1, 100, 200])
    XlsxBackend(path).write([TabChanges("Prospects", append_rows=[["P201", 201]])])

    assert parsed == [True, True]
    sheet = members(path)["xl/worksheets/sheet1.xml"]
    etree.fromstring(sheet)  # well-formed, all of it
    grid = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Prospects").to_python()
    assert [grid[n][2] for n in (0, 99, 199)] == ["due", "due", "due"]
    assert grid[200][:2] == ["P201", 201.0]


@pytest.mark.parametrize(
    ("written", "proven", "rows_taken"),
    [
        ([1, 100, 200], True, True),
        (list(range(1, 150, 2)), True, False),
        (list(range(1, 191)), False, False),
    ],
    ids=["a few rows", "many rows", "nearly every row"],
)
def test_how_a_rewrite_is_checked_depends_on_how_many_of_its_rows_change(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    written: list[int],
    proven: bool,
    rows_taken: bool,
) -> None:
    """Rows checked as they were and as they are (a few), only as they are (many: a
    nightly refresh), or the new part parsed whole (nearly every row: as cheap)."""
    path = tmp_path / "pipeline.xlsx"
    prospects_workbook(path, rows=200)
    monkeypatch.setattr(_segments, "SMALLEST", 1 << 62)
    monkeypatch.setattr(xlsx, "_CHECKED_ROWS", 10)
    seen: list[xml.RewriteCheck] = []
    real = xlsx._SheetJob.run

    def run(self: xlsx._SheetJob, *args: object) -> None:
        real(self, *args)  # type: ignore[arg-type]
        assert self.check is not None
        seen.append(self.check)

    parsed: list[int] = []
    real_parse = xml.RewriteCheck._row

    def parse(self: xml.RewriteCheck, data: bytes) -> None:
        parsed.append(len(data))
        real_parse(self, data)

    monkeypatch.setattr(xlsx._SheetJob, "run", run)
    monkeypatch.setattr(xml.RewriteCheck, "_row", parse)
    write_status(path, written)

    ((check,),) = [seen]
    assert (check.proven, check.rows_taken, check.error) == (proven, rows_taken, None)
    if proven:  # each row put in parsed, and each taken out when rows_taken
        assert len(parsed) == len(written) * (2 if rows_taken else 1)
    etree.fromstring(members(path)["xl/worksheets/sheet1.xml"])  # well-formed, all of it
    grid = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Prospects").to_python()
    assert [n for n in range(1, 201) if grid[n - 1][2] == "due"] == written


def test_a_status_column_added_with_its_colours_is_checked_after_the_rows(
    tmp_path: Path,
) -> None:
    # The colours go after </sheetData>: the check sees the part as it is written.
    path = tmp_path / "pipeline.xlsx"
    prospects_workbook(path, rows=5)
    change = TabChanges(
        "Prospects",
        cells=[CellWrite(2, 3, "due")],
        new_headers={3: "Status"},
        new_fields={3: "status"},
    )
    XlsxBackend(path).write([change])
    sheet = members(path)["xl/worksheets/sheet1.xml"]
    etree.fromstring(sheet)


# --------------------------------------------------------------------------- shared strings


SHARED = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<sst xmlns="{MAIN_NS}" count="4" uniqueCount="4">'
    "<si><t>plain</t></si>"
    '<si><r><rPr><b/></rPr><t>rich </t></r><r><t xml:space="preserve">text </t></r></si>'
    '<si><t>&lt;tag&gt; &amp; _x000D_</t><rPh sb="0" eb="1"><t>phonetic</t></rPh></si>'
    "<si><t></t></si>"
    "</sst>"
).encode()


@pytest.mark.parametrize(
    "data",
    [
        SHARED,
        SHARED.replace(b"<si><t></t></si>", b"<si/>"),  # an empty <si/>: the regex path
        SHARED.replace(b"<si>", b'<si a="1">'),  # attributes: the regex path
    ],
)
def test_shared_strings_read_the_same_either_way(data: bytes) -> None:
    strings = xml.SharedStrings(lambda: data)
    assert [strings[i] for i in range(4)] == ["plain", "rich text ", "<tag> & \r", ""]
    with pytest.raises(xml.DamagedPart, match="shared string 4 does not exist"):
        strings[4]


def test_a_shared_string_cell_given_its_own_text_is_not_a_change(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.xlsx"
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Prospects")
    for row, text in enumerate(["ID", "P1", "P2"]):
        sheet.write(row, 0, text)
        sheet.write(row, 1, f"{text} status")
    book.close()
    with zipfile.ZipFile(path) as package:
        assert b't="s"' in package.read("xl/worksheets/sheet1.xml")
    before = path.read_bytes()

    same = TabChanges("Prospects", cells=[CellWrite(3, 2, "P2 status")])
    assert XlsxBackend(path).write([same]).cells_written == 0
    assert path.read_bytes() == before
    changed = TabChanges(
        "Prospects", cells=[CellWrite(3, 2, "P2 done"), CellWrite(2, 3, date(2026, 3, 11))]
    )
    assert XlsxBackend(path).write([changed]).cells_written == 2


# --------------------------------------------------------------------------- one pass per part


def two_tab_workbook(path: Path) -> None:
    body = "".join(
        f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>P{n}</t></is></c>'
        f'<c r="B{n}" t="inlineStr"><is><t>due</t></is></c></row>'
        for n in range(1, 40)
    )
    log = '<row r="1"><c r="A1" t="inlineStr"><is><t>Date</t></is></c></row>'
    minimal_workbook(path, {"Prospects": sheet_document(body), "Log": sheet_document(log)})


def test_cells_that_change_nothing_beside_an_append_leave_their_sheet_as_it_was(
    tmp_path: Path,
) -> None:
    # The append makes the file change, so the Prospects rewrite is not probed first: its
    # cells must still be compared, not rewritten, and nothing counted for them.
    path = tmp_path / "pipeline.xlsx"
    two_tab_workbook(path)
    before = members(path)
    result = XlsxBackend(path).write(
        [
            TabChanges("Prospects", cells=[CellWrite(20, 2, "due"), CellWrite(30, 1, "P30")]),
            TabChanges("Log", append_rows=[["called"]]),
        ]
    )
    after = members(path)
    assert (result.cells_written, result.rows_appended) == (1, 1)
    assert after["xl/worksheets/sheet1.xml"] == before["xl/worksheets/sheet1.xml"]
    assert after["xl/worksheets/sheet2.xml"] != before["xl/worksheets/sheet2.xml"]


def test_cells_that_change_nothing_alone_do_not_touch_the_file(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.xlsx"
    two_tab_workbook(path)
    before, stat = path.read_bytes(), path.stat()
    result = XlsxBackend(path).write(
        [TabChanges("Prospects", cells=[CellWrite(20, 2, "due")]), TabChanges("Log")]
    )
    assert result.cells_written == 0
    assert path.read_bytes() == before and path.stat().st_mtime_ns == stat.st_mtime_ns
    assert not (tmp_path / ".sheetfollow").exists()


def test_one_tab_changed_twice_in_one_write_keeps_both_changes(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.xlsx"
    two_tab_workbook(path)
    result = XlsxBackend(path).write(
        [
            TabChanges("Prospects", cells=[CellWrite(5, 2, "overdue")]),
            TabChanges("Prospects", cells=[CellWrite(6, 2, "won"), CellWrite(5, 3, "x")]),
        ]
    )
    assert result.cells_written == 3
    grid = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Prospects").to_python()
    assert grid[4][1:3] == ["overdue", "x"]
    assert grid[5][1] == "won"
