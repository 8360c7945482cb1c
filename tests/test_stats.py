"""`sheetfollow stats` on a real workbook whose answers are worked out by hand below.

The workbook has a Prospects tab (eleven rows, two owners, two segments), a Log (touches of
eight of them plus one prospect the sheet does not know) and an Owners tab. Today is
Wed 11 Mar 2026; the default period is the 30 days before it: Mon 9 Feb to Wed 11 Mar.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

import pytest
from conftest import TODAY, Cell, Cli, Tab, write_workbook
from json_output import data_of, error_of

from sheetfollow import service, stats, vocab
from sheetfollow.config import Config, Rules
from sheetfollow.errors import UsageError
from sheetfollow.exit_codes import ExitCode
from sheetfollow.log import read_log
from sheetfollow.models import Outcome
from sheetfollow.stats import FunnelRound, GroupStats, Stats

ISO_TODAY = TODAY.isoformat()

D = date

PROSPECT_FIELDS = (
    "id",
    "company",
    "owner",
    "segment",
    "stage",
    "created",
    "last_contact",
    "last_outcome",
    "attempts",
    "follow_up_on",
)

# What the rules make of each row on Wed 11 Mar 2026 (default rules, weekends only):
PROSPECTS: tuple[tuple[Cell, ...], ...] = (
    # Won 20 Feb, thank-you set by hand for Fri 13 Mar: scheduled, not due.
    ("P-0001", "Alpha", "Anna", "retail", "won", D(2026, 1, 20), D(2026, 2, 20), "won", 0,
     D(2026, 3, 13)),
    # Quote sent 16 Feb, a follow-up typed in for today: due today.
    ("P-0002", "Bravo", "Anna", "retail", "quote", D(2026, 2, 1), D(2026, 2, 16), "quote sent",
     0, D(2026, 3, 11)),
    # Five unanswered attempts, the last on Fri 6 Mar: dead, died 6 Mar (in the period).
    ("P-0003", "Charlie", "Bob", "industry", "contacted", D(2026, 2, 1), D(2026, 3, 6),
     "no answer", 5, None),
    # Said no: never due.
    ("P-0004", "Delta", "Bob", "industry", "contacted", D(2026, 2, 1), D(2026, 2, 12),
     "not interested", 0, None),
    # Won 4 Mar, thank-you set by hand for Mon 16 Mar: not due.
    ("P-0005", "Echo", "Anna", "industry", "won", D(2026, 2, 1), D(2026, 3, 4), "won", 0,
     D(2026, 3, 16)),
    # One voicemail on Mon 2 Mar; next attempt 2 business days later, Wed 4 Mar: overdue.
    ("P-0006", "Foxtrot", "Bob", "retail", "contacted", D(2026, 2, 20), D(2026, 3, 2),
     "voicemail", 1, None),
    # Reached Wed 4 Mar; next touch 5 business days later, today: due. "Retail" is "retail".
    ("P-0007", "Golf", "Anna", "Retail", "interested", D(2026, 2, 20), D(2026, 3, 4), "reached",
     0, None),
    # Quote sent Thu 19 Feb; asked about 3 business days later, Tue 24 Feb: overdue.
    ("P-0008", "Hotel", "Bob", "industry", "quote", D(2026, 1, 5), D(2026, 2, 19), "quote sent",
     0, None),
    # A new lead from today, no Log entries: due today.
    ("P-0009", "India", "Bob", "industry", "new", D(2026, 3, 11), None, None, 0, None),
    # Two unanswered attempts, nothing since Thu 20 Nov 2025: dead once 90 days had passed,
    # on Thu 19 Feb 2026 (91 days later) - in the period.
    ("P-0010", "Juliet", "Anna", "retail", "contacted", D(2025, 11, 1), D(2025, 11, 20),
     "no answer", 2, None),
    # Five unanswered attempts, the last on Mon 5 Jan: dead before the period began.
    ("P-0011", "Kilo", "Bob", "retail", "contacted", D(2025, 12, 1), D(2026, 1, 5), "no answer",
     5, None),
)  # fmt: skip

LOG_FIELDS = ("when", "id", "company", "by", "outcome")


def at(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute)


# The Log, in sheet order. Hotel's touches come last although they are the oldest: the
# funnel goes by time, not by row.
LOG: tuple[tuple[Cell, ...], ...] = (
    (at(2, 2), "P-0001", "Alpha", "Anna", "no answer"),
    (at(2, 4), "P-0001", "Alpha", "Anna", "voicemail"),
    (at(2, 9), "P-0002", "Bravo", "Anna", "imported"),  # an event, not a touch
    (at(2, 10, 9, 30), "P-0001", "Alpha", "Anna", "reached"),
    (at(2, 10, 11), "P-0002", "Bravo", "Anna", "reached"),
    (at(2, 11), "P-0003", "Charlie", "Bob", "no answer"),
    (at(2, 12), "P-0004", "Delta", "Bob", "not interested"),
    # A stale ID: joined to Charlie by company.
    (at(2, 13), "P-0303", "CHARLIE", "Bob", "no answer"),
    (at(2, 16), "P-0002", "Bravo", "Anna", "quote sent"),
    (at(2, 16), "P-0005", "Echo", "Anna", "no answer"),
    (at(2, 17), "P-0001", "Alpha", "Anna", "interested"),
    (at(2, 18), "P-0005", "Echo", "Anna", "interested"),
    (at(2, 20), "P-0001", "Alpha", "Anna", "won"),
    (at(2, 20), "P-0003", "Charlie", "Bob", "no answer"),
    # A prospect that is not in the sheet: owner and segment "(unknown)".
    (at(2, 20), "P-0099", "Zulu Ltd", "Anna", "no answer"),
    # No ID: joined to Golf by company, whatever its case.
    (at(2, 23), None, "golf", "Anna", "no answer"),
    (at(2, 24), "P-0099", "Zulu Ltd", "Anna", "reached"),
    (at(2, 25), "P-0005", "Echo", "Anna", "quote sent"),
    # Made by Anna's delegate, but Golf is Anna's: the touch counts for Anna.
    (at(2, 25), None, "Golf", "Émile", "no answer"),
    (at(2, 26), "P-0099", "Zulu Ltd", "Anna", "won"),
    (at(2, 27), "P-0003", "Charlie", "Bob", "voicemail"),
    (at(3, 2), "P-0006", "Foxtrot", "Bob", "voicemail"),
    (at(3, 4), "P-0005", "Echo", "Anna", "won"),
    (at(3, 4), None, "Golf", "Anna", "reached"),
    (at(3, 6), "P-0003", "Charlie", "Bob", "no answer"),
    # After today: not counted as of today.
    (at(3, 20), "P-0006", "Foxtrot", "Bob", "no answer"),
    (at(1, 12), "P-0008", "Hotel", "Bob", "no answer"),
    (at(1, 14), "P-0008", "Hotel", "Bob", "no answer"),
    (at(1, 21), "P-0008", "Hotel", "Bob", "no answer"),
    (at(1, 28), "P-0008", "Hotel", "Bob", "no answer"),
    (at(2, 4), "P-0008", "Hotel", "Bob", "no answer"),
    (at(2, 12), "P-0008", "Hotel", "Bob", "reached"),
    (at(2, 19), "P-0008", "Hotel", "Bob", "quote sent"),
)

# Each prospect's touches up to today, in time order (U = unanswered), and its first touch:
#
#   prospect  owner  segment   first   touches
#   Alpha     Anna   retail    02-02   U U reached interested won
#   Bravo     Anna   retail    02-10   reached quote-sent
#   Charlie   Bob    industry  02-11   U U U U U
#   Delta     Bob    industry  02-12   not-interested
#   Echo      Anna   industry  02-16   U interested quote-sent won
#   Foxtrot   Bob    retail    03-02   U                 (the 03-20 touch is after today)
#   Golf      Anna   retail    02-23   U U reached
#   Zulu      ?      ?         02-20   U reached won
#   Hotel     Bob    industry  01-12   U U U U U reached quote-sent

#: All history (--since 2026-01-01): all nine prospects. Rounds past max_attempts (5) share
#: the line "6+". (round, called, reached, interested, won)
FUNNEL_ALL = [
    ("1", 9, 2, 1, 0),  # reached: Bravo, Delta; interested: Bravo (quote sent)
    ("2", 6, 2, 2, 2),  # Alpha Charlie Echo Golf Zulu Hotel; reached Echo, Zulu; both won
    ("3", 4, 2, 1, 1),  # Alpha Charlie Golf Hotel; reached Alpha (won) and Golf
    ("4", 2, 0, 0, 0),  # Charlie, Hotel
    ("5", 2, 0, 0, 0),  # Charlie, Hotel
    ("6+", 1, 1, 1, 0),  # Hotel: reached on the 6th touch, then a quote
]

#: The default period (from 02-09): Alpha and Hotel were first called before it.
FUNNEL_DEFAULT = [
    ("1", 7, 2, 1, 0),  # Bravo Charlie Delta Echo Foxtrot Golf Zulu; reached Bravo, Delta
    ("2", 4, 2, 2, 2),  # Charlie Echo Golf Zulu; reached and won Echo, Zulu
    ("3", 2, 1, 0, 0),  # Charlie, Golf; Golf reached
    ("4", 1, 0, 0, 0),  # Charlie
    ("5", 1, 0, 0, 0),  # Charlie
]

#: --since 2026-02-15: Echo, Foxtrot, Golf and Zulu.
FUNNEL_SINCE_FEB_15 = [
    ("1", 4, 0, 0, 0),
    ("2", 3, 2, 2, 2),  # Echo Golf Zulu; Echo and Zulu reached and won
    ("3", 1, 1, 0, 0),  # Golf
]

# Per owner, default period (02-09 to 03-11): (name, touches, due, overdue, died, won)
#   Anna: touches Alpha 3 (02-10 02-17 02-20), Bravo 2, Echo 4, Golf 3 = 12;
#         due Bravo, Golf; died Juliet (02-19); won Alpha, Echo.
#   Bob:  touches Charlie 5, Delta 1, Foxtrot 1, Hotel 2 (02-12 02-19) = 9;
#         due India; overdue Foxtrot, Hotel; died Charlie (03-06; Kilo died 01-05).
#   Émile (in the Owners tab) owns nothing: his call on Golf is Anna's.
#   (unknown): Zulu's 3 touches and its win.
BY_OWNER_DEFAULT = [
    ("Anna", 12, 2, 0, 1, 2),
    ("Bob", 9, 1, 2, 1, 0),
    ("Émile", 0, 0, 0, 0, 0),
    ("(unknown)", 3, 0, 0, 0, 1),
]

# Per segment, default period:
#   retail:   Alpha 3 + Bravo 2 + Foxtrot 1 + Golf 3 = 9; due Bravo, Golf; overdue Foxtrot;
#             died Juliet; won Alpha.
#   industry: Charlie 5 + Delta 1 + Echo 4 + Hotel 2 = 12; due India; overdue Hotel;
#             died Charlie; won Echo.
BY_SEGMENT_DEFAULT = [
    ("industry", 12, 1, 1, 1, 1),
    ("retail", 9, 2, 1, 1, 1),
    ("(unknown)", 3, 0, 0, 0, 1),
]

# Per owner from 02-15: Anna: Alpha 2 (02-17 02-20), Bravo 1 (02-16), Echo 4, Golf 3 = 10.
#   Bob: Charlie 3 (02-20 02-27 03-06), Foxtrot 1, Hotel 1 (02-19) = 5.
BY_OWNER_SINCE_FEB_15 = [
    ("Anna", 10, 2, 0, 1, 2),
    ("Bob", 5, 1, 2, 1, 0),
    ("Émile", 0, 0, 0, 0, 0),
    ("(unknown)", 3, 0, 0, 0, 1),
]

# All history: Anna 5 + 2 + 4 + 3 = 14; Bob 5 + 1 + 1 + 7 = 14; Kilo died in the period too.
BY_OWNER_ALL = [
    ("Anna", 14, 2, 0, 1, 2),
    ("Bob", 14, 1, 2, 2, 0),
    ("Émile", 0, 0, 0, 0, 0),
    ("(unknown)", 3, 0, 0, 0, 1),
]

OWNERS: tuple[tuple[Cell, ...], ...] = (
    ("Owner", "Email", "Delegate"),
    ("Anna", "anna@example.com", "Émile"),
    ("Bob", "bob@example.com", None),
    ("Émile", "emile@example.com", None),
)


def write_pipeline(path: Path, log: Sequence[Sequence[Cell]] | None = LOG) -> Path:
    """The workbook: Prospects, Owners and (unless `log` is None) the Log."""
    headers = vocab.PROSPECT_HEADERS["en"]
    prospects = [[headers[name] for name in PROSPECT_FIELDS], *map(list, PROSPECTS)]
    tabs = [Tab("Prospects", prospects), Tab("Owners", OWNERS)]
    if log is not None:
        log_headers = [vocab.LOG_HEADERS["en"][name] for name in LOG_FIELDS]
        tabs.append(Tab("Log", [log_headers, *map(list, log)]))
    return write_workbook(path, *tabs)


def stats_of(path: Path, since: date | None = None, by: str = "owner") -> Stats:
    """What the stats command computes, through the real backend and the real Log reader."""
    config = Config()
    backend = service.open_backend(str(path), config)
    pipeline = service.load(backend, config, TODAY)
    return stats.build(
        read_log(backend, config),
        pipeline.rows,
        today=TODAY,
        since=since,
        by=by,
        rules=config.rules,
        owners=pipeline.owners,
    )


def funnel_lines(result: Stats) -> list[tuple[str, int, int, int, int]]:
    return [(r.label, r.called, r.reached, r.interested, r.won) for r in result.funnel]


def group_lines(result: Stats) -> list[tuple[str, int, int, int, int, int]]:
    return [(g.name, g.touches, g.due, g.overdue, g.died, g.won) for g in result.groups]


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    return write_pipeline(tmp_path / "pipeline.xlsx")


# --- The numbers ---------------------------------------------------------------------------


def test_the_workbook_is_what_the_hand_worked_answers_assume(workbook: Path) -> None:
    config = Config()
    backend = service.open_backend(str(workbook), config)
    pipeline = service.load(backend, config, TODAY)
    statuses = {r.prospect.company: r.computed.status.value for r in pipeline.rows}
    assert statuses == {
        "Alpha": "won",
        "Bravo": "due",
        "Charlie": "dead",
        "Delta": "not interested",
        "Echo": "won",
        "Foxtrot": "overdue",
        "Golf": "due",
        "Hotel": "overdue",
        "India": "new",
        "Juliet": "dead",
        "Kilo": "dead",
    }
    entries = read_log(backend, config)
    assert len(entries) == len(LOG)
    assert sum(1 for e in entries if e.outcome is None) == 1


def test_the_funnel_over_all_history_groups_rounds_past_max_attempts(workbook: Path) -> None:
    result = stats_of(workbook, since=date(2026, 1, 1))
    assert result.cohort == 9
    assert funnel_lines(result) == FUNNEL_ALL
    assert [r.round for r in result.funnel] == [1, 2, 3, 4, 5, 6]


def test_the_default_period_is_the_last_30_days(workbook: Path) -> None:
    result = stats_of(workbook)
    assert (result.since, result.today) == (date(2026, 2, 9), TODAY)
    assert result.cohort == 7
    assert funnel_lines(result) == FUNNEL_DEFAULT
    assert group_lines(result) == BY_OWNER_DEFAULT


def test_since_takes_the_cohort_first_called_from_that_day(workbook: Path) -> None:
    result = stats_of(workbook, since=date(2026, 2, 15))
    assert result.cohort == 4
    assert funnel_lines(result) == FUNNEL_SINCE_FEB_15
    assert group_lines(result) == BY_OWNER_SINCE_FEB_15


def test_all_history_per_owner(workbook: Path) -> None:
    assert group_lines(stats_of(workbook, since=date(2026, 1, 1))) == BY_OWNER_ALL


def test_by_segment(workbook: Path) -> None:
    result = stats_of(workbook, by="segment")
    assert group_lines(result) == BY_SEGMENT_DEFAULT
    # The funnel does not depend on the grouping.
    assert funnel_lines(result) == FUNNEL_DEFAULT


def test_totals_add_up_the_groups(workbook: Path) -> None:
    totals = stats_of(workbook).totals
    assert (totals.touches, totals.due, totals.overdue, totals.died, totals.won) == (
        24,
        3,
        2,
        2,
        3,
    )


def test_a_since_of_today_counts_only_today(workbook: Path) -> None:
    result = stats_of(workbook, since=TODAY)
    assert result.funnel == ()
    assert result.cohort == 0
    # Nothing was logged today; the call list is what it is.
    assert group_lines(result) == [
        ("Anna", 0, 2, 0, 0, 0),
        ("Bob", 0, 1, 2, 0, 0),
        ("Émile", 0, 0, 0, 0, 0),
    ]


@pytest.mark.parametrize("log", [[], None], ids=["empty Log tab", "no Log tab"])
def test_without_touches_there_is_no_funnel_but_the_call_list_counts(
    tmp_path: Path, log: list[tuple[Cell, ...]] | None
) -> None:
    result = stats_of(write_pipeline(tmp_path / "pipeline.xlsx", log=log))
    assert result.funnel == ()
    assert result.cohort == 0
    # Died comes from the sheet alone: Juliet and Charlie died in the period, Kilo before.
    assert group_lines(result) == [
        ("Anna", 0, 2, 0, 1, 0),
        ("Bob", 0, 1, 2, 1, 0),
        ("Émile", 0, 0, 0, 0, 0),
    ]


def test_entries_naming_no_prospect_are_unknown_touches_but_not_in_the_funnel(
    tmp_path: Path,
) -> None:
    log = [
        (at(3, 2), None, None, "Anna", "no answer"),
        (at(3, 3), "", "", "Anna", "won"),
        (at(3, 4), "P-0006", "Foxtrot", "Bob", "voicemail"),
    ]
    result = stats_of(write_pipeline(tmp_path / "pipeline.xlsx", log=log))
    # Only Foxtrot is a prospect.
    assert funnel_lines(result) == [("1", 1, 0, 0, 0)]
    assert group_lines(result)[-1] == ("(unknown)", 2, 0, 0, 0, 1)


@pytest.mark.parametrize("since", [None, date(2026, 1, 1), TODAY])
def test_the_funnel_alone_is_the_funnel_of_the_whole_stats(
    tmp_path: Path, workbook: Path, since: date | None
) -> None:
    # The digest asks for the funnel alone (build_funnel): the same numbers as build's,
    # entries found by ID, by company only, or by neither.
    extra = [
        (at(3, 2), None, "foxtrot", "Anna", "no answer"),
        (at(3, 3), "P-9999", "Nobody Ltd", "Anna", "reached"),
        (at(3, 4), "", "", "Anna", "won"),
    ]
    for path in (workbook, write_pipeline(tmp_path / "more.xlsx", log=[*LOG, *extra])):
        config = Config()
        backend = service.open_backend(str(path), config)
        rows = service.load(backend, config, TODAY).rows
        entries = read_log(backend, config)
        whole = stats.build(entries, rows, today=TODAY, since=since, rules=config.rules)
        alone = stats.build_funnel(entries, rows, today=TODAY, since=since, rules=config.rules)
        assert (alone.since, alone.cohort, alone.funnel) == (
            whole.since,
            whole.cohort,
            whole.funnel,
        )
        assert alone.groups == ()


def test_the_period_cannot_start_after_today(workbook: Path) -> None:
    with pytest.raises(UsageError, match="after today"):
        stats_of(workbook, since=date(2026, 3, 12))


def test_an_unknown_grouping_is_refused(workbook: Path) -> None:
    with pytest.raises(UsageError, match="owner or segment"):
        stats_of(workbook, by="region")


# --- The funnel and the bars, from outcomes ------------------------------------------------

NA, VM, RE = Outcome.NO_ANSWER, Outcome.VOICEMAIL, Outcome.REACHED
INT, QS, WON, DEL = Outcome.INTERESTED, Outcome.QUOTE_SENT, Outcome.WON, Outcome.DELIVERED


def test_with_three_attempts_the_fourth_round_on_is_one_line() -> None:
    histories = [
        [NA, NA, NA, NA, NA, NA, RE, QS, WON],  # reached on the 7th touch: the "4+" line
        [NA, VM, NA, RE],  # reached on the 4th
        [NA, NA, NA],  # three tries, then nothing
        [RE, INT],
    ]
    assert stats.funnel(histories, max_attempts=3) == (
        FunnelRound(1, "1", called=4, reached=1, interested=1, won=0),
        FunnelRound(2, "2", called=3, reached=0, interested=0, won=0),
        FunnelRound(3, "3", called=3, reached=0, interested=0, won=0),
        FunnelRound(4, "4+", called=2, reached=2, interested=1, won=1),
    )


def test_a_delivery_counts_as_won_and_a_later_loss_does_not_undo_interest() -> None:
    assert stats.funnel([[RE, DEL], [QS, Outcome.LOST]], max_attempts=5) == (
        FunnelRound(1, "1", called=2, reached=2, interested=2, won=1),
    )


@pytest.mark.parametrize(
    ("called", "reached", "largest", "width", "drawn"),
    [
        (10, 5, 10, 10, "█████░░░░░"),
        (10, 10, 10, 10, "██████████"),
        (5, 0, 10, 10, "░░░░░"),
        (1, 1, 100, 10, "█"),  # too small to scale, still visible
        (100, 99, 100, 10, "█████████░"),  # not everyone was reached: it shows
        (0, 0, 10, 10, ""),
    ],
)
def test_bars(called: int, reached: int, largest: int, width: int, drawn: str) -> None:
    assert stats.bar(called, reached, largest, width) == drawn


def test_died_on_for_each_way_of_dying(workbook: Path) -> None:
    config = Config()
    pipeline = service.load(service.open_backend(str(workbook), config), config, TODAY)
    died = {r.prospect.company: stats.died_on(r, Rules()) for r in pipeline.rows}
    assert {name: day for name, day in died.items() if day is not None} == {
        "Charlie": date(2026, 3, 6),
        "Juliet": date(2026, 2, 19),
        "Kilo": date(2026, 1, 5),
    }


# --- Output shapes -------------------------------------------------------------------------


def test_json_shape(workbook: Path) -> None:
    data = json.loads(json.dumps(stats_of(workbook).as_dict()))
    assert set(data) == {"today", "since", "by", "funnel", "groups", "totals"}
    assert (data["today"], data["since"], data["by"]) == ("2026-03-11", "2026-02-09", "owner")
    assert data["funnel"]["prospects"] == 7
    assert data["funnel"]["rounds"][0] == {
        "round": 1,
        "label": "1",
        "called": 7,
        "reached": 2,
        "interested": 1,
        "won": 0,
    }
    assert data["groups"][0] == {
        "name": "Anna",
        "touches": 12,
        "due": 2,
        "overdue": 0,
        "died": 1,
        "won": 2,
    }
    assert data["totals"] == {"touches": 24, "due": 3, "overdue": 2, "died": 2, "won": 3}


def csv_sections(text: str) -> tuple[list[list[str]], list[list[str]]]:
    funnel_part, groups_part = text.split("\n\n")
    return list(csv.reader(io.StringIO(funnel_part))), list(csv.reader(io.StringIO(groups_part)))


def test_csv_is_the_funnel_a_blank_line_then_the_groups(workbook: Path) -> None:
    text = stats.to_csv(stats_of(workbook, since=date(2026, 1, 1), by="segment"))
    funnel_rows, group_rows = csv_sections(text)
    assert funnel_rows[0] == ["round", "called", "reached", "interested", "won"]
    assert funnel_rows[1:] == [[str(v) for v in line] for line in FUNNEL_ALL]
    assert group_rows[0] == ["segment", "touches", "due", "overdue", "died", "won"]
    assert [row[0] for row in group_rows[1:]] == ["industry", "retail", "(unknown)"]


def test_csv_of_an_empty_funnel_still_has_both_headers() -> None:
    empty = Stats(TODAY, TODAY, "owner", 0, (), (GroupStats("Anna", due=1),))
    assert stats.to_csv(empty) == (
        "round,called,reached,interested,won\n\nowner,touches,due,overdue,died,won\nAnna,0,1,0,0,0\n"
    )


# --- The command ---------------------------------------------------------------------------


def words(line: str) -> list[str]:
    return line.split()


def test_the_command_prints_the_funnel_and_the_owners_in_80_columns(
    cli: Cli, workbook: Path
) -> None:
    result = cli("stats", "--sheet", workbook, "--today", ISO_TODAY)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert lines[0] == "Mon 9 Feb 2026 to Wed 11 Mar 2026 (31 days)"
    assert "Funnel per calling round: 7 prospects first called in this period" in lines
    table = [words(line) for line in lines]
    assert ["Round", "Called", "Reached", "Interested", "Won"] in table
    # The numbers, then a bar 30 characters wide for the biggest round (7 called, 2 reached).
    assert ["1", "7", "2", "1", "0", "█" * 9 + "░" * 21] in table
    assert ["5", "1", "0", "0", "0", "░" * 4] in table
    assert ["Anna", "12", "2", "0", "1", "2"] in table
    assert ["(unknown)", "3", "0", "0", "0", "1"] in table
    assert ["Total", "24", "3", "2", "2", "3"] in table
    assert result.stderr == ""


def test_the_command_by_segment_since_a_day(cli: Cli, workbook: Path) -> None:
    result = cli(
        "stats", "--by", "segment", "--since", "2026-01-01", "--sheet", workbook,
        "--today", ISO_TODAY,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    table = [words(line) for line in result.stdout.splitlines()]
    assert table[[t[:1] for t in table].index(["6+"])][:5] == ["6+", "1", "1", "1", "0"]
    assert ["By", "segment", "Touches", "Due", "today", "Overdue", "Died", "Won"] in table
    assert ["industry", "17", "1", "1", "1", "1"] in table  # Charlie 5 Delta 1 Echo 4 Hotel 7


def test_the_command_json(cli: Cli, workbook: Path) -> None:
    result = cli("stats", "--json", "--sheet", workbook, "--today", ISO_TODAY)
    assert result.exit_code == 0, result.output
    data = data_of(result.stdout)
    assert [r["label"] for r in data["funnel"]["rounds"]] == ["1", "2", "3", "4", "5"]
    assert [g["name"] for g in data["groups"]] == ["Anna", "Bob", "Émile", "(unknown)"]


def test_the_command_csv(cli: Cli, workbook: Path) -> None:
    since = ("--since", "2026-02-15")
    result = cli("stats", "--csv", *since, "--sheet", workbook, "--today", ISO_TODAY)
    assert result.exit_code == 0, result.output
    funnel_rows, group_rows = csv_sections(result.stdout)
    assert funnel_rows[1:] == [[str(v) for v in line] for line in FUNNEL_SINCE_FEB_15]
    assert group_rows[1:] == [[str(v) for v in line] for line in BY_OWNER_SINCE_FEB_15]


def test_the_command_with_an_empty_log(cli: Cli, tmp_path: Path) -> None:
    path = write_pipeline(tmp_path / "pipeline.xlsx", log=[])
    result = cli("stats", "--sheet", path, "--today", ISO_TODAY)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "Funnel per calling round: nobody was first called in this period." in lines
    assert ["Bob", "0", "1", "2", "1", "0"] in [words(line) for line in lines]


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (("--json", "--csv"), "--json or --csv"),
        (("--by", "region"), "owner or segment"),
        (("--since", "last week"), "not a date"),
        (("--since", "2026-03-12"), "after today"),
    ],
)
def test_the_command_refuses_what_it_cannot_do(
    cli: Cli, workbook: Path, args: tuple[str, ...], complaint: str
) -> None:
    result = cli("stats", *args, "--sheet", workbook, "--today", ISO_TODAY)
    assert result.exit_code == int(ExitCode.USAGE) == 2
    assert complaint in " ".join(result.stderr.split())
    if "--json" in args:  # asked for JSON: the error comes as JSON too
        assert complaint in error_of(result.stdout)["message"]
    else:
        assert result.stdout == ""


def test_names_are_printed_as_typed_never_as_markup(cli: Cli, tmp_path: Path) -> None:
    owner = "[bold]Ann[/bold] :smile:"
    headers = vocab.PROSPECT_HEADERS["en"]
    prospects: list[list[Cell]] = [
        [headers[name] for name in ("id", "company", "owner", "created", *service.TOUCH_FIELDS)],
        ["P-0001", "Acme", owner, TODAY],
    ]
    log: list[list[Cell]] = [
        [vocab.LOG_HEADERS["en"][name] for name in LOG_FIELDS],
        [at(3, 10), "P-0001", "Acme", owner, "no answer"],
    ]
    path = write_workbook(tmp_path / "p.xlsx", Tab("Prospects", prospects), Tab("Log", log))
    text = cli("stats", "--sheet", path, "--today", ISO_TODAY)
    assert text.exit_code == 0, text.output
    line = next(line for line in text.stdout.splitlines() if "Ann" in line)
    assert line.startswith(owner)
    assert words(line[len(owner) :]) == ["1", "1", "0", "0", "0"]
    as_csv = cli("stats", "--csv", "--sheet", path, "--today", ISO_TODAY)
    assert f"{owner},1,1,0,0,0\n" in as_csv.stdout


def test_csv_names_that_start_like_a_formula_are_text() -> None:
    """OWASP's CSV injection: a name a spreadsheet would run gets a single quote in front;
    a number stays a number."""
    groups = tuple(
        GroupStats(name, touches=1)
        for name in ('=HYPERLINK("http://x.example")', "=cmd|' /C calc'!A0", "@SUM(1)", "-5")
    )
    text = stats.to_csv(Stats(TODAY, TODAY, "segment", 0, (), groups))
    _, group_rows = csv_sections(text)
    assert [row[0] for row in group_rows[1:]] == [
        '\'=HYPERLINK("http://x.example")',
        "'=cmd|' /C calc'!A0",
        "'@SUM(1)",
        "-5",
    ]
