"""The emails people read: an owner's morning call list, and the strings, dates and numbers
that the manager's digest (notify/digest.py) shares with it.

Pure: rows in, a Message (subject, text, HTML, calendar) out. The only things read are the
templates in templates/email/ (Jinja2; compiled once into the user's cache, see
_TemplateCache) and the gettext catalogs (sheetfollow/locale), which hold every fixed text
(sheetfollow/notify/strings.py) in the reader's language. Dates and numbers follow the
reader's language through Babel; English dates use the British day-month order, as the
sheet's Why texts do.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import pickle
import re
import shlex
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
import phonenumbers
from babel import Locale
from babel.dates import format_date, format_skeleton, format_time
from babel.numbers import format_currency, format_decimal
from jinja2.bccache import Bucket

from sheetfollow import i18n, priority, reply, vocab
from sheetfollow.config import CONFIG_NAME, Config
from sheetfollow.fields import LANGUAGES
from sheetfollow.models import Channel, Outcome, Owner, Row, Stage, Status
from sheetfollow.notify import ics
from sheetfollow.notify.message import Attachment, Message
from sheetfollow.notify.strings import MESSAGES

#: Notes are cut to about this many characters: the sheet has the rest.
NOTE_LENGTH = 140
#: Any other text of a card (company, contact, phone, email, why) is cut to about this
#: many: a cell holds up to 32,767 characters, and a hundred such cards made 7 MB emails.
FIELD_LENGTH = 300
#: A company name in the subject of a reply button is cut to about this many characters:
#: the tag after it decides, the name is for the person.
REPLY_COMPANY_LENGTH = 24

#: Babel locales per language. English dates are British: "Wed 11 Mar", not "Wed, Mar 11".
_LOCALES = {"en": "en_GB", "nl": "nl_NL", "de": "de_DE", "da": "da_DK", "es": "es_ES"}

#: The outcome words `sheetfollow mark` takes, as the emails list them.
OUTCOME_WORDS: tuple[str, ...] = tuple(o.value.replace(" ", "-") for o in Outcome)


@functools.lru_cache(maxsize=16)
def outcome_words(language: str) -> tuple[str, ...]:
    """OUTCOME_WORDS in `language` ("geen-gehoor"): mark reads every language's words."""
    return tuple(i18n.outcome_text(o.value, language).casefold().replace(" ", "-") for o in Outcome)


_STEP_KEYS = {
    "thank-you": "step_thank_you",
    "check-in": "step_check_in",
    "review": "step_review",
    "follow-up": "step_follow_up",
    "revisit": "step_revisit",
}
_ATTEMPT = re.compile(r"(\d+) of (\d+)")
#: The year at the end of a full date pattern: " y", ", y", " 'de' y" (es).
_YEAR = re.compile(r"[\s,]*(?:'de'\s*)?y+[\s.]*$")


# --- Templates and strings -----------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The Jinja2 environment of templates/email/ (shipped as sheetfollow.templates)."""
    env = jinja2.Environment(
        loader=_loader(),
        # The .html templates: company names like "Smith & <Sons>" must stay text.
        autoescape=_escaped,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.bytecode_cache = _template_cache(env)
    return env


def _escaped(name: str | None) -> bool:
    return name is not None and ".html" in name


class _TemplateCache(jinja2.FileSystemBytecodeCache):
    """The templates as Jinja2 compiled them, in the user's cache: compiling the five email
    templates took longer than rendering ten emails with them. Jinja2 keeps each template's
    source checksum (and the Python version) beside its code and compiles again when they
    differ; it writes through a temporary file renamed into place, so runs at once read a
    whole file or none. A cache that cannot be read or written costs the compiling only."""

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, EOFError, ValueError, TypeError, pickle.UnpicklingError):
            bucket.reset()  # a damaged file: compile the template, and replace the file

    def dump_bytecode(self, bucket: Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def _template_cache(env: jinja2.Environment) -> jinja2.BytecodeCache | None:
    """The compiled templates of this Jinja2 release and these settings: code compiled by
    another release, or with other settings (which change the code, not the source), is in
    files of another name. None when the folder cannot be made."""
    from platformdirs import user_cache_dir

    settings = repr(
        (
            jinja2.__version__,
            sys.implementation.cache_tag,
            env.block_start_string,
            env.block_end_string,
            env.variable_start_string,
            env.variable_end_string,
            env.comment_start_string,
            env.comment_end_string,
            env.line_statement_prefix,
            env.line_comment_prefix,
            env.trim_blocks,
            env.lstrip_blocks,
            env.newline_sequence,
            env.keep_trailing_newline,
            sorted(env.extensions),
            env.optimized,
            env.undefined.__name__,
            # Whether a template escapes is decided when it is compiled.
            [(name, _escaped(name)) for name in env.list_templates()],
        )
    )
    tag = hashlib.sha256(settings.encode()).hexdigest()[:16]
    folder = Path(user_cache_dir("sheetfollow")) / "templates"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return None
    return _TemplateCache(str(folder), f"{tag}-%s.cache")


def _loader() -> jinja2.BaseLoader:
    try:
        return jinja2.PackageLoader("sheetfollow.templates", "email")
    except (ModuleNotFoundError, ValueError):
        # A source checkout used without installing: templates/ sits next to the package.
        return jinja2.FileSystemLoader(Path(__file__).resolve().parents[2] / "templates/email")


StringTable = Mapping[str, "str | Mapping[str, str]"]


@functools.lru_cache(maxsize=1)
def strings_table() -> Mapping[str, StringTable]:
    """language -> key -> text, or plural form ("one", "other") -> text: every email text
    of every language, as the catalogs give them (placeholders as %(name)s)."""
    tables: dict[str, StringTable] = {}
    for language in LANGUAGES:
        t = Strings(language)
        table: dict[str, str | Mapping[str, str]] = {}
        for key, message in MESSAGES.items():
            if isinstance(message, str):
                table[key] = t.text(key)
            else:
                table[key] = {"one": t.plural(key, 1), "other": t.plural(key, 2)}
        tables[language] = table
    return tables


class Strings:
    """The fixed texts, dates and numbers of one language. The texts are the catalogs'
    (sheetfollow/notify/strings.py names them; i18n.py loads the catalogs)."""

    def __init__(self, language: str) -> None:
        self.language = language if language in LANGUAGES else "en"
        self.locale = Locale.parse(_LOCALES[self.language])
        self.catalog = i18n.translations(self.language)

    def text(self, key: str) -> str:
        """The text of `key` untouched: its placeholders still in."""
        message = MESSAGES[key]
        if not isinstance(message, str):
            raise KeyError(f"{key} has plural forms: use count()")
        return self.catalog.pgettext(key, message)

    def plural(self, key: str, n: int) -> str:
        """The plural form of `key` for n, its placeholders still in."""
        message = MESSAGES[key]
        if isinstance(message, str):
            raise KeyError(f"{key} has no plural forms: call the Strings itself")
        return self.catalog.npgettext(key, message[0], message[1], n)

    def __call__(self, key: str, **values: object) -> str:
        return self.text(key) % values

    def count(self, key: str, n: int, **values: object) -> str:
        """The plural form of `key` for n, with %(n)s formatted for the language."""
        return self.plural(key, n) % {"n": self.number(n), **values}

    def day(self, day: date, today: date) -> str:
        """'Mon 9 Mar' in the reader's language; with the year when it is not this year's."""
        skeleton = "MMMEd" if day.year == today.year else "yMMMEd"
        return str(format_skeleton(skeleton, day, locale=self.locale))

    def long_day(self, day: date) -> str:
        """'Wednesday, 11 March' in the reader's language: its full date without the year.

        Babel's skeletons keep weekdays short ("Mi., 11. März"); the full pattern names it.
        """
        pattern = _YEAR.sub("", self.locale.date_formats["full"].pattern)
        return str(format_date(day, format=pattern, locale=self.locale))

    def number(self, value: float) -> str:
        """12000 -> '12,000' (en) or '12.000' (nl); no currency: the sheet does not say which."""
        return str(format_decimal(value, format="#,##0.##", locale=self.locale))

    def money(self, value: float, currency: str) -> str:
        """An amount in `currency` (ISO 4217) as the language writes it: '€12,000' (en),
        '12.000 €' (de), '€ 1.234,50' (nl); whole amounts without cents. A plain number
        without a currency."""
        if not currency:
            return self.number(value)
        if not float(value).is_integer():
            return str(format_currency(value, currency, locale=self.locale))
        # The language's own pattern ("#,##0.00 ¤"), without its cents.
        pattern = self.locale.currency_formats["standard"].pattern.replace(".00", "")
        return str(
            format_currency(
                value, currency, format=pattern, locale=self.locale, currency_digits=False
            )
        )

    def clock(self, moment: time) -> str:
        return str(format_time(moment, format="short", locale=self.locale))


def language_of(owner: Owner, config: Config) -> str:
    """The owner's language, else the team's, else English."""
    for language in (owner.language, config.language):
        if language in LANGUAGES:
            return language
    return "en"


# --- What a row shows ------------------------------------------------------------------------


def tel_href(phone: str, country: str = "") -> str:
    """A tel: link for a number as written: E.164 when phonenumbers understands it (with
    `country` for numbers written without their +code), else the digits as typed; "" when
    there are no digits to dial."""
    typed = phone.strip()
    region = country[:2].upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        region = ""
    try:
        number = phonenumbers.parse(typed, region or None)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_possible_number(number):
        return "tel:" + phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    dialled = re.sub(r"[^\d+]", "", typed)
    return "tel:" + dialled if any(ch.isdigit() for ch in dialled) else ""


def mailto_href(email: str) -> str:
    return "mailto:" + quote(email.strip(), safe="@+.!$'*,;=~")


def shorten(text: str, length: int = NOTE_LENGTH) -> str:
    """One line of at most about `length` characters, cut between words."""
    flat = " ".join(text.split())
    if len(flat) <= length:
        return flat
    cut = flat[: length - 1]
    space = cut.rfind(" ")
    if space > length // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:-") + "…"


def mark_command(row: Row, placeholder: str, *, sheet: str = "", config: Config) -> str:
    """The command that records the outcome of this follow-up: the row's ID, or else its
    company (the beginning of a very long one, which mark finds as well), quoted for the
    shell; --config when a command typed in this working folder would not find the config
    by itself, --sheet only when the sheet is not the config's."""
    who = (row.prospect.id or row.prospect.company)[:FIELD_LENGTH]
    parts = ["sheetfollow", "mark"]
    if config.path is not None and config.path != (Path.cwd() / CONFIG_NAME).resolve():
        parts += ["--config", shlex.quote(str(config.path))]
    if sheet and not _same_sheet(sheet, config.sheet or ""):
        parts += ["--sheet", shlex.quote(sheet)]
    return " ".join([*parts, shlex.quote(who), f"<{placeholder}>"])


def reply_href(address: str, subject: str, body: str) -> str:
    """A mailto: link (RFC 6068) that opens a message to `address` with this subject and
    body: every character but letters, digits and -._~ percent-encoded as UTF-8, so that
    iOS Mail, Gmail and Outlook all read the same text; line breaks as %0D%0A."""
    lines = body.replace("\r\n", "\n").replace("\n", "\r\n")
    return f"{mailto_href(address)}?subject={quote(subject, safe='')}&body={quote(lines, safe='')}"


def _same_sheet(one: str, other: str) -> bool:
    """Whether two ways of naming a sheet name the same one: the same text, or paths that
    lead to the same file from the working folder."""
    if one == other or not other or "://" in one or "://" in other:
        return one == other
    return os.path.abspath(os.path.expanduser(one)) == os.path.abspath(os.path.expanduser(other))


def step_text(step: str, t: Strings) -> str:
    """'2 of 5' -> 'Attempt 2 of 5'; 'thank-you' -> 'Thank-you after the sale'."""
    attempt = _ATTEMPT.fullmatch(step.strip())
    if attempt:
        return t("attempt", k=t.number(int(attempt[1])), n=t.number(int(attempt[2])))
    key = _STEP_KEYS.get(step.strip())
    return t(key) if key else step


def phase(row: Row) -> str:
    """What the next touch is for, which decides the outcomes it can have: "after-sale"
    (a thank-you, check-in or review, or a date set by hand for a won row or a customer),
    "quote" (they are interested: the quote goes out), "deal" (a quote is out), else
    "attempt" (reaching the prospect, for the first time or again)."""
    c, p = row.computed, row.prospect
    if c.status in (Status.WON, Status.CUSTOMER) or c.step in ("thank-you", "check-in", "review"):
        return "after-sale"
    # The last outcome is the newest fact; the Stage, which only moves forward, says the
    # rest (an unanswered call or a talk without a decision leaves it as it was).
    if p.last_outcome is Outcome.QUOTE_SENT or p.stage is Stage.QUOTE:
        return "deal"
    if p.last_outcome is Outcome.INTERESTED or p.stage is Stage.INTERESTED:
        return "quote"
    return "attempt"


def task_text(row: Row, t: Strings) -> str:
    """What to do, as the card says it: "First call", "Send the quote", "Follow up on the
    quote", "Attempt 3 of 5", "Thank-you after the sale" ... The rules count every touch of
    the pipeline as an attempt ("1 of 5"); a quote follow-up is no first attempt, though."""
    step = row.computed.step.strip()
    attempt = _ATTEMPT.fullmatch(step)
    if attempt is None:
        return step_text(step, t)
    p = row.prospect
    k, n = t.number(int(attempt[1])), t.number(int(attempt[2]))
    if p.last_contact is None and p.last_outcome is None:
        return t("step_first_call")
    fixed = {
        Outcome.INTERESTED: "step_send_quote",
        Outcome.QUOTE_SENT: "step_quote_follow_up",
        Outcome.CALL_BACK: "step_call_back",
        Outcome.REACHED: "step_after_talk",
    }
    key = fixed.get(p.last_outcome) if p.last_outcome is not None else None
    if key is not None:
        return t(key)
    if phase(row) == "deal":
        return t("step_quote_attempt", k=k, n=n)
    if phase(row) == "quote":
        return t("step_send_quote")
    return t("attempt", k=k, n=n)


def suggested_channel(row: Row) -> Channel:
    """The row's Channel, else phone when there is a number, else email."""
    if row.prospect.channel is not None:
        return row.prospect.channel
    return Channel.PHONE if row.prospect.phone.strip() else Channel.EMAIL


def _cut(text: str) -> str:
    """A text as a card shows it: as it is, unless it is longer than FIELD_LENGTH."""
    return text if len(text) <= FIELD_LENGTH else shorten(text, FIELD_LENGTH)


def _name(names: Mapping[str, Mapping[Any, str]], language: str, member: Any) -> str:
    return names.get(language, names["en"]).get(member, str(getattr(member, "value", member)))


@dataclass(frozen=True)
class Replies:
    """What the outcome buttons need, worked out by the notify use case: the address they
    send to, and per prospect ID the token signed for this email's recipient and day
    (reply.sign). The renderer never sees the team secret."""

    address: str
    tokens: Mapping[str, str]
    #: Replies recorded since this person's previous email, confirmed at the top.
    recorded: tuple[Recorded, ...] = ()


@dataclass(frozen=True)
class Recorded:
    """A reply to an earlier email that `inbox` recorded as a touch."""

    company: str
    outcome: Outcome
    day: date


@dataclass(frozen=True)
class Button:
    """One outcome button: a mailto: link whose subject carries the signed tag."""

    label: str
    href: str
    #: "yes" (got through), "no" (did not), "stop" (not interested), "later" (call back):
    #: the templates colour by it.
    tone: str


#: The outcomes a card offers, per phase (see `phase`), in rows of buttons. Call back (in
#: 1 week, 2 weeks, 1 month) comes on a row of its own, except after the sale.
OFFERS: dict[str, tuple[tuple[Outcome, ...], ...]] = {
    "attempt": (
        (Outcome.REACHED, Outcome.NO_ANSWER, Outcome.VOICEMAIL),
        (Outcome.INTERESTED, Outcome.NOT_INTERESTED),
    ),
    "quote": (
        (Outcome.QUOTE_SENT, Outcome.REACHED, Outcome.NO_ANSWER),
        (Outcome.NOT_INTERESTED,),
    ),
    "deal": (
        (Outcome.WON, Outcome.REACHED, Outcome.NO_ANSWER),
        (Outcome.QUOTE_SENT, Outcome.NOT_INTERESTED),
    ),
    "after-sale": ((Outcome.REACHED, Outcome.NO_ANSWER),),
}
_TONES = {
    Outcome.NO_ANSWER: "no",
    Outcome.VOICEMAIL: "no",
    Outcome.NOT_INTERESTED: "stop",
    Outcome.CALL_BACK: "later",
}
#: A prospect ID a tag can carry as it is: no "]" and no run of spaces, which a mail app
#: folding the subject would change.
_TAGGABLE = re.compile(r"[^\]\s]+(?: [^\]\s]+)*")


@dataclass(frozen=True)
class Card:
    """One follow-up as the owner's email shows it; every text already in the language."""

    company: str
    #: "for Anna" when the reader is the owner's delegate; "" otherwise.
    for_owner: str
    contact: str
    phone: str
    tel: str
    email: str
    mailto: str
    #: What to do: "Follow up on the quote", "Attempt 3 of 5", "First call" ...
    task: str
    #: Channel and value: short facts shown on one line after the task.
    facts: tuple[str, ...]
    #: "Due since Mon 2 Mar (9 days)" for an overdue follow-up; "" otherwise.
    late: str
    #: The day it is due, as the coming days show it.
    day: str
    last: str
    note: str
    why: str
    command: str
    #: The outcome buttons in rows; none without [inbox] (or for a row without an ID).
    buttons: tuple[tuple[Button, ...], ...] = ()
    #: The call-back buttons (1 week, 2 weeks, 1 month), shown under their own label.
    call_back: tuple[Button, ...] = ()


@dataclass(frozen=True)
class _Context:
    t: Strings
    today: date
    config: Config
    sheet: str
    reader: str
    country: str
    replies: Replies | None = None


def _card(row: Row, ctx: _Context) -> Card:
    p, c, t = row.prospect, row.computed, ctx.t
    lang = t.language
    channel = _name(vocab.CHANNEL_NAMES, lang, suggested_channel(row))
    facts = [f"{t('label_channel')}: {channel}"]
    if p.value is not None:
        currency = ctx.config.email.currency
        value = t.money(p.value, currency)
        facts.append(value if currency else f"{t('label_value')}: {value}")
    due = c.next_follow_up or ctx.today
    late = ""
    if due < ctx.today:
        days = t.count("days_late", (ctx.today - due).days)
        late = t("due_since", day=t.day(due, ctx.today), days=days)
    owner = p.owner.strip()
    for_owner = ""
    if owner and vocab.normalise(owner) != vocab.normalise(ctx.reader):
        for_owner = t("for_owner", owner=_cut(owner))
    phone, email = p.phone.strip(), p.email.strip()
    last = _last_contact(row, t, ctx.today)
    if p.last_contact is None and _ATTEMPT.fullmatch(c.step):
        last = ""  # "No contact yet" would say again what "First call" says.
    # A link is made of the whole value: one that had to be cut gets none.
    return Card(
        company=_cut(p.company or p.id or f"#{p.row}"),
        for_owner=for_owner,
        contact=_cut(p.contact),
        phone=_cut(phone),
        tel=tel_href(phone, ctx.country) if len(phone) <= FIELD_LENGTH else "",
        email=_cut(email),
        mailto=mailto_href(email) if email and len(email) <= FIELD_LENGTH else "",
        task=task_text(row, t),
        facts=tuple(facts),
        late=late,
        day=t.day(due, ctx.today),
        last=last,
        note=shorten(p.notes) if p.notes.strip() else "",
        why=_cut(i18n.localise(c.why, lang)),
        command=mark_command(row, t("placeholder"), sheet=ctx.sheet, config=ctx.config),
    )


def _with_buttons(card: Card, row: Row, ctx: _Context) -> Card:
    """The card with the outcome buttons of its row's phase, when the email has replies and
    the row an ID its tag can carry."""
    ident = row.prospect.id.strip()
    token = ctx.replies.tokens.get(ident) if ctx.replies and ident else None
    if ctx.replies is None or token is None or not _TAGGABLE.fullmatch(ident):
        return card
    t, address = ctx.t, ctx.replies.address
    company = shorten(row.prospect.company or ident, REPLY_COMPANY_LENGTH)
    body = t("reply_note") + " \n\n"

    def button(outcome: Outcome, delay: str = "") -> Button:
        name = _name(vocab.OUTCOME_NAMES, t.language, outcome)
        label = t(f"delay_{delay}") if delay else name
        said = t("reply_call_back", delay=label) if delay else name
        human = t("reply_subject", id=ident, company=company, outcome=said)
        subject = f"{human} {reply.Tag(ident, outcome, delay, token).text}"
        return Button(label, reply_href(address, subject, body), _TONES.get(outcome, "yes"))

    rows = tuple(tuple(button(o) for o in line) for line in OFFERS[phase(row)])
    later: tuple[Button, ...] = ()
    if phase(row) != "after-sale":
        later = tuple(button(Outcome.CALL_BACK, delay) for delay in reply.DELAYS)
    return replace(card, buttons=rows, call_back=later)


def _last_contact(row: Row, t: Strings, today: date) -> str:
    p = row.prospect
    if p.last_contact is None:
        return "" if p.last_outcome else t("no_contact_yet")
    day = t.day(p.last_contact, today)
    if p.last_outcome is None:
        return t("last_contact_day", day=day)
    outcome = _name(vocab.OUTCOME_NAMES, t.language, p.last_outcome)
    return t("last_contact", outcome=outcome, day=day)


# --- The owner's email ---------------------------------------------------------------------


@dataclass(frozen=True)
class CallList:
    """An owner's rows, sorted into the email's sections, which follow the call order."""

    overdue: tuple[Row, ...]
    today: tuple[Row, ...]
    coming: tuple[Row, ...]
    #: Today's promised call-backs and same-day leads and quotes: called first of all.
    first: tuple[Row, ...] = ()

    @property
    def calls(self) -> tuple[Row, ...]:
        """Today's whole list in the call order: first, overdue, then the rest of today."""
        return (*self.first, *self.overdue, *self.today)


def call_list(rows: Iterable[Row], today: date, coming_days: int = 3) -> CallList:
    """Today's calls in the call order (sheetfollow/priority.py): promised call-backs and
    same-day leads and quotes first, then overdue (oldest first), then the rest due today;
    and the next `coming_days` calendar days (by date). Rows nobody should call (dead, not
    interested, needs attention) and rows without a date are left out."""
    overdue: list[Row] = []
    due: list[Row] = []
    coming: list[Row] = []
    horizon = today + timedelta(days=coming_days)
    for row in rows:
        day = row.computed.next_follow_up
        if day is None or not row.computed.status.actionable:
            continue
        if day < today:
            overdue.append(row)
        elif day == today:
            due.append(row)
        elif day <= horizon:
            coming.append(row)
    first: list[Row] = []
    rest: list[Row] = []
    for row in priority.in_order(due, today):
        early = priority.place(row, today).rank < priority.Rank.OVERDUE
        (first if early else rest).append(row)
    return CallList(
        overdue=tuple(priority.in_order(overdue, today)),
        today=tuple(rest),
        coming=tuple(sorted(coming, key=lambda r: (_day(r), *_by_value(r)))),
        first=tuple(first),
    )


def _day(row: Row) -> date:
    return row.computed.next_follow_up or date.min


def _by_value(row: Row) -> tuple[float, str]:
    return (-(row.prospect.value or 0.0), row.prospect.company.casefold())


def owner_subject(overdue: int, due_today: int, t: Strings) -> str:
    """'4 follow-ups today, 1 overdue': today's whole list, and how much of it is overdue."""
    subject = t.count("subject_today", overdue + due_today)
    if overdue:
        subject += ", " + t.count("subject_overdue", overdue)
    return subject


@dataclass(frozen=True)
class Section:
    title: str
    #: "overdue", "today" or "coming": the templates colour by it.
    kind: str
    #: The cards shown: the section's first ones, as many as MAX_CARDS leaves room for.
    cards: tuple[Card, ...]
    #: How many follow-ups the section holds, shown or not, as the language writes numbers.
    count: str
    #: "and 4,900 more: see the sheet" when some are not shown; "" otherwise.
    more: str = ""


def owner_message(
    owner: Owner,
    rows: Sequence[Row],
    *,
    today: date,
    config: Config,
    sheet: str,
    coming_days: int = 3,
    replies: Replies | None = None,
) -> Message | None:
    """The morning email to `owner` (or a delegate) about `rows`, the rows assigned to them:
    a one-line summary, then the cards of the overdue, today's and the coming days'
    follow-ups, at most [email] max_cards. With `replies`, today's cards have a button per
    outcome that fits the row; without, the `mark` command that records it.

    None when nothing is overdue or due today: the coming days alone are no reason to mail.
    """
    found = call_list(rows, today, coming_days)
    if not found.calls:
        return None
    t = Strings(language_of(owner, config))
    country = owner.country or config.imports.default_country or config.calendar.country
    ctx = _Context(t, today, config, sheet, owner.name, country, replies)
    sections: list[Section] = []
    calls: list[tuple[Row, Card]] = []
    # At most [email] max_cards, in the call order: promised and same-day calls, overdue,
    # the rest of today's, then the coming days'; the rest
    # are counted ("and 4,900 more: see the sheet"). An owner with thousands due still gets
    # a mail that opens, and the calendar file holds the calls shown.
    room = config.email.max_cards
    for title, kind, part in (
        ("section_first", "first", found.first),
        ("section_overdue", "overdue", found.overdue),
        ("section_today", "today", found.today),
        ("section_coming", "coming", found.coming),
    ):
        if not part:
            continue
        shown = part[:room]
        room -= len(shown)
        hidden = len(part) - len(shown)
        more = t.count("more_in_sheet", hidden) if hidden else ""
        if kind == "coming":
            # The coming days are for a glance: their outcomes come on their own day.
            cards = tuple(_card(row, ctx) for row in shown)
        else:
            cards = tuple(_with_buttons(_card(row, ctx), row, ctx) for row in shown)
            calls += zip(shown, cards, strict=True)
        sections.append(Section(t(title), kind, cards, t.number(len(part)), more))
    subject = owner_subject(len(found.overdue), len(found.first) + len(found.today), t)
    calling = [card for _, card in calls]
    context = {
        "lang": t.language,
        "subject": subject,
        "summary": _summary(subject, found, ctx),
        "recorded": _recorded(replies, t, today),
        "sheet_link": sheet_link(sheet or config.sheet or "", config),
        "buttons": any(card.buttons for card in calling),
        "commands": any(not card.buttons for card in calling),
        "greeting": t("greeting", name=owner.name) if owner.name else t("greeting_anonymous"),
        "intro": t("intro", day=t.long_day(today)),
        "sections": sections,
        "t": t,
        "outcomes_help": t(
            "outcomes_help",
            placeholder=t("placeholder"),
            outcomes=", ".join(outcome_words(t.language)),
        ),
        # The HTML shows the words as code: around them, the sentence's two halves.
        "outcomes_around": t("outcomes_help", placeholder=t("placeholder"), outcomes="\0").split(
            "\0", 1
        ),
        "outcome_words": outcome_words(t.language),
        "calendar_note": t("calendar_note", start=t.clock(ics.FIRST_SLOT)),
        "footer": t("footer", sheet=_sheet_name(sheet or config.sheet or "")),
    }
    attachment = Attachment(
        filename=f"follow-ups-{today.isoformat()}.ics",
        mime_type="text/calendar",
        data=ics.calendar_file(
            [_calendar_item(row, card, ctx) for row, card in calls],
            day=today,
            timezone_name=config.timezone,
        ),
        params=(("method", "PUBLISH"),),
    )
    return Message(
        kind="owner",
        key=owner.name,
        to=owner.email,
        subject=subject,
        text=_render("owner.txt.j2", context),
        html=_render("owner.html.j2", context),
        language=t.language,
        attachments=(attachment,),
    )


def _summary(subject: str, found: CallList, ctx: _Context) -> str:
    """'4 follow-ups today, 1 overdue; start with Brick & Co (9 days overdue)': the line a
    phone shows before the email is opened. The first card is where to start."""
    t = ctx.t
    first = found.calls[0]
    p = first.prospect
    who = shorten(p.company or p.id or f"#{p.row}", REPLY_COMPANY_LENGTH)
    due = first.computed.next_follow_up or ctx.today
    if due < ctx.today:
        who += f" ({t.count('summary_late', (ctx.today - due).days)})"
    elif p.value:
        who += f" ({t.money(p.value, ctx.config.email.currency)})"
    return t("summary", counts=subject, company=who)


def sheet_link(sheet: str, config: Config) -> str:
    """Where the email links to the sheet: [email] sheet_url (a workbook on SharePoint or
    OneDrive), else a sheet that is a web address (a Google Sheet); "" for a file."""
    if config.email.sheet_url:
        return config.email.sheet_url
    return sheet if sheet.startswith(("https://", "http://")) else ""


def _recorded(replies: Replies | None, t: Strings, today: date) -> tuple[str, ...]:
    """ "Acme: No answer (Fri 4 Dec)" for each reply recorded since the previous email, so the
    person sees that the tap counted."""
    if replies is None:
        return ()
    return tuple(
        t(
            "recorded_line",
            company=_cut(r.company) or "?",
            outcome=_name(vocab.OUTCOME_NAMES, t.language, r.outcome),
            day=t.day(r.day, today),
        )
        for r in replies.recorded
    )


def _sheet_name(sheet: str) -> str:
    """A workbook's file name (the folder says nothing to the reader); a URL as it is."""
    if "://" in sheet:
        return sheet
    return Path(sheet).name if sheet else "sheetfollow"


def _calendar_item(row: Row, shown: Card, ctx: _Context) -> ics.CalendarItem:
    p, t = row.prospect, ctx.t
    due = row.computed.next_follow_up or ctx.today
    verb = {
        Channel.PHONE: "summary_call",
        Channel.EMAIL: "summary_email",
        Channel.VISIT: "summary_visit",
    }[suggested_channel(row)]
    summary = t(verb, company=_cut(p.company or p.id))
    if p.contact:
        summary += f" ({_cut(p.contact)})"
    lines = [
        f"{t('label_phone')}: {shown.phone}" if shown.phone else "",
        f"{t('label_email')}: {shown.email}" if shown.email else "",
        shown.for_owner,
        shown.late,
        f"{t('label_why')}: {shown.why}" if shown.why else "",
        f"{t('label_note')}: {shown.note}" if shown.note else "",
        f"{t('label_record')}: {shown.command}",
    ]
    return ics.CalendarItem(
        uid=ics.follow_up_uid(_uid_key(p.id or vocab.normalise(p.company) or f"row {p.row}"), due),
        summary=summary,
        description="\n".join(line for line in lines if line),
        days_late=max(0, (ctx.today - due).days),
    )


def _uid_key(key: str) -> str:
    """A prospect's key for its event UID; a very long one (a company name of thousands of
    characters) as its beginning and a digest of the whole, so it stays one of a kind."""
    if len(key) <= FIELD_LENGTH:
        return key
    return f"{key[: FIELD_LENGTH // 2]}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def _render(name: str, context: Mapping[str, object]) -> str:
    return environment().get_template(name).render(**context)
