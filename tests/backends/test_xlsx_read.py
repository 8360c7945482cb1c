"""Reading tabs from real workbooks, and the errors a person can act on."""

from __future__ import annotations

import zipfile
from datetime import date, datetime, time
from pathlib import Path

import pytest
import xlsxwriter
from xlsx_fixtures import (
    FEATURE_ROWS,
    PROSPECT_HEADERS,
    make_feature_workbook,
    minimal_workbook,
    sheet_document,
)

from sheetfollow.backends.xlsx import XlsxBackend
from sheetfollow.errors import SheetError
from sheetfollow.sheet import EPOCH_1900, EPOCH_1904

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus" / "xlsx"


def test_reads_a_tab_by_name_case_insensitively(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.xlsx"
    make_feature_workbook(path)
    backend = XlsxBackend(path)

    table = backend.read_tab("PROSPECTS")

    assert table is not None
    assert table.tab == "Prospects"
    assert table.rows[0] == PROSPECT_HEADERS
    assert len(table.rows) == FEATURE_ROWS + 1
    first = table.rows[1]
    assert first[:3] == ["P0001", "Company 1 & Sons <Ltd>", "Contact 1"]
    assert first[6] == date(2024, 1, 2)
    assert first[9] is None, "empty cells read as None"
    assert table.epoch == EPOCH_1900
    assert table.table_header_row == 1
    assert backend.tab_names() == ["Prospects", "Summary"]
    assert backend.label == str(path)


def test_missing_or_empty_tab_name_reads_as_none(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.xlsx"
    make_feature_workbook(path)
    backend = XlsxBackend(path)

    assert backend.read_tab("") is None
    assert backend.read_tab("Log") is None


def test_1904_workbook_reports_its_epoch_and_reads_dates(tmp_path: Path) -> None:
    path = tmp_path / "mac.xlsx"
    make_feature_workbook(path, date1904=True)

    table = XlsxBackend(path).read_tab("Prospects")

    assert table is not None
    assert table.epoch == EPOCH_1904
    assert table.rows[1][6] == date(2024, 1, 2)


def test_table_header_row_is_the_tables_first_row(tmp_path: Path) -> None:
    path = tmp_path / "offset.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Prospects")
    sheet.write("A1", "Pipeline 2024")
    sheet.add_table("A3:C5", {"columns": [{"header": h} for h in ("ID", "Company", "Owner")]})
    workbook.add_worksheet("Plain").write("A1", "x")
    workbook.close()
    backend = XlsxBackend(path)

    prospects, plain = backend.read_tab("Prospects"), backend.read_tab("Plain")

    assert prospects is not None and prospects.table_header_row == 3
    assert prospects.rows[2] == ["ID", "Company", "Owner"]
    assert plain is not None and plain.table_header_row is None


def test_values_of_every_kind(tmp_path: Path) -> None:
    path = tmp_path / "kinds.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Prospects")
    sheet.write("A1", "text")
    sheet.write("B1", 3)
    sheet.write("C1", 2.5)
    sheet.write_boolean("D1", True)
    stamp = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    clock = workbook.add_format({"num_format": "hh:mm"})
    sheet.write_datetime("E1", datetime(2024, 5, 6, 14, 30), stamp)
    sheet.write_datetime("F1", datetime(1899, 12, 31, 14, 30), clock)
    sheet.write("H1", "after a gap")
    workbook.close()

    table = XlsxBackend(path).read_tab("Prospects")

    assert table is not None
    values = table.rows[0]
    assert values[:5] == ["text", 3, 2.5, True, datetime(2024, 5, 6, 14, 30)]
    assert values[5] == time(14, 30).isoformat(timespec="minutes")
    assert values[6] is None
    assert values[7] == "after a gap"


def test_rows_written_without_r_or_self_closing_read_in_place(tmp_path: Path) -> None:
    path = tmp_path / "libre.xlsx"
    rows = (
        '<row><c t="inlineStr"><is><t>ID</t></is></c><c t="inlineStr"><is><t>Name</t></is></c>'
        "</row>"
        '<row r="2" spans="1:2"/>'
        '<row><c t="inlineStr"><is><t>P3</t></is></c><c s="0"/><c><v>7</v></c></row>'
    )
    minimal_workbook(path, {"Prospects": sheet_document(rows)})

    table = XlsxBackend(path).read_tab("Prospects")

    assert table is not None
    assert table.rows[0][:2] == ["ID", "Name"]
    assert all(v is None for v in table.rows[1])
    assert table.rows[2] == ["P3", None, 7]


def test_chart_sheet_reads_as_an_empty_tab(tmp_path: Path) -> None:
    source = CORPUS / "WithChartSheet.xlsx"
    if not source.exists():
        pytest.skip("the corpus is not available")
    backend = XlsxBackend(source)

    table = backend.read_tab("chart2")

    assert table is not None and table.rows == []
    assert "Chart2" in backend.tab_names()


# --------------------------------------------------------------------------- errors


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SheetError, match=r"nothere\.xlsx was not found"):
        XlsxBackend(tmp_path / "nothere.xlsx").tab_names()


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(SheetError, match="is a folder"):
        XlsxBackend(tmp_path).read_tab("Prospects")


def test_text_file_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.xlsx"
    path.write_text("ID,Company\n1,Acme\n")
    with pytest.raises(SheetError, match=r"pipeline\.xlsx is not an Excel workbook"):
        XlsxBackend(path).read_tab("Prospects")


def ole_file(path: Path, stream: str) -> None:
    """The start of an OLE compound file whose directory names `stream`."""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    path.write_bytes(header + stream.encode("utf-16-le") + b"\x00" * 64)


def test_old_xls_says_to_save_as_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.xls"
    ole_file(path, "Workbook")
    with pytest.raises(SheetError, match=r"pipeline\.xls is an old-format.*save it as \.xlsx"):
        XlsxBackend(path).read_tab("Prospects")


def test_password_protected_workbook(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.xlsx"
    ole_file(path, "EncryptionInfo")
    with pytest.raises(SheetError, match=r"pipeline\.xlsx is password-protected"):
        XlsxBackend(path).tab_names()


def test_corrupt_workbook_xml(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.xlsx"
    minimal_workbook(path, {"Prospects": sheet_document("")})
    with zipfile.ZipFile(path) as package:
        parts = {i.filename: package.read(i) for i in package.infolist()}
    parts["xl/workbook.xml"] = parts["xl/workbook.xml"][:-20]
    with zipfile.ZipFile(path, "w") as package:
        for name, data in parts.items():
            package.writestr(name, data)
    with pytest.raises(SheetError, match=r"pipeline\.xlsx is damaged: xl/workbook\.xml is not"):
        XlsxBackend(path).tab_names()


def test_truncated_zip(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.xlsx"
    make_feature_workbook(path)
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(SheetError, match=r"pipeline\.xlsx is damaged"):
        XlsxBackend(path).tab_names()


def test_opendocument_spreadsheet(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.xlsx"
    with zipfile.ZipFile(path, "w") as package:
        package.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        package.writestr("content.xml", "<office:document-content/>")
    with pytest.raises(SheetError, match="OpenDocument"):
        XlsxBackend(path).tab_names()
