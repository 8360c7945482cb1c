"""The Log tab: created when missing, appended at the end, earlier rows never touched."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from conftest import Tab, openpyxl_rows, write_workbook
from xlsx_fixtures import members, raw_cells, sheet_part

from sheetfollow import log
from sheetfollow.backends.xlsx import XlsxBackend
from sheetfollow.config import Config, Tabs
from sheetfollow.models import Channel, Outcome

PROSPECTS = Tab("Prospects", [["ID", "Company", "Owner"], ["P-0001", "Acme B.V.", "Ann"]])
TOUCH = log.LogEntry(
    when=datetime(2026, 3, 11, 9, 30),
    id="P-0001",
    company="Acme B.V.",
    by="Ann",
    outcome=Outcome.NO_ANSWER,
    channel=Channel.PHONE,
    note="rang twice",
    next_follow_up=date(2026, 3, 13),
)


def append(path: Path, config: Config, *entries: log.LogEntry) -> None:
    backend = XlsxBackend(path)
    backend.write([log.append_changes(backend, config, entries)])


def test_a_missing_log_is_created_with_headers_in_the_team_language(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "p.xlsx", PROSPECTS)
    before = members(path)
    append(path, Config(language="nl", tabs=Tabs(log="Logboek")), TOUCH)
    rows = openpyxl_rows(path, "Logboek")
    assert rows[0][:3] == ["Wanneer", "ID", "Bedrijf"]
    # The outcome and channel in the team's words too (the Log reads every language's).
    assert rows[1][:5] == [
        datetime(2026, 3, 11, 9, 30),
        "P-0001",
        "Acme B.V.",
        "Ann",
        "Geen gehoor",
    ]
    assert rows[1][5:] == ["Telefoon", "rang twice", datetime(2026, 3, 13)]
    # The Prospects sheet is untouched.
    part = sheet_part(path, "Prospects")
    assert members(path)[part] == before[part]
    [entry] = log.read_log(XlsxBackend(path), Config(tabs=Tabs(log="Logboek")))
    assert (entry.outcome, entry.note, entry.next_follow_up) == (
        Outcome.NO_ANSWER,
        "rang twice",
        date(2026, 3, 13),
    )


def test_entries_are_appended_below_the_last_row_by_header_and_earlier_rows_stay(
    tmp_path: Path,
) -> None:
    # Columns in another order, in German, with a column of the team's own.
    history = Tab(
        "Log",
        [
            ["Ergebnis", "Wann", "Firma", "Eigene Spalte", "ID"],
            ["erreicht", datetime(2026, 3, 2, 10, 0), "Acme B.V.", "x", "P-0001"],
            ["nicht erreicht", datetime(2026, 3, 4, 11, 0), "Acme B.V.", "", "P-0001"],
        ],
    )
    path = write_workbook(tmp_path / "p.xlsx", PROSPECTS, history)
    part = sheet_part(path, "Log")
    before = raw_cells(members(path)[part])
    append(path, Config(), TOUCH)
    after = raw_cells(members(path)[part])
    # Every cell that was there is exactly as it was (the header row gains new cells).
    assert {key: after[key] for key in before} == before
    rows = openpyxl_rows(path, "Log")
    assert rows[3][:5] == ["no answer", datetime(2026, 3, 11, 9, 30), "Acme B.V.", None, "P-0001"]
    # Log fields the tab lacked are added as columns after the last one.
    assert rows[0][5:] == ["By", "Channel", "Note", "Next follow-up"]
    assert rows[3][5:] == ["Ann", "phone", "rang twice", datetime(2026, 3, 13)]
    entries = log.read_log(XlsxBackend(path), Config())
    assert [e.outcome for e in entries] == [Outcome.REACHED, Outcome.NO_ANSWER, Outcome.NO_ANSWER]


def test_a_log_that_is_an_excel_table_grows_with_its_rows(tmp_path: Path) -> None:
    history = Tab(
        "Log",
        [
            ["When", "ID", "Company", "By", "Outcome", "Channel", "Note", "Next follow-up"],
            [datetime(2026, 3, 2), "P-0001", "Acme B.V.", "Ann", "reached", "", "", None],
        ],
        table_header=1,
    )
    path = write_workbook(tmp_path / "p.xlsx", PROSPECTS, history)
    append(path, Config(), TOUCH, TOUCH)
    table = next(name for name in members(path) if name.startswith("xl/tables/"))
    assert b'ref="A1:H4"' in members(path)[table]
    assert len(log.read_log(XlsxBackend(path), Config())) == 3


def test_events_that_are_not_touches_keep_their_text(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "p.xlsx", PROSPECTS)
    imported = log.LogEntry(
        when=datetime(2026, 3, 11, 8, 0),
        id="P-0002",
        company="Beta GmbH",
        by="Ann",
        outcome=None,
        event="imported",
        note="from leads.csv",
    )
    append(path, Config(), imported)
    [entry] = log.read_log(XlsxBackend(path), Config())
    assert (entry.outcome, entry.event, entry.note) == (None, "imported", "from leads.csv")


def test_unreadable_log_rows_are_skipped_not_fatal(tmp_path: Path) -> None:
    history = Tab(
        "Log",
        [
            ["When", "ID", "Outcome"],
            ["someday", "P-0001", "reached"],
            [datetime(2026, 3, 4), "P-0001", "voicemail"],
            [None, None, None],
        ],
    )
    path = write_workbook(tmp_path / "p.xlsx", PROSPECTS, history)
    entries = log.read_log(XlsxBackend(path), Config())
    assert [(e.row, e.outcome) for e in entries] == [(3, Outcome.VOICEMAIL)]


def test_no_log_tab_or_an_empty_one_is_an_empty_history(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "p.xlsx", PROSPECTS)
    assert log.read_log(XlsxBackend(path), Config()) == []
    empty = write_workbook(tmp_path / "e.xlsx", PROSPECTS, Tab("Log", []))
    assert log.read_log(XlsxBackend(empty), Config()) == []
