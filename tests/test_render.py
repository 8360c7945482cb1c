"""The owner's morning email: the call list, its one-tap outcome buttons, and how it reads.

Rows are computed by the real rules (service.compute_row) from prospects as a sheet would
hold them, or read from a real workbook; the HTML is parsed back with lxml, and the buttons'
mailto: links are decoded and their tags checked with the real signing code.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from urllib.parse import unquote

import lxml.html
import pytest
from babel.dates import format_date, format_skeleton
from babel.numbers import format_decimal
from conftest import TEAM_CONFIG, TODAY, Cli, Team
from icalendar import Calendar

from sheetfollow import i18n, reply, secrets, vocab
from sheetfollow.config import (
    CalendarConfig,
    Config,
    EmailConfig,
    ImportConfig,
    Rules,
    load_config,
)
from sheetfollow.errors import ConfigError
from sheetfollow.fields import LANGUAGES
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
from sheetfollow.notify.render import owner_message
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


@pytest.mark.parametrize("buttons", [False, True], ids=["commands", "buttons"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_owner_email_matches_the_golden_files(language: str, buttons: bool) -> None:
    """Without [inbox] each card has the mark command; with it, the outcome buttons."""
    rows = computed(*GOLDEN_PROSPECTS)
    message = message_for(rows, anna(language), replies=replies_for(rows) if buttons else None)
    for suffix, got in (("txt", message.text), ("html", message.html)):
        golden = GOLDEN / f"owner-{language}{'-buttons' if buttons else ''}.{suffix}"
        if os.environ.get("UPDATE_GOLDEN"):
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(got, encoding="utf-8")
        assert got == golden.read_text(encoding="utf-8"), f"{golden.name} changed"


# --- Sections --------------------------------------------------------------------------------


def test_same_day_first_then_overdue_oldest_first_then_the_coming_days_by_date() -> None:
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
    # Leads created today are same-day calls: the call order puts them before overdue ones.
    assert companies_by_section(message) == {
        "First: promised and same-day calls (3)": ["Today big", "Today small", "Today unvalued"],
        "Overdue (2)": ["Late 1", "Late 2"],
        "Coming days (2)": ["Thursday", "Friday"],
    }
    text = message.text
    order = ["Today big", "Today small", "Today unvalued", "Late 1", "Late 2", "Thursday", "Friday"]
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
    assert [line.split(" · ")[1] for line in text.splitlines() if "Kanaal:" in line] == [
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
    # Today's new lead first, then the overdue one, then the rest of today (the call
    # order); the coming day has no event.
    assert [str(e["SUMMARY"]) for e in events] == [
        "Call Acme Tools (Ann Archer)",
        "Call Brick & <Co> (Bert Brick)",
        "Call Echo Ltd (Eve Echo)",
        "Email Cobalt BV (Cor Cobalt)",
    ]


# --- The strings table -----------------------------------------------------------------------


def test_every_language_has_every_text_with_the_same_placeholders() -> None:
    table = render.strings_table()
    assert set(table) == set(LANGUAGES)
    english = table["en"]

    def placeholders(value: object) -> set[str]:
        texts = value.values() if isinstance(value, dict) else [value]
        return {name for text in texts for name in re.findall(r"%\((\w+)\)s", str(text))}

    for language in LANGUAGES:
        texts = table[language]
        assert set(texts) == set(english), language
        for key, value in texts.items():
            assert placeholders(value) == placeholders(english[key]), (language, key)
            if isinstance(english[key], dict):
                assert isinstance(value, dict) and set(value) == {"one", "other"}, (language, key)
            else:
                assert isinstance(value, str) and value.strip(), (language, key)


def test_the_strings_come_from_the_catalogs_in_the_package() -> None:
    # The texts are the gettext catalogs' (sheetfollow/locale), not a table beside the
    # templates: a translator's edit of a .po file is what the email shows.
    assert not STRINGS.exists()
    assert i18n.po_path("nl").is_file()
    assert render.Strings("nl")("open_sheet") == i18n.translations("nl").pgettext(
        "open_sheet", "Open the sheet"
    )


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
        "First: promised and same-day calls (1)": ["Acme Tools"],
        "Overdue (1)": ["Brick & Co"],
        "Coming days (1)": ["Echo Ltd"],
    }
    hrefs = [a.get("href") for a in dom(message).iter("a")]
    assert hrefs == ["tel:+31205550101", "tel:+31205550102", "tel:+442055501" + "05"]
    # The config names the same workbook (relative to the config's folder): no --sheet. The
    # config is not the one a command typed here would find: --config.
    config_option = f"--config {config.path}"
    assert f"Record the outcome: sheetfollow mark {config_option} P-0002 <outcome>" in message.text
    assert message.text.rstrip().endswith("Sent by sheetfollow from pipeline.xlsx.")
    other = team.folder / "copy of pipeline.xlsx"
    message = owner_message(owner, mine, today=team.today, config=config, sheet=str(other))
    assert message is not None
    assert f"mark {config_option} --sheet '{other}' P-0002 <outcome>" in message.text


def test_the_mark_command_needs_no_config_where_the_config_is_found(
    team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_config(team.config)
    row = computed(new_lead(2, "Acme", TODAY, id="P-0012"))[0]
    assert "--config" in render.mark_command(row, "x", config=config)
    monkeypatch.chdir(team.folder)
    assert render.mark_command(row, "x", config=config) == "sheetfollow mark P-0012 <x>"


# --- One-tap outcomes ---------------------------------------------------------------------------

SECRET = b"a-team-secret-only-the-tests-know"
INBOX = "follow-ups@example.com"
#: What a mailto: link may hold after RFC 6068 percent-encoding: the address, then a subject
#: and a body of unreserved characters and %XX escapes only, as every mail app reads them.
STRICT_MAILTO = re.compile(
    r"mailto:[A-Za-z0-9.+_-]+@[A-Za-z0-9.-]+\?subject=(?:[A-Za-z0-9._~-]|%[0-9A-F]{2})+"
    r"&body=(?:[A-Za-z0-9._~-]|%[0-9A-F]{2})+"
)


@dataclass(frozen=True)
class Tap:
    """What a mail app opens for a button: a message to `to` with this subject and body."""

    label: str
    to: str
    subject: str
    body: str

    @property
    def tag(self) -> reply.Tag:
        found = reply.find_tag(self.subject)
        assert found is not None, self.subject
        return found

    @property
    def said(self) -> tuple[str, str]:
        return (self.tag.outcome.value, self.tag.delay)


def tap(label: str, href: str) -> Tap:
    """A button's link as iOS Mail, Gmail or Outlook open it (RFC 6068: %XX is UTF-8)."""
    assert STRICT_MAILTO.fullmatch(href), href
    address, _, query = href.removeprefix("mailto:").partition("?")
    fields = dict(pair.split("=", 1) for pair in query.split("&"))
    return Tap(
        label,
        unquote(address, errors="strict"),
        unquote(fields["subject"], errors="strict"),
        unquote(fields["body"], errors="strict"),
    )


def taps(message: Message) -> dict[str, list[Tap]]:
    """Company -> the buttons of its card, in order."""
    found: dict[str, list[Tap]] = {}
    for heading in dom(message).iter("div"):
        if "font-size:16px" not in heading.get("style", ""):
            continue
        card = heading.getparent()
        assert card is not None
        links = [a for a in card.iter("a") if a.get("href", "").startswith(f"mailto:{INBOX}")]
        found[(heading.text or "").strip()] = [tap(a.text_content(), a.get("href")) for a in links]
    return found


def replies_for(
    rows: Sequence[Row], recipient: str = "anna@example.com", sheet: str = "pipeline.xlsx"
) -> render.Replies:
    """What the notify use case hands the renderer: each ID's token for this recipient."""
    tokens = {
        r.prospect.id: reply.sign(SECRET, sheet, r.prospect.id, recipient, TODAY)
        for r in rows
        if r.prospect.id
    }
    return render.Replies(INBOX, tokens)


def with_buttons(rows: Sequence[Row], owner: Owner | None = None) -> Message:
    return message_for(rows, owner, replies=replies_for(rows))


ATTEMPT = [
    ("reached", ""),
    ("no answer", ""),
    ("voicemail", ""),
    ("interested", ""),
    ("not interested", ""),
    ("call back", "1w"),
    ("call back", "2w"),
    ("call back", "1m"),
]


def test_each_button_sends_a_signed_outcome_for_its_prospect_to_the_inbox() -> None:
    message = with_buttons(computed(*GOLDEN_PROSPECTS))
    brick = taps(message)["Brick & <Co>"]
    assert [t.said for t in brick] == ATTEMPT
    assert [t.label for t in brick] == [
        "Reached",
        "No answer",
        "Voicemail",
        "Interested",
        "Not interested",
        "1 week",
        "2 weeks",
        "1 month",
    ]
    for button in brick:
        assert button.to == INBOX
        assert button.body == "Note: \r\n\r\n"
        assert button.tag.prospect_id == "P-0002"
        # Signed for this sheet, this prospect and the address the email went to, today.
        token = button.tag.token
        assert reply.verify(SECRET, token, "pipeline.xlsx", "P-0002", "anna@example.com")
        assert reply.verify(SECRET, token, "/srv/sales/Pipeline.xlsx", "P-0002", "Anna@Example.com")
        assert not reply.verify(SECRET, token, "pipeline.xlsx", "P-0002", "bob@example.com")
        assert not reply.verify(SECRET, token, "pipeline.xlsx", "P-0001", "anna@example.com")
        assert not reply.verify(
            b"another secret", token, "pipeline.xlsx", "P-0002", "anna@example.com"
        )
        assert reply.issued_on(token) == TODAY
    # The person reads the subject; the tag after it decides.
    assert brick[1].subject.startswith("P-0002 · Brick & <Co>: No answer [sf/no-answer//P-0002/")
    assert brick[6].subject.startswith(
        "P-0002 · Brick & <Co>: Call back in 2 weeks [sf/call-back/2w/"
    )
    # A reply prefixes and folds the subject; the tag survives it.
    folded = "RE: AW: " + brick[6].subject.replace(" [sf", "\r\n [sf")
    assert reply.find_tag(folded) == brick[6].tag


def test_the_outcomes_offered_fit_what_the_row_is_waiting_for() -> None:
    quoted = {"stage": Stage.QUOTE, "created": date(2026, 2, 1), "owner": "Anna"}
    rows = computed(
        new_lead(2, "New lead", TODAY, id="P-1"),
        Prospect(
            3,
            id="P-2",
            company="Interested",
            owner="Anna",
            stage=Stage.INTERESTED,
            created=date(2026, 2, 1),
            last_contact=date(2026, 3, 10),
            last_outcome=Outcome.INTERESTED,
        ),
        Prospect(
            4,
            id="P-3",
            company="Quoted",
            last_contact=date(2026, 3, 6),
            last_outcome=Outcome.QUOTE_SENT,
            **quoted,  # type: ignore[arg-type]
        ),
        Prospect(
            5,
            id="P-4",
            company="Quoted, no answer",
            last_contact=date(2026, 3, 9),
            last_outcome=Outcome.NO_ANSWER,
            attempts=1,
            **quoted,  # type: ignore[arg-type]
        ),
        Prospect(
            6,
            id="P-5",
            company="Winner",
            owner="Anna",
            stage=Stage.WON,
            last_contact=date(2026, 3, 10),
            last_outcome=Outcome.WON,
        ),
    )
    assert all(row.computed.is_due(TODAY) for row in rows)
    offered = {
        company: [t.said for t in found] for company, found in taps(with_buttons(rows)).items()
    }
    later = [("call back", "1w"), ("call back", "2w"), ("call back", "1m")]
    assert offered == {
        "New lead": ATTEMPT,
        "Interested": [
            ("quote sent", ""),
            ("reached", ""),
            ("no answer", ""),
            ("not interested", ""),
            *later,
        ],
        "Quoted": [
            ("won", ""),
            ("reached", ""),
            ("no answer", ""),
            ("quote sent", ""),
            ("not interested", ""),
            *later,
        ],
        "Quoted, no answer": offered["Quoted"],
        # The thank-you after the sale: it happened, or it did not.
        "Winner": [("reached", ""), ("no answer", "")],
    }
    steps = [render.task_text(row, render.Strings("en")) for row in rows]
    text = message_for(rows).text
    assert all(f"  {step} · Channel: " in text for step in steps)
    assert steps == [
        "First call",
        "Send the quote",
        "Follow up on the quote",
        "Follow up on the quote (attempt 2 of 5)",
        "Thank-you after the sale",
    ]


def test_buttons_are_table_cells_large_enough_to_tap() -> None:
    tree = dom(with_buttons(computed(*GOLDEN_PROSPECTS)))
    links = [a for a in tree.iter("a") if a.get("href", "").startswith("mailto:" + INBOX)]
    assert len(links) == 3 * len(ATTEMPT)  # Brick, Acme, Cobalt; Echo Ltd has no ID
    for link in links:
        cell = link.getparent()
        assert cell is not None and cell.tag == "td"
        # Outlook for Windows draws the cell: its colour and height are attributes too.
        assert cell.get("height") == "44" and cell.get("bgcolor", "").startswith("#")
        style = link.get("style", "")
        assert "display:block" in style and "padding:12px" in style and "line-height:20px" in style
    assert not list(tree.iter("script", "form", "input", "button", "style"))


def test_a_row_without_an_id_a_tag_can_carry_keeps_the_mark_command() -> None:
    rows = computed(
        new_lead(2, "Has an ID", TODAY, id="P-0001", value=3),
        new_lead(3, "No ID", TODAY, value=2),
        new_lead(4, "Odd ID", TODAY, id="P]0004", value=1),
    )
    replies = replies_for(rows)
    assert "P]0004" in replies.tokens
    message = message_for(rows, replies=replies)
    assert {company: len(found) for company, found in taps(message).items()} == {
        "Has an ID": len(ATTEMPT),
        "No ID": 0,
        "Odd ID": 0,
    }
    html = message.html
    assert "sheetfollow mark &#39;No ID&#39; &lt;outcome&gt;" in html
    assert "sheetfollow mark &#39;P]0004&#39; &lt;outcome&gt;" in html
    assert "sheetfollow mark P-0001" not in html
    # Where a command is shown, the words it takes are explained once, at the end.
    assert "After each call, replace" in dom(message).text_content()


def test_without_inbox_every_card_keeps_the_mark_command_and_there_are_no_buttons() -> None:
    message = message_for(computed(*GOLDEN_PROSPECTS))
    assert all(not found for found in taps(message).values())
    assert "<table" not in message.html and INBOX not in message.html
    assert message.html.count("sheetfollow mark ") == 4
    assert "tap what happened" not in message.html
    with_inbox = with_buttons(computed(*GOLDEN_PROSPECTS))
    # Only Echo Ltd (no ID) keeps its command; the help with the words goes with it.
    assert with_inbox.html.count("sheetfollow mark ") == 1
    assert "After a call, tap what happened" in dom(with_inbox).text_content()


def test_the_plain_text_points_to_the_buttons_and_keeps_the_commands() -> None:
    message = with_buttons(computed(*GOLDEN_PROSPECTS))
    text = message.text
    assert "The HTML version of this email has a button for each outcome" in text
    # Links of 200 characters help nobody in plain text: the command does the same.
    assert "mailto:" not in text and "[sf/" not in text
    assert len(re.findall(r"Record the outcome: sheetfollow mark", text)) == 4
    # The calendar needs no button either.
    (attachment,) = message.attachments
    assert b"[sf/" not in attachment.data and b"mailto:" + INBOX.encode() not in attachment.data


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_buttons_speak_the_owners_language(language: str) -> None:
    rows = computed(*GOLDEN_PROSPECTS)
    brick = taps(with_buttons(rows, anna(language)))["Brick & <Co>"]
    names = vocab.OUTCOME_NAMES[language]
    table = render.strings_table()[language]
    assert [t.label for t in brick[:5]] == [
        names[o]
        for o in (
            Outcome.REACHED,
            Outcome.NO_ANSWER,
            Outcome.VOICEMAIL,
            Outcome.INTERESTED,
            Outcome.NOT_INTERESTED,
        )
    ]
    assert [t.label for t in brick[5:]] == [table[f"delay_{d}"] for d in reply.DELAYS]
    assert all(t.body == f"{table['reply_note']} \r\n\r\n" for t in brick)
    assert brick[1].subject.startswith(f"P-0002 · Brick & <Co>: {names[Outcome.NO_ANSWER]} [sf/")
    assert [t.said for t in brick] == ATTEMPT


def test_the_email_of_an_owner_with_many_calls_stays_below_gmails_clipping_size() -> None:
    """Gmail shows the first 102 KB of an email's HTML and hides the rest behind "View
    entire message": at the default cap, the last card's buttons are still in view."""
    long_note = "Met at the trade fair; wants a demo of the new line before the summer. " * 5
    rows = computed(
        *(
            new_lead(
                n,
                f"Gebroeders van der Heijden-Ølstrøm Installatietechniek {n} B.V.",
                date(2026, 3, 2) if n % 2 else TODAY,
                id=f"P-{n:05d}",
                contact=f"Jan-Willem van den Boogaard {n}",
                phone=f"+31 20 555 {n:04d}",
                email=f"jan-willem.van.den.boogaard{n}@installatietechniek.example",
                value=100_000 + n,
                notes=long_note,
            )
            for n in range(2, 102)
        )
    )
    for language in LANGUAGES:
        message = with_buttons(rows, anna(language))
        assert len(message.html.encode()) < 102_000, language
        shown = taps(message)
        assert len(shown) == Config().email.max_cards
        assert all(len(found) == len(ATTEMPT) for found in shown.values())


# --- The phone layout ---------------------------------------------------------------------------


def test_a_one_line_summary_comes_first() -> None:
    message = message_for(computed(*GOLDEN_PROSPECTS))
    # The call order's first call: today's new lead comes before the overdue one.
    first = "4 follow-ups today, 1 overdue; start with Acme Tools (5,000)"
    assert message.text.splitlines()[0] == first
    body = dom(message).body
    assert body.text_content().split()[:4] == first.split()[:4]
    assert " ".join(body.text_content().split()).startswith(first)
    # Nothing overdue: start with the biggest call of the day.
    today_only = computed(
        new_lead(2, "Small", TODAY, value=10), new_lead(3, "Big", TODAY, value=9000)
    )
    assert (
        message_for(today_only).text.splitlines()[0] == "2 follow-ups today; start with Big (9,000)"
    )
    nl = message_for(computed(*GOLDEN_PROSPECTS), anna("nl")).text.splitlines()[0]
    assert nl == "4 opvolgingen vandaag, 1 achterstallig; begin met Acme Tools (5.000)"
    # Nothing promised or same-day: the oldest overdue call comes first.
    late_first = computed(new_lead(2, "Late", date(2026, 3, 2)), *GOLDEN_PROSPECTS[2:])
    assert "start with Late (9 days overdue)" in message_for(late_first).text.splitlines()[0]


@pytest.mark.parametrize(
    ("language", "whole", "cents"),
    [
        ("en", "€12,000", "€1,234.50"),
        ("nl", "€ 12.000", "€ 1.234,50"),
        ("de", "12.000 €", "1.234,50 €"),
        ("da", "12.000 €", "1.234,50 €"),
        ("es", "12.000 €", "1.234,50 €"),
    ],
)
def test_values_show_their_currency_in_the_owners_language(
    language: str, whole: str, cents: str
) -> None:
    config = Config(sheet="pipeline.xlsx", email=EmailConfig(currency="EUR"))
    rows = computed(
        new_lead(2, "Whole", TODAY, value=12000),
        new_lead(3, "Cents", TODAY, value=1234.5),
        config=config,
    )
    message = owner_message(anna(language), rows, today=TODAY, config=config, sheet="")
    assert message is not None
    text = message.text.replace("\xa0", " ").replace("\u202f", " ")
    assert f" · {whole}\n" in text and f" · {cents}\n" in text
    # Without a currency, the number as before, with its label.
    plain = message_for(rows).text
    assert "Value: 12,000" in plain and "€" not in plain


def test_the_sheet_is_linked_when_it_has_an_address() -> None:
    rows = computed(*GOLDEN_PROSPECTS)
    google = "https://docs.google.com/spreadsheets/d/1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms"
    message = owner_message(anna(), rows, today=TODAY, config=CONFIG, sheet=google)
    assert message is not None
    (link,) = [a for a in dom(message).iter("a") if a.get("href", "").startswith("http")]
    assert link.get("href") == google and link.text_content().startswith("Open the sheet")
    assert f"Open the sheet: {google}" in message.text
    sharepoint = "https://contoso.sharepoint.com/:x:/r/sites/sales/Pipeline.xlsx?web=1"
    config = Config(sheet="pipeline.xlsx", email=EmailConfig(sheet_url=sharepoint))
    message = owner_message(anna(), rows, today=TODAY, config=config, sheet="pipeline.xlsx")
    assert message is not None
    hrefs = [a.get("href") for a in dom(message).iter("a")]
    assert sharepoint in hrefs
    # A workbook on a disk has no address to link to.
    assert not [a for a in dom(message_for(rows)).iter("a") if a.get("href", "").startswith("http")]


def test_the_number_of_cards_is_capped_by_the_config() -> None:
    rows = computed(*(new_lead(n, f"Lead {n}", TODAY, id=f"P-{n}", value=n) for n in range(2, 42)))
    config = Config(sheet="pipeline.xlsx", email=EmailConfig(max_cards=10))
    message = owner_message(anna(), rows, today=TODAY, config=config, sheet="")
    assert message is not None
    assert sum(1 for d in dom(message).iter("div") if "font-size:16px" in d.get("style", "")) == 10
    assert "and 30 more: see the sheet" in message.text
    assert message.subject == "40 follow-ups today"
    # The default: 15 cards.
    assert Config().email.max_cards == 15
    assert "and 25 more: see the sheet" in message_for(rows).text


def test_email_settings_are_read_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "sheetfollow.toml"
    path.write_text(
        '[email]\nmax_cards = 40\ncurrency = "dkk"\n'
        'sheet_url = "https://contoso.sharepoint.com/sites/sales/Pipeline.xlsx"\n',
        encoding="utf-8",
    )
    email = load_config(path).email
    assert (email.max_cards, email.currency) == (40, "DKK")
    assert email.sheet_url == "https://contoso.sharepoint.com/sites/sales/Pipeline.xlsx"
    for line, message in (
        ('currency = "euro"', "email.currency must be an ISO 4217 currency code"),
        ("max_cards = 0", "email.max_cards must be a whole number from 1 to 1000"),
        ('sheet_url = "pipeline.xlsx"', "email.sheet_url must be a web address"),
    ):
        path.write_text(f"[email]\n{line}\n", encoding="utf-8")
        with pytest.raises(ConfigError, match=re.escape(message)):
            load_config(path)


# --- From the notify use case to the outbox ----------------------------------------------------

INBOX_TOML = f"""
[inbox]
address = "{INBOX}"
host = "imap.example.com"
"""


def owner_emails(outbox: Path) -> dict[str, EmailMessage]:
    found = {}
    for file in outbox.glob("*-owner-*.eml"):
        mail = BytesParser(policy=policy.default).parsebytes(file.read_bytes())
        assert isinstance(mail, EmailMessage)
        found[str(mail["To"])] = mail
    return found


def html_of(mail: EmailMessage) -> Message:
    part = mail.get_body(("html",))
    assert part is not None
    return Message("owner", "", str(mail["To"]), str(mail["Subject"]), "", part.get_content(), "en")


def test_notify_signs_each_owners_buttons_for_that_owner(team: Team, cli: Cli) -> None:
    team.config.write_text(TEAM_CONFIG + INBOX_TOML, encoding="utf-8")
    env = {secrets.INBOX_SECRET_ENV: SECRET.decode()}
    result = cli("notify", "--config", team.config, "--outbox", "out", env=env)
    assert result.exit_code == 0, result.output
    mails = owner_emails(team.folder / "out")
    anna_taps = taps(html_of(mails["anna@example.com"]))
    # Echo Ltd has no ID yet (notify does not fill them in, as refresh does): the command.
    assert {company: len(found) for company, found in anna_taps.items()} == {
        "Brick & Co": len(ATTEMPT),
        "Acme Tools": len(ATTEMPT),
        "Hotel Oy": 7,
        "Echo Ltd": 0,
    }
    for company, ident in (("Brick & Co", "P-0002"), ("Acme Tools", "P-0001")):
        for button in anna_taps[company]:
            assert button.tag.prospect_id == ident
            label = str(team.workbook)
            assert reply.verify(SECRET, button.tag.token, label, ident, "anna@example.com")
            assert not reply.verify(SECRET, button.tag.token, label, ident, "zoe@example.com")
    # Each owner's buttons are signed for that owner's address.
    for to, mail in mails.items():
        for found in taps(html_of(mail)).values():
            for button in found:
                ident = button.tag.prospect_id
                assert reply.verify(SECRET, button.tag.token, str(team.workbook), ident, to)


def test_without_a_team_secret_the_emails_keep_the_command_and_say_why(
    team: Team, cli: Cli
) -> None:
    team.config.write_text(TEAM_CONFIG + INBOX_TOML, encoding="utf-8")
    result = cli("notify", "--config", team.config, "--outbox", "out", env={})
    assert result.exit_code == 0, result.output
    assert "no outcome buttons" in result.output and "inbox --init" in result.output
    mail = owner_emails(team.folder / "out")["anna@example.com"]
    assert "sheetfollow mark P-0002 &lt;outcome&gt;" in html_of(mail).html
    assert INBOX not in html_of(mail).html
