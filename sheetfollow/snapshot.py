"""What the touch columns of each prospect held when sheetfollow last looked: a hidden tab.

A person who types a call into the sheet (a new Last contact, a Last outcome) changes these
columns between two runs; comparing them with this snapshot is how the run tells a typed
touch from a row nobody touched. The tab has one row per change, appended (the last row of
an ID wins), so both backends write it the same way and nothing in it is ever rewritten.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from operator import itemgetter
from typing import Any

from sheetfollow import hidden_tab, schema, vocab
from sheetfollow.config import Config
from sheetfollow.errors import SheetError
from sheetfollow.models import Outcome, Prospect, Stage
from sheetfollow.sheet import Backend, CellValue, RawValue, TabChanges, Table

#: The tab's columns, in order.
COLUMNS: tuple[str, ...] = (
    "ID",
    "Last contact",
    "Last outcome",
    "Attempts",
    "Stage",
    "Follow up on",
    "Recorded",
    "Seen",
    "Change",
)
#: The touch columns of the Prospects tab that the snapshot keeps, by field.
TOUCH_FIELDS: tuple[str, ...] = (
    "last_contact",
    "last_outcome",
    "attempts",
    "stage",
    "follow_up_on",
)


@dataclass(frozen=True, slots=True)
class Snap:
    """One prospect's touch columns as a run saw them."""

    id: str
    last_contact: date | None
    last_outcome: Outcome | None
    attempts: int
    stage: Stage | None
    follow_up_on: date | None
    #: The day sheetfollow recorded this touch in the Log (mark, a typed touch, a reply);
    #: None when the touch was already in the sheet when it was first seen.
    recorded: date | None
    #: The day this snapshot was taken.
    seen: date
    #: The ID of the change (a touch, an import) that wrote this row, if one did: the
    #: proof that a change kept in the pending journal is in the workbook.
    change: str = ""

    def same_touch(self, prospect: Prospect) -> bool:
        """Whether the row's touch columns still hold what this snapshot saw."""
        return (
            prospect.last_contact == self.last_contact
            and prospect.last_outcome == self.last_outcome
            and prospect.attempts == self.attempts
            and prospect.stage == self.stage
            and prospect.follow_up_on == self.follow_up_on
        )

    def cells(self) -> dict[str, CellValue]:
        return {
            "ID": self.id,
            "Last contact": self.last_contact,
            "Last outcome": self.last_outcome.value if self.last_outcome else None,
            "Attempts": self.attempts,
            "Stage": self.stage.value if self.stage else None,
            "Follow up on": self.follow_up_on,
            "Recorded": self.recorded,
            "Seen": self.seen,
            "Change": self.change or None,
        }


def to_record(snap: Snap) -> dict[str, object]:
    """The snapshot as JSON-ready values, for the pending journal."""
    return {
        "id": snap.id,
        "last_contact": _iso(snap.last_contact),
        "last_outcome": snap.last_outcome.value if snap.last_outcome else None,
        "attempts": snap.attempts,
        "stage": snap.stage.value if snap.stage else None,
        "follow_up_on": _iso(snap.follow_up_on),
        "recorded": _iso(snap.recorded),
        "seen": snap.seen.isoformat(),
    }


def from_record(record: Mapping[str, object]) -> Snap:
    """A snapshot back from `to_record`. Raises ValueError (or KeyError) on a damaged one."""

    def day(name: str) -> date | None:
        value = record.get(name)
        return date.fromisoformat(str(value)) if value else None

    outcome, stage = record.get("last_outcome"), record.get("stage")
    seen = day("seen")
    if seen is None:
        raise ValueError("a snapshot without its day")
    return Snap(
        id=str(record["id"]),
        last_contact=day("last_contact"),
        last_outcome=Outcome(outcome) if outcome else None,
        attempts=int(str(record.get("attempts") or 0)),
        stage=Stage(stage) if stage else None,
        follow_up_on=day("follow_up_on"),
        recorded=day("recorded"),
        seen=seen,
    )


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def snap_of(prospect: Prospect, *, recorded: date | None, seen: date, change: str = "") -> Snap:
    return Snap(
        change=change,
        id=prospect.id,
        last_contact=prospect.last_contact,
        last_outcome=prospect.last_outcome,
        attempts=prospect.attempts,
        stage=prospect.stage,
        follow_up_on=prospect.follow_up_on,
        recorded=recorded,
        seen=seen,
    )


def read_snapshots(backend: Backend, config: Config) -> Snapshots:
    """The latest snapshot of every ID (IDs compared as people write them); empty when the
    tab does not exist yet (the first run)."""
    table = backend.read_tab(config.tabs.touches)
    if table is None or not table.rows:
        return Snapshots([], {}, None)
    reader = _Reader(_columns(table, backend.label), table.epoch)
    rows = table.rows
    column = reader.positions[0]
    last: dict[str, int] = {}
    for index in range(1, len(rows)):
        values = rows[index]
        ident = values[column] if column < len(values) else None
        if type(ident) is str:
            name = ident.strip().casefold()
        elif ident is None:
            continue
        else:
            name = key(schema.cell_text(ident))
        if name:
            last[name] = index
    return Snapshots(rows, last, reader)


#: The tab's columns that Snapshots.same_touch reads, in the order it reads them.
_COMPARED = ("Seen", "Attempts", "Last contact", "Last outcome", "Stage", "Follow up on")


class Snapshots(Mapping[str, Snap]):
    """The latest snapshot of every ID, by key(): each row is parsed when it is asked for.

    Every run compares every row of the Prospects tab with its snapshot, and nearly all are
    unchanged: `same_touch` says so from the cells without making a Snap. The last readable
    row of an ID wins (a row without its Seen day is skipped, as if it were not there)."""

    def __init__(
        self, rows: Sequence[Sequence[RawValue]], last: dict[str, int], reader: _Reader | None
    ) -> None:
        self._rows = rows
        #: key -> index in _rows of the ID's last row.
        self._last = last
        self._reader = reader
        self._parsed: dict[str, Snap | None] = {}
        # Seen, Attempts, Last contact, Last outcome, Stage, Follow up on: one C-level call.
        self._cells: Callable[[Sequence[RawValue]], tuple[Any, ...]] | None = None
        self._widest = 0
        if reader is not None:
            wanted = [reader.positions[COLUMNS.index(name)] for name in _COMPARED]
            self._widest = max(wanted)
            self._cells = itemgetter(*wanted)

    def get(self, ident: str, default: Any = None) -> Any:
        parsed = self._parsed
        if ident in parsed:
            found = parsed[ident]
        else:
            found = parsed[ident] = self._parse(ident)
        return default if found is None else found

    def _parse(self, ident: str) -> Snap | None:
        index = self._last.get(ident)
        if index is None or self._reader is None:
            return None
        read, rows = self._reader, self._rows
        snap = read.snap(rows[index])
        if snap is not None:
            return snap
        # Its last row cannot be read: an earlier row of the same ID stands (rare).
        column = read.positions[0]
        for earlier in range(index - 1, 0, -1):
            values = rows[earlier]
            if column < len(values) and key(schema.cell_text(values[column])) == ident:
                snap = read.snap(values)
                if snap is not None:
                    return snap
        return None

    def __getitem__(self, ident: str) -> Snap:
        found: Snap | None = self.get(ident)
        if found is None:
            raise KeyError(ident)
        return found

    def __iter__(self) -> Iterator[str]:
        return (ident for ident in self._last if self.get(ident) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __bool__(self) -> bool:
        return any(True for _ in self)

    def unchanged(self, rows: Sequence[tuple[str, Prospect]]) -> list[bool]:
        """For each (key, prospect): whether the ID has a snapshot and the row's touch
        columns still hold what it saw (Snap.same_touch).

        Decided from the cells as sheetfollow writes them, without making the Snap: a Seen
        date, Attempts a float, dates as date cells, outcome and stage as their words
        (Outcome and Stage members are str, equal to their words, and each word reads as
        its member: tests/test_typed.py checks it; a datetime is never equal to a date, nor
        a serial number to either). Anything else is left to the Snap."""
        last, table, parsed, cells_of = self._last, self._rows, self._parsed, self._cells
        widest = self._widest
        found = []
        for ident, prospect in rows:
            index = last.get(ident)
            if index is None:
                found.append(False)
                continue
            if cells_of is not None and ident not in parsed:
                values = table[index]
                if len(values) > widest:
                    cells = cells_of(values)
                    if (
                        type(cells[0]) is date
                        and type(cells[1]) is float
                        and cells[1] == prospect.attempts
                        and cells[2:]
                        == (
                            prospect.last_contact,
                            prospect.last_outcome,
                            prospect.stage,
                            prospect.follow_up_on,
                        )
                    ):
                        found.append(True)
                        continue
            snap: Snap | None = self.get(ident)
            found.append(snap is not None and snap.same_touch(prospect))
        return found


def read_snapshot(backend: Backend, config: Config, prospect_id: str) -> Snap | None:
    """The latest snapshot of one ID, parsing only that ID's rows (for one-row commands)."""
    table = backend.read_tab(config.tabs.touches)
    if table is None or not table.rows:
        return None
    columns = _columns(table, backend.label)
    index = columns["ID"] - 1
    read = _Reader(columns, table.epoch)
    rows = table.rows[1:]
    try:
        cells = list(map(itemgetter(index), rows))
    except IndexError:  # a row that ends before the ID column
        cells = [values[index] if index < len(values) else None for values in rows]
    # The ID's rows, last first: the last readable one is its snapshot.
    for position in reversed(schema.rows_reading(cells, key(prospect_id))):
        snap = read.snap(rows[position])
        if snap is not None:
            return snap
    return None


def applied_changes(backend: Backend, config: Config) -> frozenset[str]:
    """IDs of the changes whose rows are in the workbook (see Snap.change)."""
    return frozenset(snap.change for snap in _all(backend, config) if snap.change)


def _all(backend: Backend, config: Config) -> list[Snap]:
    table = backend.read_tab(config.tabs.touches)
    if table is None or not table.rows:
        return []
    columns = _columns(table, backend.label)
    read = _Reader(columns, table.epoch)
    found = [read.snap(values) for values in table.rows[1:]]
    return [snap for snap in found if snap is not None]


def key(prospect_id: str) -> str:
    return prospect_id.strip().casefold()


def _columns(table: Table, label: str) -> dict[str, int]:
    header = [vocab.normalise(schema.cell_text(v)) for v in table.rows[0]]
    columns = {
        name: header.index(vocab.normalise(name)) + 1
        for name in COLUMNS
        if vocab.normalise(name) in header
    }
    if "ID" not in columns:
        raise SheetError(
            f"{label}: the hidden tab {table.tab!r} lacks its ID column in the first row, so "
            "typed touches cannot be told from old ones; restore it, or delete the tab to "
            "take a fresh snapshot"
        )
    return columns


#: Where an absent column points: past the end of every row.
_ABSENT = 1 << 30


class _Reader:
    """Reads the tab's rows into Snaps, with the column positions worked out once (the tab
    has a row per prospect and more: every run reads them all)."""

    __slots__ = ("epoch", "positions", "widest")

    def __init__(self, columns: Mapping[str, int], epoch: date) -> None:
        self.epoch = epoch
        self.positions = tuple(
            columns[name] - 1 if name in columns else _ABSENT for name in COLUMNS
        )
        self.widest = max(self.positions)

    def snap(self, values: Sequence[RawValue]) -> Snap | None:
        width = len(values)
        positions = self.positions
        if self.widest < width:
            ident_, contact, outcome, attempts_, stage, follow, recorded, seen_, change = (
                values[i] for i in positions
            )
        else:
            ident_, contact, outcome, attempts_, stage, follow, recorded, seen_, change = (
                values[i] if i < width else None for i in positions
            )
        ident = ident_.strip() if type(ident_) is str else schema.cell_text(ident_)
        if not ident:
            return None
        seen = self._day(seen_)
        if seen is None:
            return None
        if type(attempts_) is float and attempts_.is_integer() and attempts_ >= 0:
            attempts = int(attempts_)
        else:
            try:
                attempts = schema.parse_count(attempts_)
            except ValueError:
                attempts = 0
        return Snap(
            id=ident,
            last_contact=self._day(contact),
            last_outcome=None if outcome is None else _outcome(outcome),
            attempts=attempts or 0,
            stage=None if stage is None else _stage(stage),
            follow_up_on=self._day(follow),
            recorded=self._day(recorded),
            seen=seen,
            change="" if change is None else schema.cell_text(change),
        )

    def _day(self, value: RawValue) -> date | None:
        if value is None:
            return None
        if type(value) is date:
            return value
        if type(value) is datetime:
            return value.date()
        try:
            return schema.parse_date(value, epoch=self.epoch)
        except ValueError:
            return None


#: What each distinct text of the Last outcome and Stage columns reads as: every row of
#: the tab repeats a few of them.
_OUTCOMES: dict[str, Outcome | None] = {}
_STAGES: dict[str, Stage | None] = {}


def _word(value: RawValue, seen: dict[str, Any], aliases: Mapping[str, Any]) -> Any:
    """The member a cell's word names (None when none), remembered per distinct text."""
    if type(value) is str and value in seen:
        return seen[value]
    found = aliases.get(vocab.normalise(schema.cell_text(value)))
    if type(value) is str and len(seen) < 4096:
        seen[value] = found
    return found


def _outcome(value: RawValue) -> Outcome | None:
    found: Outcome | None = _word(value, _OUTCOMES, vocab.OUTCOME_ALIASES)
    return found


def _stage(value: RawValue) -> Stage | None:
    found: Stage | None = _word(value, _STAGES, vocab.STAGE_ALIASES)
    return found


def append_changes(backend: Backend, config: Config, snaps: Iterable[Snap]) -> TabChanges:
    """The change that appends `snaps`, creating the hidden tab when it is missing."""
    table = backend.read_tab(config.tabs.touches)
    return hidden_tab.append_rows(
        table,
        config.tabs.touches,
        COLUMNS,
        lambda found: _columns(found, backend.label),
        (snap.cells() for snap in snaps),
    )
