"""Headers <-> fields, and cell values -> typed prospect data, with A1 references.

Pure: a Table in, dataclasses out. Bad data never raises here; it becomes a Problem pinned to
the cell, so one bad row cannot stop the rest of the sheet.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from dataclasses import fields as dataclass_fields
from datetime import date, datetime, timedelta
from enum import Enum
from functools import lru_cache
from itertools import compress, count
from operator import itemgetter
from types import MappingProxyType
from typing import Any, NoReturn, TypeGuard, TypeVar

from sheetfollow import fields, vocab
from sheetfollow.calendar import is_known_region
from sheetfollow.errors import SheetError, UsageError
from sheetfollow.i18n import R_, Reason, Why
from sheetfollow.models import Channel, Outcome, Owner, Problem, Prospect, Stage
from sheetfollow.sheet import EPOCH_1900, RawValue, Table
from sheetfollow.text import quoted

#: How far down a tab a header row is looked for (title rows and notes often sit above it).
HEADER_SEARCH_ROWS = 20
#: Largest spreadsheet serial day number: 9999-12-31 in the 1900 date system.
MAX_SERIAL = 2958465

# Reasons (i18n.py): a problem reaches the row's Why, written in the team's language.
_DATE_HINT = R_("use 2026-12-31 or 31-12-2026")

_EMPTY_OVERRIDES: Mapping[str, str] = MappingProxyType({})


class BadValue(SheetError, ValueError):
    """A cell value that cannot be read as what its column holds. The message quotes it.

    Also a ValueError, so callers that parse one value (a command-line date) can treat it
    like any other conversion failure."""


# --- A1 references ---------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def col_letter(n: int) -> str:
    """1 -> "A", 26 -> "Z", 27 -> "AA"."""
    if n < 1:
        raise ValueError(f"column numbers start at 1, not {n}")
    letters = ""
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def col_number(letters: str) -> int:
    """ "A" -> 1, "ab" -> 28: the inverse of col_letter."""
    if not re.fullmatch(r"[A-Za-z]+", letters):
        raise ValueError(f"{letters!r} is not a column name like A or AB")
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - ord("A") + 1
    return n


# A bare tab name must not read as a cell (AB12, R1C1) or contain anything but word characters,
# or Excel would parse the reference differently.
_BARE_TAB = re.compile(r"[^\W\d]\w*")
_LOOKS_LIKE_CELL = re.compile(r"[A-Za-z]{1,3}\d+|[Rr]\d*[Cc]\d*", re.ASCII)


@lru_cache(maxsize=64)
def quote_tab(tab: str) -> str:
    """A tab name as it appears before "!" in a reference: "Prospects", "'My deals'"."""
    if _BARE_TAB.fullmatch(tab) and not _LOOKS_LIKE_CELL.fullmatch(tab):
        return tab
    return "'" + tab.replace("'", "''") + "'"


def cell_ref(tab: str, row: int, col: int | None = None) -> str:
    """ "Prospects!F17"; with col None the whole row, "Prospects!17:17"."""
    if col is None:
        return f"{quote_tab(tab)}!{row}:{row}"
    return f"{quote_tab(tab)}!{col_letter(col)}{row}"


# --- Headers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeaderMap:
    """Where each known field sits in one tab."""

    tab: str
    header_row: int  # 1-based
    columns: Mapping[str, int]  # field -> 1-based column
    last_column: int  # last non-empty column in the header row
    unknown: tuple[str, ...] = ()  # header texts not recognised; left alone
    #: How the team types dates as text: "DMY" (31-12-2026), "MDY" (12/31/2026) or "YMD".
    date_order: str = "DMY"
    #: The team's locale for amounts typed as text ("nl_NL": "12.500,50"); "" = guess.
    amount_locale: str = ""

    def cell(self, row: int, name: str) -> str:
        """The A1 reference of field `name` in `row`, or of the row when the column is absent."""
        return cell_ref(self.tab, row, self.columns.get(name))


def english_header(name: str) -> str:
    """The English header of a field of any tab, for messages ("follow_up_on" -> "Follow up on")."""
    for table in (vocab.PROSPECT_HEADERS, vocab.LOG_HEADERS, vocab.OWNER_HEADERS):
        if name in table["en"]:
            return table["en"][name]
    return name.replace("_", " ").capitalize()


def _where(source: str, tab: str) -> str:
    return f"{source}, tab {tab}" if source else f"tab {tab}"


def _prefix(source: str) -> str:
    return f"{source}: " if source else ""


def cell_text(value: RawValue) -> str:
    """A cell as text: stripped; whole floats without ".0" (IDs, phone numbers); dates ISO."""
    if isinstance(value, str):
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def rows_reading(cells: Sequence[RawValue], wanted: str) -> list[int]:
    """The positions of the cells whose text, casefolded, is `wanted` (not empty).

    For looking one ID or email up among every row: when every cell is text or empty, as
    in the usual ID column, the cells are stripped, folded and compared in C."""
    if not wanted:
        return []
    try:
        texts: Iterator[str] = map(_EMPTY_TEXT, cells, cells)  # a number stays: TypeError
        folded = map(str.casefold, map(str.strip, texts))
        return list(compress(count(), map(wanted.__eq__, folded)))
    except TypeError:  # a number, a date, TRUE: each cell as cell_text reads it
        return [
            index
            for index, value in enumerate(cells)
            if value is not None and cell_text(value).casefold() == wanted
        ]


#: An empty cell as "" (for the C-level strip above); any other value as it is.
_EMPTY_TEXT: Callable[[RawValue, RawValue], Any] = dict[RawValue, Any]({None: ""}).get


def _row(table: Table, row: int) -> list[RawValue]:
    return table.rows[row - 1] if 0 < row <= len(table.rows) else []


class _Matcher:
    """Header text -> field, with overrides taking precedence over the aliases."""

    def __init__(self, aliases: Mapping[str, frozenset[str]], overrides: Mapping[str, str]):
        self.by_override = {vocab.normalise(text): name for name, text in overrides.items()}
        self.any_alias = {alias: name for name, words in aliases.items() for alias in words}
        self.by_alias = {
            alias: name for alias, name in self.any_alias.items() if name not in overrides
        }

    def field_of(self, header: str) -> str | None:
        key = vocab.normalise(header)
        found = self.by_override.get(key) or self.by_alias.get(key)
        if found is None:
            # "Waarde (€)" is the Value column whatever currency it counts in.
            bare = vocab.without_currency(key)
            if bare != key:
                found = self.by_override.get(bare) or self.by_alias.get(bare)
        return found

    def fields_in(self, values: Sequence[RawValue]) -> set[str]:
        """Fields a row names. Overridden fields count by their usual names too, so a row
        that lacks only an override's header is still found and the override reported."""
        keys = [vocab.normalise(cell_text(v)) for v in values]
        keys += [bare for k in keys if (bare := vocab.without_currency(k)) != k]
        found = {self.by_override.get(k) or self.any_alias.get(k) for k in keys}
        return {name for name in found if name is not None}


def map_headers(
    table: Table,
    *,
    aliases: Mapping[str, frozenset[str]] = vocab.HEADER_ALIASES,
    overrides: Mapping[str, str] = _EMPTY_OVERRIDES,
    required: Sequence[str] = fields.REQUIRED_FIELDS,
    source: str = "",
    date_order: str = "DMY",
    amount_locale: str = "",
) -> HeaderMap:
    """Find the header row of `table` and the column of every field it names.

    Raises SheetError when there is no header row, a field appears twice, an override names
    a header that is not there, or a required field is missing. An override of a column
    sheetfollow adds (the owned ones and ID) may name a header that is not there yet: that
    column counts as missing, and refresh adds it under that header.
    """
    _check_override_fields(overrides, aliases, source)
    matcher = _Matcher(aliases, overrides)
    header_row = table.table_header_row or _find_header_row(table, matcher, required, source)
    values = _row(table, header_row)
    columns: dict[str, int] = {}
    unknown: list[str] = []
    last_column = 0
    for col, value in enumerate(values, start=1):
        text = cell_text(value)
        if not text:
            continue
        last_column = col
        name = matcher.field_of(text)
        if name is None:
            unknown.append(text)
        elif name in columns:
            raise SheetError(
                _duplicate_message(table.tab, header_row, columns[name], col, name, source)
            )
        else:
            columns[name] = col
    _check_overrides_found(overrides, columns, table.tab, header_row, source)
    _check_required(required, columns, table.tab, header_row, source)
    return HeaderMap(
        table.tab,
        header_row,
        MappingProxyType(columns),
        last_column,
        tuple(unknown),
        date_order,
        amount_locale,
    )


def _find_header_row(table: Table, matcher: _Matcher, required: Sequence[str], source: str) -> int:
    """The first of the top rows that names at least two known fields."""
    searched = min(HEADER_SEARCH_ROWS, len(table.rows))
    for row in range(1, searched + 1):
        if len(matcher.fields_in(_row(table, row))) >= 2:
            return row
    wanted = ", ".join([english_header(name) for name in required] + ["..."])
    if searched == 0:
        raise SheetError(
            f"{_where(source, table.tab)}: the tab is empty (expected a header row with {wanted})"
        )
    raise SheetError(
        f"{_where(source, table.tab)}: no header row found "
        f"(looked for {wanted} in rows 1-{searched})"
    )


def _duplicate_message(tab: str, row: int, first: int, second: int, name: str, source: str) -> str:
    return (
        f"{_prefix(source)}{cell_ref(tab, row, first)} and {cell_ref(tab, row, second)} "
        f"both look like '{english_header(name)}'; rename one or set [headers] {name} "
        "in sheetfollow.toml"
    )


def _check_override_fields(
    overrides: Mapping[str, str], aliases: Mapping[str, frozenset[str]], source: str
) -> None:
    for name in overrides:
        if name not in aliases:
            known = ", ".join(aliases)
            raise SheetError(
                f"{_prefix(source)}[headers] names '{name}', which is not a column "
                f"sheetfollow knows (known: {known})"
            )


def _check_overrides_found(
    overrides: Mapping[str, str], columns: Mapping[str, int], tab: str, row: int, source: str
) -> None:
    for name, text in overrides.items():
        if name not in columns and name not in ADDED_FIELDS:
            raise SheetError(
                f"{_prefix(source)}{cell_ref(tab, row)}: override for '{name}' "
                f"names header '{text}' but tab {tab} has no such header"
            )


def _check_required(
    required: Sequence[str], columns: Mapping[str, int], tab: str, row: int, source: str
) -> None:
    missing = [english_header(name) for name in required if name not in columns]
    if missing:
        noun = "a column" if len(missing) == 1 else "columns"
        raise SheetError(
            f"{_prefix(source)}{cell_ref(tab, row)}: tab {tab} needs {noun} "
            f"{', '.join(missing)}; add {'it' if len(missing) == 1 else 'them'} "
            "to the header row or set [headers] in sheetfollow.toml"
        )


#: Columns sheetfollow adds when a tab lacks them: an override may name one before it exists.
ADDED_FIELDS: frozenset[str] = frozenset({"id", *fields.OWNED_FIELDS})


#: The last column a sheet can have: XFD in Excel. (Google Sheets allows more, but a sheet
#: wider than this no longer opens in Excel.)
MAX_COLUMN = 16384


class NewColumns:
    """Where the columns a tab lacks go: after the last header, in the first columns that
    hold nothing in any row (a value below the headers, in a column without one, is
    somebody's and is never written over)."""

    def __init__(self, table: Table, header: HeaderMap, *, source: str = "") -> None:
        self.table = table
        self.header = header
        self.source = source
        self._next = header.last_column + 1
        self._used: set[int] | None = None

    def place(self, headers: Sequence[str]) -> list[int]:
        """A column for each header text, in order, each after those placed before.

        Raises SheetError naming the cell in the way, and every column that does not fit,
        when the tab has no room left before its last column (XFD)."""
        used = self._used_columns()
        placed: list[int] = []
        column = self._next
        for _ in headers:
            while column in used:
                column += 1
            if column > MAX_COLUMN:
                self._no_room(headers[len(placed) :])
            placed.append(column)
            column += 1
        self._next = column
        return placed

    def _used_columns(self) -> set[int]:
        """Columns after the last header that hold a value in some row, or lie under a
        merged range (a title merged over the header row hides what would go there)."""
        if self._used is None:
            start = self.header.last_column
            self._used = {
                column
                for _, first, _, last in self.table.merged
                for column in range(max(first, start + 1), last + 1)
            }
            for values in self.table.rows:
                rest = values[start:]
                if rest.count(None) == len(rest):  # fast for rows padded with empty cells
                    continue
                self._used.update(start + i + 1 for i, v in enumerate(rest) if v is not None)
        return self._used

    def _no_room(self, missing: Sequence[str]) -> NoReturn:
        tab, last = self.header.tab, col_letter(MAX_COLUMN)
        row = next(
            (
                number
                for number, values in enumerate(self.table.rows, start=1)
                if len(values) >= MAX_COLUMN and values[MAX_COLUMN - 1] is not None
            ),
            None,
        )
        if row is not None:
            blocked = f"{cell_ref(tab, row, MAX_COLUMN)} is used"
            move = f", or move what is in column {last} further left"
        else:
            blocked = f"tab {tab} is full up to column {last}, the last a sheet can have"
            move = ""
        if len(missing) == 1:
            wanted, insert = f"the column {missing[0]}", "a column with that header"
        else:
            wanted, insert = f"the columns {', '.join(missing)}", "columns with those headers"
        raise SheetError(
            f"{_prefix(self.source)}{blocked}, so there is no room for {wanted}; "
            f"insert {insert} among yours{move}"
        )


# --- Cell values -----------------------------------------------------------------------------

_TIME = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2}|[AaPp]\.?[Mm]\.?)?)?"
_YEAR_FIRST = re.compile(r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})" + _TIME)
_DAY_FIRST = re.compile(r"(\d{1,2})([-/.])(\d{1,2})\2(\d{4}|\d{2})" + _TIME)


def _is_number(value: RawValue) -> TypeGuard[int | float]:
    # bool is an int to Python, but a TRUE cell is never a number a person meant.
    return isinstance(value, (int, float)) and not isinstance(value, bool)


#: How a team types dates as text: day-first (most of Europe), month-first (the US) or
#: year-first. ISO dates (2026-12-31) read the same in every order.
DATE_ORDERS: tuple[str, ...] = ("DMY", "MDY", "YMD")
_DATE_HINTS = {
    "DMY": _DATE_HINT,
    "MDY": R_("use 2026-12-31 or 12/31/2026"),
    "YMD": R_("use 2026-12-31"),
}


def parse_date(value: RawValue, *, epoch: date, order: str = "DMY") -> date | None:
    """A date cell, a serial day number counted from `epoch`, or a date typed as text.

    Text may be ISO (2026-12-31, 2026/12/31, optionally with a time) or, in the team's
    `order`, day-first (31-12-2026, 31/12/2026, 31.12.2026, 31-12-26, 1-2-2026), month-first
    (12/31/2026) or year-first with two digits (26-12-31). Empty -> None. Anything else
    raises BadValue.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if _is_number(value):
        return _from_serial(float(value), epoch)
    text = cell_text(value)
    if not text:
        return None
    parsed = _date_from_text(text, order)
    if parsed is None:
        hint = _DATE_HINTS.get(order, _DATE_HINT)
        raise BadValue(Why(R_("%(text)s is not a date (%(hint)s)", text=quoted(text), hint=hint)))
    return parsed


def parse_day(text: str, option: str, order: str = "DMY") -> date:
    """A date given on the command line, as the cells are read: ISO (2026-12-31), or in
    the team's date order (config date_order): 31-12-2026, or 12/31/2026 for "MDY"."""
    try:
        day = parse_date(text, epoch=EPOCH_1900, order=order)
    except ValueError:
        day = None
    if day is None:
        example = "12/31/2026" if order == "MDY" else "31-12-2026"
        raise UsageError(f"{option} {text!r} is not a date like 2026-12-31 or {example}")
    return day


def _from_serial(serial: float, epoch: date) -> date:
    if not (math.isfinite(serial) and 1 <= serial <= MAX_SERIAL):
        raise BadValue(
            Why(
                R_(
                    "%(text)s is not a date (a date number lies between 1 and %(max)s; %(hint)s)",
                    text=cell_text(serial),
                    max=str(MAX_SERIAL),
                    hint=_DATE_HINT,
                )
            )
        )
    try:
        return epoch + timedelta(days=int(serial))
    except OverflowError:
        problem = R_("%(text)s is not a date (%(hint)s)", text=cell_text(serial), hint=_DATE_HINT)
        raise BadValue(Why(problem)) from None


def _date_from_text(text: str, order: str = "DMY") -> date | None:
    if match := _YEAR_FIRST.fullmatch(text):
        year, month, day = int(match[1]), int(match[3]), int(match[4])
    elif match := _DAY_FIRST.fullmatch(text):
        first, second, last = int(match[1]), int(match[3]), int(match[4])
        two_digits = len(match[4]) == 2
        if order == "YMD" and two_digits:
            year, month, day = first, second, last  # 26-12-31
        elif order == "MDY":
            month, day, year = first, second, last
        else:
            day, month, year = first, second, last
        if two_digits:
            year += 2000
    else:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


_CURRENCY = re.compile(
    r"(?i)[€$£¥]|(?<![a-z])(?:eur|usd|gbp|dkk|sek|nok|chf|kr)(?![a-z])\.?|[,.]-$"
)
_SPACES = re.compile(r"[\s'\u00a0\u202f]+")
_AMOUNT = re.compile(r"[-+]?\d[\d.,]*")


def parse_amount(value: RawValue, locale: str = "") -> float | None:
    """A money amount: a number cell, or text such as "€ 12.500", "12,500.00", "12.500,50",
    "$1,200" or "12 500 kr".

    With the team's `locale` ("nl_NL", "en_US") text is read as that locale writes numbers
    (Babel): "12,5" is twelve and a half in nl_NL. Text the locale does not read, and any
    text without a locale, is guessed: a lone separator followed by exactly three digits
    groups thousands."""
    if value is None:
        return None
    if _is_number(value):
        return float(value)
    text = cell_text(value)
    if not text:
        return None
    compact = _SPACES.sub("", _CURRENCY.sub("", text))
    amount = _amount_in_locale(compact, locale) if locale else None
    if amount is None and _AMOUNT.fullmatch(compact):
        amount = _amount_from_text(compact)
    if amount is None:
        said = R_("%(text)s is not an amount (use 12500 or 12.500,50)", text=quoted(text))
        raise BadValue(Why(said))
    return amount


@lru_cache(maxsize=4096)
def _amount_in_locale(text: str, locale: str) -> float | None:
    if not _AMOUNT.fullmatch(text):
        return None
    from babel.core import UnknownLocaleError
    from babel.numbers import NumberFormatError, parse_decimal

    try:
        return float(parse_decimal(text, locale=locale, strict=True))
    except (NumberFormatError, UnknownLocaleError, ValueError):
        return None


def _amount_from_text(text: str) -> float | None:
    sign = -1.0 if text.startswith("-") else 1.0
    digits = text.lstrip("+-")
    seps = [ch for ch in digits if ch in ".,"]
    if not seps:
        return sign * float(digits)
    last = max(digits.rfind("."), digits.rfind(","))
    if len(set(seps)) == 2 or (len(seps) == 1 and len(digits) - last - 1 != 3):
        # The last separator is the decimal point; any other one groups thousands.
        whole, decimals = digits[:last], digits[last + 1 :]
        if not decimals or not _grouped(whole, {digits[last]} ^ {".", ","}):
            return None
        return sign * float(re.sub(r"[.,]", "", whole) + "." + decimals)
    return sign * float(re.sub(r"[.,]", "", digits)) if _grouped(digits, set(seps)) else None


def _grouped(text: str, seps: set[str]) -> bool:
    """Whether `text` is digits whose thousands groups (split at seps) are three digits long."""
    groups = re.split("[" + re.escape("".join(seps)) + "]", text) if seps else [text]
    if any(sep in "".join(groups) for sep in ".,"):
        return False
    head, *rest = groups
    return 1 <= len(head) <= (3 if rest else len(head)) and all(len(g) == 3 for g in rest)


def parse_count(value: RawValue) -> int:
    """A non-negative whole number: 3, 3.0 or "3". Empty -> 0."""
    text = cell_text(value)
    if not text:
        return 0
    if _is_number(value):
        number = float(value)
        if number.is_integer() and number >= 0:
            return int(number)
    elif re.fullmatch(r"\+?\d+", text):
        return int(text)
    raise BadValue(
        Why(R_("%(text)s is not a number of attempts (use 0, 1, 2 ...)", text=quoted(text)))
    )


E = TypeVar("E", bound=Enum)


def parse_choice(value: RawValue, aliases: Mapping[str, E], what: str) -> E | None:
    """A dropdown word in any language -> its member. Empty -> None."""
    text = cell_text(value)
    if not text:
        return None
    member = aliases.get(vocab.normalise(text))
    if member is None:
        kind = type(next(iter(aliases.values())))
        words = [str(m.value) for m in kind]
        listed = ", ".join(words[:-1]) + " or " + words[-1]
        raise BadValue(_unknown_word(quoted(text), what, listed))
    return member


#: The words a cell may hold, one message per kind: a translation lists the words the
#: starter of its language uses. English equals the list made from the members (a test
#: keeps them so; a list that no longer matches is given as made).
_KNOWN_WORDS: dict[str, Reason] = {
    "stage": R_(
        "new, contacted, interested, quote, won, delivered, customer, lost or not interested"
    ),
    "outcome": R_(
        "reached, no answer, voicemail, interested, call back, quote sent, not interested, "
        "won, delivered or lost"
    ),
    "channel": R_("phone, email or visit"),
}


def _unknown_word(text: str, what: str, made: str) -> str:
    known = _KNOWN_WORDS.get(what)
    listed: str | Reason = known if known is not None and str(known) == made else made
    # One message per kind of word, so that a translation can say "stage" in its own words.
    if what == "stage":
        return Why(R_("%(text)s is not a known stage (use %(words)s)", text=text, words=listed))
    if what == "outcome":
        return Why(R_("%(text)s is not a known outcome (use %(words)s)", text=text, words=listed))
    if what == "channel":
        return Why(R_("%(text)s is not a known channel (use %(words)s)", text=text, words=listed))
    return f"{text} is not a known {what} (use {listed})"


def parse_yes_no(value: RawValue) -> bool:
    """yes/no in any of the languages, 1/0, TRUE/FALSE, x. Empty -> False."""
    if isinstance(value, bool):
        return value
    text = cell_text(value)
    if not text:
        return False
    answer = vocab.BOOL_ALIASES.get(vocab.normalise(text))
    if answer is None:
        raise BadValue(Why(R_("%(text)s is not yes or no", text=quoted(text))))
    return answer


# --- Prospects -------------------------------------------------------------------------------

_TEXT_FIELDS = ("id", "company", "contact", "email", "phone", "owner", "segment", "notes")
#: The input fields that are not text: a row holding only these is not empty either.
_OTHER_INPUT_FIELDS = tuple(name for name in fields.INPUT_FIELDS if name not in _TEXT_FIELDS)


_V = TypeVar("_V")


_Parser = Callable[[RawValue], _V | None]


class _RowReader:
    """Reads one row's cells by field, collecting problems instead of raising."""

    # A plain class with slots: one is made for every row of every command.
    __slots__ = ("_columns", "_width", "bad", "hm", "problems", "row", "values")

    def __init__(self, values: Sequence[RawValue], row: int, hm: HeaderMap) -> None:
        self.values = values
        self.row = row
        self.hm = hm
        self.problems: list[Problem] = []
        self.bad: set[str] = set()
        self._columns = hm.columns
        self._width = len(values)

    def raw(self, name: str) -> RawValue:
        col = self._columns.get(name)
        if col is None or col > self._width:
            return None
        return self.values[col - 1]

    def report(self, name: str, message: str) -> None:
        self.problems.append(Problem(self.hm.cell(self.row, name), message))

    def text(self, name: str) -> str:
        return cell_text(self.raw(name))

    def typed(self, name: str, parse: _Parser[_V]) -> _V | None:
        try:
            return parse(self.raw(name))
        except BadValue as bad:
            self.report(name, bad.message)
            self.bad.add(name)
            return None


def is_empty_row(values: Sequence[RawValue], hm: HeaderMap) -> bool:
    """No input field holds anything (what sheetfollow wrote into owned columns does not count)."""
    reader = _RowReader(values, 0, hm)
    return not any(reader.text(name) for name in fields.INPUT_FIELDS)


def _stage(value: RawValue) -> Stage | None:
    return parse_choice(value, vocab.STAGE_ALIASES, "stage")


def _outcome(value: RawValue) -> Outcome | None:
    return parse_choice(value, vocab.OUTCOME_ALIASES, "outcome")


def _channel(value: RawValue) -> Channel | None:
    return parse_choice(value, vocab.CHANNEL_ALIASES, "channel")


#: Where absent columns point: past the end of every row, so `index < width` is False.
_ABSENT = 1 << 30


class _ProspectColumns:
    """The 0-based positions of a Prospects header's fields, worked out once per header
    rather than looked up by name for every cell of every row."""

    __slots__ = (
        "cells",
        "hm",
        "others",
        "text_cells",
        "text_positions",
        "text_widest",
        "typed",
        "widest",
    )

    def __init__(self, hm: HeaderMap) -> None:
        columns = hm.columns
        self.hm = hm
        self.others = tuple(columns[name] - 1 for name in _OTHER_INPUT_FIELDS if name in columns)
        self.typed = tuple(
            columns[name] - 1 if name in columns else _ABSENT for name in _TYPED_FIELDS
        )
        #: The typed fields' cells of a row wider than the last of them, in one C call.
        self.cells = itemgetter(*self.typed)
        self.widest = max(self.typed)
        #: The same for the text fields, in _TEXT_FIELDS' order.
        self.text_positions = tuple(
            columns[name] - 1 if name in columns else _ABSENT for name in _TEXT_FIELDS
        )
        self.text_cells = itemgetter(*self.text_positions)
        self.text_widest = max(self.text_positions)


#: The parsed (not text) fields of a prospect, in the order their problems are reported.
_TYPED_FIELDS = (
    "created",
    "last_contact",
    "follow_up_on",
    "stage",
    "last_outcome",
    "channel",
    "value",
    "attempts",
)
#: Recently used headers' columns, by id (with the header kept, so an id is never reused).
_COLUMNS_OF: dict[int, _ProspectColumns] = {}


def _prospect_columns(hm: HeaderMap) -> _ProspectColumns:
    found = _COLUMNS_OF.get(id(hm))
    if found is None or found.hm is not hm:
        if len(_COLUMNS_OF) >= 64:
            _COLUMNS_OF.clear()
        found = _COLUMNS_OF[id(hm)] = _ProspectColumns(hm)
    return found


#: Dropdown words already read, by the cell's exact text: every row repeats a few of them.
_CHOICES: dict[int, dict[str, Enum]] = {}
#: The same, by field, for parse_prospect's first look (filled by _choice).
_STAGE_WORDS: dict[str, Stage] = {}
_OUTCOME_WORDS: dict[str, Outcome] = {}
_CHANNEL_WORDS: dict[str, Channel] = {}
_CHOICES[id(vocab.STAGE_ALIASES)] = _STAGE_WORDS  # type: ignore[assignment]
_CHOICES[id(vocab.OUTCOME_ALIASES)] = _OUTCOME_WORDS  # type: ignore[assignment]
_CHOICES[id(vocab.CHANNEL_ALIASES)] = _CHANNEL_WORDS  # type: ignore[assignment]


def _choice(value: RawValue, aliases: Mapping[str, E], what: str) -> E | None:
    """parse_choice, remembering what each distinct value reads as."""
    known = _CHOICES.get(id(aliases))
    if known is None:
        known = _CHOICES[id(aliases)] = {}
    if type(value) is not str:
        return parse_choice(value, aliases, what)
    member = known.get(value)
    if member is None:
        member = parse_choice(value, aliases, what)  # raises BadValue: not remembered
        if member is None:
            return None
        if len(known) < 4096:
            known[value] = member
    return member  # type: ignore[return-value]


def _drafts(cls: type[Any]) -> type[Any] | None:
    """An unfrozen class with the slots of the frozen slots dataclass `cls` and a positional
    __init__ in field order, or None where an object cannot become a `cls` by __class__
    assignment (a Python without it: `cls` is then made as usual).

    parse_prospect makes a Prospect for every row of every command: filled in as a draft
    and turned into a Prospect, it costs a third of the frozen __init__ (which sets each
    field through its descriptor). The object is a Prospect like any other: same class,
    same slots, frozen from then on. tests/test_schema_per_table.py compares the two."""
    names = [spec.name for spec in dataclass_fields(cls)]
    if list(cls.__slots__) != names:
        return None
    body = "".join(f"    self.{name} = {name}\n" for name in names)
    env: dict[str, Any] = {}
    exec(f"def __init__(self, {', '.join(names)}):\n{body}", env)  # text of field names only
    draft = type(
        f"{cls.__name__}Draft", (), {"__slots__": tuple(names), "__init__": env["__init__"]}
    )
    try:
        probe = draft(*[None] * len(names))
        probe.__class__ = cls
    except TypeError:
        return None
    return draft


_PROSPECT_DRAFT = _drafts(Prospect)


def _day_of(value: RawValue, epoch: date, order: str = "DMY") -> date | None:
    if type(value) is date:
        return value
    if type(value) is datetime:
        return value.date()
    return parse_date(value, epoch=epoch, order=order)


def parse_prospect(
    values: Sequence[RawValue],
    row: int,
    hm: HeaderMap,
    *,
    epoch: date,
    today: date | None = None,
) -> Prospect | None:
    """One Prospects row -> Prospect, or None for an empty row. Never raises for bad data:
    each problem is recorded with its cell and the field is left empty."""
    # Runs for every row of every command: positions come precomputed, each cell is read
    # once, and the common cell types take the short way.
    plan = _prospect_columns(hm)
    width = len(values)
    if plan.text_widest < width:
        cells = plan.text_cells(values)
    else:
        cells = tuple(values[i] if i < width else None for i in plan.text_positions)
    # _TEXT_FIELDS' texts, in its order.
    ident, company, contact, email, phone, owner, segment, notes = [
        "" if cell is None else cell.strip() if type(cell) is str else cell_text(cell)
        for cell in cells
    ]
    texts = ident or company or contact or email or phone or owner or segment or notes
    if not texts and not any(cell_text(values[i]) for i in plan.others if i < width):
        return None
    if plan.widest < width:
        c_created, c_contact, c_follow, c_stage, c_outcome, c_channel, c_value, c_attempts = (
            plan.cells(values)
        )
    else:
        c_created, c_contact, c_follow, c_stage, c_outcome, c_channel, c_value, c_attempts = (
            values[i] if i < width else None for i in plan.typed
        )
    order = hm.date_order
    # The usual cells first, each by the shortest way (a date cell not after today, a
    # dropdown word seen before, a number); anything else through the full parse below.
    created = last_contact = follow_up_on = None
    stage = outcome = channel = None
    value_ = None
    attempts = 0
    slow: list[tuple[int, RawValue]] = []
    if c_created is not None:
        if type(c_created) is date and (today is None or c_created <= today):
            created = c_created
        else:
            slow.append((0, c_created))
    if c_contact is not None:
        if type(c_contact) is date and (today is None or c_contact <= today):
            last_contact = c_contact
        else:
            slow.append((1, c_contact))
    if c_follow is not None:
        if type(c_follow) is date:
            follow_up_on = c_follow
        else:
            slow.append((2, c_follow))
    if c_stage is not None:
        stage = _STAGE_WORDS.get(c_stage) if type(c_stage) is str else None
        if stage is None:
            slow.append((3, c_stage))
    if c_outcome is not None:
        outcome = _OUTCOME_WORDS.get(c_outcome) if type(c_outcome) is str else None
        if outcome is None:
            slow.append((4, c_outcome))
    if c_channel is not None:
        channel = _CHANNEL_WORDS.get(c_channel) if type(c_channel) is str else None
        if channel is None:
            slow.append((5, c_channel))
    if c_value is not None:
        if type(c_value) is float:
            value_ = c_value
        else:
            slow.append((6, c_value))
    if c_attempts is not None:
        if type(c_attempts) is float and c_attempts.is_integer() and c_attempts >= 0:
            attempts = int(c_attempts)
        else:
            slow.append((7, c_attempts))
    if not (
        slow
        or not owner
        or not (company or contact)
        or outcome is Outcome.CALL_BACK
        or (last_contact is None and (outcome is not None or attempts))
    ):
        # Nothing _check_whole_row or _check_touch_has_date would report: the usual row.
        if _PROSPECT_DRAFT is not None:
            made = _PROSPECT_DRAFT(
                row, ident, company, contact, email, phone, owner, stage, segment, value_,
                created, last_contact, outcome, attempts, follow_up_on, channel, notes, (),
            )  # fmt: skip
            made.__class__ = Prospect
            return made  # type: ignore[no-any-return]
        return Prospect(
            row=row,
            id=ident,
            company=company,
            contact=contact,
            email=email,
            phone=phone,
            owner=owner,
            stage=stage,
            segment=segment,
            value=value_,
            created=created,
            last_contact=last_contact,
            last_outcome=outcome,
            attempts=attempts,
            follow_up_on=follow_up_on,
            channel=channel,
            notes=notes,
        )
    r = _RowReader(values, row, hm)
    for position, cell in slow:
        try:
            if position == 0:
                created = _past_day(r, "created", _day_of(cell, epoch, order), today)
            elif position == 1:
                last_contact = _past_day(r, "last_contact", _day_of(cell, epoch, order), today)
            elif position == 2:
                follow_up_on = _day_of(cell, epoch, order)
            elif position == 3:
                stage = _choice(cell, vocab.STAGE_ALIASES, "stage")
            elif position == 4:
                outcome = _choice(cell, vocab.OUTCOME_ALIASES, "outcome")
            elif position == 5:
                channel = _choice(cell, vocab.CHANNEL_ALIASES, "channel")
            elif position == 6:
                value_ = parse_amount(cell, hm.amount_locale)
            elif type(cell) is int and cell >= 0:
                attempts = cell
            else:
                attempts = parse_count(cell)
        except BadValue as bad:
            name = _TYPED_FIELDS[position]
            r.report(name, bad.message)
            r.bad.add(name)
    named = {"owner": owner, "company": company, "contact": contact}
    _check_whole_row(r, named, outcome, last_contact, follow_up_on)
    _check_touch_has_date(r, outcome, attempts, last_contact)
    problems = r.problems
    return Prospect(
        row=row,
        stage=stage,
        value=value_,
        created=created,
        last_contact=last_contact,
        last_outcome=outcome,
        attempts=attempts or 0,
        follow_up_on=follow_up_on,
        channel=channel,
        problems=tuple(sorted(problems, key=lambda p: _column_of(p, hm)))
        if len(problems) > 1
        else tuple(problems),
        id=ident,
        company=company,
        contact=contact,
        email=email,
        phone=phone,
        owner=owner,
        segment=segment,
        notes=notes,
    )


def _past_day(r: _RowReader, name: str, when: date | None, today: date | None) -> date | None:
    """A date that records something that happened, so it cannot lie after today."""
    if when is not None and today is not None and when > today:
        future = R_(
            "%(day)s is in the future (today is %(today)s)",
            day=when.isoformat(),
            today=today.isoformat(),
        )
        r.report(name, Why(future))
        r.bad.add(name)
        return None
    return when


def _check_whole_row(
    r: _RowReader,
    texts: Mapping[str, str],
    outcome: Outcome | None,
    last_contact: date | None,
    follow_up_on: date | None,
) -> None:
    if not texts["owner"]:
        r.report("owner", Why(R_("no owner")))
    if not texts["company"] and not texts["contact"]:
        r.report("company", Why(R_("no company or contact")))
    if outcome is Outcome.CALL_BACK and "follow_up_on" not in r.bad:
        later = follow_up_on is not None and (last_contact is None or follow_up_on > last_contact)
        if not later:
            where = "follow_up_on" if "follow_up_on" in r.hm.columns else "last_outcome"
            if follow_up_on is None:
                needs = R_("call back needs a date in Follow up on")
            else:
                needs = R_("call back needs a date in Follow up on after Last contact")
            r.report(where, Why(needs))


#: Outcomes that settle a row: they need no date to compute anything.
_CLOSING = frozenset({Outcome.WON, Outcome.DELIVERED, Outcome.LOST, Outcome.NOT_INTERESTED})


def _check_touch_has_date(
    r: _RowReader, outcome: Outcome | None, attempts: int | None, last_contact: date | None
) -> None:
    """Attempts or an outcome without a Last contact: the next touch cannot be timed."""
    if (
        last_contact is not None
        or "last_contact" in r.bad
        or "last_contact" not in r.hm.columns
        or outcome in _CLOSING
        or outcome is Outcome.CALL_BACK  # timed by its Follow up on date, checked above
    ):
        return
    if outcome is not None:
        said = R_(
            "Last outcome is '%(outcome)s' but Last contact is empty; "
            "fill in the date of that touch",
            outcome=_OUTCOME_SAID.get(outcome) or outcome.value,
        )
    elif attempts:
        said = R_(
            "Attempts is %(attempts)s but Last contact is empty; fill in the date of that touch",
            attempts=str(attempts),
        )
    else:
        return
    r.report("last_contact", Why(said))


#: The outcomes that can lack a Last contact, as the message quotes them (a reason, so the
#: team's language has its word).
_OUTCOME_SAID: Mapping[Outcome, Reason] = {
    Outcome.REACHED: R_("reached"),
    Outcome.NO_ANSWER: R_("no answer"),
    Outcome.VOICEMAIL: R_("voicemail"),
    Outcome.INTERESTED: R_("interested"),
    Outcome.QUOTE_SENT: R_("quote sent"),
}


def _column_of(problem: Problem, hm: HeaderMap) -> int:
    """Sort key that keeps a row's problems in left-to-right order; whole-row refs go last."""
    match = re.search(r"!([A-Z]+)\d+$", problem.ref)
    return col_number(match[1]) if match else hm.last_column + 1


def data_rows(table: Table, hm: HeaderMap) -> Iterator[tuple[int, list[RawValue]]]:
    """(1-based row number, values) for every row below the header row."""
    for index in range(hm.header_row, len(table.rows)):
        yield index + 1, table.rows[index]


def parse_prospects(table: Table, hm: HeaderMap, *, today: date | None = None) -> list[Prospect]:
    """Every non-empty row of a Prospects tab."""
    parsed = (
        parse_prospect(values, row, hm, epoch=table.epoch, today=today)
        for row, values in data_rows(table, hm)
    )
    return [p for p in parsed if p is not None]


def owned_values(values: Sequence[RawValue], hm: HeaderMap, *, epoch: date) -> dict[str, object]:
    """What the owned columns of this row hold now, for deciding what to write.

    next_follow_up is a date, None when empty, or the cell's text when it is not a date (so
    it differs from any date sheetfollow computes); the others are text, "" when empty.
    """
    r = _RowReader(values, 0, hm)
    held: dict[str, object] = {}
    for name in fields.OWNED_FIELDS:
        if name not in hm.columns:
            continue
        if name == "next_follow_up":
            try:
                held[name] = parse_date(r.raw(name), epoch=epoch, order=hm.date_order)
            except BadValue:
                held[name] = r.text(name)
        else:
            held[name] = r.text(name)
    return held


# --- Rows and columns that are not sheetfollow's ------------------------------------------


@dataclass(frozen=True)
class LeftAlone:
    """A row of the Prospects tab that is no prospect: a totals row, a heading or a note."""

    row: int
    kind: str  # "totals row", "row of numbers only", "note or heading"
    text: str  # what the row says first ("Totaal"), "" when it holds only numbers

    def line(self) -> str:
        said = f" ({quoted(self.text)})" if self.text else ""
        return f"row {self.row}: {self.kind}{said}, left alone"


@lru_cache(maxsize=4096)  # every row asks it of its owner's name: a few names, many rows
def _is_total_word(text: str) -> bool:
    key = vocab.normalise(text).rstrip(":").strip()
    return any(key == word or key.startswith(word + " ") for word in vocab.TOTAL_WORDS)


def non_prospect_rows(table: Table, hm: HeaderMap) -> dict[int, LeftAlone]:
    """The rows below the header that are not prospects, by row number: a totals or
    subtotals row (its first cell says Total, Totaal, Summe, I alt ... and nothing else in
    it is text), a row of numbers only (a formula row without a label), and, after a blank
    row, rows with text in one cell only (a note under the list, a section heading).

    The columns sheetfollow fills (ID and the owned ones) do not count: a totals row that
    an earlier run gave an ID stays a totals row."""
    ours = {hm.columns[name] - 1 for name in ADDED_FIELDS if name in hm.columns}
    owner = hm.columns["owner"] - 1 if "owner" in hm.columns else None
    found: dict[int, LeftAlone] = {}
    after_blank = False
    for number, values in enumerate(table.rows[hm.header_row :], start=hm.header_row + 1):
        # The common row names its owner: a prospect, decided without looking further (nor
        # counting its empty cells: a row with an owner is not blank).
        if owner is not None and owner < len(values):
            name = values[owner]
            if type(name) is str and name.strip() and not _is_total_word(name):
                after_blank = False
                continue
        if values.count(None) == len(values):
            after_blank = True
            continue
        filled = [
            value
            for column, value in enumerate(values)
            if column not in ours and value is not None and cell_text(value)
        ]
        if not filled:
            after_blank = True
            continue
        kind = _left_alone_kind(filled, after_blank)
        if kind is None:
            after_blank = False
        else:
            first = filled[0] if isinstance(filled[0], str) else ""
            found[number] = LeftAlone(number, kind, first.strip())
    return found


def _left_alone_kind(filled: Sequence[RawValue], after_blank: bool) -> str | None:
    texts = [value for value in filled if isinstance(value, str)]
    if not texts:
        numbers = all(_is_number(value) for value in filled)
        return "row of numbers only" if numbers else None
    if len(texts) == 1 and isinstance(filled[0], str) and _is_total_word(filled[0]):
        return "totals row"
    if after_blank and len(filled) == 1:
        return "note or heading"
    return None


@dataclass(frozen=True)
class ForeignColumn:
    """A column with the header of one sheetfollow fills whose cells hold something else:
    the team's own Status (Warm, Koud, Heet), a Step with free text."""

    name: str  # the field
    column: int  # 1-based
    header: str  # its header text
    samples: tuple[str, ...]  # a few of the values that are not sheetfollow's

    def suggestion(self, language: str = "en") -> str:
        """The header of a new column for sheetfollow's values: "Status (sheetfollow)"."""
        names = vocab.PROSPECT_HEADERS.get(language, vocab.PROSPECT_HEADERS["en"])
        return f"{names[self.name]} (sheetfollow)"


_OUR_STEP = re.compile(r"\d+\s+\w+\s+\d+|[\w-]{1,20}")


def _ours(name: str, value: RawValue, epoch: date, order: str) -> bool:
    """Whether a cell holds what sheetfollow writes into column `name`."""
    if name == "status":
        return vocab.normalise(cell_text(value)) in vocab.STATUS_ALIASES
    if name == "step":
        return _OUR_STEP.fullmatch(cell_text(value)) is not None
    if name == "next_follow_up":
        try:
            return parse_date(value, epoch=epoch, order=order) is not None
        except BadValue:
            return False
    return True  # Why and Assigned to hold free text either way


def foreign_columns(table: Table, hm: HeaderMap) -> list[ForeignColumn]:
    """Owned columns whose filled cells are mostly not what sheetfollow writes there.
    Writing into them would overwrite the team's own values."""
    found: list[ForeignColumn] = []
    rows = table.rows[hm.header_row :]
    epoch, order = table.epoch, hm.date_order
    for name in ("next_follow_up", "status", "step"):
        column = hm.columns.get(name)
        if column is None:
            continue
        tally = _tally(rows, column - 1)
        if tally is None:
            filled, count, foreign = _foreign_by_row(rows, column - 1, name, epoch, order)
        else:
            filled, count, foreign = _foreign_by_value(tally, name, epoch, order)
        if count and count * 2 >= filled:
            header = cell_text(_row(table, hm.header_row)[column - 1])
            found.append(ForeignColumn(name, column, header, tuple(foreign)))
    return found


#: The cell types a column is tallied by value for: equal values of these are the same cell
#: to _ours (unlike 1, 1.0 and TRUE, which are equal but read differently).
_TALLIED = frozenset({str, date, datetime, type(None)})


def _tally(rows: Sequence[Sequence[RawValue]], index: int) -> Counter[RawValue] | None:
    """How often each value stands in column `index` (0-based), in the order each first
    appears; None when the column holds a number or a TRUE (see _TALLIED)."""
    try:
        # One C-level pass each: every run asks it of every row, and a column repeats a
        # few words and days.
        tally = Counter(map(itemgetter(index), rows))
    except IndexError:  # a row shorter than the column
        tally = Counter([values[index] if index < len(values) else None for values in rows])
    return tally if _TALLIED.issuperset(map(type, tally)) else None


def _foreign_by_value(
    tally: Counter[RawValue], name: str, epoch: date, order: str
) -> tuple[int, int, dict[str, None]]:
    """(filled cells, foreign cells, up to 3 foreign texts in sheet order) of a column."""
    filled = count = 0
    foreign: dict[str, None] = {}
    for value, times in tally.items():
        if value is None or not cell_text(value):
            continue
        filled += times
        if not _ours(name, value, epoch, order):
            count += times
            if len(foreign) < 3:
                foreign.setdefault(cell_text(value), None)
    return filled, count, foreign


def _foreign_by_row(
    rows: Sequence[Sequence[RawValue]], index: int, name: str, epoch: date, order: str
) -> tuple[int, int, dict[str, None]]:
    """_foreign_by_value, row by row: stops once sheetfollow's values are the majority
    whatever the rows left hold (the counts are then short, and say so)."""
    filled = count = 0
    foreign: dict[str, None] = {}
    # What each distinct text or date reads as: _BLANK, _OURS or _FOREIGN.
    known: dict[RawValue, int] = {}
    left = len(rows)
    for values in rows:
        left -= 1
        value = values[index] if index < len(values) else None
        if value is None:
            continue
        kind = type(value)
        verdict = known.get(value) if kind is str or kind is date or kind is datetime else None
        if verdict is None:
            if not cell_text(value):
                verdict = _BLANK
            else:
                verdict = _OURS if _ours(name, value, epoch, order) else _FOREIGN
            if kind is str or kind is date or kind is datetime:
                known[value] = verdict
        if verdict == _BLANK:
            continue
        filled += 1
        if verdict == _FOREIGN:
            count += 1
            if len(foreign) < 3:
                foreign.setdefault(cell_text(value), None)
        elif filled - count > count + left:
            break  # ours are the majority whatever the rows left hold: decided
    return filled, count, foreign


_BLANK, _OURS, _FOREIGN = 0, 1, 2


def foreign_message(column: ForeignColumn, language: str) -> str:
    """Which column holds the team's values and the mapping that keeps them (to follow the
    reference of its header cell)."""
    shown = ", ".join(column.samples)
    new = column.suggestion(language)
    return (
        f"column {quoted(column.header)} holds "
        f"your own values ({shown}), not sheetfollow's {english_header(column.name)}; "
        f'keep it by giving sheetfollow a new column: [headers] {column.name} = "{new}" '
        "in sheetfollow.toml (`sheetfollow adopt` writes that for you)"
    )


# --- Owners ----------------------------------------------------------------------------------

_LANGUAGE_NAMES: dict[str, str] = {
    "english": "en",
    "engels": "en",
    "englisch": "en",
    "engelsk": "en",
    "ingles": "en",
    "dutch": "nl",
    "nederlands": "nl",
    "niederlandisch": "nl",
    "hollandsk": "nl",
    "nederlandsk": "nl",
    "neerlandes": "nl",
    "holandes": "nl",
    "german": "de",
    "duits": "de",
    "deutsch": "de",
    "tysk": "de",
    "aleman": "de",
    "danish": "da",
    "deens": "da",
    "danisch": "da",
    "dansk": "da",
    "danes": "da",
    "spanish": "es",
    "spaans": "es",
    "spanisch": "es",
    "spansk": "es",
    "espanol": "es",
    "castellano": "es",
}
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_COUNTRY = re.compile(r"[A-Z]{2,3}(?:-[A-Z0-9]{1,3})?")


def parse_language(value: RawValue) -> str | None:
    """ "nl", "NL", "nl-BE", "Nederlands", "Dutch" -> "nl"; empty -> None."""
    text = cell_text(value)
    if not text:
        return None
    key = vocab.normalise(text)
    lang = _LANGUAGE_NAMES.get(key) or key.split(" ")[0]
    if lang not in vocab.LANGS:
        raise BadValue(
            f"{quoted(text)} is not a language sheetfollow writes "
            f"(use {', '.join(vocab.LANGS[:-1])} or {vocab.LANGS[-1]})"
        )
    return lang


def parse_owners(
    table: Table, *, source: str = "", default_language: str = "en"
) -> tuple[dict[str, Owner], tuple[Problem, ...]]:
    """The Owners tab -> owners by normalised name, and the problems found in it.

    A bad language falls back to default_language, a bad email to "", a bad digest to no;
    a name listed twice keeps its first row.
    """
    hm = map_headers(table, aliases=vocab.OWNER_ALIASES, required=("owner",), source=source)
    owners: dict[str, Owner] = {}
    problems: list[Problem] = []
    covers: list[tuple[str, _RowReader]] = []
    for row, values in data_rows(table, hm):
        r = _RowReader(values, row, hm)
        if not any(r.text(name) for name in fields.ALL_OWNER_FIELDS):
            continue
        owner = _owner_of(r, default_language, table.epoch)
        key = vocab.normalise(owner.name) if owner else ""
        if owner is None:
            pass
        elif key in owners:
            r.report("owner", f"{quoted(owner.name)} is listed twice; the first row is used")
        else:
            owners[key] = owner
            if owner.cover:
                covers.append((key, r))
        problems.extend(r.problems)
    for key, r in covers:
        owners[key], problem = _checked_cover(owners[key], owners, r)
        problems.extend(problem)
    return owners, tuple(problems)


def _checked_cover(
    owner: Owner, owners: Mapping[str, Owner], r: _RowReader
) -> tuple[Owner, tuple[Problem, ...]]:
    """The owner with a Cover that names someone else in the Owners tab, else no cover."""
    cover = vocab.normalise(owner.cover)
    if cover == vocab.normalise(owner.name):
        message = f"{owner.name} cannot cover for themselves; their rows wait while they are away"
    elif cover not in owners:
        message = (
            f"Cover {quoted(owner.cover)} is not in the Owners tab; "
            f"{owner.name}'s rows wait while they are away"
        )
    else:
        return replace(owner, cover=owners[cover].name), ()
    return replace(owner, cover=""), (Problem(r.hm.cell(r.row, "cover"), message),)


def _owner_of(r: _RowReader, default_language: str, epoch: date) -> Owner | None:
    name = r.text("owner")
    if not name:
        r.report("owner", "no owner name")
        return None
    email = r.text("email")
    if not email:
        r.report("email", f"no email for {name}")
    elif not _EMAIL.fullmatch(email):
        r.report("email", f"{quoted(email)} is not an email address")
        email = ""
    try:
        language = parse_language(r.raw("language")) or default_language
    except BadValue as bad:
        r.report("language", f"{bad.message}; using {default_language}")
        language = default_language
    country = r.text("country").upper().replace("_", "-")
    if country and not (_COUNTRY.fullmatch(country) and is_known_region(country)):
        r.report(
            "country",
            f"{quoted(r.text('country'))} is not a country code with known public holidays "
            "(use NL, DE, DK, ES, GB ...); the team calendar is used",
        )
        country = ""
    return Owner(
        name=name,
        email=email,
        delegate=r.text("delegate"),
        language=language,
        country=country,
        manager=r.text("manager"),
        digest=bool(r.typed("digest", parse_yes_no)),
        calls_per_day=r.typed("calls_per_day", parse_calls_per_day),
        **_leave_of(r, name, epoch),
    )


def parse_calls_per_day(value: RawValue) -> int | None:
    """An Owners tab Calls per day: a whole number of 1 or more; empty -> None (the
    [calendar] calls_per_day, which a bad one (reported) falls back to too."""
    text = cell_text(value)
    if not text:
        return None
    number = float(value) if _is_number(value) else None
    if number is None and re.fullmatch(r"\+?\d+", text):
        number = float(text)
    if number is None or not number.is_integer() or not 1 <= number <= 10000:
        raise BadValue(
            f"{quoted(text)} is not a number of calls a day (use 1, 10, 25 ...); "
            "[calendar] calls_per_day is used"
        )
    return int(number)


def _leave_of(r: _RowReader, name: str, epoch: date) -> dict[str, Any]:
    """Away from / Away until / Cover; a bad date or an until before the from is reported and
    the leave ignored (the owner counts as present)."""
    away_from = r.typed("away_from", lambda v: parse_date(v, epoch=epoch))
    away_until = r.typed("away_until", lambda v: parse_date(v, epoch=epoch))
    if r.bad & {"away_from", "away_until"}:
        return {"cover": r.text("cover")}
    if away_from and away_until and away_until < away_from:
        r.report(
            "away_until",
            f"{name} is away until {away_until.isoformat()}, before Away from "
            f"{away_from.isoformat()}; the leave is ignored",
        )
        return {"cover": r.text("cover")}
    return {"away_from": away_from, "away_until": away_until, "cover": r.text("cover")}
