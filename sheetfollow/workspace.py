"""What every command works on: the sheet with the pending changes and the typed touches
applied, and saving it all in one write, or keeping it in the pending journal.

    ws = open_workspace(backend, config, today)   # reads see pending + typed touches applied
    ... a use case reads ws.sheet and writes into it (staged) ...
    saved = ws.save(force=force, kept=[...])      # one write; or the journal, never lost

Order matters and is always the same: first the journal's changes in the order they were
kept, then the touches typed into the sheet, then the command's own change.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sheetfollow import collector, journal, schema, service, snapshot, typed
from sheetfollow.config import Config
from sheetfollow.errors import BusyError, RemoteError, UsageError
from sheetfollow.journal import Journal, Pending
from sheetfollow.models import Channel, Outcome, Owner
from sheetfollow.sheet import Backend, Table
from sheetfollow.staged import Staged

if TYPE_CHECKING:
    # Imported where a touch is recorded: reading commands (due, stats, a refresh with nothing
    # typed) never load mark's code.
    from sheetfollow.mark import MarkResult, Touch


@dataclass(frozen=True)
class Kept:
    """A change of this command, kept in the journal if the workbook cannot be written."""

    id: str
    kind: str
    data: Mapping[str, Any]
    #: For messages: "touch P-0012", "import of leads.csv".
    what: str
    #: Makes what the change needs only once it goes to the journal (an import's copy of its
    #: file); returns data to add. Made before the write instead, it would be left behind by
    #: a command killed meanwhile, with no journal line that would ever clear it.
    prepare: Callable[[], Mapping[str, Any]] | None = None


@dataclass(frozen=True)
class Held:
    """A pending change that could not be applied; it stays in the journal."""

    change: Pending
    reason: str


@dataclass(frozen=True)
class Saved:
    written: bool
    skipped: tuple[str, ...] = ()
    #: Why the changes wait in the journal, and where; "" when they were written.
    pending: str = ""


@dataclass
class Workspace:
    sheet: Staged
    config: Config
    today: date
    now: datetime
    journal: Journal
    #: Journal changes applied in this view (written by save()).
    applied: list[Pending] = field(default_factory=list)
    #: Journal changes found already written (a command stopped before clearing them).
    done: list[Pending] = field(default_factory=list)
    held: list[Held] = field(default_factory=list)
    #: Touches typed into the sheet, recorded in this view; with their change IDs.
    typed_touches: list[typed.TypedTouch] = field(default_factory=list)
    _typed_kept: list[Kept] = field(default_factory=list)
    #: IDs whose snapshot must wait (an outcome not typed yet, unreadable cells).
    waiting: frozenset[str] = frozenset()
    #: What the search for typed touches compared (the snapshots taken after reuse it).
    compared: typed.Compared | None = None
    #: Cells of the Prospects tab changed by the touches applied here (journal and typed).
    touch_cells: int = 0
    _pipeline: tuple[int, service.Pipeline] | None = None
    _snapshots: tuple[tuple[int, int], snapshot.Snapshots] | None = None
    #: For a command that only reads: the rows of the Prospects tab are let go once they
    #: are understood (read again if a touch typed into them is recorded). At 200,000
    #: prospects that is 70 MB less held while the snapshots are compared.
    lean: bool = False

    def pipeline(self, progress: service.Progress | None = None) -> service.Pipeline:
        """The Prospects tab understood, as the sheet reads now (read again only when
        something was staged since)."""
        if self._pipeline is None or self._pipeline[0] != self.sheet.version:
            loaded = service.load(self.sheet, self.config, self.today, progress=progress)
            self._pipeline = (self.sheet.version, loaded)
        return self._pipeline[1]

    def snapshots(self) -> snapshot.Snapshots:
        """The latest snapshot of every ID (read again only when the tab changed since)."""
        stamp = self.sheet.tab_version(self.config.tabs.touches)
        if self._snapshots is None or self._snapshots[0] != stamp:
            with collector.paused():
                self._snapshots = (stamp, snapshot.read_snapshots(self.sheet, self.config))
        return self._snapshots[1]

    # -- typed touches

    def record_typed_all(self, progress: service.Progress | None = None) -> None:
        """Find the touches typed into the sheet since the last run and record them."""
        pipeline = self.pipeline(progress)
        if self.lean:
            pipeline = self._let_rows_go(pipeline)
        snaps = self.snapshots()
        if not snaps:
            return
        found = typed.find(pipeline.rows, snaps, pipeline.header)
        self.waiting = found.waiting
        self.compared = found.compared
        for item in found.touches:
            self._record(item)

    def _let_rows_go(self, pipeline: service.Pipeline) -> service.Pipeline:
        """`pipeline` without the rows of its table, when the sheet lets them go (nothing
        staged for the tab; read again cheaply when asked for)."""
        assert self._pipeline is not None
        if pipeline.rows_let_go or not self.sheet.release(pipeline.table.tab):
            return pipeline
        lean = dataclasses.replace(
            pipeline, table=dataclasses.replace(pipeline.table, rows=[]), rows_let_go=True
        )
        self._pipeline = (self._pipeline[0], lean)
        return lean

    def record_typed(self, number: int) -> bool:
        """Record a touch typed into row `number` since the last run (for mark, which reads
        one row); True when there was one."""
        table = service.prospects_table(self.sheet, self.config)
        header = service.prospect_header(table, self.config, self.sheet.label)
        prospect = schema.parse_prospect(
            table.rows[number - 1], number, header, epoch=table.epoch, today=self.today
        )
        if prospect is None or not prospect.id:
            return False
        # Only this row's snapshot: parsing every one would cost a one-row command as much
        # as a refresh.
        snap = snapshot.read_snapshot(self.sheet, self.config, prospect.id)
        if snap is None:
            return False
        snaps = {snapshot.key(prospect.id): snap}
        owners = _owners(self.sheet, self.config)
        row = service.compute_row(
            prospect, service.owner_of(prospect, owners), self.config, self.today
        )
        found = typed.find([row], snaps, header)
        for item in found.touches:
            self._record(item)
        return bool(found.touches)

    def _record(self, item: typed.TypedTouch) -> None:
        change_id = journal.new_id()
        result = self._touch(item.touch, item.id, item.row, item.before, item.keep, change_id)
        if isinstance(result, str):
            return  # the row moved under us: the next run sees the touch again
        self.typed_touches.append(item)
        self._typed_kept.append(
            kept_touch(change_id, result, item.touch, "typed", before=item.before, keep=item.keep)
        )

    def _touch(
        self,
        touch: Touch,
        ident: str,
        row: int,
        before: snapshot.Snap | None,
        keep: frozenset[str],
        change_id: str,
        *,
        company: str = "",
        now: datetime | None = None,
    ) -> MarkResult | str:
        """Record one touch through the path of mark; a reason when it cannot be."""
        sheet = self.sheet
        table = service.prospects_table(sheet, self.config)
        header = service.prospect_header(table, self.config, sheet.label)
        number = _locate(table, header, ident, row, company)
        if number is None:
            who = ident or f"{company or 'the prospect'} (row {row})"
            return f"{who} is no longer in the tab {header.tab!r}"
        base = None
        if before is not None:
            current = schema.parse_prospect(
                table.rows[number - 1], number, header, epoch=table.epoch, today=self.today
            )
            if current is None:
                return f"{schema.cell_ref(header.tab, number)} is empty now"
            base = typed.before_touch(current, before)
        from sheetfollow.mark import record_touch

        try:
            result = record_touch(
                sheet,
                self.config,
                self.today,
                table=table,
                header=header,
                number=number,
                touch=touch,
                owners=_owners(sheet, self.config),
                change_id=change_id,
                before=base,
                keep=keep,
                now=now or self.now,
            )
        except UsageError as error:
            return str(error)
        self.touch_cells += result.cells
        return result

    # -- the journal

    def apply_journal(self) -> None:
        entries = self.journal.entries()
        if not entries:
            return
        written = snapshot.applied_changes(self.sheet, self.config)
        blocked: set[str] = set()
        for entry in entries:
            if entry.id in written:
                self.done.append(entry)
                continue
            who = _prospect_key(entry)
            if who and who in blocked:
                self.held.append(
                    Held(entry, "waits behind an earlier held change of the same prospect")
                )
                continue
            reason = self._apply(entry)
            if reason:
                self.held.append(Held(entry, reason))
                if who:
                    blocked.add(who)
            else:
                self.applied.append(entry)

    def _apply(self, entry: Pending) -> str:
        """Stage one journal change; "" when it applied, else why it cannot."""
        try:
            if entry.kind == journal.TOUCH:
                return self._apply_touch(entry)
            if entry.kind == journal.SENT:
                return self._apply_sent(entry)
            if entry.kind == journal.IMPORT:
                return self._apply_import(entry)
        except (KeyError, ValueError, TypeError) as error:
            return f"the journal line cannot be read ({type(error).__name__}: {error})"
        return f"a change of kind {entry.kind!r} is not known to this version of sheetfollow"

    def _apply_touch(self, entry: Pending) -> str:
        from sheetfollow.mark import Touch

        data = entry.data
        touch = Touch(
            outcome=Outcome(data["outcome"]),
            day=date.fromisoformat(data["day"]),
            follow_up_on=_day(data.get("follow_up_on")),
            channel=Channel(data["channel"]) if data.get("channel") else None,
            note=str(data.get("note") or ""),
            by=str(data.get("by") or ""),
        )
        before = snapshot.from_record(data["before"]) if data.get("before") else None
        result = self._touch(
            touch,
            str(data.get("id") or ""),
            int(data.get("row") or 0),
            before,
            frozenset(data.get("keep") or ()),
            entry.id,
            company=str(data.get("company") or ""),
            now=_moment(entry.at, self.now),
        )
        return result if isinstance(result, str) else ""

    def _apply_sent(self, entry: Pending) -> str:
        # Here, not at the top: only a run that sent emails and died before the sheet heard of
        # it needs them, and they are the mail side's (notify/), which mark never loads.
        from sheetfollow import sends
        from sheetfollow.notify import state

        entries = [
            state.Entry(
                day=date.fromisoformat(item["day"]),
                kind=str(item["kind"]),
                key=str(item["key"]),
                to=str(item.get("to") or ""),
                status=str(item["status"]),
                at=_moment(item.get("at"), None),
                detail=str(item.get("detail") or ""),
            )
            for item in entry.data["emails"]
        ]
        self.sheet.write([sends.append_changes(self.sheet, self.config, entries)])
        return ""

    def _apply_import(self, entry: Pending) -> str:
        from sheetfollow import importer

        data = entry.data
        path = Path(data["file"])
        if not path.exists():
            return f"the copy of {data.get('name')} kept for it ({path}) is gone"
        importer.import_into(
            self.sheet,
            self.config,
            path,
            self.today,
            owner=data.get("owner"),
            segment=data.get("segment"),
            by=str(data.get("by") or ""),
            now=_moment(entry.at, self.now),
            name=str(data.get("name") or path.name),
            change_id=entry.id,
        )
        return ""

    # -- saving

    def save(self, *, force: bool = False, kept: Sequence[Kept] = ()) -> Saved:
        """Write everything staged in one write. When the sheet cannot be written, keep the
        typed touches found and `kept` in the journal and say so; raise the error only when
        there is nothing to keep (nothing was lost, the command can simply run again)."""
        # What was read is not needed to write (a flush makes every cache stale anyway):
        # let the rows and snapshots go before the new file is made, or both stay in memory.
        self._pipeline = None
        self._snapshots = None
        try:
            result = self.sheet.flush(force=force)
        except (BusyError, RemoteError) as error:
            keep = [*self._typed_kept, *kept]
            if not keep and not self.applied:
                raise
            path = self.journal.path
            for item in keep:
                data = {**item.data, **item.prepare()} if item.prepare else item.data
                path = self.journal.append(item.kind, data, change_id=item.id, at=self.now)
            return Saved(False, (), _pending_line(error, keep, len(self.applied), path))
        self.journal.remove(entry.id for entry in [*self.done, *self.applied])
        for entry in [*self.done, *self.applied]:
            if entry.kind == journal.IMPORT:
                with contextlib.suppress(OSError, KeyError):
                    Path(entry.data["file"]).unlink()
        return Saved(True, result.skipped)

    def notes(self) -> list[str]:
        """What a person should know about the journal, one line each."""
        lines = []
        if self.applied:
            lines.append(
                f"{_count(len(self.applied), 'pending change')} from {self.journal.path} included"
            )
        for held in self.held:
            lines.append(
                f"pending {describe(held.change)} is held: {held.reason} "
                f"('sheetfollow pending' lists it; --drop {held.change.id[:8]} discards it)"
            )
        return lines


def open_workspace(
    backend: Backend,
    config: Config,
    today: date,
    *,
    now: datetime | None = None,
    typed: bool = True,
    progress: service.Progress | None = None,
    lean: bool = False,
) -> Workspace:
    """The sheet as every command sees it: pending changes applied, then (with `typed`) the
    touches typed into the sheet since the last run. `lean`: for a command that only reads
    (Workspace.lean)."""
    zone = ZoneInfo(config.timezone) if config.timezone else None
    moment = (now or datetime.now(zone)).astimezone(zone)
    sheet = backend if isinstance(backend, Staged) else Staged(backend)
    ws = Workspace(
        sheet=sheet,
        config=config,
        today=today,
        now=moment,
        journal=Journal.for_sheet(backend.label, config.path),
        lean=lean,
    )
    ws.apply_journal()
    if typed:
        ws.record_typed_all(progress)
    return ws


@dataclass(frozen=True)
class Listing:
    """The pending journal of a sheet, for `sheetfollow pending`."""

    sheet: str
    journal: Path
    #: (change, "" when it can be applied, else why it is held)
    changes: list[tuple[Pending, str]]
    dropped: list[Pending]

    def as_dict(self) -> dict[str, object]:
        return {
            "sheet": self.sheet,
            "journal": str(self.journal),
            "pending": [
                {**change.as_dict(), "what": describe(change), "held": reason or None}
                for change, reason in self.changes
            ],
            "dropped": [change.id for change in self.dropped],
        }

    def lines(self) -> list[str]:
        out = [f"dropped {describe(change)} ({change.id[:8]})" for change in self.dropped]
        if not self.changes:
            out.append(f"{self.sheet}: nothing is waiting to be written")
            return out
        out.append(f"{self.sheet}: {_count(len(self.changes), 'change')} waiting in {self.journal}")
        for change, reason in self.changes:
            by = f" by {change.user}" if change.user else ""
            line = f"  {change.id[:8]}  {change.at}{by}: {describe(change)}"
            out.append(line + (f"; held: {reason}" if reason else ""))
        return out


def pending(backend: Backend, config: Config, today: date, *, drop: Sequence[str] = ()) -> Listing:
    """The changes waiting in the journal (and why any is held); `drop` discards some, by
    their ID or its first characters."""
    journal_ = Journal.for_sheet(backend.label, config.path)
    dropped: list[Pending] = []
    if drop:
        entries = journal_.entries()
        for prefix in drop:
            wanted = prefix.strip().lower()
            found = [e for e in entries if len(wanted) >= 6 and e.id.startswith(wanted)]
            if len(found) != 1:
                raise UsageError(
                    f"--drop {prefix}: {'no' if not found else 'more than one'} pending change "
                    "has that ID; 'sheetfollow pending' lists them (give at least 6 characters)"
                )
            dropped.append(found[0])
        journal_.remove(change.id for change in dropped)
    ws = open_workspace(backend, config, today, typed=False)
    held = {h.change.id: h.reason for h in ws.held}
    changes = [(c, held.get(c.id, "")) for c in [*ws.applied, *(h.change for h in ws.held)]]
    changes.sort(key=lambda item: item[0].at)
    return Listing(backend.label, journal_.path, changes, dropped)


def kept_touch(
    change_id: str,
    result: MarkResult,
    touch: Touch,
    source: str,
    *,
    before: snapshot.Snap | None = None,
    keep: frozenset[str] = frozenset(),
) -> Kept:
    prospect = result.row.prospect
    ident = "" if result.id_filled else prospect.id
    data: dict[str, Any] = {
        "source": source,
        "id": ident,
        "row": prospect.row,
        "company": prospect.company or prospect.contact,
        "outcome": touch.outcome.value,
        "day": touch.day.isoformat(),
        "follow_up_on": touch.follow_up_on.isoformat() if touch.follow_up_on else None,
        "channel": touch.channel.value if touch.channel else None,
        "note": touch.note,
        "by": touch.by,
    }
    if before is not None:
        data["before"] = snapshot.to_record(before)
        data["keep"] = sorted(keep)
    name = prospect.id or prospect.company
    return Kept(change_id, journal.TOUCH, data, f"touch {name}")


def _pending_line(error: Exception, keep: Sequence[Kept], earlier: int, path: Path) -> str:
    parts = [str(error).rstrip(".")]
    if keep:
        what = keep[0].what if len(keep) == 1 else _count(len(keep), "change")
        parts.append(f"{what} kept in {path}")
    if earlier:
        parts.append(f"{_count(earlier, 'earlier pending change')} still waiting")
    parts.append("the next command that can write applies them")
    return "; ".join(parts)


def _locate(
    table: Table, header: schema.HeaderMap, ident: str, row: int, company: str
) -> int | None:
    """The row of a prospect by its ID; without one, `row` if it still holds `company`."""
    from sheetfollow.mark import fold

    id_column = header.columns.get("id")
    first = header.header_row + 1
    if ident and id_column is not None:
        wanted = ident.strip().casefold()
        for index in range(first - 1, len(table.rows)):
            values = table.rows[index]
            if (
                id_column <= len(values)
                and schema.cell_text(values[id_column - 1]).casefold() == wanted
            ):
                return index + 1
        return None
    column = header.columns.get("company") or header.columns.get("contact")
    if column is None or not (first <= row <= len(table.rows)):
        return None
    values = table.rows[row - 1]
    held = schema.cell_text(values[column - 1]) if column <= len(values) else ""
    return row if held and fold(held) == fold(company) else None


def _owners(sheet: Backend, config: Config) -> Mapping[str, Owner] | None:
    table = sheet.read_tab(config.tabs.owners)
    if table is None:
        return None
    owners, _ = schema.parse_owners(table, source=sheet.label)
    return owners


def _prospect_key(entry: Pending) -> str:
    if entry.kind != journal.TOUCH:
        return ""
    data = entry.data
    return str(data.get("id") or f"row {data.get('row')}").casefold()


def describe(entry: Pending) -> str:
    """One line for a person: what the pending change is."""
    data = entry.data
    if entry.kind == journal.TOUCH:
        who = data.get("id") or data.get("company") or "?"
        return f"touch {who} ({data.get('outcome')} on {data.get('day')})"
    if entry.kind == journal.IMPORT:
        return f"import of {data.get('name')}"
    if entry.kind == journal.SENT:
        return f"record of {_count(len(data.get('emails') or ()), 'email')} sent"
    return entry.kind


def _day(value: object) -> date | None:
    return date.fromisoformat(str(value)) if value else None


def _moment(text: object, default: datetime | None) -> datetime | None:
    if not text:
        return default
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        return default


def _count(n: int, word: str) -> str:
    return f"1 {word}" if n == 1 else f"{n} {word}s"
