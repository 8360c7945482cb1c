"""The cadence engine, rule by rule (tables) and as a whole (properties)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date, timedelta
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import PIPELINE_STAGES, PROPERTY, Case, cases, problems, prospect_strategy

from sheetfollow.calendar import BusinessCalendar
from sheetfollow.config import Cadence, Rules
from sheetfollow.models import Computed, Outcome, Owner, Problem, Prospect, Stage, Status
from sheetfollow.rules import assigned_to, cadence_for, compute, fmt_day

TODAY = date(2026, 11, 18)  # a Wednesday
MON_2 = date(2026, 11, 2)
MON_16 = date(2026, 11, 16)
NL = BusinessCalendar(country="NL")
PLAIN = BusinessCalendar()
DEFAULTS = Rules()
#: The default cadence without the "not pushy" floor, to see the bare gaps.
NO_FLOOR = Rules(min_gap=0, max_attempts=20, window_days=365)


def row(**fields: Any) -> Prospect:
    return Prospect(row=7, id="P-7", company="Acme", owner="Ann", **fields)


def run(
    prospect: Prospect,
    *,
    rules: Rules = DEFAULTS,
    calendar: BusinessCalendar = NL,
    today: date = TODAY,
    owner: Owner | None = None,
) -> Computed:
    return compute(prospect, rules=rules, calendar=calendar, today=today, owner=owner)


def profiles(**by_key: Cadence) -> Mapping[str, Cadence]:
    """Cadence profiles by key; a double underscore stands for the '/' of 'segment/stage'."""
    return MappingProxyType({key.replace("__", "/"): value for key, value in by_key.items()})


def test_fmt_day_reads_like_a_sentence() -> None:
    assert fmt_day(date(2026, 11, 24)) == "Tue 24 Nov 2026"
    assert fmt_day(date(2026, 11, 2)) == "Mon 2 Nov 2026"


# --- new leads ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("created", "today", "expected", "status", "why"),
    [
        (
            TODAY,
            TODAY,
            TODAY,
            Status.NEW,
            "First call is due today: a new lead from Wed 18 Nov 2026.",
        ),
        (
            date(2026, 11, 14),  # a Saturday: due the Monday
            TODAY,
            MON_16,
            Status.OVERDUE,
            "First call was due Mon 16 Nov 2026 (2 days ago): a new lead from Sat 14 Nov 2026.",
        ),
        (
            date(2026, 11, 17),
            TODAY,
            date(2026, 11, 17),
            Status.OVERDUE,
            "First call was due Tue 17 Nov 2026 (1 day ago): a new lead from Tue 17 Nov 2026.",
        ),
        (
            date(2026, 11, 19),
            TODAY,
            date(2026, 11, 19),
            Status.NEW,
            "First call on Thu 19 Nov 2026: a new lead from Thu 19 Nov 2026.",
        ),
        (
            None,
            TODAY,
            TODAY,
            Status.NEW,
            "First call is due today: a new lead from Wed 18 Nov 2026.",
        ),
        (
            date(2026, 12, 25),  # Christmas in the Netherlands, then a weekend
            date(2026, 12, 25),
            date(2026, 12, 28),
            Status.NEW,
            "First call on Mon 28 Dec 2026: a new lead from Fri 25 Dec 2026.",
        ),
    ],
)
def test_a_new_lead_is_due_the_same_business_day(
    created: date | None, today: date, expected: date, status: Status, why: str
) -> None:
    result = run(row(created=created), today=today)
    assert result == Computed(expected, status, "1 of 5", why, "Ann")


def test_a_new_lead_waits_for_the_first_gap_of_its_profile() -> None:
    rules = Rules(cadences=profiles(default=Cadence((2, 3))))
    result = run(row(created=MON_16), rules=rules)
    assert (result.next_follow_up, result.status) == (TODAY, Status.NEW)


# --- what the last outcome asks for ---------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "today", "expected", "status", "why"),
    [
        (
            Outcome.INTERESTED,
            MON_16,
            MON_16,
            Status.DUE,
            "Quote is due today: interested on Mon 16 Nov 2026, "
            "so the quote goes out the same day.",
        ),
        (
            Outcome.INTERESTED,
            TODAY,
            MON_16,
            Status.OVERDUE,
            "Quote was due Mon 16 Nov 2026 (2 days ago): interested on Mon 16 Nov 2026, "
            "so the quote goes out the same day.",
        ),
        (
            Outcome.QUOTE_SENT,
            TODAY,
            date(2026, 11, 19),
            Status.SCHEDULED,
            "Quote follow-up on Thu 19 Nov 2026: 3 business days after the quote sent on "
            "Mon 16 Nov 2026.",
        ),
        (
            Outcome.REACHED,
            TODAY,
            date(2026, 11, 23),
            Status.SCHEDULED,
            "Next touch on Mon 23 Nov 2026: 5 business days after talking on Mon 16 Nov 2026 "
            "without a decision.",
        ),
        # A call back without a date (the sheet's check flags it) waits like a conversation.
        (
            Outcome.CALL_BACK,
            TODAY,
            date(2026, 11, 23),
            Status.SCHEDULED,
            "Next touch on Mon 23 Nov 2026: 5 business days after talking on Mon 16 Nov 2026 "
            "without a decision.",
        ),
    ],
)
def test_each_answered_outcome_sets_its_own_gap(
    outcome: Outcome, today: date, expected: date, status: Status, why: str
) -> None:
    prospect = row(created=MON_2, last_contact=MON_16, last_outcome=outcome, attempts=0)
    assert run(prospect, today=today) == Computed(expected, status, "1 of 5", why, "Ann")


def test_interest_shown_on_a_weekend_is_answered_on_the_next_business_day() -> None:
    saturday = date(2026, 11, 21)
    result = run(row(last_contact=saturday, last_outcome=Outcome.INTERESTED), today=saturday)
    assert (result.next_follow_up, result.status) == (date(2026, 11, 23), Status.SCHEDULED)


def test_the_gaps_after_a_quote_and_a_conversation_come_from_the_rules() -> None:
    rules = Rules(quote_follow_up=1, reached_follow_up=10)
    quote = run(row(last_contact=MON_16, last_outcome=Outcome.QUOTE_SENT), rules=rules)
    assert quote.next_follow_up == date(2026, 11, 17)
    assert "1 business day after the quote sent" in quote.why
    reached = run(row(last_contact=MON_16, last_outcome=Outcome.REACHED), rules=rules)
    assert reached.next_follow_up == date(2026, 11, 30)


def test_a_call_back_with_a_date_is_snoozed_until_that_date() -> None:
    prospect = row(
        last_contact=MON_16, last_outcome=Outcome.CALL_BACK, follow_up_on=date(2026, 11, 27)
    )
    assert run(prospect) == Computed(
        date(2026, 11, 27),
        Status.SNOOZED,
        "1 of 5",
        "Snoozed until Fri 27 Nov 2026: a follow-up date was set by hand.",
        "Ann",
    )


# --- the cadence of unanswered attempts -----------------------------------------------------


@pytest.mark.parametrize(
    ("attempts", "expected", "step"),
    [
        (0, date(2026, 11, 4), "2 of 20"),  # a logged contact is one attempt: gaps[1] = 2
        (1, date(2026, 11, 4), "2 of 20"),
        (2, date(2026, 11, 9), "3 of 20"),  # gaps[2] = 5
        (3, date(2026, 11, 11), "4 of 20"),  # gaps[3] = 7
        (4, date(2026, 11, 11), "5 of 20"),  # gaps[4] = 7
        (9, date(2026, 11, 11), "10 of 20"),  # past the end the last gap repeats
    ],
)
def test_unanswered_attempts_follow_the_cadence(attempts: int, expected: date, step: str) -> None:
    prospect = row(
        created=MON_2, last_contact=MON_2, last_outcome=Outcome.NO_ANSWER, attempts=attempts
    )
    result = run(prospect, rules=NO_FLOOR, today=MON_2)
    assert (result.next_follow_up, result.status, result.step) == (expected, Status.SCHEDULED, step)


def test_the_why_of_an_attempt_names_the_gap_and_the_last_touch() -> None:
    prospect = row(last_contact=MON_2, last_outcome=Outcome.VOICEMAIL, attempts=2)
    result = run(prospect, rules=NO_FLOOR, today=MON_2)
    assert result.why == (
        "Attempt 3 on Mon 9 Nov 2026: 5 business days after the voicemail on Mon 2 Nov 2026."
    )
    blank = run(row(last_contact=MON_2, attempts=2), rules=NO_FLOOR, today=MON_2)
    assert blank.why.endswith("5 business days after the touch on Mon 2 Nov 2026.")


@pytest.mark.parametrize(
    ("attempts", "expected"),
    [(1, date(2026, 11, 3)), (2, date(2026, 11, 5)), (12, date(2026, 11, 5))],
)
def test_the_last_gap_of_a_profile_repeats(attempts: int, expected: date) -> None:
    rules = dataclasses.replace(NO_FLOOR, cadences=profiles(default=Cadence((0, 1, 3))))
    prospect = row(last_contact=MON_2, last_outcome=Outcome.NO_ANSWER, attempts=attempts)
    assert run(prospect, rules=rules, today=MON_2).next_follow_up == expected


SLOW = Cadence((1, 10, 10, 15), max_attempts=7)
FAST_QUOTE = Cadence((0, 1, 1))
SEGMENTED = Rules(
    min_gap=0,
    cadences=profiles(default=Cadence(), capital=SLOW, capital__quote=FAST_QUOTE),
)


@pytest.mark.parametrize(
    ("segment", "stage", "expected"),
    [
        ("capital", None, SLOW),
        ("Capital ", Stage.CONTACTED, SLOW),  # as typed: case and spaces do not matter
        ("CAPITAL", Stage.QUOTE, FAST_QUOTE),  # a segment/stage profile beats the segment's
        ("retail", Stage.QUOTE, Cadence()),
        ("", None, Cadence()),
    ],
)
def test_cadence_for_picks_the_most_specific_profile(
    segment: str, stage: Stage | None, expected: Cadence
) -> None:
    assert cadence_for(row(segment=segment, stage=stage), SEGMENTED) == expected


def test_without_a_default_profile_the_built_in_cadence_applies() -> None:
    rules = Rules(cadences=profiles(capital=SLOW))
    assert cadence_for(row(segment="retail"), rules) == Cadence()


def test_a_segment_profile_sets_the_gaps_and_the_attempt_limit() -> None:
    new = run(row(segment="capital", created=MON_2), rules=SEGMENTED, today=MON_2)
    assert (new.next_follow_up, new.step) == (date(2026, 11, 3), "1 of 7")

    touched = row(segment="capital", last_contact=MON_2, last_outcome=Outcome.NO_ANSWER, attempts=1)
    result = run(touched, rules=SEGMENTED, today=MON_2)
    assert (result.next_follow_up, result.step) == (MON_16, "2 of 7")

    # Five unanswered attempts kill a default prospect but not a capital-goods one.
    five = dataclasses.replace(touched, attempts=5)
    alive = run(five, rules=SEGMENTED, today=MON_2)
    assert (alive.status, alive.next_follow_up, alive.step) == (
        Status.SCHEDULED,
        date(2026, 11, 23),
        "6 of 7",
    )
    assert run(dataclasses.replace(five, segment="retail"), rules=SEGMENTED).status is Status.DEAD
    dead = run(dataclasses.replace(five, attempts=7), rules=SEGMENTED, today=MON_2)
    assert (dead.status, dead.step) == (Status.DEAD, "7 of 7")


def test_a_segment_and_stage_profile_applies_to_that_stage_only() -> None:
    quote = row(segment="capital", stage=Stage.QUOTE, last_contact=MON_2, attempts=1)
    assert run(quote, rules=SEGMENTED, today=MON_2).next_follow_up == date(2026, 11, 3)
    assert run(quote, rules=SEGMENTED, today=MON_2).step == "2 of 5"


@pytest.mark.parametrize(
    ("attempts", "min_gap_after", "expected", "why"),
    [
        (1, 2, date(2026, 11, 3), "1 business day after the no answer on Mon 2 Nov 2026"),
        (2, 2, date(2026, 11, 9), "5 business days after the no answer on Mon 2 Nov 2026"),
        (3, 2, date(2026, 11, 9), "5 business days after the no answer on Mon 2 Nov 2026"),
        (2, 3, date(2026, 11, 3), "1 business day after the no answer on Mon 2 Nov 2026"),
    ],
)
def test_no_two_touches_closer_than_min_gap_once_enough_attempts_were_made(
    attempts: int, min_gap_after: int, expected: date, why: str
) -> None:
    rules = Rules(
        cadences=profiles(default=Cadence((0, 1, 1, 1))), min_gap=5, min_gap_after=min_gap_after
    )
    prospect = row(last_contact=MON_2, last_outcome=Outcome.NO_ANSWER, attempts=attempts)
    result = run(prospect, rules=rules, today=MON_2)
    assert result.next_follow_up == expected
    assert why in result.why


# --- dead and alive ---------------------------------------------------------------------------


def test_dead_after_max_attempts_without_an_answer() -> None:
    prospect = row(created=MON_2, last_contact=MON_2, last_outcome=Outcome.NO_ANSWER, attempts=5)
    assert run(prospect) == Computed(
        None,
        Status.DEAD,
        "5 of 5",
        "Dead: 5 attempts without an answer, the last on Mon 2 Nov 2026.",
        "Ann",
    )
    voicemail = run(dataclasses.replace(prospect, last_outcome=Outcome.VOICEMAIL, attempts=6))
    assert (voicemail.status, voicemail.next_follow_up) == (Status.DEAD, None)
    assert not voicemail.is_due(TODAY)


def test_one_attempt_short_of_the_limit_is_still_alive() -> None:
    prospect = row(created=MON_2, last_contact=MON_2, last_outcome=Outcome.NO_ANSWER, attempts=4)
    assert run(prospect) == Computed(
        date(2026, 11, 11),
        Status.OVERDUE,
        "5 of 5",
        "Attempt 5 was due Wed 11 Nov 2026 (7 days ago): 7 business days after the no answer "
        "on Mon 2 Nov 2026.",
        "Ann",
    )


@pytest.mark.parametrize(
    ("last_contact", "dead"),
    [
        (date(2026, 8, 1), True),
        (TODAY - timedelta(days=91), True),
        (TODAY - timedelta(days=90), False),  # the window is inclusive
    ],
)
def test_dead_when_nothing_moved_within_the_window(last_contact: date, dead: bool) -> None:
    prospect = row(
        created=date(2026, 1, 5),
        last_contact=last_contact,
        last_outcome=Outcome.NO_ANSWER,
        attempts=2,
    )
    result = run(prospect)
    if dead:
        assert (result.status, result.next_follow_up, result.step) == (Status.DEAD, None, "2 of 5")
        days = (TODAY - last_contact).days
        assert result.why == (
            f"Dead: no progress for {days} days since {fmt_day(last_contact)} (the limit is 90)."
        )
    else:
        assert result.status is Status.OVERDUE


def test_the_window_counts_from_the_last_contact_not_from_created() -> None:
    # Created long ago, but tried recently: still alive.
    recent = row(
        created=date(2026, 1, 5), last_contact=MON_16, last_outcome=Outcome.NO_ANSWER, attempts=2
    )
    assert run(recent).status is Status.SCHEDULED


def test_never_dead_before_min_attempts() -> None:
    # Created a long time ago, but only one unanswered attempt: the window does not kill it.
    prospect = row(
        created=date(2025, 1, 1), last_contact=MON_16, last_outcome=Outcome.NO_ANSWER, attempts=1
    )
    assert run(prospect) == Computed(
        TODAY,
        Status.DUE,
        "2 of 5",
        "Attempt 2 is due today: 2 business days after the no answer on Mon 16 Nov 2026.",
        "Ann",
    )
    # A profile limit below min_attempts waits for min_attempts.
    rules = Rules(min_attempts=3, cadences=profiles(default=Cadence(max_attempts=2)))
    two = dataclasses.replace(prospect, created=MON_2, attempts=2)
    assert run(two, rules=rules).status is Status.SCHEDULED
    three = run(dataclasses.replace(two, attempts=3), rules=rules)
    assert (three.status, three.why) == (
        Status.DEAD,
        "Dead: 3 attempts without an answer, the last on Mon 16 Nov 2026.",
    )


def test_a_logged_contact_counts_as_an_attempt_even_if_attempts_is_blank() -> None:
    rules = Rules(min_attempts=1, max_attempts=1)
    prospect = row(last_contact=MON_16, last_outcome=Outcome.NO_ANSWER, attempts=0)
    result = run(prospect, rules=rules)
    assert (result.status, result.step) == (Status.DEAD, "1 of 1")


@pytest.mark.parametrize(
    ("outcome", "expected", "why"),
    [
        (Outcome.REACHED, date(2026, 11, 23), "Next touch on Mon 23 Nov 2026"),
        (Outcome.INTERESTED, MON_16, "Quote was due Mon 16 Nov 2026"),
        (Outcome.QUOTE_SENT, date(2026, 11, 19), "Quote follow-up on Thu 19 Nov 2026"),
    ],
)
def test_a_contact_that_gets_through_brings_a_dead_prospect_back(
    outcome: Outcome, expected: date, why: str
) -> None:
    # Nine attempts and a year old: dead by both limits, until somebody answered.
    prospect = row(created=date(2025, 1, 1), last_contact=MON_16, attempts=9)
    dead = run(dataclasses.replace(prospect, last_outcome=Outcome.NO_ANSWER))
    assert dead.status is Status.DEAD
    alive = run(dataclasses.replace(prospect, last_outcome=outcome))
    assert alive.status is not Status.DEAD
    assert (alive.next_follow_up, alive.step) == (expected, "1 of 5")
    assert alive.why.startswith(why)


# --- terminal states --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prospect", "why"),
    [
        (
            row(last_contact=MON_2, last_outcome=Outcome.NOT_INTERESTED),
            "Not interested on Mon 2 Nov 2026; kept so it is never imported again.",
        ),
        (
            row(stage=Stage.NOT_INTERESTED),
            "Not interested; kept so it is never imported again.",
        ),
        # Not even a date typed by hand revives it.
        (
            row(
                stage=Stage.NOT_INTERESTED,
                last_contact=MON_2,
                last_outcome=Outcome.REACHED,
                follow_up_on=date(2026, 12, 1),
            ),
            "Not interested on Mon 2 Nov 2026; kept so it is never imported again.",
        ),
    ],
)
def test_not_interested_is_terminal(prospect: Prospect, why: str) -> None:
    assert run(prospect) == Computed(None, Status.NOT_INTERESTED, "", why, "Ann")


LOST = row(last_contact=MON_2, last_outcome=Outcome.LOST)
EASTER_MONDAY = date(2027, 3, 29)
AFTER_EASTER = date(2027, 3, 30)


def test_lost_without_a_revisit_date_has_no_follow_up() -> None:
    expected = Computed(
        None, Status.LOST, "", "Lost on Mon 2 Nov 2026; no revisit date set.", "Ann"
    )
    assert run(LOST) == expected
    # A date on or before the last contact is an old one, not a revisit date.
    assert run(dataclasses.replace(LOST, follow_up_on=date(2026, 10, 1))) == expected
    assert run(dataclasses.replace(LOST, follow_up_on=MON_2)) == expected
    assert run(row(stage=Stage.LOST)).status is Status.LOST


@pytest.mark.parametrize(
    ("today", "status", "why"),
    [
        (TODAY, Status.LOST, "Lost on Mon 2 Nov 2026; revisit on Tue 30 Mar 2027."),
        # The typed date is Easter Monday; the revisit is the working day after it.
        (EASTER_MONDAY, Status.LOST, "Lost on Mon 2 Nov 2026; revisit on Tue 30 Mar 2027."),
        (AFTER_EASTER, Status.DUE, "Revisit is due today: lost, with a revisit date set."),
        (
            date(2027, 4, 2),
            Status.OVERDUE,
            "Revisit was due Tue 30 Mar 2027 (3 days ago): lost, with a revisit date set.",
        ),
    ],
)
def test_lost_with_a_revisit_date_comes_back_on_that_date(
    today: date, status: Status, why: str
) -> None:
    prospect = dataclasses.replace(LOST, follow_up_on=EASTER_MONDAY)
    result = run(prospect, today=today)
    assert result == Computed(AFTER_EASTER, status, "revisit", why, "Ann")
    assert result.is_due(today) is (today >= AFTER_EASTER)


# --- after the sale ---------------------------------------------------------------------------


def test_a_win_asks_for_a_thank_you() -> None:
    won = row(stage=Stage.WON, last_contact=MON_16, last_outcome=Outcome.WON)
    result = run(won)
    assert result == Computed(
        date(2026, 11, 17),
        Status.WON,
        "thank-you",
        "Won on Mon 16 Nov 2026: send a thank-you by Tue 17 Nov 2026.",
        "Ann",
    )
    # Never overdue in the Status column, yet still on the call list.
    assert result.is_due(TODAY)
    christmas = run(dataclasses.replace(won, last_contact=date(2026, 12, 24)))
    assert christmas.next_follow_up == date(2026, 12, 28)
    by_hand = run(dataclasses.replace(won, follow_up_on=date(2026, 11, 27)))
    assert (by_hand.next_follow_up, by_hand.step) == (date(2026, 11, 27), "thank-you")


def test_a_win_already_thanked_waits_for_delivery() -> None:
    thanked = row(stage=Stage.WON, last_contact=MON_16, last_outcome=Outcome.REACHED)
    assert run(thanked) == Computed(None, Status.WON, "", "Won; waiting for delivery.", "Ann")
    by_hand = run(dataclasses.replace(thanked, follow_up_on=date(2026, 11, 27)))
    assert by_hand == Computed(
        date(2026, 11, 27),
        Status.WON,
        "follow-up",
        "Won; follow-up set by hand for Fri 27 Nov 2026.",
        "Ann",
    )


def test_a_delivery_asks_for_a_check_in_call() -> None:
    delivered = row(stage=Stage.WON, last_contact=MON_16, last_outcome=Outcome.DELIVERED)
    assert run(delivered) == Computed(
        date(2026, 11, 23),
        Status.CUSTOMER,
        "check-in",
        "Delivered on Mon 16 Nov 2026: check-in call on Mon 23 Nov 2026.",
        "Ann",
    )


def test_a_customer_without_reviews_has_no_follow_up() -> None:
    customer = row(
        stage=Stage.CUSTOMER, last_contact=date(2026, 1, 31), last_outcome=Outcome.REACHED
    )
    expected = Computed(None, Status.CUSTOMER, "", "Customer; no periodic review set.", "Ann")
    assert run(customer) == expected
    # Reviews count from the last contact; without one there is nothing to count from.
    reviews = Rules(review_months=3)
    assert run(dataclasses.replace(customer, last_contact=None), rules=reviews) == expected


@pytest.mark.parametrize(
    ("last_contact", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 3, 2)),  # 28 Feb 2026 is a Saturday
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # a leap year
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 11, 30), 3, date(2027, 3, 1)),  # 28 Feb 2027 is a Sunday
        (date(2026, 10, 15), 12, date(2027, 10, 15)),
        (date(2026, 3, 27), 1, date(2026, 4, 28)),  # 27 Apr: King's Day
    ],
)
def test_a_customer_is_reviewed_every_review_months(
    last_contact: date, months: int, expected: date
) -> None:
    customer = row(stage=Stage.CUSTOMER, last_contact=last_contact, last_outcome=Outcome.REACHED)
    result = run(customer, rules=Rules(review_months=months), today=last_contact)
    assert (result.next_follow_up, result.status, result.step) == (
        expected,
        Status.CUSTOMER,
        "review",
    )
    every = "every month" if months == 1 else f"every {months} months"
    assert result.why.endswith(f"{every}, next {fmt_day(expected)}.")


def test_a_delivered_row_becomes_a_customer_once_the_check_in_is_made() -> None:
    checked_in = row(stage=Stage.DELIVERED, last_contact=MON_16, last_outcome=Outcome.REACHED)
    result = run(checked_in, rules=Rules(review_months=6))
    # 16 May 2027 is a Sunday and the Monday is Whit Monday in the Netherlands.
    assert (result.next_follow_up, result.status) == (date(2027, 5, 18), Status.CUSTOMER)
    by_hand = run(dataclasses.replace(checked_in, follow_up_on=date(2026, 12, 1)))
    assert (by_hand.next_follow_up, by_hand.step) == (date(2026, 12, 1), "follow-up")


# --- after the sale: an unanswered call retries the pending step ------------------------------

FRI_27 = date(2026, 11, 27)
REVIEWS = Rules(review_months=3)


def after_sale(stage: Stage, outcome: Outcome, attempts: int, **fields: Any) -> Prospect:
    """A row in the after-sale phase whose last touch (on Mon 16 Nov unless told) was outcome.

    An unanswered call leaves the Stage as it was (mark never moves a stage backwards)."""
    fields.setdefault("last_contact", MON_16)
    return row(stage=stage, last_outcome=outcome, attempts=attempts, **fields)


@pytest.mark.parametrize(
    ("prospect", "rules", "today", "expected"),
    [
        pytest.param(
            after_sale(Stage.WON, Outcome.NO_ANSWER, 1),
            DEFAULTS,
            TODAY,
            Computed(
                TODAY,  # gaps[1] = 2 business days after Mon 16 Nov
                Status.WON,
                "thank-you",
                "Thank-you call again is due today: the one on Mon 16 Nov 2026 got no answer "
                "(attempt 1 of 5).",
                "Ann",
            ),
            id="won+no-answer",
        ),
        pytest.param(
            # A blank Attempts still counts the logged call as one attempt.
            after_sale(Stage.WON, Outcome.VOICEMAIL, 0),
            DEFAULTS,
            TODAY,
            Computed(
                TODAY,
                Status.WON,
                "thank-you",
                "Thank-you call again is due today: the one on Mon 16 Nov 2026 went to voicemail "
                "(attempt 1 of 5).",
                "Ann",
            ),
            id="won+voicemail",
        ),
        pytest.param(
            after_sale(Stage.DELIVERED, Outcome.VOICEMAIL, 1, last_contact=FRI_27),
            DEFAULTS,
            FRI_27,
            Computed(
                date(2026, 12, 1),  # two business days after a Friday: the Tuesday
                Status.CUSTOMER,
                "check-in",
                "Check-in call again on Tue 1 Dec 2026: the one on Fri 27 Nov 2026 went to "
                "voicemail (attempt 1 of 5).",
                "Ann",
            ),
            id="delivered+voicemail",
        ),
        pytest.param(
            after_sale(Stage.DELIVERED, Outcome.NO_ANSWER, 1, last_contact=MON_2),
            DEFAULTS,
            TODAY,
            Computed(
                date(2026, 11, 4),
                Status.CUSTOMER,  # never overdue in the Status column
                "check-in",
                "Check-in call again was due Wed 4 Nov 2026 (14 days ago): the one on "
                "Mon 2 Nov 2026 got no answer (attempt 1 of 5).",
                "Ann",
            ),
            id="delivered+no-answer-overdue",
        ),
        pytest.param(
            after_sale(Stage.CUSTOMER, Outcome.NO_ANSWER, 2),
            REVIEWS,
            TODAY,
            Computed(
                date(2026, 11, 23),  # gaps[2] = 5, and min_gap 5 after 2 attempts
                Status.CUSTOMER,
                "review",
                "Review call again on Mon 23 Nov 2026: the one on Mon 16 Nov 2026 got no answer "
                "(attempt 2 of 5).",
                "Ann",
            ),
            id="customer+no-answer+reviews",
        ),
        pytest.param(
            # Without periodic reviews a customer has no step pending: nothing to retry.
            after_sale(Stage.CUSTOMER, Outcome.NO_ANSWER, 2),
            DEFAULTS,
            TODAY,
            Computed(None, Status.CUSTOMER, "", "Customer; no periodic review set.", "Ann"),
            id="customer+no-answer+no-reviews",
        ),
    ],
)
def test_an_unanswered_after_sale_call_is_tried_again(
    prospect: Prospect, rules: Rules, today: date, expected: Computed
) -> None:
    result = run(prospect, rules=rules, today=today)
    assert result == expected
    assert result.is_due(today) is (
        expected.next_follow_up is not None and expected.next_follow_up <= today
    )


ONE_DAY = Rules(cadences=profiles(default=Cadence((0, 1))))


@pytest.mark.parametrize(
    ("prospect", "calendar", "expected"),
    [
        # A Friday attempt, one business day later: the Monday.
        (
            after_sale(Stage.DELIVERED, Outcome.NO_ANSWER, 1, last_contact=date(2026, 11, 20)),
            NL,
            date(2026, 11, 23),
        ),
        # Christmas Eve: past Christmas and Boxing Day (a Saturday) in the Netherlands ...
        (
            after_sale(Stage.WON, Outcome.VOICEMAIL, 1, last_contact=date(2026, 12, 24)),
            NL,
            date(2026, 12, 28),
        ),
        # ... but the next day on a calendar without holidays.
        (
            after_sale(Stage.WON, Outcome.VOICEMAIL, 1, last_contact=date(2026, 12, 24)),
            PLAIN,
            date(2026, 12, 25),
        ),
        # King's Day (Tue 27 Apr 2027) is skipped too.
        (
            after_sale(Stage.DELIVERED, Outcome.NO_ANSWER, 1, last_contact=date(2027, 4, 26)),
            NL,
            date(2027, 4, 28),
        ),
    ],
)
def test_an_after_sale_retry_lands_on_a_working_day(
    prospect: Prospect, calendar: BusinessCalendar, expected: date
) -> None:
    result = run(prospect, rules=ONE_DAY, calendar=calendar, today=expected)
    assert result.next_follow_up == expected
    assert calendar.is_working_day(expected)
    assert result.why.startswith(f"{result.step.capitalize()} call again is due today: ")


@pytest.mark.parametrize(
    ("attempts", "rules", "expected", "why"),
    [
        # A cadence gap of 0 is floored at one business day.
        (1, Rules(cadences=profiles(default=Cadence((0, 0)))), date(2026, 11, 17), "attempt 1"),
        # Once min_gap_after attempts were made, no retry comes sooner than min_gap.
        (1, Rules(cadences=profiles(default=Cadence((0, 1, 1)))), date(2026, 11, 17), "attempt 1"),
        (2, Rules(cadences=profiles(default=Cadence((0, 1, 1)))), date(2026, 11, 23), "attempt 2"),
        (
            2,
            Rules(cadences=profiles(default=Cadence((0, 1, 1))), min_gap_after=3),
            date(2026, 11, 17),
            "attempt 2",
        ),
    ],
)
def test_an_after_sale_retry_keeps_the_pipeline_floors(
    attempts: int, rules: Rules, expected: date, why: str
) -> None:
    result = run(after_sale(Stage.DELIVERED, Outcome.NO_ANSWER, attempts), rules=rules)
    assert (result.next_follow_up, result.status, result.step) == (
        expected,
        Status.CUSTOMER,
        "check-in",
    )
    assert f"({why} of 5)." in result.why


THREE_FOR_CAPITAL = Rules(cadences=profiles(default=Cadence(), capital=Cadence(max_attempts=3)))


@pytest.mark.parametrize(
    ("prospect", "rules", "expected"),
    [
        pytest.param(
            after_sale(Stage.WON, Outcome.NO_ANSWER, 5),
            DEFAULTS,
            Computed(
                None,
                Status.WON,
                "",
                "Thank-you call given up after 5 unanswered calls, the last on Mon 16 Nov 2026.",
                "Ann",
            ),
            id="thank-you",
        ),
        pytest.param(
            after_sale(Stage.DELIVERED, Outcome.VOICEMAIL, 6),
            DEFAULTS,
            Computed(
                None,
                Status.CUSTOMER,
                "",
                "Check-in call given up after 6 unanswered calls, the last on Mon 16 Nov 2026.",
                "Ann",
            ),
            id="check-in",
        ),
        pytest.param(
            # The review cycle resumes from the last contact: 16 Feb 2027 is a Tuesday.
            after_sale(Stage.DELIVERED, Outcome.NO_ANSWER, 5),
            REVIEWS,
            Computed(
                date(2027, 2, 16),
                Status.CUSTOMER,
                "review",
                "Check-in call given up after 5 unanswered calls, the last on Mon 16 Nov 2026; "
                "next account review on Tue 16 Feb 2027.",
                "Ann",
            ),
            id="check-in+reviews",
        ),
        pytest.param(
            after_sale(Stage.CUSTOMER, Outcome.NO_ANSWER, 5),
            REVIEWS,
            Computed(
                date(2027, 2, 16),
                Status.CUSTOMER,
                "review",
                "Review call given up after 5 unanswered calls, the last on Mon 16 Nov 2026; "
                "next account review on Tue 16 Feb 2027.",
                "Ann",
            ),
            id="review",
        ),
        pytest.param(
            # The segment's profile sets the limit.
            after_sale(Stage.WON, Outcome.VOICEMAIL, 3, segment="capital"),
            THREE_FOR_CAPITAL,
            Computed(
                None,
                Status.WON,
                "",
                "Thank-you call given up after 3 unanswered calls, the last on Mon 16 Nov 2026.",
                "Ann",
            ),
            id="profile-limit",
        ),
        pytest.param(
            # One short of the limit: tried once more (gaps[4] = 7 business days).
            after_sale(Stage.WON, Outcome.NO_ANSWER, 4),
            DEFAULTS,
            Computed(
                date(2026, 11, 25),
                Status.WON,
                "thank-you",
                "Thank-you call again on Wed 25 Nov 2026: the one on Mon 16 Nov 2026 got no "
                "answer (attempt 4 of 5).",
                "Ann",
            ),
            id="one-short",
        ),
    ],
)
def test_an_after_sale_step_is_given_up_after_max_attempts(
    prospect: Prospect, rules: Rules, expected: Computed
) -> None:
    assert run(prospect, rules=rules) == expected


@pytest.mark.parametrize(
    ("prospect", "rules", "expected"),
    [
        (
            after_sale(Stage.WON, Outcome.NO_ANSWER, 1, follow_up_on=FRI_27),
            DEFAULTS,
            Computed(
                FRI_27,
                Status.WON,
                "follow-up",
                "Won; follow-up set by hand for Fri 27 Nov 2026.",
                "Ann",
            ),
        ),
        # Even past the limit; a Saturday rolls to the Monday.
        (
            after_sale(Stage.DELIVERED, Outcome.VOICEMAIL, 5, follow_up_on=date(2026, 11, 28)),
            REVIEWS,
            Computed(
                date(2026, 11, 30),
                Status.CUSTOMER,
                "follow-up",
                "Customer; follow-up set by hand for Mon 30 Nov 2026.",
                "Ann",
            ),
        ),
        # A date on the day of the last contact is an old one: the review is retried.
        (
            after_sale(Stage.CUSTOMER, Outcome.NO_ANSWER, 1, follow_up_on=MON_16),
            REVIEWS,
            Computed(
                TODAY,
                Status.CUSTOMER,
                "review",
                "Review call again is due today: the one on Mon 16 Nov 2026 got no answer "
                "(attempt 1 of 5).",
                "Ann",
            ),
        ),
    ],
)
def test_a_date_set_by_hand_beats_an_after_sale_retry(
    prospect: Prospect, rules: Rules, expected: Computed
) -> None:
    assert run(prospect, rules=rules) == expected


@pytest.mark.parametrize(
    "outcome", [Outcome.REACHED, Outcome.INTERESTED, Outcome.CALL_BACK, Outcome.QUOTE_SENT]
)
@pytest.mark.parametrize(
    ("stage", "rules", "expected"),
    [
        # The thank-you was made: waiting for delivery.
        (Stage.WON, REVIEWS, Computed(None, Status.WON, "", "Won; waiting for delivery.", "Ann")),
        # The check-in was made: a customer.
        (
            Stage.DELIVERED,
            DEFAULTS,
            Computed(None, Status.CUSTOMER, "", "Customer; no periodic review set.", "Ann"),
        ),
        (
            Stage.CUSTOMER,
            REVIEWS,
            Computed(
                date(2027, 2, 16),
                Status.CUSTOMER,
                "review",
                "Customer: account review every 3 months, next Tue 16 Feb 2027.",
                "Ann",
            ),
        ),
    ],
)
def test_an_answered_after_sale_call_completes_the_step(
    outcome: Outcome, stage: Stage, rules: Rules, expected: Computed
) -> None:
    # Stale unanswered attempts do not matter once a call got through.
    assert run(after_sale(stage, outcome, 4), rules=rules) == expected


# --- dates set by hand ------------------------------------------------------------------------

TOUCHED = row(created=MON_2, last_contact=MON_2, last_outcome=Outcome.NO_ANSWER, attempts=1)


@pytest.mark.parametrize(
    ("follow_up_on", "expected", "status", "why"),
    [
        (
            date(2026, 11, 30),
            date(2026, 11, 30),
            Status.SNOOZED,
            "Snoozed until Mon 30 Nov 2026: a follow-up date was set by hand.",
        ),
        (
            date(2026, 11, 28),  # a Saturday
            date(2026, 11, 30),
            Status.SNOOZED,
            "Snoozed until Mon 30 Nov 2026: a follow-up date was set by hand.",
        ),
        (TODAY, TODAY, Status.DUE, "Follow-up is due today: a date set by hand."),
        (
            date(2026, 11, 13),
            date(2026, 11, 13),
            Status.OVERDUE,
            "Follow-up was due Fri 13 Nov 2026 (5 days ago): a date set by hand.",
        ),
    ],
)
def test_a_date_set_by_hand_beats_the_cadence(
    follow_up_on: date, expected: date, status: Status, why: str
) -> None:
    result = run(dataclasses.replace(TOUCHED, follow_up_on=follow_up_on))
    assert result == Computed(expected, status, "2 of 5", why, "Ann")


@pytest.mark.parametrize("follow_up_on", [date(2026, 10, 20), MON_2])
def test_a_date_set_by_hand_before_the_last_contact_is_ignored(follow_up_on: date) -> None:
    result = run(dataclasses.replace(TOUCHED, follow_up_on=follow_up_on))
    assert result == Computed(
        date(2026, 11, 4),
        Status.OVERDUE,
        "2 of 5",
        "Attempt 2 was due Wed 4 Nov 2026 (14 days ago): 2 business days after the no answer "
        "on Mon 2 Nov 2026.",
        "Ann",
    )


def test_a_date_set_by_hand_applies_to_new_and_dead_rows_too() -> None:
    later = date(2026, 11, 30)
    new = run(row(created=MON_16, follow_up_on=later))
    assert (new.next_follow_up, new.status) == (later, Status.SNOOZED)
    dead = dataclasses.replace(TOUCHED, attempts=5)
    assert run(dead).status is Status.DEAD
    revived = run(dataclasses.replace(dead, follow_up_on=later))
    assert (revived.next_follow_up, revived.status) == (later, Status.SNOOZED)


# --- business days ----------------------------------------------------------------------------


def test_a_gap_that_lands_on_christmas_moves_past_it() -> None:
    quote = row(last_contact=date(2026, 12, 23), last_outcome=Outcome.QUOTE_SENT)
    rules = Rules(quote_follow_up=2)
    assert run(quote, rules=rules, calendar=PLAIN).next_follow_up == date(2026, 12, 25)
    assert run(quote, rules=rules, calendar=NL).next_follow_up == date(2026, 12, 28)


def test_the_owners_weekend_and_holidays_decide_the_day() -> None:
    visit = row(last_contact=date(2026, 4, 27), last_outcome=Outcome.INTERESTED)  # King's Day
    assert run(visit, calendar=NL, today=date(2026, 4, 27)).next_follow_up == date(2026, 4, 28)
    assert run(visit, calendar=PLAIN, today=date(2026, 4, 27)).next_follow_up == date(2026, 4, 27)
    # A Friday-Saturday weekend: a conversation on Thursday 19 Nov waits until Thursday 26.
    fri_sat = BusinessCalendar(weekend=(4, 5))
    talk = row(last_contact=date(2026, 11, 19), last_outcome=Outcome.REACHED)
    assert run(talk, calendar=fri_sat).next_follow_up == date(2026, 11, 26)


# --- delegation -------------------------------------------------------------------------------

ANN = Owner("Ann", email="ann@example.com", delegate="Bob")
BELOW_1000 = Rules(delegate_below=1000)


@pytest.mark.parametrize(
    ("value", "owner", "rules", "expected"),
    [
        (500.0, ANN, BELOW_1000, "Bob"),
        (999.99, ANN, BELOW_1000, "Bob"),
        (1000.0, ANN, BELOW_1000, "Ann"),  # not below the threshold
        (None, ANN, BELOW_1000, "Ann"),  # value unknown
        (500.0, Owner("Ann", email="ann@example.com"), BELOW_1000, "Ann"),  # nobody to delegate to
        (500.0, None, BELOW_1000, "Ann"),  # owner not in the Owners tab
        (500.0, ANN, DEFAULTS, "Ann"),  # delegation switched off
    ],
)
def test_small_prospects_go_to_the_owners_delegate(
    value: float | None, owner: Owner | None, rules: Rules, expected: str
) -> None:
    prospect = row(created=MON_16, value=value)
    assert assigned_to(prospect, owner, rules) == expected
    assert run(prospect, rules=rules, owner=owner).assigned_to == expected


# --- rows that cannot be understood -----------------------------------------------------------


def test_a_row_with_problems_needs_attention_and_names_the_first_cell() -> None:
    problems = (
        Problem("Prospects!J7", "'next tuesday' is not a date"),
        Problem("Prospects!L7", "'maybe' is not an outcome"),
        Problem("Prospects!F7", "Ann has no email address in Owners"),
    )
    # Whatever else the row says, nothing is computed from it.
    prospect = row(last_contact=MON_16, last_outcome=Outcome.INTERESTED, problems=problems)
    assert run(prospect) == Computed(
        None,
        Status.NEEDS_ATTENTION,
        "",
        "Check Prospects!J7: 'next tuesday' is not a date (and 2 more).",
        "Ann",
    )
    one = run(dataclasses.replace(prospect, problems=problems[1:2]))
    assert one.why == "Check Prospects!L7: 'maybe' is not an outcome."
    assert not one.is_due(TODAY)


# --- properties -------------------------------------------------------------------------------


def computed(case: Case, prospect: Prospect | None = None) -> Computed:
    return compute(
        case.prospect if prospect is None else prospect,
        rules=case.rules,
        calendar=case.calendar,
        today=case.today,
        owner=case.owner,
    )


def hand_set(prospect: Prospect) -> bool:
    """Whether the row carries a Follow up on date that counts (after the last contact)."""
    chosen, last = prospect.follow_up_on, prospect.last_contact
    return chosen is not None and (last is None or chosen > last)


def unanswered_attempts(prospect: Prospect) -> int:
    if prospect.last_outcome is not None and not prospect.last_outcome.unanswered:
        return 0
    return max(prospect.attempts, 1 if prospect.last_contact else 0)


PIPELINE = frozenset({Status.NEW, Status.DUE, Status.OVERDUE, Status.SCHEDULED, Status.SNOOZED})
UNANSWERED_OR_BLANK = (None, Outcome.NO_ANSWER, Outcome.VOICEMAIL)
#: Rows still being chased, where the cadence, min_gap and dying rules apply.
chased = cases(stages=PIPELINE_STAGES, outcomes=UNANSWERED_OR_BLANK)
any_case = cases() | chased


@PROPERTY
@given(any_case)
def test_compute_is_deterministic(case: Case) -> None:
    assert computed(case) == computed(case)


@PROPERTY
@given(any_case)
def test_every_follow_up_is_a_working_day_never_before_the_last_contact(case: Case) -> None:
    result = computed(case)
    day, last = result.next_follow_up, case.prospect.last_contact
    if day is not None:
        assert case.calendar.is_working_day(day)
        assert last is None or day >= last


@PROPERTY
@given(chased)
def test_unanswered_touches_are_never_closer_than_min_gap(case: Case) -> None:
    prospect, rules = case.prospect, case.rules
    result = computed(case)
    last = prospect.last_contact
    if last is None or hand_set(prospect) or prospect.attempts < rules.min_gap_after:
        return
    if result.next_follow_up is not None:
        assert result.next_follow_up >= case.calendar.add_business_days(last, rules.min_gap)


@PROPERTY
@given(any_case)
def test_dead_only_after_min_attempts_unanswered(case: Case) -> None:
    result = computed(case)
    if result.status is Status.DEAD:
        assert unanswered_attempts(case.prospect) >= case.rules.min_attempts
        assert result.next_follow_up is None
        assert not result.is_due(case.today)


@PROPERTY
@given(chased)
def test_dead_once_max_attempts_are_reached(case: Case) -> None:
    prospect, rules = case.prospect, case.rules
    limit = cadence_for(prospect, rules).max_attempts or rules.max_attempts
    unanswered = unanswered_attempts(prospect)
    if prospect.last_contact is None or hand_set(prospect):
        return
    if unanswered >= max(limit, rules.min_attempts):
        assert computed(case).status is Status.DEAD


@PROPERTY
@given(any_case)
def test_closed_rows_are_never_due_or_overdue(case: Case) -> None:
    prospect, result = case.prospect, computed(case)
    outcome, stage = prospect.last_outcome, prospect.stage
    # The last outcome decides when it closes the row; else a closed stage does.
    by_outcome = {
        Outcome.NOT_INTERESTED: "not interested",
        Outcome.LOST: "lost",
        Outcome.WON: "won",
        Outcome.DELIVERED: "delivered",
    }
    by_stage = {
        Stage.NOT_INTERESTED: "not interested",
        Stage.LOST: "lost",
        Stage.WON: "won",
        Stage.DELIVERED: "delivered",
        Stage.CUSTOMER: "customer",
    }
    phase = by_outcome.get(outcome) if outcome else None
    if phase is None and stage is not None:
        phase = by_stage.get(stage)
    not_interested, lost, won = (phase == "not interested"), (phase == "lost"), (phase == "won")
    if not_interested:
        assert (result.status, result.next_follow_up) == (Status.NOT_INTERESTED, None)
    if lost and not hand_set(prospect):
        assert (result.status, result.next_follow_up) == (Status.LOST, None)
    if lost and hand_set(prospect):
        assert result.next_follow_up is not None
        assert result.status in (Status.LOST, Status.DUE, Status.OVERDUE)
    if won:
        assert result.status is Status.WON


#: Rows after the sale whose last call got no answer (the Stage still says which step).
unanswered_after_sale = cases(
    stages=(Stage.WON, Stage.DELIVERED, Stage.CUSTOMER),
    outcomes=(Outcome.NO_ANSWER, Outcome.VOICEMAIL),
)
PENDING_STEP = {Stage.WON: "thank-you", Stage.DELIVERED: "check-in", Stage.CUSTOMER: "review"}


@PROPERTY
@given(unanswered_after_sale)
def test_an_unanswered_after_sale_step_is_retried_until_the_limit(case: Case) -> None:
    prospect, rules, result = case.prospect, case.rules, computed(case)
    assert prospect.stage is not None
    assert result.status is (Status.WON if prospect.stage is Stage.WON else Status.CUSTOMER)
    day, last = result.next_follow_up, prospect.last_contact
    if prospect.stage is Stage.CUSTOMER and rules.review_months == 0:
        # No review pending: only a date set by hand brings a follow-up.
        assert (day is None) is not hand_set(prospect)
        return
    if day is not None:
        assert last is None or day > last
        return
    limit = cadence_for(prospect, rules).max_attempts or rules.max_attempts
    assert not hand_set(prospect)
    assert max(prospect.attempts, 1) >= limit
    assert result.step == ""


@PROPERTY
@given(unanswered_after_sale)
def test_an_after_sale_step_short_of_the_limit_keeps_its_step(case: Case) -> None:
    prospect, rules = case.prospect, case.rules
    limit = cadence_for(prospect, rules).max_attempts or rules.max_attempts
    assert prospect.stage is not None
    no_reviews = prospect.stage is Stage.CUSTOMER and rules.review_months == 0
    if hand_set(prospect) or no_reviews or max(prospect.attempts, 1) >= limit:
        return
    result = computed(case)
    assert result.step == PENDING_STEP[prospect.stage]
    assert result.why.endswith(f"(attempt {max(prospect.attempts, 1)} of {limit}).")


@PROPERTY
@given(any_case)
def test_status_matches_the_date(case: Case) -> None:
    result, today = computed(case), case.today
    day = result.next_follow_up
    if result.status not in PIPELINE:
        if result.status is Status.LOST and day is not None:
            assert day > today  # a revisit still to come
        return
    assert day is not None
    assert (result.status is Status.OVERDUE) == (day < today)
    assert (result.status is Status.DUE) == (day == today and result.status is not Status.NEW)
    if result.status in (Status.SCHEDULED, Status.SNOOZED):
        assert day > today
    if result.status is Status.NEW:
        assert day >= today
    assert result.is_due(today) == (day <= today)
    if result.step != "revisit":
        done, of = (int(part) for part in result.step.split(" of "))
        assert 1 <= done <= of


@st.composite
def sheets(draw: st.DrawFn) -> tuple[Case, list[Prospect], Prospect]:
    """A few good rows and one bad row, all computed with the same rules on the same day."""
    case = draw(cases())
    good = [
        draw(prospect_strategy(case.today, row=number))
        for number in range(2, draw(st.integers(3, 7)))
    ]
    bad_base = draw(prospect_strategy(case.today, row=99))
    bad = dataclasses.replace(bad_base, problems=draw(problems))
    return case, good, bad


@PROPERTY
@given(sheets(), st.integers(0, 6))
def test_a_bad_row_needs_attention_and_leaves_the_others_alone(
    sheet: tuple[Case, list[Prospect], Prospect], position: int
) -> None:
    case, good, bad = sheet
    with_bad = [*good[:position], bad, *good[position:]]
    results = {p.row: computed(case, p) for p in with_bad}
    alone = {p.row: computed(case, p) for p in good}
    assert {n: r for n, r in results.items() if n != bad.row} == alone
    flagged = results[bad.row]
    assert (flagged.status, flagged.next_follow_up, flagged.step) == (
        Status.NEEDS_ATTENTION,
        None,
        "",
    )
    assert flagged.why.startswith(f"Check {bad.problems[0]}")
    assert ("more)." in flagged.why) == (len(bad.problems) > 1)


def test_the_last_outcome_beats_a_stale_stage() -> None:
    # A person set Stage to lost, then the prospect came back and bought.
    assert run(row(stage=Stage.LOST, last_contact=MON_16, last_outcome=Outcome.WON)).status is (
        Status.WON
    )
    # Stage not interested, but the last touch says interested: the stage decides, since an
    # interested outcome does not close the row.
    closed = row(stage=Stage.NOT_INTERESTED, last_contact=MON_16, last_outcome=Outcome.INTERESTED)
    assert run(closed).status is Status.NOT_INTERESTED
