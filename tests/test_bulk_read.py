"""The shortcuts of the whole-tab read keep its answers: the collector pause, the memoised
Whys and the foreign-column count that stops once it is decided."""

from __future__ import annotations

import gc
from datetime import date

from sheetfollow import collector, i18n, schema
from sheetfollow.i18n import R_
from sheetfollow.sheet import Table

HEADERS = ["Company", "Owner", "Status", "Next follow-up"]


def test_the_collector_runs_again_after_a_pause_and_stays_off_when_it_was() -> None:
    assert gc.isenabled()
    try:
        with collector.paused():
            assert not gc.isenabled()
            with collector.paused():
                assert not gc.isenabled()
            assert not gc.isenabled()  # only the outermost pause starts it again
            kept = [[n, str(n)] for n in range(1000)]
        assert gc.isenabled()
        assert gc.get_freeze_count() > 0  # what the pause made is kept out of its passes
        with collector.paused():  # ... until the next bulk read, which hands it back
            assert gc.get_freeze_count() == 0
        gc.disable()
        with collector.paused():
            pass
        assert not gc.isenabled()
        assert kept[999] == [999, "999"]
    finally:
        gc.enable()
        gc.unfreeze()


def test_an_error_inside_a_pause_starts_the_collector_again() -> None:
    try:
        with collector.paused():
            raise KeyError("x")
    except KeyError:
        pass
    finally:
        gc.unfreeze()
    assert gc.isenabled()


def test_rows_that_share_their_reasons_share_one_why_with_all_its_parts() -> None:
    day = date(2026, 12, 7)
    first = i18n.why(R_("Follow-up on %(day)s", day=day))
    second = i18n.why(R_("Follow-up on %(day)s", day=date(2026, 12, 7)))
    assert first is second
    assert first.parts == (R_("Follow-up on %(day)s", day=day),)
    assert i18n.localise(second, "nl") == i18n.localise(i18n.Why(*first.parts), "nl")
    # A plain text among the parts stays a plain text (never memoised as a reason).
    text = i18n.why("Follow-up on Mon 7 Dec 2026")
    assert text == first and text.parts == ("Follow-up on Mon 7 Dec 2026",)
    assert i18n.localise(text, "nl") == "Follow-up on Mon 7 Dec 2026"


def _foreign(statuses: list[str | None]) -> list[str]:
    rows = [["Acme", "Anna", status, None] for status in statuses]
    table = Table("Prospects", [HEADERS, *rows])  # type: ignore[list-item]
    return [column.name for column in schema.foreign_columns(table, schema.map_headers(table))]


def test_foreign_status_column_counted_over_every_row_until_decided() -> None:
    ours = ["overdue", "due", "scheduled"]
    team = ["Warm", "Koud", "Heet"]
    # Ours first, the team's words below in the majority: only the whole column tells.
    assert _foreign(ours * 3 + team * 4) == ["status"]
    # Ours decided the column before the team's words come: no different from counting.
    assert _foreign(ours * 5 + team * 2) == []
    # A tie goes to the team (their words are never written over), blanks do not count.
    assert _foreign([*ours, None, "  ", *team]) == ["status"]
    assert _foreign(["due", *[None] * 50, "Warm", "overdue"]) == []
