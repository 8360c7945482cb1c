"""Fuzzing what people hand sheetfollow: workbooks, config files and CSV imports, through
the real command line (in-process).

Whatever the input, a command ends with a documented exit code and plain lines, never a
traceback or an "unexpected error"; every problem it lists names its cell; `refresh` changes
no cell but those of the columns sheetfollow owns and blank IDs; a config that cannot be
used is one ConfigError naming the file; an import reports rejected lines by number and
writes text as text, never as a formula.

Workbooks are written by XlsxWriter the way Excel writes them (shared strings, no element
for an empty cell, control characters as _xHHHH_) and read back with openpyxl, which sees
formulas as formulas.
"""

from __future__ import annotations

import csv
import io
import re
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter
from conftest import TEAM_OWNERS, TODAY, Cli, Tab, calamine_rows, write_team, write_workbook
from hypothesis import HealthCheck, Phase, assume, event, example, given, settings
from hypothesis import strategies as st
from json_output import data_of
from openpyxl import load_workbook

from sheetfollow import vocab
from sheetfollow.config import Config, load_config
from sheetfollow.errors import ConfigError
from sheetfollow.fields import OWNED_FIELDS
from sheetfollow.text import printable

if sys.version_info >= (3, 11):
    pass
else:  # pragma: no cover - exercised on Python 3.10 only
    pass

ISO_TODAY = TODAY.isoformat()

#: Each example runs several commands on real files: a few dozen examples find the corners,
#: and the file stays under a minute and a half on 2 cores. No shrinking: shrinking one
#: failure took Hypothesis more than five minutes; the example is printed as it was found.
FUZZ = settings(
    max_examples=40,
    deadline=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[
        # One tmp_path per test; each example works in a folder of its own inside it.
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)

#: The exit codes these commands may end with on any input (README, exit_codes.py): done,
#: config, sheet, problems, busy, pending.
DOCUMENTED_EXITS = frozenset({0, 3, 4, 5, 6, 10})

#: A cell reference as problems give it: Prospects!F17, 'My deals'!B3, or a whole row 17:17.
CELL_REF = re.compile(r"(?:[^\W\d]\w*|'(?:[^']|'')+')!(?:[A-Z]{1,3}[1-9]\d*|([1-9]\d*):\1)")

#: Excel's limit for the text of one cell.
MAX_CELL_TEXT = 32_767
#: The last column a worksheet has (XFD), 0-based as XlsxWriter counts.
LAST_COLUMN = 16_383

#: Characters a cell can hold: anything but surrogates and the two non-characters XML 1.0
#: has no escape for (XlsxWriter writes the C0 controls as _xHHHH_, as Excel does).
CHARACTERS = st.characters(exclude_categories=("Cs",), exclude_characters="\ufffe\uffff")

HOSTILE_TEXTS: tuple[str, ...] = (
    "",
    " ",
    "  padded  ",
    "line one\nline two",
    "crlf\r\nline",
    "=1+1",
    "=cmd|' /C calc'!A0",
    "+31 20 555 0101",
    "-2+3",
    "@SUM(A1:A2)",
    "'quoted",
    "שלום עולם",
    "مرحبا بالعالم",
    "\u202eevil\u202c",
    "👩‍💼🚀✨",
    "Zoë Ünïcödé",
    "ACME [UK] & <Sons>",
    "[bold red]markup[/]",
    ":smile: :thumbs_up:",
    "_x0041_ is not A",
    "nul\x00inside",
    "\x01\x02\x1f controls",
    "\x0b\x0c",
    "\x1b[31mred\x1b[0m \x1b]0;title\x07",
    "tab\tinside",
    "\ufeffbom",
    "\u00a0nbsp\u00a0",
    "0012345",
    "1e5",
    "NaN",
    "TRUE",
    "#N/A",
    "x" * MAX_CELL_TEXT,
    "é" * MAX_CELL_TEXT,
    "A" * (MAX_CELL_TEXT - 2) + "\nB",
)
texts = st.sampled_from(HOSTILE_TEXTS) | st.text(CHARACTERS, max_size=24)

DATE_TEXTS: tuple[str, ...] = (
    "2026-03-11",
    "11-03-2026",
    "11/03/2026",
    "3/11/2026",
    "11.03.26",
    "2026/3/1",
    "March 11, 2026",
    "11 mrt 2026",
    "31-02-2026",
    "2026-13-45",
    "00-00-0000",
    "0001-01-01",
    "9999-12-31",
    "31-12-9999",
    "2026-03-11T09:30:00Z",
    "11-03-2026 9:30 PM",
    "2026-03-11 25:61",
    "soon",
    "next week",
)


def shown(value: object) -> object:
    """A value to print in a failing example: long texts cut, so the report stays legible
    (and Hypothesis does not warn about a huge repr)."""
    if isinstance(value, str) and len(value) > 60:
        return f"<{value[:24]!r} ... {len(value):,} characters>"
    if isinstance(value, tuple):
        return tuple(shown(v) for v in value)
    if isinstance(value, dict):
        return {k: shown(v) for k, v in value.items()}
    return value


class ShortRepr:
    """A dataclass whose repr (and Hypothesis' report of it) cuts long texts."""

    def __repr__(self) -> str:
        fields_ = ", ".join(f"{k}={shown(v)!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields_})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


@dataclass(frozen=True)
class Formula:
    """A formula cell and the result Excel saved with it (a number, text, bool or error)."""

    text: str
    cached: object


FORMULAS: tuple[Formula, ...] = (
    Formula("=1+1", 2),
    Formula("=NA()", "#N/A"),
    Formula("=1/0", "#DIV/0!"),
    Formula("=#REF!", "#REF!"),
    Formula('="new"', "new"),
    Formula("=TODAY()", 46092),
    Formula("=TRUE()", True),
    Formula('=HYPERLINK("https://example.com","site")', "site"),
    Formula('=A1&"x"', "IDx"),
)

numbers = (
    st.integers(-(10**15), 10**15)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from((-0.0, 1e308, -1e308, 5e-324, 2958465, 2958466, 45000.5, -1))
)
dates = st.dates(date(1904, 1, 2), date(9999, 12, 31)) | st.datetimes(
    datetime(1904, 1, 2), datetime(9999, 12, 31, 23, 59)
)
date_like = st.sampled_from(DATE_TEXTS) | dates | st.dates(date(2025, 1, 1), date(2026, 3, 11))
formulas = st.sampled_from(FORMULAS)
any_cell = st.one_of(st.none(), texts, numbers, st.booleans(), dates, formulas)

OWNER_NAMES = ("Anna", "anna ", "ANNA", "Zoë", "Zoe", "Bob", "Émile", "Nobody", "Ünïcödé 🚀")
WORDS: Mapping[str, tuple[str, ...]] = {
    "stage": ("new", "contacted", "quote", "won", "lost", "Neu", "offerte", "Ganado", "maybe"),
    "last_outcome": ("no answer", "voicemail", "reached", "call back", "quote sent", "lost"),
    "channel": ("phone", "email", "visit", "telefoon", "pigeon"),
    "segment": ("capital", "Capital ", "consumables", "retail"),
}
IDS: tuple[object, ...] = ("P-0001", "P-0001", "p-0001", "P-0002", "", " ", 17, 17.0, "P-9" * 12)


def cell_for(name: str) -> st.SearchStrategy[object]:
    """Values for a column: mostly what it should hold, often anything at all."""
    if name == "id":
        plausible: st.SearchStrategy[object] = st.sampled_from(IDS)
    elif name in ("owner", "assigned_to"):
        plausible = st.sampled_from(OWNER_NAMES)
    elif name in WORDS:
        plausible = st.sampled_from(WORDS[name])
    elif name in ("created", "last_contact", "follow_up_on", "next_follow_up"):
        plausible = date_like
    elif name in ("attempts", "value"):
        plausible = st.integers(-3, 30) | numbers | st.sampled_from(("3", "12.500,50", "€ 1 200"))
    else:
        plausible = texts
    return st.one_of(plausible, any_cell)


# --- Workbooks ---------------------------------------------------------------------------------

#: Headers of columns sheetfollow does not know (none is an alias of a field).
UNKNOWN_HEADERS = ("Region", "Lead source", "מקור", "🚀 Priority", "Kommentar intern 2")
TOUCH_FIELDS = ("last_contact", "last_outcome", "attempts")
OTHER_FIELDS = (
    "id",
    "contact",
    "email",
    "phone",
    "stage",
    "segment",
    "value",
    "created",
    "follow_up_on",
    "channel",
    "notes",
    *OWNED_FIELDS,
)
#: Normalised header -> field, in every language.
ALIASES = {alias: name for name, words in vocab.HEADER_ALIASES.items() for alias in words}


@dataclass(frozen=True)
class Column:
    #: A field name, "unknown" or "spacer" (the blank second half of a merged header).
    kind: str
    header: str


@dataclass(frozen=True, repr=False)
class Book(ShortRepr):
    """A workbook to write: its Prospects tab, maybe an Owners tab."""

    titles: tuple[tuple[object, ...], ...]
    columns: tuple[Column, ...]
    rows: tuple[tuple[object, ...], ...]
    #: Where a value sits in column XFD: None, "data" (first data row) or "header".
    far_right: str | None
    merge_title: bool
    owners: tuple[tuple[object, ...], ...] | None
    date1904: bool

    @property
    def header_row(self) -> int:
        """1-based."""
        return len(self.titles) + 1


def header_for(name: str) -> st.SearchStrategy[str]:
    """A field's header as people write it: any language, any case, stray spaces."""
    languages = [lang for lang in vocab.LANGS if name in vocab.PROSPECT_HEADERS[lang]]
    spelled = st.sampled_from([vocab.PROSPECT_HEADERS[lang][name] for lang in languages])
    return spelled.flatmap(
        lambda text: st.sampled_from((text, text.upper(), text.lower(), f"  {text} "))
    )


@st.composite
def books(draw: st.DrawFn) -> Book:
    kinds = ["company", "owner"]
    kinds += draw(st.lists(st.sampled_from(TOUCH_FIELDS), unique=True, min_size=2))
    kinds += draw(st.lists(st.sampled_from(OTHER_FIELDS), unique=True, max_size=10))
    unknown = draw(st.lists(st.sampled_from(UNKNOWN_HEADERS), unique=True, max_size=2))
    order = draw(st.permutations([*kinds, *(f"?{u}" for u in unknown)]))
    columns: list[Column] = []
    for kind in order:
        if kind.startswith("?"):
            columns.append(Column("unknown", kind[1:]))
            if draw(st.booleans()):
                columns.append(Column("spacer", ""))  # the header above is merged over it
        else:
            columns.append(Column(kind, draw(header_for(kind))))
    titles = draw(
        st.lists(
            st.tuples(st.sampled_from(("Pipeline 2026", "", "Sales — Q1 🚀", "Do not edit"))),
            max_size=3,
        )
    )
    strategies = [cell_for(c.kind) for c in columns]
    row = st.tuples(*strategies)
    blank = st.just(tuple(None for _ in columns))
    rows = draw(st.lists(st.one_of(row, blank), max_size=8))
    owners = draw(
        st.none()
        | st.lists(
            st.tuples(
                st.sampled_from(OWNER_NAMES) | texts,
                st.sampled_from(("anna@example.com", "zoe@example.com", "not an address", ""))
                | texts,
                st.sampled_from(("en", "nl", "Deutsch", "klingon", "")),
                st.sampled_from(("NL", "XX", "es", "")),
                st.none() | st.sampled_from(OWNER_NAMES),
            ),
            max_size=5,
        )
    )
    return Book(
        titles=tuple(titles),
        columns=tuple(columns),
        rows=tuple(rows),
        far_right=draw(st.sampled_from((None, None, None, "data", "header"))),
        merge_title=draw(st.booleans()),
        owners=tuple(owners) if owners is not None else None,
        date1904=draw(st.booleans()),
    )


def write_cell(sheet: Any, row: int, col: int, value: object, day: Any) -> None:
    """One cell as Excel would store it; the file must hold exactly the value given."""
    if value is None:
        return
    if isinstance(value, Formula):
        done = sheet.write_formula(row, col, value.text, None, value.cached)
    elif isinstance(value, bool):
        done = sheet.write_boolean(row, col, value)
    elif isinstance(value, (date, datetime)):
        done = sheet.write_datetime(row, col, value, day)
    elif isinstance(value, (int, float)):
        done = sheet.write_number(row, col, value)
    else:
        done = sheet.write_string(row, col, str(value))
    assert done in (0, None), (row, col, value, done)


def write_book(path: Path, book: Book) -> None:
    workbook = xlsxwriter.Workbook(str(path), {"date_1904": book.date1904})
    day = workbook.add_format({"num_format": "yyyy-mm-dd"})
    sheet = workbook.add_worksheet("Prospects")
    width = len(book.columns)
    for r, title in enumerate(book.titles):
        if r == 0 and book.merge_title and width >= 2 and title[0]:
            sheet.merge_range(0, 0, 0, min(width, 4) - 1, title[0])
        else:
            write_cell(sheet, r, 0, title[0] or None, day)
    header = book.header_row - 1
    for c, column in enumerate(book.columns):
        spacer_next = c + 1 < width and book.columns[c + 1].kind == "spacer"
        if spacer_next:
            sheet.merge_range(header, c, header, c + 1, column.header)
        elif column.kind != "spacer":
            write_cell(sheet, header, c, column.header, day)
    for r, values in enumerate(book.rows, start=header + 1):
        for c, value in enumerate(values):
            write_cell(sheet, r, c, value, day)
    if book.far_right == "header":
        sheet.write_string(header, LAST_COLUMN, "Far right")
    elif book.far_right == "data":
        sheet.write_string(header + 1, LAST_COLUMN, "far right")
    if book.owners is not None:
        owners = workbook.add_worksheet("Owners")
        heading = ("Owner", "Email", "Language", "Country", "Delegate")
        for r, values in enumerate((heading, *book.owners)):
            for c, value in enumerate(values):
                write_cell(owners, r, c, value, day)
    workbook.close()


Cells = dict[tuple[int, int], tuple[str, object]]


def stored_cells(path: Path) -> dict[str, Cells]:
    """Every tab's stored cells: (row, column) -> (openpyxl data type, value or formula).

    Reads the worksheet's own cell map: iter_rows() would make 16,384 cells for each row
    once a value sits in column XFD.
    """
    workbook = load_workbook(path)
    try:
        return {
            sheet.title: {
                key: (cell.data_type, cell.value)
                for key, cell in sheet._cells.items()
                if cell.value is not None
            }
            for sheet in workbook.worksheets
        }
    finally:
        workbook.close()


def column_fields(book: Book, after: Cells) -> dict[int, str]:
    """1-based column -> what it holds: the generated columns, then the ones refresh added
    after them, by their header."""
    found = {c: column.kind for c, column in enumerate(book.columns, start=1)}
    for (row, column), (_, value) in after.items():
        if row == book.header_row and (column not in found or column in adopted(book, after)):
            found[column] = ALIASES.get(vocab.normalise(str(value)), "unknown")
    return found


def adopted(book: Book, after: Cells) -> set[int]:
    """Generated columns without a header that refresh gave one of its headers: a column
    that held nothing (empty text at most) is where a missing column goes."""
    return {
        c
        for c, column in enumerate(book.columns, start=1)
        if not column.header.strip() and not blank(after.get((book.header_row, c)))
    }


def blank(cell: tuple[str, object] | None) -> bool:
    """Whether a stored cell reads as blank: no cell, or a text of whitespace only once its
    _xHHHH_ escapes are read as Excel reads them (a vertical tab is stored as _x000B_)."""
    if cell is None:
        return True
    text = cell[1]
    if not isinstance(text, str):
        return False
    return not _ESCAPE.sub(lambda m: chr(int(m[1], 16)), text).strip()


_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def unexpected_changes(book: Book, before: Cells, after: Cells) -> list[str]:
    """Cells of the Prospects tab refresh changed that it must leave alone."""
    kinds, taken = column_fields(book, after), adopted(book, after)
    wrong = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        row, column = key
        kind = kinds.get(column, "unknown")
        below = row > book.header_row
        if below and column in taken and not blank(old):
            wrong.append(f"row {row} column {column} (taken for {kind}): {old!r} -> {new!r}")
            continue
        if below and kind in OWNED_FIELDS:
            continue
        if below and kind == "id" and blank(old):
            continue
        if row == book.header_row and old is None and kind in (*OWNED_FIELDS, "id"):
            continue
        wrong.append(f"row {row} column {column} ({kind}): {old!r} -> {new!r}")
    return wrong


def assert_clean(result: Any, command: str) -> None:
    """A documented exit code, no traceback, no "unexpected error"."""
    output = result.stdout + result.stderr
    assert result.exit_code in DOCUMENTED_EXITS, (command, result.exit_code, output[-3000:])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        command,
        repr(result.exception),
    )
    assert "Traceback" not in output, (command, output[-3000:])
    assert "unexpected error" not in output, (command, output[-3000:])


def assert_printed(start: str, message: str, output: str) -> None:
    """The output has the line `start` + `message`: the message on one line, as --json
    words it, its control characters shown (never obeyed)."""
    assert start + printable(message) in output.splitlines(), (start + message, output[-3000:])
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", output), output[-3000:]


def work_folder(root: Path) -> Path:
    return Path(tempfile.mkdtemp(dir=root))


@pytest.mark.slow
@FUZZ
@given(book=books())
def test_hostile_workbooks(cli: Cli, tmp_path: Path, book: Book) -> None:
    folder = work_folder(tmp_path)
    path = folder / "pipeline.xlsx"
    write_book(path, book)
    before = stored_cells(path)
    common = ("--sheet", str(path), "--today", ISO_TODAY)

    check = cli("check", "--json", *common)
    assert_clean(check, "check --json")
    problems = data_of(check.stdout)["problems"] if check.exit_code in (0, 5) else []
    for problem in problems:
        assert CELL_REF.fullmatch(problem["ref"]), problem
    shown = cli("check", *common)
    assert_clean(shown, "check")
    for problem in problems:
        assert_printed(f"  {problem['ref']}: ", problem["message"], shown.stdout)

    refresh = cli("refresh", *common)
    assert_clean(refresh, "refresh")
    event(f"check exits {check.exit_code}, refresh exits {refresh.exit_code}")
    due = cli("due", "--json", *common)
    assert_clean(due, "due --json")
    if due.exit_code == 0:
        assert isinstance(data_of(due.stdout), list)

    after = stored_cells(path)
    for tab, cells in before.items():
        if tab == "Prospects":
            assert unexpected_changes(book, cells, after[tab]) == []
        else:
            assert after[tab] == cells, tab
    for tab, cells in after.items():
        for key, (_, value) in cells.items():
            assert not isinstance(value, str) or len(value) <= MAX_CELL_TEXT, (tab, key)


# What the fuzzing found in the output of check: each case once, on its own.


def one_bad_cell(folder: Path, last_contact: str) -> Path:
    return write_workbook(
        folder / "pipeline.xlsx",
        Tab(
            "Prospects",
            [
                ["Company", "Owner", "Last contact", "Last outcome", "Attempts"],
                ["Acme", "Anna", last_contact, "no answer", 1],
            ],
        ),
    )


def problem_of(cli: Cli, path: Path) -> tuple[str, list[str]]:
    """The --json problem line of the one bad cell, and the lines `check` prints."""
    found = cli("check", "--json", "--sheet", str(path), "--today", ISO_TODAY)
    (problem,) = data_of(found.stdout)["problems"]
    shown = cli("check", "--sheet", str(path), "--today", ISO_TODAY)
    return f"  {problem['ref']}: {problem['message']}", shown.stdout.splitlines()


@pytest.mark.parametrize("text", ["next\nweek", "next\r\nweek", "a\x85b", "a\x0bb\x0c", "a\u2028b"])
def test_a_line_break_in_a_cell_keeps_its_problem_on_one_line(
    cli: Cli, tmp_path: Path, text: str
) -> None:
    line, lines = problem_of(cli, one_bad_cell(tmp_path, text))

    assert [shown for shown in lines if shown.startswith("  ")] == [line]


def test_text_typed_in_a_cell_is_printed_as_typed(cli: Cli, tmp_path: Path) -> None:
    line, lines = problem_of(cli, one_bad_cell(tmp_path, "soon :thumbs_up:"))

    assert ":thumbs_up:" in line
    assert line in lines


def test_escape_sequences_in_a_cell_never_reach_the_terminal(cli: Cli, tmp_path: Path) -> None:
    _, lines = problem_of(cli, one_bad_cell(tmp_path, "soon\x1b[2J\x1b]0;pwned\x07"))

    assert not any("\x1b" in shown for shown in lines)


# --- Config files -------------------------------------------------------------------------------

#: Every section and its keys (config.py); random keys are added to them.
SECTIONS: Mapping[str, tuple[str, ...]] = {
    "tabs": ("prospects", "log", "owners", "state", "touches"),
    "headers": ("company", "owner", "last_contact", "status", "why", "notes"),
    "rules": (
        "min_gap",
        "min_gap_after",
        "min_attempts",
        "max_attempts",
        "window_days",
        "quote_follow_up",
        "reached_follow_up",
        "thank_you_days",
        "checkin_days",
        "review_months",
        "delegate_below",
    ),
    "cadence": ("default", "capital", "capital/quote", "Capital Goods / Offerte", "/quote"),
    "calendar": ("country", "subdivision", "weekend", "days_off"),
    "import": ("default_country", "owners"),
    "smtp": (
        "host",
        "port",
        "security",
        "username",
        "password_env",
        "password_file",
        "ca_file",
        "from",
        "timeout",
    ),
    "email": ("manager", "outbox", "coming_days"),
    "google": ("key_file",),
}
TOP_KEYS = (
    "sheet",
    "timezone",
    "language",
    "id_prefix",
    "backups",
    "require_touch_columns",
    "stale_lock_hours",
)
PLAUSIBLE_TEXTS = (
    "pipeline.xlsx",
    "~/pipeline.xlsx",
    "../../etc/passwd",
    "https://docs.google.com/spreadsheets/d/abc",
    "Europe/Amsterdam",
    "europe/amsterdam",
    "Mars/Olympus",
    "Europe",
    "NL",
    "XX",
    "BY",
    "sat",
    "Prospects",
    "Log",
    "localhost",
    "smtp.example.com",
    "none",
    "starttls",
    "Sales <sales@example.com>",
    "en",
    "P-",
)
toml_scalars = st.one_of(
    st.sampled_from(PLAUSIBLE_TEXTS),
    st.text(CHARACTERS, max_size=20),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-5, 100),
    st.floats(),
    st.booleans(),
    st.dates(),
    st.datetimes(),
    st.times(),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
random_keys = st.text(CHARACTERS, min_size=1, max_size=12)


@st.composite
def config_documents(draw: st.DrawFn) -> dict[str, object]:
    document: dict[str, object] = {}
    for key in draw(st.lists(st.sampled_from(TOP_KEYS) | random_keys, max_size=4)):
        document[key] = draw(toml_values)
    for section in draw(st.lists(st.sampled_from(tuple(SECTIONS)), max_size=4, unique=True)):
        names = st.sampled_from(SECTIONS[section]) | random_keys
        document[section] = draw(st.dictionaries(names, toml_values, max_size=4))
    return document


def toml_string(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ch == "\x7f":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, (date, datetime, time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    return toml_string(str(value))


def toml_text(document: Mapping[str, object]) -> str:
    lines = [
        f"{toml_string(key)} = {toml_value(value)}"
        for key, value in document.items()
        if key not in SECTIONS or not isinstance(value, dict)
    ]
    for key, value in document.items():
        if key in SECTIONS and isinstance(value, dict):
            lines.append(f"\n[{toml_string(key)}]")
            lines += [f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items()]
    return "\n".join(lines) + "\n"


BROKEN_TOML: tuple[bytes, ...] = (
    b"sheet = \n",
    b"[rules\nmin_gap = 3\n",
    b'sheet = "a"\nsheet = "b"\n',
    b"[rules]\n[rules]\n",
    b"\xef\xbb\xbfsheet = 'pipeline.xlsx'\n",
    b"language = 'en'\x00\n",
    b"[cadence]\ncapital = []\n",
    b"[tabs]\nprospects = 'Log'\nlog = 'log'\n",
)
config_files = st.one_of(
    config_documents().map(lambda d: toml_text(d).encode("utf-8")),
    st.text(CHARACTERS, max_size=200).map(lambda t: t.encode("utf-8")),
    st.binary(max_size=200),
    st.sampled_from(BROKEN_TOML),
)

CONFIG_NAME = "fuzzed config ü.toml"


def strings_in(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return [text for item in value for text in strings_in(item)]
    return []


@pytest.mark.parametrize(
    "text",
    [
        'sheet = "~nosuchuser/pipeline.xlsx"',
        '[email]\noutbox = "~nosuchuser/outbox"',
        '[smtp]\nca_file = "~nosuchuser/ca.pem"',
        '[smtp]\npassword_file = "~nosuchuser/password"',
        '[google]\nkey_file = "~nosuchuser/key.json"',
    ],
)
def test_a_path_in_an_unknown_users_home(tmp_path: Path, text: str) -> None:
    (tmp_path / CONFIG_NAME).write_text(text + "\n", encoding="utf-8")

    with pytest.raises(ConfigError, match=re.escape(CONFIG_NAME)):
        load_config(Path(CONFIG_NAME), cwd=tmp_path)


@FUZZ
@given(data=config_files)
@example(data=b"\xff\xfe")
@example(data=b'sheet = "~/pipeline.xlsx"\n')
def test_config_files_load_or_name_themselves_in_one_config_error(
    tmp_path: Path, data: bytes
) -> None:
    folder = work_folder(tmp_path)
    (folder / CONFIG_NAME).write_bytes(data)

    try:
        config = load_config(Path(CONFIG_NAME), cwd=folder)
    except ConfigError as error:
        assert CONFIG_NAME in str(error), str(error)
    else:
        assert isinstance(config, Config)


@pytest.mark.slow
@FUZZ
@given(data=config_files)
def test_check_with_any_config_file_ends_cleanly(cli: Cli, tmp_path: Path, data: bytes) -> None:
    folder = work_folder(tmp_path)
    workbook = write_team(folder)
    config = folder / CONFIG_NAME
    config.write_bytes(data)

    result = cli("check", "--config", str(config), "--sheet", str(workbook), "--today", ISO_TODAY)

    assert_clean(result, "check")
    if result.exit_code == 3:
        assert CONFIG_NAME in result.stderr, result.stderr


# --- CSV imports --------------------------------------------------------------------------------

#: The columns a CSV may have: header -> the Prospects field it fills ("" when not imported).
CSV_COLUMNS: Mapping[str, str] = {
    "Company": "company",
    "Contact": "contact",
    "Email": "email",
    "Phone": "phone",
    "Owner": "owner",
    "Segment": "segment",
    "Notes": "notes",
    "Value": "value",
    "Last contact": "last_contact",
    "Region": "",
    "ID": "",
    "Stage": "",
}
#: Fields an import writes as text, exactly as given (trimmed).
TEXT_FIELDS = ("company", "contact", "email", "phone", "notes", "segment")
FORMULA_TEXTS = (
    "=1+1",
    '=HYPERLINK("https://evil.example","click")',
    "=cmd|' /C calc'!A0",
    "+31 20 555 0101",
    "-5",
    "@SUM(A1:A2)",
    "\t=1+1",
    "0031205550101",
)
csv_texts = st.sampled_from(FORMULA_TEXTS) | texts.filter(lambda t: "\x00" not in t)
csv_texts |= st.sampled_from(('He said "hi", then left', "a;b|c\td", "x" * 40_000))


@dataclass(frozen=True, repr=False)
class CsvFile(ShortRepr):
    header: tuple[str, ...]
    records: tuple[tuple[str, ...], ...]
    delimiter: str
    encoding: str
    line_end: str
    sep_line: bool
    quote_all: bool


def csv_value(header: str) -> st.SearchStrategy[str]:
    kind = CSV_COLUMNS[header]
    if kind == "owner":
        return st.sampled_from(OWNER_NAMES) | csv_texts
    if kind == "value":
        return st.sampled_from(("12500", "12.500,50", "€ 1 200", "-5", "lots")) | csv_texts
    if kind == "last_contact":
        return st.sampled_from(DATE_TEXTS) | csv_texts
    return csv_texts


@st.composite
def csv_files(draw: st.DrawFn) -> CsvFile:
    # Two columns at least: the delimiter of a one-column file cannot be told from its header.
    names = draw(st.lists(st.sampled_from(tuple(CSV_COLUMNS)), min_size=2, unique=True))
    row = st.tuples(*(csv_value(name) for name in names))
    # Ragged lines: a value too many, or a few too few.
    ragged = row.flatmap(
        lambda values: st.sampled_from((values[:-1], (*values, "extra"), values[:1]))
    )
    records = draw(st.lists(row | ragged, max_size=6))
    return CsvFile(
        header=tuple(names),
        records=tuple(records),
        delimiter=draw(st.sampled_from(",;\t|")),
        encoding=draw(st.sampled_from(("utf-8", "utf-8-sig", "utf-16", "cp1252"))),
        line_end=draw(st.sampled_from(("\r\n", "\n"))),
        sep_line=draw(st.booleans()),
        quote_all=draw(st.booleans()),
    )


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def render_csv(file: CsvFile) -> tuple[str, dict[int, tuple[str, ...]]]:
    """The file's text, and which record starts on which line (as a CSV reader counts
    lines: a line break inside a quoted value starts a new one)."""
    parts = [f"sep={file.delimiter}{file.line_end}"] if file.sep_line else []
    line = 1 + len(parts)
    starts: dict[int, tuple[str, ...]] = {}
    for index, values in enumerate((file.header, *file.records)):
        # The csv module quotes a lone \r only when the line end has one; every exporter
        # quotes a value that holds a line break.
        breaks = any("\r" in value or "\n" in value for value in values)
        quoting = csv.QUOTE_ALL if file.quote_all or breaks else csv.QUOTE_MINIMAL
        buffer = io.StringIO()
        csv.writer(
            buffer, delimiter=file.delimiter, lineterminator=file.line_end, quoting=quoting
        ).writerow(values)
        text = buffer.getvalue()
        if index:
            starts[line] = values
        line += len(_LINE_BREAK.findall(text))
        parts.append(text)
    return "".join(parts), starts


def encode_csv(text: str, encoding: str) -> bytes:
    if encoding == "cp1252":
        data = text.encode("cp1252", errors="replace")
        # Windows-1252 bytes that happen to be UTF-8 are read as UTF-8, as documented.
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return data
        assume(data.isascii())
        return data
    return text.encode(encoding)


def as_read(value: str, encoding: str) -> str:
    """A value as the file holds it (Windows-1252 has no emoji)."""
    if encoding == "cp1252":
        return value.encode("cp1252", errors="replace").decode("cp1252")
    return value


_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def as_stored(value: str) -> str:
    """A text as a cell keeps it: trimmed, one kind of line end, no character XML cannot
    carry, at most Excel's 32,767 characters."""
    text = value.strip().replace("\r\n", "\n").replace("\r", "\n")
    return _ILLEGAL_XML.sub("", text)[:MAX_CELL_TEXT]


IMPORT_TOML = """\
sheet = "pipeline.xlsx"
timezone = "Europe/Amsterdam"
language = "en"

[calendar]
country = "NL"
"""


def prospects_by_id(path: Path) -> dict[str, dict[str, tuple[str, object]]]:
    """Prospects rows by ID: header -> (openpyxl's data type, "f" for a formula; the value
    as calamine reads it, which decodes _xHHHH_ in inline strings as Excel does)."""
    workbook = load_workbook(path)
    try:
        types = [[cell.data_type for cell in row] for row in workbook["Prospects"].iter_rows()]
    finally:
        workbook.close()
    values = calamine_rows(path)
    header = [str(value) for value in values[0]]
    found = {}
    for kinds, row in zip(types[1:], values[1:], strict=False):
        record = {h: (k, v) for h, k, v in zip(header, kinds, row, strict=False)}
        ident = record.get("ID", ("", None))[1]
        if ident:
            found[str(ident)] = record
    return found


def owner_spelling(given: str) -> str:
    """Owners are written as the Owners tab spells them ("anna" is Anna)."""
    listed = {vocab.normalise(str(row[0])): str(row[0]) for row in TEAM_OWNERS[1:]}
    return listed.get(vocab.normalise(given), given)


@pytest.mark.slow
@FUZZ
@given(file=csv_files())
def test_hostile_csv_imports(cli: Cli, tmp_path: Path, file: CsvFile) -> None:
    folder = work_folder(tmp_path)
    workbook = write_team(folder, config=IMPORT_TOML)
    text, starts = render_csv(file)
    leads = folder / "leads.csv"
    leads.write_bytes(encode_csv(text, file.encoding))
    common = ("--config", str(folder / "sheetfollow.toml"), "--today", ISO_TODAY)

    dry = cli("import", str(leads), "--dry-run", "--json", *common)
    assert_clean(dry, "import --dry-run --json")
    shown = cli("import", str(leads), "--dry-run", *common)
    assert_clean(shown, "import --dry-run")
    done = cli("import", str(leads), "--json", *common)
    assert_clean(done, "import --json")
    assert done.exit_code == dry.exit_code
    event(f"import exits {done.exit_code}")
    if dry.exit_code != 0:
        # A file that cannot be read at all: one line that names it.
        assert leads.name in dry.stderr, dry.stderr
        return

    report = data_of(dry.stdout)
    for rejected in report["rejected"]:
        assert rejected["line"] in starts, (rejected, sorted(starts))
        assert_printed(f"  line {rejected['line']}: ", rejected["reason"], shown.stdout)
    written = data_of(done.stdout)
    for part in ("added", "duplicates", "suppressed", "rejected"):
        assert written[part] == report[part], part

    event("rows added" if written["added"] else "no row added")
    rows = prospects_by_id(workbook)
    for added in written["added"]:
        values = dict(zip(file.header, starts[added["line"]], strict=False))
        row = rows[added["id"]]
        assert all(kind != "f" for kind, _ in row.values()), row
        for header, name in CSV_COLUMNS.items():
            if name not in (*TEXT_FIELDS, "owner") or not values.get(header, "").strip():
                continue
            given = as_read(values[header], file.encoding)
            if name == "owner":
                given = owner_spelling(given.strip().replace("\r\n", "\n"))
            expected = as_stored(given)
            got = row.get(vocab.PROSPECT_HEADERS["en"][name])
            if expected:
                assert got == ("s", expected), (header, expected[:80], got)
            else:
                assert got is None or got[1] is None, (header, got)
