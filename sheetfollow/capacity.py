"""The daily capacity planner: more due than a person can call is spread over their next
working days. Pure: (computed rows, the Owners tab, the calendar config, today) -> rows.

A person's limit is their Owners tab *Calls per day*, else `[calendar] calls_per_day`; 0 or
nothing set means no limit, and then nothing is planned (DESIGN.md §9).

How a plan is made, the same every time for the same sheet and day:

1. Every row with a next follow-up is a call on that day (its *day by the rules*), or today
   for one already late. Who makes it is its *caller*: Assigned to as the rules give it
   (the owner, or the delegate below `delegate_below`), and on a day the owner is away, the
   owner's Cover when the cover is not away too (see rules.with_leave).
2. A caller calls on their working days only: their Country's calendar with the team's
   weekend and days off, and not on their leave. A call whose caller is off on its day
   waits for the caller's next working day (this is not a move: the days-off rule of the
   emails already carries it there).
3. Kept on their day, on top of the limit: promised call-backs, also late ones,
   and new leads and quotes due today or later (priority.pinned) on a working day of their
   caller (one due on the caller's day off is not same-day any more when they are back).
4. Then every other call, in the call order of priority.py (the oldest day first, then the
   largest value, the company, the ID and the sheet row), takes the first day from its own
   on where its caller works and has room left.

A call that lands later than its first possible day is *moved*: its Next follow-up is the
planned day, its Status scheduled (a new lead stays new) instead of due or overdue, so it
does not shout while it waits its turn, its Why starts with "Moved from Mon 7 Dec 2026 to
Tue 8 Dec 2026: Anna's 10 calls a day were already planned.", and Computed.due_by_rules
keeps the day the rules gave it, so the digest still counts it as due or overdue (see
was_due). A move only ever goes later, so the not-pushy gap the rules keep between touches
holds. A call that fits on its first day is left exactly as the rules made it.

So a day holds the limit's worth of calls plus the kept ones; a day that goes past the
limit is reported (Load): "Anna, Mon 7 Dec 2026: 12 of 10 calls (2 promised or same-day
beyond the limit)".

An owner back from leave without a cover finds the backlog spread with their own limit;
without a limit everything is due on their first day back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from sheetfollow import priority
from sheetfollow.calendar import BusinessCalendar, calendar_for
from sheetfollow.config import CalendarConfig, Rules
from sheetfollow.i18n import R_, Part, Reason, Rn_, Why, why
from sheetfollow.models import Computed, Owner, Row, Status
from sheetfollow.rules import assigned_to, cover_note, fmt_day
from sheetfollow.vocab import normalise

#: A call finds a day within this many days of its own, or it is left where it is (an
#: owner away without an end and without a cover, a limit far too small for the backlog).
HORIZON = timedelta(days=366)
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Load:
    """One caller's day that holds more calls than their limit: only kept calls (promised
    call-backs, same-day leads and quotes) go past it, as they come on top of it."""

    caller: str
    day: date
    calls: int
    limit: int
    #: Kept calls (promised or same-day) on that day.
    kept: int

    @property
    def over(self) -> int:
        return max(0, self.calls - self.limit)

    def line(self) -> str:
        """'Anna, Mon 7 Dec 2026: 12 of 10 calls (2 promised or same-day beyond the limit)'."""
        return (
            f"{self.caller}, {fmt_day(self.day)}: {self.calls} of {self.limit} calls "
            f"({self.over} promised or same-day beyond the limit)"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "caller": self.caller,
            "day": self.day.isoformat(),
            "calls": self.calls,
            "limit": self.limit,
            "kept": self.kept,
            "over": self.over,
        }


@dataclass(frozen=True)
class Planned:
    """The rows with the plan applied (in the order given), and what it reports."""

    rows: list[Row]
    #: Rows moved to a later day.
    moved: int = 0
    #: Days (from today on) that hold more than the caller's limit, by day and caller.
    over: tuple[Load, ...] = ()


def was_due(row: Row, today: date) -> bool:
    """Whether the row is due today by the rules, moved by the planner or not."""
    c = row.computed
    day = c.due_by_rules or c.next_follow_up
    return c.status.actionable and day is not None and day <= today


def day_by_rules(row: Row) -> date | None:
    """The day the rules gave the row's follow-up, before any move."""
    return row.computed.due_by_rules or row.computed.next_follow_up


def has_limits(calendar: CalendarConfig, owners: Mapping[str, Owner] | None) -> bool:
    """Whether anyone has a daily limit (otherwise the planner changes nothing)."""
    return calendar.calls_per_day > 0 or any(o.calls_per_day for o in (owners or {}).values())


def plan(
    rows: Sequence[Row],
    *,
    today: date,
    calendar: CalendarConfig,
    rules: Rules,
    owners: Mapping[str, Owner] | None = None,
) -> Planned:
    """The rows with each person's daily limit applied (see the module's docstring)."""
    if not has_limits(calendar, owners):
        return Planned(list(rows))
    team = _Team(calendar, owners or {}, today)
    calls: list[tuple[int, _Call]] = []
    for index, row in enumerate(rows):
        call = team.call(row, rules)
        if call is not None:
            calls.append((index, call))
    out = list(rows)
    kept = [(i, c) for i, c in calls if c.kept]
    free = [(i, c) for i, c in calls if not c.kept]
    for _, call in sorted(kept, key=lambda item: item[1].order):
        placed = call.first_workday()
        if placed is not None:
            call.caller_on(placed).take(placed, kept=True)
    moved = 0
    for index, call in sorted(free, key=lambda item: item[1].order):
        placed = call.first_room()
        if placed is None:
            continue
        call.caller_on(placed).take(placed, kept=False)
        first = call.first_workday()
        if first is not None and placed > first:
            out[index] = Row(call.row.prospect, call.moved(first, placed), call.row.problems)
            moved += 1
    return Planned(out, moved, team.over())


@dataclass(eq=False)
class _Person:
    """One caller's calendar, leave, limit and the calls planned so far."""

    name: str
    owner: Owner | None
    calendar: BusinessCalendar
    limit: int | None
    #: Calls planned per day within the limit, and kept calls on top of it.
    counts: dict[date, int] = field(default_factory=dict)
    kept: dict[date, int] = field(default_factory=dict)
    #: Day -> a later day to look at next: the day is off or full (union-find style, so
    #: each full day is stepped over once).
    _skip: dict[date, date] = field(default_factory=dict)

    def works(self, day: date) -> bool:
        return self.calendar.is_working_day(day) and not (
            self.owner is not None and self.owner.away_on(day)
        )

    def has_room(self, day: date) -> bool:
        return self.limit is None or self.counts.get(day, 0) < self.limit

    def first_room(self, start: date, until: date) -> date | None:
        """The first day from `start` to `until` on which this person works and has room."""
        day, path = start, []
        while day <= until:
            ahead = self._skip.get(day)
            if ahead is None:
                if self.works(day) and self.has_room(day):
                    break
                ahead = self._skip[day] = day + _DAY
            path.append(day)
            day = ahead
        for step in path[:-1]:
            self._skip[step] = day
        return day if day <= until else None

    def take(self, day: date, *, kept: bool) -> None:
        """Plan a call on `day`; a kept call comes on top of the limit."""
        if kept:
            self.kept[day] = self.kept.get(day, 0) + 1
            return
        self.counts[day] = self.counts.get(day, 0) + 1
        if not self.has_room(day):
            self._skip[day] = day + _DAY


class _Team:
    def __init__(self, calendar: CalendarConfig, owners: Mapping[str, Owner], today: date):
        self.config = calendar
        self.owners = owners
        self.today = today
        self.people: dict[str, _Person] = {}

    def person(self, name: str) -> _Person:
        key = normalise(name)
        found = self.people.get(key)
        if found is None:
            owner = self.owners.get(key)
            limit = owner.calls_per_day if owner is not None else None
            if limit is None:
                limit = self.config.calls_per_day
            found = self.people[key] = _Person(
                owner.name if owner is not None else name.strip(),
                owner,
                calendar_for(self.config, owner.country if owner is not None else ""),
                limit or None,
            )
        return found

    def call(self, row: Row, rules: Rules) -> _Call | None:
        c, p = row.computed, row.prospect
        if c.next_follow_up is None or not c.status.actionable:
            return None
        owner = self.owners.get(normalise(p.owner)) if p.owner.strip() else None
        base = assigned_to(p, owner, rules).strip() or c.assigned_to.strip()
        if not base:
            return None
        cover = None
        if owner is not None and owner.cover and normalise(base) == normalise(owner.name):
            found = self.owners.get(normalise(owner.cover))
            cover = self.person(found.name) if found is not None else None
        start = max(c.next_follow_up, self.today)
        value = p.value if p.value is not None and p.value == p.value else 0.0
        order = (
            c.next_follow_up,
            -value,
            p.company.casefold(),
            p.id.casefold(),
            p.row,
        )
        call = _Call(
            row,
            self.person(base),
            owner if cover is not None else None,
            cover,
            start,
            priority.pinned(row, self.today),
            order,
            self.today,
        )
        if call.kept and not priority.promised(row) and call.first_workday() != start:
            # A lead or quote due on its caller's day off is no longer same-day when they
            # are back: it waits its turn like the others.
            call.kept = False
        return call

    def over(self) -> tuple[Load, ...]:
        found = [
            Load(person.name, day, person.counts.get(day, 0) + kept, person.limit, kept)
            for person in self.people.values()
            if person.limit is not None
            for day, kept in person.kept.items()
            if person.counts.get(day, 0) + kept > person.limit
        ]
        return tuple(sorted(found, key=lambda load: (load.day, normalise(load.caller))))


@dataclass(eq=False)
class _Call:
    """One row's call: who makes it on which day, and where it may go."""

    row: Row
    base: _Person
    #: The owner whose Cover takes the call on the days they are away (None: no cover).
    owner: Owner | None
    cover: _Person | None
    start: date
    kept: bool
    order: tuple[date, float, str, str, int]
    today: date

    def covered(self, day: date) -> bool:
        return (
            self.owner is not None
            and self.cover is not None
            and self.owner.away_on(day)
            and not (self.cover.owner is not None and self.cover.owner.away_on(day))
        )

    def caller_on(self, day: date) -> _Person:
        if self.cover is not None and self.covered(day):
            return self.cover
        return self.base

    def first_workday(self) -> date | None:
        """The first day from the call's own on which its caller works, full or not."""
        day, until = self.start, self.start + HORIZON
        while day <= until:
            if self.caller_on(day).works(day):
                return day
            day += _DAY
        return None

    def first_room(self) -> date | None:
        """The first day from the call's own on which its caller works and has room."""
        until = self.start + HORIZON
        best = self.base.first_room(self.start, until)
        if self.cover is not None and self.owner is not None:
            # On the owner's leave the base (the owner) does not work; the cover may.
            leave_from = max(self.start, self.owner.away_from or self.start)
            leave_until = min(until, self.owner.away_until or until)
            if leave_from <= leave_until:
                other = self.cover.first_room(leave_from, leave_until)
                if other is not None and (best is None or other < best):
                    best = other
        return best

    def moved(self, first: date, placed: date) -> Computed:
        c = self.row.computed
        was = self.caller_on(first)
        now = self.caller_on(placed)
        parts: tuple[Part, ...] = c.why.parts if isinstance(c.why, Why) else (c.why,)
        if self.owner is not None and self.cover is not None:
            # Today's Why may say who covers today; the planned day may be someone else's.
            note = cover_note(self.owner, self.cover.owner or Owner(self.cover.name), self.today)
            parts = tuple(part for part in parts if part != note)
            if now is self.cover:
                then = R_(
                    "%(name)s is away then: %(cover)s covers.", name=self.owner.name, cover=now.name
                )
                parts = (then, *parts)
        if was.limit:
            head = Rn_(
                # The English singular as it always read: "Anna's 1 calls a day were ...".
                "Moved from %(first)s to %(placed)s: %(name)s's %(n)s calls a day were already "
                "planned.",
                "Moved from %(first)s to %(placed)s: %(name)s's %(n)s calls a day were already "
                "planned.",
                was.limit,
                first=first,
                placed=placed,
                name=was.name,
            )
        else:
            head = R_(
                "Moved from %(first)s to %(placed)s: %(name)s's calls were already planned.",
                first=first,
                placed=placed,
                name=was.name,
            )
        status = Status.SCHEDULED if c.status in (Status.DUE, Status.OVERDUE) else c.status
        caller = c.assigned_to if normalise(now.name) == normalise(c.assigned_to) else now.name
        return replace(
            c,
            next_follow_up=placed,
            status=status,
            why=why(head, *parts),
            assigned_to=caller,
            due_by_rules=c.next_follow_up,
        )


def notes(
    rows: Sequence[Row],
    over: Sequence[Load],
    today: date,
    who: str | None = None,
    language: str = "en",
) -> list[str]:
    """What `due` says under today's list about the daily limit: how many calls due by
    now the limit moved to later days, and today's loads past a limit (of `who` only, when
    given), in `language` (the people who call read it)."""
    wanted = normalise(who) if who else None

    def mine(name: str) -> bool:
        return wanted is None or normalise(name) == wanted

    later = [
        row
        for row in rows
        if row.computed.due_by_rules is not None
        and row.computed.due_by_rules <= today
        and (mine(row.computed.assigned_to) or mine(row.prospect.owner))
    ]
    found = []
    if later:
        first = min(row.computed.next_follow_up or today for row in later)
        last = max(row.computed.next_follow_up or today for row in later)
        span: date | Reason = first
        if first != last:
            span = R_("%(first)s to %(last)s", first=first, last=last)
        moved = Rn_(
            "%(n)s call due by now moved to %(span)s by the daily limit (calls per day; see Why)",
            "%(n)s calls due by now moved to %(span)s by the daily limit (calls per day; see Why)",
            len(later),
            span=span,
        )
        found.append(moved.text(language))
    for load in over:
        if load.day == today and mine(load.caller):
            line = Rn_(
                # The English singular as it always read: "2 of 1 calls".
                "over the daily limit: %(caller)s, %(day)s: %(calls)s of %(n)s calls "
                "(%(over)s promised or same-day beyond the limit)",
                "over the daily limit: %(caller)s, %(day)s: %(calls)s of %(n)s calls "
                "(%(over)s promised or same-day beyond the limit)",
                load.limit,
                caller=load.caller,
                day=load.day,
                calls=load.calls,
                over=load.over,
            )
            found.append(line.text(language))
    return found
