"""The record of which emails went out: the hidden tab `sheetfollow_state` of the workbook.

Kept in the sheet, not on the machine, so a run on another machine (cron moved, a laptop run
by hand) knows what was already sent today, and a digest knows when the previous one went
out. Rows are only ever appended. The records themselves, and the send log and run lock that
guard the minutes between sending and recording, are notify/state.py's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sheetfollow import hidden_tab, schema, vocab
from sheetfollow.config import Config
from sheetfollow.errors import SheetError
from sheetfollow.notify.state import Entry, RunState
from sheetfollow.sheet import Backend, CellValue, RawValue, TabChanges, Table

#: The tab's columns, in order.
COLUMNS: tuple[str, ...] = ("Day", "Kind", "Key", "To", "Status", "At", "Detail")
#: Without these a row cannot say what was sent when.
_REQUIRED: tuple[str, ...] = ("Day", "Kind", "Key", "Status")

#: Details longer than this are cut: an error message, not a log file.
DETAIL_LENGTH = 300


def read_state(backend: Backend, config: Config) -> RunState:
    """The run state; empty when the tab does not exist yet."""
    table = backend.read_tab(config.tabs.state)
    if table is None or not any(_filled(v) for row in table.rows for v in row):
        return RunState()
    columns = _columns(table, backend.label)
    entries = []
    for values in table.rows[1:]:
        entry = _entry(values, columns, table)
        if entry is not None:
            entries.append(entry)
    return RunState(tuple(entries))


def append_changes(backend: Backend, config: Config, entries: Sequence[Entry]) -> TabChanges:
    """The change that appends `entries`, creating the hidden tab when it is missing."""
    table = backend.read_tab(config.tabs.state)
    return hidden_tab.append_rows(
        table,
        config.tabs.state,
        COLUMNS,
        lambda found: _columns(found, backend.label),
        (_cells(entry) for entry in entries),
    )


def _cells(entry: Entry) -> dict[str, CellValue]:
    return {
        "Day": entry.day,
        "Kind": entry.kind,
        "Key": entry.key,
        "To": entry.to,
        "Status": entry.status,
        # The team's wall-clock time: what a person reading the tab expects.
        "At": entry.at.replace(tzinfo=None, microsecond=0) if entry.at else None,
        "Detail": entry.detail[:DETAIL_LENGTH] or None,
    }


def _columns(table: Table, label: str) -> dict[str, int]:
    """Column (1-based) of each known header in the first row."""
    header = [vocab.normalise(schema.cell_text(v)) for v in table.rows[0]]
    columns = {
        name: header.index(vocab.normalise(name)) + 1
        for name in COLUMNS
        if vocab.normalise(name) in header
    }
    missing = [name for name in _REQUIRED if name not in columns]
    if missing:
        raise SheetError(
            f"{label}: the hidden tab {table.tab!r} lacks the columns {', '.join(missing)} "
            "in its first row, so sheetfollow cannot tell which emails went out today; "
            "restore them, or delete the tab to start afresh"
        )
    return columns


def _filled(value: RawValue) -> bool:
    return value is not None and schema.cell_text(value) != ""


def _entry(values: Sequence[RawValue], columns: dict[str, int], table: Table) -> Entry | None:
    def raw(name: str) -> RawValue:
        column = columns.get(name)
        return values[column - 1] if column is not None and column <= len(values) else None

    try:
        day = schema.parse_date(raw("Day"), epoch=table.epoch)
    except ValueError:
        return None
    kind, key = schema.cell_text(raw("Kind")), schema.cell_text(raw("Key"))
    if day is None or not kind or not key:
        return None
    at = raw("At")
    return Entry(
        day=day,
        kind=kind,
        key=key,
        to=schema.cell_text(raw("To")),
        status=schema.cell_text(raw("Status")).lower(),
        at=at if isinstance(at, datetime) else None,
        detail=schema.cell_text(raw("Detail")),
    )
