"""The translations: gettext catalogs (sheetfollow/locale) complete and consistent with the
code, and the sheet, the Log, `mark` and `due` in the team's language."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po, write_po
from conftest import Cli
from openpyxl import load_workbook

from sheetfollow import i18n, schema, vocab
from sheetfollow.calendar import calendar_for
from sheetfollow.config import load_config
from sheetfollow.fields import LANGUAGES
from sheetfollow.mark import parse_outcome
from sheetfollow.models import Channel, Outcome, Prospect, Stage, Status
from sheetfollow.notify import render
from sheetfollow.rules import compute
from sheetfollow.sheet import Table

ROOT = Path(__file__).resolve().parents[1]
TODAY = date(2026, 11, 24)
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%[sd]")


def extracted(tmp_path: Path) -> Catalog:
    """The messages of the code and templates, as `pybabel extract` (README) finds them."""
    pot = tmp_path / "sheetfollow.pot"
    keywords = [arg for spec in ("P_:1c,2", "Pn_:1c,2,3", "R_", "Rn_:1,2") for arg in ("-k", spec)]
    CommandLineInterface().run(
        [
            *("pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"), *keywords),
            *("--no-location", "-o", str(pot), str(ROOT)),
        ]
    )
    with pot.open("rb") as file:
        return read_po(file)


def problems(template: Catalog, catalog: Catalog) -> list[str]:
    """What keeps `catalog` from being complete: a message missing or untranslated, a
    fuzzy one, a translation whose placeholders differ from the English, or one left over
    from texts the code no longer has."""
    found = []
    wanted = {(m.id if isinstance(m.id, str) else m.id[0], m.context) for m in template if m.id}
    for message in template:
        if not message.id:
            continue
        name = f"{message.context or ''}|{message.id}"
        have = catalog.get(message.id, message.context)
        if have is None:
            found.append(f"missing: {name}")
            continue
        if have.fuzzy:
            found.append(f"fuzzy: {name}")
        english = message.id if isinstance(message.id, tuple) else (message.id,)
        forms = have.string if isinstance(have.string, tuple) else (have.string,)
        if len(forms) != (catalog.num_plurals if isinstance(message.id, tuple) else 1):
            found.append(f"wrong number of plural forms: {name}")
        expected = {p for text in english for p in _PLACEHOLDER.findall(text)}
        for form in forms:
            if not form.strip():
                found.append(f"untranslated: {name}")
                continue
            used = set(_PLACEHOLDER.findall(form))
            # A singular may say "one" in words instead of %(n)s ("een dag geleden").
            if not used <= expected or expected - used - {"n"}:
                found.append(f"placeholders {sorted(used)} != {sorted(expected)}: {name}")
    for message in catalog:
        key = message.id if isinstance(message.id, str) else message.id[0]
        if message.id and (key, message.context) not in wanted:
            found.append(f"not in the code any more: {message.context or ''}|{key}")
    return found


def catalog_of(language: str) -> Catalog:
    with i18n.po_path(language).open("rb") as file:
        return read_po(file, locale=language)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    return extracted(tmp_path_factory.mktemp("pot"))


# --- The catalogs -------------------------------------------------------------------------


def test_there_is_a_catalog_for_every_language_but_english() -> None:
    assert i18n.languages() == ("en", "da", "de", "es", "nl")
    assert set(i18n.languages()) == set(LANGUAGES)


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
def test_every_catalog_translates_every_message_with_its_placeholders(
    template: Catalog, language: str
) -> None:
    assert len(template) > 200
    assert problems(template, catalog_of(language)) == []


def test_a_catalog_that_lacks_a_message_or_breaks_a_placeholder_fails(template: Catalog) -> None:
    catalog = catalog_of("nl")
    catalog.delete("Won; waiting for delivery.")
    broken = catalog.get("%(name)s is away until %(day)s")
    assert broken is not None
    broken.string = "%(naam)s is afwezig tot %(day)s"
    plural = catalog.get(("%(n)s day ago", "%(n)s days ago"))
    assert plural is not None
    plural.string = ("%(n)s dag geleden", "")
    assert sorted(problems(template, catalog)) == [
        "missing: |Won; waiting for delivery.",
        "placeholders ['day', 'naam'] != ['day', 'name']: |%(name)s is away until %(day)s",
        "untranslated: |('%(n)s day ago', '%(n)s days ago')",
    ]


def test_a_po_file_without_a_mo_is_compiled_once_into_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A checkout or an editable install has only the .po: the first run compiles it into
    # the user's cache, and later runs read the cached .mo (no Babel message tools).
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    i18n.translations.cache_clear()
    try:
        assert not i18n.po_path("de").with_suffix(".mo").exists()
        assert i18n.translations("de").pgettext("status", "overdue") == "Überfällig"
        cached = list((tmp_path / "cache").rglob("de-*.mo"))
        assert len(cached) == 1
        # What the cache holds is what is used: a different text there shows through.
        catalog = catalog_of("de")
        message = catalog.get("overdue", "status")
        assert message is not None
        message.string = "Überfällig (aus dem Cache)"
        po = tmp_path / "de.po"
        with po.open("wb") as file:
            write_po(file, catalog)
        cached[0].write_bytes(i18n.compile_po(po.read_bytes(), "de"))
        i18n.translations.cache_clear()
        assert i18n.translations("de").pgettext("status", "overdue") == (
            "Überfällig (aus dem Cache)"
        )
    finally:
        i18n.translations.cache_clear()
        i18n.word.cache_clear()


def test_a_language_without_a_catalog_reads_english() -> None:
    assert i18n.status_text("overdue", "fr") == "overdue"
    assert i18n.translations("fr").gettext("Quote") == "Quote"


# --- The words of the sheet ---------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_words_we_write_are_read_back_as_the_same_thing(language: str) -> None:
    # Reading stays multilingual (vocab.py's aliases): what a Dutch refresh writes, and the
    # English words of a sheet refreshed before, both read as what they say.
    for status in Status:
        written = i18n.status_text(status.value, language)
        assert vocab.STATUS_ALIASES[vocab.normalise(written)] is status
        assert vocab.STATUS_ALIASES[vocab.normalise(status.value)] is status
    for outcome in Outcome:
        written = i18n.outcome_text(outcome.value, language)
        assert vocab.OUTCOME_ALIASES[vocab.normalise(written)] is outcome
        # The words the emails tell people to type after `sheetfollow mark`.
        assert parse_outcome(render.outcome_words(language)[list(Outcome).index(outcome)]) is (
            outcome
        )
    for channel in Channel:
        written = i18n.channel_text(channel.value, language)
        assert vocab.CHANNEL_ALIASES[vocab.normalise(written)] is channel


def test_steps_and_dates_follow_the_language() -> None:
    assert i18n.step_text("2 of 5", "nl") == "2 van 5"
    assert i18n.step_text("thank-you", "de") == "Dankeschön"
    assert i18n.step_text("2 of 5", "en") == "2 of 5"
    assert i18n.step_text("a step of our own", "da") == "a step of our own"
    assert i18n.day_text(TODAY, "en") == "Tue 24 Nov 2026"
    assert i18n.day_text(TODAY, "de") == "Di., 24. Nov. 2026"
    assert i18n.day_text(TODAY, "es") == "mar, 24 nov 2026"


def test_a_why_is_english_in_the_row_and_translated_at_the_edge() -> None:
    prospect = Prospect(
        row=2,
        company="Acme",
        owner="Anna",
        created=date(2026, 11, 2),
        last_contact=date(2026, 11, 16),
        last_outcome=Outcome.NO_ANSWER,
        attempts=1,
    )
    config = load_config(ROOT / "templates" / "sheetfollow.toml")
    calendar = calendar_for(config.calendar, "NL")
    computed = compute(prospect, rules=config.rules, calendar=calendar, today=TODAY)
    assert computed.why == (
        "Attempt 2 was due Wed 18 Nov 2026 (6 days ago): "
        "2 business days after the no answer on Mon 16 Nov 2026."
    )
    assert isinstance(computed.why, i18n.Why)
    assert i18n.localise(computed.why, "en") == computed.why
    assert i18n.localise(computed.why, "nl") == (
        "Poging 2 stond gepland op wo 18 nov 2026 (6 dagen geleden): "
        "2 werkdagen na geen gehoor op ma 16 nov 2026."
    )
    assert i18n.localise(computed.why, "de") == (
        "Versuch 2 war am Mi., 18. Nov. 2026 fällig (vor 6 Tagen): "
        "2 Werktage nach dem erfolglosen Anruf am Mo., 16. Nov. 2026."
    )
    # A text that is not a Why (a person's own words) is given as it is.
    assert i18n.localise("Call after lunch", "nl") == "Call after lunch"


# --- A Dutch team, end to end ---------------------------------------------------------------


def test_a_dutch_team_reads_its_sheet_log_mark_and_due_in_dutch(cli: Cli, tmp_path: Path) -> None:
    result = cli("init", "--example", "--lang", "nl", "--today", TODAY.isoformat())
    assert result.exit_code == 0, result.output
    workbook = tmp_path / "prospects.xlsx"
    config = ["--config", str(tmp_path / "sheetfollow.toml"), "--today", TODAY.isoformat()]
    assert load_workbook(workbook).sheetnames[:3] == ["Prospects", "Logboek", "Eigenaren"]

    first = cli("refresh", *config)
    assert first.exit_code == 0, first.output
    book = load_workbook(workbook)
    sheet = book["Prospects"]
    headers = [cell.value for cell in sheet[1]]
    status, step, why = (headers.index(name) for name in ("Status", "Stap", "Waarom"))
    rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)]
    statuses = {row[status] for row in rows}
    assert {"Te laat", "Te doen", "Klant", "Afgeschreven"} <= statuses
    assert not statuses & {s.value for s in Status}
    # The starter's status colours expect exactly these words.
    rules = [rule.formula[0] for rules in sheet.conditional_formatting for rule in rules.rules]
    assert all(f'"{word}"' in " ".join(rules) for word in statuses - {None})
    assert any(re.fullmatch(r"\d+ van \d+", str(row[step])) for row in rows)
    whys = [str(row[why]) for row in rows if row[why]]
    assert any(w.startswith("Klant; geen periodieke evaluatie") for w in whys)
    assert not any("business day" in w or "was due" in w for w in whys)

    # The next night changes nothing: the words are the same every time.
    again = cli("refresh", *config)
    assert " 0 cells changed" in again.output, again.output

    due = cli("due", *config)
    assert due.exit_code == 0, due.output
    assert "opvolgingen op di 24 nov 2026" in due.output
    assert "Bedrijf" in due.output and "Waarde" in due.output, due.output
    assert "d te laat " in due.output and "vandaag " in due.output
    # Whole amounts grouped the Dutch way: 145.500, never 145,500.
    assert re.search(r" \d{1,3}\.\d{3}\n", due.output), due.output
    assert not re.search(r" \d{1,3},\d{3}\n", due.output), due.output

    overdue = next(row for row in rows if row[status] == "Te laat")
    marked = cli("mark", *config, str(overdue[0]), "geen gehoor")
    assert marked.exit_code == 0, marked.output
    assert "Geen gehoor vastgelegd voor di 24 nov 2026" in marked.output
    log = load_workbook(workbook)["Logboek"]
    last = [cell.value for cell in log[log.max_row]]
    assert "Geen gehoor" in last and "no answer" not in last

    # Nor is the Log's Dutch outcome taken for a call typed into the sheet.
    after = cli("refresh", *config)
    assert " 0 cells changed" in after.output, after.output
    assert "typed" not in after.output.lower()


# --- A cell's problem, in the team's language ------------------------------------------------


@pytest.mark.parametrize(
    ("language", "wanted"),
    [
        ("nl", "Controleer {cell}: 'abc' is geen datum (gebruik 2026-12-31 of 31-12-2026)."),
        ("de", "{cell} prüfen: 'abc' ist kein Datum (2026-12-31 oder 31-12-2026 verwenden)."),
    ],
)
def test_a_cell_that_is_not_a_date_is_named_in_the_why_in_the_team_language(
    cli: Cli, tmp_path: Path, language: str, wanted: str
) -> None:
    # The problem is a reason like the others: the cell reference and the quoted cell stay
    # as they are, the rest is the team's language.
    result = cli("init", "--example", "--lang", language, "--today", TODAY.isoformat())
    assert result.exit_code == 0, result.output
    workbook = tmp_path / "prospects.xlsx"
    tab = vocab.TAB_NAMES[language]["prospects"]
    book = load_workbook(workbook)
    headers = [cell.value for cell in book[tab][1]]
    column = headers.index(vocab.PROSPECT_HEADERS[language]["last_contact"]) + 1
    book[tab].cell(row=2, column=column, value="abc")
    book.save(workbook)

    refreshed = cli("refresh", "--config", str(tmp_path / "sheetfollow.toml"))
    assert refreshed.exit_code == 0, refreshed.output
    sheet = load_workbook(workbook)[tab]
    headers = [cell.value for cell in sheet[1]]
    why = sheet.cell(row=2, column=headers.index(vocab.PROSPECT_HEADERS[language]["why"]) + 1)
    cell = f"{tab}!{sheet.cell(row=2, column=column).column_letter}2"
    assert why.value == wanted.format(cell=cell)
    # `check` is for whoever keeps the sheet: its report stays in English.
    check = cli("check", "--config", str(tmp_path / "sheetfollow.toml"))
    assert f"{cell}: 'abc' is not a date (use 2026-12-31 or 31-12-2026)" in check.output


@pytest.mark.parametrize(
    ("cells", "english", "translated"),
    [
        (
            {"Company": "Acme", "Owner": "Anna", "Stage": "Gesprek"},
            "Check Prospects!C2: 'Gesprek' is not a known stage (use new, contacted, interested, "
            "quote, won, delivered, customer, lost or not interested).",
            {
                # The words to use are the ones the starter of that language has.
                "nl": "Controleer Prospects!C2: 'Gesprek' is geen bekende fase (gebruik Nieuw, "
                "Gecontacteerd, Geïnteresseerd, Offerte, Gewonnen, Geleverd, Klant, Verloren "
                "of Niet geïnteresseerd).",
            },
        ),
        (
            {"Company": "Acme", "Owner": "Anna", "Last contact": "2026-12-01"},
            "Check Prospects!D2: 2026-12-01 is in the future (today is 2026-11-24).",
            {
                "nl": "Controleer Prospects!D2: 2026-12-01 ligt in de toekomst "
                "(vandaag is het 2026-11-24).",
                "es": "Revisa Prospects!D2: 2026-12-01 es una fecha futura (hoy es 2026-11-24).",
            },
        ),
        (
            {"Last outcome": "no answer", "Attempts": "lots"},
            "Check Prospects!A2: no company or contact (and 3 more).",
            {
                "da": "Tjek Prospects!A2: ingen virksomhed eller kontaktperson (og 3 mere).",
                "de": "Prospects!A2 prüfen: weder Firma noch Ansprechpartner (und 3 weitere).",
            },
        ),
        (
            {"Company": "Acme", "Owner": "Anna", "Last outcome": "voicemail"},
            "Check Prospects!D2: Last outcome is 'voicemail' but Last contact is empty; "
            "fill in the date of that touch.",
            {
                "nl": "Controleer Prospects!D2: Laatste resultaat is 'Voicemail' maar Laatste "
                "contact is leeg; vul de datum van dat contact in.",
                "es": "Revisa Prospects!D2: Último resultado es 'Buzón de voz' pero Último "
                "contacto está vacío; rellena la fecha de ese contacto.",
            },
        ),
    ],
)
def test_the_problems_of_a_row_are_written_in_the_team_language(
    cells: dict[str, str], english: str, translated: dict[str, str]
) -> None:
    headers = ["Company", "Owner", "Stage", "Last contact", "Last outcome", "Attempts"]
    table = Table("Prospects", [headers, [cells.get(name) for name in headers]])
    header = schema.map_headers(table)
    prospect = schema.parse_prospect(table.rows[1], 2, header, epoch=table.epoch, today=TODAY)
    assert prospect is not None
    config = load_config(ROOT / "templates" / "sheetfollow.toml")
    calendar = calendar_for(config.calendar, "NL")
    computed = compute(prospect, rules=config.rules, calendar=calendar, today=TODAY)
    assert computed.why == english
    for language, text in translated.items():
        assert i18n.localise(computed.why, language) == text


def test_due_explains_its_order_and_the_daily_limit_in_the_team_language(
    cli: Cli, tmp_path: Path
) -> None:
    result = cli("init", "--example", "--lang", "nl", "--today", TODAY.isoformat())
    assert result.exit_code == 0, result.output
    config = tmp_path / "sheetfollow.toml"
    text = config.read_text(encoding="utf-8")
    assert "\ncalls_per_day = 0\n" in text
    config.write_text(text.replace("\ncalls_per_day = 0\n", "\ncalls_per_day = 3\n"))
    args = ("--config", str(config), "--today", TODAY.isoformat())
    assert cli("refresh", *args).exit_code == 0

    due = cli("due", "--explain", *args)
    assert due.exit_code == 0, due.output
    assert "1 beloofd voor vandaag" in due.output and "3 te laat, oudste eerst" in due.output
    assert re.search(
        r"\n\d+ gesprekken die nu al moesten, zijn door de daglimiet verplaatst "
        r"\(Belletjes per dag; zie Waarom\): wo 25 nov 2026 t/m ",
        due.output,
    ), due.output
    assert re.search(r"\nboven de daglimiet: Anna, di 24 nov 2026: \d van 3 gesprekken", due.output)
    assert "daily limit" not in due.output and "oldest first" not in due.output
    # Scripts read --json: its order stays in the English of the code.
    listed = cli("due", "--json", "--explain", *args)
    assert "3 overdue, oldest first" in listed.stdout


@pytest.mark.parametrize(
    ("kind", "members"), [("stage", Stage), ("outcome", Outcome), ("channel", Channel)]
)
def test_the_words_a_cell_may_hold_are_listed_as_the_starter_of_each_language_has_them(
    kind: str, members: type[Stage] | type[Outcome] | type[Channel]
) -> None:
    names = {
        "stage": vocab.STAGE_NAMES,
        "outcome": vocab.OUTCOME_NAMES,
        "channel": vocab.CHANNEL_NAMES,
    }
    words = [str(member.value) for member in members]
    listed = schema._KNOWN_WORDS[kind]
    # English is the list made from the members: a member added later shows up here.
    assert str(listed) == ", ".join(words[:-1]) + " or " + words[-1]
    for language in LANGUAGES:
        if language == "en":
            continue
        text = listed.text(language)
        for name in names[kind][language].values():
            assert name in text, (language, name, text)
