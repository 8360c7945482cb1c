"""The emails people read: the owner's call list and the manager's digest.

Rows are computed by the real rules (service.compute_row) from prospects as a sheet would
hold them, or read from a real workbook; the HTML is parsed back with lxml.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

import lxml.html
import pytest
from babel.dates import format_date, format_skeleton
from babel.numbers import format_decimal
from conftest import TODAY, Team
from icalendar import Calendar

from sheetfollow import stats as stats_module
from sheetfollow.config import CalendarConfig, Config, ImportConfig, Rules, load_config
from sheetfollow.fields import LANGUAGES
from sheetfollow.log import LogEntry
from sheetfollow.models import (
    Channel,
    Computed,
    Outcome,
    Owner,
    Problem,
    Prospect,
    Row,
    Stage,
    Status,
)
from sheetfollow.notify import render
from sheetfollow.notify.message import Message
from sheetfollow.notify.render import digest_message, owner_message
from sheetfollow.service import compute_row, load, open_backend

GOLDEN = Path(__file__).parent / "golden" / "email"
STRINGS = Path(__file__).resolve().parents[1] / "templates" / "email" / "strings.toml"

#: TODAY is a Wednesday; the team works in the Netherlands.
CONFIG = Config(
    sheet="pipeline.xlsx",
    timezone="Europe/Amsterdam",
    calendar=CalendarConfig(country="NL"),
)
LOCALES = {"en": "en_GB", "nl": "nl_NL", "de": "de_DE", "da": "da_DK", "es": "es_ES"}


def anna(language: str = "en", **changes: str) -> Owner:
    fields = {"name": "Anna", "email": "anna@example.com", "country": "NL", "language": language}
    fields.update(changes)
    return Owner(**fields)  # type: ignore[arg-type]


def computed(
    *prospects: Prospect, owner: Owner | None = None, config: Config = CONFIG
) -> list[Row]:
    """Rows as `refresh` computes them on TODAY."""
    return [compute_row(p, owner or anna(), config, TODAY) for p in prospects]


def new_lead(
    row: int, company: str, created: date, owner: str = "Anna", **fields: object
) -> Prospect:
    """A lead nobody called yet: due on `created` (the cadence's first gap is 0)."""
    return Prospect(row, company=company, owner=owner, stage=Stage.NEW, created=created, **fields)  # type: ignore[arg-type]


def dom(message: Message) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(message.html)


def section_titles(message: Message) -> list[str]:
    return [h.text_content().strip() for h in dom(message).iter("h2")]


def companies_by_section(message: Message) -> dict[str, list[str]]:
    """Section title -> the companies in it, in order, as the HTML shows them."""
    found: dict[str, list[str]] = {}
    current = ""
    for element in dom(message).iter("h2", "strong", "div"):
        if element.tag == "h2":
            current = element.text_content().strip()
            found[current] = []
        elif element.tag == "strong" or "font-size:16px" in element.get("style", ""):
            found[current].append((element.text or "").strip())
    return found


def message_for(rows: Sequence[Row], owner: Owner | None = None, **kwargs: object) -> Message:
    message = owner_message(
        owner or anna(),
        rows,
        today=TODAY,
        config=CONFIG,
        sheet="pipeline.xlsx",
        **kwargs,  # type: ignore[arg-type]
    )
    assert message is not None
    return message


# --- The fixed rows of the golden files --------------------------------------------------------

GOLDEN_PROSPECTS = (
    new_lead(
        2,
        "Acme Tools",
        TODAY,
        id="P-0001",
        contact="Ann Archer",
        phone="020 555 0101",
        email="ann@acme.example",
        value=5000,
    ),
    new_lead(
        3,
        "Brick & <Co>",
        date(2026, 3, 2),
        id="P-0002",
        contact="Bert Brick",
        phone="+31 20 555 0102",
        value=20000,
        notes="Met at the trade fair in Utrecht; wants a demo of the large model before the "
        "budget round in April. Ask for Bert, not the switchboard: they never put you through.",
    ),
    Prospect(
        4,
        company="Echo Ltd",
        contact="Eve Echo",
        phone="+44 20 555 0105",
        owner="Zoë",
        stage=Stage.QUOTE,
        value=12000,
        created=date(2026, 2, 1),
        last_contact=date(2026, 3, 6),
        last_outcome=Outcome.QUOTE_SENT,
    ),
    Prospect(
        5,
        id="P-0009",
        company="Cobalt BV",
        contact="Cor Cobalt",
        email="cor@cobalt.example",
        owner="Anna",
        stage=Stage.CONTACTED,
        value=1234.5,
        created=date(2026, 2, 1),
        last_contact=date(2026, 3, 9),
        last_outcome=Outcome.NO_ANSWER,
        attempts=1,
        channel=Channel.EMAIL,
    ),
    Prospect(
        6,
        id="P-0011",
        company="Delta",
        contact="Dirk Delta",
        phone="06 12345678",
        owner="Anna",
        stage=Stage.QUOTE,
        value=800,
        created=date(2026, 2, 1),
        last_contact=date(2026, 3, 10),
        last_outcome=Outcome.QUOTE_SENT,
    ),
)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_owner_email_matches_the_golden_files(language: str) -> None:
    message = message_for(computed(*GOLDEN_PROSPECTS), anna(language))
    for suffix, got in (("txt", message.text), ("html", message.html)):
        golden = GOLDEN / f"owner-{language}.{suffix}"
        if os.environ.get("UPDATE_GOLDEN"):
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(got, encoding="utf-8")
        assert got == golden.read_text(encoding="utf-8"), f"{golden.name} changed"


# --- Sections --------------------------------------------------------------------------------


def test_overdue_oldest_first_then_today_by_value_then_the_coming_days_by_date() -> None:
    rows = computed(
        new_lead(2, "Late 2", date(2026, 3, 4), value=10),
        new_lead(3, "Late 1", date(2026, 3, 2), value=1),
        new_lead(4, "Today small", TODAY, value=100),
        new_lead(5, "Today big", TODAY, value=90000),
        new_lead(6, "Today unvalued", TODAY),
        new_lead(7, "Friday", date(2026, 3, 13)),
        new_lead(8, "Thursday", date(2026, 3, 12)),
        # Monday 16 March is more than 3 calendar days away: not in the email.
        new_lead(9, "Next Monday", date(2026, 3, 16)),
    )
    message = message_for(rows)
    assert companies_by_section(message) == {
        "Overdue (2)": ["Late 1", "Late 2"],
        "Due today (3)": ["Today big", "Today small", "Today unvalued"],
        "Coming days (2)": ["Thursday", "Friday"],
    }
    text = message.text
    order = ["Late 1", "Late 2", "Today big", "Today small", "Today unvalued", "Thursday", "Friday"]
    positions = [text.index(name) for name in order]
    assert positions == sorted(positions)
    assert "Next Monday" not in text and "Next Monday" not in message.html


def test_coming_days_can_be_widened() -> None:
    rows = computed(new_lead(2, "Today", TODAY), new_lead(3, "Next Monday", date(2026, 3, 16)))
    assert "Next Monday" not in message_for(rows).text
    assert "Next Monday" in message_for(rows, coming_days=5).text


def test_rows_nobody_should_call_never_appear() -> None:
    dead = Prospect(
        3,
        company="Dead Corp",
        owner="Anna",
        stage=Stage.CONTACTED,
        created=date(2026, 1, 5),
        last_contact=date(2026, 3, 2),
        last_outcome=Outcome.NO_ANSWER,
        attempts=5,
    )
    refused = Prospect(
        4,
        company="No Thanks Ltd",
        owner="Anna",
        last_contact=date(2026, 3, 3),
        last_outcome=Outcome.NOT_INTERESTED,
    )
    broken = Prospect(
        5,
        company="Broken Row",
        owner="Anna",
        problems=(Problem("Prospects!J5", "'soon' is not a date"),),
    )
    rows = computed(new_lead(2, "Alive", TODAY), dead, refused, broken)
    assert [r.computed.status for r in rows[1:]] == [
        Status.DEAD,
        Status.NOT_INTERESTED,
        Status.NEEDS_ATTENTION,
    ]
    # Whatever a caller passes: a date next to one of these statuses is never a call.
    stale = [Row(r.prospect, Computed(TODAY, r.computed.status, "", "", "Anna")) for r in rows[1:]]
    message = message_for([*rows, *stale])
    for name in ("Dead Corp", "No Thanks Ltd", "Broken Row"):
        assert name not in message.text and name not in message.html
    assert message.subject == "1 follow-up today"


def test_nothing_overdue_or_due_today_sends_nothing() -> None:
    coming = computed(new_lead(2, "Tomorrow", date(2026, 3, 12)))
    assert owner_message(anna(), coming, today=TODAY, config=CONFIG, sheet="") is None
    assert owner_message(anna(), [], today=TODAY, config=CONFIG, sheet="") is None


# --- Subjects --------------------------------------------------------------------------------

SUBJECTS = {
    # language: (1 due; 2 due; 4 due of which 1 overdue; 5 due of which 2 overdue)
    "en": (
        "1 follow-up today",
        "2 follow-ups today",
        "4 follow-ups today, 1 overdue",
        "5 follow-ups today, 2 overdue",
    ),
    "nl": (
        "1 opvolging vandaag",
        "2 opvolgingen vandaag",
        "4 opvolgingen vandaag, 1 achterstallig",
        "5 opvolgingen vandaag, 2 achterstallig",
    ),
    "de": (
        "1 Wiedervorlage heute",
        "2 Wiedervorlagen heute",
        "4 Wiedervorlagen heute, 1 überfällig",
        "5 Wiedervorlagen heute, 2 überfällig",
    ),
    "da": (
        "1 opfølgning i dag",
        "2 opfølgninger i dag",
        "4 opfølgninger i dag, 1 forsinket",
        "5 opfølgninger i dag, 2 forsinkede",
    ),
    "es": (
        "1 seguimiento hoy",
        "2 seguimientos hoy",
        "4 seguimientos hoy, 1 atrasado",
        "5 seguimientos hoy, 2 atrasados",
    ),
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_subjects_say_it_all_in_every_language(language: str) -> None:
    got = []
    for due, late in ((1, 0), (2, 0), (3, 1), (3, 2)):
        rows = computed(
            *(new_lead(2 + i, f"Due {i}", TODAY) for i in range(due)),
            *(new_lead(20 + i, f"Late {i}", date(2026, 3, 2)) for i in range(late)),
        )
        got.append(message_for(rows, anna(language)).subject)
    assert tuple(got) == SUBJECTS[language]


def test_many_follow_ups_use_the_languages_number_format() -> None:
    rows = computed(*(new_lead(2 + i, f"Lead {i}", TODAY) for i in range(1001)))
    assert message_for(rows, anna("de")).subject == "1.001 Wiedervorlagen heute"
    assert message_for(rows, anna("en")).subject == "1,001 follow-ups today"


# --- What a row shows ------------------------------------------------------------------------


def test_phone_links_are_e164_in_the_owners_country_and_show_the_number_as_written() -> None:
    rows = computed(
        new_lead(2, "Local", TODAY, phone="020 123 4567", value=3),
        new_lead(3, "International", TODAY, phone="+31 (0)20 123 4567", value=2),
        new_lead(4, "Short", TODAY, phone="12-34", value=1),
        new_lead(5, "Words", TODAY, phone="ask reception", value=0),
    )
    message = message_for(rows)
    links = {a.text: a.get("href") for a in dom(message).iter("a")}
    assert links == {
        "020 123 4567": "tel:+31201234567",
        "+31 (0)20 123 4567": "tel:+31201234567",
        # Not a number phonenumbers accepts: the digits as typed.
        "12-34": "tel:1234",
    }
    # No digits, no link; the text is still shown.
    assert "Phone: ask reception" in dom(message).text_content()
    assert render.tel_href("ask reception") == ""


def test_phone_links_without_a_country_fall_back_to_the_team_settings() -> None:
    assert render.tel_href("020 123 4567") == "tel:0201234567"
    assert render.tel_href("020 123 4567", "NL") == "tel:+31201234567"
    assert render.tel_href("030 1234567", "DE") == "tel:+49301234567"
    assert render.tel_href("+44 20 7946 0958", "NL") == "tel:+442079460958"
    # An Owners row with a country phonenumbers does not know: no region at all.
    assert render.tel_href("+49 30 1234567", "XX") == "tel:+49301234567"
    owner = anna(country="")
    config = Config(calendar=CalendarConfig(country="NL"))
    row = computed(new_lead(2, "Acme", TODAY, phone="020 123 4567"), owner=owner, config=config)
    message = owner_message(owner, row, today=TODAY, config=config, sheet="")
    assert message is not None
    assert [a.get("href") for a in dom(message).iter("a")] == ["tel:+31201234567"]
    config = Config(imports=ImportConfig(default_country="BE"))
    message = owner_message(owner, row, today=TODAY, config=config, sheet="")
    assert message is not None
    assert [a.get("href") for a in dom(message).iter("a")] == ["tel:+3220123456" + "7"]


def test_email_links() -> None:
    rows = computed(new_lead(2, "Acme", TODAY, email="jan.de.vries+sales@acme.example"))
    links = [(a.get("href"), a.text) for a in dom(message_for(rows)).iter("a")]
    assert links == [("mailto:jan.de.vries+sales@acme.example", "jan.de.vries+sales@acme.example")]


def test_company_names_are_text_not_markup() -> None:
    hostile = '<script>alert("x")</script> & Sons <b>'
    rows = computed(new_lead(2, hostile, TODAY, contact="<img src=x onerror=alert(1)>"))
    message = message_for(rows)
    tree = dom(message)
    assert not list(tree.iter("script")) and not list(tree.iter("img")) and not list(tree.iter("b"))
    assert hostile in tree.text_content()
    assert "&lt;script&gt;" in message.html
    # The plain text carries the name as typed, and the calendar too.
    assert hostile in message.text
    event = Calendar.from_ical(message.attachments[0].data).walk("VEVENT")[0]
    assert hostile in str(event["SUMMARY"])


def test_the_html_is_self_contained_and_narrow() -> None:
    message = message_for(computed(*GOLDEN_PROSPECTS))
    tree = dom(message)
    assert not list(tree.iter("script", "style", "link", "img", "iframe"))
    assert all(not a.get("href", "").startswith("http") for a in tree.iter("a"))
    container = tree.body[0]
    assert "max-width:640px" in container.get("style", "")
    assert "<table" not in message.html  # one column: nothing side by side


def test_the_plain_text_mirrors_the_html_without_markup() -> None:
    message = message_for(computed(*GOLDEN_PROSPECTS))
    assert not re.search(r"</?(html|body|div|p|a|h2|span|code|strong)\b", message.text)
    assert "&lt;" not in message.text and "&amp;" not in message.text
    tree = dom(message)
    for card_text in ("Brick & <Co>", "Ann Archer", "020 555 0101", "ann@acme.example"):
        assert card_text in message.text and card_text in tree.text_content()
    commands = [c.text for c in tree.iter("div") if (c.text or "").startswith("sheetfollow mark")]
    assert commands == re.findall(r"sheetfollow mark [^\n]+", message.text)
    assert len(commands) == 4  # overdue + due today; the coming days list no command


def test_dates_and_numbers_follow_the_owners_language() -> None:
    rows = computed(
        new_lead(2, "Big", date(2026, 3, 2), value=1234567.5),
        Prospect(
            3,
            company="Called",
            owner="Anna",
            stage=Stage.CONTACTED,
            created=date(2026, 2, 1),
            last_contact=date(2026, 3, 9),
            last_outcome=Outcome.NO_ANSWER,
            attempts=1,
        ),
    )
    for language in LANGUAGES:
        locale = LOCALES[language]
        text = message_for(rows, anna(language)).text
        assert format_skeleton("MMMEd", date(2026, 3, 2), locale=locale) in text  # overdue since
        assert format_skeleton("MMMEd", date(2026, 3, 9), locale=locale) in text  # last contact
        assert format_date(TODAY, "EEEE", locale=locale) in text  # the heading's weekday
        assert format_decimal(1234567.5, format="#,##0.##", locale=locale) in text
    assert "1,234,567.5" in message_for(rows, anna("en")).text
    assert "1.234.567,5" in message_for(rows, anna("nl")).text


def test_a_last_contact_in_another_year_shows_the_year() -> None:
    old = Prospect(
        2,
        company="Old",
        owner="Anna",
        stage=Stage.CONTACTED,
        created=date(2025, 11, 1),
        last_contact=date(2025, 12, 29),
        last_outcome=Outcome.REACHED,
        follow_up_on=TODAY,
    )
    text = message_for(computed(old)).text
    day = format_skeleton("yMMMEd", date(2025, 12, 29), locale="en_GB")
    assert f"Last contact: Reached on {day}" in text


def test_an_owner_without_a_language_gets_the_teams() -> None:
    config = Config(language="nl")
    rows = computed(new_lead(2, "Acme", TODAY), config=config)
    message = owner_message(anna(language=""), rows, today=TODAY, config=config, sheet="")
    assert message is not None
    assert message.language == "nl" and message.subject == "1 opvolging vandaag"


@pytest.mark.parametrize(
    ("language", "shown"),
    [
        ("en", "for Zoë"),
        ("nl", "voor Zoë"),
        ("de", "für Zoë"),
        ("da", "for Zoë"),
        ("es", "para Zoë"),
    ],
)
def test_a_delegate_sees_whose_prospect_it_is(language: str, shown: str) -> None:
    zoe = Owner("Zoë", "zoe@example.com", delegate="Émile", country="NL")
    config = Config(rules=Rules(delegate_below=1000), calendar=CalendarConfig(country="NL"))
    small = Prospect(2, company="India Pty", owner="Zoë", stage=Stage.NEW, value=500, created=TODAY)
    big = Prospect(3, company="Juliet Inc", owner="Émile", stage=Stage.NEW, value=50, created=TODAY)
    rows = [compute_row(small, zoe, config, TODAY), compute_row(big, None, config, TODAY)]
    assert rows[0].computed.assigned_to == "Émile"
    emile = Owner("Émile", "emile@example.com", language=language, country="NL")
    message = owner_message(emile, rows, today=TODAY, config=config, sheet="")
    assert message is not None
    assert message.to == "emile@example.com" and message.key == "Émile"
    headings = [
        d.text_content() for d in dom(message).iter("div") if "font-size:16px" in d.get("style", "")
    ]
    assert headings == [f"India Pty ({shown})", "Juliet Inc"]
    assert f"India Pty ({shown})" in message.text


def test_the_step_reads_as_an_attempt_or_as_what_the_touch_is_for() -> None:
    t = render.Strings("en")
    assert render.step_text("3 of 5", t) == "Attempt 3 of 5"
    assert render.step_text("2 of 5", render.Strings("nl")) == "Poging 2 van 5"
    assert render.step_text("thank-you", t) == "Thank-you after the sale"
    assert render.step_text("check-in", render.Strings("de")) == "Nachfassen nach der Lieferung"
    assert render.step_text("something new", t) == "something new"
    won = Prospect(
        2,
        company="Winner",
        owner="Anna",
        stage=Stage.WON,
        last_contact=date(2026, 3, 10),
        last_outcome=Outcome.WON,
    )
    row = computed(won)[0]
    assert row.computed.step == "thank-you" and row.computed.next_follow_up == TODAY
    assert "Thank-you after the sale" in message_for([row]).text


def test_the_suggested_channel() -> None:
    rows = computed(
        new_lead(2, "Visit me", TODAY, phone="020 123 4567", channel=Channel.VISIT, value=3),
        new_lead(3, "Has a phone", TODAY, phone="020 123 4567", email="a@b.example", value=2),
        new_lead(4, "Email only", TODAY, email="a@b.example", value=1),
    )
    assert [render.suggested_channel(r) for r in rows] == [
        Channel.VISIT,
        Channel.PHONE,
        Channel.EMAIL,
    ]
    text = message_for(rows, anna("nl")).text
    assert [line.split(" · ")[2] for line in text.splitlines() if "Kanaal:" in line] == [
        "Kanaal: Bezoek",
        "Kanaal: Telefoon",
        "Kanaal: E-mail",
    ]


def test_long_notes_are_cut_between_words() -> None:
    note = "Wants a demo. " * 30
    rows = computed(new_lead(2, "Chatty", TODAY, notes=note))
    (line,) = [line for line in message_for(rows).text.splitlines() if "Note:" in line]
    shown = line.split("Note: ", 1)[1]
    assert shown.endswith("…") and len(shown) <= render.NOTE_LENGTH
    assert note.startswith(shown[:-1])
    assert render.shorten("short\n  note") == "short note"


def test_the_command_to_record_the_outcome() -> None:
    with_id = computed(new_lead(2, "Acme", TODAY, id="P-0012"))[0]
    without = computed(new_lead(3, "Smith & Sons' Bakery", TODAY))[0]
    assert render.mark_command(with_id, "outcome", config=CONFIG) == (
        "sheetfollow mark P-0012 <outcome>"
    )
    assert render.mark_command(without, "outcome", config=CONFIG) == (
        "sheetfollow mark 'Smith & Sons'\"'\"' Bakery' <outcome>"
    )
    # The config's own sheet needs no --sheet; another one does.
    assert render.mark_command(with_id, "x", sheet="pipeline.xlsx", config=CONFIG) == (
        "sheetfollow mark P-0012 <x>"
    )
    assert render.mark_command(with_id, "x", sheet="/data/Q1 pipeline.xlsx", config=CONFIG) == (
        "sheetfollow mark --sheet '/data/Q1 pipeline.xlsx' P-0012 <x>"
    )
    message = message_for([with_id, without])
    assert "sheetfollow mark P-0012 &lt;outcome&gt;" in message.html
    (help_line,) = [line for line in message.text.splitlines() if "what happened" in line]
    assert help_line.startswith("After each call, replace <outcome> with what happened: reached,")
    assert all(word in help_line for word in render.OUTCOME_WORDS)


def test_the_message_carries_a_calendar_of_todays_calls() -> None:
    message = message_for(computed(*GOLDEN_PROSPECTS))
    (attachment,) = message.attachments
    assert attachment.filename == "follow-ups-2026-03-11.ics"
    assert attachment.mime_type == "text/calendar"
    assert attachment.params == (("method", "PUBLISH"),)
    events = Calendar.from_ical(attachment.data).walk("VEVENT")
    # One overdue and three due today; the coming day has no event.
    assert [str(e["SUMMARY"]) for e in events] == [
        "Call Brick & <Co> (Bert Brick)",
        "Call Echo Ltd (Eve Echo)",
        "Call Acme Tools (Ann Archer)",
        "Email Cobalt BV (Cor Cobalt)",
    ]


# --- The strings table -----------------------------------------------------------------------


def test_every_language_has_every_text_with_the_same_placeholders() -> None:
    table = render.strings_table()
    assert set(table) == set(LANGUAGES)
    english = table["en"]

    def placeholders(value: object) -> set[str]:
        texts = value.values() if isinstance(value, dict) else [value]
        return {name for text in texts for name in re.findall(r"{(\w+)}", str(text))}

    for language in LANGUAGES:
        texts = table[language]
        assert set(texts) == set(english), language
        for key, value in texts.items():
            assert placeholders(value) == placeholders(english[key]), (language, key)
            if isinstance(english[key], dict):
                assert isinstance(value, dict) and set(value) == {"one", "other"}, (language, key)
            else:
                assert isinstance(value, str) and value.strip(), (language, key)


def test_the_strings_come_from_the_shipped_templates_folder() -> None:
    assert STRINGS.is_file()
    env = render.environment()
    assert env.loader is not None
    source, _, _ = env.loader.get_source(env, "strings.toml")
    assert source == STRINGS.read_text(encoding="utf-8")


# --- From a real workbook ----------------------------------------------------------------------


def test_the_call_list_of_an_owner_in_the_team_workbook(team: Team) -> None:
    config = load_config(team.config)
    pipeline = load(open_backend(None, config), config, team.today)
    assert pipeline.owners is not None
    owner = pipeline.owners["anna"]
    mine = [row for row in pipeline.rows if row.computed.assigned_to == "Anna"]
    message = owner_message(owner, mine, today=team.today, config=config, sheet=str(team.workbook))
    assert message is not None
    assert message.subject == "2 follow-ups today, 1 overdue"
    assert companies_by_section(message) == {
        "Overdue (1)": ["Brick & Co"],
        "Due today (1)": ["Acme Tools"],
        "Coming days (1)": ["Echo Ltd"],
    }
    hrefs = [a.get("href") for a in dom(message).iter("a")]
    assert hrefs == ["tel:+31205550102", "tel:+31205550101", "tel:+442055501" + "05"]
    # The config names the same workbook (relative to the config's folder): no --sheet.
    assert "Record the outcome: sheetfollow mark P-0002 <outcome>" in message.text
    assert message.text.rstrip().endswith("Sent by sheetfollow from pipeline.xlsx.")
    other = team.folder / "copy of pipeline.xlsx"
    message = owner_message(owner, mine, today=team.today, config=config, sheet=str(other))
    assert message is not None
    assert f"sheetfollow mark --sheet '{other}' P-0002 <outcome>" in message.text


# --- The digest --------------------------------------------------------------------------------

MONDAY = date(2026, 3, 9)
BOB = Owner("Bob", "bob@example.com", country="NL", manager="Mia")
ZOE = Owner("Zoë", "zoe@example.com", delegate="Émile", country="NL", manager="Mia")
EMILE = Owner("Émile", "emile@example.com", country="NL")


def touch(day: date, ident: str, company: str, by: str, outcome: Outcome) -> LogEntry:
    return LogEntry(
        datetime.combine(day, datetime.min.time()) + timedelta(hours=10),
        ident,
        company,
        by,
        outcome,
    )


def team_rows() -> list[Row]:
    """Anna: one overdue, one due today, one needing attention. Bob: one that died on
    Tuesday, one won on Tuesday (its thank-you is due today), one that died last week."""
    owners = {"Anna": anna(), "Bob": BOB, "Zoë": ZOE}
    prospects = [
        new_lead(2, "Acme Tools", TODAY, id="P-0001"),
        new_lead(3, "Brick & Co", date(2026, 3, 2), id="P-0002"),
        Prospect(
            4,
            id="P-0003",
            company="Golf SA",
            owner="Anna",
            problems=(Problem("Prospects!J4", "'soon' is not a date"),),
        ),
        Prospect(
            5,
            id="P-0004",
            company="Foxtrot AS",
            owner="Bob",
            stage=Stage.CONTACTED,
            created=date(2026, 1, 5),
            last_contact=date(2026, 3, 10),
            last_outcome=Outcome.NO_ANSWER,
            attempts=5,
        ),
        Prospect(
            6,
            id="P-0005",
            company="Hotel Oy",
            owner="Bob",
            stage=Stage.WON,
            last_contact=date(2026, 3, 10),
            last_outcome=Outcome.WON,
        ),
        Prospect(
            7,
            id="P-0006",
            company="Kilo Old",
            owner="Bob",
            stage=Stage.CONTACTED,
            created=date(2026, 1, 5),
            last_contact=date(2026, 3, 6),
            last_outcome=Outcome.NO_ANSWER,
            attempts=5,
        ),
        new_lead(8, "India Pty", date(2026, 3, 3), id="P-0007", owner="Zoë"),
    ]
    return [compute_row(p, owners[p.owner], CONFIG, TODAY) for p in prospects]


def team_log() -> list[LogEntry]:
    return [
        touch(date(2026, 3, 10), "P-0004", "Foxtrot AS", "Bob", Outcome.NO_ANSWER),
        touch(date(2026, 3, 10), "P-0005", "Hotel Oy", "Bob", Outcome.WON),
        # Émile called for Zoë: it counts for both (only Zoë is in this digest).
        touch(date(2026, 3, 10), "P-0007", "India Pty", "Émile", Outcome.VOICEMAIL),
        # Made by Anna on a prospect of nobody in the sheet: hers.
        touch(date(2026, 3, 10), "", "Unknown BV", "Anna", Outcome.REACHED),
        # Not yesterday: not "done".
        touch(date(2026, 3, 9), "P-0001", "Acme Tools", "Anna", Outcome.REACHED),
        touch(date(2026, 3, 6), "P-0006", "Kilo Old", "Bob", Outcome.NO_ANSWER),
    ]


def the_digest(
    owners: Sequence[Owner] = (anna(), BOB, ZOE),
    *,
    language: str = "en",
    today: date = TODAY,
    rows: Sequence[Row] | None = None,
    log: Sequence[LogEntry] | None = None,
    with_stats: bool = True,
) -> Message:
    rows = team_rows() if rows is None else rows
    log = team_log() if log is None else log
    stats = stats_module.build(log, rows, today=today, rules=CONFIG.rules) if with_stats else None
    message = digest_message(
        "Mia",
        to="mia@example.com",
        language=language,
        pipeline_rows=rows,
        owners=owners,
        stats=stats,
        log_entries=log,
        today=today,
        config=CONFIG,
    )
    assert message is not None
    return message


def table_cells(message: Message, index: int = 0) -> list[list[str]]:
    table = list(dom(message).iter("table"))[index]
    return [[c.text_content().strip() for c in tr] for tr in table.iter("tr")]


def test_the_digest_per_owner() -> None:
    message = the_digest()
    assert message.kind == "digest" and message.to == "mia@example.com"
    assert message.key == "mia@example.com"
    assert table_cells(message) == [
        ["Owner", "Today", "Overdue", "Done", "Died", "Won"],
        ["Anna", "2", "1", "1", "0", "0"],
        ["Bob", "1", "0", "2", "1", "1"],
        ["Zoë", "1", "1", "1", "0", "0"],
    ]
    assert message.subject == "Team follow-ups: 4 due, 2 overdue, 1 needs attention"
    text = message.text
    assert "Owner  Today  Overdue  Done  Died  Won\nAnna       2        1     1     0    0" in text
    details = text.split("PER OWNER", 1)[1].split("FUNNEL", 1)[0]
    assert "Brick & Co: Due since Mon 2 Mar (9 days)" in details
    assert "Died this week:\n  - Foxtrot AS\n  Won this week:\n  - Hotel Oy" in details
    assert "Kilo Old" not in details  # it died on Friday, last week


def test_done_on_a_monday_counts_the_weekend() -> None:
    log = [
        touch(date(2026, 3, 13), "P-0001", "Acme Tools", "Anna", Outcome.REACHED),  # Friday
        touch(date(2026, 3, 14), "P-0001", "Acme Tools", "Anna", Outcome.REACHED),  # Saturday
        touch(date(2026, 3, 15), "P-0002", "Brick & Co", "Anna", Outcome.NO_ANSWER),  # Sunday
    ]
    monday = date(2026, 3, 16)
    assert render.done_days(monday) == (date(2026, 3, 14), date(2026, 3, 15))
    assert render.done_days(TODAY) == (date(2026, 3, 10), date(2026, 3, 10))
    message = the_digest([anna()], today=monday, log=log)
    assert table_cells(message)[1][:1] + table_cells(message)[1][3:4] == ["Anna", "2"]
    assert "touches recorded this weekend" in message.text


def test_died_and_won_count_from_monday() -> None:
    assert render.week_start(TODAY) == MONDAY
    assert render.week_start(MONDAY) == MONDAY
    rows = team_rows()
    died = [r.prospect.company for r in rows if stats_module.died_on(r, CONFIG.rules)]
    assert died == ["Foxtrot AS", "Kilo Old"]
    # On the Monday after, last week's deaths and wins are gone.
    message = the_digest([BOB], today=date(2026, 3, 16))
    assert table_cells(message)[1][4:] == ["0", "0"]


def test_the_funnel_table_comes_from_stats() -> None:
    message = the_digest()
    stats = stats_module.build(team_log(), team_rows(), today=TODAY, rules=CONFIG.rules)
    expected = [
        [r.label, str(r.called), str(r.reached), str(r.interested), str(r.won)]
        for r in stats.funnel
    ]
    assert expected  # the team's log has first calls in the period
    assert table_cells(message, 1) == [
        ["Round", "Called", "Reached", "Interested", "Won"],
        *expected,
    ]
    assert "Funnel per calling round" in section_titles(message)
    without = the_digest(with_stats=False)
    assert "Funnel per calling round" not in section_titles(without)
    assert "FUNNEL" not in without.text and len(list(dom(without).iter("table"))) == 1


def test_rows_that_need_attention_name_the_cell() -> None:
    message = the_digest()
    items = [
        li.text_content() for li in dom(message).iter("li") if "Prospects!" in li.text_content()
    ]
    assert items == ["Golf SA (Anna): Check Prospects!J4: 'soon' is not a date."]
    assert "- Golf SA (Anna): Check Prospects!J4: 'soon' is not a date." in message.text


def test_the_digest_covers_only_the_owners_it_is_given() -> None:
    message = the_digest([BOB])
    assert [row[0] for row in table_cells(message)] == ["Owner", "Bob"]
    assert "Golf SA" not in message.text and "Brick" not in message.text
    assert message.subject == "Team follow-ups: 1 due, 0 overdue"


def test_no_owners_no_digest() -> None:
    got = digest_message(
        "Mia",
        to="mia@example.com",
        language="en",
        pipeline_rows=team_rows(),
        owners=[],
        stats=None,
        log_entries=team_log(),
        today=TODAY,
        config=CONFIG,
    )
    assert got is None


@pytest.mark.parametrize(
    ("language", "subject"),
    [
        ("en", "Team follow-ups: 4 due, 2 overdue, 1 needs attention"),
        ("nl", "Opvolging team: 4 te doen, 2 achterstallig, 1 vraagt aandacht"),
        ("de", "Wiedervorlagen im Team: 4 fällig, 2 überfällig, 1 zu prüfen"),
        ("da", "Teamets opfølgninger: 4 i dag, 2 forsinkede, 1 kræver opmærksomhed"),
        ("es", "Seguimientos del equipo: 4 pendientes, 2 atrasados, 1 requiere atención"),
    ],
)
def test_digest_subjects(language: str, subject: str) -> None:
    assert the_digest(language=language).subject == subject


def test_the_digest_escapes_names_and_greets_by_name_only() -> None:
    rows = computed(new_lead(2, "<script>x</script>", date(2026, 3, 2)))
    message = the_digest([anna()], rows=rows, log=[])
    assert not list(dom(message).iter("script"))
    assert "<script>x</script>: Due since" in message.text
    assert message.text.startswith("Good morning Mia,")
    by_address = digest_message(
        "mia@example.com",
        to="mia@example.com",
        language="en",
        pipeline_rows=rows,
        owners=[anna()],
        stats=None,
        log_entries=[],
        today=TODAY,
        config=CONFIG,
    )
    assert by_address is not None and by_address.text.startswith("Good morning,\n")
