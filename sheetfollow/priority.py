"""The call order: which of today's follow-ups comes first, and why. Pure.

One priority, used by `due`, the owner email and the capacity planner (capacity.py,
DESIGN.md §9). A due row falls in one of four classes, in this order:

1. PROMISED: a call-back promised for today: a Follow up on date a person set (after the
   last contact, by hand or with `mark ... call back --on`) that falls today, or a last
   outcome "call back" whose follow-up is today. A promise is kept on its day.
2. SAME_DAY: a new lead created today (never contacted), or a quote asked for ("interested")
   whose quote goes out today. Speed wins these.
3. OVERDUE: everything past its day, the oldest first, then the largest value.
4. TODAY: the rest due today, the largest value first.

Within a class, ties go to the larger value, then the company name, the ID and the sheet
row, so the order is total: the same rows always come out in the same order.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import date

from sheetfollow.i18n import P_, word
from sheetfollow.models import Outcome, Row, Status


class Rank(enum.IntEnum):
    """The classes of the call order, first called first."""

    PROMISED = 1
    SAME_DAY = 2
    OVERDUE = 3
    TODAY = 4


@dataclass(frozen=True, slots=True)
class Place:
    """Where a row stands in the call order: its class and what decides within it."""

    rank: Rank
    days_late: int
    value: float
    #: What made a SAME_DAY row same-day: "lead" or "quote"; "" otherwise.
    kind: str = ""

    @property
    def reason(self) -> str:
        """Why the row is where it is, in a few English words: '3 overdue, oldest first'."""
        if self.rank is Rank.PROMISED:
            return P_("due table", "1 promised for today")
        if self.rank is Rank.SAME_DAY:
            if self.kind == "quote":
                return P_("due table", "2 quote, same day")
            return P_("due table", "2 new lead, same day")
        if self.rank is Rank.OVERDUE:
            return P_("due table", "3 overdue, oldest first")
        return P_("due table", "4 today, by value")

    def reason_in(self, language: str) -> str:
        """The reason in `language`, for `due --explain`'s table (its --json keeps English)."""
        return word("due table", self.reason, language)


def place(row: Row, today: date) -> Place:
    """The class of a due row (next follow-up on or before today) and its tie-breakers."""
    return Place(*_placed(row, today))


def _placed(row: Row, today: date) -> tuple[Rank, int, float, str]:
    """place's fields, as a tuple: sort_key asks for them for every due row."""
    p, c = row.prospect, row.computed
    day = c.next_follow_up or today
    value = p.value if p.value is not None and p.value == p.value else 0.0
    late = (today - day).days
    if late > 0:
        return Rank.OVERDUE, late, value, ""
    if _promised(row):
        return Rank.PROMISED, 0, value, ""
    if p.last_contact is None and p.created == today:
        return Rank.SAME_DAY, 0, value, "lead"
    if p.last_outcome is Outcome.INTERESTED and c.status is Status.DUE and c.step != "revisit":
        return Rank.SAME_DAY, 0, value, "quote"
    return Rank.TODAY, 0, value, ""


def pinned(row: Row, today: date) -> bool:
    """Whether the capacity planner must keep the row on its day whatever the load: a
    promised call-back (also one already late: a promise is never pushed further), or a new
    lead or a quote due today or later (SAME_DAY on the row's own day). A lead or quote
    already late is overdue like any other call: first in line, but not beyond the limit."""
    day = row.computed.next_follow_up
    if day is None or not row.computed.status.actionable:
        return False
    if _promised(row):
        return True
    if day < today:
        return False
    # The row as it will stand on its own day: due then, whatever it says today.
    status = row.computed.status
    if status in (Status.SCHEDULED, Status.OVERDUE):
        status = Status.DUE
    on_its_day = Row(row.prospect, replace(row.computed, status=status), row.problems)
    return place(on_its_day, day).rank is Rank.SAME_DAY


def promised(row: Row) -> bool:
    """A call-back someone promised: a Follow up on date set after the last contact, or a
    last outcome "call back" (a lost deal's revisit date is no promise)."""
    return _promised(row)


def _promised(row: Row) -> bool:
    p, c = row.prospect, row.computed
    if c.step == "revisit":
        # A lost deal's revisit date is a reminder, not a promise made to someone.
        return False
    if p.last_outcome is Outcome.CALL_BACK:
        return True
    chosen = p.follow_up_on
    return chosen is not None and (p.last_contact is None or chosen > p.last_contact)


def sort_key(row: Row, today: date) -> tuple[int, int, float, str, str, int]:
    """The call order as a sort key: sorted(rows, key=lambda r: sort_key(r, today))."""
    rank, days_late, value, _ = _placed(row, today)
    p = row.prospect
    return (
        _RANK_NUMBER[rank],
        -days_late,
        -value,
        p.company.casefold(),
        p.id.casefold(),
        p.row,
    )


#: Each class as the plain int its sort key holds.
_RANK_NUMBER = {rank: int(rank) for rank in Rank}


def in_order(rows: list[Row], today: date) -> list[Row]:
    """Rows in the call order."""
    return sorted(rows, key=lambda row: sort_key(row, today))
