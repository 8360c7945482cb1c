"""The call order (sheetfollow/priority.py): by tables of rows as the rules compute them, and
by Hypothesis properties over random pipelines, rules, calendars and days."""

from __future__ import annotations

import dataclasses
import itertools
import random
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import PROPERTY, calendars, owners, prospect_strategy, rules_strategy, todays

from sheetfollow import priority
from sheetfollow.calendar import BusinessCalendar
from sheetfollow.config import Rules
from sheetfollow.models import Outcome, Prospect, Row, Stage
from sheetfollow.priority import Rank
from sheetfollow.rules import compute

TODAY = date(2026, 3, 11)  # a Wednesday
RULES = Rules()  # cadence 0, 2, 5, 7, 7; quote follow-up 3; reached follow-up 5
CALENDAR = BusinessCalendar()


def row(company: str, value: float | None = 1000, **fields: Any) -> Row:
    prospect = Prospect(2, id=company[:3], company=company, owner="Ann", value=value, **fields)
    computed = compute(prospect, rules=RULES, calendar=CALENDAR, today=TODAY)
    assert computed.is_due(TODAY), computed
    return Row(prospect, computed)


# --- Which class, by table ------------------------------------------------------------------

CLASSES = [
    # A call-back promised for today, by a date set after talking.
    (
        "promised by a date",
        dict(last_contact=date(2026, 3, 5), last_outcome=Outcome.REACHED, follow_up_on=TODAY),
        Rank.PROMISED,
        0,
    ),
    # "call back" recorded without a date: the reached follow-up (5 business days) is today.
    (
        "promised by call back",
        dict(last_contact=date(2026, 3, 4), last_outcome=Outcome.CALL_BACK, attempts=0),
        Rank.PROMISED,
        0,
    ),
    ("new lead from today", dict(stage=Stage.NEW, created=TODAY), Rank.SAME_DAY, 0),
    (
        "quote asked for today",
        dict(stage=Stage.INTERESTED, last_contact=TODAY, last_outcome=Outcome.INTERESTED),
        Rank.SAME_DAY,
        0,
    ),
    # A promise that was not kept is overdue like any other call.
    (
        "missed promise",
        dict(
            last_contact=date(2026, 3, 2),
            last_outcome=Outcome.REACHED,
            follow_up_on=date(2026, 3, 9),
        ),
        Rank.OVERDUE,
        2,
    ),
    ("lead from last week", dict(stage=Stage.NEW, created=date(2026, 3, 2)), Rank.OVERDUE, 9),
    (
        "quote asked for yesterday",
        dict(last_contact=date(2026, 3, 10), last_outcome=Outcome.INTERESTED),
        Rank.OVERDUE,
        1,
    ),
    (
        "second attempt",
        dict(last_contact=date(2026, 3, 9), last_outcome=Outcome.NO_ANSWER, attempts=1),
        Rank.TODAY,
        0,
    ),
    (
        "quote follow-up",
        dict(last_contact=date(2026, 3, 6), last_outcome=Outcome.QUOTE_SENT),
        Rank.TODAY,
        0,
    ),
    # A lost deal's revisit date is a reminder, not a promise.
    (
        "revisit",
        dict(last_contact=date(2026, 1, 5), last_outcome=Outcome.LOST, follow_up_on=TODAY),
        Rank.TODAY,
        0,
    ),
    (
        "thank-you",
        dict(last_contact=date(2026, 3, 10), last_outcome=Outcome.WON, stage=Stage.WON),
        Rank.TODAY,
        0,
    ),
]


@pytest.mark.parametrize(
    ("fields", "rank", "late"), [c[1:] for c in CLASSES], ids=[c[0] for c in CLASSES]
)
def test_each_due_row_falls_in_one_class(fields: dict[str, Any], rank: Rank, late: int) -> None:
    place = priority.place(row("Acme", **fields), TODAY)
    assert (place.rank, place.days_late) == (rank, late)
    assert place.reason.startswith(f"{int(rank)} ")


def test_the_documented_order() -> None:
    rows = [
        row("Today big", 90_000, last_contact=date(2026, 3, 6), last_outcome=Outcome.QUOTE_SENT),
        row("Late 2 days big", 50_000, stage=Stage.NEW, created=date(2026, 3, 9)),
        row("Late 9 days small", 10, stage=Stage.NEW, created=date(2026, 3, 2)),
        row("Late 2 days small", 10, stage=Stage.NEW, created=date(2026, 3, 9)),
        row("Quote", 5, last_contact=TODAY, last_outcome=Outcome.INTERESTED),
        row("New big", 70_000, stage=Stage.NEW, created=TODAY),
        row("Today small", None, last_contact=date(2026, 3, 6), last_outcome=Outcome.QUOTE_SENT),
        row("Promised", 1, last_contact=date(2026, 3, 4), last_outcome=Outcome.CALL_BACK),
    ]
    ordered = [r.prospect.company for r in priority.in_order(rows, TODAY)]
    assert ordered == [
        "Promised",
        "New big",  # same day, by value
        "Quote",
        "Late 9 days small",  # overdue: the oldest first, whatever its value
        "Late 2 days big",
        "Late 2 days small",
        "Today big",
        "Today small",  # no value counts as 0
    ]
    reasons = [priority.place(r, TODAY).reason for r in priority.in_order(rows, TODAY)]
    assert reasons[:4] == [
        "1 promised for today",
        "2 new lead, same day",
        "2 quote, same day",
        "3 overdue, oldest first",
    ]
    assert reasons[-1] == "4 today, by value"


def test_ties_go_to_the_company_name_then_the_id_then_the_sheet_row() -> None:
    base = row("Same", 100, stage=Stage.NEW, created=TODAY)
    twins = [
        dataclasses.replace(base, prospect=dataclasses.replace(base.prospect, row=n, id=i))
        for n, i in ((5, "B"), (3, "A"), (4, "A"))
    ]
    other = dataclasses.replace(base, prospect=dataclasses.replace(base.prospect, company="alpha"))
    ordered = priority.in_order([*twins, other], TODAY)
    assert [(r.prospect.company, r.prospect.id, r.prospect.row) for r in ordered] == [
        ("alpha", "Sam", 2),
        ("Same", "A", 3),
        ("Same", "A", 4),
        ("Same", "B", 5),
    ]


# --- Properties -------------------------------------------------------------------------------


@st.composite
def due_lists(draw: st.DrawFn) -> tuple[list[Row], date]:
    """Today's due rows of a random pipeline, with ties in value and company made likely."""
    today = draw(todays)
    rules = draw(rules_strategy())
    calendar = draw(calendars)
    owner = draw(owners)
    size = draw(st.integers(0, 15))
    rows = []
    for number in range(2, size + 2):
        prospect = draw(prospect_strategy(today, row=number))
        prospect = dataclasses.replace(
            prospect,
            company=draw(st.sampled_from(("Acme", "acme", "Brick", "Cobalt", ""))),
            value=draw(st.sampled_from((None, 0.0, 500.0, 500.0, 20_000.0))),
            created=draw(st.sampled_from((prospect.created, today))),
        )
        computed = compute(prospect, rules=rules, calendar=calendar, today=today, owner=owner)
        if computed.is_due(today):
            rows.append(Row(prospect, computed))
    return rows, today


@PROPERTY
@given(due_lists(), st.randoms(use_true_random=False))
def test_the_order_is_total_and_deterministic(
    found: tuple[list[Row], date], shuffler: random.Random
) -> None:
    rows, today = found
    once = priority.in_order(rows, today)
    shuffled = list(rows)
    shuffler.shuffle(shuffled)
    assert priority.in_order(shuffled, today) == once
    keys = [priority.sort_key(r, today) for r in rows]
    assert len(set(keys)) == len(keys), "two rows share a place: the order is not total"


@PROPERTY
@given(due_lists())
def test_promised_then_same_day_then_overdue_then_today(found: tuple[list[Row], date]) -> None:
    rows, today = found
    places = [priority.place(r, today) for r in priority.in_order(rows, today)]
    ranks = [p.rank for p in places]
    assert ranks == sorted(ranks)
    for r, place in zip(priority.in_order(rows, today), places, strict=True):
        day = r.computed.next_follow_up
        assert day is not None
        assert (place.rank is Rank.OVERDUE) == (day < today)
        assert place.days_late == max((today - day).days, 0)


@PROPERTY
@given(due_lists())
def test_within_a_class_older_first_then_larger_value(found: tuple[list[Row], date]) -> None:
    rows, today = found
    places = [priority.place(r, today) for r in priority.in_order(rows, today)]
    for before, after in itertools.pairwise(places):
        if before.rank is not after.rank:
            continue
        assert before.days_late >= after.days_late
        if before.days_late == after.days_late:
            assert before.value >= after.value


# --- What the daily capacity keeps on its day -------------------------------------------------

#: Whether each class of CLASSES is kept on its day by the capacity planner (capacity.py):
#: promises, also broken ones, and same-day leads and quotes on their day; a lead or a quote
#: already late waits its turn like any other overdue call.
PINNED = {
    "promised by a date": True,
    "promised by call back": True,
    "new lead from today": True,
    "quote asked for today": True,
    "missed promise": True,
    "lead from last week": False,
    "quote asked for yesterday": False,
    "second attempt": False,
    "quote follow-up": False,
    "revisit": False,
    "thank-you": False,
}


@pytest.mark.parametrize(
    ("name", "fields"), [(c[0], c[1]) for c in CLASSES], ids=[c[0] for c in CLASSES]
)
def test_pinned_keeps_promises_and_same_day_calls_on_their_day(
    name: str, fields: dict[str, Any]
) -> None:
    assert set(PINNED) == {c[0] for c in CLASSES}
    assert priority.pinned(row(name, **fields), TODAY) is PINNED[name]


def test_a_lead_due_later_is_same_day_on_its_own_day() -> None:
    """Planning the coming days: tomorrow's new lead is kept on tomorrow, as a promise is."""
    tomorrow = date(2026, 3, 12)
    lead = Prospect(2, id="L", company="Lead", owner="Ann", stage=Stage.NEW, created=tomorrow)
    computed = compute(lead, rules=RULES, calendar=CALENDAR, today=TODAY)
    assert computed.next_follow_up == tomorrow
    assert priority.pinned(Row(lead, computed), TODAY)
    tried = Prospect(
        3,
        id="T",
        company="Tried",
        owner="Ann",
        last_contact=date(2026, 3, 10),
        last_outcome=Outcome.NO_ANSWER,
        attempts=1,
    )
    computed = compute(tried, rules=RULES, calendar=CALENDAR, today=TODAY)
    assert computed.next_follow_up is not None and computed.next_follow_up > TODAY
    assert not priority.pinned(Row(tried, computed), TODAY)
