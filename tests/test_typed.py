"""The rule that tells a call typed into the sheet from a correction (sheetfollow/typed.py),
as a table: the snapshot the last run kept, what the row holds now, what it is."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sheetfollow import snapshot, typed
from sheetfollow.models import Outcome, Prospect, Stage

NOV = {day: date(2026, 11, day) for day in range(1, 31)}
NA, VM, RE = Outcome.NO_ANSWER, Outcome.VOICEMAIL, Outcome.REACHED


def snap(
    last: date | None,
    outcome: Outcome | None,
    *,
    recorded: date | None = None,
    attempts: int = 1,
    stage: Stage | None = Stage.CONTACTED,
    follow_up: date | None = None,
) -> snapshot.Snap:
    return snapshot.Snap(
        id="P-0001",
        last_contact=last,
        last_outcome=outcome,
        attempts=attempts,
        stage=stage,
        follow_up_on=follow_up,
        recorded=recorded,
        seen=NOV[20],
    )


def row(
    last: date | None,
    outcome: Outcome | None,
    *,
    attempts: int = 1,
    stage: Stage | None = Stage.CONTACTED,
    follow_up: date | None = None,
) -> Prospect:
    return Prospect(
        row=2,
        id="P-0001",
        company="Acme",
        owner="Anna",
        last_contact=last,
        last_outcome=outcome,
        attempts=attempts,
        stage=stage,
        follow_up_on=follow_up,
    )


@pytest.mark.parametrize(
    ("before", "now", "kind"),
    [
        # A new call: a later day, whatever the outcome (the same one again counts too).
        (snap(NOV[20], NA), row(NOV[27], NA), "touch"),
        (snap(NOV[20], NA), row(NOV[27], RE), "touch"),
        (snap(None, None, attempts=0, stage=Stage.NEW), row(NOV[27], RE, attempts=0), "touch"),
        # The same day with another outcome, not yet recorded by sheetfollow: a call.
        (snap(NOV[27], NA), row(NOV[27], RE), "touch"),
        (snap(NOV[27], NA), row(NOV[27], VM), "touch"),
        # Moved earlier, or cleared: a correction.
        (snap(NOV[27], NA), row(NOV[26], NA), "none"),
        (snap(NOV[27], NA), row(None, None), "none"),
        # A call sheetfollow recorded on the 27th, rewritten on or before that day: a fix.
        (snap(NOV[27], NA, recorded=NOV[27]), row(NOV[27], VM), "none"),
        (snap(NOV[26], NA, recorded=NOV[27]), row(NOV[27], NA), "none"),
        (snap(NOV[26], RE, recorded=NOV[27]), row(NOV[27], NA), "none"),
        # ... unless no answer became an answered call: the one that got through.
        (snap(NOV[27], NA, recorded=NOV[27]), row(NOV[27], RE), "touch"),
        # After the day it was recorded, a later day is a new call.
        (snap(NOV[26], NA, recorded=NOV[27]), row(NOV[30], NA), "touch"),
        # A date without an outcome waits for it.
        (snap(None, None, attempts=0, stage=Stage.NEW), row(NOV[27], None, attempts=0), "waiting"),
        # Only Attempts, Stage or Follow up on changed: an edit.
        (snap(NOV[20], NA), row(NOV[20], NA, attempts=3), "none"),
        (snap(NOV[20], NA), row(NOV[20], NA, stage=Stage.INTERESTED), "none"),
        (snap(NOV[20], NA), row(NOV[20], NA, follow_up=NOV[30]), "none"),
        (snap(NOV[20], NA), row(NOV[20], NA), "none"),
    ],
)
def test_the_rule(before: snapshot.Snap, now: Prospect, kind: str) -> None:
    assert typed.classify(now, before) == kind


def test_what_the_person_typed_along_with_the_call_is_kept() -> None:
    from sheetfollow.models import Computed, Row, Status

    computed = Computed(None, Status.DUE, "", "", "Bram")
    plain = typed._typed(Row(row(NOV[27], NA), computed), snap(NOV[20], NA))
    assert plain.keep == {"last_contact", "last_outcome"}
    assert plain.touch.follow_up_on is None
    assert plain.touch.by == "Bram"
    assert plain.touch.note == typed.TYPED_NOTE
    both = typed._typed(
        Row(row(NOV[27], Outcome.CALL_BACK, attempts=0, follow_up=NOV[30]), computed),
        snap(NOV[20], NA),
    )
    assert both.keep == {"last_contact", "last_outcome", "attempts", "follow_up_on"}
    assert both.touch.follow_up_on == NOV[30]


def test_a_correction_keeps_the_day_its_call_was_recorded() -> None:
    from sheetfollow.schema import HeaderMap

    header = HeaderMap("Prospects", 1, {"id": 1, "last_contact": 2}, 2, ())
    before = {"p-0001": snap(NOV[27], NA, recorded=NOV[27])}
    taken = typed.snaps_to_take([row(NOV[26], NA)], before, frozenset(), header, NOV[30])
    assert [(s.last_contact, s.recorded, s.seen) for s in taken] == [(NOV[26], NOV[27], NOV[30])]
    # Unchanged rows and rows waiting for an outcome get no new snapshot.
    assert typed.snaps_to_take([row(NOV[27], NA)], before, frozenset(), header, NOV[30]) == []
    waiting = frozenset({"p-0001"})
    assert typed.snaps_to_take([row(NOV[28], NA)], before, waiting, header, NOV[30]) == []


def test_a_snapshot_survives_the_journal() -> None:
    original = snap(NOV[27], VM, recorded=NOV[27], follow_up=NOV[30], stage=None)
    assert snapshot.from_record(snapshot.to_record(original)) == original


days = st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31))
outcomes = st.none() | st.sampled_from(list(Outcome))


@given(days, outcomes, st.none() | days, days, outcomes)
def test_no_touch_is_ever_earlier_than_the_last_one_seen(
    last: date, was: Outcome | None, recorded: date | None, day: date, outcome: Outcome | None
) -> None:
    """Whatever a person types, a recorded touch never goes back before the snapshot's
    day, never lacks an outcome, and an unchanged row is never a touch."""
    before = snap(last, was, recorded=recorded)
    kind = typed.classify(row(day, outcome), before)
    if kind == "touch":
        assert day >= last and outcome is not None
        assert (day, outcome) != (last, was)
    assert typed.classify(row(last, was), before) == "none"
