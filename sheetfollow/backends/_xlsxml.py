"""Byte-level editing of the XML parts of an .xlsx package.

The worksheet is never turned into a DOM: only the rows that change are parsed and re-emitted,
every other byte is copied as it is. Small parts (workbook, relationships, styles, tables) are
read with ElementTree but edited as text, so their untouched markup keeps its exact bytes.
"""

from __future__ import annotations

import functools
import html
import math
import posixpath
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple
from xml.parsers import expat

from sheetfollow.errors import SheetError
from sheetfollow.sheet import CellValue

REL_OFFICE_DOCUMENT = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
)
REL_WORKSHEET = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"
REL_SHARED_STRINGS = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
)
REL_STYLES = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles"
REL_TABLE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/table"
CT_WORKSHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"

#: Excel refuses longer cell text.
MAX_CELL_TEXT = 32767

#: A fresh, empty worksheet part, shaped like the ones Excel writes.
NEW_WORKSHEET = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    b'<dimension ref="A1"/><sheetViews><sheetView workbookViewId="0"/></sheetViews>'
    b'<sheetFormatPr defaultRowHeight="15"/><sheetData/>'
    b'<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
    b"</worksheet>"
)


class DamagedPart(SheetError):
    """A part of the package is not what its schema says. The backend adds the file name."""


# --------------------------------------------------------------------------- references


@functools.lru_cache(maxsize=20_000)
def column_letters(column: int) -> str:
    """1 -> A, 28 -> AB."""
    letters = ""
    while column > 0:
        column, rest = divmod(column - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


@functools.lru_cache(maxsize=20_000)
def column_number(letters: str) -> int:
    number = 0
    for char in letters.upper():
        number = number * 26 + ord(char) - 64
    return number


def cell_ref(row: int, column: int) -> str:
    return f"{column_letters(column)}{row}"


_REF_RE = re.compile(r"\$?([A-Za-z]{1,3})\$?(\d+)")


def split_ref(ref: str) -> tuple[int, int]:
    """'AB12' -> (12, 28)."""
    match = _REF_RE.fullmatch(ref.strip())
    if match is None:
        raise DamagedPart(f"{ref!r} is not a cell reference")
    return int(match.group(2)), column_number(match.group(1))


@dataclass(frozen=True)
class Box:
    """A rectangular range, 1-based and inclusive."""

    first_row: int
    first_col: int
    last_row: int
    last_col: int

    @classmethod
    def parse(cls, ref: str) -> Box:
        first, _, last = ref.partition(":")
        r1, c1 = split_ref(first)
        r2, c2 = split_ref(last) if last else (r1, c1)
        return cls(min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2))

    def __str__(self) -> str:
        first = cell_ref(self.first_row, self.first_col)
        last = cell_ref(self.last_row, self.last_col)
        return first if first == last else f"{first}:{last}"

    def union(self, other: Box) -> Box:
        return Box(
            min(self.first_row, other.first_row),
            min(self.first_col, other.first_col),
            max(self.last_row, other.last_row),
            max(self.last_col, other.last_col),
        )


# --------------------------------------------------------------------------- text

# XML 1.0 cannot carry these at all, not even as character references.
_ILLEGAL_XML_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
# Excel reads _xHHHH_ in cell text as an escaped character; a literal one needs its '_' escaped.
_EXCEL_ESCAPE_RE = re.compile(r"_(x[0-9A-Fa-f]{4}_)")
_EXCEL_UNESCAPE_RE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def clean_text(text: str) -> str:
    """The text as it will be stored: line ends normalised, illegal characters dropped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _ILLEGAL_XML_RE.sub("", text)[:MAX_CELL_TEXT]


def escape_text(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _EXCEL_ESCAPE_RE.sub(r"_x005F_\1", text)


def escape_attr(text: str) -> str:
    return (
        _ILLEGAL_XML_RE.sub("", text)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
    )


def unescape_text(raw: bytes) -> str:
    """Element text as stored in the part -> the text Excel shows."""
    text = raw.decode("utf-8")
    if "&" in text:
        text = html.unescape(text)
    if "_x" in text:
        text = _EXCEL_UNESCAPE_RE.sub(lambda m: chr(int(m.group(1), 16)), text)
    return text


# --------------------------------------------------------------------------- small parts


def parse_xml(part: str, data: bytes) -> ET.Element:
    refuse_dtd(part, data)
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise DamagedPart(f"{part} is not valid XML ({exc})") from exc


class _RootReached(Exception):
    pass


def refuse_dtd(part: str, data: bytes, *, final: bool = True) -> None:
    """Refuse a part with a document type declaration: Office never writes one, and only a
    DTD can declare entities (an external file's contents, or a billion nested laughs).

    Only the prolog is parsed: expat stops at the root element, in any encoding. `data` may
    be the first piece of a part (final=False).
    """

    def doctype(*_: object) -> None:
        raise DamagedPart(
            f"{part} has a document type declaration (<!DOCTYPE>), which Excel files never have"
        )

    def root(*_: object) -> None:
        raise _RootReached

    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = doctype
    parser.StartElementHandler = root
    try:
        parser.Parse(data, final)
    except (_RootReached, expat.ExpatError):
        return  # the root element was reached, or the XML is broken: the parser says so


def local_name(tag: str) -> str:
    return tag.rpartition("}")[2]


def _attr(element: ET.Element, name: str) -> str | None:
    """An attribute by local name, whatever its namespace."""
    for key, value in element.attrib.items():
        if local_name(key) == name:
            return value
    return None


def rels_part_of(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", name + ".rels")


@dataclass(frozen=True)
class Relationship:
    rid: str
    type: str
    target: str  # the resolved part name, or the raw target for external links
    external: bool


def parse_rels(part: str, data: bytes | None) -> list[Relationship]:
    """The relationships of the part whose .rels file is `data` (None: it has none)."""
    if data is None:
        return []
    root = parse_xml(rels_part_of(part), data)
    base = posixpath.dirname(part)
    rels = []
    for element in root:
        if local_name(element.tag) != "Relationship":
            continue
        target = element.get("Target", "")
        external = element.get("TargetMode") == "External"
        if not external:
            target = resolve_target(base, target)
        rels.append(Relationship(element.get("Id", ""), element.get("Type", ""), target, external))
    return rels


def resolve_target(base: str, target: str) -> str:
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/"))
    return posixpath.normpath(posixpath.join(base, target))


@dataclass(frozen=True)
class SheetEntry:
    name: str
    sheet_id: int
    rid: str
    #: The worksheet part, or None when the tab is a chart sheet or something else.
    part: str | None
    hidden: bool


@dataclass(frozen=True)
class WorkbookInfo:
    part: str
    sheets: tuple[SheetEntry, ...]
    date1904: bool
    shared_strings: str | None
    styles: str | None
    rels: tuple[Relationship, ...]

    def find(self, tab: str) -> SheetEntry | None:
        wanted = tab.casefold()
        return next((s for s in self.sheets if s.name.casefold() == wanted), None)


def find_workbook_part(root_rels: bytes | None) -> str:
    for rel in parse_rels("", root_rels):
        if rel.type == REL_OFFICE_DOCUMENT and not rel.external:
            return rel.target
    return "xl/workbook.xml"


def read_workbook_info(part: str, workbook: bytes, rels_data: bytes | None) -> WorkbookInfo:
    root = parse_xml(part, workbook)
    rels = parse_rels(part, rels_data)
    by_id = {rel.rid: rel for rel in rels}
    date1904 = False
    sheets = []
    for element in root.iter():
        name = local_name(element.tag)
        if name == "workbookPr":
            date1904 = element.get("date1904", "0").lower() in ("1", "true")
        elif name == "sheet":
            rid = _attr(element, "id") or ""
            rel = by_id.get(rid)
            is_sheet = rel is not None and rel.type == REL_WORKSHEET
            sheets.append(
                SheetEntry(
                    name=element.get("name", ""),
                    sheet_id=int(element.get("sheetId", "0")),
                    rid=rid,
                    part=rel.target if is_sheet and rel is not None else None,
                    hidden=element.get("state", "visible") != "visible",
                )
            )
    return WorkbookInfo(
        part=part,
        sheets=tuple(sheets),
        date1904=date1904,
        shared_strings=next((r.target for r in rels if r.type == REL_SHARED_STRINGS), None),
        styles=next((r.target for r in rels if r.type == REL_STYLES), None),
        rels=tuple(rels),
    )


# --------------------------------------------------------------------------- text edits

_ATTR_TEMPLATE = rb"(\s%s\s*=\s*)(\"[^\"]*\"|'[^']*')"


@functools.lru_cache(maxsize=64)
def _attr_pattern(name: bytes) -> re.Pattern[bytes]:
    return re.compile(_ATTR_TEMPLATE % re.escape(name))


def get_attr(tag: bytes, name: bytes) -> bytes | None:
    match = _attr_pattern(name).search(tag)
    return match.group(2)[1:-1] if match else None


def set_attr(tag: bytes, name: bytes, value: bytes) -> bytes:
    """Set an attribute on one start tag (b'<row r="1">'), keeping everything else as is."""
    pattern = _attr_pattern(name)
    if pattern.search(tag):
        return pattern.sub(lambda m: m.group(1) + b'"' + value + b'"', tag, count=1)
    end = len(tag) - (2 if tag.endswith(b"/>") else 1)
    return tag[:end].rstrip() + b" " + name + b'="' + value + b'"' + tag[end:]


def _start_tag(data: bytes, name: bytes, start: int = 0) -> re.Match[bytes] | None:
    return re.compile(rb"<((?:[\w.-]+:)?)" + name + rb"(?=[\s/>])[^>]*>").search(data, start)


def insert_before_close(data: bytes, parent: bytes, markup: bytes) -> bytes:
    """Insert markup as the last child of the first `parent` element (expanding <p/>)."""
    opening = _start_tag(data, parent)
    if opening is None:
        raise DamagedPart(f"<{parent.decode()}> is missing")
    prefix = opening.group(1)
    if opening.group(0).endswith(b"/>"):
        tag = opening.group(0)[:-2].rstrip() + b">"
        closing = b"</" + prefix + parent + b">"
        return data[: opening.start()] + tag + markup + closing + data[opening.end() :]
    close = data.find(b"</" + prefix + parent + b">", opening.end())
    if close < 0:
        raise DamagedPart(f"<{parent.decode()}> is not closed")
    return data[:close] + markup + data[close:]


def add_relationship(data: bytes, rid: str, rel_type: str, target: str) -> bytes:
    markup = (
        f'<Relationship Id="{escape_attr(rid)}" Type="{rel_type}" Target="{escape_attr(target)}"/>'
    )
    return insert_before_close(data, b"Relationships", markup.encode())


def add_override(data: bytes, part: str, content_type: str) -> bytes:
    markup = f'<Override PartName="/{escape_attr(part)}" ContentType="{content_type}"/>'
    return insert_before_close(data, b"Types", markup.encode())


_RELATIONSHIPS_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def add_sheet_entry(data: bytes, name: str, sheet_id: int, rid: str, hidden: bool) -> bytes:
    opening = _start_tag(data, b"sheets")
    if opening is None:
        raise DamagedPart("the workbook lists no sheets")
    prefix = opening.group(1).decode()
    state = ' state="hidden"' if hidden else ""
    # The new element declares the relationships prefix itself: writers differ in where they
    # declare it (on <workbook>, or on each <sheet> as openpyxl with lxml does), and a prefix
    # declared on a sibling is not in scope here.
    markup = (
        f'<{prefix}sheet xmlns:r="{_RELATIONSHIPS_NS}" name="{escape_attr(name)}" '
        f'sheetId="{sheet_id}"{state} r:id="{escape_attr(rid)}"/>'
    )
    return insert_before_close(data, b"sheets", markup.encode())


# Children of <workbook> that come after <calcPr> in the schema's sequence.
_AFTER_CALC_PR = (
    b"oleSize|customWorkbookViews|pivotCaches|smartTagPr|smartTagTypes|webPublishing|"
    b"fileRecoveryPr|webPublishObjects|extLst"
)


def set_full_calc_on_load(data: bytes) -> bytes:
    """Ask Excel to recompute every formula when it opens the workbook."""
    calc = _start_tag(data, b"calcPr")
    if calc is not None:
        if get_attr(calc.group(0), b"fullCalcOnLoad") in (b"1", b"true"):
            return data
        tag = set_attr(calc.group(0), b"fullCalcOnLoad", b"1")
        return data[: calc.start()] + tag + data[calc.end() :]
    root = _start_tag(data, b"workbook")
    if root is None:
        raise DamagedPart("the workbook part has no <workbook> element")
    prefix = root.group(1)
    markup = b"<" + prefix + b'calcPr fullCalcOnLoad="1"/>'
    later = re.compile(rb"<(?:[\w.-]+:)?(?:" + _AFTER_CALC_PR + rb")(?=[\s/>])")
    follower = later.search(data, root.end())
    if follower is not None:
        return data[: follower.start()] + markup + data[follower.start() :]
    close = data.rfind(b"</" + prefix + b"workbook>")
    if close < 0:
        raise DamagedPart("the workbook part is not closed")
    return data[:close] + markup + data[close:]


# --------------------------------------------------------------------------- styles

# Built-in number formats that show a date (14-17, 22). 18-21 and 45-47 show only a time.
_BUILTIN_DATE_FORMATS = frozenset({14, 15, 16, 17, 22})
_FORMAT_NOISE_RE = re.compile(r'"[^"]*"|\\.|_.|\*.|\[[^\]]*\]|am/pm|a/p', re.IGNORECASE)
_ELAPSED_RE = re.compile(r"\[(h+|m+|s+)\]", re.IGNORECASE)


def is_date_format_code(code: str) -> bool:
    """True when a custom number format shows a calendar date (not only a time)."""
    text = _ELAPSED_RE.sub("h", code)
    text = _FORMAT_NOISE_RE.sub("", text).lower()
    if "d" in text or "y" in text:
        return True
    # Without days or years, 'm' is a month only when no hours or seconds surround it.
    return "m" in text and "h" not in text and "s" not in text


class StyleSheet:
    """The cell formats of styles.xml, enough to tell and to find date formats."""

    def __init__(self, part: str | None, data: bytes | None) -> None:
        self.part = part
        self.data = data
        self.changed = False
        self._formats: dict[int, str] = {}
        self._xfs: list[dict[str, str]] = []
        self._date_style: int | None = None
        self._shows_date: dict[int, bool] = {}
        if data is not None and part is not None:
            self._read(parse_xml(part, data))

    def _read(self, root: ET.Element) -> None:
        for element in root:
            name = local_name(element.tag)
            if name == "numFmts":
                for fmt in element:
                    self._formats[int(fmt.get("numFmtId", "0"))] = fmt.get("formatCode", "")
            elif name == "cellXfs":
                for xf in element:
                    attrs = dict(xf.attrib)
                    attrs["_children"] = "1" if len(xf) else ""
                    self._xfs.append(attrs)

    def shows_date(self, style: int) -> bool:
        known = self._shows_date.get(style)
        if known is None:
            known = self._shows_date[style] = self._format_shows_date(style)
        return known

    def _format_shows_date(self, style: int) -> bool:
        if not 0 <= style < len(self._xfs):
            return False
        fmt = int(self._xfs[style].get("numFmtId", "0"))
        code = self._formats.get(fmt)
        if code is None:
            return fmt in _BUILTIN_DATE_FORMATS
        return is_date_format_code(code)

    def date_style(self) -> int:
        """A cell format that shows a date; added to styles.xml only when none exists."""
        if self._date_style is None:
            self._date_style = self._find_date_style()
            if self._date_style is None:
                self._date_style = self._add_date_style()
        return self._date_style

    def _find_date_style(self) -> int | None:
        base = self._xfs[0] if self._xfs else {}

        def plain(xf: dict[str, str]) -> bool:
            same = all(
                xf.get(key, "0") == base.get(key, "0") for key in ("fontId", "fillId", "borderId")
            )
            return same and not xf["_children"]

        candidates = [i for i in range(len(self._xfs)) if self.shows_date(i)]
        if not candidates:
            return None
        return min(
            candidates,
            key=lambda i: (not plain(self._xfs[i]), self._xfs[i].get("numFmtId") != "14", i),
        )

    def _add_date_style(self) -> int:
        if self.data is None:
            raise DamagedPart("the workbook has no styles part, so a date cannot be formatted")
        base = self._xfs[0] if self._xfs else {}
        # The workbook's default font, fill and border: a date that looks like other cells.
        looks = {key: base.get(key, "0") for key in ("fontId", "fillId", "borderId")}
        opening = _start_tag(self.data, b"cellXfs")
        if opening is None:
            raise DamagedPart(f"{self.part} has no <cellXfs>")
        xf = (
            f'<{opening.group(1).decode()}xf numFmtId="14" fontId="{looks["fontId"]}" '
            f'fillId="{looks["fillId"]}" borderId="{looks["borderId"]}" xfId="0" '
            'applyNumberFormat="1"/>'
        )
        data = insert_before_close(self.data, b"cellXfs", xf.encode())
        opening = _start_tag(data, b"cellXfs")
        assert opening is not None
        count = str(len(self._xfs) + 1).encode()
        tag = set_attr(opening.group(0), b"count", count)
        self.data = data[: opening.start()] + tag + data[opening.end() :]
        self.changed = True
        self._xfs.append({"numFmtId": "14", "_children": "", **looks})
        self._shows_date.clear()
        return len(self._xfs) - 1


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class TableInfo:
    part: str
    name: str
    box: Box
    header_rows: int
    totals_rows: int
    columns: tuple[str, ...]
    max_id: int

    @property
    def header_row(self) -> int | None:
        return self.box.first_row if self.header_rows else None

    @property
    def totals_row(self) -> int | None:
        return self.box.last_row if self.totals_rows else None


def read_table(part: str, data: bytes) -> TableInfo:
    root = parse_xml(part, data)
    names: list[str] = []
    max_id = 0
    for element in root.iter():
        if local_name(element.tag) == "tableColumn":
            names.append(element.get("name", ""))
            max_id = max(max_id, int(element.get("id", "0")))
    return TableInfo(
        part=part,
        name=root.get("displayName") or root.get("name") or part,
        box=Box.parse(root.get("ref", "A1")),
        header_rows=int(root.get("headerRowCount", "1")),
        totals_rows=int(root.get("totalsRowCount", "0")),
        columns=tuple(names),
        max_id=max_id,
    )


def extend_table(data: bytes, table: TableInfo, box: Box, new_columns: list[str]) -> bytes:
    """Grow a table part to `box`, naming the columns it gains."""
    root = _start_tag(data, b"table")
    if root is None:
        raise DamagedPart(f"{table.part} has no <table>")
    tag = set_attr(root.group(0), b"ref", str(box).encode())
    data = data[: root.start()] + tag + data[root.end() :]
    data = _extend_auto_filter(data, table.box, box)
    if not new_columns:
        return data
    columns = _start_tag(data, b"tableColumns")
    if columns is None:
        raise DamagedPart(f"{table.part} has no <tableColumns>")
    markup = b"".join(
        b'<%stableColumn id="%d" name="%s"/>'
        % (columns.group(1), table.max_id + offset, escape_attr(name).encode())
        for offset, name in enumerate(new_columns, start=1)
    )
    data = insert_before_close(data, b"tableColumns", markup)
    columns = _start_tag(data, b"tableColumns")
    assert columns is not None
    count = str(len(table.columns) + len(new_columns)).encode()
    tag = set_attr(columns.group(0), b"count", count)
    return data[: columns.start()] + tag + data[columns.end() :]


def _extend_auto_filter(data: bytes, old: Box, new: Box) -> bytes:
    found = _start_tag(data, b"autoFilter")
    if found is None:
        return data
    ref = get_attr(found.group(0), b"ref")
    if ref is None:
        return data
    current = Box.parse(ref.decode())
    grown = Box(
        current.first_row,
        current.first_col,
        current.last_row + (new.last_row - old.last_row),
        current.last_col + (new.last_col - old.last_col),
    )
    tag = set_attr(found.group(0), b"ref", str(grown).encode())
    return data[: found.start()] + tag + data[found.end() :]


# --------------------------------------------------------------------------- shared strings


class SharedStrings:
    """Shared strings decoded on demand: most writes never need them."""

    _SI_RE = re.compile(rb"<(?:[\w.-]+:)?si(?=[\s/>])[^>]*?(?:/>|>(.*?)</(?:[\w.-]+:)?si>)", re.S)

    def __init__(self, load: Callable[[], bytes | None]) -> None:
        self._load = load
        self._items: list[bytes] | None = None
        self._plain = False
        self._decoded: dict[int, str] = {}

    def __getitem__(self, index: int) -> str:
        if self._items is None:
            self._items = self._split(self._load() or b"")
        if not 0 <= index < len(self._items):
            raise DamagedPart(f"shared string {index} does not exist")
        text = self._decoded.get(index)
        if text is None:
            item = self._items[index]
            if self._plain:
                # A piece of the split: the item's markup up to its </si>.
                end = item.find(b"</si>")
                item = item[:end] if end >= 0 else b""
            text = self._decoded[index] = rich_text(item)
        return text

    def _split(self, source: bytes) -> list[bytes]:
        # As Excel writes them (<si> without prefix or attributes, no empty <si/>), the items
        # are found by one split in C: a regex over the 4 MB of a big workbook took 0.2 s
        # for the few strings a write compares.
        starts = source.count(b"<si")
        if starts and source.count(b"<si>") == starts and b":si" not in source:
            self._plain = True
            return source.split(b"<si>")[1:]
        self._plain = False
        return [m.group(1) or b"" for m in self._SI_RE.finditer(source)]


_PHONETIC_RE = re.compile(rb"<(?:[\w.-]+:)?rPh(?=[\s/>]).*?</(?:[\w.-]+:)?rPh>", re.S)
_T_RE = re.compile(rb"<(?:[\w.-]+:)?t(?=[\s/>])[^>]*?(?:/>|>(.*?)</(?:[\w.-]+:)?t>)", re.S)


def rich_text(inner: bytes) -> str:
    """The text of an <si> or <is>: all runs, without phonetic guides."""
    if b"rPh" in inner:
        inner = _PHONETIC_RE.sub(b"", inner)
    return "".join(unescape_text(m.group(1) or b"") for m in _T_RE.finditer(inner))


# --------------------------------------------------------------------------- the worksheet


@dataclass(frozen=True)
class SheetLayout:
    """Where <sheetData> sits in a worksheet part."""

    prefix: bytes  # b"" or b"x:"
    tag_start: int
    tag_end: int
    content_start: int
    content_end: int
    self_closing: bool


def locate_sheet_data(data: bytes) -> SheetLayout:
    opening = re.compile(rb"<((?:[\w.-]+:)?)sheetData(?=[\s/>])[^>]*?(/?)>").search(data)
    if opening is None:
        raise DamagedPart("the worksheet has no <sheetData>")
    prefix = opening.group(1)
    if opening.group(2):
        return SheetLayout(
            prefix, opening.start(), opening.end(), opening.end(), opening.end(), True
        )
    close = data.find(b"</" + prefix + b"sheetData>", opening.end())
    if close < 0:
        raise DamagedPart("the worksheet's <sheetData> is not closed")
    return SheetLayout(prefix, opening.start(), opening.end(), opening.end(), close, False)


class RowSpan(NamedTuple):
    number: int
    start: int
    tag_end: int
    close_start: int  # where </row> starts; == tag_end for a self-closing row
    end: int
    tag: bytes

    @property
    def self_closing(self) -> bool:
        return self.close_start == self.tag_end


_R_ATTR_RE = re.compile(rb"\sr\s*=\s*[\"']([A-Za-z]*)(\d+)[\"']")
_LETTERS_RE = re.compile(rb"[A-Z]{1,3}(?=\d)")


@functools.lru_cache(maxsize=1024)
def _span_bounds(spans: bytes) -> tuple[int, int] | None:
    """The first and last column of a row's spans, None when they do not read as numbers."""
    # spans may list several ranges ("1:3 7:9"); one range over all of them stays true.
    bounds = spans.replace(b" ", b":").split(b":")
    if not all(bound.isdigit() for bound in bounds):
        return None
    return min(map(int, bounds)), max(map(int, bounds))


@functools.lru_cache(maxsize=20_000)
def _column_of(letters: bytes) -> int:
    return column_number(letters.decode())


@dataclass(frozen=True)
class Markup:
    """Compiled patterns for the sheet's element names (with its namespace prefix, if any)."""

    prefix: bytes
    row_start: re.Pattern[bytes]
    row_close: bytes
    cell_start: re.Pattern[bytes]
    cell_open: bytes
    #: The start of every cell (<c followed by a space, a line break, "/" or ">"): with
    #: plain_head, whether every cell of a row starts with r= (_RowEditor._cells).
    cell_any: re.Pattern[bytes]
    cell_close: bytes
    value_mark: re.Pattern[bytes]
    formula: re.Pattern[bytes]
    value: re.Pattern[bytes]
    inline: re.Pattern[bytes]
    #: A cell in the exact shape Excel (and this module) writes, parsed in one match.
    plain_cell: re.Pattern[bytes]
    plain_head: bytes
    #: The number of a row that starts as Excel writes it; with row_numbers, every row
    #: start (and any element named row...) gives one, empty when it is not there.
    row_number: re.Pattern[bytes]
    row_numbers: re.Pattern[bytes]
    #: A row start without its number first.
    row_unnumbered: re.Pattern[bytes]
    #: row_start with the row's number when it comes first, as Excel writes it (group 2;
    #: None otherwise): the same matches, one search less for each row of iter_rows.
    row_start_numbered: re.Pattern[bytes]


# A cell as Excel writes it (r, s, t in that order; a value or a plain inline string, no
# formula), with "@" standing for the namespace prefix. Groups: the start tag's attributes,
# column letters, style, type, <v> text, <t> text.
_PLAIN_CELL = (
    rb'(<@c r="([A-Z]{1,3})\d+"(?: s="(\d+)")?(?: t="(\w+)")?)(?:/>|>'
    rb'(?:<@v>([^<]*)</@v>|<@is><@t(?: xml:space="preserve")?>([^<]*)</@t></@is>)?</@c>)'
)


@functools.lru_cache(maxsize=8)
def markup(prefix: bytes) -> Markup:
    p = re.escape(prefix)
    return Markup(
        prefix=prefix,
        row_start=re.compile(rb"<" + p + rb"row(?=[\s/>])[^>]*?(/?)>"),
        row_close=b"</" + prefix + b"row>",
        cell_start=re.compile(rb"<" + p + rb"c(?=[\s/>])[^>]*?(/?)>"),
        cell_open=b"<" + prefix + b"c",
        cell_any=re.compile(rb"<" + p + rb"c(?=[\s/>])"),
        cell_close=b"</" + prefix + b"c>",
        value_mark=re.compile(rb"<" + p + rb"(?:v|is|f)(?=[\s/>])"),
        formula=re.compile(rb"<" + p + rb"f(?=[\s/>])"),
        value=re.compile(rb"<" + p + rb"v(?:\s[^>]*)?>(.*?)</" + p + rb"v>", re.S),
        inline=re.compile(rb"<" + p + rb"is(?:\s[^>]*)?>(.*?)</" + p + rb"is>", re.S),
        plain_cell=re.compile(_PLAIN_CELL.replace(b"@", p)),
        plain_head=b"<" + prefix + b'c r="',
        row_number=re.compile(rb"<" + p + rb'row r="(\d+)"'),
        row_numbers=re.compile(rb"<" + p + rb'row(?: r="(\d+)")?'),
        row_unnumbered=re.compile(rb"<" + p + rb'row(?! r=")'),
        row_start_numbered=re.compile(rb"<" + p + rb'row(?=[\s/>])(?: r="(\d+)")?[^>]*?(/?)>'),
    )


def iter_rows(data: bytes, layout: SheetLayout, index: int = 0) -> Iterator[RowSpan]:
    """Every <row> in sheetData; rows without r= are numbered by position (after `index`,
    the number of the row before the first one, when data is a piece of a part)."""
    names = markup(layout.prefix)
    search, close = names.row_start_numbered.search, names.row_close
    width, content_end = len(close), layout.content_end
    pos = layout.content_start
    while True:
        match = search(data, pos, content_end)
        if match is None:
            return
        tag, first, closed = match.group(0, 1, 2)
        if first is not None:
            index = int(first)
        else:
            number = _R_ATTR_RE.search(tag)
            index = int(number.group(2)) if number else index + 1
        tag_end = match.end()
        if closed:
            end = close_start = tag_end
        else:
            close_start = data.find(close, tag_end, content_end)
            if close_start < 0:
                raise DamagedPart(f"row {index} is not closed")
            end = close_start + width
        yield RowSpan(index, match.start(), tag_end, close_start, end, tag)
        pos = end


def _rows_below(data: bytes, limit: int, names: Markup, target: int) -> int | None:
    """The number of the last row in data[:limit] when every row there is numbered as Excel
    numbers them and all lie before row `target`: a rewrite can copy them without looking
    at each (a one-row change near the end of a 200,000-row part would otherwise walk every
    row in Python). None when a row must be looked at: one without its number first, one
    at or after `target`, or a last row that is not closed (iter_rows says what is wrong)."""
    # One pass: a row start without its number first (or any element named row...) is
    # found as an empty number.
    numbers = names.row_numbers.findall(data, 0, limit)
    if not numbers or b"" in numbers or max(map(int, numbers)) >= target:
        return None
    last = data.rfind(b"<" + names.prefix + b"row", 0, limit)
    opening = names.row_start.match(data, last, limit)
    if opening is None:
        return None
    if not opening.group(1) and data.find(names.row_close, opening.end(), limit) < 0:
        return None
    return int(numbers[-1])


class CellSpan(NamedTuple):
    column: int
    start: int
    tag_end: int
    close_start: int  # == tag_end for a self-closing cell
    end: int
    tag: bytes
    #: (style, type, stored text) when the cell is plain: no formula, no rich text.
    plain: tuple[int, bytes, bytes | None] | None = None

    def attr(self, name: bytes) -> bytes | None:
        return get_attr(self.tag, name)

    @property
    def style(self) -> int:
        if self.plain is not None:
            return self.plain[0]
        value = self.attr(b"s") if b"s=" in self.tag else None
        return int(value) if value else 0


def _plain_cell(
    data: bytes, start: int, limit: int, names: Markup, column: int = 0
) -> CellSpan | None:
    """The plain cell at `start`, or None; `column`, when given, is the one its r= names
    (the caller found it by it), so its letters need not be read again."""
    match = names.plain_cell.match(data, start, limit)
    if match is None:
        return None
    _, letters, style, kind, value, text = match.groups()
    head_end = match.end(1)
    tag_end = head_end + (2 if data[head_end] == 47 else 1)  # 47 is "/"
    end = match.end()
    close_start = tag_end if tag_end == end else end - len(names.cell_close)
    plain = (int(style) if style else 0, kind or b"n", text if kind == b"inlineStr" else value)
    if not column:
        column = _column_of(letters)
    return CellSpan(column, start, tag_end, close_start, end, data[start:tag_end], plain)


def _by_column(cell: CellSpan) -> int:
    return cell.column


def _cell_at(data: bytes, start: int, limit: int, names: Markup, column: int) -> CellSpan:
    """The cell whose start tag begins at `start` (checked by the caller)."""
    match = names.cell_start.match(data, start, limit)
    if match is None:
        raise DamagedPart(f"a cell in column {column_letters(column)} is malformed")
    if match.group(1):
        return CellSpan(column, start, match.end(), match.end(), match.end(), match.group(0))
    close_start = data.find(names.cell_close, match.end(), limit)
    if close_start < 0:
        raise DamagedPart(f"a cell in column {column_letters(column)} is not closed")
    end = close_start + len(names.cell_close)
    return CellSpan(column, start, match.end(), close_start, end, match.group(0))


def iter_cells(data: bytes, row: RowSpan, prefix: bytes) -> Iterator[CellSpan]:
    names = markup(prefix)
    pos, column = row.tag_end, 0
    while True:
        match = names.cell_start.search(data, pos, row.close_start)
        if match is None:
            return
        ref = _R_ATTR_RE.search(match.group(0))
        column = column_number(ref.group(1).decode()) if ref else column + 1
        cell = _cell_at(data, match.start(), row.close_start, names, column)
        yield cell
        pos = cell.end


@dataclass
class SheetContext:
    """What a sheet rewrite needs from the rest of the package."""

    tab: str
    epoch: date
    styles: StyleSheet
    shared_strings: SharedStrings
    #: (row, first column, last column, table name) of tables' totals rows.
    totals_rows: list[tuple[int, int, int, str]] = field(default_factory=list)
    #: Widths (in characters) for columns added now: column -> width. A column that has
    #: no width of its own gets it, so a date or a sentence in it is readable.
    new_widths: dict[int, float] = field(default_factory=dict)
    #: An edit of what follows </sheetData> (that markup, the namespace prefix -> new
    #: markup): the status colours of a Status column added now (_xlsxformat.py).
    after_sheet_data: Callable[[bytes, bytes], bytes] | None = None


@dataclass
class SheetRewrite:
    """The new worksheet part as pieces of the old one plus new bytes."""

    chunks: list[bytes | memoryview]
    cells_written: int
    skipped: list[str]

    @property
    def size(self) -> int:
        return sum(len(chunk) for chunk in self.chunks)

    def to_bytes(self) -> bytes:
        return b"".join(self.chunks)


_MISSING = object()


def serial(value: date, epoch: date) -> float | int:
    """A date as a spreadsheet serial number in the workbook's date system."""
    if isinstance(value, datetime):
        base = datetime(epoch.year, epoch.month, epoch.day, tzinfo=value.tzinfo)
        delta = value - base
        whole = delta.days
        seconds = delta.seconds + delta.microseconds / 1e6
        return whole if seconds == 0 else whole + seconds / 86400
    return (value - epoch).days


class CellsChanged(NamedTuple):
    """The cells a row rewrite changed, when every cell of the row starts with r= (so each
    is where its r= says, whatever is taken out or put in beside it): their columns, and
    each cell as it was (`taken`) and as it is (`put`), as its markup after its reference
    (`<c r="T5"` cut off: ` t="inlineStr"><is>...</c>`, which is all a reader takes its
    value from). A cell put in has nothing taken (b""); a cell taken out, nothing put.
    The rest of the new row is the old row's bytes: these are all that changed."""

    number: int
    columns: tuple[int, ...]
    taken: tuple[bytes, ...]
    put: tuple[bytes, ...]


class _RowEditor:
    """Rewrites rows of one sheet: only the cells asked for, everything else byte for byte."""

    def __init__(
        self,
        data: bytes,
        layout: SheetLayout,
        ctx: SheetContext,
        header_cells: frozenset[tuple[int, int]],
        column_styles: Mapping[int, int],
    ) -> None:
        #: The bytes the row and cell spans point into (one piece of the part at a time).
        self.data = data
        self.prefix = layout.prefix
        self.ctx = ctx
        self.header_cells = header_cells
        self.column_styles = column_styles
        self.cells_written = 0
        self.skipped: list[str] = []
        self.names = markup(self.prefix)
        self._made: dict[tuple[type, CellValue, int], bytes] = {}
        #: <c r="LETTERS by column.
        self._heads: dict[int, bytes] = {}
        #: Where the row being rewritten closes (rewrite_row).
        self._row_close = 0
        #: Whether rewrite_row says which cells it changed (`changed`), for a check that
        #: wants them (RewriteCheck.wants_cells).
        self.keep_cells = False
        #: The cells the last rewrite_row changed; None when its row was parsed in full
        #: (_cells: some cell may have no r=, so only the whole row says where each is).
        self.changed: CellsChanged | None = None
        self._by_reference = False

    # -- rows

    def new_row(self, index: int, writes: Mapping[int, CellValue]) -> bytes | None:
        # _insert without a cell to the left or a row style, inlined: a new tab of 30,000
        # rows is made here.
        emit, styles, guarded = self._emit, self.column_styles, bool(self.ctx.totals_rows)
        cells = [
            emit(index, column, value, styles.get(column, 0))
            for column, value in sorted(writes.items())
            if value is not None
            and value != ""
            and not (guarded and self._protected(index, column))
        ]
        body = b"".join(cells)
        if not body:
            return None
        p = self.prefix
        return b'<%srow r="%d">%s</%srow>' % (p, index, body, p)

    def rewrite_row(self, row: RowSpan, writes: Mapping[int, CellValue]) -> bytes | None:
        # This runs for every written row of a sheet that may hold 200,000 of them: it keeps
        # to a few calls per cell.
        data, index = self.data, row.number
        self._row_close = row.close_start
        cells = self._cells(row, writes)
        row_style = self._row_style(row.tag) if b"customFormat" in row.tag else None
        count = len(writes)
        if count == 1 and len(cells) == 1:
            # One cell written where a cell is: what most rows of a nightly refresh are (the
            # loop below, for this case alone).
            ((column, value),) = writes.items()
            cell = cells[0]
            if cell.column == column:
                replaced = self._replace(index, cell, value)
                if replaced is None:
                    return None
                if self.keep_cells:
                    self._keep_changed(row, [(column, data[cell.start : cell.end], replaced)])
                return b"".join(
                    (
                        self._row_tag(row, column, column),
                        data[row.tag_end : cell.start],
                        replaced,
                        data[cell.end : row.close_start],
                        self.names.row_close,
                    )
                )
        pending = sorted(writes.items()) if count > 1 else list(writes.items())
        pieces: list[bytes] = []
        changes: list[tuple[int, bytes, bytes]] | None = [] if self.keep_cells else None
        pos = row.tag_end
        left: CellSpan | None = None
        wi = 0
        for cell in cells:
            while wi < count and pending[wi][0] < cell.column:
                column, value = pending[wi]
                wi += 1
                new = self._insert(index, column, value, left, row_style)
                if new:
                    pieces += (data[pos : cell.start], new)
                    pos = cell.start
                    if changes is not None:
                        changes.append((column, b"", new))
            if wi < count and pending[wi][0] == cell.column:
                replaced = self._replace(index, cell, pending[wi][1])
                wi += 1
                if replaced is not None:
                    pieces += (data[pos : cell.start], replaced)
                    pos = cell.end
                    if changes is not None:
                        changes.append((cell.column, data[cell.start : cell.end], replaced))
            left = cell
        tail_at = cells[-1].end if cells else row.tag_end
        for column, value in pending[wi:]:
            new = self._insert(index, column, value, left, row_style)
            if new:
                pieces += (data[pos:tail_at], new)
                pos = tail_at
                if changes is not None:
                    changes.append((column, b"", new))
        if not pieces:
            return None
        if changes is not None:
            self._keep_changed(row, changes)
        pieces.append(data[pos : row.close_start])
        tag = self._row_tag(row, pending[0][0], pending[-1][0])
        return tag + b"".join(pieces) + self.names.row_close

    def _keep_changed(self, row: RowSpan, changes: list[tuple[int, bytes, bytes]]) -> None:
        """`changed`: the cells changed, each as its markup after its reference, when every
        cell of the row starts with r= and each changed one names its own column and row
        (else None: the row is kept whole)."""
        self.changed = None
        if not self._by_reference:
            return
        number = b'%d"' % row.number
        heads = self._heads
        taken: list[bytes] = []
        put: list[bytes] = []
        for column, old, new in changes:
            head = (heads.get(column) or self._head(column)) + number
            if (old and not old.startswith(head)) or (new and not new.startswith(head)):
                return  # a cell found by its place whose r= names another
            cut = len(head)
            taken.append(old[cut:])
            put.append(new[cut:])
        self.changed = CellsChanged(
            row.number, tuple(column for column, _, _ in changes), tuple(taken), tuple(put)
        )

    def _cells(self, row: RowSpan, writes: Mapping[int, CellValue]) -> list[CellSpan]:
        """The cells that matter for these writes: the written ones, the first cell to the
        right of each absent one (where it goes in), and the last one when a write goes
        after it.

        Finding them by their r= saves parsing every cell of every row. That is exact only
        when every cell of the row starts with r=, which three plain counts tell; a row
        that does not (cells without r=, attributes in another order), or that gets a new
        header (it takes the style of the cell to its left), is parsed in full (and
        `_by_reference` is then False).
        """
        self._by_reference = False
        if row.self_closing:
            return []
        data, names = self.data, self.names
        start, end = row.tag_end, row.close_start
        headers = self.header_cells
        if headers and any((row.number, column) in headers for column in writes):
            return list(iter_cells(data, row, self.prefix))
        count = data.count
        head = names.plain_head
        # Every "<c" a "<c r=\"" (the usual row: two counts) settles it; else (rich text holds
        # <color>, <charset>...) every cell's start is counted, a bare <c/> and a line break
        # after <c included: a cell found only by its place must not be missed.
        plain_heads = count(head, start, end)
        if plain_heads != count(names.cell_open, start, end) and plain_heads != len(
            names.cell_any.findall(data, start, end)
        ):
            return list(iter_cells(data, row, self.prefix))
        at_last = data.rfind(head, start, end)
        if at_last < 0:
            return []  # no cells at all
        letters = _LETTERS_RE.match(data, at_last + len(head))
        if letters is None:
            return list(iter_cells(data, row, self.prefix))
        last_column = _column_of(letters.group(0))
        self._by_reference = True
        # A cell found by its r= (cell_at, inlined: this runs for every written row).
        heads, plain_cell = self._heads, _plain_cell
        number = b'%d"' % row.number
        if len(writes) == 1:
            # One cell written, the usual case: no bookkeeping of the others.
            for column in writes:
                if column >= last_column:
                    at, column = at_last, last_column
                else:
                    at = data.find((heads.get(column) or self._head(column)) + number, start, end)
                if at >= 0:
                    cell = plain_cell(data, at, end, names, column)
                    return [cell or _cell_at(data, at, end, names, column)]
        found: dict[int, CellSpan] = {}
        absent: set[int] = set()
        for column in writes:
            if column >= last_column:
                if last_column not in found or not found[last_column].tag:
                    found[last_column] = plain_cell(
                        data, at_last, end, names, last_column
                    ) or _cell_at(data, at_last, end, names, last_column)
                continue
            known = found.get(column)
            if known is not None:
                if not known.tag:  # found as where another goes in: now it is written
                    found[column] = plain_cell(data, known.start, end, names, column) or _cell_at(
                        data, known.start, end, names, column
                    )
                continue
            if column in absent:
                continue
            # Every cell of the row starts with <c r=": one search finds it or proves it absent.
            at = data.find((heads.get(column) or self._head(column)) + number, start, end)
            if at >= 0:
                found[column] = plain_cell(data, at, end, names, column) or _cell_at(
                    data, at, end, names, column
                )
                continue
            absent.add(column)
            # The cell goes in before the first cell to its right.
            for right in range(column + 1, last_column + 1):
                if right in found:
                    break
                if right in absent:
                    continue
                at = at_last if right == last_column else -1
                if at < 0:
                    at = data.find(self._head(right) + number, start, end)
                if at < 0:
                    absent.add(right)
                    continue
                # Only where cells go in before it: its start is all that is used.
                found[right] = CellSpan(right, at, at, at, at, b"")
                break
        if len(found) < 2:
            return list(found.values())
        return sorted(found.values(), key=_by_column)

    def _row_tag(self, row: RowSpan, low: int, high: int) -> bytes:
        """The row's start tag, with r= when it had none and spans= widened to the writes."""
        tag = row.tag
        if tag.endswith(b"/>"):
            tag = tag[:-2].rstrip() + b">"
        if b' r="' not in tag and _R_ATTR_RE.search(tag) is None:
            tag = set_attr(tag, b"r", b"%d" % row.number)
        at = tag.find(b' spans="')
        if at < 0:
            return tag
        end = tag.find(b'"', at + 8)
        bounds = _span_bounds(tag[at + 8 : end])
        if bounds is None:
            return tag
        first, last = bounds
        if low < first or high > last:
            spans = b"%d:%d" % (min(low, first), max(high, last))
            tag = tag[: at + 8] + spans + tag[end:]
        return tag

    def _row_style(self, tag: bytes) -> int | None:
        if get_attr(tag, b"customFormat") in (b"1", b"true"):
            style = get_attr(tag, b"s")
            return int(style) if style else 0
        return None

    # -- cells

    def _protected(self, row: int, column: int) -> bool:
        if not self.ctx.totals_rows:
            return False
        for totals_row, first, last, table in self.ctx.totals_rows:
            if row == totals_row and first <= column <= last:
                self.skipped.append(
                    f"{self._where(row, column)} is in the totals row of table {table}; "
                    "left as it is"
                )
                return True
        return False

    def _where(self, row: int, column: int) -> str:
        return f"{self.ctx.tab}!{cell_ref(row, column)}"

    def _insert(
        self,
        row: int,
        column: int,
        value: CellValue,
        left: CellSpan | None,
        row_style: int | None,
    ) -> bytes | None:
        # Once for each cell a first refresh puts in a row (150,000 on 30,000 rows): one
        # call, the checks in the order that settles the common case first.
        if value is None or value == "":
            return None
        if self.ctx.totals_rows and self._protected(row, column):
            return None
        # A new header looks like the header before it; a new data cell takes the style a
        # person typing there would get from the row or the column.
        if left is not None and self.header_cells and (row, column) in self.header_cells:
            style = left.style
            if self.ctx.styles.shows_date(style):
                style = 0
        elif row_style is not None:
            style = row_style
        else:
            style = self.column_styles.get(column, 0)
        return self._emit(row, column, value, style)

    def _replace(self, row: int, cell: CellSpan, value: CellValue) -> bytes | None:
        plain = cell.plain
        if (
            plain is None
            and cell.tag_end != cell.end
            and self.names.formula.search(self.data, cell.tag_end, cell.close_start)
        ):
            self.skipped.append(f"{self._where(row, cell.column)} holds a formula; left as it is")
            return None
        if self.ctx.totals_rows and self._protected(row, cell.column):
            return None
        style = cell.style if plain is None else plain[0]
        if plain is not None and type(value) is str and value and plain[1] == b"inlineStr":
            # _same for a text written over a plain inline text (a Why over last night's).
            raw = plain[2]
            if raw is not None and unescape_text(raw) == _clean_cached(value):
                return None
        elif self._same(cell, value, style):
            return None
        if _is_empty(value):
            self.cells_written += 1
            if cell.attr(b"s") is not None:
                return b'<%sc r="%s" s="%d"/>' % (self.prefix, _ref(row, cell.column), style)
            if self._referenced_after(cell.end):
                return b""
            # A cell without r= takes the column after the one before it: taken out, this
            # one would move the cells after it one column to the left.
            return b'<%sc r="%s"/>' % (self.prefix, _ref(row, cell.column))
        return self._emit(row, cell.column, value, style)

    def _referenced_after(self, start: int) -> bool:
        """Whether every cell after `start` in the row being rewritten starts with r= (the
        counts of _cells)."""
        data, names, end = self.data, self.names, self._row_close
        heads = data.count(names.plain_head, start, end)
        return heads == data.count(names.cell_open, start, end) or heads == len(
            names.cell_any.findall(data, start, end)
        )

    def _emit(self, row: int, column: int, value: CellValue, style: int) -> bytes:
        # A cell's markup after its reference depends only on the value and the style:
        # statuses, steps, owners and dates repeat down a sheet, so it is made once.
        key = (type(value), value, style)
        rest = self._made.get(key)
        if rest is None:
            full = self._make(row, column, value, style)
            ref = b"%s%d" % (_letters(column), row)
            at = full.index(ref) + len(ref)
            rest = full[at:]
            if len(self._made) > 100_000:
                self._made.clear()
            self._made[key] = rest
            return full
        self.cells_written += 1
        head = self._heads.get(column)
        if head is None:
            head = self._head(column)
        return b"%s%d%s" % (head, row, rest)

    def _head(self, column: int) -> bytes:
        """<c r="LETTERS of a column: the start of its cells' markup, up to the row number."""
        head = self._heads.get(column)
        if head is None:
            head = self._heads[column] = self.names.plain_head + _letters(column)
        return head

    def _make(self, row: int, column: int, value: CellValue, style: int) -> bytes:
        p = self.prefix
        self.cells_written += 1
        kind = type(value)
        if kind is str:
            assert isinstance(value, str)
            return b'<%sc r="%s"%s t="inlineStr">%s</%sc>' % (
                p, _ref(row, column), _style_attr(style), _inline_string(p, value), p,
            )  # fmt: skip
        if kind is bool:
            return b'<%sc r="%s"%s t="b"><%sv>%d</%sv></%sc>' % (
                p, _ref(row, column), _style_attr(style), p, bool(value), p, p,
            )  # fmt: skip
        if isinstance(value, date):
            if not self.ctx.styles.shows_date(style):
                style = self.ctx.styles.date_style()
            number = _number(serial(value, self.ctx.epoch))
        elif isinstance(value, (int, float)):
            number = _number(value)
        else:
            # A str subclass, such as a (str, Enum) member, is written as its own text.
            self.cells_written -= 1
            return self._make(row, column, str.__str__(value), style)
        if number is None:
            raise SheetError(f"{self._where(row, column)}: {value} cannot be stored in a cell")
        return b'<%sc r="%s"%s><%sv>%s</%sv></%sc>' % (
            p, _ref(row, column), _style_attr(style), p, number, p, p,
        )  # fmt: skip

    def _same(self, cell: CellSpan, value: CellValue, style: int) -> bool:
        current = self._current(cell)
        if _is_empty(value):
            return current is None or current == ""
        if isinstance(value, str):
            return isinstance(current, str) and current == _clean_cached(str.__str__(value))
        if isinstance(value, bool):
            return isinstance(current, bool) and current == value
        if isinstance(value, date):
            if not self.ctx.styles.shows_date(style):
                return False
            wanted: float = serial(value, self.ctx.epoch)
        else:
            assert value is not None
            wanted = value
        return isinstance(current, float) and current == wanted

    def _current(self, cell: CellSpan) -> object:
        """The cell's value: str, float, bool, None, or _MISSING for errors and the like."""
        if cell.plain is not None:
            _, kind, raw = cell.plain
            if raw is None:
                return None
            return unescape_text(raw) if kind == b"inlineStr" else self._decode(kind, raw)
        if cell.tag_end == cell.end:
            return None
        data = self.data
        kind = (cell.attr(b"t") if b"t=" in cell.tag else None) or b"n"
        if kind == b"inlineStr":
            match = self.names.inline.search(data, cell.tag_end, cell.close_start)
            return rich_text(match.group(1)) if match else None
        match = self.names.value.search(data, cell.tag_end, cell.close_start)
        return None if match is None else self._decode(kind, match.group(1))

    def _decode(self, kind: bytes, raw: bytes) -> object:
        if kind == b"s":
            return self.ctx.shared_strings[int(raw)]
        if kind == b"str":
            return unescape_text(raw)
        if kind == b"b":
            return raw.strip() in (b"1", b"true")
        if kind == b"n":
            try:
                return float(raw)
            except ValueError:
                return _MISSING
        return _MISSING


def _is_empty(value: CellValue) -> bool:
    return value is None or value == ""


def _style_attr(style: int) -> bytes:
    return b' s="%d"' % style if style else b""


def _number(value: float | int) -> bytes | None:
    """A number as stored in <v>; None for NaN and infinities, which a cell cannot hold."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if value.is_integer() and abs(value) < 1e15:
            return b"%d" % int(value)
        return repr(value).encode()
    return b"%d" % value


@functools.lru_cache(maxsize=20_000)
def _letters(column: int) -> bytes:
    return column_letters(column).encode()


def _ref(row: int, column: int) -> bytes:
    return b"%s%d" % (_letters(column), row)


@functools.lru_cache(maxsize=65_536)
def _clean_cached(text: str) -> str:
    return clean_text(text)


@functools.lru_cache(maxsize=65_536)
def _inline_string(prefix: bytes, value: str) -> bytes:
    """<is><t>text</t></is> for a value; statuses and steps repeat, so this is cached."""
    text = escape_text(_clean_cached(value))
    space = b' xml:space="preserve"' if text != text.strip() else b""
    return b"<%sis><%st%s>%s</%st></%sis>" % (
        prefix, prefix, space, text.encode(), prefix, prefix,
    )  # fmt: skip


_COL_RE = re.compile(rb"<(?:[\w.-]+:)?col(?=[\s/>])[^>]*>")
_COLS_RE = re.compile(rb"<(?:[\w.-]+:)?cols(?=[\s/>])[^>]*?(/?)>")


def widen_columns(head: bytes, prefix: bytes, widths: Mapping[int, float]) -> bytes:
    """The part of a worksheet before <sheetData> with a <col> width for each new column
    that no <col> covers yet (a column someone sized keeps its width)."""
    ranges = []
    for match in _COL_RE.finditer(head):
        low, high = get_attr(match.group(0), b"min"), get_attr(match.group(0), b"max")
        if low and high and low.isdigit() and high.isdigit():
            ranges.append((int(low), int(high)))
    wanted = {
        column: width
        for column, width in widths.items()
        if not any(low <= column <= high for low, high in ranges)
    }
    if not wanted:
        return head
    p = prefix
    cols = {
        column: b'<%scol min="%d" max="%d" width="%s" customWidth="1"/>'
        % (p, column, column, b"%g" % width)
        for column, width in wanted.items()
    }
    found = _COLS_RE.search(head)
    if found is None:
        # <cols> comes right before <sheetData>: the end of the head.
        return head + b"<%scols>%s</%scols>" % (p, b"".join(cols[c] for c in sorted(cols)), p)
    if found.group(1):  # <cols/>
        body = b"".join(cols[c] for c in sorted(cols))
        return head[: found.start()] + b"<%scols>%s</%scols>" % (p, body, p) + head[found.end() :]
    # Each new <col> goes before the first existing one to its right: <col>s stay in order.
    close = head.find(b"</%scols>" % p, found.end())
    if close < 0:
        return head
    out = head[: found.end()]
    at = found.end()
    pending = sorted(cols)
    for match in _COL_RE.finditer(head, found.end(), close):
        low = get_attr(match.group(0), b"min")
        start = int(low) if low and low.isdigit() else 0
        while pending and pending[0] < start:
            out += head[at : match.start()] + cols[pending.pop(0)]
            at = match.start()
    out += head[at:close] + b"".join(cols[c] for c in pending) + head[close:]
    return out


_DIMENSION_RE = re.compile(rb"<(?:[\w.-]+:)?dimension(?=[\s/>])[^>]*>")


def _column_styles(head: bytes) -> dict[int, int]:
    styles: dict[int, int] = {}
    for match in _COL_RE.finditer(head):
        tag = match.group(0)
        low, high, style = get_attr(tag, b"min"), get_attr(tag, b"max"), get_attr(tag, b"style")
        if low and high and style and style != b"0":
            # A style over the whole sheet's width (min=1 max=16384) is rare and harmless.
            for column in range(int(low), min(int(high), 16384) + 1):
                styles[column] = int(style)
    return styles


_SHEET_DATA_RE = re.compile(rb"<((?:[\w.-]+:)?)sheetData(?=[\s/>])[^>]*?(/?)>")


def _discard(_: bytes | memoryview) -> None:
    pass


def hides_markup(data: bytes, start: int = 0) -> bool:
    """True when data, from `start`, holds "<!" or "<?" (a comment, CDATA, a processing
    instruction). Searched for the rare "!" and "?" rather than "<!" and "<?": "<" is
    everywhere, and a search for a needle starting with it stops at each."""
    for mark in (b"!", b"?"):
        at = data.find(mark, start + 1)
        while at >= 0:
            if data[at - 1] == 60:  # "<"
                return True
            at = data.find(mark, at + 1)
    return False


#: RewriteCheck parses the rows it is shown in batches of about this many bytes.
_ROWS_PARSED_AT_ONCE = 256 << 10


class RewriteCheck:
    """The proof, gathered while a worksheet part is rewritten, that the new part is
    well-formed XML wherever it differs from the old one, without parsing the rest: a
    one-row `mark` of a 200,000-row sheet parsed all 190 MB of it again to check one row.

    What is parsed: the part without its rows (everything before the rows and after them,
    as written), each row taken out (one whole element, or the new one could not take its
    place) and each row put in (each alone: it must close everything it opens). Between
    them the old part is copied byte for byte, so the new part is as well-formed as the old
    one was. A part whose rows hold markup that could hide a row (a comment, CDATA, a
    processing instruction) proves nothing this way: `proven` is then False and the part
    is to be parsed whole, as is one where the rows parsed pass `limit` bytes (parsing
    them would cost as much as the whole). A failure is kept in `error`, for the caller
    to refuse the new file with.

    Unless `rows_taken`, the rows taken out are only looked at for such markup, not
    parsed (a nightly refresh rewrites half the rows of a sheet: parsing them twice costs
    more than the whole part). Each is a whole element all the same: in a part without
    such markup a row's start tag cannot hide in a text or a value, and the first end tag
    after it is its own (a row inside a row would leave the row put in, which copies all
    of it but the cells written, unclosed).
    """

    #: Past this many bytes of rows, parsing the rows costs as much as the whole part.
    LIMIT = 4 << 20
    #: Whether `replaced` is to be told the cells that changed (CellsChanged).
    wants_cells = False

    def __init__(self, *, limit: int = LIMIT, rows_taken: bool = True) -> None:
        self.error: str | None = None
        self.proven = True
        self.limit = limit
        self.rows_taken = rows_taken
        self._skeleton = expat.ParserCreate(namespace_separator=" ")
        self._rows = expat.ParserCreate()
        self._rows.Parse(b"<rows>", False)
        self._parsed = 0
        #: Rows not parsed yet (settle), and their size.
        self._held: list[bytes] = []
        self._held_size = 0
        self._head = 0
        self._close = b""
        self._carry = b""
        self._tail = False

    def watch(
        self, out: Callable[[bytes | memoryview], object], prefix: bytes, head: int
    ) -> Callable[[bytes | memoryview], object]:
        """`out`, and the part's bytes looked at on their way (its first `head` bytes are
        everything up to and including the <sheetData> start tag)."""
        self._head = head
        self._close = b"</" + prefix + b"sheetData>"

        def seen(chunk: bytes | memoryview) -> object:
            if self.proven and self.error is None:
                self._see(bytes(chunk))
            return out(chunk)

        return seen

    def _see(self, data: bytes) -> None:
        if self._head:
            head, data = data[: self._head], data[self._head :]
            self._head -= len(head)
            self._parse(self._skeleton, head)
            if not data:
                return
        if self._tail:
            self._parse(self._skeleton, data)
            return
        # Searched for the rare "!" and "?" rather than "<!" and "<?" ("<" is everywhere):
        # a few milliseconds for 30 MB of rows, and nothing joined but the ends of pieces.
        carry = self._carry
        seam = carry + data[: len(self._close)]
        if hides_markup(data) or hides_markup(seam):
            self.proven = False
            return
        at = seam.find(self._close)
        if at >= 0:
            self._tail = True
            self._parse(self._skeleton, seam[at:] + data[len(self._close) :])
            return
        at = data.find(self._close)
        if at >= 0:
            self._tail = True
            self._parse(self._skeleton, data[at:])
            return
        self._carry = (carry + data)[-len(self._close) :] if len(data) < 64 else data[-64:]

    def replaced(self, old: bytes, new: bytes, cells: CellsChanged | None = None) -> None:
        """`old`, a whole row element, was replaced by `new`; `cells` (when wants_cells and
        every cell of the row has r=) says which of its cells changed."""
        if b"<!" in old or b"<?" in old:
            self.proven = False
        if self.rows_taken:
            self._row(old)
        self._row(new)

    def inserted(self, new: bytes) -> None:
        self._row(new)

    def _row(self, data: bytes) -> None:
        if not self.proven or self.error is not None:
            return
        self._parsed += len(data)
        if self._parsed > self.limit:
            self.proven = False
            self._held = []
            return
        # Each inside an element of its own: a row that leaves an element open, or closes
        # one it did not open, breaks the nesting right there. Parsed a batch at a time:
        # a nightly refresh puts in 100,000 rows.
        self._held += (b"<row-of-sheet>", data, b"</row-of-sheet>")
        self._held_size += len(data)
        if self._held_size >= _ROWS_PARSED_AT_ONCE:
            self.settle()

    def settle(self) -> None:
        """Parse the rows held (`error` then says what is wrong with them)."""
        if self._held:
            held, self._held, self._held_size = self._held, [], 0
            if self.proven:
                self._parse(self._rows, b"".join(held))

    def finish(self) -> None:
        self.settle()
        if not self.proven or self.error is not None:
            return
        if not self._tail:
            self.error = "the worksheet's <sheetData> is not closed"
            return
        self._parse(self._skeleton, b"", final=True)
        self._parse(self._rows, b"</rows>", final=True)

    def _parse(self, parser: Any, data: bytes, *, final: bool = False) -> None:
        if self.error is not None:
            return
        try:
            parser.Parse(data, final)
        except expat.ExpatError as exc:
            self.error = str(exc)


def rewrite_stream(
    pieces: Iterable[bytes],
    writes: Mapping[tuple[int, int], CellValue],
    ctx: SheetContext,
    header_cells: frozenset[tuple[int, int]] = frozenset(),
    out: Callable[[bytes | memoryview], object] | None = None,
    check: RewriteCheck | None = None,
) -> tuple[int, list[str]]:
    """Apply cell writes to a worksheet part that arrives in pieces (as it is inflated), and
    hand the new part to `out` in pieces: untouched rows keep their exact bytes, and only
    a piece of the part (a megabyte or so of whole rows) is held at a time.

    Without `out` this is a probe: it stops at the first cell that would change. Returns
    how many cells change (the probe: 0 or 1) and the writes refused, with why (the probe:
    those it met). The caller sends the whole part to `out` only when a probe found a
    change: a part in which nothing changes is copied as it is. `check`, when given (with
    `out` only), is shown the new part and told each row taken out and put in.
    """
    probe = out is None
    if probe:
        check = None
    emit = _discard if out is None else out
    by_row = writes.by_row if isinstance(writes, Writes) else Writes(writes).by_row
    targets = sorted(by_row)
    count = len(targets)
    source = iter(pieces)
    pending = b""
    while True:
        opening = _SHEET_DATA_RE.search(pending)
        if opening is not None:
            break
        piece = next(source, None)
        if piece is None:
            raise DamagedPart("the worksheet has no <sheetData>")
        pending += piece
    prefix = opening.group(1)
    names = markup(prefix)
    head = pending[: opening.start()]
    layout = SheetLayout(prefix, 0, 0, 0, 0, False)
    editor = _RowEditor(pending, layout, ctx, header_cells, _column_styles(head))
    editor.keep_cells = check is not None and check.wants_cells
    box = None if probe else _written_box(writes)
    tag = pending[opening.start() : opening.end()]
    if opening.group(2):
        tag = tag[:-2].rstrip() + b">"
    if ctx.new_widths and not probe:
        head = widen_columns(head, prefix, ctx.new_widths)
    if box is not None:
        head = _grow_dimension(head, box)
    if check is not None and check.proven:
        emit = check.watch(emit, prefix, len(head) + len(tag))
    finish: Callable[[], None] | None = None
    if ctx.after_sheet_data is not None and not probe:
        from sheetfollow.backends._xlsxformat import AfterSheetData  # it imports this module

        after = AfterSheetData(emit, prefix, ctx.after_sheet_data)
        emit, finish = after, after.close
    emit(head)
    emit(tag)
    pending = pending[opening.end() :]
    close_tag = b"</" + prefix + b"sheetData>"
    index = ti = 0
    if opening.group(2):
        pending = close_tag + pending
    while True:
        end = pending.find(close_tag)
        if end >= 0:
            limit, final = end, True
        else:
            cut = pending.rfind(names.row_close)
            if cut < 0:
                piece = next(source, None)
                if piece is None:
                    raise DamagedPart("the worksheet's <sheetData> is not closed")
                pending += piece
                continue
            limit, final = cut + len(names.row_close), False
        pos = 0
        view = memoryview(pending)
        editor.data = pending
        last = _rows_below(pending, limit, names, targets[ti]) if ti < count else None
        rows: Iterable[RowSpan] = ()
        if last is None:
            rows = iter_rows(pending, SheetLayout(prefix, 0, 0, 0, limit, False), index)
        else:
            index = last
        for row in rows:
            index = row.number
            while ti < count and targets[ti] < index:
                new = editor.new_row(targets[ti], by_row[targets[ti]])
                ti += 1
                if new:
                    emit(view[pos : row.start])
                    emit(new)
                    pos = row.start
                    if check is not None:
                        check.inserted(new)
            if ti < count and targets[ti] == index:
                new = editor.rewrite_row(row, by_row[index])
                ti += 1
                if new is not None:
                    emit(view[pos : row.start])
                    emit(new)
                    pos = row.end
                    if check is not None:
                        check.replaced(pending[row.start : row.end], new, editor.changed)
                        editor.keep_cells = check.wants_cells  # it may stop wanting them
            if probe and editor.cells_written:
                return editor.cells_written, editor.skipped
            if ti == count:
                break
        if ti == count or final:
            if final:
                emit(view[pos:limit])
                for index in targets[ti:]:
                    new = editor.new_row(index, by_row[index])
                    if new:
                        if probe:
                            # One new row is a change: the rest need not be made.
                            return editor.cells_written, editor.skipped
                        emit(new)
                        if check is not None:
                            check.inserted(new)
                pos = limit
            if probe:
                return editor.cells_written, editor.skipped
            # Nothing more to change: the rest goes over as it is.
            emit(view[pos:])
            del view
            for piece in source:
                emit(piece)
            if finish is not None:
                finish()
            return editor.cells_written, editor.skipped
        emit(view[pos:limit])
        del view
        piece = next(source, None)
        if piece is None:
            raise DamagedPart("the worksheet's <sheetData> is not closed")
        pending = pending[limit:] + piece


def rewrite_sheet(
    data: bytes,
    writes: Mapping[tuple[int, int], CellValue],
    ctx: SheetContext,
    header_cells: frozenset[tuple[int, int]] = frozenset(),
) -> SheetRewrite:
    """Apply cell writes to a worksheet part held in memory. Untouched rows keep their exact
    bytes; a part in which nothing changes comes back as it is."""
    chunks: list[bytes | memoryview] = []
    writes = Writes(writes)
    written, skipped = rewrite_stream([data], writes, ctx, header_cells, chunks.append)
    if written == 0:
        return SheetRewrite([data], 0, skipped)
    return SheetRewrite(chunks, written, skipped)


def _written_box(writes: Mapping[tuple[int, int], CellValue]) -> Box | None:
    """The range of cells given a value (cells emptied or left alone are inside it already)."""
    if isinstance(writes, Writes):
        rows: list[int] = []
        columns: set[int] = set()
        for row, cells in writes.by_row.items():
            filled = [column for column, value in cells.items() if value not in (None, "")]
            if filled:
                rows.append(row)
                columns.update(filled)
    else:
        keys = [key for key, value in writes.items() if value is not None and value != ""]
        rows = [row for row, _ in keys]
        columns = {column for _, column in keys}
    if not rows:
        return None
    return Box(min(rows), min(columns), max(rows), max(columns))


class Writes(Mapping[tuple[int, int], CellValue]):
    """Cell writes by (row, column), held grouped by row: the form the rewrite walks, and
    a third of the memory of one dictionary entry per cell (a million on a big sheet)."""

    def __init__(self, writes: Mapping[tuple[int, int], CellValue] | None = None) -> None:
        self.by_row: dict[int, dict[int, CellValue]] = {}
        self._count = 0
        for (row, column), value in (writes or {}).items():
            self[row, column] = value

    def __setitem__(self, key: tuple[int, int], value: CellValue) -> None:
        row, column = key
        cells = self.by_row.get(row)
        if cells is None:
            cells = self.by_row[row] = {}
        if column not in cells:
            self._count += 1
        cells[column] = value

    def add_row(self, row: int, cells: dict[int, CellValue]) -> None:
        """Every write of one row at once (column -> value): what a per-cell loop costs
        for the 300,000 cells of a first refresh, once per row."""
        held = self.by_row.get(row)
        if held is None:
            self.by_row[row] = cells
            self._count += len(cells)
            return
        before = len(held)
        held.update(cells)
        self._count += len(held) - before

    def __getitem__(self, key: tuple[int, int]) -> CellValue:
        row, column = key
        return self.by_row[row][column]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for row, cells in self.by_row.items():
            for column in cells:
                yield row, column

    def __len__(self) -> int:
        return self._count

    def items(self) -> Iterator[tuple[tuple[int, int], CellValue]]:  # type: ignore[override]
        for row, cells in self.by_row.items():
            for column, value in cells.items():
                yield (row, column), value

    def values(self) -> Iterator[CellValue]:  # type: ignore[override]
        for cells in self.by_row.values():
            yield from cells.values()


def _grow_dimension(head: bytes, box: Box) -> bytes:
    match = _DIMENSION_RE.search(head)
    if match is None:
        return head
    ref = get_attr(match.group(0), b"ref")
    try:
        current = Box.parse(ref.decode()) if ref else None
    except DamagedPart:
        current = None
    grown = box if current is None else current.union(box)
    if current is not None and grown == current:
        return head
    tag = set_attr(match.group(0), b"ref", str(grown).encode())
    return head[: match.start()] + tag + head[match.end() :]


def last_used_row(pieces: Iterable[bytes]) -> int:
    """The last row with a value or a formula in any cell (0 when there is none), of a
    worksheet part that arrives in pieces, held one at a time."""
    source = iter(pieces)
    pending = b""
    while (opening := _SHEET_DATA_RE.search(pending)) is None:
        piece = next(source, None)
        if piece is None:
            raise DamagedPart("the worksheet has no <sheetData>")
        pending += piece
    if opening.group(2):
        return 0
    prefix = opening.group(1)
    names = markup(prefix)
    close_tag = b"</" + prefix + b"sheetData>"
    pending = pending[opening.end() :]
    index = last = 0
    while True:
        end = pending.find(close_tag)
        limit = end if end >= 0 else pending.rfind(names.row_close)
        if limit < 0:
            piece = next(source, None)
            if piece is None:
                raise DamagedPart("the worksheet's <sheetData> is not closed")
            pending += piece
            continue
        if end < 0:
            limit += len(names.row_close)
        found = _last_marked_row(pending, limit, prefix)
        if found is not None:
            index, marked = found
            last = max(last, marked)
        else:
            for row in iter_rows(pending, SheetLayout(prefix, 0, 0, 0, limit, False), index):
                index = row.number
                if not row.self_closing and names.value_mark.search(
                    pending, row.tag_end, row.close_start
                ):
                    last = row.number
        if end >= 0:
            return last
        piece = next(source, None)
        if piece is None:
            raise DamagedPart("the worksheet's <sheetData> is not closed")
        pending = pending[limit:] + piece


def last_marked_in_piece(data: bytes, prefix: bytes, start: int, limit: int) -> int | None:
    """The number of the last row with a value or a formula in data[start:limit], whole
    rows of a part whose namespace prefix is `prefix` (a piece of it: xlsx packs parts in
    pieces); 0 when none has one, None when a row there does not start with its number."""
    if data.find(b"<" + prefix + b"row", start, limit) < 0:
        return 0
    found = _last_marked_row(data[start:limit], limit - start, prefix)
    return None if found is None else found[1]


def sheet_data_start(data: bytes) -> tuple[bytes, int] | None:
    """The namespace prefix of the <sheetData> start tag in `data` and where it ends; None
    when there is none, or it closes itself (no rows)."""
    opening = _SHEET_DATA_RE.search(data)
    if opening is None or opening.group(2):
        return None
    return opening.group(1), opening.end()


_AFTER_NAME = frozenset(b" \t\r\n/>")


def _last_marked_row(data: bytes, limit: int, prefix: bytes) -> tuple[int, int] | None:
    """(the number of the last row in data[:limit], the number of the last row there with a
    value or a formula, 0 when none) found from the end, without walking the rows: an
    append to a 30,000-row Log looked at every row for this. None when some row there does
    not start with r= (rows are then numbered by position: iter_rows counts them)."""
    row_tag = b"<" + prefix + b"row"
    names = markup(prefix)
    last_start = data.rfind(row_tag, 0, limit)
    if last_start < 0 or names.row_unnumbered.search(data, 0, limit) is not None:
        return None
    # Every <row of the piece is a numbered row start tag (rows do not nest).
    numbered = names.row_number
    last_row = numbered.match(data, last_start)
    if last_row is None:
        return None
    mark = -1
    for name in (b"v", b"is", b"f"):
        needle = b"<" + prefix + name
        at = data.rfind(needle, 0, limit)
        while at > mark:
            after = at + len(needle)
            if after < limit and data[after] in _AFTER_NAME:
                mark = at
                break
            at = data.rfind(needle, 0, at)
    if mark < 0:
        return int(last_row.group(1)), 0
    # The mark lies inside the last row that starts before it.
    start = data.rfind(row_tag, 0, mark)
    holder = numbered.match(data, start) if start >= 0 else None
    if holder is None:
        return None
    return int(last_row.group(1)), int(holder.group(1))


# --------------------------------------------------------------------------- sparse sheets

#: Upper-case letters to "A" and digits to "0": a cell reference in any column then reads
#: r="AAA0..." and is found by a plain bytes search.
_REF_SHAPES = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", b"A" * 26 + b"0" * 10)
_SHAPE_OVERLAP = 32
#: Longer than any <mergeCell ref="..."/> tag, prefix included.
_MERGE_OVERLAP = 160
_MERGE_RE = re.compile(
    rb'<(?:[A-Za-z_][\w.-]*:)?mergeCell\b[^>]*?\bref="\$?([A-Z]{1,3})\$?(\d+)'
    rb'(?::\$?([A-Z]{1,3})\$?(\d+))?"'
)
_LAST_REF_RE = re.compile(rb' r="[A-Z]*(\d+)"')
#: A reference with two letters or more: found where _REF_SHAPES would show r="AA.
_WIDE_REF_RE = re.compile(rb' r="[A-Z][A-Z]')
_PREFIXED_F_RE = re.compile(rb"<[\w.-]+:f[ >]")


class SheetShape:
    """Where a worksheet part's cells lie, read in pieces with plain searches only (a part of
    a hundred megabytes costs a fraction of parsing it): the last row, the widest column,
    about how many cells. Each is the largest, the sum or the union of what the pieces
    give, so the shape of a part rewritten in a few places is made from the old shape and
    those places (xlsx._spliced_shape)."""

    def __init__(self) -> None:
        self.last_row = 0
        self.size = 0
        #: By number of letters (2 and 3; A-Z needs no search): the widest column written
        #: with that many ("" when none).
        self.widest = [b"", b"", b"", b""]
        #: True when some cell holds a formula (an <f> element, with any prefix).
        self.formulas = False
        #: Merged ranges (first row, first column, last row, last column), 1-based.
        self.merged: set[tuple[int, int, int, int]] = set()
        self._carry = b""
        self._merge_carry = b""

    def feed(self, chunk: bytes) -> None:
        # A handful of scans of each piece, each at memory speed; most sheets (columns A-Z)
        # stop after the first search for a two-letter reference.
        buf = self._carry + chunk
        if _WIDE_REF_RE.search(buf) is not None:  # twice as fast as translate() and find()
            shapes = buf.translate(_REF_SHAPES)
            for letters in (3, 2):
                needle = b' r="' + b"A" * letters + b"0"
                count = shapes.count(needle)
                if not count:
                    continue
                if count > 64:
                    found = re.findall(rb' r="([A-Z]{%d})\d' % letters, buf)
                    if found:
                        self.widest[letters] = max(self.widest[letters], max(found))
                    continue
                at = shapes.find(needle)
                while at >= 0:
                    ref = buf[at + 4 : at + 4 + letters]
                    self.widest[letters] = max(self.widest[letters], ref)
                    at = shapes.find(needle, at + 1)
        self.size += len(chunk)
        # A sheet without formulas is searched twice, not four times (short needles cost
        # about a millisecond a megabyte each in XML, where every other byte is a tag).
        if not self.formulas and (b"<f" in buf or b":f" in buf):
            self.formulas = (
                b"<f>" in buf
                or b"<f " in buf
                or ((b":f>" in buf or b":f " in buf) and _PREFIXED_F_RE.search(buf) is not None)
            )
        at = buf.rfind(b' r="')
        match = _LAST_REF_RE.match(buf, at) if at >= 0 else None
        if match is not None:
            self.last_row = max(self.last_row, int(match.group(1)))
        self._carry = buf[-_SHAPE_OVERLAP:]
        self._feed_merges(chunk, buf)

    def _feed_merges(self, chunk: bytes, buf: bytes) -> None:
        # <mergeCells> comes after the cells; a tag split between pieces is found whole in
        # the next (found twice when it ends in the overlap: a set keeps it once). `buf`
        # (the piece after the end of the one before) and the carry hold every place the
        # name can be, so the piece is copied only when it has one (a copy of each piece
        # cost more than the search).
        carry = self._merge_carry
        if b"mergeCell" in buf or b"mergeCell" in carry:
            text = carry + chunk
            for match in _MERGE_RE.finditer(text):
                first = (int(match[2]), column_number(match[1].decode()))
                last = (int(match[4]), column_number(match[3].decode())) if match[3] else first
                self.merged.add((first[0], first[1], last[0], last[1]))
        if len(chunk) >= _MERGE_OVERLAP:
            self._merge_carry = chunk[-_MERGE_OVERLAP:]
        else:
            self._merge_carry = (carry + chunk)[-_MERGE_OVERLAP:]

    @property
    def rows(self) -> int:
        """The last row (0 when no cell has r=: then no cell can sit far from the others
        without every cell in between written out)."""
        return self.last_row

    @property
    def cells(self) -> int:
        """At most this many cells: Excel's shortest, <c r="A1"><v>1</v></c>, has 22 bytes."""
        return self.size // 16

    @property
    def far_letters(self) -> int:
        """The number of letters of the widest columns' references (1, 2 or 3)."""
        return 3 if self.widest[3] else 2 if self.widest[2] else 1

    def columns(self, letters: int = 3) -> int:
        """The widest column among references of at most `letters` letters (A-Z counts 26)."""
        for count in range(min(letters, 3), 1, -1):
            if self.widest[count]:
                return column_number(self.widest[count].decode())
        return 26


def squeeze_columns(data: bytes, letters: int, near: int) -> tuple[bytes, list[int]]:
    """The worksheet part with the columns whose references have `letters` letters (a few
    values far to the right) moved to just after column `near`; and the original column of
    each column 1, 2, ... of the result. Only those cells' references change."""
    columns = list(range(1, near + 1))
    index: dict[bytes, bytes] = {}

    def move(match: re.Match[bytes]) -> bytes:
        letters_now, row = match.group(1, 2)
        moved = index.get(letters_now)
        if moved is None:
            columns.append(column_number(letters_now.decode()))
            moved = index[letters_now] = _letters(len(columns))
        return b' r="%s%s"' % (moved, row)

    pattern = re.compile(rb' r="([A-Z]{%d})(\d+)"' % letters)
    layout = locate_sheet_data(data)
    body = pattern.sub(move, data[layout.content_start : layout.content_end])
    head = _DIMENSION_RE.sub(b"", data[: layout.content_start])
    return head + body + data[layout.content_end :], columns


# A row or cell start tag: up to the end of r=""..." when r comes first (as every writer puts
# it), else the whole tag.
_ROW_OR_CELL_RE = re.compile(
    rb'<((?:[\w.-]+:)?(?:row|c))(?:(\s+r=")([A-Z]*)(\d+)"|(?=[\s/>])[^>]*>)'
)


def squeeze_sheet(data: bytes) -> tuple[bytes, list[int], list[int]]:
    """The worksheet part without its empty rows and columns, for a reader that holds a tab as
    a dense rectangle from A1; and the original row and column of each one kept, in order of
    their new numbers (1, 2, ...). Every cell gets an explicit r=."""
    layout = locate_sheet_data(data)
    if layout.self_closing:
        return data, [], []
    rows: list[int] = []
    columns: list[int] = []
    column_index: dict[int, int] = {}
    row = column = 0
    row_has_cells = False

    def renumber(match: re.Match[bytes]) -> bytes:
        # Runs once per cell of a sheet that may hold millions: few calls, no set_attr.
        nonlocal row, column, row_has_cells
        name, lead, letters, digits = match.group(1, 2, 3, 4)
        tag = None
        if lead is None:
            tag = match.group(0)
            ref = _R_ATTR_RE.search(tag)
            letters, digits = (ref.group(1), ref.group(2)) if ref else (b"", None)
        if name.endswith(b"row"):
            row = int(digits) if digits else row + 1
            column, row_has_cells = 0, False
            # A row without cells takes the number of the next row that has some.
            new = b"%d" % (len(rows) + 1)
        else:
            column = column_number(letters.decode()) if letters else column + 1
            if not row_has_cells:
                rows.append(row)
                row_has_cells = True
            index = column_index.get(column)
            if index is None:
                columns.append(column)
                index = column_index[column] = len(columns)
            new = _ref(len(rows), index)
        if tag is None:
            return b'<%s%s%s"' % (name, lead, new)
        return set_attr(tag, b"r", new)

    body = _ROW_OR_CELL_RE.sub(renumber, data[layout.content_start : layout.content_end])
    head = _DIMENSION_RE.sub(b"", data[: layout.content_start])
    return head + body + data[layout.content_end :], rows, columns
