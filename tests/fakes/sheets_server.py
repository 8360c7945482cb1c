"""A fake Google Sheets API on loopback for the tests: a real HTTP server that answers the v4
REST calls the way Google does, so gspread and google-auth talk to it unchanged.

What it serves (shapes, status codes and error bodies follow recorded Google traffic):

- ``POST /token``: the OAuth2 JWT bearer grant. The assertion must be signed by the key that
  ``write_key_file`` wrote; the answer is an access token that every other call must carry.
- ``GET /v4/spreadsheets/{key}``: metadata, with ``fields`` masks applied.
- ``values/{range}`` (GET, PUT), ``values:batchGet``, ``values:batchUpdate``,
  ``values/{range}:append``, ``values/{range}:clear``.
- ``{key}:batchUpdate`` with addSheet, deleteSheet, updateSheetProperties,
  updateSpreadsheetProperties, repeatCell (number formats), appendDimension, insertDimension.
- IAM's ``allowedLocations`` lookup, which google-auth makes by itself after a new token.

It is strict where Google is: unknown query parameters and JSON fields, bad enum values,
unparsable ranges, writes outside the grid or outside the requested range are answered with
400 INVALID_ARGUMENT; a missing or unknown token with 401; a sheet not shared with the
service account with 403; a missing spreadsheet with 404. Writes are all or nothing.
Anything Google offers that the fake does not implement is refused with a 400 whose message
says so, rather than half-done.

Simplifications, each on purpose: formulas are evaluated only when they are plain arithmetic
(with SUM, MIN, MAX, AVERAGE) and give "#NAME?" otherwise (a test gives any other formula
with what it shows: FakeSheets.formula("=VLOOKUP(...)", "#N/A")); USER_ENTERED understands numbers,
TRUE/FALSE, ISO dates and the locale's day/month order; date formats know the few locales the
tests use; ``append`` takes the table to end at the last row with a value in the range's
columns (all columns from a single cell on), from the range's first row down.

Values are kept as Google keeps them: a date is a serial number (days since 1899-12-30) in a
cell with a DATE format, and formats stay when values are written or cleared.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import copy
import dataclasses
import functools
import json
import math
import operator
import os
import random
import re
import secrets
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

LOCALHOST = "127.0.0.1"
#: google-auth always names Google's token endpoint as the audience, whatever token_uri says.
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
SERVICE_ACCOUNT_EMAIL = "sheetfollow-robot@sheetfollow-tests.iam.gserviceaccount.com"
PROJECT_ID = "sheetfollow-tests"
PROJECT_NUMBER = "418927651370"
#: Day zero of serial dates in Google Sheets.
EPOCH = date(1899, 12, 30)
#: The grid of a new tab in Google Sheets.
DEFAULT_ROWS, DEFAULT_COLUMNS = 1000, 26
MAX_CELLS = 10_000_000

_AUTH = "https://www.googleapis.com/auth/"
WRITE_SCOPES = frozenset(_AUTH + s for s in ("spreadsheets", "drive", "drive.file"))
READ_SCOPES = WRITE_SCOPES | {_AUTH + "spreadsheets.readonly", _AUTH + "drive.readonly"}

Json = Any
Scalar = str | int | float | bool


# --- Cells ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SheetDate:
    """A date cell, as a person types it: stored as a serial number with a DATE format."""

    day: date

    @property
    def serial(self) -> int:
        return (self.day - EPOCH).days


@dataclass(frozen=True)
class SheetFormula:
    """A formula the fake cannot work out itself, with what Google shows for it: a lookup
    that finds nothing shows "#N/A" (as FakeSheets.formula("=VLOOKUP(...)", "#N/A")).
    Reads give `shows` (UNFORMATTED_VALUE, FORMATTED_VALUE) or `text` (FORMULA), as the
    values API gives a failing formula: the error's text, a string like any other."""

    text: str
    shows: str | int | float | bool


#: A cell as tests give it to add_spreadsheet / insert_rows and get it back from tab().
CellInput = str | int | float | bool | SheetDate | SheetFormula | None


@dataclass(frozen=True)
class NumberFormat:
    type: str  # DATE, DATE_TIME, NUMBER, TEXT, ...
    pattern: str = ""


NUMBER_FORMAT_TYPES = frozenset(
    {"TEXT", "NUMBER", "PERCENT", "CURRENCY", "DATE", "TIME", "DATE_TIME", "SCIENTIFIC"}
)


@dataclass
class _Cell:
    #: What the cell holds, or what its formula gives.
    value: Scalar | None = None
    formula: str | None = None
    format: NumberFormat | None = None

    @property
    def empty(self) -> bool:
        return self.value is None and self.formula is None

    def clear(self) -> None:
        self.value = None
        self.formula = None


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_date(cell: _Cell) -> bool:
    kind = cell.format.type if cell.format else ""
    return kind in ("DATE", "DATE_TIME") and _is_number(cell.value)


def _number(value: float) -> int | float:
    """Whole numbers as ints: Google's JSON writes 43831, never 43831.0."""
    if math.isfinite(value) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


# --- Formulas: plain arithmetic only ------------------------------------------------------


class _Unsupported(Exception):
    pass


_OPERATORS: dict[type, Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_FUNCTIONS: dict[str, Callable[[list[float]], float]] = {
    "SUM": lambda args: math.fsum(args),
    "MIN": lambda args: min(args, default=0.0),
    "MAX": lambda args: max(args, default=0.0),
    "AVERAGE": lambda args: math.fsum(args) / len(args),
}


def _evaluate(formula: str) -> Scalar:
    """What Google shows for a formula made of numbers, + - * / ^ and a few functions."""
    try:
        tree = ast.parse(formula[1:].replace("^", "**"), mode="eval")
    except SyntaxError:
        return "#ERROR!"
    try:
        return _number(_arithmetic(tree.body))
    except ZeroDivisionError:
        return "#DIV/0!"
    except (OverflowError, ValueError):
        return "#NUM!"
    except _Unsupported:
        return "#NAME?"


def _arithmetic(node: ast.expr) -> float:
    number = node.value if isinstance(node, ast.Constant) else None
    if isinstance(number, (int, float)) and not isinstance(number, bool):
        return float(number)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_arithmetic(node.left), _arithmetic(node.right))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _arithmetic(node.operand)
        return -inner if isinstance(node.op, ast.USub) else inner
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id.upper() in _FUNCTIONS
        and not node.keywords
    ):
        return _FUNCTIONS[node.func.id.upper()]([_arithmetic(arg) for arg in node.args])
    raise _Unsupported


# --- What a write stores ------------------------------------------------------------------

_NUMBER_TEXT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_LOCAL_DATE = re.compile(r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4})")
#: The DATE pattern a locale shows when a cell's format names none.
_LOCALE_DATES = {
    "en_US": "M/d/yyyy",
    "en_GB": "dd/MM/yyyy",
    "nl_NL": "d-M-yyyy",
    "de_DE": "d.M.yyyy",
    "da_DK": "d.M.yyyy",
    "es_ES": "d/M/yyyy",
    "fr_FR": "dd/MM/yyyy",
}
_ISO_PATTERN = "yyyy-mm-dd"


def _typed(text: str, locale: str) -> tuple[Scalar | None, str | None, NumberFormat | None]:
    """(value, formula, format) for text typed into a cell (USER_ENTERED)."""
    if text.startswith("'"):
        return text[1:] or None, None, None
    if text.startswith("=") and len(text) > 1:
        return _evaluate(text), text, None
    if text.upper() in ("TRUE", "FALSE"):
        return text.upper() == "TRUE", None, None
    if _NUMBER_TEXT.fullmatch(text):
        return _number(float(text)), None, None
    typed_date = _typed_date(text, locale)
    if typed_date is not None:
        day, pattern = typed_date
        return (day - EPOCH).days, None, NumberFormat("DATE", pattern)
    return text, None, None


def _typed_date(text: str, locale: str) -> tuple[date, str] | None:
    iso = _ISO_DATE.fullmatch(text)
    local = _LOCAL_DATE.fullmatch(text)
    try:
        if iso:
            year, month, day = (int(g) for g in iso.groups())
            return date(year, month, day), _ISO_PATTERN
        if local:
            first, second, year = int(local[1]), int(local[3]), int(local[4])
            pattern = _LOCALE_DATES.get(locale, "M/d/yyyy")
            month, day = (first, second) if pattern.startswith("M") else (second, first)
            return date(year, month, day), pattern
    except ValueError:  # 2026-02-30 stays text, as in Sheets
        return None
    return None


def _store(cell: _Cell, raw: Scalar, option: str, locale: str) -> None:
    """Write one value the way values.update does: formats stay, "" empties the cell."""
    value: Scalar | None = raw
    formula: str | None = None
    number_format: NumberFormat | None = None
    if isinstance(raw, str):
        if raw == "":
            value = None
        elif option == "USER_ENTERED":
            value, formula, number_format = _typed(raw, locale)
    cell.value, cell.formula = value, formula
    if number_format is not None and cell.format is None:
        cell.format = number_format


def _from_python(value: CellInput) -> _Cell:
    """A cell as a person makes it in the browser: "=..." is a formula."""
    if value is None or value == "":
        return _Cell()
    if isinstance(value, SheetDate):
        return _Cell(value.serial, format=NumberFormat("DATE"))
    if isinstance(value, SheetFormula):
        return _Cell(value.shows, value.text)
    if isinstance(value, str) and value.startswith("=") and len(value) > 1:
        return _Cell(_evaluate(value), value)
    if isinstance(value, (str, int, float, bool)):
        return _Cell(value)
    raise TypeError(f"a fake sheet cell cannot hold {value!r}; dates go in as FakeSheets.date()")


def _to_python(cell: _Cell | None) -> CellInput:
    if cell is None or cell.empty:
        return None
    if cell.formula is not None:
        return cell.formula
    value = cell.value
    if _is_date(cell) and isinstance(value, (int, float)) and float(value).is_integer():
        return SheetDate(EPOCH + timedelta(days=int(value)))
    return value


# --- What a read shows --------------------------------------------------------------------


@dataclass(frozen=True)
class _ReadOptions:
    value: str = "FORMATTED_VALUE"
    dates: str = "SERIAL_NUMBER"
    major: str = "ROWS"


def _render(cell: _Cell, how: _ReadOptions, locale: str) -> Json:
    if cell.empty:
        return ""
    if how.value == "FORMULA" and cell.formula is not None:
        return cell.formula
    if how.value == "FORMATTED_VALUE" or (_is_date(cell) and how.dates == "FORMATTED_STRING"):
        return _formatted(cell, locale)
    value = cell.value
    return _number(float(value)) if _is_number(value) else value  # type: ignore[arg-type]


def _formatted(cell: _Cell, locale: str) -> str:
    value = cell.value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if _is_date(cell):
        return _format_date(float(value), cell.format or NumberFormat("DATE"), locale)
    return _general(float(value))


def _general(value: float) -> str:
    """Google's automatic number format, for the numbers the tests use."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.10f}".rstrip("0").rstrip(".")


_DATE_TOKENS = re.compile(r"yyyy|yy|mm|m|dd|d", re.IGNORECASE)


def _format_date(serial: float, number_format: NumberFormat, locale: str) -> str:
    day = EPOCH + timedelta(days=math.floor(serial))
    pattern = number_format.pattern or _LOCALE_DATES.get(locale, _ISO_PATTERN)
    parts = {
        "yyyy": f"{day.year:04d}",
        "yy": f"{day.year % 100:02d}",
        "mm": f"{day.month:02d}",
        "m": str(day.month),
        "dd": f"{day.day:02d}",
        "d": str(day.day),
    }
    shown = _DATE_TOKENS.sub(lambda m: parts[m.group().lower()], pattern)
    if number_format.type == "DATE_TIME":
        seconds = round((serial - math.floor(serial)) * 86400)
        shown += f" {seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return shown


def _sort_key(cell: _Cell | None) -> tuple[int, Any]:
    """Ascending as Sheets sorts: numbers (and dates), text, booleans, then empty cells."""
    if cell is None or cell.empty:
        return (3, 0)
    value = cell.value
    if isinstance(value, bool):
        return (2, value)
    if _is_number(value):
        return (0, value)
    return (1, str(value).casefold())


# --- Tabs and spreadsheets -----------------------------------------------------------------


@dataclass(eq=False)
class _Sheet:
    sheet_id: int
    title: str
    row_count: int = DEFAULT_ROWS
    column_count: int = DEFAULT_COLUMNS
    hidden: bool = False
    frozen_rows: int = 0
    #: Cells from A1, row by row; rows grow on demand and may be shorter than the grid.
    rows: list[list[_Cell]] = field(default_factory=list)

    def cell(self, row: int, col: int) -> _Cell | None:
        if row < len(self.rows) and col < len(self.rows[row]):
            return self.rows[row][col]
        return None

    def put(self, row: int, col: int) -> _Cell:
        while len(self.rows) <= row:
            self.rows.append([])
        line = self.rows[row]
        while len(line) <= col:
            line.append(_Cell())
        return line[col]

    def used(self) -> tuple[int, int]:
        """Rows and columns up to the last cell with a value (formats alone do not count)."""
        height = width = 0
        for r, line in enumerate(self.rows):
            last = next((c for c in range(len(line) - 1, -1, -1) if not line[c].empty), -1)
            if last >= 0:
                height, width = r + 1, max(width, last + 1)
        return height, width

    def insert_rows(self, at: int, count: int, inherit_from: int | None = None) -> None:
        inherit = inherit_from is not None and inherit_from < len(self.rows)
        template = self.rows[inherit_from] if inherit and inherit_from is not None else []
        while len(self.rows) < at:
            self.rows.append([])
        self.rows[at:at] = [[_Cell(format=c.format) for c in template] for _ in range(count)]
        self.row_count += count

    def insert_columns(self, at: int, count: int, inherit_from: int | None = None) -> None:
        for line in self.rows:
            inherit = inherit_from is not None and inherit_from < len(line)
            source = line[inherit_from] if inherit and inherit_from is not None else None
            number_format = source.format if source is not None else None
            if len(line) <= at and number_format is None:
                continue
            while len(line) < at:
                line.append(_Cell())
            line[at:at] = [_Cell(format=number_format) for _ in range(count)]
        self.column_count += count

    def resize(self, rows: int, columns: int) -> None:
        self.row_count, self.column_count = rows, columns
        del self.rows[rows:]
        for line in self.rows:
            del line[columns:]

    def clone(self) -> _Sheet:
        """A copy whose cells can change without changing this tab's."""
        rows = [[_Cell(c.value, c.formula, c.format) for c in line] for line in self.rows]
        return dataclasses.replace(self, rows=rows)

    def properties(self, index: int) -> dict[str, Json]:
        grid: dict[str, Json] = {"rowCount": self.row_count, "columnCount": self.column_count}
        if self.frozen_rows:
            grid["frozenRowCount"] = self.frozen_rows
        found: dict[str, Json] = {
            "sheetId": self.sheet_id,
            "title": self.title,
            "index": index,
            "sheetType": "GRID",
            "gridProperties": grid,
        }
        if self.hidden:
            found["hidden"] = True
        return found


@dataclass
class _Spreadsheet:
    key: str
    title: str
    locale: str
    time_zone: str
    sheets: list[_Sheet]
    #: Who may open it; None: the fake's service account may.
    shared_with: frozenset[str] | None
    #: Google picks random sheet ids; these are random too, but the same in every run.
    ids: random.Random = field(default_factory=random.Random)

    def sheet(self, title: str) -> _Sheet | None:
        return next((s for s in self.sheets if s.title.casefold() == title.casefold()), None)

    def sheet_by_id(self, sheet_id: int) -> _Sheet | None:
        return next((s for s in self.sheets if s.sheet_id == sheet_id), None)

    def new_sheet_id(self) -> int:
        while True:
            candidate = self.ids.randrange(100_000_000, 2_000_000_000)
            if self.sheet_by_id(candidate) is None:
                return candidate

    def adopt(self, draft: _Spreadsheet) -> None:
        """Take over a draft's state once all of a batch's requests worked."""
        self.title, self.locale, self.time_zone = draft.title, draft.locale, draft.time_zone
        self.sheets, self.ids = draft.sheets, draft.ids

    def metadata(self) -> dict[str, Json]:
        return {
            "spreadsheetId": self.key,
            "properties": {
                "title": self.title,
                "locale": self.locale,
                "autoRecalc": "ON_CHANGE",
                "timeZone": self.time_zone,
                "defaultFormat": copy.deepcopy(_DEFAULT_FORMAT),
                "spreadsheetTheme": copy.deepcopy(_THEME),
            },
            "sheets": [{"properties": s.properties(i)} for i, s in enumerate(self.sheets)],
            "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{self.key}/edit",
        }


def _rgb(red: float, green: float, blue: float) -> dict[str, float]:
    return {"red": red, "green": green, "blue": blue}


#: A new spreadsheet's default format and theme, as Google describes them.
_DEFAULT_FORMAT: dict[str, Json] = {
    "backgroundColor": _rgb(1, 1, 1),
    "padding": {"top": 2, "right": 3, "bottom": 2, "left": 3},
    "verticalAlignment": "BOTTOM",
    "wrapStrategy": "OVERFLOW_CELL",
    "textFormat": {
        "foregroundColor": {},
        "fontFamily": "arial,sans,sans-serif",
        "fontSize": 10,
        "bold": False,
        "italic": False,
        "strikethrough": False,
        "underline": False,
        "foregroundColorStyle": {"rgbColor": {}},
    },
    "backgroundColorStyle": {"rgbColor": _rgb(1, 1, 1)},
}
_THEME: dict[str, Json] = {
    "primaryFontFamily": "Arial",
    "themeColors": [
        {"colorType": kind, "color": {"rgbColor": rgb}}
        for kind, rgb in (
            ("TEXT", {}),
            ("BACKGROUND", _rgb(1, 1, 1)),
            ("ACCENT1", _rgb(0.25882354, 0.52156866, 0.95686275)),
            ("ACCENT2", _rgb(0.91764706, 0.2627451, 0.20784314)),
            ("ACCENT3", _rgb(0.9843137, 0.7372549, 0.015686275)),
            ("ACCENT4", _rgb(0.20392157, 0.65882355, 0.3254902)),
            ("ACCENT5", _rgb(1, 0.42745098, 0.003921569)),
            ("ACCENT6", _rgb(0.27450982, 0.7411765, 0.7764706)),
            ("LINK", _rgb(0.06666667, 0.33333334, 0.8)),
        )
    ],
}


# --- A1 notation ---------------------------------------------------------------------------


def column_letters(index: int) -> str:
    """0 -> "A", 26 -> "AA"."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _column_index(letters: str) -> int:
    index = 0
    for letter in letters.upper():
        index = index * 26 + ord(letter) - ord("A") + 1
    return index - 1


def _sheet_ref(title: str) -> str:
    """A tab's name as Google writes it in ranges: quoted unless it is a plain word."""
    plain = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", title)
    if plain and not re.fullmatch(r"[A-Za-z]{1,3}\d+|[Rr]\d+[Cc]\d+", title):
        return title
    return "'" + title.replace("'", "''") + "'"


def _a1(title: str, row0: int, col0: int, row1: int, col1: int) -> str:
    start = f"{column_letters(col0)}{row0 + 1}"
    if row1 - row0 <= 1 and col1 - col0 <= 1:
        return f"{_sheet_ref(title)}!{start}"
    return f"{_sheet_ref(title)}!{start}:{column_letters(col1 - 1)}{row1}"


@dataclass(frozen=True)
class _Range:
    """Part of a tab: 0-based, ends exclusive; None runs to the grid's edge."""

    sheet: _Sheet
    row0: int
    col0: int
    row1: int | None
    col1: int | None

    def bounded(self) -> tuple[int, int, int, int]:
        """(row0, col0, row1, col1) within the grid; a range reaching outside it is refused."""
        sheet = self.sheet
        row1 = sheet.row_count if self.row1 is None else self.row1
        col1 = sheet.column_count if self.col1 is None else self.col1
        if self.row0 >= sheet.row_count or self.col0 >= sheet.column_count:
            raise _exceeds(sheet, self.row0, self.col0, row1, col1)
        if row1 > sheet.row_count or col1 > sheet.column_count:
            raise _exceeds(sheet, self.row0, self.col0, row1, col1)
        return self.row0, self.col0, row1, col1


_ENDPOINT = re.compile(r"([A-Za-z]{0,3})(\d{0,7})")


def _parse_cells(text: str) -> tuple[int, int, int | None, int | None] | None:
    """Cells in A1 notation ("A1", "A1:B2", "A:B", "2:5", "A5:A") as (row0, col0, row1,
    col1); None when the text is not A1 notation."""
    parts = text.split(":")
    ends = [_ENDPOINT.fullmatch(part) for part in parts]
    if len(parts) > 2 or not all(ends):
        return None
    (col_a, row_a), *rest = [(m[1], m[2]) for m in ends if m]
    if any(row and int(row) == 0 for row in [row_a, *(r for _, r in rest)]):
        return None
    if not rest:
        if not (col_a and row_a):
            return None
        row, col = int(row_a) - 1, _column_index(col_a)
        return row, col, row + 1, col + 1
    col_b, row_b = rest[0]
    if not (col_a or row_a) or not (col_b or row_b):
        return None
    row0 = int(row_a) - 1 if row_a else 0
    col0 = _column_index(col_a) if col_a else 0
    row1 = int(row_b) if row_b else None
    col1 = _column_index(col_b) + 1 if col_b else None
    # "B2:A1" means A1:B2.
    if row1 is not None and row1 <= row0:
        row0, row1 = row1 - 1, row0 + 1
    if col1 is not None and col1 <= col0:
        col0, col1 = col1 - 1, col0 + 1
    return row0, col0, row1, col1


def _split_sheet(text: str) -> tuple[str | None, str | None] | None:
    """("Tab", "A1:B2") from "'Tab'!A1:B2"; (None, "A1") from "A1"; None if unparsable."""
    if text.startswith("'"):
        name, i = [], 1
        while i < len(text):
            if text[i] == "'" and text[i + 1 : i + 2] == "'":
                name.append("'")
                i += 2
            elif text[i] == "'":
                rest = text[i + 1 :]
                if rest == "":
                    return "".join(name), None
                return ("".join(name), rest[1:]) if rest.startswith("!") else None
            else:
                name.append(text[i])
                i += 1
        return None
    if "!" in text:
        sheet, cells = text.rsplit("!", 1)
        return sheet, cells
    return None, text


def _parse_range(book: _Spreadsheet, text: str) -> _Range:
    unparsable = _invalid(f"Unable to parse range: {text}")
    split = _split_sheet(text)
    if split is None:
        raise unparsable
    name, cells = split
    if name is None:
        # A bare word is a tab's name if there is such a tab, else cells of the first tab.
        whole = book.sheet(text)
        if whole is not None:
            return _Range(whole, 0, 0, None, None)
        sheet = next((s for s in book.sheets if not s.hidden), book.sheets[0])
    else:
        found = book.sheet(name)
        if found is None:
            raise unparsable
        sheet = found
    if cells is None:
        return _Range(sheet, 0, 0, None, None)
    parsed = _parse_cells(cells)
    if parsed is None:
        raise unparsable
    return _Range(sheet, *parsed)


# --- Errors --------------------------------------------------------------------------------

_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_MESSAGE = {
    400: "Request contains an invalid argument.",
    401: "Request had invalid authentication credentials. Expected OAuth 2 access token, "
    "login cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project.",
    403: "The caller does not have permission",
    404: "Requested entity was not found.",
    409: "The operation was aborted.",
    500: "Internal error encountered.",
    501: "Operation is not implemented, or supported, or enabled.",
    503: "The service is currently unavailable.",
    504: "Deadline expired before operation could complete.",
}
_BEARER_CHALLENGE = ("WWW-Authenticate", 'Bearer realm="https://accounts.google.com/"')


class _ApiError(Exception):
    """An error answer in Google's shape: {"error": {"code", "message", "status", ...}}."""

    def __init__(
        self,
        code: int,
        message: str | None = None,
        *,
        details: list[dict[str, Json]] | None = None,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.code = code
        self.message = message or _MESSAGE.get(code, "")
        self.status = _STATUS.get(code, "UNKNOWN")
        self.details = details or []
        self.headers = list(headers)
        if code == 401:
            self.headers.append(_BEARER_CHALLENGE)
        super().__init__(self.message)

    def body(self) -> dict[str, Json]:
        error: dict[str, Json] = {"code": self.code, "message": self.message}
        error["status"] = self.status
        if self.details:
            error["details"] = self.details
        return {"error": error}


def _invalid(message: str) -> _ApiError:
    return _ApiError(400, message)


def _unsupported(what: str) -> _ApiError:
    return _invalid(f"The fake Sheets server does not support {what}.")


def _exceeds(sheet: _Sheet, row0: int, col0: int, row1: int, col1: int) -> _ApiError:
    return _invalid(
        f"Range ({_a1(sheet.title, row0, col0, row1, col1)}) exceeds grid limits. "
        f"Max rows: {sheet.row_count}, max columns: {sheet.column_count}"
    )


def _quota_error(write: bool) -> _ApiError:
    kind = "Write" if write else "Read"
    consumer = f"projects/{PROJECT_NUMBER}"
    return _ApiError(
        429,
        f"Quota exceeded for quota metric '{kind} requests' and limit '{kind} requests per "
        f"minute per user' of service 'sheets.googleapis.com' for consumer "
        f"'project_number:{PROJECT_NUMBER}'.",
        details=[
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "RATE_LIMIT_EXCEEDED",
                "domain": "googleapis.com",
                "metadata": {
                    "quota_limit": f"{kind}RequestsPerMinutePerUser",
                    "quota_metric": f"sheets.googleapis.com/{kind.lower()}_requests",
                    "quota_location": "global",
                    "service": "sheets.googleapis.com",
                    "consumer": consumer,
                    "quota_limit_value": "60",
                },
            },
            {
                "@type": "type.googleapis.com/google.rpc.Help",
                "links": [
                    {
                        "description": "Request a higher quota limit.",
                        "url": "https://cloud.google.com/docs/quotas/help/request_increase",
                    }
                ],
            },
        ],
    )


def _service_disabled() -> _ApiError:
    console = (
        "https://console.developers.google.com/apis/api/sheets.googleapis.com/overview"
        f"?project={PROJECT_NUMBER}"
    )
    return _ApiError(
        403,
        f"Google Sheets API has not been used in project {PROJECT_NUMBER} before or it is "
        f"disabled. Enable it by visiting {console} then retry. If you enabled this API "
        "recently, wait a few minutes for the action to propagate to our systems and retry.",
        details=[
            {
                "@type": "type.googleapis.com/google.rpc.Help",
                "links": [
                    {"description": "Google developers console API activation", "url": console}
                ],
            },
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "SERVICE_DISABLED",
                "domain": "googleapis.com",
                "metadata": {
                    "consumer": f"projects/{PROJECT_NUMBER}",
                    "service": "sheets.googleapis.com",
                },
            },
        ],
    )


def _scope_error() -> _ApiError:
    return _ApiError(
        403,
        "Request had insufficient authentication scopes.",
        details=[
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                "domain": "googleapis.com",
                "metadata": {"service": "sheets.googleapis.com"},
            }
        ],
    )


def _default_error(status: int, *, write: bool = False) -> dict[str, Json]:
    """The body Google sends with `status` (a 429 names the read or the write quota)."""
    if status == 429:
        return _quota_error(write).body()
    return _ApiError(status).body()


# --- Checking requests ---------------------------------------------------------------------

#: Query parameters every Google API accepts.
_STANDARD_PARAMS = frozenset({"fields", "prettyPrint", "alt", "quotaUser", "key", "$.xgafv"})
_ENUMS: dict[str, tuple[str, frozenset[str]]] = {
    "valueRenderOption": (
        "ValueRenderOption",
        frozenset({"FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA"}),
    ),
    "dateTimeRenderOption": (
        "DateTimeRenderOption",
        frozenset({"SERIAL_NUMBER", "FORMATTED_STRING"}),
    ),
    "majorDimension": ("Dimension", frozenset({"ROWS", "COLUMNS"})),
    "dimension": ("Dimension", frozenset({"ROWS", "COLUMNS"})),
    "valueInputOption": ("ValueInputOption", frozenset({"RAW", "USER_ENTERED"})),
    "insertDataOption": ("InsertDataOption", frozenset({"OVERWRITE", "INSERT_ROWS"})),
}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _enum(value: Json, name: str, default: str | None = None) -> str:
    kind, allowed = _ENUMS[name]
    if value is None and default is not None:
        return default
    if value not in allowed:
        raise _invalid(
            f"Invalid value at '{_snake(name)}' "
            f"(type.googleapis.com/google.apps.sheets.v4.{kind}), {json.dumps(value)}"
        )
    return str(value)


def _allow_params(query: Mapping[str, list[str]], allowed: set[str]) -> None:
    for name in query:
        if name not in allowed and name not in _STANDARD_PARAMS:
            raise _invalid(
                f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query '
                f"parameter. Field '{name}' could not be found in request message."
            )


def _param(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _flag(query: Mapping[str, list[str]], name: str) -> bool:
    value = _param(query, name)
    if value is None or value.lower() == "false":
        return False
    if value.lower() == "true":
        return True
    raise _invalid(f"Invalid value at '{_snake(name)}' (TYPE_BOOL), \"{value}\"")


def _read_options(query: Mapping[str, list[str]]) -> _ReadOptions:
    return _ReadOptions(
        _enum(_param(query, "valueRenderOption"), "valueRenderOption", "FORMATTED_VALUE"),
        _enum(_param(query, "dateTimeRenderOption"), "dateTimeRenderOption", "SERIAL_NUMBER"),
        _enum(_param(query, "majorDimension"), "majorDimension", "ROWS"),
    )


def _object(value: Json, allowed: set[str], where: str) -> dict[str, Json]:
    """A JSON object with no field Google does not know (Google refuses those)."""
    if not isinstance(value, dict):
        at = f" at '{where}'" if where else ""
        raise _invalid(f'Invalid JSON payload received. Unknown name ""{at}: Expected an object.')
    for name in value:
        if name not in allowed:
            at = f" at '{where}'" if where else ""
            raise _invalid(
                f'Invalid JSON payload received. Unknown name "{name}"{at}: Cannot find field.'
            )
    return value


def _typed_field(obj: Mapping[str, Json], name: str, kind: type, where: str) -> Json:
    value = obj.get(name)
    wrong = value is not None and (
        not isinstance(value, kind) or (kind is int and isinstance(value, bool))
    )
    if wrong:
        label = {int: "TYPE_INT32", bool: "TYPE_BOOL", str: "TYPE_STRING"}[kind]
        path = f"{where}.{name}" if where else name
        raise _invalid(f"Invalid value at '{path}' ({label}), {json.dumps(value)}")
    return value


def _json_body(raw: bytes) -> Json:
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise _invalid("Invalid JSON payload received. Unexpected token.") from None
    if not isinstance(body, dict):
        raise _invalid(
            'Invalid JSON payload received. Unknown name "": Root element must be a message.'
        )
    return body


def _rows(values: Json, major: str, where: str) -> list[list[Scalar | None]]:
    """The values of a ValueRange, row by row; null means "leave this cell as it is"."""
    if values is None:
        return []
    if not isinstance(values, list):
        raise _invalid(
            f"Invalid value at '{where}' (type.googleapis.com/google.protobuf.ListValue), "
            f"{json.dumps(values)}"
        )
    for r, line in enumerate(values):
        if not isinstance(line, list):
            raise _invalid(
                f"Invalid value at '{where}[{r}]' "
                f"(type.googleapis.com/google.protobuf.ListValue), {json.dumps(line)}"
            )
        for c, value in enumerate(line):
            if isinstance(value, (dict, list)):
                kind = "struct_value" if isinstance(value, dict) else "list_value"
                raise _invalid(f"Invalid values[{r}][{c}]: {kind} {json.dumps(value)}")
    if major == "COLUMNS":
        height = max((len(column) for column in values), default=0)
        return [
            [column[r] if r < len(column) else None for column in values] for r in range(height)
        ]
    return [list(line) for line in values]


@dataclass(frozen=True)
class _ValueRange:
    range: str | None
    rows: list[list[Scalar | None]]


def _value_range(body: Json, where: str, *, need_range: bool) -> _ValueRange:
    body = _object(body, {"range", "majorDimension", "values"}, where)
    text = _typed_field(body, "range", str, where)
    if need_range and not text:
        raise _invalid(f"Invalid {where}: range is required.")
    major = _enum(body.get("majorDimension"), "majorDimension", "ROWS")
    values_at = f"{where}.values" if where else "values"
    return _ValueRange(text, _rows(body.get("values"), major, values_at))


# --- Values endpoints ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Call:
    """One request to a spreadsheet: the A1 range from the path, query and JSON body."""

    range: str
    query: Mapping[str, list[str]]
    body: Json


@dataclass(frozen=True)
class _Write:
    """A checked write: where its first value goes and the values, row by row."""

    sheet: _Sheet
    row: int
    col: int
    rows: list[list[Scalar | None]]

    @property
    def height(self) -> int:
        return len(self.rows)

    @property
    def width(self) -> int:
        return max((len(line) for line in self.rows), default=0)


def _read(book: _Spreadsheet, rng: _Range, how: _ReadOptions) -> dict[str, Json]:
    row0, col0, row1, col1 = rng.bounded()
    sheet = rng.sheet
    grid: list[list[Json]] = []
    for cells in sheet.rows[row0 : min(row1, len(sheet.rows))]:
        grid.append([_render(cell, how, book.locale) for cell in cells[col0:col1]])
    if how.major == "COLUMNS":
        width = max((len(line) for line in grid), default=0)
        grid = [[line[c] if c < len(line) else "" for line in grid] for c in range(width)]
    # Google leaves out empty cells at the end of a row and empty rows at the end.
    for line in grid:
        while line and line[-1] == "":
            line.pop()
    while grid and not grid[-1]:
        grid.pop()
    found: dict[str, Json] = {
        "range": _a1(sheet.title, row0, col0, row1, col1),
        "majorDimension": how.major,
    }
    if grid:
        found["values"] = grid
    return found


def _plan(rng: _Range, value_range: _ValueRange, text: str, *, grow: bool = False) -> _Write:
    """Check a write before anything changes: inside the range asked for, inside the grid
    (an append may add rows). A single cell only says where the values start."""
    write = _Write(rng.sheet, rng.row0, rng.col0, value_range.rows)
    if rng.row1 == rng.row0 + 1 and rng.col1 == rng.col0 + 1:
        rng = _Range(rng.sheet, rng.row0, rng.col0, None, None)
    if rng.row1 is not None and rng.row0 + write.height > rng.row1:
        raise _invalid(
            f"Requested writing within range [{text}], but tried writing to row [{rng.row1 + 1}]"
        )
    if rng.col1 is not None and rng.col0 + write.width > rng.col1:
        raise _invalid(
            f"Requested writing within range [{text}], but tried writing to column "
            f"[{column_letters(rng.col1)}]"
        )
    sheet = rng.sheet
    row1, col1 = write.row + max(write.height, 1), write.col + max(write.width, 1)
    if (row1 > sheet.row_count and not grow) or col1 > sheet.column_count:
        raise _exceeds(sheet, write.row, write.col, row1, col1)
    return write


def _apply(book: _Spreadsheet, write: _Write, option: str) -> dict[str, Json]:
    cells = 0
    for r, line in enumerate(write.rows):
        for c, value in enumerate(line):
            if value is not None:
                _store(write.sheet.put(write.row + r, write.col + c), value, option, book.locale)
                cells += 1
    row1, col1 = write.row + max(write.height, 1), write.col + max(write.width, 1)
    answer: dict[str, Json] = {
        "spreadsheetId": book.key,
        "updatedRange": _a1(write.sheet.title, write.row, write.col, row1, col1),
    }
    # Google leaves zero counts out, as protobuf JSON does.
    counts = {"updatedRows": write.height, "updatedColumns": write.width, "updatedCells": cells}
    answer.update({name: n for name, n in counts.items() if n})
    return answer


def _refuse_response_values(query: Mapping[str, list[str]], body: Mapping[str, Json]) -> None:
    if _flag(query, "includeValuesInResponse") or body.get("includeValuesInResponse"):
        raise _unsupported("includeValuesInResponse")


def _values_get(book: _Spreadsheet, call: _Call) -> dict[str, Json]:
    _allow_params(call.query, {"valueRenderOption", "dateTimeRenderOption", "majorDimension"})
    return _read(book, _parse_range(book, call.range), _read_options(call.query))


def _values_batch_get(book: _Spreadsheet, call: _Call) -> dict[str, Json]:
    _allow_params(
        call.query, {"ranges", "valueRenderOption", "dateTimeRenderOption", "majorDimension"}
    )
    how = _read_options(call.query)
    found = [_read(book, _parse_range(book, text), how) for text in call.query.get("ranges", [])]
    answer: dict[str, Json] = {"spreadsheetId": book.key}
    if found:
        answer["valueRanges"] = found
    return answer


_WRITE_PARAMS = {
    "valueInputOption",
    "includeValuesInResponse",
    "responseValueRenderOption",
    "responseDateTimeRenderOption",
}


def _input_option(query: Mapping[str, list[str]]) -> str:
    value = _param(query, "valueInputOption")
    if value is None:
        raise _invalid("'valueInputOption' is required but not specified")
    return _enum(value, "valueInputOption")


def _values_update(book: _Spreadsheet, call: _Call) -> dict[str, Json]:
    _allow_params(call.query, _WRITE_PARAMS)
    _refuse_response_values(call.query, {})
    option = _input_option(call.query)
    rng = _parse_range(book, call.range)
    value_range = _value_range(call.body, "", need_range=False)
    if value_range.range is not None and _parse_range(book, value_range.range) != rng:
        raise _invalid(
            f"Requested range [{call.range}] and body range [{value_range.range}] do not match."
        )
    return _apply(book, _plan(rng, value_range, call.range), option)


def _values_batch_update(book: _Spreadsheet, call: _Call) -> dict[str, Json]:
    _allow_params(call.query, set())
    body = _object(call.body, {"data", *_WRITE_PARAMS}, "")
    _refuse_response_values(call.query, body)
    if body.get("valueInputOption") is None:
        raise _invalid("Invalid valueInputOption: INPUT_VALUE_OPTION_UNSPECIFIED")
    option = _enum(body["valueInputOption"], "valueInputOption")
    data = body.get("data") or []
    if not isinstance(data, list):
        raise _invalid(f"Invalid value at 'data', {json.dumps(data)}")
    writes = []
    for i, item in enumerate(data):
        value_range = _value_range(item, f"data[{i}]", need_range=True)
        text = str(value_range.range)
        writes.append(_plan(_parse_range(book, text), value_range, text))
    responses = [_apply(book, write, option) for write in writes]
    rows = {(id(w.sheet), w.row + r) for w in writes for r in range(w.height)}
    columns = {(id(w.sheet), w.col + c) for w in writes for c in range(w.width)}
    totals = {
        "totalUpdatedRows": len(rows),
        "totalUpdatedColumns": len(columns),
        "totalUpdatedCells": sum(r.get("updatedCells", 0) for r in responses),
        "totalUpdatedSheets": len({id(w.sheet) for w in writes if w.rows}),
    }
    answer: dict[str, Json] = {"spreadsheetId": book.key}
    answer.update({name: n for name, n in totals.items() if n})
    if responses:
        answer["responses"] = responses
    return answer


def _values_append(book: _Spreadsheet, call: _Call) -> dict[str, Json]:
    _allow_params(call.query, {"insertDataOption", *_WRITE_PARAMS})
    _refuse_response_values(call.query, {})
    option = _input_option(call.query)
    insert = _enum(_param(call.query, "insertDataOption"), "insertDataOption", "OVERWRITE")
    rng = _parse_range(book, call.range)
    row0, col0, _, col1 = rng.bounded()
    sheet = rng.sheet
    value_range = _value_range(call.body, "", need_range=False)
    # The table may run on below the range; a single cell only says where it starts.
    if rng.row1 == row0 + 1 and col1 == col0 + 1:
        col1 = sheet.column_count
    table = _table(sheet, row0, col0, sheet.row_count, col1)
    start = table[1] if table else row0
    write = _plan(_Range(sheet, start, col0, None, None), value_range, call.range, grow=True)
    if insert == "INSERT_ROWS":
        sheet.insert_rows(start, write.height)
    else:
        sheet.row_count = max(sheet.row_count, start + write.height)
    answer: dict[str, Json] = {"spreadsheetId": book.key}
    if table:
        answer["tableRange"] = _a1(sheet.title, table[0], col0, table[1], table[2])
    answer["updates"] = _apply(book, write, option)
    return answer


def _table(
    sheet: _Sheet, row0: int, col0: int, row1: int, col1: int
) -> tuple[int, int, int] | None:
    """(first row, row after the last, column after the last) of the values in the range."""
    first = last = end = None
    for r in range(row0, min(row1, len(sheet.rows))):
        line = sheet.rows[r][col0:col1]
        used = [c for c, cell in enumerate(line) if not cell.empty]
        if used:
            first = r if first is None else first
            last, end = r, max(end or 0, col0 + used[-1] + 1)
    if first is None or last is None or end is None:
        return None
    return first, last + 1, end


def _values_clear(book: _Spreadsheet, call: _Call) -> dict[str, Json]:
    _allow_params(call.query, set())
    _object(call.body, set(), "")
    rng = _parse_range(book, call.range)
    row0, col0, row1, col1 = rng.bounded()
    for line in rng.sheet.rows[row0:row1]:
        for cell in line[col0:col1]:
            cell.clear()
    return {"spreadsheetId": book.key, "clearedRange": _a1(rng.sheet.title, row0, col0, row1, col1)}


# --- Spreadsheet endpoints -----------------------------------------------------------------


def _spreadsheet_get(book: _Spreadsheet, call: _Call) -> dict[str, Json]:
    _allow_params(call.query, {"includeGridData", "ranges", "excludeTablesInBandedRanges"})
    if _flag(call.query, "includeGridData"):
        raise _unsupported("includeGridData=true")
    if "ranges" in call.query:
        raise _unsupported("the ranges parameter of spreadsheets.get")
    return book.metadata()


class _RequestError(ValueError):
    """A batchUpdate request that cannot be done; Google names the request in the message."""


def _batch_update(book: _Spreadsheet, call: _Call) -> dict[str, Json]:
    _allow_params(call.query, set())
    body = _object(
        call.body,
        {"requests", "includeSpreadsheetInResponse", "responseRanges", "responseIncludeGridData"},
        "",
    )
    if body.get("includeSpreadsheetInResponse") or body.get("responseIncludeGridData"):
        raise _unsupported("includeSpreadsheetInResponse")
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        raise _invalid("Must specify at least one request.")
    # All or nothing, as Google does: work on a copy and keep it only if every request worked.
    # Only the tabs the requests name are copied (a 100,000-row tab takes seconds to copy).
    named = _sheet_ids(requests)
    draft = copy.copy(book)
    draft.sheets = [sheet.clone() if sheet.sheet_id in named else sheet for sheet in book.sheets]
    draft.ids = copy.deepcopy(book.ids)
    replies = [_one_request(draft, i, request) for i, request in enumerate(requests)]
    book.adopt(draft)
    return {"spreadsheetId": book.key, "replies": replies}


def _sheet_ids(value: Json) -> set[int]:
    """Every sheetId named anywhere in a request body."""
    if isinstance(value, list):
        return {found for item in value for found in _sheet_ids(item)}
    if not isinstance(value, dict):
        return set()
    named = {v for k, v in value.items() if k == "sheetId" and isinstance(v, int)}
    return named.union(*(_sheet_ids(v) for k, v in value.items() if k != "sheetId"))


def _one_request(book: _Spreadsheet, index: int, request: Json) -> dict[str, Json]:
    where = f"requests[{index}]"
    if not isinstance(request, dict) or len(request) != 1:
        raise _invalid(f"Invalid {where}: each request must set exactly one kind of request.")
    kind, args = next(iter(request.items()))
    handler = _REQUESTS.get(kind)
    if handler is None:
        raise _unsupported(f"the batchUpdate request {kind!r}")
    try:
        reply = handler(book, args, f"{where}.{kind}")
        if sum(s.row_count * s.column_count for s in book.sheets) > MAX_CELLS:
            raise _RequestError(
                "This action would increase the number of cells in the workbook above the "
                f"limit of {MAX_CELLS} cells."
            )
    except _RequestError as error:
        raise _invalid(f"Invalid {where}.{kind}: {error}") from None
    return reply


def _positive(obj: Mapping[str, Json], name: str, where: str, default: int) -> int:
    value = _typed_field(obj, name, int, where)
    if value is None:
        return default
    if value < 1:
        raise _RequestError(f"{name} must be at least 1, not {value}")
    return int(value)


def _sheet_of(book: _Spreadsheet, obj: Mapping[str, Json], where: str) -> _Sheet:
    sheet_id = _typed_field(obj, "sheetId", int, where) or 0
    sheet = book.sheet_by_id(sheet_id)
    if sheet is None:
        raise _RequestError(f"No grid with id: {sheet_id}")
    return sheet


def _add_sheet(book: _Spreadsheet, args: Json, where: str) -> dict[str, Json]:
    args = _object(args, {"properties"}, where)
    where += ".properties"
    props = _object(
        args.get("properties", {}),
        {"sheetId", "title", "index", "sheetType", "gridProperties", "hidden", "rightToLeft"},
        where,
    )
    title = _typed_field(props, "title", str, where)
    if not title:
        title = next(f"Sheet{n}" for n in range(1, 1000) if book.sheet(f"Sheet{n}") is None)
    if book.sheet(title) is not None:
        raise _RequestError(
            f'A sheet with the name "{title}" already exists. Please enter another name.'
        )
    if props.get("sheetType", "GRID") != "GRID":
        raise _unsupported(f"sheets of type {props['sheetType']}")
    sheet_id = _typed_field(props, "sheetId", int, where)
    if sheet_id is not None and book.sheet_by_id(sheet_id) is not None:
        raise _RequestError(f"A sheet with the id {sheet_id} already exists.")
    grid_at = where + ".gridProperties"
    grid = _object(
        props.get("gridProperties", {}),
        {"rowCount", "columnCount", "frozenRowCount", "frozenColumnCount"},
        grid_at,
    )
    sheet = _Sheet(
        book.new_sheet_id() if sheet_id is None else sheet_id,
        title,
        _positive(grid, "rowCount", grid_at, DEFAULT_ROWS),
        _positive(grid, "columnCount", grid_at, DEFAULT_COLUMNS),
        bool(_typed_field(props, "hidden", bool, where)),
        _typed_field(grid, "frozenRowCount", int, grid_at) or 0,
    )
    index = _typed_field(props, "index", int, where)
    index = len(book.sheets) if index is None else max(0, min(index, len(book.sheets)))
    book.sheets.insert(index, sheet)
    return {"addSheet": {"properties": sheet.properties(index)}}


def _delete_sheet(book: _Spreadsheet, args: Json, where: str) -> dict[str, Json]:
    sheet = _sheet_of(book, _object(args, {"sheetId"}, where), where)
    if len(book.sheets) == 1:
        raise _RequestError("You can't remove all the sheets in a document.")
    book.sheets.remove(sheet)
    if all(s.hidden for s in book.sheets):
        raise _RequestError("You can't remove all the visible sheets in a document.")
    return {}


def _mask_paths(fields: Json, where: str) -> list[str]:
    """The paths a request's `fields` names: "gridProperties/rowCount,hidden" ->
    ["gridProperties.rowCount", "hidden"]."""
    if not isinstance(fields, str) or not fields.strip():
        raise _RequestError("At least one field must be updated, but none were specified.")
    return [
        ".".join(path)
        for path in _leaf_paths(_parse_mask(fields.replace("/", "."), where + ".fields"))
    ]


def _property(props: Mapping[str, Json], path: str) -> Json:
    value: Json = props
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            raise _RequestError(f"{path} is in fields but has no value")
        value = value[part]
    return value


def _update_sheet_properties(book: _Spreadsheet, args: Json, where: str) -> dict[str, Json]:
    args = _object(args, {"properties", "fields"}, where)
    props = _object(
        args.get("properties", {}),
        {"sheetId", "title", "index", "sheetType", "gridProperties", "hidden", "rightToLeft"},
        where + ".properties",
    )
    sheet = _sheet_of(book, props, where + ".properties")
    given = [
        ".".join(path)
        for path in _leaf_paths(_tree_of(props))
        if path[0] not in ("sheetId", "sheetType")
    ]
    paths: list[str] = []
    for path in _mask_paths(args.get("fields"), where):
        # "*" and "gridProperties" stand for every property given below them.
        below = given if path == "*" else [g for g in given if g.startswith(path + ".")]
        paths.extend(below or [path])
    rows, columns = sheet.row_count, sheet.column_count
    for path in paths:
        value = _property(props, path)
        if path == "title":
            if not isinstance(value, str) or not value:
                raise _RequestError("A sheet's title cannot be empty.")
            other = book.sheet(value)
            if other is not None and other is not sheet:
                raise _RequestError(
                    f'A sheet with the name "{value}" already exists. Please enter another name.'
                )
            sheet.title = value
        elif path == "hidden":
            sheet.hidden = bool(value)
        elif path == "index":
            book.sheets.remove(sheet)
            book.sheets.insert(max(0, min(int(value), len(book.sheets))), sheet)
        elif path == "gridProperties.rowCount":
            rows = int(value)
        elif path == "gridProperties.columnCount":
            columns = int(value)
        elif path == "gridProperties.frozenRowCount":
            sheet.frozen_rows = int(value)
        else:
            raise _unsupported(f"updating the sheet property {path!r}")
    if rows < 1 or columns < 1:
        raise _RequestError("A sheet needs at least one row and one column.")
    if all(s.hidden for s in book.sheets):
        raise _RequestError("You can't hide all the sheets in a document.")
    sheet.resize(rows, columns)
    return {}


def _update_spreadsheet_properties(book: _Spreadsheet, args: Json, where: str) -> dict[str, Json]:
    args = _object(args, {"properties", "fields"}, where)
    props = _object(
        args.get("properties", {}),
        {"title", "locale", "timeZone", "autoRecalc"},
        where + ".properties",
    )
    for path in _mask_paths(args.get("fields"), where):
        value = _property(props, path)
        if not isinstance(value, str) or not value:
            raise _RequestError(f"{path} cannot be empty")
        if path == "title":
            book.title = value
        elif path == "locale":
            book.locale = value
        elif path == "timeZone":
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise _RequestError(f"Invalid timeZone: {value}") from None
            book.time_zone = value
        else:
            raise _unsupported(f"updating the spreadsheet property {path!r}")
    return {}


def _grid_range(book: _Spreadsheet, obj: Json, where: str) -> tuple[_Sheet, int, int, int, int]:
    obj = _object(
        obj,
        {"sheetId", "startRowIndex", "endRowIndex", "startColumnIndex", "endColumnIndex"},
        where,
    )
    sheet = _sheet_of(book, obj, where)
    bounds = [
        _typed_field(obj, name, int, where)
        for name in ("startRowIndex", "endRowIndex", "startColumnIndex", "endColumnIndex")
    ]
    row0, row1, col0, col1 = (
        bounds[0] or 0,
        sheet.row_count if bounds[1] is None else bounds[1],
        bounds[2] or 0,
        sheet.column_count if bounds[3] is None else bounds[3],
    )
    if not (0 <= row0 < row1 and 0 <= col0 < col1):
        raise _RequestError(f"Invalid range: rows {row0}-{row1}, columns {col0}-{col1}")
    if row1 > sheet.row_count or col1 > sheet.column_count:
        raise _RequestError(str(_exceeds(sheet, row0, col0, row1, col1)))
    return sheet, row0, col0, row1, col1


def _repeat_cell(book: _Spreadsheet, args: Json, where: str) -> dict[str, Json]:
    args = _object(args, {"range", "cell", "fields"}, where)
    fields = args.get("fields")
    paths = _mask_paths(fields, where)
    if paths != ["userEnteredFormat.numberFormat"]:
        raise _unsupported(f"repeatCell with fields {fields!r} (only number formats)")
    sheet, row0, col0, row1, col1 = _grid_range(book, args.get("range", {}), where + ".range")
    cell = _object(args.get("cell", {}), {"userEnteredFormat"}, where + ".cell")
    user_format = _object(
        cell.get("userEnteredFormat", {}), {"numberFormat"}, where + ".cell.userEnteredFormat"
    )
    number_format = _number_format(user_format.get("numberFormat"), where)
    for r in range(row0, row1):
        for c in range(col0, col1):
            sheet.put(r, c).format = number_format
    return {}


def _number_format(value: Json, where: str) -> NumberFormat | None:
    if value is None or value == {}:
        return None
    value = _object(value, {"type", "pattern"}, where + ".cell.userEnteredFormat.numberFormat")
    kind = value.get("type")
    if kind not in NUMBER_FORMAT_TYPES:
        raise _invalid(
            f"Invalid value at '{where}.cell.user_entered_format.number_format.type' "
            f"(type.googleapis.com/google.apps.sheets.v4.NumberFormatType), {json.dumps(kind)}"
        )
    return NumberFormat(str(kind), str(value.get("pattern") or ""))


def _append_dimension(book: _Spreadsheet, args: Json, where: str) -> dict[str, Json]:
    args = _object(args, {"sheetId", "dimension", "length"}, where)
    sheet = _sheet_of(book, args, where)
    dimension = _enum(args.get("dimension"), "dimension")
    length = _positive(args, "length", where, 0)
    if length < 1:
        raise _RequestError("length must be at least 1")
    if dimension == "ROWS":
        sheet.row_count += length
    else:
        sheet.column_count += length
    return {}


def _insert_dimension(book: _Spreadsheet, args: Json, where: str) -> dict[str, Json]:
    args = _object(args, {"range", "inheritFromBefore"}, where)
    span = _object(
        args.get("range", {}), {"sheetId", "dimension", "startIndex", "endIndex"}, where + ".range"
    )
    sheet = _sheet_of(book, span, where + ".range")
    dimension = _enum(span.get("dimension"), "dimension")
    start = _typed_field(span, "startIndex", int, where + ".range") or 0
    end = _typed_field(span, "endIndex", int, where + ".range")
    size = sheet.row_count if dimension == "ROWS" else sheet.column_count
    if end is None or not 0 <= start < end or start > size:
        raise _RequestError(f"Invalid range: {start} to {end} in a dimension of {size}")
    before = bool(_typed_field(args, "inheritFromBefore", bool, where))
    if before and start == 0:
        raise _RequestError("Cannot inherit from before when inserting at the start.")
    source = start - 1 if before else (start if start < size else None)
    insert = sheet.insert_rows if dimension == "ROWS" else sheet.insert_columns
    insert(start, end - start, source)
    return {}


_REQUESTS: dict[str, Callable[[_Spreadsheet, Json, str], dict[str, Json]]] = {
    "addSheet": _add_sheet,
    "deleteSheet": _delete_sheet,
    "updateSheetProperties": _update_sheet_properties,
    "updateSpreadsheetProperties": _update_spreadsheet_properties,
    "repeatCell": _repeat_cell,
    "appendDimension": _append_dimension,
    "insertDimension": _insert_dimension,
}


# --- Field masks ---------------------------------------------------------------------------

_MASK_NAME = re.compile(r"[A-Za-z0-9_*]+(?:\.[A-Za-z0-9_*]+)*")
#: A parsed mask: name -> what to keep below it; an empty dict keeps all of it.
Mask = dict[str, "Mask"]


def _parse_mask(text: str, where: str = "fields") -> Mask:
    """A `fields` mask as a tree: "a.b,c(d,e)" -> {"a": {"b": {}}, "c": {"d": {}, "e": {}}}."""
    tree, end = _mask_list(text.replace(" ", ""), 0, where)
    if end != len(text.replace(" ", "")):
        raise _invalid(f"Invalid field selection {text} at '{where}'")
    return tree


def _mask_list(text: str, pos: int, where: str) -> tuple[Mask, int]:
    tree: Mask = {}
    while True:
        name = _MASK_NAME.match(text, pos)
        if name is None:
            raise _invalid(f"Invalid field selection {text} at '{where}'")
        node = tree
        for part in name.group().split("."):
            node = node.setdefault(part, {})
        pos = name.end()
        if text[pos : pos + 1] == "(":
            inner, pos = _mask_list(text, pos + 1, where)
            if text[pos : pos + 1] != ")":
                raise _invalid(f"Invalid field selection {text} at '{where}'")
            node.update(inner)
            pos += 1
        if text[pos : pos + 1] != ",":
            return tree, pos
        pos += 1


def _leaf_paths(tree: Mask, prefix: Sequence[str] = ()) -> list[list[str]]:
    paths: list[list[str]] = []
    for name, below in tree.items():
        path = [*prefix, name]
        paths.extend(_leaf_paths(below, path) if below else [path])
    return paths


def _tree_of(value: Json) -> Mask:
    if isinstance(value, dict):
        return {name: _tree_of(below) for name, below in value.items()}
    return {}


def _select_fields(value: Json, mask: Mask) -> Json:
    """Keep what a `fields` mask names; lists are masked item by item."""
    if not mask or "*" in mask:
        return value
    if isinstance(value, list):
        return [_select_fields(item, mask) for item in value]
    if isinstance(value, dict):
        return {k: _select_fields(v, mask[k]) for k, v in value.items() if k in mask}
    return value


# --- Routes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Route:
    method: str
    path: re.Pattern[str]
    handler: Callable[[_Spreadsheet, _Call], dict[str, Json]]
    write: bool


#: The IAM call google-auth makes on its own (not recorded, never failed on purpose).
_BOUNDARY_LOOKUP = re.compile(r"/v1/projects/-/serviceAccounts/[^/]+/allowedLocations")
_KEY = r"/v4/spreadsheets/(?P<key>[A-Za-z0-9_-]+)"
_ROUTES = (
    _Route("GET", re.compile(_KEY), _spreadsheet_get, False),
    _Route("POST", re.compile(_KEY + ":batchUpdate"), _batch_update, True),
    _Route("GET", re.compile(_KEY + "/values:batchGet"), _values_batch_get, False),
    _Route("POST", re.compile(_KEY + "/values:batchUpdate"), _values_batch_update, True),
    _Route("POST", re.compile(_KEY + "/values/(?P<range>[^/]+):append"), _values_append, True),
    _Route("POST", re.compile(_KEY + "/values/(?P<range>[^/]+):clear"), _values_clear, True),
    _Route("GET", re.compile(_KEY + "/values/(?P<range>[^/]+)"), _values_get, False),
    _Route("PUT", re.compile(_KEY + "/values/(?P<range>[^/]+)"), _values_update, True),
)


# --- OAuth ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _private_key() -> rsa.RSAPrivateKey:
    # One key per test process: making an RSA key takes a noticeable fraction of a second.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class _Account:
    email: str
    key_id: str
    key: rsa.RSAPrivateKey
    revoked: bool = False


@dataclass(frozen=True)
class _Token:
    email: str
    scopes: frozenset[str]


class _GrantError(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error, self.description = error, description


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


_SHORT_LIVED = (
    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
    "timeframe. Check your iat and exp values in the JWT claim."
)


def _check_assertion(assertion: str, account: _Account, audiences: set[str]) -> Json:
    """The claims of a JWT bearer assertion, if `account`'s key signed it and it is current."""
    try:
        head, body, signature = assertion.split(".")
        header, claims = json.loads(_b64decode(head)), json.loads(_b64decode(body))
        signed = _b64decode(signature)
    except ValueError:
        raise _GrantError("invalid_grant", "Invalid JWT: the assertion is malformed.") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise _GrantError("invalid_grant", "Invalid JWT: the assertion is malformed.")
    if header.get("alg") != "RS256":
        raise _GrantError("invalid_grant", "Invalid JWT Signature.")
    if claims.get("iss") != account.email:
        raise _GrantError("invalid_grant", "Invalid grant: account not found")
    if account.revoked or header.get("kid", account.key_id) != account.key_id:
        raise _GrantError("invalid_grant", "Invalid JWT Signature.")
    try:
        message = f"{head}.{body}".encode()
        account.key.public_key().verify(signed, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise _GrantError("invalid_grant", "Invalid JWT Signature.") from None
    if claims.get("aud") not in audiences:
        raise _GrantError("invalid_grant", "Invalid JWT: Failed audience check.")
    issued, expires, now = claims.get("iat"), claims.get("exp"), time.time()
    if not (isinstance(issued, (int, float)) and isinstance(expires, (int, float))):
        raise _GrantError("invalid_grant", _SHORT_LIVED)
    if expires - issued > 3600 or not issued - 300 <= now <= expires:
        raise _GrantError("invalid_grant", _SHORT_LIVED)
    if not isinstance(claims.get("scope"), str) or not claims["scope"].strip():
        raise _GrantError("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
    return claims


# --- The HTTP side -------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received. `path` is percent-decoded; `query` maps each parameter
    to its values; `body` is the parsed JSON (the form fields for /token), None when empty.
    `status` is what the fake answered, None when it dropped the connection; `sent` and
    `answered` the bytes of the request's body and of the answer's."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int | None = None
    sent: int = 0
    answered: int = 0


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes
    headers: Sequence[tuple[str, str]] = ()
    delay: float = 0.0
    #: End the connection after answering.
    close: bool = False


@dataclass(frozen=True)
class _Fault:
    kind: str  # "fail", "delay" or "drop"
    status: int = 0
    body: dict[str, Json] | None = None
    seconds: float = 0.0


def _json_bytes(payload: Json) -> bytes:
    return json.dumps(payload, indent=2, ensure_ascii=False).encode("utf-8")


def _recorded_body(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


class _Handler(BaseHTTPRequestHandler):
    # Keep-alive, as Google's front end: a client reuses its connection between calls.
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm each answer would wait
    # for the client's delayed ACK (40 ms).
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        reply = self.server.fake._handle(self.command, self.path, self.headers, raw)
        if reply is None:
            self.close_connection = True  # dropped: the client sees the connection close
            return
        if reply.delay:
            self.server.fake._closing.wait(reply.delay)
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            for name, value in reply.headers:
                self.send_header(name, value)
            if reply.close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except OSError:  # the client gave up waiting (a delayed answer)
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read FakeSheets.requests instead of a log."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeSheets) -> None:
        super().__init__((LOCALHOST, 0), _Handler)
        self.fake = fake
        self.open: set[socket.socket] = set()
        self.open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.open_lock:
            self.open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.open_lock:
            self.open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End kept-alive connections, so no handler thread outlives the server."""
        with self.open_lock:
            for connection in self.open:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if error is not None and not isinstance(error, OSError):
            self.fake.errors.append(error)


# --- The fake ------------------------------------------------------------------------------


class FakeSheets:
    """The Google Sheets API and Google's token endpoint on 127.0.0.1.

    `with FakeSheets() as fake:` (or the `sheets_server` fixture), then
    `fake.add_spreadsheet(...)`, point a client at `fake.url` with a key file from
    `fake.write_key_file(path)`, and check `fake.tab(...)` and `fake.requests`.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._books: dict[str, _Spreadsheet] = {}
        self._faults: deque[_Fault] = deque()
        self._before_write: deque[Callable[[], object]] = deque()
        self._after_write: deque[Callable[[], object]] = deque()
        self._tokens: dict[str, _Token] = {}
        self._account = _Account(SERVICE_ACCOUNT_EMAIL, secrets.token_hex(20), _private_key())
        self._closing = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        #: Every API request, in order (token requests are in token_requests).
        self.requests: list[RecordedRequest] = []
        self.token_requests: list[RecordedRequest] = []
        #: Errors inside the fake itself; the fixture fails the test when there are any.
        self.errors: list[BaseException] = []
        #: Answer every API call as Google does when the project has not enabled the API.
        self.api_disabled = False

    # --- running ---------------------------------------------------------------------

    def __enter__(self) -> FakeSheets:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._closing.set()
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join()
        self._server = None

    @property
    def url(self) -> str:
        """Where the fake listens: use it in place of https://sheets.googleapis.com."""
        if self._server is None:
            raise RuntimeError("the fake Sheets server is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def service_account_email(self) -> str:
        return self._account.email

    # --- the world -------------------------------------------------------------------

    @staticmethod
    def date(year: int, month: int, day: int) -> SheetDate:
        """A date cell for add_spreadsheet / insert_rows (a serial number, DATE format)."""
        return SheetDate(date(year, month, day))

    @staticmethod
    def formula(text: str, shows: str | int | float | bool) -> SheetFormula:
        """A formula cell showing `shows`, for formulas the fake cannot work out itself."""
        return SheetFormula(text, shows)

    def add_spreadsheet(
        self,
        key: str,
        title: str,
        tabs: Mapping[str, Sequence[Sequence[CellInput]]],
        *,
        hidden: set[str] | frozenset[str] = frozenset(),
        shared_with: set[str] | None = None,
        locale: str = "en_US",
        time_zone: str = "Europe/Amsterdam",
    ) -> None:
        """A spreadsheet as people made it. Tabs keep their order; the first gets sheet id 0.
        A tab's grid is at least 1000 x 26, as in a new Google sheet. `shared_with`: the
        accounts it is shared with (None: the fake's service account)."""
        if not re.fullmatch(r"[A-Za-z0-9_-]+", key):
            raise ValueError(f"not a spreadsheet key: {key!r}")
        if not tabs:
            raise ValueError("a spreadsheet has at least one tab")
        if set(hidden) - set(tabs):
            raise ValueError(f"hidden tabs that do not exist: {sorted(set(hidden) - set(tabs))}")
        if set(tabs) <= set(hidden):
            raise ValueError("a spreadsheet shows at least one tab")
        book = _Spreadsheet(
            key,
            title,
            locale,
            time_zone,
            [],
            None if shared_with is None else frozenset(shared_with),
            random.Random(key),
        )
        for name, rows in tabs.items():
            width = max((len(row) for row in rows), default=0)
            sheet = _Sheet(
                0 if not book.sheets else book.new_sheet_id(),
                name,
                max(DEFAULT_ROWS, len(rows)),
                max(DEFAULT_COLUMNS, width),
                hidden=name in hidden,
            )
            sheet.rows = [[_from_python(value) for value in row] for row in rows]
            book.sheets.append(sheet)
        with self._lock:
            if key in self._books:
                raise ValueError(f"there is already a spreadsheet {key!r}")
            self._books[key] = book

    def tab(self, key: str, name: str) -> list[list[CellInput]]:
        """A tab's cells as add_spreadsheet takes them (formulas as text, dates as
        FakeSheets.date), up to the last row and column with a value; empty cells None."""
        with self._lock:
            sheet = self._sheet(key, name)
            height, width = sheet.used()
            return [[_to_python(sheet.cell(r, c)) for c in range(width)] for r in range(height)]

    def sheet_id(self, key: str, name: str) -> int:
        with self._lock:
            return self._sheet(key, name).sheet_id

    def grid_size(self, key: str, name: str) -> tuple[int, int]:
        """(rows, columns) of a tab's grid."""
        with self._lock:
            sheet = self._sheet(key, name)
            return sheet.row_count, sheet.column_count

    def insert_rows(
        self, key: str, tab: str, at_row: int, rows: Sequence[Sequence[CellInput]]
    ) -> None:
        """A person inserts `rows` so that the first becomes row `at_row` (1-based)."""
        with self._lock:
            sheet = self._sheet(key, tab)
            if not 1 <= at_row <= sheet.row_count + 1:
                raise ValueError(f"row {at_row} is outside {tab!r}")
            if any(len(row) > sheet.column_count for row in rows):
                raise ValueError(f"rows wider than the grid of {tab!r}")
            sheet.insert_rows(at_row - 1, len(rows))
            for r, row in enumerate(rows):
                sheet.rows[at_row - 1 + r] = [_from_python(value) for value in row]

    def sort_rows(self, key: str, tab: str, by_column: int | str, *, header_rows: int = 1) -> None:
        """A person sorts the rows below the header by a column (1-based or a letter)."""
        with self._lock:
            sheet = self._sheet(key, tab)
            col = by_column - 1 if isinstance(by_column, int) else _column_index(by_column)
            height, _ = sheet.used()
            body = sheet.rows[header_rows:height]
            body.sort(key=lambda line: _sort_key(line[col] if col < len(line) else None))
            sheet.rows[header_rows:height] = body

    def resize(
        self, key: str, tab: str, *, rows: int | None = None, columns: int | None = None
    ) -> None:
        """A person changes a tab's grid (cells outside the new grid are lost, as in Sheets)."""
        with self._lock:
            sheet = self._sheet(key, tab)
            sheet.resize(rows or sheet.row_count, columns or sheet.column_count)

    def _sheet(self, key: str, name: str) -> _Sheet:
        book = self._books.get(key)
        sheet = book.sheet(name) if book else None
        if sheet is None:
            raise KeyError(f"no tab {name!r} in spreadsheet {key!r}")
        return sheet

    # --- misbehaving -----------------------------------------------------------------

    def fail_next(self, status: int, times: int = 1, body: dict[str, Json] | None = None) -> None:
        """Answer the next `times` API requests with `status` (Google's body for it unless
        `body` is given) without doing them."""
        if not 400 <= status <= 599 or times < 1:
            raise ValueError(f"fail_next({status}, {times})")
        with self._lock:
            self._faults.extend(_Fault("fail", status, body) for _ in range(times))

    def delay_next(self, seconds: float, times: int = 1) -> None:
        """Do the next `times` API requests at once but answer `seconds` later: a client that
        gives up sooner has still changed the sheet."""
        with self._lock:
            self._faults.extend(_Fault("delay", seconds=seconds) for _ in range(times))

    def drop_next(self, times: int = 1) -> None:
        """Close the connection of the next `times` API requests without doing or answering
        them."""
        with self._lock:
            self._faults.extend(_Fault("drop") for _ in range(times))

    def before_next_write(self, action: Callable[[], object]) -> None:
        """Run `action` (say, a person inserting rows) just before the next write is applied;
        queued actions run one per write."""
        with self._lock:
            self._before_write.append(action)

    def after_next_write(self, action: Callable[[], object]) -> None:
        """Run `action` just after the next write is applied, before it is answered (a
        person sorting the rows the moment the write is in); one per write, as above."""
        with self._lock:
            self._after_write.append(action)

    def revoke_tokens(self) -> None:
        """Forget every access token handed out, as when they expire: clients get 401 and
        fetch a new token with their key."""
        with self._lock:
            self._tokens.clear()

    def revoke_key(self) -> None:
        """The service account's key is deleted: tokens and new grants are refused."""
        with self._lock:
            self._account.revoked = True
            self._tokens.clear()

    def write_key_file(self, path: Path) -> Path:
        """A service-account JSON key (mode 0600) whose token_uri is this fake."""
        account = self._account
        pem = account.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        info = {
            "type": "service_account",
            "project_id": PROJECT_ID,
            "private_key_id": account.key_id,
            "private_key": pem,
            "client_email": account.email,
            "client_id": "104" + PROJECT_NUMBER + "2718",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": f"{self.url}/token",
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
            + quote(account.email),
            "universe_domain": "googleapis.com",
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            json.dump(info, out, indent=2)
        path.chmod(0o600)
        return path

    # --- answering -------------------------------------------------------------------

    def _handle(self, method: str, target: str, headers: Any, raw: bytes) -> _Reply | None:
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True)
        if parts.path == "/token":
            return self._grant(method, raw)
        if _BOUNDARY_LOOKUP.fullmatch(parts.path):
            return self._boundary(headers)
        with self._lock:
            fault = self._faults.popleft() if self._faults else None
            status: int | None
            if fault is not None and fault.kind == "drop":
                status, reply = None, None
            elif fault is not None and fault.kind == "fail":
                body = fault.body or _default_error(fault.status, write=method != "GET")
                extra = [_BEARER_CHALLENGE] if fault.status == 401 else []
                status, reply = fault.status, _Reply(fault.status, _json_bytes(body), extra)
            else:
                status, payload, extra = self._answer(method, parts.path, query, headers, raw)
                delay = fault.seconds if fault is not None else 0.0
                reply = _Reply(status, _json_bytes(payload), extra, delay)
            recorded = RecordedRequest(
                method,
                unquote(parts.path),
                query,
                _recorded_body(raw),
                status,
                len(raw),
                len(reply.body) if reply is not None else 0,
            )
            self.requests.append(recorded)
        return reply

    def _answer(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, raw: bytes
    ) -> tuple[int, Json, list[tuple[str, str]]]:
        try:
            return 200, self._call(method, path, query, headers, raw), []
        except _ApiError as error:
            return error.code, error.body(), error.headers
        except Exception as error:  # a bug in the fake: fail the test, answer like Google
            self.errors.append(error)
            return 500, _ApiError(500).body(), []

    def _call(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, raw: bytes
    ) -> Json:
        route, match = self._route(method, path)
        token = self._authenticate(headers)
        if self.api_disabled:
            raise _service_disabled()
        if not token.scopes & (WRITE_SCOPES if route.write else READ_SCOPES):
            raise _scope_error()
        book = self._books.get(match["key"])
        if book is None:
            raise _ApiError(404)
        if book.shared_with is not None and token.email not in book.shared_with:
            raise _ApiError(403)
        body = _json_body(raw) if method in ("POST", "PUT") else None
        call = _Call(unquote(match.groupdict().get("range") or ""), query, body)
        if route.write and self._before_write:
            self._before_write.popleft()()
        answer = route.handler(book, call)
        if route.write and self._after_write:
            self._after_write.popleft()()
        fields = _param(query, "fields")
        return _select_fields(answer, _parse_mask(fields)) if fields else answer

    def _route(self, method: str, path: str) -> tuple[_Route, re.Match[str]]:
        for route in _ROUTES:
            match = route.path.fullmatch(path)
            if match and route.method == method:
                return route, match
        raise _ApiError(404, f"The fake Sheets server has no endpoint {method} {path}.")

    def _authenticate(self, headers: Any) -> _Token:
        value = str(headers.get("Authorization") or "")
        if not value.startswith("Bearer "):
            raise _ApiError(
                401,
                "Request is missing required authentication credential. Expected OAuth 2 "
                "access token, login cookie or other valid authentication credential. See "
                "https://developers.google.com/identity/sign-in/web/devconsole-project.",
            )
        token = self._tokens.get(value.removeprefix("Bearer ").strip())
        if token is None:
            raise _ApiError(401)
        return token

    def _boundary(self, headers: Any) -> _Reply:
        """google-auth asks IAM, in a background thread after each new token, where the
        account may be used; "0x0" is its own word for "no restriction". The connection is
        closed after the answer: the thread's copy of the client's transport is never closed,
        and a kept-alive socket would be left to the garbage collector."""
        with self._lock:
            try:
                self._authenticate(headers)
            except _ApiError as error:
                return _Reply(error.code, _json_bytes(error.body()), error.headers, close=True)
        answer = {"locations": [], "encodedLocations": "0x0"}
        return _Reply(200, _json_bytes(answer), close=True)

    def _grant(self, method: str, raw: bytes) -> _Reply:
        form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
        with self._lock:
            try:
                payload = self._token_for(method, form)
                status = 200
            except _GrantError as error:
                payload = {"error": error.error, "error_description": error.description}
                status = 400
            self.token_requests.append(RecordedRequest(method, "/token", {}, form, status))
        return _Reply(status, _json_bytes(payload))

    def _token_for(self, method: str, form: Mapping[str, str]) -> dict[str, Json]:
        if method != "POST":
            raise _GrantError("invalid_request", f"{method} is not allowed here.")
        grant = form.get("grant_type", "")
        if grant != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            raise _GrantError("unsupported_grant_type", f"Invalid grant_type: {grant}")
        if "assertion" not in form:
            raise _GrantError("invalid_request", "Missing required parameter: assertion")
        audiences = {GOOGLE_TOKEN_URI, f"{self.url}/token"}
        claims = _check_assertion(form["assertion"], self._account, audiences)
        token = "ya29.fake-" + secrets.token_urlsafe(32)
        self._tokens[token] = _Token(self._account.email, frozenset(claims["scope"].split()))
        return {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}


@pytest.fixture
def sheets_server() -> Iterator[FakeSheets]:
    """A running fake Sheets API; the test fails if the fake itself broke while serving it."""
    with FakeSheets() as fake:
        yield fake
    if fake.errors:
        raise fake.errors[0]
