"""A refresh compares every row with its snapshot once (typed.find) and takes the new
snapshots from that comparison (typed.snaps_to_take with find's Compared): the snapshots
taken must be those taken without it, whatever changed in between."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from sheetfollow import snapshot, typed
from sheetfollow.models import Computed, Outcome, Prospect, Row, Stage, Status
from sheetfollow.schema import HeaderMap

DAY = {day: date(2026, 11, day) for day in range(1, 31)}
NA, RE = Outcome.NO_ANSWER, Outcome.REACHED
HEADER = HeaderMap("Prospects", 1, {"id": 1, "last_contact": 2}, 2, ())


def _snap(ident: str, last: date) -> snapshot.Snap:
    return snapshot.Snap(
        id=ident,
        last_contact=last,
        last_outcome=NA,
        attempts=1,
        stage=Stage.CONTACTED,
        follow_up_on=None,
        recorded=None,
        seen=DAY[20],
    )


def _prospect(number: int, ident: str, last: date | None, outcome: Outcome | None) -> Prospect:
    return Prospect(
        row=number,
        id=ident,
        company=f"Company {number}",
        owner="Anna",
        stage=Stage.CONTACTED,
        last_contact=last,
        last_outcome=outcome,
        attempts=1,
    )


def _rows() -> list[Row]:
    computed = Computed(None, Status.DUE, "", "", "Anna")
    prospects = [
        _prospect(2, "P-1", DAY[20], NA),  # as its snapshot: nothing to take
        _prospect(3, "P-2", DAY[27], RE),  # a call typed in: a new snapshot
        _prospect(4, "", DAY[27], NA),  # no ID: never followed
        _prospect(5, "P-4", DAY[27], NA),  # no snapshot yet: taken as it is
        _prospect(6, "p-1 ", DAY[20], NA),  # P-1 again: an ID used twice is not followed
        _prospect(7, "P-6", DAY[20], NA),
    ]
    return [Row(p, computed) for p in prospects]


def _snaps() -> dict[str, snapshot.Snap]:
    return {
        "p-1": _snap("P-1", DAY[20]),
        "p-2": _snap("P-2", DAY[20]),
        "p-6": _snap("P-6", DAY[20]),
    }


def _taken(prospects: list[Prospect], compared: typed.Compared | None) -> list[snapshot.Snap]:
    return typed.snaps_to_take(prospects, snaps, frozenset(), HEADER, DAY[30], compared)


snaps = _snaps()


def test_the_same_rows_take_what_they_take_without_the_comparison() -> None:
    rows = _rows()
    found = typed.find(rows, snaps, HEADER)
    assert found.compared is not None
    prospects = [row.prospect for row in rows]
    assert _taken(prospects, found.compared) == _taken(prospects, None)
    assert [s.id for s in _taken(prospects, found.compared)] == ["P-2", "P-4"]


def test_rows_changed_since_are_compared_again() -> None:
    rows = _rows()
    found = typed.find(rows, snaps, HEADER)
    prospects = [row.prospect for row in rows]
    # An ID filled in (P-3 had none), the twice-used P-1 made unique, P-6 typed into.
    prospects[2] = replace(prospects[2], id="P-3")
    prospects[4] = replace(prospects[4], id="P-5")
    prospects[5] = replace(prospects[5], last_contact=DAY[28])
    again = _taken(prospects, found.compared)
    assert again == _taken(prospects, None)
    assert [s.id for s in again] == ["P-2", "P-3", "P-4", "P-5", "P-6"]
    # Other snapshots than find saw: nothing of find's comparison is used.
    other = {**snaps, "p-2": _snap("P-2", DAY[27])}
    fresh = typed.snaps_to_take(prospects, other, frozenset(), HEADER, DAY[30], found.compared)
    assert fresh == typed.snaps_to_take(prospects, other, frozenset(), HEADER, DAY[30])


_IDS = st.sampled_from(["", "P-1", "p-1 ", "P-2", "P-3", " P-3", "P-4", "P-5"])
_DAYS = st.sampled_from([None, DAY[20], DAY[27], DAY[28]])
_OUTCOMES = st.sampled_from([None, NA, RE])


@given(st.lists(st.tuples(_IDS, _DAYS, _OUTCOMES), max_size=12), st.sets(_IDS, max_size=4))
def test_any_rows_take_what_they_take_without_the_comparison(
    cells: list[tuple[str, date | None, Outcome | None]], snapped: set[str]
) -> None:
    """IDs used twice (in any case and spacing), with or without a snapshot, changed or
    not: find's comparison gives the snapshots the rows give alone."""
    computed = Computed(None, Status.DUE, "", "", "Anna")
    rows = [
        Row(_prospect(number, ident, last, outcome), computed)
        for number, (ident, last, outcome) in enumerate(cells, start=2)
    ]
    known = {snapshot.key(ident): _snap(ident.strip(), DAY[20]) for ident in snapped if ident}
    found = typed.find(rows, known, HEADER)
    prospects = [row.prospect for row in rows]
    with_compared = typed.snaps_to_take(
        prospects, known, found.waiting, HEADER, DAY[30], found.compared
    )
    alone = typed.snaps_to_take(prospects, known, found.waiting, HEADER, DAY[30])
    assert with_compared == alone
