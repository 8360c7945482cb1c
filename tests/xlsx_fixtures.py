"""Builders of real workbooks for the Excel backend's tests.

`add_prospects_sheet` adds a tab to an existing workbook at the zip level, so a workbook made
by Excel keeps every byte of its other parts (no library ever re-saves it).
`make_feature_workbook` writes, with XlsxWriter, a workbook that uses the features people
put in a pipeline file: a Table, notes, validation, conditional formats, a chart, an image,
sparklines, defined names and formulas over the Status column.
"""

from __future__ import annotations

import importlib.util
import io
import posixpath
import struct
import sys
import zipfile
import zlib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from types import ModuleType
from xml.sax.saxutils import escape

import xlsxwriter
from lxml import etree

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
WORKSHEET_REL = REL_NS + "/worksheet"
WORKSHEET_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"

PROSPECT_HEADERS = [
    "ID",
    "Company",
    "Contact",
    "Email",
    "Owner",
    "Stage",
    "Created",
    "Last contact",
    "Attempts",
    "Notes",
    "Next follow-up",
    "Status",
]
#: 1-based columns of the two owned columns that exist in PROSPECT_HEADERS.
NEXT_COLUMN = PROSPECT_HEADERS.index("Next follow-up") + 1
STATUS_COLUMN = PROSPECT_HEADERS.index("Status") + 1


@dataclass(frozen=True)
class Formula:
    """A formula cell for add_prospects_sheet, with its cached result."""

    text: str
    cached: float = 0.0


def prospect_rows(count: int) -> list[list[object]]:
    """A header row and `count` prospects, some with a Status already set."""
    rows: list[list[object]] = [list(PROSPECT_HEADERS)]
    for n in range(1, count + 1):
        rows.append(
            [
                f"P{n:04d}",
                f"Company {n} & Sons <Ltd>",
                f"Contact {n}",
                f"c{n}@example.com",
                ["ann", "bob", "cy"][n % 3],
                ["new", "contacted", "quote"][n % 3],
                date(2024, 1, 1 + n % 28),
                date(2024, 2, 1 + n % 28) if n % 2 else None,
                n % 4,
                f"  note {n}" if n % 5 == 0 else None,
                None,
                "new" if n % 3 == 0 else None,
            ]
        )
    return rows


# --------------------------------------------------------------------------- zip level


def add_prospects_sheet(
    src: Path, dst: Path, rows: list[list[object]], name: str = "Prospects"
) -> None:
    """Copy `src` to `dst` with one more worksheet holding `rows` (row 1 = rows[0]).

    Values: str (inline string), int/float, date/datetime (with a date cell format, added to
    styles.xml when the workbook has none), bool, Formula, None (no cell).
    """
    with zipfile.ZipFile(src) as source:
        members = [(info, source.read(info)) for info in source.infolist()]
    parts = {info.filename: data for info, data in members}
    workbook_part = _workbook_part(parts)
    folder = posixpath.dirname(workbook_part)
    rels_part = posixpath.join(folder, "_rels", posixpath.basename(workbook_part) + ".rels")
    sheet_part = _free_sheet_part(parts, folder)
    rid = _add_relationship(parts, rels_part, posixpath.relpath(sheet_part, folder or "."))
    date1904 = _add_sheet(parts, workbook_part, name, rid)
    _add_override(parts, sheet_part)
    date_style = _date_style(parts, _styles_part(parts, rels_part, folder))
    parts[sheet_part] = _sheet_xml(rows, date_style, date1904)
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as target:
        for info, _ in members:
            target.writestr(info, parts[info.filename])
        new = zipfile.ZipInfo(sheet_part, date_time=(1980, 1, 1, 0, 0, 0))
        target.writestr(new, parts[sheet_part], zipfile.ZIP_DEFLATED)


def _workbook_part(parts: dict[str, bytes]) -> str:
    root = etree.fromstring(parts["_rels/.rels"])
    for rel in root:
        if rel.get("Type", "").endswith("/officeDocument"):
            return str(rel.get("Target")).lstrip("/")
    return "xl/workbook.xml"


def _free_sheet_part(parts: dict[str, bytes], folder: str) -> str:
    n = 1
    while posixpath.join(folder, f"worksheets/sheet{n}.xml") in parts:
        n += 1
    return posixpath.join(folder, f"worksheets/sheet{n}.xml")


def _add_relationship(parts: dict[str, bytes], rels_part: str, target: str) -> str:
    root = etree.fromstring(parts[rels_part])
    ids = {rel.get("Id") for rel in root}
    n = 1
    while f"rId{n}" in ids:
        n += 1
    etree.SubElement(
        root, f"{{{PKG_REL_NS}}}Relationship", Id=f"rId{n}", Type=WORKSHEET_REL, Target=target
    )
    parts[rels_part] = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return f"rId{n}"


def _add_sheet(parts: dict[str, bytes], workbook_part: str, name: str, rid: str) -> bool:
    root = etree.fromstring(parts[workbook_part])
    sheets = root.find(f"{{{MAIN_NS}}}sheets")
    assert sheets is not None
    sheet_id = max(int(s.get("sheetId", "0")) for s in sheets) + 1
    sheet = etree.SubElement(sheets, f"{{{MAIN_NS}}}sheet", name=name, sheetId=str(sheet_id))
    sheet.set(f"{{{REL_NS}}}id", rid)
    parts[workbook_part] = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    pr = root.find(f"{{{MAIN_NS}}}workbookPr")
    return pr is not None and pr.get("date1904", "0") in ("1", "true")


def _add_override(parts: dict[str, bytes], sheet_part: str) -> None:
    root = etree.fromstring(parts["[Content_Types].xml"])
    etree.SubElement(
        root, f"{{{CT_NS}}}Override", PartName="/" + sheet_part, ContentType=WORKSHEET_CT
    )
    parts["[Content_Types].xml"] = etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _styles_part(parts: dict[str, bytes], rels_part: str, folder: str) -> str:
    root = etree.fromstring(parts[rels_part])
    for rel in root:
        if rel.get("Type", "").endswith("/styles"):
            return posixpath.normpath(posixpath.join(folder, str(rel.get("Target"))))
    raise AssertionError("the workbook has no styles part")


def _date_style(parts: dict[str, bytes], styles_part: str) -> int:
    """The index of a cellXfs entry with the built-in date format 14 (added when missing)."""
    root = etree.fromstring(parts[styles_part])
    xfs = root.find(f"{{{MAIN_NS}}}cellXfs")
    assert xfs is not None
    for index, xf in enumerate(xfs):
        if xf.get("numFmtId") == "14":
            return index
    etree.SubElement(
        xfs,
        f"{{{MAIN_NS}}}xf",
        numFmtId="14",
        fontId="0",
        fillId="0",
        borderId="0",
        xfId="0",
        applyNumberFormat="1",
    )
    xfs.set("count", str(len(xfs)))
    parts[styles_part] = etree.tostring(
        root, xml_declaration=True, encoding="UTF-8", standalone=True
    )
    return len(xfs) - 1


def _sheet_xml(rows: list[list[object]], date_style: int, date1904: bool) -> bytes:
    epoch = date(1904, 1, 1) if date1904 else date(1899, 12, 30)
    out = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<worksheet xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">'
    ]
    width = max((len(r) for r in rows), default=1)
    out.append(f'<dimension ref="A1:{_letters(width)}{max(len(rows), 1)}"/>')
    out.append('<sheetViews><sheetView workbookViewId="0"/></sheetViews>')
    out.append('<sheetFormatPr defaultRowHeight="15"/><sheetData>')
    for r, values in enumerate(rows, start=1):
        out.append(f'<row r="{r}" spans="1:{width}">')
        for c, value in enumerate(values, start=1):
            out.append(_cell_xml(f"{_letters(c)}{r}", value, date_style, epoch))
        out.append("</row>")
    out.append("</sheetData>")
    out.append('<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" ')
    out.append('header="0.3" footer="0.3"/></worksheet>')
    return "".join(out).encode()


def _cell_xml(ref: str, value: object, date_style: int, epoch: date) -> str:
    if value is None:
        return ""
    if isinstance(value, Formula):
        return f'<c r="{ref}"><f>{escape(value.text)}</f><v>{value.cached!r}</v></c>'
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, datetime):
        delta = value - datetime(epoch.year, epoch.month, epoch.day)
        return f'<c r="{ref}" s="{date_style}"><v>{delta.total_seconds() / 86400!r}</v></c>'
    if isinstance(value, date):
        return f'<c r="{ref}" s="{date_style}"><v>{(value - epoch).days}</v></c>'
    if isinstance(value, (int, float)):
        return f'<c r="{ref}"><v>{value!r}</v></c>'
    text = escape(str(value))
    space = ' xml:space="preserve"' if text != text.strip() else ""
    return f'<c r="{ref}" t="inlineStr"><is><t{space}>{text}</t></is></c>'


def _letters(column: int) -> str:
    letters = ""
    while column:
        column, rest = divmod(column - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


# --------------------------------------------------------------------------- XlsxWriter


def png_bytes(width: int = 4, height: int = 4) -> bytes:
    """A small red PNG, made by hand."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


FEATURE_ROWS = 12


def make_feature_workbook(path: Path, *, date1904: bool = False) -> None:
    """A pipeline workbook using many Excel features; Prospects is an Excel Table (A1:L13)."""
    workbook = xlsxwriter.Workbook(str(path), {"date_1904": date1904})
    prospects = workbook.add_worksheet("Prospects")
    summary = workbook.add_worksheet("Summary")
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    bold = workbook.add_format({"bold": True, "bg_color": "#DDEEFF"})
    rows = prospect_rows(FEATURE_ROWS)
    for r, values in enumerate(rows[1:], start=1):
        for c, value in enumerate(values):
            if isinstance(value, date):
                moment = datetime(value.year, value.month, value.day)
                prospects.write_datetime(r, c, moment, date_format)
            elif value is not None:
                prospects.write(r, c, value)
    prospects.add_table(
        0,
        0,
        FEATURE_ROWS,
        len(PROSPECT_HEADERS) - 1,
        {
            "name": "Pipeline",
            "style": "Table Style Medium 2",
            "columns": [{"header": h, "header_format": bold} for h in PROSPECT_HEADERS],
        },
    )
    prospects.set_column(0, len(PROSPECT_HEADERS) - 1, 14)
    prospects.freeze_panes(1, 0)
    prospects.write_comment("B2", "Met at the trade fair", {"visible": True})
    prospects.write_comment("C3", "Prefers email")
    prospects.data_validation(
        1, 5, 500, 5, {"validate": "list", "source": ["new", "contacted", "quote", "won"]}
    )
    prospects.conditional_format(
        1,
        STATUS_COLUMN - 1,
        500,
        STATUS_COLUMN - 1,
        {"type": "cell", "criteria": "==", "value": '"overdue"', "format": bold},
    )
    prospects.conditional_format(1, 8, 500, 8, {"type": "data_bar", "data_bar_2010": True})
    prospects.insert_image("N2", "dot.png", {"image_data": io.BytesIO(png_bytes())})
    status = f"Prospects!${_letters(STATUS_COLUMN)}:${_letters(STATUS_COLUMN)}"
    summary.write_row(0, 0, ["Status", "Count"], bold)
    for r, word in enumerate(["new", "due", "overdue", "dead"], start=1):
        summary.write(r, 0, word)
        summary.write_formula(r, 1, f"=COUNTIF({status},A{r + 1})", None, 0)
    summary.write_row(6, 0, [3, 5, 2, 8, 6])
    summary.add_sparkline(6, 5, {"range": "Summary!A7:E7", "markers": True})
    chart = workbook.add_chart({"type": "column"})
    chart.add_series({"categories": "=Summary!$A$2:$A$5", "values": "=Summary!$B$2:$B$5"})
    summary.insert_chart("D10", chart)
    workbook.define_name("StatusCounts", "=Summary!$B$2:$B$5")
    workbook.define_name("Prospects!LocalName", "=Prospects!$A$1")
    workbook.close()


# --------------------------------------------------------------------------- hand-made packages

MINIMAL_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<styleSheet xmlns="{MAIN_NS}">'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def sheet_document(sheet_data: str, *, prefix: str = "", head: str = "", tail: str = "") -> str:
    """A worksheet part around the given <sheetData> content (prefix: 'x' for x: names)."""
    p = f"{prefix}:" if prefix else ""
    xmlns = f'xmlns:{prefix}="{MAIN_NS}"' if prefix else f'xmlns="{MAIN_NS}"'
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<{p}worksheet {xmlns} xmlns:r="{REL_NS}">{head}'
        f"<{p}sheetData>{sheet_data}</{p}sheetData>{tail}</{p}worksheet>"
    )


def minimal_workbook(
    path: Path,
    sheets: dict[str, str],
    *,
    styles: str = MINIMAL_STYLES,
    date1904: bool = False,
    calc_pr: str = "",
    extra_parts: dict[str, bytes] | None = None,
    sheet_rels: dict[str, str] | None = None,
) -> None:
    """Write an .xlsx by hand: {tab name: worksheet XML}. Shapes no library would produce."""
    names = list(sheets)
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{WORKSHEET_CT}"/>'
        for i in range(1, len(names) + 1)
    )
    for part in extra_parts or {}:
        if part.startswith("xl/tables/"):
            overrides += (
                f'<Override PartName="/{part}" ContentType="application/'
                'vnd.openxmlformats-officedocument.spreadsheetml.table+xml"/>'
            )
    content_types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Types xmlns="{CT_NS}">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        f"{overrides}</Types>"
    )
    root_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="{PKG_REL_NS}"><Relationship Id="rId1" '
        f'Type="{REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    )
    workbook_pr = '<workbookPr date1904="1"/>' if date1904 else "<workbookPr/>"
    sheet_list = "".join(
        f'<sheet name="{escape(n)}" sheetId="{i}" r:id="rId{i}"/>'
        for i, n in enumerate(names, start=1)
    )
    workbook = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">{workbook_pr}'
        f"<sheets>{sheet_list}</sheets>{calc_pr}</workbook>"
    )
    rels = "".join(
        f'<Relationship Id="rId{i}" Type="{WORKSHEET_REL}" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, len(names) + 1)
    )
    rels += f'<Relationship Id="rId{len(names) + 1}" Type="{REL_NS}/styles" Target="styles.xml"/>'
    workbook_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="{PKG_REL_NS}">{rels}</Relationships>'
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("[Content_Types].xml", content_types)
        package.writestr("_rels/.rels", root_rels)
        package.writestr("xl/workbook.xml", workbook)
        package.writestr("xl/_rels/workbook.xml.rels", workbook_rels)
        package.writestr("xl/styles.xml", styles)
        for i, name in enumerate(names, start=1):
            package.writestr(f"xl/worksheets/sheet{i}.xml", sheets[name])
            if sheet_rels and name in sheet_rels:
                package.writestr(f"xl/worksheets/_rels/sheet{i}.xml.rels", sheet_rels[name])
        for part, data in (extra_parts or {}).items():
            package.writestr(part, data)


# --------------------------------------------------------------------------- inspection


def members(path: Path) -> dict[str, bytes]:
    """Every member's uncompressed bytes, in the zip's order."""
    with zipfile.ZipFile(path) as package:
        return {info.filename: package.read(info) for info in package.infolist()}


def sheet_part(path: Path, tab: str) -> str:
    """The zip member that holds a tab's worksheet."""
    parts = members(path)
    workbook_part = _workbook_part(parts)
    folder = posixpath.dirname(workbook_part)
    rels_part = posixpath.join(folder, "_rels", posixpath.basename(workbook_part) + ".rels")
    root = etree.fromstring(parts[workbook_part])
    rid = next(
        s.get(f"{{{REL_NS}}}id") for s in root.iter(f"{{{MAIN_NS}}}sheet") if s.get("name") == tab
    )
    for rel in etree.fromstring(parts[rels_part]):
        if rel.get("Id") == rid:
            return posixpath.normpath(posixpath.join(folder, str(rel.get("Target"))))
    raise AssertionError(f"no part for {tab}")


def raw_cells(sheet_xml: bytes) -> dict[tuple[int, int], bytes]:
    """(row, column) -> the cell's canonical XML (attributes, type, style, value, formula)."""
    root = etree.fromstring(sheet_xml)
    cells: dict[tuple[int, int], bytes] = {}
    row_number = 0
    for row in root.iter(f"{{{MAIN_NS}}}row"):
        row_number = int(row.get("r", row_number + 1))
        column = 0
        for cell in row.iter(f"{{{MAIN_NS}}}c"):
            ref = cell.get("r")
            column = _column_of(ref) if ref else column + 1
            canonical = etree.tostring(cell, method="c14n")
            cells[(row_number, column)] = canonical
    return cells


def _column_of(ref: str) -> int:
    number = 0
    for char in ref:
        if char.isalpha():
            number = number * 26 + ord(char.upper()) - 64
    return number


def realistic() -> ModuleType:
    """tests/benchmarks/realistic.py, which writes the benchmark's workbooks as Excel and
    XlsxWriter write them (not a package: loaded from its file, once per process)."""
    found = sys.modules.get("realistic")
    if found is None:
        path = Path(__file__).parent / "benchmarks" / "realistic.py"
        spec = importlib.util.spec_from_file_location("realistic", path)
        assert spec is not None and spec.loader is not None
        found = importlib.util.module_from_spec(spec)
        sys.modules["realistic"] = found
        spec.loader.exec_module(found)
    return found
