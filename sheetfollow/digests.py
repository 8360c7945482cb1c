"""The managers' digests: who gets one, which rows each one covers, and what it reports.

Who: every Manager named in the Owners tab (a name there with an email, or an address), about
the owners who name them; every owner whose Digest is yes and the address in `[email]
manager`, about the whole team (or, when owners name them, about those).

Which rows: no row is left out of every digest. Rows of an owner whom no digest covers reach
a manager all the same, and are listed as such: a manager's own rows reach that manager's
digest; rows without an owner, of an owner missing from the Owners tab, or of an owner whose
manager gets no digest reach every digest at the top (one whose recipient is in no other
digest's team). A digest of the whole team shows them all.

What: per owner the touches done, died and won since the previous digest that went out to
this manager (from its day through yesterday: Friday's calls count on Monday, and today's
count tomorrow; the first digest looks back FIRST_DAYS days), today's follow-ups and the
overdue ones as separate numbers (the numbers `refresh` prints), the share of touches that got
through and the value waiting; the funnel from `stats`; the rows that need attention; the
replies to morning emails that were refused since the previous digest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sheetfollow import capacity, stats, vocab
from sheetfollow.config import Config, is_address
from sheetfollow.log import LogEntry
from sheetfollow.models import Outcome, Owner, Row, Status
from sheetfollow.notify.digest import (
    MANAGER,
    NO_OWNER,
    TEAM,
    UNLISTED,
    UNMANAGED,
    Attention,
    Away,
    DigestView,
    Funnel,
    FunnelStep,
    Late,
    OwnerFigures,
    RefusedReply,
)
from sheetfollow.notify.state import RunState

#: The first digest to a manager counts what was done, died and won in this many days.
FIRST_DAYS = 7


@dataclass
class Manager:
    """One digest's recipient."""

    name: str
    to: str
    language: str
    #: The owners who name this manager; empty: the whole team.
    team: list[Owner] = field(default_factory=list)
    #: The manager's own name in the Owners tab, normalised; "" for an address only.
    person: str = ""
    #: The manager's Country in the Owners tab, whose working days the digest follows; ""
    #: for the team's ([calendar] country).
    country: str = ""


@dataclass(frozen=True)
class Group:
    """The rows of one owner (normalised name; "" for a blank Owner) in a digest."""

    key: str
    name: str
    role: str


def recipients(
    owners: Mapping[str, Owner], config: Config
) -> tuple[list[Manager], dict[str, list[str]]]:
    """The digests' recipients, and the Managers who cannot be emailed with the names of
    the owners who name them."""
    managers: dict[str, Manager] = {}
    unreachable: dict[str, list[str]] = {}
    for person in owners.values():
        named = person.manager.strip()
        if not named:
            continue
        boss = _manager_of(named, owners, config)
        if boss is None:
            unreachable.setdefault(named, []).append(person.name)
            continue
        managers.setdefault(boss.to.casefold(), boss).team.append(person)
    for key, person in owners.items():
        if person.digest and person.email:
            managers.setdefault(
                person.email.casefold(),
                Manager(
                    person.name, person.email, person.language, person=key, country=person.country
                ),
            )
    if config.email.manager:
        address = config.email.manager
        managers.setdefault(address.casefold(), Manager(address, address, config.language))
    return list(managers.values()), unreachable


def _manager_of(named: str, owners: Mapping[str, Owner], config: Config) -> Manager | None:
    if is_address(named):
        return Manager(named, named, config.language)
    key = vocab.normalise(named)
    person = owners.get(key)
    if person is None or not person.email:
        return None
    return Manager(person.name, person.email, person.language, person=key, country=person.country)


def coverage(
    managers: Sequence[Manager], owners: Mapping[str, Owner], rows: Iterable[Row]
) -> list[list[Group]]:
    """The groups of rows each manager's digest covers (in the order of `managers`)."""
    names = _owner_names(owners, rows)
    persons = {m.person: n for n, m in enumerate(managers) if m.person}
    listed = bool(owners)

    def role(key: str, covered: bool) -> str:
        if not key:
            return NO_OWNER
        if listed and key not in owners:
            return UNLISTED
        if key in persons:
            return MANAGER
        return TEAM if covered else UNMANAGED

    found: list[list[Group]] = []
    for manager in managers:
        if manager.team:
            keys = [vocab.normalise(person.name) for person in manager.team]
        else:
            keys = list(names)
        found.append([Group(key, names.get(key, ""), role(key, True)) for key in keys])
    covered = {group.key for groups in found for group in groups}
    left = [key for key in names if key not in covered]
    if left and managers:
        tops = [n for n, at_top in enumerate(top(managers)) if at_top]
        for key in left:
            where = [persons[key]] if key in persons else tops
            for n in where:
                found[n].append(Group(key, names[key], role(key, False)))
    return found


def _owner_names(owners: Mapping[str, Owner], rows: Iterable[Row]) -> dict[str, str]:
    """Every owner as written, by normalised name: the Owners tab in its order, then the
    names only the sheet has, then "" when some row has no owner."""
    names = {key: person.name for key, person in owners.items()}
    blank = False
    for row in rows:
        written = row.prospect.owner.strip()
        if written:
            names.setdefault(vocab.normalise(written), written)
        else:
            blank = True
    if blank:
        names[""] = ""
    return names


@dataclass(frozen=True)
class Since:
    """Where a digest's period starts."""

    #: Touches, deaths and wins count from this day through yesterday ...
    day: date
    #: ... refused replies from this moment (the previous digest's; None: from `day`) ...
    moment: datetime | None = None
    #: ... and whether this is the first digest (looking back FIRST_DAYS days).
    first: bool = False


def period(sent: RunState, to: str, today: date) -> Since:
    """Where the digest to `to` starts: on the day the previous digest to `to` went out
    (that one counted up to the day before it, so no day is counted twice or skipped), else
    FIRST_DAYS before today."""
    previous = sent.last_before(today, "digest", to)
    if previous is None:
        return Since(today - timedelta(days=FIRST_DAYS), first=True)
    return Since(previous.day, previous.at)


def top(managers: Sequence[Manager]) -> list[bool]:
    """For each manager, whether their digest is at the top: no other digest's team holds
    them. What belongs to nobody goes there (to every digest when none is at the top)."""
    teams = {vocab.normalise(p.name) for m in managers for p in m.team}
    found = [not m.person or m.person not in teams for m in managers]
    return found if any(found) else [True] * len(managers)


def view(
    groups: Sequence[Group],
    rows: Sequence[Row],
    entries: Sequence[LogEntry],
    *,
    today: date,
    since: Since,
    config: Config,
    refused: Sequence[RefusedReply] = (),
    at_top: bool = False,
    owners: Mapping[str, Owner] | None = None,
) -> DigestView:
    """What the digest of `groups` shows. `rows` are the whole sheet's: Log entries are
    matched to them as `stats` does. Refused replies are shown about the digest's rows, and,
    `at_top`, about prospects the sheet does not have."""
    wanted = {group.key for group in groups}
    by_key: dict[str, list[Row]] = {}
    mine = []
    for row in rows:
        key = _key(row)
        if key in wanted:
            by_key.setdefault(key, []).append(row)
            mine.append(row)
    index = _LogIndex(rows)
    done: dict[str, list[LogEntry]] = {}
    for entry in entries:
        if entry.outcome is not None and since.day <= entry.when.date() < today:
            for key in index.owners(entry) & wanted:
                done.setdefault(key, []).append(entry)
    figures = tuple(
        _figures(
            group,
            by_key.get(group.key, []),
            done.get(group.key, []),
            index,
            today,
            since.day,
            config,
        )
        for group in groups
    )
    numbers = stats.build_funnel(entries, mine, today=today, rules=config.rules)
    funnel = Funnel(
        since=numbers.since,
        cohort=numbers.cohort,
        steps=tuple(
            FunnelStep(r.label, r.called, r.reached, r.interested, r.won) for r in numbers.funnel
        ),
    )
    return DigestView(
        today=today,
        owners=figures,
        since=since.day,
        first=since.first,
        attention=tuple(
            _attention(row) for row in mine if row.computed.status is Status.NEEDS_ATTENTION
        ),
        funnel=funnel,
        refused=_refused(
            [
                replace(r, at=_wall(r.at, config.timezone))
                for r in refused
                if _after(r.at, since, config.timezone)
            ],
            index,
            wanted,
            at_top,
        ),
        owners_tab=config.tabs.owners,
        currency=config.email.currency,
        away=_away(groups, owners or {}, today),
    )


def _away(groups: Sequence[Group], owners: Mapping[str, Owner], today: date) -> tuple[Away, ...]:
    """The digest's owners who are away today, with their cover when the cover is not."""
    found = []
    for group in groups:
        owner = owners.get(group.key)
        if owner is None or not owner.away_on(today):
            continue
        cover = owners.get(vocab.normalise(owner.cover)) if owner.cover else None
        covers = cover.name if cover is not None and not cover.away_on(today) else ""
        found.append(Away(owner.name, owner.away_until, covers))
    return tuple(found)


def _refused(
    replies: Sequence[RefusedReply], index: _LogIndex, wanted: set[str], at_top: bool
) -> tuple[RefusedReply, ...]:
    found = []
    for reply in replies:
        row = index.by_id.get(reply.prospect.strip().casefold())
        if row is None and at_top:
            found.append(reply)
        elif row is not None and _key(row) in wanted:
            found.append(replace(reply, company=reply.company or _company(row)))
    return tuple(found)


def _after(moment: datetime, since: Since, timezone: str) -> bool:
    """Whether `moment` comes after the start of the period: after the previous digest's
    moment when it is known, else on or after its day. Both as the team's wall clock: the
    state tab keeps that, without a zone."""
    if since.moment is None:
        return _wall(moment, timezone).date() >= since.day
    return _wall(moment, timezone) > _wall(since.moment, timezone)


def _wall(moment: datetime, timezone: str) -> datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(ZoneInfo(timezone) if timezone else None)
    return moment.replace(tzinfo=None)


def _key(row: Row) -> str:
    return vocab.normalise(row.prospect.owner) if row.prospect.owner.strip() else ""


def _figures(
    group: Group,
    own: Sequence[Row],
    done: Sequence[LogEntry],
    index: _LogIndex,
    today: date,
    since: date,
    config: Config,
) -> OwnerFigures:
    # Due by the rules: a call the daily limit moved to a later day (capacity.py) was due
    # all the same, and the manager sees it among today's or the overdue ones.
    due = [row for row in own if capacity.was_due(row, today)]
    late = [row for row in due if (capacity.day_by_rules(row) or today) < today]
    # Oldest first; on one day the largest first, as the owner's email lists them.
    late.sort(key=lambda r: (capacity.day_by_rules(r) or today, -(r.prospect.value or 0.0)))
    died = [row for row in own if _in(stats.died_on(row, config.rules), since, today)]
    return OwnerFigures(
        name=group.name,
        role=group.role,
        prospects=len(own),
        today=len(due) - len(late),
        overdue=len(late),
        overdue_value=sum(row.prospect.value or 0.0 for row in late),
        done=len(done),
        reached=sum(1 for e in done if e.outcome is not None and not e.outcome.unanswered),
        died=tuple(_company(row) for row in died),
        won=_won(done, index),
        late=tuple(Late(_company(row), capacity.day_by_rules(row) or today) for row in late),
    )


def _in(day: date | None, since: date, today: date) -> bool:
    return day is not None and since <= day < today


def _company(row: Row) -> str:
    return row.prospect.company or row.prospect.id or f"#{row.prospect.row}"


def _won(touches: Iterable[LogEntry], index: _LogIndex) -> tuple[str, ...]:
    """Companies with a won touch among `touches`, each once."""
    names: dict[str, str] = {}
    for entry in touches:
        if entry.outcome is not Outcome.WON:
            continue
        row = index.row(entry)
        name = (_company(row) if row else "") or entry.company or entry.id
        names.setdefault(vocab.normalise(name), name)
    return tuple(names.values())


class _LogIndex(stats.RowIndex):
    """Finds the prospect a Log entry is about, as stats joins them (by ID, else company),
    and whose counts the entry goes in."""

    def owners(self, entry: LogEntry) -> set[str]:
        """The groups the entry counts for: who made the touch, and whose prospect it is
        ("" for a prospect without an owner)."""
        names = {vocab.normalise(entry.by)} if entry.by.strip() else set()
        row = self.row(entry)
        if row is not None:
            names.add(_key(row))
        return names


def _attention(row: Row) -> Attention:
    p = row.prospect
    why = row.computed.why
    ref = p.problems[0].ref if p.problems else ""
    # The rules' Why names the cell already ("Check Prospects!J6: ..."): once is enough.
    return Attention(
        ref="" if ref in why else ref, company=p.company or p.id, owner=p.owner, why=why
    )
