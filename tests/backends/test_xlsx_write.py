"""What write() puts into the sheet, cell by cell, on real files."""

from __future__ import annotations

import shutil
import warnings
import zipfile
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from lxml import etree
from python_calamine import CalamineWorkbook
from xlsx_fixtures import (
    FEATURE_ROWS,
    MAIN_NS,
    MINIMAL_STYLES,
    NEXT_COLUMN,
    PROSPECT_HEADERS,
    STATUS_COLUMN,
    Formula,
    add_prospects_sheet,
    make_feature_workbook,
    members,
    minimal_workbook,
    prospect_rows,
    raw_cells,
    sheet_document,
    sheet_part,
)

from sheetfollow.backends.xlsx import XlsxBackend
from sheetfollow.errors import SheetError
from sheetfollow.models import Status
from sheetfollow.sheet import CellWrite, TabChanges

NS = {"m": MAIN_NS}
CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus" / "xlsx"


def calamine_grid(path: Path, tab: str) -> list[list[object]]:
    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(tab)
    return [list(row) for row in sheet.to_python(skip_empty_area=False)]


def load_openpyxl(path: Path) -> openpyxl.Workbook:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return openpyxl.load_workbook(path)


def part_root(path: Path, part: str) -> etree._Element:
    return etree.fromstring(members(path)[part])


def cell_element(path: Path, tab: str, ref: str) -> etree._Element:
    root = part_root(path, sheet_part(path, tab))
    found = root.xpath(f"//m:c[@r='{ref}']", namespaces=NS)
    assert found, f"{ref} is missing"
    return found[0]


@pytest.fixture
def feature(tmp_path: Path) -> Path:
    path = tmp_path / "pipeline.xlsx"
    make_feature_workbook(path)
    return path


# --------------------------------------------------------------------------- tables


def test_new_columns_and_appended_rows_extend_the_table(feature: Path) -> None:
    step = len(PROSPECT_HEADERS) + 1
    changes = TabChanges(
        "Prospects",
        new_headers={step: "Step"},
        append_rows=[["P0100", "Newco"], ["P0101", "Nextco", None, "x@example.com"]],
    )

    result = XlsxBackend(feature).write([changes])

    assert result.rows_appended == 2
    table = part_root(feature, "xl/tables/table1.xml")
    last = FEATURE_ROWS + 3
    assert table.get("ref") == f"A1:M{last}"
    auto_filter = table.find("m:autoFilter", NS)
    assert auto_filter is not None and auto_filter.get("ref") == f"A1:M{last}"
    columns = table.find("m:tableColumns", NS)
    assert columns is not None and columns.get("count") == str(len(PROSPECT_HEADERS) + 1)
    ids = [c.get("id") for c in columns]
    assert len(set(ids)) == len(ids)
    assert columns[-1].get("name") == "Step"
    grid = calamine_grid(feature, "Prospects")
    assert grid[0][step - 1] == "Step"
    assert grid[FEATURE_ROWS + 1][:2] == ["P0100", "Newco"]
    assert grid[FEATURE_ROWS + 2][3] == "x@example.com"
    workbook = load_openpyxl(feature)
    assert workbook["Prospects"].tables["Pipeline"].ref == f"A1:M{last}"
    workbook.close()


def totals_table_workbook(path: Path) -> None:
    rows = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>ID</t></is></c>'
        '<c r="B1" t="inlineStr"><is><t>Value</t></is></c></row>'
        '<row r="2"><c r="A2" t="inlineStr"><is><t>P1</t></is></c><c r="B2"><v>5</v></c></row>'
        '<row r="3"><c r="A3" t="inlineStr"><is><t>Total</t></is></c>'
        '<c r="B3"><f>SUBTOTAL(109,Pipeline[Value])</f><v>5</v></c></row>'
    )
    tail = '<tableParts count="1"><tablePart r:id="rId1"/></tableParts>'
    table = (
        f'<table xmlns="{MAIN_NS}" id="1" name="Pipeline" displayName="Pipeline" ref="A1:B3" '
        'totalsRowCount="1"><autoFilter ref="A1:B2"/><tableColumns count="2">'
        '<tableColumn id="1" name="ID" totalsRowLabel="Total"/>'
        '<tableColumn id="2" name="Value" totalsRowFunction="sum"/></tableColumns>'
        '<tableStyleInfo name="TableStyleMedium2" showRowStripes="1"/></table>'
    )
    rels = (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Target="../tables/table1.xml" Type="http://schemas.'
        'openxmlformats.org/officeDocument/2006/relationships/table"/></Relationships>'
    )
    minimal_workbook(
        path,
        {"Prospects": sheet_document(rows, tail=tail)},
        extra_parts={"xl/tables/table1.xml": table.encode()},
        sheet_rels={"Prospects": rels},
    )


def test_rows_are_not_appended_below_a_totals_row(tmp_path: Path) -> None:
    path = tmp_path / "totals.xlsx"
    totals_table_workbook(path)
    data = path.read_bytes()

    with pytest.raises(SheetError, match="totals row"):
        XlsxBackend(path).write([TabChanges("Prospects", append_rows=[["P2", 7]])])

    assert path.read_bytes() == data


def test_cells_in_a_totals_row_are_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "totals.xlsx"
    totals_table_workbook(path)

    result = XlsxBackend(path).write(
        [TabChanges("Prospects", cells=[CellWrite(3, 1, "Sum"), CellWrite(2, 2, 6)])]
    )

    assert result.cells_written == 1
    assert result.skipped == ("Prospects!A3 is in the totals row of table Pipeline; left as it is",)
    grid = calamine_grid(path, "Prospects")
    assert grid[2][0] == "Total" and grid[1][1] == 6


def test_new_columns_extend_a_table_with_a_totals_row(tmp_path: Path) -> None:
    path = tmp_path / "totals.xlsx"
    totals_table_workbook(path)

    XlsxBackend(path).write([TabChanges("Prospects", new_headers={3: "Status"})])

    table = part_root(path, "xl/tables/table1.xml")
    assert table.get("ref") == "A1:C3"
    auto_filter = table.find("m:autoFilter", NS)
    assert auto_filter is not None and auto_filter.get("ref") == "A1:C2"
    load_openpyxl(path).close()


def test_new_header_already_a_table_column_is_refused(feature: Path) -> None:
    data = feature.read_bytes()
    with pytest.raises(SheetError, match="already used"):
        XlsxBackend(feature).write(
            [TabChanges("Prospects", new_headers={len(PROSPECT_HEADERS) + 1: "status"})]
        )
    assert feature.read_bytes() == data


# --------------------------------------------------------------------------- a new tab


def test_creates_a_hidden_tab_with_headers_and_rows(feature: Path, tmp_path: Path) -> None:
    before = tmp_path / "before.xlsx"
    shutil.copy(feature, before)
    changes = TabChanges(
        "Log",
        create=True,
        hidden=True,
        new_headers={1: "When", 2: "ID", 3: "Outcome"},
        append_rows=[[date(2024, 5, 6), "P0001", "no answer"], [date(2024, 5, 7), "P0002"]],
    )

    result = XlsxBackend(feature).write([changes])

    assert result == result.__class__(cells_written=8, rows_appended=2)
    backend = XlsxBackend(feature)
    assert backend.tab_names() == ["Prospects", "Summary", "Log"]
    log = backend.read_tab("log")
    assert log is not None
    assert log.rows == [
        ["When", "ID", "Outcome"],
        [date(2024, 5, 6), "P0001", "no answer"],
        [date(2024, 5, 7), "P0002", None],
    ]
    workbook = load_openpyxl(feature)
    assert workbook["Log"].sheet_state == "hidden"
    assert workbook["Log"]["A2"].value == datetime(2024, 5, 6)
    workbook.close()
    old, new = members(before), members(feature)
    added = sheet_part(feature, "Log")
    assert list(new) == [*old, added]
    changed = {name for name in old if old[name] != new[name]}
    assert changed <= {"xl/workbook.xml", "xl/_rels/workbook.xml.rels", "[Content_Types].xml"}
    assert f'PartName="/{added}"'.encode() in new["[Content_Types].xml"]


def test_create_on_an_existing_tab_just_writes_to_it(feature: Path) -> None:
    changes = TabChanges("summary", create=True, append_rows=[["extra"]])

    XlsxBackend(feature).write([changes])

    assert XlsxBackend(feature).tab_names() == ["Prospects", "Summary"]


def test_writing_to_an_unknown_tab_is_refused(feature: Path) -> None:
    with pytest.raises(SheetError, match="has no tab named 'Log'"):
        XlsxBackend(feature).write([TabChanges("Log", append_rows=[["x"]])])


def test_bad_tab_names_are_refused(feature: Path) -> None:
    with pytest.raises(SheetError, match="cannot be a tab name"):
        XlsxBackend(feature).write([TabChanges("Log/2024", create=True, new_headers={1: "x"})])


# --------------------------------------------------------------------------- cells


def test_formula_cells_are_never_overwritten(tmp_path: Path) -> None:
    rows = prospect_rows(4)
    rows[4][STATUS_COLUMN - 1] = Formula('IF(I5>3,"dead","due")', 0.0)
    source = CORPUS / "WithChart.xlsx"
    if not source.exists():
        pytest.skip("the corpus is not available")
    path = tmp_path / "pipeline.xlsx"
    add_prospects_sheet(source, path, rows)
    formula = etree.tostring(cell_element(path, "Prospects", "L5"), method="c14n")

    result = XlsxBackend(path).write(
        [
            TabChanges(
                "Prospects",
                cells=[CellWrite(5, STATUS_COLUMN, "overdue"), CellWrite(4, STATUS_COLUMN, "due")],
            )
        ]
    )

    assert result.cells_written == 1
    assert result.skipped == ("Prospects!L5 holds a formula; left as it is",)
    assert etree.tostring(cell_element(path, "Prospects", "L5"), method="c14n") == formula


def test_dates_in_a_1904_workbook(tmp_path: Path) -> None:
    path = tmp_path / "mac.xlsx"
    make_feature_workbook(path, date1904=True)

    XlsxBackend(path).write(
        [TabChanges("Prospects", cells=[CellWrite(2, NEXT_COLUMN, date(2024, 6, 3))])]
    )

    value = cell_element(path, "Prospects", "K2").findtext("m:v", namespaces=NS)
    assert value == str((date(2024, 6, 3) - date(1904, 1, 1)).days)
    assert calamine_grid(path, "Prospects")[1][NEXT_COLUMN - 1] == date(2024, 6, 3)
    workbook = load_openpyxl(path)
    assert workbook["Prospects"]["K2"].value == datetime(2024, 6, 3)
    workbook.close()


def test_libreoffice_style_rows_without_r_and_self_closing(tmp_path: Path) -> None:
    path = tmp_path / "libre.xlsx"
    rows = (
        '<row><c t="inlineStr"><is><t>ID</t></is></c><c t="inlineStr"><is><t>Status</t></is>'
        "</c></row>"
        '<row><c t="inlineStr"><is><t>P1</t></is></c><c s="0"/></row>'
        '<row r="3" spans="1:2"/>'
        '<row><c t="inlineStr"><is><t>P4</t></is></c></row>'
        '<row r="7" spans="1:2"><c r="A7"><v>7</v></c></row>'
    )
    minimal_workbook(path, {"Prospects": sheet_document(rows)})
    before = raw_cells(members(path)["xl/worksheets/sheet1.xml"])
    writes = [CellWrite(2, 2, "due"), CellWrite(3, 2, "new"), CellWrite(4, 2, "won")]
    writes += [CellWrite(5, 1, "P5"), CellWrite(9, 3, "late")]

    XlsxBackend(path).write([TabChanges("Prospects", cells=writes)])

    grid = calamine_grid(path, "Prospects")
    assert [row[:3] for row in grid] == [
        ["ID", "Status", ""],
        ["P1", "due", ""],
        ["", "new", ""],
        ["P4", "won", ""],
        ["P5", "", ""],
        ["", "", ""],
        [7.0, "", ""],
        ["", "", ""],
        ["", "", "late"],
    ]
    workbook = load_openpyxl(path)
    sheet = workbook["Prospects"]
    assert [sheet.cell(r, 2).value for r in (2, 3, 4)] == ["due", "new", "won"]
    assert sheet["A7"].value == 7 and sheet["C9"].value == "late"
    workbook.close()
    after = raw_cells(members(path)["xl/worksheets/sheet1.xml"])
    for key in [(1, 1), (1, 2), (2, 1), (4, 1)]:
        plain_before = before[key].replace(b' r="', b" r=").split(b">", 1)[1]
        assert after[key].split(b">", 1)[1] == plain_before


def test_namespace_prefixed_sheet(tmp_path: Path) -> None:
    path = tmp_path / "prefixed.xlsx"
    rows = '<x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>ID</x:t></x:is></x:c></x:row>'
    minimal_workbook(path, {"Prospects": sheet_document(rows, prefix="x")})

    XlsxBackend(path).write(
        [TabChanges("Prospects", cells=[CellWrite(1, 2, "Status"), CellWrite(2, 1, 5)])]
    )

    assert calamine_grid(path, "Prospects") == [["ID", "Status"], [5.0, ""]]
    assert b"<c " not in members(path)["xl/worksheets/sheet1.xml"]


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ('a <b> & "c"', 'a <b> & "c"'),
        ("  leading and trailing  ", "  leading and trailing  "),
        ("bell\x07 and \x1f gone", "bell and  gone"),
        ("line one\r\nline two", "line one\nline two"),
        ("ünïcødé ✓ 📞", "ünïcødé ✓ 📞"),
    ],
)
def test_inline_strings_are_escaped_and_cleaned(tmp_path: Path, value: str, stored: str) -> None:
    path = tmp_path / "pipeline.xlsx"
    make_feature_workbook(path)

    XlsxBackend(path).write([TabChanges("Prospects", cells=[CellWrite(2, 10, value)])])

    assert calamine_grid(path, "Prospects")[1][9] == stored
    workbook = load_openpyxl(path)
    assert workbook["Prospects"]["J2"].value == stored
    workbook.close()
    again = XlsxBackend(path).write([TabChanges("Prospects", cells=[CellWrite(2, 10, value)])])
    assert again.cells_written == 0


def test_text_that_looks_like_an_excel_escape_stays_literal(tmp_path: Path) -> None:
    # Excel reads _xHHHH_ in cell text as a character code; the underscore is escaped so the
    # text shows as typed (calamine and LibreOffice decode that; openpyxl does not).
    path = tmp_path / "pipeline.xlsx"
    make_feature_workbook(path)
    text = "literal _x000D_ stays"

    XlsxBackend(path).write([TabChanges("Prospects", cells=[CellWrite(2, 10, text)])])

    assert calamine_grid(path, "Prospects")[1][9] == text
    assert b"_x005F_x000D_" in members(path)[sheet_part(path, "Prospects")]
    again = XlsxBackend(path).write([TabChanges("Prospects", cells=[CellWrite(2, 10, text)])])
    assert again.cells_written == 0


def test_none_empties_a_cell_but_keeps_its_style(feature: Path) -> None:
    before = cell_element(feature, "Prospects", "G2")
    assert before.get("s") is not None

    result = XlsxBackend(feature).write(
        [TabChanges("Prospects", cells=[CellWrite(2, 7, None), CellWrite(2, 1, None)])]
    )

    assert result.cells_written == 2
    after = cell_element(feature, "Prospects", "G2")
    assert after.get("s") == before.get("s") and len(after) == 0 and after.get("t") is None
    assert calamine_grid(feature, "Prospects")[1][:2] == ["", "Company 1 & Sons <Ltd>"]


def test_empty_string_is_an_empty_cell(feature: Path) -> None:
    result = XlsxBackend(feature).write([TabChanges("Prospects", cells=[CellWrite(2, 10, "")])])
    assert result.cells_written == 0


def test_numbers_and_same_shared_strings(feature: Path) -> None:
    # Row 4 already says "new" in Status through the shared strings table.
    same = TabChanges("Prospects", cells=[CellWrite(4, STATUS_COLUMN, "new"), CellWrite(2, 9, 1)])
    assert XlsxBackend(feature).write([same]).cells_written == 0

    numbers = [CellWrite(2, 9, 2.5), CellWrite(3, 9, 10**6), CellWrite(4, 9, 1e-7)]
    XlsxBackend(feature).write([TabChanges("Prospects", cells=numbers)])

    grid = calamine_grid(feature, "Prospects")
    assert [grid[r][8] for r in (1, 2, 3)] == [2.5, 1e6, 1e-7]


def test_str_enum_values_are_written_as_their_text(feature: Path) -> None:
    changes = [TabChanges("Prospects", cells=[CellWrite(2, STATUS_COLUMN, Status.OVERDUE)])]

    assert XlsxBackend(feature).write(changes).cells_written == 1
    assert XlsxBackend(feature).write(changes).cells_written == 0
    assert calamine_grid(feature, "Prospects")[1][STATUS_COLUMN - 1] == "overdue"


def test_nan_is_refused(feature: Path) -> None:
    with pytest.raises(SheetError, match=r"Prospects!I2"):
        XlsxBackend(feature).write([TabChanges("Prospects", cells=[CellWrite(2, 9, float("nan"))])])


def test_a_date_replaces_a_non_date_style_with_an_existing_date_style(feature: Path) -> None:
    styles = members(feature)["xl/styles.xml"]
    # A1 has the bold header style; a date there must still show as a date.
    XlsxBackend(feature).write([TabChanges("Summary", cells=[CellWrite(1, 1, date(2024, 7, 1))])])

    assert members(feature)["xl/styles.xml"] == styles
    assert calamine_grid(feature, "Summary")[0][0] == date(2024, 7, 1)


def test_a_date_style_is_added_only_when_none_exists(tmp_path: Path) -> None:
    path = tmp_path / "plain.xlsx"
    minimal_workbook(path, {"Prospects": sheet_document('<row r="1"/>')})
    backend = XlsxBackend(path)

    backend.write([TabChanges("Prospects", cells=[CellWrite(1, 1, date(2024, 1, 2))])])
    backend.write([TabChanges("Prospects", cells=[CellWrite(2, 1, date(2024, 1, 3))])])

    xfs = part_root(path, "xl/styles.xml").find("m:cellXfs", NS)
    assert xfs is not None and len(xfs) == 2 and xfs.get("count") == "2"
    assert xfs[1].get("numFmtId") == "14"
    assert cell_element(path, "Prospects", "A1").get("s") == "1"
    assert cell_element(path, "Prospects", "A2").get("s") == "1"
    assert [row[0] for row in calamine_grid(path, "Prospects")] == [
        date(2024, 1, 2),
        date(2024, 1, 3),
    ]


def test_a_custom_date_format_is_reused_and_time_formats_are_not(tmp_path: Path) -> None:
    styles = MINIMAL_STYLES.replace(
        "<fonts",
        '<numFmts count="2"><numFmt numFmtId="164" formatCode="h:mm"/>'
        '<numFmt numFmtId="165" formatCode="[$-409]dd/mm/yyyy;@"/></numFmts><fonts',
    ).replace(
        '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>',
        '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="20" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0"/>',
    )
    path = tmp_path / "custom.xlsx"
    minimal_workbook(path, {"Prospects": sheet_document("")}, styles=styles)
    data = members(path)["xl/styles.xml"]

    XlsxBackend(path).write([TabChanges("Prospects", cells=[CellWrite(1, 1, date(2024, 1, 2))])])

    assert members(path)["xl/styles.xml"] == data
    assert cell_element(path, "Prospects", "A1").get("s") == "3"


def test_dimension_and_spans_grow_with_new_cells(tmp_path: Path) -> None:
    path = tmp_path / "dims.xlsx"
    rows = '<row r="1" spans="1:2"><c r="A1"><v>1</v></c><c r="B1"><v>2</v></c></row>'
    minimal_workbook(path, {"Prospects": sheet_document(rows, head='<dimension ref="A1:B1"/>')})

    XlsxBackend(path).write(
        [TabChanges("Prospects", cells=[CellWrite(1, 4, "x"), CellWrite(3, 2, "y")])]
    )

    root = part_root(path, "xl/worksheets/sheet1.xml")
    dimension = root.find("m:dimension", NS)
    assert dimension is not None and dimension.get("ref") == "A1:D3"
    first = root.find("m:sheetData/m:row", NS)
    assert first is not None and first.get("spans") == "1:4"


def test_spans_listing_several_ranges_are_widened(tmp_path: Path) -> None:
    path = tmp_path / "spans.xlsx"
    rows = '<row r="1" spans="1:1 3:3"><c r="A1"><v>1</v></c><c r="C1"><v>3</v></c></row>'
    minimal_workbook(path, {"Prospects": sheet_document(rows)})

    XlsxBackend(path).write([TabChanges("Prospects", cells=[CellWrite(1, 5, "x")])])

    row = part_root(path, "xl/worksheets/sheet1.xml").find("m:sheetData/m:row", NS)
    assert row is not None and row.get("spans") == "1:5"


def test_append_goes_after_the_last_row_with_a_value(tmp_path: Path) -> None:
    path = tmp_path / "styled.xlsx"
    rows = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>ID</t></is></c></row>'
        '<row r="2"><c r="A2" t="inlineStr"><is><t>P1</t></is></c></row>'
        '<row r="3" s="0" customFormat="1"><c r="A3" s="0"/><c r="B3" s="0"/></row>'
        '<row r="4" spans="1:2"/>'
    )
    minimal_workbook(path, {"Prospects": sheet_document(rows)})

    result = XlsxBackend(path).write(
        [TabChanges("Prospects", append_rows=[["P2", "x"], [None, None], ["P4"]])]
    )

    assert result.rows_appended == 2
    grid = calamine_grid(path, "Prospects")
    assert [row[0] for row in grid] == ["ID", "P1", "P2", "", "P4"]
    rows_after = part_root(path, "xl/worksheets/sheet1.xml").findall("m:sheetData/m:row", NS)
    assert [r.get("r") for r in rows_after] == ["1", "2", "3", "4", "5"]


def test_new_headers_look_like_the_header_before_them(feature: Path) -> None:
    column = len(PROSPECT_HEADERS) + 1
    XlsxBackend(feature).write([TabChanges("Prospects", new_headers={column: "Step"})])

    left, new = cell_element(feature, "Prospects", "L1"), cell_element(feature, "Prospects", "M1")
    assert new.get("s") == left.get("s")


def test_full_calc_flag_is_added_in_schema_order(tmp_path: Path) -> None:
    path = tmp_path / "calc.xlsx"
    summary = sheet_document('<row r="1"><c r="A1"><f>COUNTA(Prospects!A:A)</f><v>1</v></c></row>')
    minimal_workbook(
        path,
        {"Prospects": sheet_document(""), "Summary": summary},
        calc_pr="<extLst/>",
    )

    XlsxBackend(path).write([TabChanges("Prospects", cells=[CellWrite(1, 1, "x")])])

    root = part_root(path, "xl/workbook.xml")
    names = [etree.QName(child).localname for child in root]
    assert names == ["workbookPr", "sheets", "calcPr", "extLst"]
    assert root[2].get("fullCalcOnLoad") == "1"
    load_openpyxl(path).close()


def test_no_calc_flag_without_formulas(tmp_path: Path) -> None:
    path = tmp_path / "plain.xlsx"
    minimal_workbook(path, {"Prospects": sheet_document("")})
    workbook = members(path)["xl/workbook.xml"]

    XlsxBackend(path).write([TabChanges("Prospects", cells=[CellWrite(1, 1, "x")])])

    assert members(path)["xl/workbook.xml"] == workbook


def test_several_changes_for_one_tab_apply_in_order(feature: Path) -> None:
    first = TabChanges("Prospects", cells=[CellWrite(2, STATUS_COLUMN, "due")])
    second = TabChanges("Prospects", cells=[CellWrite(3, STATUS_COLUMN, "dead")])
    log = TabChanges("Log", create=True, new_headers={1: "When"})

    result = XlsxBackend(feature).write([first, second, log])

    assert result.cells_written == 3
    grid = calamine_grid(feature, "Prospects")
    assert [grid[1][STATUS_COLUMN - 1], grid[2][STATUS_COLUMN - 1]] == ["due", "dead"]
    assert calamine_grid(feature, "Log") == [["When"]]


def test_cells_outside_the_sheet_are_refused(feature: Path) -> None:
    with pytest.raises(SheetError, match="outside the sheet"):
        XlsxBackend(feature).write([TabChanges("Prospects", cells=[CellWrite(0, 1, "x")])])


def test_a_damaged_sheet_is_reported_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx"
    rows = '<row r="1"><c r="A1" t="inlineStr"><is><t>ID</t></is></c>'  # never closed
    minimal_workbook(path, {"Prospects": sheet_document(rows)})
    data = path.read_bytes()
    backend = XlsxBackend(path)

    with pytest.raises(SheetError, match=r"broken\.xlsx is damaged: row 1 is not closed"):
        backend.write([TabChanges("Prospects", cells=[CellWrite(1, 2, "Status")])])

    assert path.read_bytes() == data


def test_chart_sheets_cannot_be_written(tmp_path: Path) -> None:
    source = CORPUS / "WithChartSheet.xlsx"
    if not source.exists():
        pytest.skip("the corpus is not available")
    path = tmp_path / "charts.xlsx"
    shutil.copy(source, path)

    with pytest.raises(SheetError, match="'Chart2' is a chart sheet"):
        XlsxBackend(path).write([TabChanges("chart2", cells=[CellWrite(1, 1, "x")])])


def test_overlong_text_is_cut_to_what_excel_accepts(feature: Path) -> None:
    XlsxBackend(feature).write([TabChanges("Prospects", cells=[CellWrite(2, 10, "x" * 40_000)])])

    assert calamine_grid(feature, "Prospects")[1][9] == "x" * 32_767


def test_a_new_tab_in_a_workbook_that_declares_relationships_on_each_sheet(
    tmp_path: Path,
) -> None:
    # openpyxl with lxml declares xmlns:r on every <sheet> instead of on <workbook>; a new
    # <sheet> must not rely on a sibling's declaration.
    path = tmp_path / "per-sheet-ns.xlsx"
    book = openpyxl.Workbook()
    book.active.title = "Prospects"
    book.active.append(["Company", "Owner"])
    book.save(path)
    with zipfile.ZipFile(path) as package:
        workbook_xml = package.read("xl/workbook.xml")
    root_tag = workbook_xml[workbook_xml.index(b"<workbook") :].split(b">", 1)[0]
    assert b"relationships" not in root_tag  # the layout this test is about
    backend = XlsxBackend(path)
    backend.write([TabChanges(tab="State", create=True, hidden=True, new_headers={1: "Day"})])
    reread = XlsxBackend(path)
    assert reread.tab_names() == ["Prospects", "State"]
    table = reread.read_tab("State")
    assert table is not None and table.rows == [["Day"]]
    assert openpyxl.load_workbook(path)["State"].sheet_state == "hidden"
