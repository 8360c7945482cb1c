"""`mark`: record one touch on one prospect, in one atomic write of its row and the Log.

The prospect is found by scanning only the raw ID, Email, Company and Contact cells, and only
the matched row is parsed and computed, so marking a row of a 30,000-row sheet stays quick.

What a touch does to the row:

- Last contact becomes the day of the touch, Last outcome the outcome (in the team's language).
- Attempts: one more for no answer or voicemail (counted as the rules count them); back to 0
  when a contact got through (reached, interested, call back, quote sent), which also revives
  a dead row; unchanged for won, delivered, lost and not interested.
- Stage moves where the outcome puts it (interested, quote, won, delivered, lost, not
  interested; a first touch on a new lead makes it contacted) and never backwards otherwise.
- Follow up on becomes the --on/--in date; without one, a date on or before the touch is
  consumed (cleared) and a later one is kept.
- A cell that cannot be read is only replaced by a value that does not depend on it, so a
  person's typo is never turned into a guess; such a row still needs attention.
"""

from __future__ import annotations

import calendar as stdlib_calendar
import getpass
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from operator import itemgetter
from types import MappingProxyType
from typing import TypeVar
from zoneinfo import ZoneInfo

from sheetfollow import i18n, schema, service, snapshot, vocab
from sheetfollow.config import Config, team_date_order
from sheetfollow.errors import NoMatchError, SheetError, UsageError
from sheetfollow.fields import OWNED_FIELDS
from sheetfollow.i18n import R_
from sheetfollow.log import LogEntry, append_changes
from sheetfollow.models import Channel, Outcome, Owner, Prospect, Row, Stage, Status
from sheetfollow.rules import cadence_for, max_attempts_for
from sheetfollow.sheet import (
    Backend,
    CellValue,
    CellWrite,
    RawValue,
    TabChanges,
    Table,
)

#: At most this many candidates are listed when WHO is unclear.
MAX_CANDIDATES = 8
#: A fuzzy match needs at least this score (0-100) ...
FUZZY_SCORE = 85.0
#: ... and must beat every other prospect by this much, or it is a guess.
FUZZY_MARGIN = 10.0
#: Prospects scoring this much are offered as "did you mean" when nothing matches.
SUGGEST_SCORE = 60.0

# --- The touch, from the command line ---------------------------------------------------


@dataclass(frozen=True)
class MarkRequest:
    """What the command line says, as typed."""

    who: str
    outcome: str
    note: str = ""
    channel: str | None = None
    on: str | None = None
    #: --in: a delay like 3d, 2w or 3m counted from the day of the touch.
    within: str | None = None
    by: str | None = None
    #: --date: the day of the touch (default today).
    day: str | None = None


@dataclass(frozen=True)
class Touch:
    """A touch, understood and checked."""

    outcome: Outcome
    day: date
    follow_up_on: date | None = None
    channel: Channel | None = None
    note: str = ""
    by: str = ""


def read_touch(request: MarkRequest, today: date, order: str = "DMY") -> Touch:
    """Check the command line before the sheet is read (dates in the team's `order`).
    Raises UsageError."""
    outcome = parse_outcome(request.outcome)
    channel = parse_channel(request.channel) if request.channel else None
    day = schema.parse_day(request.day, "--date", order) if request.day else today
    if day > today:
        raise UsageError(
            f"--date {request.day} is in the future (today is {today.isoformat()}); "
            "record a touch once it has happened"
        )
    follow_up = _follow_up(request, day, order)
    if outcome is Outcome.CALL_BACK and follow_up is None:
        raise UsageError("call back needs a date: add --on 2026-12-31 or --in 2w")
    return Touch(outcome, day, follow_up, channel, request.note.strip(), (request.by or "").strip())


def parse_outcome(text: str) -> Outcome:
    """An outcome word in any of the five languages ("no-answer", "geen gehoor" ...)."""
    outcome = vocab.OUTCOME_ALIASES.get(vocab.normalise(text))
    if outcome is None:
        words = ", ".join(o.value.replace(" ", "-") for o in Outcome)
        raise UsageError(
            f"{text!r} is not an outcome; use one of {words} "
            "(or the same in Dutch, German, Danish or Spanish, e.g. 'geen gehoor')"
        )
    return outcome


def parse_channel(text: str) -> Channel:
    channel = vocab.CHANNEL_ALIASES.get(vocab.normalise(text))
    if channel is None:
        words = ", ".join(c.value for c in Channel)
        raise UsageError(f"--channel {text!r} is not a channel; use one of {words}")
    return channel


_DELAY = re.compile(r"(\d{1,4})\s*(d|days?|w|weeks?|m|months?)", re.IGNORECASE)


def add_delay(day: date, text: str) -> date:
    """day plus a delay like 3d, 2w or 3m (calendar days, weeks, months)."""
    match = _DELAY.fullmatch(text.strip())
    if match is None:
        raise UsageError(f"--in {text!r} is not a delay like 3d, 2w or 3m (days, weeks, months)")
    count, unit = int(match[1]), match[2][0].lower()
    try:
        if unit == "d":
            return day + timedelta(days=count)
        if unit == "w":
            return day + timedelta(weeks=count)
        return add_months(day, count)
    except (OverflowError, ValueError):
        raise UsageError(f"--in {text!r} reaches past the last date a sheet can hold") from None


def add_months(day: date, months: int) -> date:
    """The same day of the month `months` later; the month's last day when it is shorter."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    last = stdlib_calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))


def _follow_up(request: MarkRequest, day: date, order: str = "DMY") -> date | None:
    if request.on and request.within:
        raise UsageError("give --on or --in, not both")
    if request.on:
        chosen = schema.parse_day(request.on, "--on", order)
        option = f"--on {request.on}"
    elif request.within:
        chosen = add_delay(day, request.within)
        option = f"--in {request.within}"
    else:
        return None
    if chosen <= day:
        raise UsageError(
            f"{option} gives {chosen.isoformat()}, which is not after the touch on "
            f"{day.isoformat()}; the follow-up must come later"
        )
    return chosen


# --- Finding the prospect ----------------------------------------------------------------

_SEPARATORS = re.compile(r"[\s\-_./]+")
#: Legal forms that say nothing about which company is meant ("Acme B.V." is "Acme").
_LEGAL_FORMS = frozenset(
    {
        "bv", "nv", "vof", "bvba", "gmbh", "ag", "kg", "ug", "ltd", "limited", "plc", "llc",
        "inc", "corp", "co", "sa", "sl", "sas", "sarl", "srl", "spa", "as", "aps", "oy", "ab",
    }
)  # fmt: skip


def fold(text: str) -> str:
    """vocab.normalise, with a fast path for plain ASCII: names of every row are folded."""
    if text.isascii():
        return _SEPARATORS.sub(" ", text.lower()).strip()
    return vocab.normalise(text)


def _bare_name(folded: str) -> str:
    """A folded company name without legal forms or lone letters (what is left of "B.V."),
    for comparing misspelt names."""
    return " ".join(w for w in folded.split(" ") if len(w) > 1 and w not in _LEGAL_FORMS)


@dataclass(frozen=True)
class Match:
    """Rows WHO points at: one is a match; several, or none, is unclear."""

    rows: tuple[int, ...]
    #: When nothing matched: rows that come close, best first.
    close: tuple[int, ...] = ()


class _Columns:
    """The raw cells of the columns used to find a prospect, read once."""

    def __init__(self, table: Table, header: schema.HeaderMap) -> None:
        self.table = table
        self.header = header
        self.first = header.header_row + 1

    def cells(self, name: str) -> list[RawValue]:
        """The raw cells of column `name` below the header, one per row."""
        column = self.header.columns.get(name)
        if column is None:
            return []
        rows = self.table.rows[self.first - 1 :]
        try:
            # One C-level pass: every row of the tab is searched, and rows are usually as
            # wide as the tab.
            return list(map(itemgetter(column - 1), rows))
        except IndexError:
            index = column - 1
            return [values[index] if index < len(values) else None for values in rows]

    def texts(self, name: str) -> list[tuple[int, str]]:
        """(row, text) of every non-empty cell of column `name`."""
        text = schema.cell_text
        return [
            (number, found)
            for number, value in enumerate(self.cells(name), start=self.first)
            if value is not None and (found := value.strip() if type(value) is str else text(value))
        ]

    def rows_holding(self, name: str, wanted: str) -> list[int]:
        """The rows whose cell in column `name` reads `wanted` (casefolded), as texts()
        would find them (an ID is looked up among every row of the tab)."""
        return [self.first + index for index in schema.rows_reading(self.cells(name), wanted)]


def find(table: Table, header: schema.HeaderMap, who: str) -> Match:
    """The rows WHO names: an ID (exact, any case), an email address (any case), or a
    company or contact name (exact, then a unique prefix, then a substring, then a close
    spelling), compared without case or accents."""
    text = who.strip()
    if not text:
        raise UsageError("WHO is empty: give an ID, an email address or a name")
    columns = _Columns(table, header)
    wanted = text.casefold()
    by_id = columns.rows_holding("id", wanted) if wanted else []
    if by_id:
        return Match(tuple(by_id))
    if "@" in text:
        return Match(tuple(columns.rows_holding("email", wanted)))
    return _by_name(fold(text), columns.texts("company"), columns.texts("contact"))


def _by_name(key: str, companies: list[tuple[int, str]], contacts: list[tuple[int, str]]) -> Match:
    """Rows by company or contact (cells as read, not folded yet): the same name, a unique
    beginning, a part, then a close spelling."""
    # Every name the first three tests can match holds the key's longest word in its
    # lower-cased text, unless the name needs more folding than lower case (accents): only
    # those names are folded, not every name of the tab.
    probe = max(key.split(" "), key=len)
    near = [
        (row, fold(value))
        for row, value in companies + contacts
        if probe in value.lower() or not value.isascii()
    ]
    tests = (
        (1, lambda name: name == key),
        (2, lambda name: name.startswith(key)),
        (3, lambda name: key in name),
    )
    for shortest, test in tests:
        if len(key) >= shortest:
            rows = _unique(row for row, name in near if test(name))
            if rows:
                return Match(rows)
    if len(key) < 4:
        return Match(())
    folded = [(row, fold(value)) for row, value in companies]
    names = folded + [(row, fold(value)) for row, value in contacts]
    bare = [(row, _bare_name(name)) for row, name in folded]
    return _fuzzy(key, names + bare)


def _fuzzy(key: str, names: list[tuple[int, str]]) -> Match:
    """The one row whose name is spelt closest to key, far ahead of the others; else the
    rows that come close."""
    from rapidfuzz import fuzz, process  # only for a misspelt name

    hits = process.extract(
        key,
        [name for _, name in names],
        scorer=fuzz.WRatio,
        processor=None,
        score_cutoff=SUGGEST_SCORE,
        limit=200,
    )
    best: dict[int, float] = {}
    for _, score, index in hits:
        row = names[index][0]
        best[row] = max(best.get(row, 0.0), float(score))
    ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))
    if not ranked:
        return Match(())
    top = ranked[0][1]
    if top < FUZZY_SCORE:
        return Match((), tuple(row for row, _ in ranked[:MAX_CANDIDATES]))
    return Match(tuple(row for row, score in ranked if score > top - FUZZY_MARGIN))


def _unique(rows: Iterable[int]) -> tuple[int, ...]:
    return tuple(dict.fromkeys(rows))


# --- The row after the touch ------------------------------------------------------------

_ORDER = (
    Stage.NEW,
    Stage.CONTACTED,
    Stage.INTERESTED,
    Stage.QUOTE,
    Stage.WON,
    Stage.DELIVERED,
    Stage.CUSTOMER,
)
#: The stage each outcome puts a prospect in.
_STAGE_OF = {
    Outcome.REACHED: Stage.CONTACTED,
    Outcome.NO_ANSWER: Stage.CONTACTED,
    Outcome.VOICEMAIL: Stage.CONTACTED,
    Outcome.CALL_BACK: Stage.CONTACTED,
    Outcome.INTERESTED: Stage.INTERESTED,
    Outcome.QUOTE_SENT: Stage.QUOTE,
    Outcome.WON: Stage.WON,
    Outcome.DELIVERED: Stage.DELIVERED,
    Outcome.LOST: Stage.LOST,
    Outcome.NOT_INTERESTED: Stage.NOT_INTERESTED,
}
#: Outcomes that settle where a prospect stands: their stage is set whatever came before.
_SETTLING = frozenset({Outcome.WON, Outcome.DELIVERED, Outcome.LOST, Outcome.NOT_INTERESTED})
#: A contact got through: the count of unanswered attempts starts again.
_ANSWERED = frozenset({Outcome.REACHED, Outcome.INTERESTED, Outcome.CALL_BACK, Outcome.QUOTE_SENT})
_CLOSED = frozenset({Stage.LOST, Stage.NOT_INTERESTED})


def standing(prospect: Prospect) -> Stage | None:
    """Where the prospect stands now: a settling Last outcome counts as much as the Stage
    cell (as it does for the rules), whichever is further along."""
    outcome = prospect.last_outcome
    by_outcome = _STAGE_OF[outcome] if outcome in _SETTLING else None
    stage = prospect.stage
    if by_outcome is None:
        return stage
    if stage is None or by_outcome in _CLOSED or stage in _CLOSED:
        return by_outcome
    return max(by_outcome, stage, key=_ORDER.index)


def next_stage(current: Stage | None, outcome: Outcome) -> Stage | None:
    """The stage after the touch; None means the stage cell cannot be read and stays."""
    target = _STAGE_OF[outcome]
    if outcome in _SETTLING or current is None:
        return target
    if current in _CLOSED:
        # A lost prospect is back in play only when a contact got through.
        return target if outcome in _ANSWERED else current
    return target if _ORDER.index(target) > _ORDER.index(current) else current


def unanswered_so_far(prospect: Prospect) -> int:
    """Unanswered attempts as the rules count them: a logged touch is at least one, and an
    answered last outcome means none."""
    outcome = prospect.last_outcome
    if outcome is not None and not outcome.unanswered:
        return 0
    return max(prospect.attempts, 1 if prospect.last_contact else 0)


@dataclass
class _Cells:
    """The row's raw cells and what each input field now reads as."""

    values: Sequence[RawValue]
    header: schema.HeaderMap
    epoch: date

    def raw(self, name: str) -> RawValue:
        column = self.header.columns.get(name)
        return (
            self.values[column - 1] if column is not None and column <= len(self.values) else None
        )

    def readable(self, name: str) -> bool:
        """Whether the cell is empty or holds what its column should (a date, a number ...)."""
        raw = self.raw(name)
        try:
            if name == "attempts":
                schema.parse_count(raw)
            elif name == "follow_up_on":
                schema.parse_date(raw, epoch=self.epoch)
            elif name == "stage":
                schema.parse_choice(raw, vocab.STAGE_ALIASES, "stage")
        except ValueError:
            return False
        return True


def _touched_fields(
    prospect: Prospect, cells: _Cells, touch: Touch, language: str
) -> dict[str, CellValue]:
    """The input cells the touch changes, by field."""
    outcome = touch.outcome
    writes: dict[str, CellValue] = {
        "last_contact": touch.day,
        "last_outcome": _name(vocab.OUTCOME_NAMES, language, outcome),
    }
    attempts = _attempts_after(prospect, cells, outcome)
    if attempts is not None:
        writes["attempts"] = attempts
    stage = _stage_after(prospect, cells, outcome)
    if stage is not None:
        writes["stage"] = _name(vocab.STAGE_NAMES, language, stage)
    if touch.follow_up_on is not None:
        writes["follow_up_on"] = touch.follow_up_on
    elif (
        cells.readable("follow_up_on")
        and prospect.follow_up_on is not None
        and prospect.follow_up_on <= touch.day
    ):
        writes["follow_up_on"] = None  # that date was for this touch: it is used up
    if touch.channel is not None:
        writes["channel"] = _name(vocab.CHANNEL_NAMES, language, touch.channel)
    return writes


def _attempts_after(prospect: Prospect, cells: _Cells, outcome: Outcome) -> int | None:
    if outcome in _ANSWERED:
        return 0
    if outcome.unanswered and cells.readable("attempts"):
        return unanswered_so_far(prospect) + 1
    return None


def _stage_after(prospect: Prospect, cells: _Cells, outcome: Outcome) -> Stage | None:
    """The stage to write, or None to leave the cell as it is."""
    if "stage" not in cells.header.columns:
        return None
    if not cells.readable("stage"):
        # Only an outcome that decides the stage by itself replaces an unreadable one.
        definite = outcome in _SETTLING or outcome in (Outcome.INTERESTED, Outcome.QUOTE_SENT)
        return _STAGE_OF[outcome] if definite else None
    stage = next_stage(standing(prospect), outcome)
    return stage if stage is not prospect.stage else None


_E = TypeVar("_E")


def _name(names: Mapping[str, Mapping[_E, str]], language: str, member: _E) -> str:
    return (names.get(language) or names["en"])[member]


# --- mark ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarkResult:
    sheet: str
    touch: Touch
    #: The prospect as it now reads, with what the rules computed for it.
    row: Row
    entry: LogEntry
    #: The unanswered attempts now counted, when this touch was one; else None.
    attempt: int | None
    max_attempts: int
    id_filled: bool
    columns_added: tuple[str, ...]
    skipped: tuple[str, ...]
    #: Why the touch waits in the pending journal instead of the workbook ("" when written).
    pending: str = ""
    #: Cells of the Prospects tab this touch changes.
    cells: int = 0

    @property
    def needs_attention(self) -> bool:
        return self.row.computed.status is Status.NEEDS_ATTENTION

    def summary(self, language: str = "en") -> str:
        """One line: what was recorded, when the next follow-up is, and why (in the team's
        language: the person who called reads it)."""
        p, c = self.row.prospect, self.row.computed
        who = p.company or p.contact
        ident = f" ({p.id})" if p.id else ""
        outcome = i18n.outcome_text(self.touch.outcome.value, language)
        named = f"{who}{ident}"
        line = R_(
            "%(who)s: %(outcome)s recorded for %(day)s",
            who=named,
            outcome=outcome,
            day=self.touch.day,
        )
        if self.attempt is not None:
            line = R_(
                "%(line)s — attempt %(attempt)s of %(limit)s",
                line=line,
                attempt=self.attempt,
                limit=self.max_attempts,
            )
        why = i18n.localise(c.why, language)
        if self.needs_attention:
            said = R_("%(line)s; the row needs attention: %(why)s", line=line, why=why)
        elif c.next_follow_up is None:
            said = R_("%(line)s; no follow-up: %(why)s", line=line, why=why)
        else:
            said = R_(
                "%(line)s; next follow-up %(day)s: %(why)s",
                line=line,
                day=c.next_follow_up,
                why=why,
            )
        return said.text(language)

    def as_dict(self, today: date) -> dict[str, object]:
        entry = self.entry
        return {
            "sheet": self.sheet,
            "row": service.row_as_dict(self.row, today),
            "needs_attention": self.needs_attention,
            "log": {
                "when": entry.when.replace(microsecond=0).isoformat(),
                "id": entry.id,
                "company": entry.company,
                "by": entry.by,
                "outcome": entry.outcome.value if entry.outcome else None,
                "channel": entry.channel.value if entry.channel else None,
                "note": entry.note,
                "next_follow_up": _iso(entry.next_follow_up),
            },
            "id_filled": self.id_filled,
            "columns_added": list(self.columns_added),
            "skipped": list(self.skipped),
            "pending": self.pending or None,
        }


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def mark(
    backend: Backend,
    config: Config,
    today: date,
    request: MarkRequest,
    *,
    now: datetime | None = None,
    force: bool = False,
) -> MarkResult:
    """Record a touch: update the prospect's row, append it to the Log and recompute the
    row, all in one write. Raises NoMatchError (nothing written) when WHO is unclear.

    When the workbook cannot be written (open in Excel, locked, read-only), the touch is
    kept in the pending journal and the result says so (`pending`)."""
    from sheetfollow import journal, workspace

    touch = read_touch(request, today, team_date_order(config))
    ws = workspace.open_workspace(backend, config, today, now=now, typed=False)
    sheet = ws.sheet
    table = service.prospects_table(sheet, config)
    header = service.prospect_header(table, config, sheet.label)
    owners = _owners(sheet, config)
    number = _the_row(table, header, request.who, owners, config, today)
    if ws.record_typed(number):
        # A call typed into this row since the last run goes into the Log first.
        table = service.prospects_table(sheet, config)
    change_id = journal.new_id()
    result = record_touch(
        sheet,
        config,
        today,
        table=table,
        header=header,
        number=number,
        touch=touch,
        owners=owners,
        change_id=change_id,
        now=now,
    )
    saved = ws.save(force=force, kept=[workspace.kept_touch(change_id, result, touch, "mark")])
    return replace(result, skipped=saved.skipped, pending=saved.pending)


def record_touch(
    sheet: Backend,
    config: Config,
    today: date,
    *,
    table: Table,
    header: schema.HeaderMap,
    number: int,
    touch: Touch,
    owners: Mapping[str, Owner] | None,
    change_id: str,
    before: Prospect | None = None,
    keep: frozenset[str] = frozenset(),
    now: datetime | None = None,
) -> MarkResult:
    """The one path every touch takes (mark, a call typed into the sheet, a change from the
    pending journal): the row's touch columns, one Log row, the row recomputed, the touch
    snapshot and the change's ID, written together into `sheet` (usually a Staged view).

    `before` is the row as it was before the touch (default: as it is now; for a typed
    touch, the snapshot of the last run); fields in `keep` were set by a person and are left
    as they are. Raises UsageError when the touch is older than the row's last contact.
    """
    values = table.rows[number - 1]
    current = schema.parse_prospect(values, number, header, epoch=table.epoch, today=today)
    if current is None:
        raise SheetError(f"{sheet.label}: {schema.cell_ref(header.tab, number)} is empty")
    before = before or current
    _check_order(before, touch, header)
    writes = _touched_fields(before, _Cells(values, header, table.epoch), touch, config.language)
    for name in keep:
        writes.pop(name, None)
    if not current.id:
        taken = (text for _, text in _Columns(table, header).texts("id"))
        writes["id"] = service.IdMaker(config.id_prefix, taken).next()
    plan = _RowPlan(header, config.language, schema.NewColumns(table, header, source=sheet.label))
    row = plan.recompute(values, number, writes, table.epoch, owners, config, today)
    writes.update(service.owned_cell_values(row.computed, config.language))
    when = _when(config, touch.day, now)
    entry = _log_entry(row, touch, when)
    changes = plan.changes(number, writes, current.id)
    snap = snapshot.snap_of(row.prospect, recorded=today, seen=today, change=change_id)
    result = sheet.write(
        [
            changes,
            append_changes(sheet, config, [entry]),
            snapshot.append_changes(sheet, config, [snap]),
        ]
    )
    attempts = writes.get("attempts")
    if "attempts" in keep:
        attempts = row.prospect.attempts
    return MarkResult(
        sheet=sheet.label,
        touch=touch,
        row=row,
        entry=entry,
        attempt=attempts if touch.outcome.unanswered and isinstance(attempts, int) else None,
        max_attempts=max_attempts_for(cadence_for(row.prospect, config.rules), config.rules),
        id_filled=not current.id,
        columns_added=tuple(changes.new_headers.values()),
        skipped=result.skipped,
        cells=len(changes.cells) + len(changes.new_headers),
    )


def _log_entry(row: Row, touch: Touch, when: datetime) -> LogEntry:
    p, c = row.prospect, row.computed
    return LogEntry(
        when=when,
        id=p.id,
        company=p.company,
        by=touch.by or c.assigned_to or p.owner or _os_user(),
        outcome=touch.outcome,
        channel=touch.channel,
        note=touch.note,
        next_follow_up=c.next_follow_up,
    )


def _owners(backend: Backend, config: Config) -> Mapping[str, Owner] | None:
    table = backend.read_tab(config.tabs.owners)
    if table is None:
        return None
    owners, _ = schema.parse_owners(table, source=backend.label)
    return owners


def _check_order(prospect: Prospect, touch: Touch, header: schema.HeaderMap) -> None:
    last = prospect.last_contact
    if last is not None and touch.day < last:
        where = header.cell(prospect.row, "last_contact")
        raise UsageError(
            f"the touch on {touch.day.isoformat()} is before the last contact "
            f"({where} is {last.isoformat()}); a touch is recorded in the order it happened"
        )


def _when(config: Config, day: date, now: datetime | None) -> datetime:
    """The Log's When: the day of the touch at the team's current time of day."""
    zone = ZoneInfo(config.timezone) if config.timezone else None
    local = (now or datetime.now(zone)).astimezone(zone)
    return datetime.combine(day, local.timetz())


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        return ""


def _compute(
    prospect: Prospect,
    header: schema.HeaderMap,
    owners: Mapping[str, Owner] | None,
    config: Config,
    today: date,
) -> Row:
    """One row computed as refresh computes it: its owner's calendar and owner checks."""
    owner = service.owner_of(prospect, owners)
    prospect = service.with_owner_problems(prospect, owners, header)
    return service.compute_row(prospect, owner, config, today, owners)


class _RowPlan:
    """Where each field of the matched row goes, adding the columns mark needs."""

    def __init__(self, header: schema.HeaderMap, language: str, places: schema.NewColumns) -> None:
        self.header = header
        self.columns = dict(header.columns)
        self.new_headers: dict[int, str] = {}
        self.names = vocab.PROSPECT_HEADERS.get(language) or vocab.PROSPECT_HEADERS["en"]
        self.places = places

    def add(self, names: Iterable[str]) -> None:
        """Columns for the fields the tab lacks, placed together (so that a tab without
        room names every column it cannot take at once)."""
        missing = [name for name in dict.fromkeys(names) if name not in self.columns]
        if not missing:
            return  # the usual case; placing nothing would still look at every row
        for name, column in zip(
            missing, self.places.place([self.names[n] for n in missing]), strict=True
        ):
            self.columns[name] = column
            self.new_headers[column] = self.names[name]

    def column(self, name: str) -> int:
        self.add([name])
        return self.columns[name]

    def recompute(
        self,
        values: Sequence[RawValue],
        number: int,
        writes: Mapping[str, CellValue],
        epoch: date,
        owners: Mapping[str, Owner] | None,
        config: Config,
        today: date,
    ) -> Row:
        """Parse and compute the row as it will read once written."""
        filled = [name for name, value in writes.items() if value is not None]
        self.add([*filled, "id", *OWNED_FIELDS])
        header = replace(
            self.header,
            columns=MappingProxyType(dict(self.columns)),
            last_column=max(self.columns.values()),
        )
        after = list(values) + [None] * max(0, max(self.columns.values()) - len(values))
        for name, value in writes.items():
            if name in self.columns:
                after[self.columns[name] - 1] = value
        prospect = schema.parse_prospect(after, number, header, epoch=epoch, today=today)
        assert prospect is not None, "a row with a Last contact is never empty"
        return _compute(prospect, header, owners, config, today)

    def changes(self, number: int, writes: Mapping[str, CellValue], old_id: str) -> TabChanges:
        changes = TabChanges(
            tab=self.header.tab,
            header_row=self.header.header_row,
            new_headers=dict(self.new_headers),
            id_column=self.columns["id"],
            expected_ids={number: old_id} if old_id else {},
        )
        for name, value in writes.items():
            if name in self.columns:
                changes.cells.append(CellWrite(number, self.columns[name], value))
        return changes


# --- Candidates --------------------------------------------------------------------------


def _the_row(
    table: Table,
    header: schema.HeaderMap,
    who: str,
    owners: Mapping[str, Owner] | None,
    config: Config,
    today: date,
) -> int:
    match = find(table, header, who)
    if len(match.rows) == 1:
        return match.rows[0]
    listed = match.rows or match.close
    lines = candidate_lines(
        [_candidate(table, header, row, owners, config, today) for row in listed[:MAX_CANDIDATES]]
    )
    if match.rows:
        more = (
            f" (the first {MAX_CANDIDATES} are listed)" if len(match.rows) > MAX_CANDIDATES else ""
        )
        message = (
            f"{len(match.rows)} prospects match {who!r}{more}; give an ID or an email address "
            "to pick one. Nothing was changed"
        )
    else:
        hint = "; did you mean one of these?" if lines else ""
        message = (
            f"no prospect matches {who!r} by ID, email, company or contact. "
            f"Nothing was changed{hint}"
        )
    raise NoMatchError(message, lines)


@dataclass(frozen=True)
class Candidate:
    row: int
    id: str
    company: str
    contact: str
    owner: str
    status: str


def _candidate(
    table: Table,
    header: schema.HeaderMap,
    number: int,
    owners: Mapping[str, Owner] | None,
    config: Config,
    today: date,
) -> Candidate:
    values = table.rows[number - 1]
    prospect = schema.parse_prospect(values, number, header, epoch=table.epoch, today=today)
    if prospect is None:
        return Candidate(number, "", "", "", "", "")
    row = _compute(prospect, header, owners, config, today)
    return Candidate(
        number,
        prospect.id,
        prospect.company,
        prospect.contact,
        row.computed.assigned_to or prospect.owner,
        row.computed.status.value,
    )


def candidate_lines(candidates: Sequence[Candidate]) -> tuple[str, ...]:
    """One aligned line per candidate: ID, company, contact, owner, status (and the row
    when there is no ID to give)."""
    grid = [[c.id or f"row {c.row}", c.company, c.contact, c.owner, c.status] for c in candidates]
    widths = [max((len(cells[i]) for cells in grid), default=0) for i in range(5)]
    return tuple(
        "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
        for cells in grid
    )
