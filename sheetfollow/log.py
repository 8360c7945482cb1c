"""The Log tab: an append-only history of every touch. Nothing in it is ever rewritten."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sheetfollow import i18n, schema, vocab
from sheetfollow.config import Config
from sheetfollow.errors import SheetError
from sheetfollow.fields import LOG_FIELDS
from sheetfollow.models import Channel, Outcome
from sheetfollow.sheet import Backend, CellValue, RawValue, TabChanges, Table


@dataclass(frozen=True)
class LogEntry:
    """One touch (or another event, like an import) as recorded in the Log."""

    when: datetime
    id: str
    company: str
    by: str
    #: The outcome of a touch; None for an event that is not a touch (an import).
    outcome: Outcome | None
    channel: Channel | None = None
    note: str = ""
    next_follow_up: date | None = None
    #: For events that are not touches: the text written in the Outcome column.
    event: str = ""
    #: The sheet row this entry was read from (0 for entries not yet written).
    row: int = 0

    def values(self) -> dict[str, CellValue]:
        """The cells of this entry by Log field."""
        return {
            "when": self.when.replace(tzinfo=None, microsecond=0),
            "id": self.id,
            "company": self.company,
            "by": self.by,
            "outcome": self.outcome.value if self.outcome else self.event,
            "channel": self.channel.value if self.channel else None,
            "note": self.note or None,
            "next_follow_up": self.next_follow_up,
        }


def append_changes(backend: Backend, config: Config, entries: Sequence[LogEntry]) -> TabChanges:
    """The change that appends entries to the Log, creating the tab when it is missing.

    Columns are found by header, so a Log whose columns were moved or renamed to another
    language is appended to correctly; Log fields it lacks are added as new columns.
    """
    table = backend.read_tab(config.tabs.log)
    if table is None:
        names = vocab.LOG_HEADERS.get(config.language, vocab.LOG_HEADERS["en"])
        columns = {name: i + 1 for i, name in enumerate(LOG_FIELDS)}
        changes = TabChanges(
            tab=config.tabs.log,
            create=True,
            new_headers={columns[name]: names[name] for name in LOG_FIELDS},
        )
    else:
        header = _log_header(table, backend.label)
        columns = dict(header.columns)
        changes = TabChanges(tab=header.tab, header_row=header.header_row)
        names = vocab.LOG_HEADERS["en"]
        missing = [name for name in LOG_FIELDS if name not in columns]
        places = schema.NewColumns(table, header, source=backend.label)
        for name, column in zip(missing, places.place([names[n] for n in missing]), strict=True):
            columns[name] = column
            changes.new_headers[column] = names[name]
    width = max(columns.values())
    language = config.language
    for entry in entries:
        row: list[CellValue] = [None] * width
        for name, value in entry.values().items():
            row[columns[name] - 1] = value
        # The outcome and channel in the team's words; reading takes every language's.
        if entry.outcome is not None:
            row[columns["outcome"] - 1] = i18n.outcome_text(entry.outcome.value, language)
        if entry.channel is not None:
            row[columns["channel"] - 1] = i18n.channel_text(entry.channel.value, language)
        changes.append_rows.append(row)
    return changes


def _log_header(table: Table, label: str) -> schema.HeaderMap:
    return schema.map_headers(
        table, aliases=vocab.LOG_ALIASES, required=("when", "outcome"), source=label
    )


def read_log(backend: Backend, config: Config) -> list[LogEntry]:
    """Every entry of the Log, in sheet order. Rows that cannot be read are skipped: the
    Log is history, and one bad row in it must not hide the rest."""
    table = backend.read_tab(config.tabs.log)
    if table is None:
        return []
    try:
        header = _log_header(table, backend.label)
    except SheetError:
        if not any(any(_filled(v) for v in row) for row in table.rows):
            return []  # an empty Log tab
        raise
    entries = []
    for index in range(header.header_row, len(table.rows)):
        entry = _entry(table.rows[index], index + 1, header, table)
        if entry is not None:
            entries.append(entry)
    return entries


def _filled(value: RawValue) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _entry(
    values: Sequence[RawValue], row: int, header: schema.HeaderMap, table: Table
) -> LogEntry | None:
    def raw(name: str) -> RawValue:
        column = header.columns.get(name)
        return values[column - 1] if column is not None and column <= len(values) else None

    when_raw = raw("when")
    if isinstance(when_raw, datetime):
        when = when_raw
    else:
        try:
            day = schema.parse_date(when_raw, epoch=table.epoch)
        except ValueError:
            return None
        if day is None:
            return None
        when = datetime(day.year, day.month, day.day)
    text = schema.cell_text(raw("outcome"))
    outcome = vocab.OUTCOME_ALIASES.get(vocab.normalise(text))
    channel = vocab.CHANNEL_ALIASES.get(vocab.normalise(schema.cell_text(raw("channel"))))
    try:
        next_day = schema.parse_date(raw("next_follow_up"), epoch=table.epoch)
    except ValueError:
        next_day = None
    return LogEntry(
        when=when,
        id=schema.cell_text(raw("id")),
        company=schema.cell_text(raw("company")),
        by=schema.cell_text(raw("by")),
        outcome=outcome,
        channel=channel,
        note=schema.cell_text(raw("note")),
        next_follow_up=next_day,
        event="" if outcome else text,
        row=row,
    )
