"""What the team did and what came of it: the funnel per calling round, and per owner (or
segment) the touches, the call list, the dead and the won. Pure: Log entries and computed
rows in, numbers out.

The definitions (the README's `stats` section says the same in plain words):

- The period runs from `since` (default: 30 days before today) through today. Log entries
  dated after today are left out: the numbers are as of today.
- A touch is a Log entry with an outcome; other entries (an import) are events, never touches.
- Log entries are joined to the Prospects rows by ID, else by company (case- and
  accent-insensitive). Entries that match no row still count: those with the same ID (or,
  without an ID, the same company) are one prospect, whose owner and segment are "(unknown)".
  Entries with neither an ID nor a company count as touches of "(unknown)", not in the funnel.
- The funnel. A prospect's touches are taken in time order. Round k holds the prospects
  whose first k-1 touches all went unanswered (no answer, voicemail) and who had a k-th
  touch: they were *called* in round k. *Reached*: the k-th touch got through (any other
  outcome). *Interested*: reached in round k, and that touch or a later one was interested,
  quote sent, won or delivered. *Won*: of those, that touch or a later one was won or
  delivered. Rounds past `rules.max_attempts` share one line ("6+" by default). Only the
  cohort of prospects whose first touch falls in the period counts, with every touch they had
  up to today.
- Per group: a prospect belongs to the Owner in its row (not to whoever made the call, the
  Log's By) or to its Segment. *Touches*: touches in the period. *Due today* and *overdue*:
  the call list as `sheetfollow due` shows it now. *Died*: dead now, and it died in the
  period: on its last unanswered attempt, or, for one nobody reached for `window_days`, on
  the day that window ran out. *Won*: prospects with a won touch in the period.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

from sheetfollow import vocab
from sheetfollow.config import Rules
from sheetfollow.errors import UsageError
from sheetfollow.models import Outcome, Owner, Row, Status
from sheetfollow.rules import cadence_for, fmt_day, max_attempts_for

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.table import Table
    from rich.text import Text

    from sheetfollow.log import LogEntry

#: What the per-group table can be grouped by.
GROUP_BY: tuple[str, ...] = ("owner", "segment")

#: The period when no start is given: this many days before today, through today.
DEFAULT_DAYS = 30

#: The group of Log entries that match no Prospects row.
UNKNOWN = "(unknown)"
#: The group of rows whose Owner (or Segment) cell is blank.
BLANK = "(none)"

_INTERESTED = frozenset({Outcome.INTERESTED, Outcome.QUOTE_SENT, Outcome.WON, Outcome.DELIVERED})
# A delivery in the Log means the deal was won, even when nobody logged the win itself.
_WON = frozenset({Outcome.WON, Outcome.DELIVERED})

#: The widest the funnel's bars get, in characters.
BAR_WIDTH = 30
BAR_REACHED = "█"
BAR_UNANSWERED = "░"


@dataclass(frozen=True)
class FunnelRound:
    """One line of the funnel."""

    #: The calling round; for the last line of a grouped funnel, the first round it covers.
    round: int
    #: "3", or "6+" for the line that groups every round past max_attempts.
    label: str
    called: int
    reached: int
    interested: int
    won: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class GroupStats:
    """One owner's (or segment's) line."""

    name: str
    touches: int = 0
    due: int = 0
    overdue: int = 0
    died: int = 0
    won: int = 0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Stats:
    today: date
    #: First day of the period (the period ends today).
    since: date
    #: "owner" or "segment".
    by: str
    #: Prospects in the funnel: those first touched in the period.
    cohort: int
    funnel: tuple[FunnelRound, ...]
    groups: tuple[GroupStats, ...]

    @property
    def totals(self) -> GroupStats:
        return GroupStats(
            "total",
            touches=sum(g.touches for g in self.groups),
            due=sum(g.due for g in self.groups),
            overdue=sum(g.overdue for g in self.groups),
            died=sum(g.died for g in self.groups),
            won=sum(g.won for g in self.groups),
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "today": self.today.isoformat(),
            "since": self.since.isoformat(),
            "by": self.by,
            "funnel": {
                "prospects": self.cohort,
                "rounds": [line.as_dict() for line in self.funnel],
            },
            "groups": [group.as_dict() for group in self.groups],
            "totals": {k: v for k, v in self.totals.as_dict().items() if k != "name"},
        }


def default_since(today: date) -> date:
    return today - timedelta(days=DEFAULT_DAYS)


def build(
    entries: Sequence[LogEntry],
    rows: Sequence[Row],
    *,
    today: date,
    since: date | None = None,
    by: str = "owner",
    rules: Rules | None = None,
    owners: Mapping[str, Owner] | None = None,
) -> Stats:
    """The stats of the period from `since` through `today` (see the module's docstring).

    `owners` (the Owners tab) adds a line for every owner, even one who did nothing.
    """
    rules = rules or Rules()
    start = _start(today, since)
    if by not in GROUP_BY:
        raise UsageError(f"stats can be grouped by {' or '.join(GROUP_BY)}, not {by!r}")
    histories = _histories(entries, rows, today)
    cohort = [h for h in histories.values() if h.key and h.first_day() >= start]
    groups = _Groups(by, owners)
    _count_log(groups, histories.values(), start, today)
    _count_rows(groups, rows, start, today, rules)
    return Stats(
        today=today,
        since=start,
        by=by,
        cohort=len(cohort),
        funnel=funnel([h.outcomes() for h in cohort], rules.max_attempts),
        groups=groups.lines(),
    )


def build_funnel(
    entries: Sequence[LogEntry],
    rows: Sequence[Row],
    *,
    today: date,
    since: date | None = None,
    rules: Rules | None = None,
) -> Stats:
    """build's numbers without the per-group lines (`groups` is empty), for a reader that
    shows the funnel alone (the digest): counting every row for the lines costs more than
    the funnel."""
    rules = rules or Rules()
    start = _start(today, since)
    histories = _histories(entries, rows, today)
    cohort = [h for h in histories.values() if h.key and h.first_day() >= start]
    return Stats(
        today=today,
        since=start,
        by="owner",
        cohort=len(cohort),
        funnel=funnel([h.outcomes() for h in cohort], rules.max_attempts),
        groups=(),
    )


def _start(today: date, since: date | None) -> date:
    start = default_since(today) if since is None else since
    if start > today:
        raise UsageError(
            f"the period cannot start on {start.isoformat()}, after today ({today.isoformat()})"
        )
    return start


# --- Joining the Log to the rows ----------------------------------------------------------


@dataclass
class _History:
    """One prospect's touches up to today, in time order."""

    #: "" for the touches that name no prospect at all.
    key: str
    row: Row | None
    touches: list[LogEntry] = field(default_factory=list)

    def first_day(self) -> date:
        return self.touches[0].when.date()

    def outcomes(self) -> list[Outcome]:
        return [t.outcome for t in self.touches if t.outcome is not None]


def _histories(
    entries: Sequence[LogEntry], rows: Sequence[Row], today: date
) -> dict[str, _History]:
    index = RowIndex(rows)
    touches = [e for e in entries if e.outcome is not None and e.when.date() <= today]
    # A stable sort keeps sheet order for touches logged at the same moment.
    touches.sort(key=lambda e: e.when.replace(tzinfo=None))
    histories: dict[str, _History] = {}
    for entry in touches:
        key, match = _subject(entry, index)
        histories.setdefault(key, _History(key, match)).touches.append(entry)
    return histories


class RowIndex:
    """The rows by ID, and by company once an entry is first looked up by company: how
    stats (and the digest) join a Log entry to its prospect."""

    def __init__(self, rows: Sequence[Row]) -> None:
        self._rows = rows
        self.by_id: dict[str, Row] = {}
        for row in rows:
            # The first row wins when two share an ID or a company, as it would for a person
            # reading the sheet from the top.
            if row.prospect.id:
                self.by_id.setdefault(row.prospect.id.strip().casefold(), row)
        self._by_company: dict[str, Row] | None = None

    @property
    def by_company(self) -> Mapping[str, Row]:
        # Entries mostly carry an ID that is found: folding every row's company name (the
        # costliest part of the index) waits until one is not.
        if self._by_company is None:
            self._by_company = {}
            for row in self._rows:
                if row.prospect.company:
                    self._by_company.setdefault(vocab.normalise(row.prospect.company), row)
        return self._by_company

    def row(self, entry: LogEntry) -> Row | None:
        """The prospect the entry is about: by ID, else by company; None if neither."""
        ident = entry.id.strip().casefold()
        found = self.by_id.get(ident) if ident else None
        if found is None and entry.company:
            found = self.by_company.get(vocab.normalise(entry.company))
        return found


def _subject(entry: LogEntry, index: RowIndex) -> tuple[str, Row | None]:
    ident = entry.id.strip().casefold()
    row = index.by_id.get(ident) if ident else None
    if row is not None:
        return f"row {row.prospect.row}", row
    company = vocab.normalise(entry.company)
    if company:
        row = index.by_company.get(company)
        if row is not None:
            return f"row {row.prospect.row}", row
    if ident:
        return f"id {ident}", None
    if company:
        return f"company {company}", None
    return "", None


# --- The funnel ---------------------------------------------------------------------------


def funnel(histories: Iterable[Sequence[Outcome]], max_attempts: int) -> tuple[FunnelRound, ...]:
    """The funnel of prospects, each given as its touches' outcomes in time order."""
    last = max_attempts + 1  # the line that groups every round from here on
    called: Counter[int] = Counter()
    reached: Counter[int] = Counter()
    interested: Counter[int] = Counter()
    won: Counter[int] = Counter()
    for outcomes in histories:
        for k, outcome in enumerate(outcomes, start=1):
            line = min(k, last)
            if k <= last:
                called[line] += 1
            if outcome.unanswered:
                continue
            reached[line] += 1
            after = outcomes[k - 1 :]
            if any(o in _INTERESTED for o in after):
                interested[line] += 1
                if any(o in _WON for o in after):
                    won[line] += 1
            break
    return tuple(
        FunnelRound(
            round=k,
            label=f"{k}+" if k == last else str(k),
            called=called[k],
            reached=reached[k],
            interested=interested[k],
            won=won[k],
        )
        for k in range(1, max(called, default=0) + 1)
    )


# --- Per owner or segment -----------------------------------------------------------------


@dataclass
class _Line:
    name: str
    touches: int = 0
    due: int = 0
    overdue: int = 0
    died: int = 0
    won: int = 0


class _Groups:
    """The lines of the per-group table, found by owner (or segment) as written anywhere."""

    def __init__(self, by: str, owners: Mapping[str, Owner] | None) -> None:
        self.by = by
        self.found: dict[str, _Line] = {}
        if by == "owner":
            for owner in (owners or {}).values():
                self.line(owner.name)

    def line(self, name: str) -> _Line:
        name = name.strip()
        key = vocab.normalise(name) if name else BLANK
        if key not in self.found:
            self.found[key] = _Line(name or BLANK)
        return self.found[key]

    def of(self, row: Row | None) -> _Line:
        if row is None:
            return self.line(UNKNOWN)
        return self.line(row.prospect.owner if self.by == "owner" else row.prospect.segment)

    def lines(self) -> tuple[GroupStats, ...]:
        def order(line: _Line) -> tuple[int, str]:
            # Real names first, alphabetically; the catch-all lines at the bottom.
            return ((line.name == BLANK) + 2 * (line.name == UNKNOWN), line.name.casefold())

        found = sorted(self.found.values(), key=order)
        return tuple(GroupStats(**vars(line)) for line in found)


def _count_log(groups: _Groups, histories: Iterable[_History], start: date, today: date) -> None:
    for history in histories:
        in_period = [t for t in history.touches if start <= t.when.date() <= today]
        if not in_period:
            continue  # so that "(unknown)" shows only when it has something in the period
        line = groups.of(history.row)
        line.touches += len(in_period)
        if history.key and any(t.outcome is Outcome.WON for t in in_period):
            line.won += 1
        elif not history.key:
            # Entries that name no prospect cannot be told apart: each win is one.
            line.won += sum(1 for t in in_period if t.outcome is Outcome.WON)


def _count_rows(
    groups: _Groups, rows: Iterable[Row], start: date, today: date, rules: Rules
) -> None:
    for row in rows:
        line = groups.of(row)
        computed = row.computed
        # A call the daily limit moved to a later day (capacity.py) was due all the same.
        day = computed.due_by_rules or computed.next_follow_up
        if computed.status.actionable and day is not None and day <= today:
            late = day < today
            if late:
                line.overdue += 1
            else:
                line.due += 1
        died = died_on(row, rules)
        if died is not None and start <= died <= today:
            line.died += 1


def died_on(row: Row, rules: Rules) -> date | None:
    """The day a dead row died: its last unanswered attempt when that was the last one the
    cadence allows, else the first day past `window_days` without progress. None when the
    row is not dead."""
    prospect = row.prospect
    if row.computed.status is not Status.DEAD or prospect.last_contact is None:
        return None
    # The same count the rules use: a logged contact is at least one attempt.
    unanswered = max(prospect.attempts, 1)
    if unanswered >= max_attempts_for(cadence_for(prospect, rules), rules):
        return prospect.last_contact
    return prospect.last_contact + timedelta(days=rules.window_days + 1)


# --- Output -------------------------------------------------------------------------------

_GROUP_COLUMNS = ("touches", "due", "overdue", "died", "won")
_GROUP_HEADERS = ("Touches", "Due today", "Overdue", "Died", "Won")
_FUNNEL_COLUMNS = ("called", "reached", "interested", "won")


def to_csv(stats: Stats) -> str:
    """The funnel's lines, a blank line, then the per-group lines; each part with a header.

    Owner and segment names are what people typed in the sheet: see csv_text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["round", *_FUNNEL_COLUMNS])
    for line in stats.funnel:
        writer.writerow([line.label, *(getattr(line, name) for name in _FUNNEL_COLUMNS)])
    buffer.write("\n")
    writer.writerow([stats.by, *_GROUP_COLUMNS])
    for group in stats.groups:
        writer.writerow([csv_text(group.name), *(getattr(group, name) for name in _GROUP_COLUMNS)])
    return buffer.getvalue()


#: First characters that make Excel, LibreOffice or Google Sheets read a CSV field as a
#: formula (OWASP, "CSV Injection"): "=HYPERLINK(...)" or "=cmd|' /C calc'!A0" in a
#: segment name would run on the machine of whoever opens the export.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")


def csv_text(text: str) -> str:
    """Text from the sheet as a CSV field that no spreadsheet runs as a formula: one that
    starts like a formula gets a single quote in front (OWASP's advice). A plain number
    ("-5", "+3.5") is a number, not a formula, and stays as it is."""
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def bar(called: int, reached: int, largest: int, width: int = BAR_WIDTH) -> str:
    """`called` as a bar scaled so that `largest` fills `width`: solid for the reached part,
    shaded for the rest. Anything above zero shows at least one block."""
    if called <= 0 or largest <= 0:
        return ""
    full = max(1, round(called * width / largest))
    solid = max(1, round(reached * width / largest)) if reached > 0 else 0
    if reached < called and full > 1:
        # Rounding must not make a round look as if everyone was reached.
        solid = min(solid, full - 1)
    solid = min(solid, full)
    return BAR_REACHED * solid + BAR_UNANSWERED * (full - solid)


def render(stats: Stats, width: int = 80) -> RenderableType:
    """The stats as people read them in a terminal `width` columns wide (80 is enough)."""
    # Rich is loaded here: the numbers (--json, the digest of the emails) need none of it.
    from rich.console import Group
    from rich.text import Text

    days = (stats.today - stats.since).days + 1
    parts: list[RenderableType] = [
        Text(f"{fmt_day(stats.since)} to {fmt_day(stats.today)} ({_count(days, 'day')})"),
        Text(""),
    ]
    if stats.funnel:
        first = "first called in this period"
        parts.append(Text(f"Funnel per calling round: {_count(stats.cohort, 'prospect')} {first}"))
        parts.append(_funnel_table(stats.funnel, width))
        parts.append(Text(f"{BAR_REACHED} reached  {BAR_UNANSWERED} not reached"))
    else:
        parts.append(Text("Funnel per calling round: nobody was first called in this period."))
    parts.append(Text(""))
    parts.append(_group_table(stats))
    return Group(*parts)


def _count(n: int, word: str) -> str:
    return f"1 {word}" if n == 1 else f"{n} {word}s"


def _table() -> Table:
    from rich.table import Table

    return Table(box=None, header_style="bold", pad_edge=False, show_edge=False)


def _funnel_table(lines: Sequence[FunnelRound], width: int) -> Table:
    from rich.text import Text

    table = _table()
    table.add_column("Round", no_wrap=True)
    for name in _FUNNEL_COLUMNS:
        table.add_column(name.capitalize(), justify="right", no_wrap=True)
    # The number columns take about 42 characters; the bars get what is left.
    bar_width = max(8, min(BAR_WIDTH, width - 44))
    table.add_column("", no_wrap=True, overflow="crop")
    largest = max(line.called for line in lines)
    for line in lines:
        numbers = (str(getattr(line, name)) for name in _FUNNEL_COLUMNS)
        table.add_row(
            Text(line.label),
            *(Text(n) for n in numbers),
            Text(bar(line.called, line.reached, largest, bar_width)),
        )
    return table


def _group_table(stats: Stats) -> Table:
    from rich.text import Text

    table = _table()
    # Names are people's and segments' as typed; long ones are cut, the numbers never are.
    table.add_column(f"By {stats.by}", no_wrap=True, overflow="ellipsis", max_width=28)
    for header in _GROUP_HEADERS:
        table.add_column(header, justify="right", no_wrap=True)
    for group in stats.groups:
        table.add_row(Text(group.name), *_numbers(group))
    table.add_row(Text("Total", style="bold"), *_numbers(stats.totals, style="bold"))
    return table


def _numbers(group: GroupStats, style: str = "") -> list[Text]:
    from rich.text import Text

    return [Text(str(getattr(group, name)), style=style) for name in _GROUP_COLUMNS]
