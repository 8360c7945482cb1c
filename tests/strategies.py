"""Hypothesis strategies for prospects, rules and calendars, within the ranges config allows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from types import MappingProxyType

from hypothesis import settings
from hypothesis import strategies as st

from sheetfollow.calendar import BusinessCalendar
from sheetfollow.config import Cadence, Rules
from sheetfollow.models import Outcome, Owner, Problem, Prospect, Stage

#: Enough examples to find the corners, few enough that a file runs in seconds.
PROPERTY = settings(max_examples=200, deadline=None)

FIRST_TODAY = date(2020, 1, 1)
LAST_TODAY = date(2030, 12, 31)

#: Built once: holiday tables are slow to build and calendars are shared in the product too.
CALENDARS: tuple[BusinessCalendar, ...] = (
    BusinessCalendar(),
    BusinessCalendar(country="NL"),
    BusinessCalendar(country="DE"),
    BusinessCalendar(country="DK"),
    BusinessCalendar(country="ES", subdivision="CT"),
    BusinessCalendar(country="GB", subdivision="ENG"),
    # A Friday-Saturday weekend with a company week off around the turn of 2025/2026.
    BusinessCalendar(
        country="NL",
        weekend=(4, 5),
        days_off=tuple(date(2025, 12, 22) + timedelta(days=i) for i in range(14)),
    ),
)

#: Segments as people type them; "Capital " must find the "capital" profile.
SEGMENTS = ("", "capital", "Capital ", "consumables", "retail")

#: Stages that keep a row in the active pipeline (no sale, no terminal state).
PIPELINE_STAGES: tuple[Stage | None, ...] = (
    None,
    Stage.NEW,
    Stage.CONTACTED,
    Stage.INTERESTED,
    Stage.QUOTE,
)

calendars = st.sampled_from(CALENDARS)
todays = st.dates(FIRST_TODAY, LAST_TODAY)

gaps = st.lists(st.integers(0, 30), min_size=1, max_size=8).map(tuple)
cadence_strategy = st.builds(
    Cadence,
    gaps=gaps,
    max_attempts=st.none() | st.integers(1, 20),
)
_profile_keys = st.sampled_from(
    ("default", "capital", "consumables", "capital/quote", "consumables/new", "retail/contacted")
)
cadences = st.dictionaries(_profile_keys, cadence_strategy, max_size=4).map(MappingProxyType)


@st.composite
def rules_strategy(draw: st.DrawFn) -> Rules:
    """Rules anywhere inside the ranges the config loader accepts."""
    min_attempts = draw(st.integers(1, 20))
    return Rules(
        cadences=draw(cadences),
        min_gap=draw(st.integers(0, 20)),
        min_gap_after=draw(st.integers(0, 10)),
        min_attempts=min_attempts,
        max_attempts=draw(st.integers(min_attempts, 20)),
        window_days=draw(st.integers(1, 365)),
        quote_follow_up=draw(st.integers(0, 30)),
        reached_follow_up=draw(st.integers(0, 30)),
        thank_you_days=draw(st.integers(0, 30)),
        checkin_days=draw(st.integers(0, 30)),
        review_months=draw(st.integers(0, 24)),
        delegate_below=draw(st.none() | st.floats(0, 100_000, allow_nan=False)),
    )


def _near(today: date, before: int, after: int) -> st.SearchStrategy[date]:
    return st.integers(-before, after).map(lambda days: today + timedelta(days=days))


def _sometimes(
    values: st.SearchStrategy[date], blank_one_in: int
) -> st.SearchStrategy[date | None]:
    """Blank in about one of `blank_one_in` rows: most rows carry the date, not all."""
    blank = st.integers(1, blank_one_in).map(lambda n: n == 1)
    return st.tuples(blank, values).map(lambda pair: None if pair[0] else pair[1])


def _mostly_blank(values: st.SearchStrategy[date]) -> st.SearchStrategy[date | None]:
    """A date in about one row of three, like Follow up on in a real sheet."""
    shown = st.integers(1, 3).map(lambda n: n == 1)
    return st.tuples(shown, values).map(lambda pair: pair[1] if pair[0] else None)


@st.composite
def prospect_strategy(
    draw: st.DrawFn,
    today: date,
    *,
    row: int = 2,
    stages: tuple[Stage | None, ...] | None = None,
    outcomes: tuple[Outcome | None, ...] | None = None,
) -> Prospect:
    """A parsed row without problems; dates scattered around today (a few in the future)."""
    stage_choices = stages if stages is not None else (None, *Stage)
    outcome_choices = outcomes if outcomes is not None else (None, *Outcome)
    return Prospect(
        row=row,
        id=f"P-{row}",
        company=f"Company {row}",
        owner="Ann",
        stage=draw(st.sampled_from(stage_choices)),
        segment=draw(st.sampled_from(SEGMENTS)),
        value=draw(st.none() | st.floats(0, 100_000, allow_nan=False)),
        created=draw(_sometimes(_near(today, 500, 10), 4)),
        # Recent contacts make due and overdue rows; old ones make dead rows.
        last_contact=draw(_sometimes(_near(today, 20, 3) | _near(today, 400, 5), 4)),
        last_outcome=draw(st.sampled_from(outcome_choices)),
        attempts=draw(st.integers(0, 25)),
        follow_up_on=draw(_mostly_blank(_near(today, 60, 120))),
    )


problems = st.lists(
    st.builds(
        Problem,
        ref=st.sampled_from(("Prospects!J7", "Prospects!L7", "Owners!B3")),
        message=st.sampled_from(("not a date", "unknown outcome 'maybe'", "no email")),
    ),
    min_size=1,
    max_size=4,
).map(tuple)

owners = st.none() | st.builds(
    Owner,
    name=st.just("Ann"),
    email=st.just("ann@example.com"),
    delegate=st.sampled_from(("", "Bob")),
)


@dataclass(frozen=True)
class Case:
    """Everything compute() needs for one row."""

    prospect: Prospect
    rules: Rules
    calendar: BusinessCalendar
    today: date
    owner: Owner | None


@st.composite
def cases(
    draw: st.DrawFn,
    *,
    stages: tuple[Stage | None, ...] | None = None,
    outcomes: tuple[Outcome | None, ...] | None = None,
) -> Case:
    today = draw(todays)
    if stages is None and draw(st.booleans()):
        # Half the rows in the open pipeline, where most of the rules live.
        stages = PIPELINE_STAGES
    return Case(
        prospect=draw(prospect_strategy(today, stages=stages, outcomes=outcomes)),
        rules=draw(rules_strategy()),
        calendar=draw(calendars),
        today=today,
        owner=draw(owners),
    )
