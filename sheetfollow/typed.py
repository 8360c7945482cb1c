"""Touches typed into the sheet: which changes of the touch columns are a call to record.

Most people record a call the way they use any spreadsheet: they type the date into Last
contact and what happened into Last outcome. Each run compares the touch columns (Last
contact, Last outcome, Attempts, Stage, Follow up on) with the snapshot the previous run kept
of them (`snapshot.py`), and records what a person typed as the touch it is, through the same
path as `mark`.

The rule, for a row whose ID has a snapshot:

1. **A new touch** is a Last contact later than the snapshot's, or the same Last contact with
   another Last outcome. It is recorded on that day with that outcome: Attempts counted,
   Stage moved forward, a Follow up on date that was for this touch used up, one Log row (By:
   the row's Assigned to, else its owner; Note: typed in the sheet), the row recomputed.
   Attempts, Stage or Follow up on that the person changed too are theirs: left as typed.
2. **A correction** records nothing: Last contact moved earlier or cleared; or a touch that
   sheetfollow already recorded (by mark, a reply, or a typed touch an earlier run recorded)
   rewritten with a day on or before the day it was recorded, so fixing "27 Nov" into
   "26 Nov", or "no answer" into "voicemail", is not a second call. One exception: an
   unanswered touch that becomes an answered one (no answer -> reached) is the call that got
   through, and is recorded.
3. **Nothing yet**: a new Last contact without a Last outcome waits until the outcome is
   filled in (then it is recorded with the date typed first); so does a row whose touch
   cells cannot be read (it needs attention). Their snapshot is not moved on.
4. Changing only Attempts, Stage or Follow up on is a person's edit, not a touch.

A row seen for the first time (the first run, a new row, an ID filled in) is taken as it is:
its snapshot is taken and no touch is invented.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from operator import is_
from typing import TYPE_CHECKING

from sheetfollow import snapshot
from sheetfollow.models import Outcome, Prospect, Row
from sheetfollow.schema import HeaderMap
from sheetfollow.snapshot import Snap

if TYPE_CHECKING:
    from sheetfollow.mark import Touch  # imported when a typed touch is found: see _typed

#: The Log's Note for a touch typed into the sheet.
TYPED_NOTE = "typed in the sheet"


@dataclass(frozen=True)
class TypedTouch:
    """A call a person typed into the sheet, to be recorded."""

    row: int
    id: str
    company: str
    touch: Touch
    #: The touch columns before the person typed (the last run's snapshot).
    before: Snap
    #: Fields the person set along with the touch: left as typed.
    keep: frozenset[str]

    def line(self) -> str:
        outcome = self.touch.outcome.value
        return (
            f"{self.id} {self.company}: {outcome} on {self.touch.day.isoformat()} (row {self.row})"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "row": self.row,
            "id": self.id,
            "company": self.company,
            "outcome": self.touch.outcome.value,
            "day": self.touch.day.isoformat(),
            "kept_as_typed": sorted(self.keep - {"last_contact", "last_outcome"}),
        }


@dataclass(frozen=True)
class Compared:
    """Which rows find() saw unchanged against which snapshots: snaps_to_take asks the same
    of the same rows, and a refresh of 200,000 rows would compare them all twice."""

    snaps: Mapping[str, Snap]
    #: The rows' prospects in order, and whether each was unchanged. Their keys are worked
    #: out again when needed: kept, they would hold a text per row for the whole command.
    prospects: list[Prospect]
    same: list[bool]
    #: The keys more than one of those rows has (none, as a rule): with them, the key of a
    #: row is known without working out every row's again.
    twice: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Found:
    touches: list[TypedTouch]
    #: IDs whose snapshot must not move on yet (an outcome to wait for, cells to fix).
    waiting: frozenset[str]
    compared: Compared | None = None


def find(rows: Iterable[Row], snaps: Mapping[str, Snap], header: HeaderMap) -> Found:
    """The typed touches in `rows` (see the module's rule)."""
    rows = list(rows)
    prospects = [row.prospect for row in rows]
    twice: set[str] = set()
    keyed = _keyed(prospects, twice)
    same = unchanged(snaps, keyed)
    touches: list[TypedTouch] = []
    waiting: set[str] = set()
    for row, (ident, prospect), unmoved in zip(rows, keyed, same, strict=True):
        if not ident:
            continue  # no ID, or an ID used twice: it cannot be followed from run to run
        if unmoved and not prospect.problems:
            continue  # nothing typed: the most common row by far
        snap = snaps.get(ident)
        if snap is None:
            continue
        if _unreadable(prospect, header):
            waiting.add(ident)
            continue
        kind = classify(prospect, snap)
        if kind == "waiting":
            waiting.add(ident)
        elif kind == "touch":
            touches.append(_typed(row, snap))
    return Found(touches, frozenset(waiting), Compared(snaps, prospects, same, frozenset(twice)))


def classify(prospect: Prospect, snap: Snap) -> str:
    """ "touch", "waiting" or "none" (a correction, an edit, or nothing changed)."""
    day, outcome = prospect.last_contact, prospect.last_outcome
    if day is None:
        return "none"
    later = snap.last_contact is None or day > snap.last_contact
    other_outcome = day == snap.last_contact and outcome != snap.last_outcome
    if not (later or other_outcome):
        return "none"
    if snap.recorded is not None and day <= snap.recorded and not _got_through(snap, outcome):
        return "none"
    if outcome is None:
        return "waiting"
    return "touch"


def _keyed(
    prospects: Sequence[Prospect], twice: set[str] | None = None
) -> list[tuple[str, Prospect]]:
    """(key, prospect) for each row; the key is "" for a row without an ID or with an ID
    that more than one row has (those IDs' keys go into `twice`)."""
    # snapshot.key of each ID, in C: "" stays "".
    idents = list(map(str.casefold, map(str.strip, [p.id for p in prospects])))
    counts = Counter(filter(None, idents))
    if len(counts) < sum(counts.values()):
        if twice is not None:
            twice.update(ident for ident, times in counts.items() if times > 1)
        idents = [ident if counts[ident] == 1 else "" for ident in idents]
    return list(zip(idents, prospects, strict=True))


def unchanged(snaps: Mapping[str, Snap], keyed: list[tuple[str, Prospect]]) -> list[bool]:
    """For each (key, prospect): whether its snapshot holds what its touch columns hold."""
    if isinstance(snaps, snapshot.Snapshots):
        return snaps.unchanged(keyed)  # from the cells, without making the Snaps
    found = []
    for ident, prospect in keyed:
        snap = snaps.get(ident)
        found.append(snap is not None and snap.same_touch(prospect))
    return found


def _unchanged_again(
    snaps: Mapping[str, Snap], keyed: list[tuple[str, Prospect]], compared: Compared | None
) -> list[bool]:
    """unchanged(), taken from what find() compared for each row it saw as it is now (same
    snapshots, same prospect, same key); only the other rows are compared."""
    if compared is None or compared.snaps is not snaps:
        return unchanged(snaps, keyed)
    before = compared.prospects
    if len(before) == len(keyed) and all(map(is_, before, [p for _, p in keyed])):
        return compared.same  # the same prospects: the same keys, the same answers
    known = {
        id(p): (ident, p, same)
        for (ident, p), same in zip(_keyed(before), compared.same, strict=True)
    }
    found: list[bool | None] = []
    others: list[tuple[str, Prospect]] = []
    for ident, prospect in keyed:
        seen = known.get(id(prospect))
        if seen is not None and seen[1] is prospect and seen[0] == ident:
            found.append(seen[2])
        else:
            found.append(None)
            others.append((ident, prospect))
    answers = iter(unchanged(snaps, others))
    return [next(answers) if same is None else same for same in found]


def _got_through(snap: Snap, outcome: Outcome | None) -> bool:
    was = snap.last_outcome
    return was is not None and was.unanswered and outcome is not None and not outcome.unanswered


def _unreadable(prospect: Prospect, header: HeaderMap) -> bool:
    if not prospect.problems:
        return False
    refs = {header.cell(prospect.row, name) for name in snapshot.TOUCH_FIELDS}
    return any(problem.ref in refs for problem in prospect.problems)


def _typed(row: Row, snap: Snap) -> TypedTouch:
    from sheetfollow.mark import Touch  # here: most runs find nothing typed, and need no mark

    prospect = row.prospect
    assert prospect.last_contact is not None and prospect.last_outcome is not None
    keep = {"last_contact", "last_outcome"}
    if prospect.attempts != snap.attempts:
        keep.add("attempts")
    if prospect.stage != snap.stage:
        keep.add("stage")
    if prospect.follow_up_on != snap.follow_up_on:
        keep.add("follow_up_on")
    touch = Touch(
        outcome=prospect.last_outcome,
        day=prospect.last_contact,
        follow_up_on=prospect.follow_up_on if "follow_up_on" in keep else None,
        note=TYPED_NOTE,
        by=row.computed.assigned_to or prospect.owner,
    )
    return TypedTouch(
        row=prospect.row,
        id=prospect.id,
        company=prospect.company or prospect.contact,
        touch=touch,
        before=snap,
        keep=frozenset(keep),
    )


def before_touch(current: Prospect, snap: Snap) -> Prospect:
    """The row as it was before the person typed: its touch columns from the snapshot."""
    return replace(
        current,
        last_contact=snap.last_contact,
        last_outcome=snap.last_outcome,
        attempts=snap.attempts,
        stage=snap.stage,
        follow_up_on=snap.follow_up_on,
        problems=(),
    )


def snaps_to_take(
    prospects: Iterable[Prospect],
    snaps: Mapping[str, Snap],
    waiting: frozenset[str],
    header: HeaderMap,
    today: date,
    compared: Compared | None = None,
) -> list[Snap]:
    """Snapshots for the rows whose touch columns differ from their last one (every row on
    the first run): the baseline the next run compares with. A correction keeps the day
    its touch was recorded. Rows whose touch cells cannot be read get none: once fixed,
    they are taken as they are then."""
    prospects = list(prospects)
    taken = []
    if (
        compared is not None
        and compared.snaps is snaps
        and len(compared.prospects) == len(prospects)
        and all(map(is_, compared.prospects, prospects))
    ):
        # The rows find() compared, as they were: its answers, and a key worked out only
        # for the rows that changed (the usual refresh has none).
        twice = compared.twice
        keyed = [
            (ident if ident not in twice else "", prospect)
            for prospect, same in zip(prospects, compared.same, strict=True)
            if not same
            for ident in (snapshot.key(prospect.id),)
        ]
        same_rows = [False] * len(keyed)
    else:
        keyed = _keyed(prospects)
        same_rows = _unchanged_again(snaps, keyed, compared)
    for (ident, prospect), same in zip(keyed, same_rows, strict=True):
        if same or not ident or ident in waiting or _unreadable(prospect, header):
            continue
        old = snaps.get(ident)
        recorded = old.recorded if old is not None else None
        taken.append(snapshot.snap_of(prospect, recorded=recorded, seen=today))
    return taken
