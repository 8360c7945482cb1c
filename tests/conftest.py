"""Shared fixtures for the service and command-line tests: real workbooks on disk.

`team` writes a small workbook (and its sheetfollow.toml) whose results are worked out by
hand below, so the tests can check sheetfollow's answers against a person's. `write_team`
lays the same rows out differently (title rows above the headers, headers in another
language, columns in odd order, an Excel Table, columns sheetfollow does not know) and
`write_workbook` writes any grid with XlsxWriter. `cli` runs the command in-process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter
from fakes.imap_server import dovecot, imap_server  # noqa: F401  (a real Dovecot)
from fakes.sheets_server import sheets_server  # noqa: F401  (a fixture for every test)
from openpyxl import load_workbook
from python_calamine import CalamineWorkbook
from typer.testing import CliRunner, Result

from sheetfollow import vocab
from sheetfollow.cli import app

Cell = str | int | float | bool | date | datetime | None

#: The day every fixed workbook is computed for: a Wednesday without Dutch holidays nearby.
TODAY = date(2026, 3, 11)

#: The terminal width in-process runs ask for. Rich reads COLUMNS once, when the CLI module
#: is imported (pytest-xdist workers start with COLUMNS=80), so the tests hold at 80.
COLUMNS = "80"

#: The team's Prospects rows, by field. Row n of this list is sheet row n + 2 (below the
#: header). Values are what a person types; "soon" is a deliberately broken date.
TEAM_ROWS: tuple[Mapping[str, Cell], ...] = (
    # A new lead from today: due the same business day.
    {
        "id": "P-0001",
        "company": "Acme Tools",
        "contact": "Ann Archer",
        "phone": "+31 20 555 0101",
        "owner": "Anna",
        "stage": "new",
        "value": 5000,
        "created": date(2026, 3, 11),
    },
    # A lead nobody called since Monday last week: overdue.
    {
        "id": "P-0002",
        "company": "Brick & Co",
        "contact": "Bert Brick",
        "phone": "+31 20 555 0102",
        "owner": "Anna",
        "stage": "new",
        "value": 20000,
        "created": date(2026, 3, 2),
    },
    # One unanswered call on Monday; the cadence's second gap is 2 business days: today.
    {
        "id": "P-0003",
        "company": "Cobalt BV",
        "contact": "Cor Cobalt",
        "phone": "+31 20 555 0103",
        "owner": "Zoë",
        "stage": "contacted",
        "value": 8000,
        "created": date(2026, 2, 20),
        "last_contact": date(2026, 3, 9),
        "last_outcome": "no answer",
        "attempts": 1,
    },
    # Two unanswered calls, the last on Mon 2 Mar; third gap 5 days: Mon 9 Mar, overdue.
    # Bob's Owners row has the country "XX", which must not stop anything.
    {
        "id": "P-0007",
        "company": "Delta GmbH",
        "contact": "Dieter Delta",
        "phone": "+49 30 555 0104",
        "owner": "Bob",
        "stage": "contacted",
        "value": 30000,
        "created": date(2026, 2, 1),
        "last_contact": date(2026, 3, 2),
        "last_outcome": "no answer",
        "attempts": 2,
    },
    # A quote sent yesterday: asked about 3 business days later, Fri 13 Mar. No ID yet.
    {
        "company": "Echo Ltd",
        "contact": "Eve Echo",
        "phone": "+44 20 555 0105",
        "owner": "Anna",
        "stage": "quote",
        "value": 12000,
        "created": date(2026, 2, 1),
        "last_contact": date(2026, 3, 10),
        "last_outcome": "quote sent",
    },
    # Five unanswered attempts: dead. No ID yet.
    {
        "company": "Foxtrot AS",
        "contact": "Finn Fox",
        "phone": "+47 22 555 0106",
        "owner": "Zoë",
        "stage": "contacted",
        "value": 15000,
        "created": date(2026, 1, 5),
        "last_contact": date(2026, 3, 2),
        "last_outcome": "no answer",
        "attempts": 5,
    },
    # Last contact is not a date: needs attention, and nothing else about it changes.
    {
        "id": "P-0010",
        "company": "Golf SA",
        "contact": "Gil Golf",
        "phone": "+34 91 555 0107",
        "owner": "Anna",
        "stage": "contacted",
        "value": 50000,
        "created": date(2026, 2, 2),
        "last_contact": "soon",
        "last_outcome": "no answer",
        "attempts": 1,
    },
    # Reached, and asked to call back on 1 April: snoozed until then.
    {
        "id": "P-0004",
        "company": "Hotel Oy",
        "contact": "Heikki Hotel",
        "phone": "+358 9 555 0108",
        "owner": "Anna",
        "stage": "interested",
        "value": 9000,
        "created": date(2026, 2, 2),
        "last_contact": date(2026, 3, 5),
        "last_outcome": "reached",
        "follow_up_on": date(2026, 4, 1),
    },
    # Worth less than delegate_below (1000): Zoë's delegate Émile makes the first call.
    {
        "id": "P-0005",
        "company": "India Pty",
        "contact": "Ines India",
        "phone": "+61 2 555 0109",
        "owner": "Zoë",
        "stage": "new",
        "value": 500,
        "created": date(2026, 3, 11),
    },
    # Said no: kept, never due.
    {
        "id": "P-0006",
        "company": "Juliet Inc",
        "contact": "Jules Juliet",
        "phone": "+1 212 555 0110",
        "owner": "Bob",
        "stage": "contacted",
        "value": 7000,
        "created": date(2026, 1, 12),
        "last_contact": date(2026, 3, 3),
        "last_outcome": "not interested",
    },
)


@dataclass(frozen=True)
class Expected:
    """What a person works out for one team row on TODAY with the default rules."""

    next_follow_up: date | None
    status: str
    step: str
    assigned_to: str


#: By company. Dates count business days (Mon-Fri, Dutch holidays; none fall in March 2026).
TEAM_EXPECTED: Mapping[str, Expected] = {
    "Acme Tools": Expected(date(2026, 3, 11), "new", "1 of 5", "Anna"),
    "Brick & Co": Expected(date(2026, 3, 2), "overdue", "1 of 5", "Anna"),
    "Cobalt BV": Expected(date(2026, 3, 11), "due", "2 of 5", "Zoë"),
    "Delta GmbH": Expected(date(2026, 3, 9), "overdue", "3 of 5", "Bob"),
    "Echo Ltd": Expected(date(2026, 3, 13), "scheduled", "1 of 5", "Anna"),
    "Foxtrot AS": Expected(None, "dead", "5 of 5", "Zoë"),
    "Golf SA": Expected(None, "needs attention", "", "Anna"),
    "Hotel Oy": Expected(date(2026, 4, 1), "snoozed", "1 of 5", "Anna"),
    "India Pty": Expected(date(2026, 3, 11), "new", "1 of 5", "Émile"),
    "Juliet Inc": Expected(None, "not interested", "", "Bob"),
}

#: The team sheet's columns: the starter layout's input columns with one column sheetfollow
#: does not know (Region) among them, then the owned columns, empty.
TEAM_FIELDS: tuple[str, ...] = (
    "id",
    "company",
    "contact",
    "phone",
    "owner",
    "stage",
    "segment",
    "value",
    "created",
    "last_contact",
    "last_outcome",
    "attempts",
    "follow_up_on",
    "notes",
    "region",
    "next_follow_up",
    "status",
    "step",
    "why",
    "assigned_to",
)

#: Headers of columns sheetfollow does not know, by the pseudo-field used in layouts.
UNKNOWN_HEADERS = {"region": "Region", "source": "Lead source"}

#: Values of the unknown columns by company, which must survive every refresh.
REGION_OF: dict[str, Cell] = {
    "Acme Tools": "North",
    "Brick & Co": "South",
    "Golf SA": "=SUM(1,2)",
    "Juliet Inc": "West",
}
SOURCE_OF: dict[str, Cell] = {"Echo Ltd": "trade fair", "Hotel Oy": "website", "India Pty": 2025}

TEAM_OWNERS: tuple[tuple[Cell, ...], ...] = (
    ("Owner", "Email", "Delegate", "Language", "Country"),
    ("Anna", "anna@example.com", None, "en", "NL"),
    ("Zoë", "zoe@example.com", "Émile", "en", "NL"),
    ("Bob", "bob@example.com", None, "en", "XX"),
    ("Émile", "emile@example.com", None, "en", "NL"),
)

TEAM_CONFIG = """\
sheet = "pipeline.xlsx"
timezone = "Europe/Amsterdam"
language = "en"

[rules]
delegate_below = 1000

[calendar]
country = "NL"
"""


# --- Building workbooks ------------------------------------------------------------------


@dataclass(frozen=True)
class Tab:
    """One tab to write: rows from A1 down."""

    name: str
    rows: Sequence[Sequence[Cell]]
    #: 1-based row holding the headers of an Excel Table laid over the rows from there down.
    table_header: int | None = None


def write_workbook(path: Path, *tabs: Tab) -> Path:
    """A real .xlsx written by XlsxWriter, as Excel would save it: dates are date cells."""
    workbook = xlsxwriter.Workbook(str(path))
    day = workbook.add_format({"num_format": "yyyy-mm-dd"})
    for tab in tabs:
        sheet = workbook.add_worksheet(tab.name)
        for r, row in enumerate(tab.rows):
            for c, value in enumerate(row):
                _write_cell(sheet, r, c, value, day)
        if tab.table_header is not None:
            first = tab.table_header - 1
            header = [str(h) for h in tab.rows[first]]
            sheet.add_table(
                first,
                0,
                len(tab.rows) - 1,
                len(header) - 1,
                {"name": "Pipeline", "columns": [{"header": h} for h in header]},
            )
    workbook.close()
    return path


def _write_cell(sheet: Any, row: int, col: int, value: Cell, day: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        sheet.write_boolean(row, col, value)
    elif isinstance(value, (date, datetime)):
        sheet.write_datetime(row, col, value, day)
    elif isinstance(value, (int, float)):
        sheet.write_number(row, col, value)
    elif value.startswith("="):
        sheet.write_formula(row, col, value, None, 3)
    else:
        sheet.write_string(row, col, value)


def header_text(name: str, lang: str = "en") -> str:
    """The header a starter workbook in `lang` gives a field (or an unknown column)."""
    return UNKNOWN_HEADERS.get(name) or vocab.PROSPECT_HEADERS[lang][name]


@dataclass(frozen=True)
class Layout:
    """How the team's Prospects tab is laid out."""

    fields: Sequence[str] = TEAM_FIELDS
    lang: str = "en"
    title_rows: Sequence[Sequence[Cell]] = ()
    excel_table: bool = False
    rows: Sequence[Mapping[str, Cell]] = TEAM_ROWS
    #: Rows added below the team's: each field -> value, in these fields' columns.
    extra_rows: Sequence[Mapping[str, Cell]] = field(default_factory=tuple)

    def header_row(self) -> int:
        return len(self.title_rows) + 1

    def tab(self, tab_name: str = "Prospects") -> Tab:
        grid: list[list[Cell]] = [list(row) for row in self.title_rows]
        grid.append([header_text(name, self.lang) for name in self.fields])
        for values in [*self.rows, *self.extra_rows]:
            company = str(values.get("company", ""))
            unknown: dict[str, Cell] = {
                "region": REGION_OF.get(company),
                "source": SOURCE_OF.get(company),
            }
            grid.append([{**unknown, **values}.get(name) for name in self.fields])
        return Tab(tab_name, grid, self.header_row() if self.excel_table else None)


def write_team(
    folder: Path,
    layout: Layout | None = None,
    *,
    config: str = TEAM_CONFIG,
    name: str = "pipeline.xlsx",
) -> Path:
    """The team workbook (Prospects and Owners) and its sheetfollow.toml in `folder`."""
    layout = layout or Layout()
    tabs = vocab.TAB_NAMES[layout.lang]
    path = write_workbook(
        folder / name,
        layout.tab(tabs["prospects"]),
        Tab(tabs["owners"], TEAM_OWNERS),
    )
    (folder / "sheetfollow.toml").write_text(config, encoding="utf-8")
    return path


@dataclass(frozen=True)
class Team:
    folder: Path
    workbook: Path
    config: Path
    today: date


@pytest.fixture
def team(tmp_path: Path) -> Team:
    """The team workbook in the standard layout, with the config next to it."""
    path = write_team(tmp_path)
    return Team(tmp_path, path, tmp_path / "sheetfollow.toml", TODAY)


# --- Reading workbooks back --------------------------------------------------------------


def calamine_rows(path: Path, tab: str = "Prospects") -> list[list[Any]]:
    """A tab as python-calamine reads it, empty cells as None."""
    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(tab)
    return [[None if v == "" else v for v in row] for row in sheet.to_python()]


def openpyxl_rows(path: Path, tab: str = "Prospects") -> list[list[Any]]:
    """A tab as openpyxl reads it (dates as datetimes)."""
    workbook = load_workbook(path)
    try:
        return [list(row) for row in workbook[tab].iter_rows(values_only=True)]
    finally:
        workbook.close()


def records(
    path: Path, tab: str = "Prospects", *, header_row: int = 1, key: str = "Company"
) -> dict[str, dict[str, Any]]:
    """Rows below the header as {company: {header: value}}, read by openpyxl."""
    rows = openpyxl_rows(path, tab)
    header = [str(h) if h is not None else "" for h in rows[header_row - 1]]
    found: dict[str, dict[str, Any]] = {}
    for row in rows[header_row:]:
        record = dict(zip(header, row, strict=False))
        if record.get(key):
            found[str(record[key])] = record
    return found


def as_date(value: Any) -> date | None:
    """A cell value as a date (openpyxl gives midnight datetimes), None when empty."""
    if isinstance(value, datetime):
        return value.date()
    if value is None or isinstance(value, date):
        return value
    raise AssertionError(f"not a date cell: {value!r}")


@dataclass(frozen=True)
class FileState:
    data: bytes
    mtime_ns: int


def file_state(path: Path) -> FileState:
    return FileState(path.read_bytes(), os.stat(path).st_mtime_ns)


# --- Fixtures ----------------------------------------------------------------------------


@dataclass
class Cli:
    """Runs the sheetfollow command in-process, in a working folder of its own."""

    runner: CliRunner
    cwd: Path
    columns: str = COLUMNS

    def __call__(self, *args: str | Path, env: Mapping[str, str] | None = None) -> Result:
        argv = [str(a) for a in args]
        return self.runner.invoke(
            app, argv, env={"COLUMNS": self.columns, "SHEETFOLLOW_DEBUG": None, **(env or {})}
        )


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    """`cli("refresh", "--config", path)`: the CLI run from tmp_path, so no stray
    sheetfollow.toml in the real working folder is picked up."""
    monkeypatch.chdir(tmp_path)
    yield Cli(CliRunner(), tmp_path)


@pytest.fixture(autouse=True)
def _own_user_folders(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test finds the sheetfollow.toml of the person running the tests (their user config
    folder, SHEETFOLLOW_CONFIG) or writes into their log, state and cache folders."""
    user = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(user / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(user / "state"))
    # One cache for the whole session: compiled catalogs are made once, not per test.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.delenv("SHEETFOLLOW_CONFIG", raising=False)
    monkeypatch.delenv("SHEETFOLLOW_SHEET", raising=False)


@pytest.fixture(autouse=True)
def _small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every sheet the tests write in this process is packed in pieces of four rows
    (backends/_segments.py) and keeps its table however small, so every write of a few
    rows goes the way a `mark` on a big workbook goes: only the pieces it changes packed
    again."""
    from sheetfollow.backends import _segments

    monkeypatch.setattr(_segments, "SMALLEST", 0)
    monkeypatch.setattr(_segments, "ROWS", 4)
