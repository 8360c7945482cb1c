"""The words people read, in their language: gettext catalogs managed with Babel.

English is the source language: the texts in the code are the catalogs' msgids. Every other
language is sheetfollow/locale/<lang>/LC_MESSAGES/sheetfollow.po (a translator's usual
tools read and write it); a new language is a new .po file. The build compiles each .po to
a .mo beside it (setup.py); a checkout or an editable install has only the .po, which is
compiled once into the user's cache and read from there afterwards, so the Babel message
tools are not imported on every run.

Texts are translated where they are produced (the sheet write, an email, a table), not where
they are decided: the rules keep a Why as structured reasons (Reason: a msgid and its values)
inside a Why string that reads as English, and `localise` turns it into the reader's
language with Babel's dates and numbers.

Markers for `pybabel extract` (README "Translating"; KEYWORDS below):
  P_(context, text)                 a word or text with its context ("status", "new")
  Pn_(context, singular, plural)    the same with plural forms
  R_(text, **values)                one reason of a Why
  Rn_(singular, plural, n, **values)  the same with plural forms (n picks the form)
"""

from __future__ import annotations

import functools
import gettext
import hashlib
import io
import os
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import NamedTuple

DOMAIN = "sheetfollow"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
SOURCE_LANGUAGE = "en"

#: The markers `pybabel extract` must know besides its defaults, in Babel's keyword notation
#: (-k P_:1c,2 -k Pn_:1c,2,3 -k R_ -k Rn_:1,2).
KEYWORDS: Mapping[str, object] = {
    "P_": ((1, "c"), 2),
    "Pn_": ((1, "c"), 2, 3),
    "R_": None,
    "Rn_": (1, 2),
}

#: Babel locales per language. English dates are British: "Tue 24 Nov 2026".
LOCALES: Mapping[str, str] = {
    "en": "en_GB",
    "nl": "nl_NL",
    "de": "de_DE",
    "da": "da_DK",
    "es": "es_ES",
}

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# --- Catalogs ----------------------------------------------------------------------------


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def languages() -> tuple[str, ...]:
    """English and every language with a catalog."""
    found = sorted(p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return (SOURCE_LANGUAGE, *(lang for lang in found if lang != SOURCE_LANGUAGE))


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The catalog of `language`, loaded once per process; English (or a language without a
    catalog) gives the texts of the code."""
    if language == SOURCE_LANGUAGE or not language.isidentifier():
        return gettext.NullTranslations()
    po = po_path(language)
    mo = po.with_suffix(".mo")
    try:
        # The build's .mo, unless a translator edited the .po since (an install unpacks
        # both within a second, in either order).
        if mo.exists() and (not po.exists() or mo.stat().st_mtime + 2 >= po.stat().st_mtime):
            with mo.open("rb") as file:
                return gettext.GNUTranslations(file)
        if po.exists():
            return gettext.GNUTranslations(io.BytesIO(_compiled(po)))
    except OSError:
        pass
    return gettext.NullTranslations()


def _compiled(po: Path) -> bytes:
    """The .mo of a .po, from the user's cache when this very .po was compiled before."""
    source = po.read_bytes()
    digest = hashlib.sha256(source).hexdigest()[:20]
    cached = _cache_dir() / f"{po.parent.parent.name}-{digest}.mo"
    try:
        return cached.read_bytes()
    except OSError:
        pass
    data = compile_po(source, po.parent.parent.name)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        temporary = cached.with_name(f"{cached.name}.{os.getpid()}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, cached)
    except OSError:
        pass  # a read-only home: compile again next time
    return data


def _cache_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("sheetfollow")) / "locale"


def compile_po(source: bytes, language: str) -> bytes:
    """A .po file's bytes compiled to a .mo file's (Babel's pofile and mofile)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    catalog = read_po(io.BytesIO(source), locale=language, domain=DOMAIN)
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


# --- Markers and words --------------------------------------------------------------------


def P_(context: str, text: str) -> str:
    """Marks a word for extraction; `word` translates it."""
    return text


def Pn_(context: str, singular: str, plural: str) -> tuple[str, str]:
    """Marks a text with plural forms for extraction; `plural_word` translates it."""
    return singular, plural


@functools.lru_cache(maxsize=4096)
def word(context: str, text: str, language: str) -> str:
    """A text with its context in `language` (memoised: a sheet asks for the same few words
    on every row)."""
    return translations(language).pgettext(context, text)


def plural_word(context: str, forms: tuple[str, str], n: int, language: str) -> str:
    return translations(language).npgettext(context, forms[0], forms[1], n)


@functools.lru_cache(maxsize=256)
def locale(language: str) -> object:
    from babel import Locale

    return Locale.parse(LOCALES.get(language, language))


@functools.lru_cache(maxsize=65536)
def day_text(day: date, language: str) -> str:
    """A date as people read it in a sentence: 'Tue 24 Nov 2026', 'di 24 nov 2026'."""
    if language == SOURCE_LANGUAGE:
        return f"{_DAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"
    from babel.dates import format_skeleton

    return str(format_skeleton("yMMMEd", day, locale=locale(language)))  # type: ignore[arg-type]


@functools.lru_cache(maxsize=4096)
def number_text(n: float, language: str) -> str:
    if language == SOURCE_LANGUAGE or (isinstance(n, int) and -1000 < n < 1000):
        return str(n)
    from babel.numbers import format_decimal

    return str(format_decimal(n, format="#,##0.##", locale=locale(language)))  # type: ignore[arg-type]


# --- Reasons: the Why texts ---------------------------------------------------------------


class Reason(NamedTuple):
    """One reason of a Why: its code (the English msgid, python-format) and its values,
    formatted per language by `text`. With `plural`, `n` picks the form.

    A named tuple, not a dataclass: the rules make a few for every row of every refresh,
    and a tuple is made, hashed (the translators' memo) and compared in C."""

    code: str
    values: tuple[tuple[str, Value], ...] = ()
    plural: str = ""
    n: int = 0

    def text(self, language: str = SOURCE_LANGUAGE) -> str:
        if language == SOURCE_LANGUAGE:
            return _english(self)
        return _reason_text(self, language)

    def __str__(self) -> str:
        return _english(self)


#: What a reason's values may be: dates and numbers are formatted per language, a Reason in
#: a Reason is translated too (a Why made of two halves).
Value = str | int | float | date | Reason


_new_reason = tuple.__new__


def R_(code: str, **values: Value) -> Reason:
    # tuple.__new__ directly: Reason(...) goes through a Python-level __new__.
    return _new_reason(Reason, (code, tuple(values.items()), "", 0))


def Rn_(singular: str, plural: str, n: int, **values: Value) -> Reason:
    return _new_reason(Reason, (singular, (("n", n), *values.items()), plural, n))


def _english(reason: Reason) -> str:
    """A reason in the code's own words: no catalog, no memo (every row's Why is read in
    English once, when it is made)."""
    code, values, plural, n = reason
    template = plural if plural and n != 1 else code
    if not values:
        return template
    texts = {}
    for key, value in values:
        kind = type(value)
        if kind is Reason:
            texts[key] = _english(value)  # type: ignore[arg-type]
        elif kind is date:
            texts[key] = day_text(value, SOURCE_LANGUAGE)
        else:
            texts[key] = str(value)
    return template % texts


@functools.lru_cache(maxsize=65536)
def _reason_text(reason: Reason, language: str) -> str:
    catalog = translations(language)
    if reason.plural:
        template = catalog.ngettext(reason.code, reason.plural, reason.n)
    else:
        template = catalog.gettext(reason.code)
    if not reason.values:
        return template
    return template % {key: _value_text(v, language) for key, v in reason.values}


def _value_text(value: Value, language: str) -> str:
    if isinstance(value, Reason):
        return _reason_text(value, language)
    if isinstance(value, date):
        return day_text(value, language)
    if isinstance(value, (bool, str)):
        return str(value)
    return number_text(value, language)


Part = Reason | str


class Why(str):
    """A Why text that reads as English and keeps the reasons it was made of, so that the
    sheet, an email or a table can give it in its reader's language (`localise`).

    The reasons are kept flattened into one tuple of plain values (codes, dates, numbers):
    a refresh keeps a Why for each of hundreds of thousands of rows, and nested tuples
    would each stay on the garbage collector's books (a flat one of plain values does not).
    """

    __slots__ = ("_flat",)
    _flat: tuple[object, ...]

    def __new__(cls, *parts: Part) -> Why:
        flat: list[object] = []
        texts: list[str] = []
        for part in parts:
            kind = type(part)
            if kind is Reason:
                reason_flat, english = _made(part)
                flat += reason_flat
                texts.append(english)
            elif kind is Why:
                if part:
                    flat += part._flat  # type: ignore[union-attr]
                    texts.append(str.__str__(part))
            else:
                text = str(part).strip()
                if text:
                    flat += ("s", text)
                    texts.append(text)
        self = super().__new__(cls, " ".join(texts))
        self._flat = tuple(flat)
        return self

    @property
    def parts(self) -> tuple[Part, ...]:
        """The reasons (and texts) this Why is made of, in order."""
        found: list[Part] = []
        at = 0
        while at < len(self._flat):
            part, at = _unflatten(self._flat, at)
            found.append(part)
        return tuple(found)

    def __reduce__(self) -> tuple[object, ...]:
        return (Why, self.parts)


@functools.lru_cache(maxsize=65536)
def _made(reason: Reason) -> tuple[tuple[object, ...], str]:
    """A reason flattened, and its English text (memoised: rows that share their dates and
    counts share their Why)."""
    flat: list[object] = []
    english = _flatten(reason, flat)
    return tuple(flat), english


def _flatten(reason: Reason, out: list[object]) -> str:
    """Appends the reason as plain values to `out` ("r", code, plural, n, how many values,
    then each value's key followed by "v" and the value, or by the nested reason) and gives
    its English text (_english's, in the same walk)."""
    code, values, plural, n = reason
    out += ("r", code, plural, n, len(values))
    template = plural if plural and n != 1 else code
    if not values:
        return template
    texts = {}
    for key, value in values:
        out.append(key)
        kind = type(value)
        if kind is Reason:
            texts[key] = _flatten(value, out)  # type: ignore[arg-type]
            continue
        out += ("v", value)
        if kind is date:
            texts[key] = day_text(value, SOURCE_LANGUAGE)
        else:
            texts[key] = str(value)
    return template % texts


def _unflatten(flat: tuple[object, ...], at: int) -> tuple[Part, int]:
    if flat[at] == "s":
        return str(flat[at + 1]), at + 2
    code, plural, n, count = flat[at + 1 : at + 5]
    at += 5
    values: list[tuple[str, Value]] = []
    for _ in range(int(count)):  # type: ignore[call-overload]
        key = str(flat[at])
        if flat[at + 1] == "v":
            values.append((key, flat[at + 2]))  # type: ignore[arg-type]
            at += 3
        else:
            value, at = _unflatten(flat, at + 1)
            values.append((key, value))
    return Reason(str(code), tuple(values), str(plural), int(n)), at  # type: ignore[call-overload]


def _part_text(part: Part, language: str) -> str:
    if type(part) is Reason:
        return part.text(language)
    return str(part).strip()


def why(*parts: Part) -> Why:
    """A Why made of reasons (and texts already in words, such as a cell's problem).

    Made of reasons alone, it is memoised: the rules make one for every row, and rows that
    share their dates and counts share their Why (about one distinct Why in ten rows)."""
    for part in parts:
        if type(part) is not Reason:
            return Why(*parts)
    return _why_of(parts)


@functools.lru_cache(maxsize=65536)
def _why_of(reasons: tuple[Reason, ...]) -> Why:
    return Why(*reasons)


def localise(text: str, language: str) -> str:
    """A Why (or any text) in `language`: a plain text is given as it is."""
    if language == SOURCE_LANGUAGE or type(text) is not Why:
        return str.__str__(text)
    return _localised(text._flat, language)


@functools.lru_cache(maxsize=65536)
def _localised(flat: tuple[object, ...], language: str) -> str:
    texts = []
    at = 0
    while at < len(flat):
        part, at = _unflatten(flat, at)
        texts.append(_part_text(part, language))
    return " ".join(texts)


# --- The words written into the sheet ----------------------------------------------------
# The English words are what sheetfollow has always written (the enum values); the starter's
# status colours and the readers of every language (vocab.py's aliases) know each of them.

_STATUS_WORDS: Mapping[str, str] = {
    "new": P_("status", "new"),
    "due": P_("status", "due"),
    "overdue": P_("status", "overdue"),
    "scheduled": P_("status", "scheduled"),
    "snoozed": P_("status", "snoozed"),
    "dead": P_("status", "dead"),
    "won": P_("status", "won"),
    "lost": P_("status", "lost"),
    "not interested": P_("status", "not interested"),
    "customer": P_("status", "customer"),
    "needs attention": P_("status", "needs attention"),
}

_OUTCOME_WORDS: Mapping[str, str] = {
    "reached": P_("outcome", "reached"),
    "no answer": P_("outcome", "no answer"),
    "voicemail": P_("outcome", "voicemail"),
    "interested": P_("outcome", "interested"),
    "call back": P_("outcome", "call back"),
    "quote sent": P_("outcome", "quote sent"),
    "not interested": P_("outcome", "not interested"),
    "won": P_("outcome", "won"),
    "delivered": P_("outcome", "delivered"),
    "lost": P_("outcome", "lost"),
}

_CHANNEL_WORDS: Mapping[str, str] = {
    "phone": P_("channel", "phone"),
    "email": P_("channel", "email"),
    "visit": P_("channel", "visit"),
}

_STEP_WORDS: Mapping[str, str] = {
    "thank-you": P_("step", "thank-you"),
    "check-in": P_("step", "check-in"),
    "review": P_("step", "review"),
    "follow-up": P_("step", "follow-up"),
    "revisit": P_("step", "revisit"),
}
_ATTEMPT_STEP = P_("step", "%(attempt)s of %(limit)s")


def status_text(value: str, language: str) -> str:
    """A Status (its enum value) as the sheet of `language` shows it: "overdue" -> "Te laat"."""
    if language == SOURCE_LANGUAGE or value not in _STATUS_WORDS:
        return value
    return word("status", _STATUS_WORDS[value], language)


def outcome_text(value: str, language: str) -> str:
    """An outcome (its enum value) as the Log of `language` shows it."""
    if language == SOURCE_LANGUAGE or value not in _OUTCOME_WORDS:
        return value
    return word("outcome", _OUTCOME_WORDS[value], language)


def channel_text(value: str, language: str) -> str:
    if language == SOURCE_LANGUAGE or value not in _CHANNEL_WORDS:
        return value
    return word("channel", _CHANNEL_WORDS[value], language)


@functools.lru_cache(maxsize=4096)
def step_text(step: str, language: str) -> str:
    """A Step as the sheet of `language` shows it: "2 of 5" -> "2 van 5", "thank-you" ->
    "bedankje"; a Step the rules do not make is given as it is."""
    if language == SOURCE_LANGUAGE:
        return step
    if step in _STEP_WORDS:
        return word("step", _STEP_WORDS[step], language)
    attempt, of, limit = step.partition(" of ")
    if of and attempt.isdigit() and limit.isdigit():
        return word("step", _ATTEMPT_STEP, language) % {
            "attempt": number_text(int(attempt), language),
            "limit": number_text(int(limit), language),
        }
    return step


# --- The texts of the command line that reach the people who call --------------------------

_DUE_HEADINGS: Mapping[str, str] = {
    "Due": P_("due table", "Due"),
    "ID": P_("due table", "ID"),
    "Company": P_("due table", "Company"),
    "Contact": P_("due table", "Contact"),
    "Phone": P_("due table", "Phone"),
    "For": P_("due table", "For"),
    "Step": P_("due table", "Step"),
    "Value": P_("due table", "Value"),
    "Order": P_("due table", "Order"),
    "Why": P_("due table", "Why"),
}
_DUE_TITLE = Pn_(
    "due table",
    "%(n)s follow-up on %(day)s, %(overdue)s overdue",
    "%(n)s follow-ups on %(day)s, %(overdue)s overdue",
)
_DUE_TODAY = P_("due table", "today")
_DUE_LATE = P_("due table", "%(days)sd late")


def due_heading(name: str, language: str) -> str:
    """A column heading of `sheetfollow due`'s table in the team's language."""
    if language == SOURCE_LANGUAGE or name not in _DUE_HEADINGS:
        return name
    return word("due table", _DUE_HEADINGS[name], language)


def due_title(count: int, day: date, overdue: int, language: str) -> str:
    """'12 follow-ups on Mon 7 Dec 2026, 3 overdue' in the team's language."""
    text = plural_word("due table", _DUE_TITLE, count, language)
    return text % {
        "n": number_text(count, language),
        "day": day_text(day, language),
        "overdue": number_text(overdue, language),
    }


def due_when(days_late: int, language: str) -> str:
    """The Due cell: 'today', or '3d late'."""
    if days_late <= 0:
        return word("due table", _DUE_TODAY, language)
    return word("due table", _DUE_LATE, language) % {"days": number_text(days_late, language)}
