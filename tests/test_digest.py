"""The manager's digest: every row reaches a manager, done / died / won count since the
previous digest that went out (Friday's calls on Monday), today's and overdue follow-ups are
separate numbers that match `refresh` and `due`, and the figures are bars that mail programs
draw.

Three layers: the renderer from a view (golden files, HTML parsed back with lxml); the use
case (sheetfollow/digests.py) from rows computed by the real rules and Log entries; the whole
path through the CLI on real workbooks (the example workbook, touches recorded by `mark`, a
reply refused by `inbox`), read back from the outbox. Chromium lays the digest out at phone
and desktop width where it is installed.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from conftest import TEAM_CONFIG, TODAY, Cell, Cli, Tab, openpyxl_rows, write_workbook
from json_output import data_of

from sheetfollow import digests, inbox, reply
from sheetfollow.backends.xlsx import XlsxBackend
from sheetfollow.config import CONFIG_NAME, CalendarConfig, Config, EmailConfig, load_config
from sheetfollow.fields import LANGUAGES
from sheetfollow.log import LogEntry
from sheetfollow.models import Outcome, Owner, Problem, Prospect, Row, Stage
from sheetfollow.notify import digest
from sheetfollow.notify.digest import (
    MANAGER,
    NO_OWNER,
    TEAM,
    UNLISTED,
    UNMANAGED,
    Attention,
    DigestView,
    Funnel,
    FunnelStep,
    Late,
    OwnerFigures,
    RefusedReply,
    bar_cells,
    digest_message,
)
from sheetfollow.notify.message import Message
from sheetfollow.notify.state import Entry, RunState
from sheetfollow.service import compute_row

GOLDEN = Path(__file__).parent / "golden" / "email"

#: TODAY is Wednesday 11 March 2026; the team works in the Netherlands, in euros.
CONFIG = Config(
    sheet="pipeline.xlsx",
    timezone="Europe/Amsterdam",
    calendar=CalendarConfig(country="NL"),
    email=EmailConfig(currency="EUR"),
)
FRIDAY = date(2026, 3, 6)
MONDAY = date(2026, 3, 9)


# --- The renderer, from a view ------------------------------------------------------------------


def a_view(**changes: Any) -> DigestView:
    """A digest with something in every part: two owners of the team, a manager's own rows,
    an owner missing from the Owners tab, rows without an owner, the funnel, a row that
    needs attention and a refused reply."""
    view = DigestView(
        today=TODAY,
        since=date(2026, 3, 10),
        owners=(
            OwnerFigures(
                "Anna",
                prospects=12,
                today=2,
                overdue=3,
                overdue_value=20000,
                done=8,
                reached=5,
                died=("Foxtrot AS",),
                won=("Hotel Oy",),
                late=(
                    Late("Brick & <Co>", date(2026, 3, 2)),
                    Late("Cobalt BV", date(2026, 3, 9)),
                    Late("Delta", date(2026, 3, 10)),
                ),
            ),
            OwnerFigures("Zoë", prospects=7, today=1, done=3, reached=1),
            OwnerFigures(
                "Sarah",
                role=MANAGER,
                prospects=4,
                overdue=1,
                overdue_value=1234.5,
                done=1,
                reached=1,
                late=(Late("Echo Ltd", date(2026, 3, 6)),),
            ),
            OwnerFigures(
                "Pieter",
                role=UNLISTED,
                prospects=2,
                overdue=1,
                late=(Late("Golf SA", date(2026, 3, 5)),),
            ),
            OwnerFigures("", role=NO_OWNER, prospects=3, today=1),
        ),
        attention=(
            Attention("", "India Pty", "Anna", "Check Prospects!J4: 'soon' is not a date."),
        ),
        funnel=Funnel(
            date(2026, 2, 9),
            20,
            (
                FunnelStep("1", 20, 9, 5, 2),
                FunnelStep("2", 11, 3, 1, 0),
                FunnelStep("3", 8, 2, 0, 0),
                FunnelStep("6+", 1, 0, 0, 0),
            ),
        ),
        refused=(
            RefusedReply(
                datetime(2026, 3, 10, 14, 5),
                "mallory@example.net",
                "P-0002",
                "the sender is not the prospect's owner, delegate or a manager",
                "Brick & <Co>",
            ),
        ),
        currency="EUR",
    )
    return replace(view, **changes)


def render(view: DigestView | None = None, language: str = "en", manager: str = "Mia") -> Message:
    message = digest_message(
        view or a_view(),
        manager=manager,
        to="mia@example.com",
        language=language,
        sheet="/srv/sales/pipeline.xlsx",
    )
    assert message is not None
    return message


def dom(message: Message) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(message.html)


def bars(message: Message) -> list[list[tuple[int, str]]]:
    """Every bar of the HTML: its cells' widths and colours."""
    found = []
    for table in dom(message).iter("table"):
        cells = [td for td in table.iter("td") if td.get("bgcolor")]
        if cells and len(cells) == len(list(table.iter("td"))):
            found.append([(int(td.get("width").rstrip("%")), td.get("bgcolor")) for td in cells])
    return found


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_digest_matches_the_golden_files(language: str) -> None:
    message = render(language=language)
    for suffix, got in (("txt", message.text), ("html", message.html)):
        golden = GOLDEN / f"digest-{language}.{suffix}"
        if os.environ.get("UPDATE_GOLDEN"):
            golden.write_text(got, encoding="utf-8")
        assert got == golden.read_text(encoding="utf-8"), f"{golden.name} changed"


@pytest.mark.parametrize(
    ("language", "subject"),
    [
        ("en", "Team follow-ups: 4 due today, 5 overdue, 1 needs attention"),
        ("nl", "Opvolging team: 4 voor vandaag, 5 achterstallig, 1 vraagt aandacht"),
        ("de", "Wiedervorlagen im Team: 4 heute fällig, 5 überfällig, 1 zu prüfen"),
        ("da", "Teamets opfølgninger: 4 til i dag, 5 forsinkede, 1 kræver opmærksomhed"),
        ("es", "Seguimientos del equipo: 4 para hoy, 5 atrasados, 1 requiere atención"),
    ],
)
def test_today_and_overdue_are_separate_numbers_in_the_subject_and_first_line(
    language: str, subject: str
) -> None:
    message = render(language=language)
    assert message.subject == subject
    figures = subject.split(": ", 1)[1]
    assert message.text.splitlines()[0] == figures
    first = next(p for p in dom(message).iter("p"))
    assert first.text_content() == figures
    without = render(a_view(attention=()), language=language)
    assert without.subject.count(",") == 1


def test_blind_spots_are_named_and_counted_with_the_others() -> None:
    message = render()
    text = message.text
    assert "OUTSIDE THE TEAMS" in text
    assert "- No owner: 3 prospects" in text
    assert "- Owner not in the Owners tab: Pieter (2)" in text
    assert "- Owned by a manager: Sarah (4)" in text
    table = text.split("PER OWNER\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    names = [re.split(r"\s{2,}", line)[0] for line in table[1:]]
    assert names == [
        "Anna",
        "Zoë",
        "Sarah (manager)",
        "Pieter (not in the Owners tab)",
        "No owner",
    ]
    blocks = [b.text_content() for b in dom(message).iter("strong")][: len(names)]
    assert blocks == names
    # The Owners tab by the name the config gives it.
    renamed = render(a_view(owners_tab="Team"))
    assert "Owner not in the Team tab: Pieter (2)" in renamed.text
    assert "OUTSIDE THE TEAMS" not in render(a_view(owners=a_view().owners[:2])).text


def test_each_owner_has_bars_for_calls_reach_today_overdue_and_the_value_waiting() -> None:
    message = render()
    anna = next(
        t for t in dom(message).iter("table") if t.text_content().strip().startswith("Anna")
    )
    rows = [[td.text_content().strip() for td in tr if td.tag == "td"] for tr in anna]
    figures = {row[0]: row[2] for row in rows if len(row) == 3}
    assert figures == {
        "Calls done": "8 (62%)",
        "Due today": "2",
        "Overdue": "3",
        "Overdue value": "€20,000",
    }
    assert "Died: 1 · Won: 1" in anna.text_content()
    # The plain text has the same figures in a table.
    assert re.search(r"\nAnna\s+8\s+62%\s+2\s+3\s+€20,000\s+1\s+1\n", message.text)
    assert re.search(r"\nSarah \(manager\)\s+1\s+100%\s+0\s+1\s+€1,234\.50\s+0\s+0\n", message.text)


def test_bars_are_tables_with_widths_in_percent_and_colours_mail_programs_draw() -> None:
    message = render()
    found = bars(message)
    # Five owners with four bars each, then four rounds of the funnel.
    assert len(found) == 5 * 4 + 4
    for cells in found:
        assert sum(width for width, _ in cells) == 100
        assert all(width >= 1 for width, _ in cells)
        assert {colour for _, colour in cells} <= set(digest.COLOURS.values())
    # The largest figure fills its bar: Anna's overdue (3) is the largest of today/overdue.
    anna_overdue = found[2]
    assert anna_overdue == [(100, digest.COLOURS["overdue"])]
    # Calls done: solid for the 5 reached, light for the 3 not reached, of 8 (the most).
    assert found[0] == [(62, digest.COLOURS["reached"]), (38, digest.COLOURS["missed"])]
    # Nothing a mail program drops or that does not belong in an email.
    page = message.html.lower()
    for banned in ("<img", "<script", "<form", "<svg", "display:flex", "display:grid"):
        assert banned not in page, banned
    assert "background-image" not in page and "position:" not in page


@pytest.mark.parametrize(
    ("parts", "largest", "cells"),
    [
        ([(3, "overdue")], 3, ((100, "overdue"),)),
        ([(0, "overdue")], 3, ((100, "track"),)),
        ([(1, "today")], 0, ((100, "track"),)),
        ([(1, "today")], 1000, ((1, "today"), (99, "track"))),
        ([(5, "reached"), (3, "missed")], 8, ((62, "reached"), (38, "missed"))),
        (
            [(1, "won"), (1, "interested"), (1, "reached")],
            3,
            ((33, "won"), (34, "interested"), (33, "reached")),
        ),
        ([(2, "reached"), (0, "missed")], 4, ((50, "reached"), (50, "track"))),
    ],
)
def test_bar_cells(
    parts: list[tuple[float, str]], largest: float, cells: tuple[tuple[int, str], ...]
) -> None:
    assert bar_cells(parts, largest) == cells


def test_the_funnel_is_drawn_round_by_round_and_written_out() -> None:
    message = render()
    funnel = found_funnel = bars(message)[-4:]
    assert [sum(w for w, c in cells if c != digest.COLOURS["track"]) for cells in funnel] == [
        100,
        55,
        40,
        5,
    ]
    # Round 1: 2 won, 3 more interested, 4 more reached, 11 not reached, of 20.
    assert found_funnel[0] == [
        (10, digest.COLOURS["won"]),
        (15, digest.COLOURS["interested"]),
        (20, digest.COLOURS["reached"]),
        (55, digest.COLOURS["missed"]),
    ]
    page = dom(message).text_content()
    assert "20 called · 9 reached · 5 interested · 2 won" in page
    assert "20 prospects first called since Mon 9 Feb" in page
    text = message.text.split("FUNNEL PER CALLING ROUND", 1)[1]
    assert "Round  Called  Reached  Interested  Won" in text
    assert "1          20        9           5    2  █████████░░░░░░░░░░░" in text
    without = render(a_view(funnel=None))
    assert "FUNNEL" not in without.text and len(bars(without)) == 5 * 4


def test_the_period_is_said_as_it_is_counted() -> None:
    # The previous digest went out yesterday: yesterday alone.
    assert "Done, died and won: since your previous digest, Tue 10 Mar." in render().text
    # On a Monday after Friday's digest: Friday to Sunday.
    monday = render(a_view(today=MONDAY, since=FRIDAY)).text
    assert "since your previous digest, Fri 6 Mar to Sun 8 Mar." in monday
    first = render(a_view(since=TODAY - timedelta(days=7), first=True)).text
    assert "the last 7 days, Wed 4 Mar to Tue 10 Mar (your first digest)." in first
    nl = render(a_view(today=MONDAY, since=FRIDAY), language="nl").text
    assert "sinds je vorige overzicht, vr 6 mrt t/m zo 8 mrt." in nl


def test_refused_replies_are_listed_when_there_are_some() -> None:
    message = render()
    assert (
        "- Tue 10 Mar 14:05, from mallory@example.net, about P-0002 Brick & <Co>: the sender "
        "is not the prospect's owner, delegate or a manager" in message.text
    )
    assert "1 reply to a morning email was not recorded" in message.text
    titles = [h.text_content() for h in dom(message).iter("h2")]
    assert "Replies not recorded (1)" in titles
    assert "Brick &amp; &lt;Co&gt;" in message.html
    quiet = render(a_view(refused=()))
    assert "REPLIES NOT RECORDED" not in quiet.text
    assert "Replies not recorded" not in quiet.html


def test_names_are_text_and_the_greeting_uses_a_name_only() -> None:
    message = render(a_view(owners=(OwnerFigures("<b>Eve</b>", prospects=1, today=1),)))
    assert not list(dom(message).iter("b"))
    assert "&lt;b&gt;Eve&lt;/b&gt;" in message.html
    assert message.text.splitlines()[2] == "Good morning Mia,"
    by_address = render(manager="mia@example.com")
    assert by_address.text.splitlines()[2] == "Good morning,"
    assert by_address.text.rstrip().endswith("Sent by sheetfollow from pipeline.xlsx.")


def test_long_lists_and_many_owners_are_cut_with_a_count() -> None:
    late = tuple(Late(f"Company {n}", date(2026, 3, 2)) for n in range(12))
    many = tuple(
        OwnerFigures(f"Owner {n:03d}", prospects=1, overdue=1, late=late[:1])
        for n in range(digest.MAX_OWNER_BLOCKS + 5)
    )
    message = render(a_view(owners=(OwnerFigures("Anna", overdue=12, late=late), *many)))
    assert "  - Company 4 (9 days)\n  - and 7 more\n" in message.text
    assert "Company 5" not in message.text
    blocks = [s for s in dom(message).iter("strong") if s.text_content().startswith("Owner ")]
    assert len(blocks) == digest.MAX_OWNER_BLOCKS - 1
    assert "and 6 more" in dom(message).text_content()
    # The plain text's table stops at the same owner, and says how many more there are.
    table = message.text.split("PER OWNER\n\n", 1)[1].split("\n\n", 1)[0]
    assert "Owner 058" in table and "Owner 059" not in table
    assert table.endswith("\nand 6 more")


def test_no_owners_no_digest() -> None:
    got = digest_message(
        a_view(owners=()), manager="Mia", to="m@example.com", language="en", sheet=""
    )
    assert got is None


# --- The use case: what a digest covers and counts -----------------------------------------------

ANNA = Owner("Anna", "anna@example.com", country="NL", manager="Mia")
BOB = Owner("Bob", "bob@example.com", country="NL", manager="boss@example.com")
MIA = Owner("Mia", "mia@example.com", country="NL", digest=True)
CARL = Owner("Carl", "carl@example.com", country="NL")
OWNERS = {"anna": ANNA, "bob": BOB, "mia": MIA, "carl": CARL}


def lead(row: int, company: str, owner: str, created: date = TODAY, **fields: Any) -> Prospect:
    return Prospect(
        row,
        id=f"P-{row:04d}",
        company=company,
        owner=owner,
        stage=Stage.NEW,
        created=created,
        **fields,
    )


def rows_of(*prospects: Prospect, today: date = TODAY) -> list[Row]:
    return [compute_row(p, OWNERS.get(p.owner.casefold()), CONFIG, today) for p in prospects]


def touch(day: date, ident: str, by: str, outcome: Outcome, hour: int = 10) -> LogEntry:
    return LogEntry(
        datetime.combine(day, datetime.min.time()) + timedelta(hours=hour), ident, "", by, outcome
    )


def team_rows(today: date = TODAY) -> list[Row]:
    """Anna (Mia's), Bob (boss@'s), Mia's own, Carl (no manager), Pieter (not in the Owners
    tab), and a row without an owner; one of Anna's is overdue, one needs attention. IDs
    follow the rows: Acme Tools is P-0002."""
    return rows_of(
        lead(2, "Acme Tools", "Anna"),
        lead(3, "Brick & Co", "Anna", date(2026, 3, 2), value=20000),
        Prospect(
            4,
            id="P-0004",
            company="Golf SA",
            owner="Anna",
            problems=(Problem("Prospects!J4", "'soon' is not a date"),),
        ),
        lead(5, "Delta GmbH", "Bob", date(2026, 3, 9), value=800),
        lead(6, "Echo Ltd", "Mia"),
        lead(7, "Foxtrot AS", "Carl", date(2026, 3, 10)),
        lead(8, "Hotel Oy", "Pieter"),
        lead(9, "India Pty", ""),
        today=today,
    )


def covered(
    config: Config = CONFIG, owners: dict[str, Owner] = OWNERS
) -> dict[str, list[tuple[str, str]]]:
    """Each digest's recipient -> the (owner, role) groups it covers."""
    managers, _ = digests.recipients(owners, config)
    groups = digests.coverage(managers, owners, team_rows())
    return {
        m.to: [(g.name, g.role) for g in found] for m, found in zip(managers, groups, strict=True)
    }


def test_every_row_reaches_a_manager_listed_as_what_it_is() -> None:
    found = covered()
    assert found == {
        # Mia is at the top: her team, her own rows, and what belongs to nobody.
        "mia@example.com": [
            ("Anna", TEAM),
            ("Mia", MANAGER),
            ("Carl", UNMANAGED),
            ("Pieter", UNLISTED),
            ("", NO_OWNER),
        ],
        # boss@ is at the top too (nobody's team holds an address).
        "boss@example.com": [
            ("Bob", TEAM),
            ("Carl", UNMANAGED),
            ("Pieter", UNLISTED),
            ("", NO_OWNER),
        ],
    }
    every = {vocab_key(p.prospect.owner) for p in team_rows()}
    assert every <= {vocab_key(name) for groups in found.values() for name, _ in groups}


def vocab_key(name: str) -> str:
    return name.strip().casefold()


def test_a_manager_under_another_manager_gets_only_their_team() -> None:
    owners = {**OWNERS, "mia": replace(MIA, manager="boss@example.com")}
    found = covered(owners=owners)
    # Mia's own rows are in boss@'s team now, and what belongs to nobody goes to the top.
    assert found["mia@example.com"] == [("Anna", TEAM)]
    assert found["boss@example.com"] == [
        ("Bob", TEAM),
        ("Mia", MANAGER),
        ("Carl", UNMANAGED),
        ("Pieter", UNLISTED),
        ("", NO_OWNER),
    ]


def test_a_digest_of_the_whole_team_covers_every_row() -> None:
    found = covered(config=replace(CONFIG, email=EmailConfig(manager="ceo@example.com")))
    assert found["ceo@example.com"] == [
        ("Anna", TEAM),
        ("Bob", TEAM),
        ("Mia", MANAGER),
        ("Carl", TEAM),
        ("Pieter", UNLISTED),
        ("", NO_OWNER),
    ]
    # Without an Owners tab, nobody is "missing" from it.
    managers, _ = digests.recipients(
        {}, replace(CONFIG, email=EmailConfig(manager="ceo@example.com"))
    )
    (groups,) = digests.coverage(managers, {}, team_rows())
    assert [(g.name, g.role) for g in groups] == [
        ("Anna", TEAM),
        ("Bob", TEAM),
        ("Mia", TEAM),
        ("Carl", TEAM),
        ("Pieter", TEAM),
        ("", NO_OWNER),
    ]


def view_for(
    to: str,
    entries: Sequence[LogEntry] = (),
    *,
    today: date = TODAY,
    sent: RunState | None = None,
    refused: Sequence[RefusedReply] = (),
) -> DigestView:
    managers, _ = digests.recipients(OWNERS, CONFIG)
    rows = team_rows(today)
    groups = digests.coverage(managers, OWNERS, rows)
    at_top = digests.top(managers)
    n = [m.to for m in managers].index(to)
    return digests.view(
        groups[n],
        rows,
        entries,
        today=today,
        since=digests.period(sent or RunState(), to, today),
        config=CONFIG,
        refused=refused,
        at_top=at_top[n],
    )


def figures(view: DigestView) -> dict[str, OwnerFigures]:
    return {o.name: o for o in view.owners}


def sent_on(*days: date, to: str = "mia@example.com", hour: int = 7) -> RunState:
    return RunState(
        tuple(
            Entry(
                day,
                "digest",
                to,
                to,
                "written",
                datetime.combine(day, datetime.min.time()) + timedelta(hours=hour),
            )
            for day in days
        )
    )


def test_done_died_and_won_count_from_the_previous_digest_through_yesterday() -> None:
    log = [
        touch(date(2026, 3, 5), "P-0003", "Anna", Outcome.NO_ANSWER),  # Thursday: Friday's digest
        touch(FRIDAY, "P-0003", "Anna", Outcome.NO_ANSWER, hour=6),  # before Friday's digest
        touch(FRIDAY, "P-0003", "Anna", Outcome.VOICEMAIL, hour=16),  # after it
        touch(date(2026, 3, 7), "P-0002", "Anna", Outcome.REACHED),  # Saturday
        touch(date(2026, 3, 8), "P-0002", "Anna", Outcome.WON),  # Sunday
        touch(MONDAY, "P-0002", "Anna", Outcome.DELIVERED, hour=6),  # Monday: the next digest's
    ]
    monday = view_for("mia@example.com", log, today=MONDAY, sent=sent_on(date(2026, 3, 5), FRIDAY))
    assert (monday.since, monday.first) == (FRIDAY, False)
    anna = figures(monday)["Anna"]
    # Friday's two (the digest counts days, and Friday's digest counted up to Thursday),
    # Saturday's and Sunday's: four, two of them got through; Sunday's win.
    assert (anna.done, anna.reached, anna.won) == (4, 2, ("Acme Tools",))
    friday = view_for("mia@example.com", log, today=FRIDAY, sent=sent_on(date(2026, 3, 5)))
    assert figures(friday)["Anna"].done == 1  # Thursday's
    # Tuesday's digest after Monday's: Monday's touch, made before Monday's digest.
    tuesday = view_for(
        "mia@example.com", log, today=date(2026, 3, 10), sent=sent_on(FRIDAY, MONDAY)
    )
    assert figures(tuesday)["Anna"].done == 1
    # A digest sent again today (--force) still counts from the one before today.
    again = view_for("mia@example.com", log, today=MONDAY, sent=sent_on(FRIDAY, MONDAY))
    assert again.since == FRIDAY


def test_the_first_digest_looks_back_a_week() -> None:
    log = [
        touch(date(2026, 3, 3), "P-0003", "Anna", Outcome.NO_ANSWER),  # eight days before
        touch(date(2026, 3, 4), "P-0003", "Anna", Outcome.NO_ANSWER),  # seven days before
        touch(date(2026, 3, 10), "P-0003", "Anna", Outcome.REACHED),
    ]
    first = view_for("mia@example.com", log)
    assert (first.since, first.first) == (date(2026, 3, 4), True)
    assert figures(first)["Anna"].done == 2
    # Another manager's digest history is not this one's.
    assert view_for("mia@example.com", log, sent=sent_on(MONDAY, to="boss@example.com")).first


def test_touches_count_for_whoever_made_them_and_the_prospects_owner() -> None:
    log = [
        touch(date(2026, 3, 10), "P-0005", "Anna", Outcome.REACHED),  # Bob's prospect
        touch(date(2026, 3, 10), "P-0009", "Mia", Outcome.NO_ANSWER),  # no owner
    ]
    view = view_for("mia@example.com", log, sent=sent_on(date(2026, 3, 10)))
    found = figures(view)
    assert (found["Anna"].done, found["Mia"].done, found[""].done) == (1, 1, 1)
    assert (
        figures(
            view_for(
                "boss@example.com", log, sent=sent_on(date(2026, 3, 10), to="boss@example.com")
            )
        )["Bob"].done
        == 1
    )


def test_today_overdue_and_the_overdue_value_per_owner() -> None:
    view = view_for("mia@example.com")
    anna = figures(view)["Anna"]
    assert (anna.prospects, anna.today, anna.overdue, anna.overdue_value) == (3, 1, 1, 20000)
    assert anna.late == (Late("Brick & Co", date(2026, 3, 2)),)
    assert [(a.company, a.owner) for a in view.attention] == [("Golf SA", "Anna")]
    # Every row of the digest is in exactly one line: the sums are the digest's.
    assert (view.due_today, view.overdue) == (
        sum(o.today for o in view.owners),
        sum(o.overdue for o in view.owners),
    )


def test_refused_replies_reach_the_digest_of_the_prospect_and_unknown_ones_the_top() -> None:
    def refused(at: datetime, prospect: str) -> RefusedReply:
        return RefusedReply(at, "mallory@example.net", prospect, "forged")

    replies = [
        refused(datetime(2026, 3, 10, 6, 59), "P-0002"),  # before the previous digest
        refused(datetime(2026, 3, 10, 7, 1), "P-0002"),  # Anna's prospect: Mia
        refused(datetime(2026, 3, 10, 9, 0), "P-0005"),  # Bob's: boss@
        refused(datetime(2026, 3, 11, 6, 0), "P-9999"),  # no such prospect: the top digests
    ]
    mia = view_for("mia@example.com", refused=replies, sent=sent_on(date(2026, 3, 10)))
    assert [r.prospect for r in mia.refused] == ["P-0002", "P-9999"]
    boss = view_for(
        "boss@example.com", refused=replies, sent=sent_on(date(2026, 3, 10), to="boss@example.com")
    )
    assert [r.prospect for r in boss.refused] == ["P-0005", "P-9999"]
    # The first digest: the last week's, by day.
    assert len(view_for("mia@example.com", refused=replies).refused) == 3


# --- The whole path: real workbooks, the CLI, the outbox ----------------------------------------


def parse(path: Path) -> EmailMessage:
    with path.open("rb") as handle:
        message = BytesParser(policy=policy.default).parse(handle)
    assert isinstance(message, EmailMessage)
    return message


def text_of(mail: EmailMessage, kind: str = "plain") -> str:
    part = mail.get_body((kind,))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def digest_in(outbox: Path, day: date, to: str) -> EmailMessage:
    (found,) = outbox.glob(f"{day.isoformat()}-digest-{to.replace('@', '-').replace('.', '-')}.eml")
    return parse(found)


def team_table(text: str) -> dict[str, list[str]]:
    """The plain text's table: owner -> done, reached, today, overdue, value, died, won."""
    lines = text.split("PER OWNER\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    return {
        cells[0]: cells[1:] for cells in (re.split(r"\s{2,}", line.strip()) for line in lines[1:])
    }


def test_the_example_digest_reaches_every_row_and_matches_the_console(
    cli: Cli, tmp_path: Path
) -> None:
    day = MONDAY.isoformat()
    assert cli("init", "--example", "--today", day, "demo/pipeline.xlsx").exit_code == 0
    config = ("--config", "demo/sheetfollow.toml", "--today", day)
    refreshed = data_of(cli("refresh", "--dry-run", "--json", *config).stdout)
    due = data_of(cli("due", "--json", *config).stdout)
    result = cli("notify", "--outbox", "out", *config)
    assert result.exit_code == 0, result.output
    mail = digest_in(tmp_path / "out", MONDAY, "sarah@example.com")
    figures = (
        f"{refreshed['due']} due today, {refreshed['overdue']} overdue, "
        f"{refreshed['needs_attention']} need attention"
    )
    assert mail["Subject"] == f"Team follow-ups: {figures}"
    assert len(due) == refreshed["due"] + refreshed["overdue"]
    text = text_of(mail)
    assert text.splitlines()[0] == figures
    # Every row is in one line of the table, and the lines add up to the console's numbers.
    table = team_table(text)
    assert sum(int(cells[2]) for cells in table.values()) == refreshed["due"]
    assert sum(int(cells[3]) for cells in table.values()) == refreshed["overdue"]
    # The rows outside the teams, counted from the workbook itself.
    prospects = openpyxl_rows(tmp_path / "demo" / "pipeline.xlsx")
    column = prospects[0].index("Owner")
    owners = [str(row[column] or "").strip() for row in prospects[1:] if any(row)]
    listed = {str(r[0]) for r in openpyxl_rows(tmp_path / "demo" / "pipeline.xlsx", "Owners")[1:]}
    blank = owners.count("")
    unlisted = sorted({o for o in owners if o and o not in listed})
    assert blank and unlisted, "the example workbook has both kinds of broken rows"
    assert f"- No owner: {blank} prospect" in text
    names = ", ".join(f"{o} ({owners.count(o)})" for o in unlisted)
    assert f"- Owner not in the Owners tab: {names}" in text
    assert f"- Owned by a manager: Sarah ({owners.count('Sarah')})" in text
    assert "Sarah (manager)" in table and "No owner" in table
    assert "the last 7 days, Mon 2 Mar to Sun 8 Mar (your first digest)" in text


TEAM_OWNERS: tuple[tuple[Cell, ...], ...] = (
    ("Owner", "Email", "Language", "Country", "Manager", "Digest"),
    ("Anna", "anna@example.com", "en", "NL", "mia@example.com", "no"),
)
PROSPECTS: tuple[tuple[Cell, ...], ...] = (
    ("ID", "Company", "Owner", "Stage", "Created", "Last contact", "Last outcome", "Attempts"),
    ("P-0001", "Acme Tools", "Anna", "new", date(2026, 3, 2)),
    ("P-0002", "Brick & Co", "Anna", "new", date(2026, 3, 2)),
    ("P-0003", "Cobalt BV", "Anna", "new", date(2026, 3, 2)),
)


def small_team(folder: Path) -> Path:
    write_workbook(
        folder / "pipeline.xlsx", Tab("Prospects", PROSPECTS), Tab("Owners", TEAM_OWNERS)
    )
    (folder / CONFIG_NAME).write_text(TEAM_CONFIG, encoding="utf-8")
    return folder


def test_a_monday_digest_counts_fridays_calls(cli: Cli, tmp_path: Path) -> None:
    """Digests go out Thursday and Friday mornings; calls are marked through the week and
    the weekend; Monday's digest counts Friday's (after Friday's digest), Saturday's and
    Sunday's, and none that an earlier digest counted."""
    small_team(tmp_path)

    def on(day: date, *args: str) -> None:
        result = cli(*args, "--today", day.isoformat())
        assert result.exit_code == 0, result.output

    thursday, saturday, sunday = date(2026, 3, 5), date(2026, 3, 7), date(2026, 3, 8)
    on(thursday, "mark", "P-0001", "no-answer")
    on(thursday, "notify", "--outbox", "out")
    on(thursday, "mark", "P-0002", "no-answer")
    on(FRIDAY, "notify", "--outbox", "out")
    on(FRIDAY, "mark", "P-0001", "reached")
    on(saturday, "mark", "P-0003", "voicemail")
    on(sunday, "mark", "P-0002", "won")
    on(MONDAY, "mark", "P-0003", "reached")  # before Monday's digest: Tuesday's
    on(MONDAY, "notify", "--outbox", "out")
    on(date(2026, 3, 10), "notify", "--outbox", "out")

    def anna(day: date) -> list[str]:
        return team_table(text_of(digest_in(tmp_path / "out", day, "mia@example.com")))["Anna"]

    # done, reached, today, overdue, value, died, won
    assert anna(thursday)[:2] == ["0", "–"]  # Thursday's call was after nothing: today's
    assert anna(FRIDAY)[:2] == ["2", "0%"]  # Thursday's two
    assert anna(MONDAY)[:2] == ["3", "67%"]  # Friday's, Saturday's, Sunday's
    assert anna(MONDAY)[6] == "1"  # won on Sunday
    assert anna(date(2026, 3, 10))[:2] == ["1", "100%"]  # Monday's
    monday = text_of(digest_in(tmp_path / "out", MONDAY, "mia@example.com"))
    assert "since your previous digest, Fri 6 Mar to Sun 8 Mar." in monday
    assert "Brick & Co" in monday.split("Won:", 1)[1]


@dataclass(frozen=True)
class Fetched:
    """A message as the mailbox hands it over."""

    uid: str
    raw: bytes


def test_a_refused_reply_is_listed_in_the_next_digest(cli: Cli, tmp_path: Path) -> None:
    """A reply forged by someone who is not on the team, decided by the real inbox use case
    and noted in its record, shows in the manager's digest of the next morning."""
    small_team(tmp_path)
    config = load_config(tmp_path / CONFIG_NAME)
    backend = XlsxBackend(tmp_path / "pipeline.xlsx")
    secret = b"s" * 32
    button = reply.tag(
        secret, "pipeline.xlsx", "P-0002", "anna@example.com", date(2026, 3, 10), Outcome.WON
    )
    raw = (
        "From: Mallory <mallory@example.net>\r\nTo: followup@example.com\r\n"
        f"Subject: Re: Brick & Co: Won {button.text}\r\nMessage-ID: <forged-1@example.net>\r\n"
        "Date: Tue, 10 Mar 2026 15:00:00 +0100\r\n\r\nWon!\r\n"
    ).encode()
    moment = datetime(2026, 3, 10, 15, 5).astimezone()
    report = inbox.process(
        backend, config, date(2026, 3, 10), [Fetched("1", raw)], secret, now=moment
    )
    assert [h.status for h in report.handled] == [inbox.REFUSED]
    result = cli("notify", "--outbox", "out", "--today", TODAY.isoformat())
    assert result.exit_code == 0, result.output
    text = text_of(digest_in(tmp_path / "out", TODAY, "mia@example.com"))
    listed = text.split("REPLIES NOT RECORDED (1)\n\n", 1)[1]
    assert "1 reply to a morning email was not recorded" in listed
    assert "from mallory@example.net, about P-0002 Brick & Co: " in listed
    # The digest after that one lists it no more.
    result = cli("notify", "--outbox", "out", "--today", "2026-03-12")
    assert "REPLIES NOT RECORDED" not in text_of(
        digest_in(tmp_path / "out", date(2026, 3, 12), "mia@example.com")
    )


# --- On a phone and on a desktop ----------------------------------------------------------------

#: Runs in the test's page (never in an email): what Chromium laid out in each iframe.
MEASURE = """
window.addEventListener("load", function () {
  var facts = {};
  document.querySelectorAll("iframe").forEach(function (frame) {
    var doc = frame.contentDocument, root = doc.documentElement, width = root.clientWidth;
    var wide = [], bars = [];
    doc.body.querySelectorAll("*").forEach(function (el) {
      var box = el.getBoundingClientRect();
      if (box.width > 0 && (box.right > width + 0.5 || box.left < -0.5)) {
        wide.push(el.tagName + ": " + (el.textContent || "").trim().slice(0, 60));
      }
    });
    doc.querySelectorAll("td[bgcolor]").forEach(function (td) {
      var box = td.getBoundingClientRect();
      bars.push([td.getAttribute("width"), box.width, box.height]);
    });
    facts[frame.id] = {
      clientWidth: width,
      scrollWidth: root.scrollWidth,
      height: Math.ceil(doc.body.getBoundingClientRect().bottom),
      wide: wide.slice(0, 5),
      bars: bars,
      firstLine: doc.body.innerText.trim().split("\\n")[0],
    };
  });
  document.getElementById("facts").textContent = JSON.stringify(facts);
});
"""


@pytest.fixture(scope="module")
def laid_out(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The digest in every language at phone and desktop width, laid out by Chromium in one
    run (each in an iframe of that width, on a page of the test's own); the folder keeps the
    emails and, later, the screenshots."""
    screens = pytest.importorskip("test_email_screens")
    if screens.CHROMIUM is None:
        pytest.skip("needs Chromium (.ci/run installs it)")
    folder = tmp_path_factory.mktemp("digest-screens")
    frames = []
    for language in LANGUAGES:
        page = render(language=language).html
        (folder / f"digest-{language}.html").write_text(page, encoding="utf-8")
        for width in (screens.PHONE, screens.DESKTOP):
            frames.append(
                f'<iframe id="{language}-{width}" style="display:block;border:0;width:{width}px;'
                f'height:6000px" srcdoc="{html.escape(page, quote=True)}"></iframe>'
            )
    measure = folder / "measure.html"
    measure.write_text(
        '<!DOCTYPE html><html><body style="margin:0"><pre id="facts"></pre>'
        + "\n".join(frames)
        + f"<script>{MEASURE}</script></body></html>",
        encoding="utf-8",
    )
    done = screens.chromium(
        "--window-size=1100,900", "--dump-dom", measure.as_uri(), profile=folder / "profile"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (facts,) = lxml.html.fromstring(done.stdout).xpath("//pre[@id='facts']")
    return folder, json.loads(facts.text_content())


@pytest.mark.parametrize("width", [420, 1024])
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_digest_fits_the_screen_and_its_bars_show(
    laid_out: tuple[Path, dict[str, Any]], language: str, width: int
) -> None:
    _, measured = laid_out
    facts = measured[f"{language}-{width}"]
    assert facts["clientWidth"] == width
    assert facts["scrollWidth"] <= width, facts["wide"]
    assert facts["wide"] == []
    assert facts["firstLine"] == render(language=language).text.splitlines()[0]
    # Every part of every bar is drawn: at least a pixel wide, as tall as the bar.
    assert len(facts["bars"]) > 5 * 4
    thin = [bar for bar in facts["bars"] if bar[1] < 1 or bar[2] < 10]
    assert thin == []


def test_screenshots_of_the_digest_at_phone_width(laid_out: tuple[Path, dict[str, Any]]) -> None:
    """One picture per language at 420 px, as tall as the digest: artefacts to look at."""
    screens = pytest.importorskip("test_email_screens")
    folder, measured = laid_out
    for language in LANGUAGES:
        height = min(int(measured[f"{language}-420"]["height"]) + 16, 8000)
        picture = folder / f"digest-{language}-420.png"
        done = screens.chromium(
            f"--window-size=420,{height}",
            f"--screenshot={picture}",
            (folder / f"digest-{language}.html").as_uri(),
            profile=folder / "profile",
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert screens.png_size(picture) == (420, height)
