"""The emails people read: an owner's morning call list and a manager's digest.

Pure: rows in, a Message (subject, text, HTML, calendar) out. The only thing read is the
templates in templates/email/ (Jinja2) and their strings.toml, which holds every fixed text
in English, Dutch, German, Danish and Spanish. Dates and numbers follow the reader's
language through Babel; English dates use the British day-month order, as the sheet's Why
texts do.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shlex
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import jinja2
import phonenumbers
from babel import Locale
from babel.dates import format_date, format_skeleton, format_time
from babel.numbers import format_decimal

from sheetfollow import vocab
from sheetfollow.config import Config
from sheetfollow.fields import LANGUAGES
from sheetfollow.models import Channel, Outcome, Owner, Row, Status
from sheetfollow.notify import ics
from sheetfollow.notify.message import Attachment, Message
from sheetfollow.stats import Stats, died_on

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

if TYPE_CHECKING:
    from sheetfollow.log import LogEntry

#: Notes are cut to about this many characters: the sheet has the rest.
NOTE_LENGTH = 140
#: Any other text of a card (company, contact, phone, email, why) is cut to about this
#: many: a cell holds up to 32,767 characters, and a hundred such cards made 7 MB emails.
FIELD_LENGTH = 300
#: The digest lists at most this many rows per owner and list; the rest is counted.
DIGEST_LIST_LENGTH = 10
#: An owner's email shows at most this many follow-ups, overdue first, then today's, then
#: the coming days'; the rest are counted ("and 4,900 more: see the sheet"). An owner with
#: thousands due still gets a mail that opens, and the calendar file holds the calls shown.
MAX_CARDS = 100

#: Babel locales per language. English dates are British: "Wed 11 Mar", not "Wed, Mar 11".
_LOCALES = {"en": "en_GB", "nl": "nl_NL", "de": "de_DE", "da": "da_DK", "es": "es_ES"}

#: The outcome words `sheetfollow mark` takes, as the emails list them.
OUTCOME_WORDS: tuple[str, ...] = tuple(o.value.replace(" ", "-") for o in Outcome)

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
        autoescape=lambda name: name is not None and ".html" in name,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env


def _loader() -> jinja2.BaseLoader:
    try:
        return jinja2.PackageLoader("sheetfollow.templates", "email")
    except (ModuleNotFoundError, ValueError):
        # A source checkout used without installing: templates/ sits next to the package.
        return jinja2.FileSystemLoader(Path(__file__).resolve().parents[2] / "templates/email")


StringTable = Mapping[str, "str | Mapping[str, str]"]


@functools.lru_cache(maxsize=1)
def strings_table() -> Mapping[str, StringTable]:
    """strings.toml: language -> key -> text, or plural form -> text."""
    env = environment()
    assert env.loader is not None
    source, _, _ = env.loader.get_source(env, "strings.toml")
    tables: dict[str, StringTable] = tomllib.loads(source)
    return tables


class Strings:
    """The fixed texts, dates and numbers of one language."""

    def __init__(self, language: str) -> None:
        self.language = language if language in LANGUAGES else "en"
        self.locale = Locale.parse(_LOCALES[self.language])
        self.table = strings_table()[self.language]

    def __call__(self, key: str, **values: object) -> str:
        text = self.table[key]
        if not isinstance(text, str):
            raise KeyError(f"{key} has plural forms: use count()")
        return text.format(**values)

    def count(self, key: str, n: int, **values: object) -> str:
        """The plural form of `key` for n, with {n} formatted for the language."""
        forms = self.table[key]
        if isinstance(forms, str):
            raise KeyError(f"{key} has no plural forms: call the Strings itself")
        form = forms.get(self.locale.plural_form(n), forms["other"])
        return form.format(n=self.number(n), **values)

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
    shell; --sheet only when the sheet is not the config's."""
    who = (row.prospect.id or row.prospect.company)[:FIELD_LENGTH]
    parts = ["sheetfollow", "mark"]
    if sheet and not _same_sheet(sheet, config.sheet or ""):
        parts += ["--sheet", shlex.quote(sheet)]
    return " ".join([*parts, shlex.quote(who), f"<{placeholder}>"])


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
    #: Stage, step, channel, value: short facts shown on one line.
    facts: tuple[str, ...]
    #: "Due since Mon 2 Mar (9 days)" for an overdue follow-up; "" otherwise.
    late: str
    #: The day it is due, as the coming days show it.
    day: str
    last: str
    note: str
    why: str
    command: str


@dataclass(frozen=True)
class _Context:
    t: Strings
    today: date
    config: Config
    sheet: str
    reader: str
    country: str


def _card(row: Row, ctx: _Context) -> Card:
    p, c, t = row.prospect, row.computed, ctx.t
    lang = t.language
    facts = []
    if p.stage is not None:
        facts.append(_name(vocab.STAGE_NAMES, lang, p.stage))
    if c.step:
        facts.append(step_text(c.step, t))
    channel = _name(vocab.CHANNEL_NAMES, lang, suggested_channel(row))
    facts.append(f"{t('label_channel')}: {channel}")
    if p.value is not None:
        facts.append(f"{t('label_value')}: {t.number(p.value)}")
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
    # A link is made of the whole value: one that had to be cut gets none.
    return Card(
        company=_cut(p.company or p.id or f"#{p.row}"),
        for_owner=for_owner,
        contact=_cut(p.contact),
        phone=_cut(phone),
        tel=tel_href(phone, ctx.country) if len(phone) <= FIELD_LENGTH else "",
        email=_cut(email),
        mailto=mailto_href(email) if email and len(email) <= FIELD_LENGTH else "",
        facts=tuple(facts),
        late=late,
        day=t.day(due, ctx.today),
        last=_last_contact(row, t, ctx.today),
        note=shorten(p.notes) if p.notes.strip() else "",
        why=_cut(c.why),
        command=mark_command(row, t("placeholder"), sheet=ctx.sheet, config=ctx.config),
    )


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
    """An owner's rows, sorted into the email's sections."""

    overdue: tuple[Row, ...]
    today: tuple[Row, ...]
    coming: tuple[Row, ...]


def call_list(rows: Iterable[Row], today: date, coming_days: int = 3) -> CallList:
    """Overdue (oldest first), due today (largest value first) and the next `coming_days`
    calendar days (by date). Rows nobody should call (dead, not interested, needs attention)
    and rows without a date are left out."""
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
    return CallList(
        overdue=tuple(sorted(overdue, key=lambda r: (_day(r), *_by_value(r)))),
        today=tuple(sorted(due, key=_by_value)),
        coming=tuple(sorted(coming, key=lambda r: (_day(r), *_by_value(r)))),
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
) -> Message | None:
    """The morning email to `owner` (or a delegate) about `rows`, the rows assigned to them.

    None when nothing is overdue or due today: the coming days alone are no reason to mail.
    """
    found = call_list(rows, today, coming_days)
    if not found.overdue and not found.today:
        return None
    t = Strings(language_of(owner, config))
    country = owner.country or config.imports.default_country or config.calendar.country
    ctx = _Context(t, today, config, sheet, owner.name, country)
    sections: list[Section] = []
    calls: list[Row] = []
    room = MAX_CARDS
    for title, kind, part in (
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
        cards = tuple(_card(row, ctx) for row in shown)
        sections.append(Section(t(title), kind, cards, t.number(len(part)), more))
        if kind != "coming":
            calls += shown
    subject = owner_subject(len(found.overdue), len(found.today), t)
    context = {
        "lang": t.language,
        "subject": subject,
        "greeting": t("greeting", name=owner.name) if owner.name else t("greeting_anonymous"),
        "intro": t("intro", day=t.long_day(today)),
        "sections": sections,
        "t": t,
        "outcomes_help": t(
            "outcomes_help", placeholder=t("placeholder"), outcomes=", ".join(OUTCOME_WORDS)
        ),
        # The HTML shows the words as code: around them, the sentence's two halves.
        "outcomes_around": t("outcomes_help", placeholder=t("placeholder"), outcomes="\0").split(
            "\0", 1
        ),
        "outcome_words": OUTCOME_WORDS,
        "calendar_note": t("calendar_note", start=t.clock(ics.FIRST_SLOT)),
        "footer": t("footer", sheet=_sheet_name(sheet or config.sheet or "")),
    }
    attachment = Attachment(
        filename=f"follow-ups-{today.isoformat()}.ics",
        mime_type="text/calendar",
        data=ics.calendar_file(
            [_calendar_item(row, ctx) for row in calls],
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


def _sheet_name(sheet: str) -> str:
    """A workbook's file name (the folder says nothing to the reader); a URL as it is."""
    if "://" in sheet:
        return sheet
    return Path(sheet).name if sheet else "sheetfollow"


def _calendar_item(row: Row, ctx: _Context) -> ics.CalendarItem:
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
    shown = _card(row, ctx)
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


# --- The manager's digest ------------------------------------------------------------------


@dataclass(frozen=True)
class OwnerLine:
    """One owner's numbers in the digest."""

    name: str
    #: Follow-ups due today, overdue ones included.
    today: int
    overdue: int
    #: Touches recorded by or for the owner on the previous day (Saturday and Sunday on
    #: a Monday).
    done: int
    died: int
    won: int


@dataclass(frozen=True)
class OwnerDetail:
    name: str
    overdue: tuple[str, ...]
    died: tuple[str, ...]
    won: tuple[str, ...]


@dataclass(frozen=True)
class Attention:
    ref: str
    company: str
    owner: str
    why: str


def done_days(today: date) -> tuple[date, date]:
    """The days whose touches count as done: yesterday; on a Monday the weekend before."""
    if today.weekday() == 0:
        return today - timedelta(days=2), today - timedelta(days=1)
    return today - timedelta(days=1), today - timedelta(days=1)


def week_start(today: date) -> date:
    """Monday of today's ISO week."""
    return today - timedelta(days=today.weekday())


class _LogIndex:
    """Finds the owner of the prospect a Log entry is about, as stats joins them."""

    def __init__(self, rows: Iterable[Row]) -> None:
        self.by_id: dict[str, Row] = {}
        self.by_company: dict[str, Row] = {}
        for row in rows:
            # The first row wins, as for a person reading the sheet from the top.
            if row.prospect.id:
                self.by_id.setdefault(row.prospect.id.strip().casefold(), row)
            if row.prospect.company:
                self.by_company.setdefault(vocab.normalise(row.prospect.company), row)

    def row(self, entry: LogEntry) -> Row | None:
        ident = entry.id.strip().casefold()
        found = self.by_id.get(ident) if ident else None
        if found is None and entry.company:
            found = self.by_company.get(vocab.normalise(entry.company))
        return found

    def owners(self, entry: LogEntry) -> set[str]:
        """Normalised names the entry counts for: who made the touch and whose prospect."""
        names = {vocab.normalise(entry.by)} if entry.by.strip() else set()
        row = self.row(entry)
        if row is not None and row.prospect.owner.strip():
            names.add(vocab.normalise(row.prospect.owner))
        return names


@dataclass(frozen=True)
class Digest:
    """What a manager's digest reports, before it is put into words."""

    lines: tuple[OwnerLine, ...]
    details: tuple[OwnerDetail, ...]
    attention: tuple[Attention, ...]

    @property
    def due(self) -> int:
        return sum(line.today for line in self.lines)

    @property
    def overdue(self) -> int:
        return sum(line.overdue for line in self.lines)


def digest_message(
    manager: str,
    *,
    to: str,
    language: str,
    pipeline_rows: Sequence[Row],
    owners: Sequence[Owner],
    stats: Stats | None,
    log_entries: Sequence[LogEntry],
    today: date,
    config: Config,
) -> Message | None:
    """The manager's digest of `owners`: per owner today's list, what was done the day
    before, what died and what was won this week; the funnel; the rows that need attention.

    None when there is no owner to report on.
    """
    if not owners:
        return None
    t = Strings(language)
    digest = build_digest(owners, pipeline_rows, log_entries, today=today, config=config, t=t)
    subject = digest_subject(digest, t)
    named = manager.strip() and "@" not in manager
    first, last = done_days(today)
    context = {
        "lang": t.language,
        "subject": subject,
        "greeting": t("greeting", name=manager.strip()) if named else t("greeting_anonymous"),
        "intro": t("digest_intro", day=t.long_day(today)),
        "t": t,
        "number": t.number,
        "lines": digest.lines,
        "team_table": _team_table(digest.lines, t),
        "details": [d for d in digest.details if d.overdue or d.died or d.won],
        "legend": t(
            "digest_legend",
            period=t("period_weekend" if first != last else "period_yesterday"),
            monday=t.day(week_start(today), today),
        ),
        "funnel": stats.funnel if stats is not None else (),
        "funnel_table": _funnel_table(stats, t),
        "cohort": _cohort(stats, t, today),
        "attention": digest.attention,
        "footer": t("footer", sheet=_sheet_name(config.sheet or "")),
    }
    return Message(
        kind="digest",
        key=to,
        to=to,
        subject=subject,
        text=_render("digest.txt.j2", context),
        html=_render("digest.html.j2", context),
        language=t.language,
    )


def digest_subject(digest: Digest, t: Strings) -> str:
    """'Team follow-ups: 12 due, 3 overdue, 2 need attention' (due counts the overdue too)."""
    values = {
        "due": t.count("digest_due", digest.due),
        "overdue": t.count("digest_overdue", digest.overdue),
        "attention": t.count("digest_attention", len(digest.attention)),
    }
    return t("digest_subject_attention" if digest.attention else "digest_subject", **values)


def build_digest(
    owners: Sequence[Owner],
    pipeline_rows: Sequence[Row],
    log_entries: Sequence[LogEntry],
    *,
    today: date,
    config: Config,
    t: Strings,
) -> Digest:
    """The numbers and lists of the digest of `owners`; rows belong to their Owner."""
    keys = {vocab.normalise(owner.name) for owner in owners}
    mine = [row for row in pipeline_rows if vocab.normalise(row.prospect.owner) in keys]
    index = _LogIndex(pipeline_rows)
    lines, details = _owner_numbers(owners, mine, log_entries, index, today, config, t)
    attention = [_attention(row) for row in mine if row.computed.status is Status.NEEDS_ATTENTION]
    return Digest(tuple(lines), tuple(details), tuple(attention))


def _team_table(lines: Sequence[OwnerLine], t: Strings) -> str:
    names = ("owner", "today", "overdue", "done", "died", "won")
    return text_table(
        [t(f"col_{name}") for name in names],
        [[line.name, *(t.number(getattr(line, name)) for name in names[1:])] for line in lines],
    )


def _cohort(stats: Stats | None, t: Strings, today: date) -> str:
    if stats is None:
        return ""
    return t.count("funnel_cohort", stats.cohort, day=t.day(stats.since, today))


def _owner_numbers(
    owners: Sequence[Owner],
    rows: Sequence[Row],
    entries: Sequence[LogEntry],
    index: _LogIndex,
    today: date,
    config: Config,
    t: Strings,
) -> tuple[list[OwnerLine], list[OwnerDetail]]:
    first, last = done_days(today)
    monday = week_start(today)
    touches = [e for e in entries if e.outcome is not None]
    lines: list[OwnerLine] = []
    details: list[OwnerDetail] = []
    for owner in owners:
        key = vocab.normalise(owner.name)
        own = [row for row in rows if vocab.normalise(row.prospect.owner) == key]
        found = call_list(own, today, 0)
        died = [row for row in own if _between(died_on(row, config.rules), monday, today)]
        done = [e for e in touches if first <= e.when.date() <= last and key in index.owners(e)]
        won = _won(touches, index, key, monday, today)
        lines.append(
            OwnerLine(
                owner.name,
                today=len(found.overdue) + len(found.today),
                overdue=len(found.overdue),
                done=len(done),
                died=len(died),
                won=len(won),
            )
        )
        details.append(
            OwnerDetail(
                owner.name,
                overdue=_capped([_overdue_line(row, t, today) for row in found.overdue], t),
                died=_capped([row.prospect.company or row.prospect.id for row in died], t),
                won=_capped(won, t),
            )
        )
    return lines, details


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns for a plain-text email: the first left-aligned, the numbers right-aligned."""
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest]).rstrip()

    return "\n".join(line(row) for row in [headers, *rows])


def _funnel_table(stats: Stats | None, t: Strings) -> str:
    if stats is None or not stats.funnel:
        return ""
    names = ("round", "called", "reached", "interested", "funnel_won")
    return text_table(
        [t(f"col_{name}") for name in names],
        [
            [r.label, *(t.number(n) for n in (r.called, r.reached, r.interested, r.won))]
            for r in stats.funnel
        ],
    )


def _between(day: date | None, first: date, last: date) -> bool:
    return day is not None and first <= day <= last


def _won(
    touches: Sequence[LogEntry], index: _LogIndex, key: str, monday: date, today: date
) -> tuple[str, ...]:
    """Companies with a won touch by or for the owner this week, each once."""
    names: dict[str, str] = {}
    for entry in touches:
        if entry.outcome is not Outcome.WON or not _between(entry.when.date(), monday, today):
            continue
        if key not in index.owners(entry):
            continue
        row = index.row(entry)
        name = (row.prospect.company if row else "") or entry.company or entry.id
        names.setdefault(vocab.normalise(name), name)
    return tuple(names.values())


def _capped(items: Sequence[str], t: Strings) -> tuple[str, ...]:
    """The first DIGEST_LIST_LENGTH items, then "and 4 more"."""
    if len(items) <= DIGEST_LIST_LENGTH:
        return tuple(items)
    rest = len(items) - DIGEST_LIST_LENGTH
    return (*items[:DIGEST_LIST_LENGTH], t.count("more", rest))


def _overdue_line(row: Row, t: Strings, today: date) -> str:
    due = row.computed.next_follow_up or today
    days = t.count("days_late", (today - due).days)
    since = t("due_since", day=t.day(due, today), days=days)
    return f"{row.prospect.company or row.prospect.id}: {since}"


def _attention(row: Row) -> Attention:
    p = row.prospect
    why = row.computed.why
    ref = p.problems[0].ref if p.problems else ""
    # The rules' Why names the cell already ("Check Prospects!J6: ..."): once is enough.
    return Attention(
        ref="" if ref in why else ref, company=p.company or p.id, owner=p.owner, why=why
    )
