"""The words of the sheet: complete in every language, unambiguous, and readable back."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from enum import Enum
from typing import Any

import pytest

from sheetfollow import fields, vocab
from sheetfollow.models import Channel, Outcome, Stage, Status

Names = Mapping[str, Mapping[Any, str]]
Aliases = Mapping[str, Any]

NAMED_ENUMS: list[tuple[type[Enum], Names, Aliases]] = [
    (Stage, vocab.STAGE_NAMES, vocab.STAGE_ALIASES),
    (Outcome, vocab.OUTCOME_NAMES, vocab.OUTCOME_ALIASES),
    (Channel, vocab.CHANNEL_NAMES, vocab.CHANNEL_ALIASES),
    (Status, vocab.STATUS_NAMES, vocab.STATUS_ALIASES),
]

HEADER_TABLES = [
    (fields.ALL_FIELDS, vocab.PROSPECT_HEADERS, vocab.HEADER_ALIASES),
    (fields.LOG_FIELDS, vocab.LOG_HEADERS, vocab.LOG_ALIASES),
    (fields.ALL_OWNER_FIELDS, vocab.OWNER_HEADERS, vocab.OWNER_ALIASES),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Next Follow-Up", "next follow up"),
        ("next_follow  up", "next follow up"),
        ("  Follow.up/on ", "follow up on"),
        ("Nächster Kontakt", "nachster kontakt"),
        ("E-MAIL", "e mail"),
        ("Forsøg", "forsog"),
        ("Værdi", "vaerdi"),
        ("Hvornår", "hvornar"),
        ("Teléfono", "telefono"),
        ("Straße", "strasse"),
        ("# attempts", "# attempts"),
        ("Geïnteresseerd", "geinteresseerd"),
        ("", ""),
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert vocab.normalise(text) == expected


def test_languages_are_the_five_the_product_speaks() -> None:
    assert vocab.LANGS == ("en", "nl", "de", "da", "es")


@pytest.mark.parametrize(("wanted", "names", "aliases"), HEADER_TABLES)
def test_every_field_has_a_header_in_every_language(
    wanted: tuple[str, ...], names: dict[str, dict[str, str]], aliases: dict[str, frozenset[str]]
) -> None:
    for lang in vocab.LANGS:
        assert tuple(names[lang]) == wanted, lang
        assert all(text.strip() for text in names[lang].values()), lang
    assert set(aliases) == set(wanted)


@pytest.mark.parametrize(("wanted", "names", "aliases"), HEADER_TABLES)
def test_every_localised_header_reads_back_as_its_field(
    wanted: tuple[str, ...], names: dict[str, dict[str, str]], aliases: dict[str, frozenset[str]]
) -> None:
    for lang in vocab.LANGS:
        for name, text in names[lang].items():
            assert vocab.normalise(text) in aliases[name], (lang, name, text)


@pytest.mark.parametrize(("wanted", "names", "aliases"), HEADER_TABLES)
def test_a_starter_workbook_never_repeats_a_header(
    wanted: tuple[str, ...], names: dict[str, dict[str, str]], aliases: dict[str, frozenset[str]]
) -> None:
    for lang in vocab.LANGS:
        folded = [vocab.normalise(text) for text in names[lang].values()]
        assert len(folded) == len(set(folded)), lang


@pytest.mark.parametrize(
    "aliases",
    [vocab.HEADER_ALIASES, vocab.LOG_ALIASES, vocab.OWNER_ALIASES],
    ids=["prospects", "log", "owners"],
)
def test_no_header_alias_names_two_fields(aliases: dict[str, frozenset[str]]) -> None:
    claimed: dict[str, set[str]] = defaultdict(set)
    for name, words in aliases.items():
        for word in words:
            claimed[word].add(name)
    assert {word: names for word, names in claimed.items() if len(names) > 1} == {}


@pytest.mark.parametrize(
    "aliases",
    [vocab.HEADER_ALIASES, vocab.LOG_ALIASES, vocab.OWNER_ALIASES],
    ids=["prospects", "log", "owners"],
)
def test_header_aliases_are_stored_normalised(aliases: dict[str, frozenset[str]]) -> None:
    for words in aliases.values():
        for word in words:
            assert vocab.normalise(word) == word


@pytest.mark.parametrize(
    ("name", "header"),
    [
        ("email", "e-mail"),
        ("email", "Mail"),
        ("phone", "tel"),
        ("phone", "Telephone"),
        ("phone", "mobile"),
        ("company", "account"),
        ("company", "Organisation"),
        ("value", "deal value"),
        ("value", "Amount"),
        ("follow_up_on", "next action"),
        ("follow_up_on", "Follow-up date"),
        ("last_contact", "last touch"),
        ("attempts", "# attempts"),
        ("attempts", "tries"),
        ("owner", "Sales rep"),
        ("owner", "rep"),
        ("owner", "assigned"),
        ("company", "Bedrijf"),
        ("company", "Firma"),
        ("company", "Virksomhed"),
        ("company", "Empresa"),
        ("owner", "Eigenaar"),
        ("owner", "Verantwortlich"),
        ("owner", "Ejer"),
        ("owner", "Propietario"),
        ("next_follow_up", "NÄCHSTER KONTAKT"),
        ("follow_up_on", "follow_up_on"),
        ("assigned_to", "Assigned to"),
    ],
)
def test_common_header_variants(name: str, header: str) -> None:
    assert vocab.normalise(header) in vocab.HEADER_ALIASES[name]


@pytest.mark.parametrize(("kind", "names", "aliases"), NAMED_ENUMS)
def test_every_member_has_a_name_in_every_language(
    kind: type[Enum], names: Names, aliases: Aliases
) -> None:
    for lang in vocab.LANGS:
        assert set(names[lang]) == set(kind), lang
        assert all(word.strip() for word in names[lang].values()), lang


@pytest.mark.parametrize(("kind", "names", "aliases"), NAMED_ENUMS)
def test_every_localised_name_reads_back_as_its_member(
    kind: type[Enum], names: Names, aliases: Aliases
) -> None:
    for lang in vocab.LANGS:
        for member, word in names[lang].items():
            assert aliases[vocab.normalise(word)] is member, (lang, word)
    for member in kind:
        assert aliases[vocab.normalise(str(member.value))] is member


@pytest.mark.parametrize(("kind", "names", "aliases"), NAMED_ENUMS)
def test_a_dropdown_never_offers_one_word_twice(
    kind: type[Enum], names: Names, aliases: Aliases
) -> None:
    for lang in vocab.LANGS:
        folded = [vocab.normalise(word) for word in names[lang].values()]
        assert len(folded) == len(set(folded)), lang


@pytest.mark.parametrize(
    ("phrase", "outcome"),
    [
        ("no answer", Outcome.NO_ANSWER),
        ("no-answer", Outcome.NO_ANSWER),
        ("noanswer", Outcome.NO_ANSWER),
        ("Not reached", Outcome.NO_ANSWER),
        ("geen gehoor", Outcome.NO_ANSWER),
        ("niet bereikt", Outcome.NO_ANSWER),
        ("nicht erreicht", Outcome.NO_ANSWER),
        ("Keine Antwort", Outcome.NO_ANSWER),
        ("ikke truffet", Outcome.NO_ANSWER),
        ("intet svar", Outcome.NO_ANSWER),
        ("no contesta", Outcome.NO_ANSWER),
        ("sin respuesta", Outcome.NO_ANSWER),
        ("voicemail", Outcome.VOICEMAIL),
        ("ingesproken", Outcome.VOICEMAIL),
        ("Mailbox", Outcome.VOICEMAIL),
        ("telefonsvarer", Outcome.VOICEMAIL),
        ("buzón de voz", Outcome.VOICEMAIL),
        ("buzon de voz", Outcome.VOICEMAIL),
        ("bereikt", Outcome.REACHED),
        ("erreicht", Outcome.REACHED),
        ("truffet", Outcome.REACHED),
        ("contactado", Outcome.REACHED),
        ("geïnteresseerd", Outcome.INTERESTED),
        ("interessiert", Outcome.INTERESTED),
        ("interesseret", Outcome.INTERESTED),
        ("interesado", Outcome.INTERESTED),
        ("terugbellen", Outcome.CALL_BACK),
        ("Rückruf", Outcome.CALL_BACK),
        ("ring tilbage", Outcome.CALL_BACK),
        ("volver a llamar", Outcome.CALL_BACK),
        ("call-back", Outcome.CALL_BACK),
        ("callback", Outcome.CALL_BACK),
        ("offerte verstuurd", Outcome.QUOTE_SENT),
        ("Angebot gesendet", Outcome.QUOTE_SENT),
        ("tilbud sendt", Outcome.QUOTE_SENT),
        ("presupuesto enviado", Outcome.QUOTE_SENT),
        ("niet geïnteresseerd", Outcome.NOT_INTERESTED),
        ("kein Interesse", Outcome.NOT_INTERESTED),
        ("ikke interesseret", Outcome.NOT_INTERESTED),
        ("no interesado", Outcome.NOT_INTERESTED),
        ("not-interested", Outcome.NOT_INTERESTED),
        ("gewonnen", Outcome.WON),
        ("vundet", Outcome.WON),
        ("ganado", Outcome.WON),
        ("geleverd", Outcome.DELIVERED),
        ("geliefert", Outcome.DELIVERED),
        ("leveret", Outcome.DELIVERED),
        ("entregado", Outcome.DELIVERED),
        ("verloren", Outcome.LOST),
        ("tabt", Outcome.LOST),
        ("perdido", Outcome.LOST),
    ],
)
def test_everyday_outcome_phrases(phrase: str, outcome: Outcome) -> None:
    assert vocab.OUTCOME_ALIASES[vocab.normalise(phrase)] is outcome


def test_ambiguous_words_are_not_outcomes() -> None:
    for word in ("n/a", "na", "", "maybe", "status"):
        assert vocab.normalise(word) not in vocab.OUTCOME_ALIASES


@pytest.mark.parametrize(
    ("word", "channel"),
    [
        ("Phone", Channel.PHONE),
        ("tel", Channel.PHONE),
        ("bellen", Channel.PHONE),
        ("Anruf", Channel.PHONE),
        ("e-mail", Channel.EMAIL),
        ("mail", Channel.EMAIL),
        ("correo", Channel.EMAIL),
        ("Besuch", Channel.VISIT),
        ("besøg", Channel.VISIT),
        ("besog", Channel.VISIT),
        ("visita", Channel.VISIT),
        ("meeting", Channel.VISIT),
    ],
)
def test_channel_words(word: str, channel: Channel) -> None:
    assert vocab.CHANNEL_ALIASES[vocab.normalise(word)] is channel


def test_yes_no_words_read_back() -> None:
    for lang in vocab.LANGS:
        yes, no = vocab.YES_NO[lang]
        assert vocab.BOOL_ALIASES[vocab.normalise(yes)] is True, lang
        assert vocab.BOOL_ALIASES[vocab.normalise(no)] is False, lang


def test_tab_names_are_complete_and_distinct() -> None:
    for lang in vocab.LANGS:
        names = vocab.TAB_NAMES[lang]
        assert set(names) == {"prospects", "log", "owners"}, lang
        assert len(set(names.values())) == 3, lang
        # Excel refuses tab names over 31 characters or with these characters.
        for name in names.values():
            assert len(name) <= 31 and not set(name) & set("[]:*?/\\"), name
