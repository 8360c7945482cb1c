"""sheetfollow.toml -> one frozen, validated Config. Messages name the file and the key."""

from __future__ import annotations

import difflib
import functools
import math
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    # Not installed where the type checker runs on 3.11+; a dependency on 3.10.
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

from sheetfollow.errors import ConfigError
from sheetfollow.fields import ALL_FIELDS, LANGUAGES
from sheetfollow.models import Stage
from sheetfollow.vocab import STAGE_ALIASES, normalise

DEFAULT_GAPS: tuple[int, ...] = (0, 2, 5, 7, 7)


@dataclass(frozen=True)
class Cadence:
    """Business days to wait before each attempt, counted from the last contact.

    gaps[0] is the wait before the first attempt (counted from Created), gaps[k] the wait
    after attempt k. Past the end of the list the last gap repeats.
    """

    gaps: tuple[int, ...] = DEFAULT_GAPS
    #: Overrides Rules.max_attempts for this profile.
    max_attempts: int | None = None


@dataclass(frozen=True)
class Rules:
    #: Profiles by segment (lower-cased), or by "segment/stage"; "default" applies otherwise.
    cadences: Mapping[str, Cadence] = field(
        default_factory=lambda: MappingProxyType({"default": Cadence()})
    )
    #: Never two touches closer than this many business days ...
    min_gap: int = 5
    #: ... once this many attempts have been made.
    min_gap_after: int = 2
    #: A prospect is never declared dead before this many unanswered attempts.
    min_attempts: int = 2
    #: Dead after this many unanswered attempts.
    max_attempts: int = 5
    #: Dead when nothing moved for this many calendar days (and min_attempts were made).
    window_days: int = 90
    #: Business days after a quote was sent before asking about it.
    quote_follow_up: int = 3
    #: Business days after a conversation without a decision before the next touch.
    reached_follow_up: int = 5
    #: Business days after a win to send a thank-you.
    thank_you_days: int = 1
    #: Business days after delivery for the check-in call.
    checkin_days: int = 5
    #: Months between account reviews of a customer; 0 switches reviews off.
    review_months: int = 0
    #: Prospects worth less than this go to the owner's delegate. None: never delegate.
    delegate_below: float | None = None


@dataclass(frozen=True)
class CalendarConfig:
    #: ISO country code for public holidays ("NL", "DE", "DK", "ES", "GB", "US" ...); "" = none.
    country: str = ""
    subdivision: str = ""
    #: Weekend days as weekday numbers (Monday = 0).
    weekend: tuple[int, ...] = (5, 6)
    #: Extra days off for the whole team.
    days_off: tuple[date, ...] = ()
    #: Calls a day each person makes, unless the Owners tab's Calls per day says otherwise;
    #: the rest is planned onto their next working days (capacity.py). 0: no limit.
    calls_per_day: int = 0


@dataclass(frozen=True)
class Tabs:
    prospects: str = "Prospects"
    log: str = "Log"
    owners: str = "Owners"
    #: Hidden tab that keeps run state (which emails went out on which day).
    state: str = "sheetfollow_state"
    #: Hidden tab that keeps, per prospect ID, the touch columns as the last run saw them,
    #: so that a touch typed into the sheet is noticed and recorded.
    touches: str = "sheetfollow_touches"


@dataclass(frozen=True)
class ImportConfig:
    #: Country whose phone numbers may be written without their +code ("020-1234567" in
    #: NL) in imported files and the sheet; "" = the [calendar] country.
    default_country: str = ""
    #: Owners that imported rows without one go to in turn; () = the Owners tab's owners.
    owners: tuple[str, ...] = ()


#: How the connection to the mail server is protected.
SMTP_SECURITY: tuple[str, ...] = ("starttls", "tls", "none")
#: The usual port for each kind of security.
SMTP_PORTS: Mapping[str, int] = MappingProxyType({"starttls": 587, "tls": 465, "none": 25})
#: Hosts an unencrypted connection is allowed to: nothing leaves this machine.
LOCAL_HOSTS: frozenset[str] = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True)
class SmtpConfig:
    """[smtp]. The password is never part of the config: it is read when mail is sent."""

    #: The mail server; "" writes every email to the outbox folder instead.
    host: str = ""
    #: None: the usual port for `security` (587 for starttls, 465 for tls, 25 for none).
    port: int | None = None
    #: "starttls", "tls" (implicit TLS) or "none" (only for a server on this machine).
    security: str = "starttls"
    username: str = ""
    #: The environment variable that holds the password ...
    password_env: str = "SHEETFOLLOW_SMTP_PASSWORD"
    #: ... or a file only its owner can read that holds it (absolute path, or "").
    password_file: str = ""
    #: CA certificate(s) to trust for a server with a private certificate ("" = the system's).
    ca_file: str = ""
    #: The From address: the key is `from`, a Python keyword.
    sender: str = ""
    #: Seconds to wait for the server before giving up.
    timeout: float = 30.0


@dataclass(frozen=True)
class EmailConfig:
    #: An address that gets the manager digest, besides the Managers of the Owners tab.
    manager: str = ""
    #: Folder for .eml files when there is no mail server (absolute path, or "" = an outbox
    #: folder next to the workbook).
    outbox: str = ""
    #: How many days ahead an owner's email lists what is coming.
    coming_days: int = 3
    #: At most this many follow-ups in an owner's email; the rest are counted ("and 12
    #: more"). A card with outcome buttons takes up to about 5.5 KB of HTML, and Gmail cuts
    #: an email off at 102 KB (the last cards' buttons would hide behind "View entire
    #: message"): 15 stays below that, and is a morning's calls on a phone.
    max_cards: int = 15
    #: The ISO 4217 code of the Value column's currency ("EUR", "DKK"); "" = plain numbers.
    currency: str = ""
    #: A link to the workbook for the emails (a SharePoint or OneDrive address); a Google
    #: Sheet is linked without it.
    sheet_url: str = ""


@dataclass(frozen=True)
class InboxConfig:
    """[inbox]: the mailbox that one-tap replies to the morning email go to. Setting
    `address` puts the outcome buttons in the email; `sheetfollow inbox` (and `run`) then
    reads the replies over IMAP. No password or secret is part of the config."""

    #: Where the buttons send (the team's follow-up address); "" = no buttons.
    address: str = ""
    #: The IMAP server that receives mail for `address`.
    host: str = ""
    #: None: the usual port for `security` (993 for tls, 143 for starttls and none).
    port: int | None = None
    #: "tls" (implicit TLS), "starttls" or "none" (only for a server on this machine).
    security: str = "tls"
    username: str = ""
    #: The environment variable that holds the IMAP password ...
    password_env: str = "SHEETFOLLOW_IMAP_PASSWORD"
    #: ... or a file only its owner can read that holds it.
    password_file: str = ""
    #: CA certificate(s) to trust for a server with a private certificate.
    ca_file: str = ""
    #: The folder replies arrive in, and where they go once read: recorded ones to
    #: `done_folder`, refused ones (forged, altered, expired, unknown) to `review_folder`.
    #: Folders are created when missing; nothing is ever deleted.
    folder: str = "INBOX"
    done_folder: str = "sheetfollow/done"
    review_folder: str = "sheetfollow/review"
    #: The team secret that signs the buttons: a file only its owner can read ("" = the
    #: SHEETFOLLOW_INBOX_SECRET environment variable, else the file `inbox --init` wrote).
    secret_file: str = ""
    #: A reply to an email older than this many days is not applied (it goes to review).
    max_age_days: int = 14
    #: Seconds to wait for the server before giving up.
    timeout: float = 30.0


#: The [inbox] security settings; the port each implies when none is given.
IMAP_SECURITY: tuple[str, ...] = ("tls", "starttls", "none")


@dataclass(frozen=True)
class GoogleConfig:
    """[google]: how sheetfollow signs in to Google Sheets."""

    #: The service account's JSON key file (absolute path, or "" = the file named by the
    #: GOOGLE_APPLICATION_CREDENTIALS environment variable).
    key_file: str = ""


@dataclass(frozen=True)
class Config:
    #: Where this config came from; None for built-in defaults.
    path: Path | None = None
    #: The sheet: a path to .xlsx/.xlsm, or a Google Sheets URL or key.
    sheet: str | None = None
    tabs: Tabs = field(default_factory=Tabs)
    #: Header overrides: field name -> the header text used in this sheet.
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    rules: Rules = field(default_factory=Rules)
    calendar: CalendarConfig = field(default_factory=CalendarConfig)
    #: The team's IANA time zone; "today" is the local date there. "" = this machine's zone.
    timezone: str = ""
    #: Language of the starter workbook and of owners who do not set one.
    language: str = "en"
    #: How the team types dates as text in the sheet and after --on/--today: "DMY"
    #: (31-12-2026), "MDY" (12/31/2026) or "YMD". "" = from the [calendar] country.
    date_order: str = ""
    #: Prefix of the IDs sheetfollow gives to rows without one.
    id_prefix: str = "P-"
    #: How many previous versions of an Excel workbook to keep.
    backups: int = 3
    #: A Prospects tab without Last contact, Last outcome or Attempts is an error (every
    #: cadence would silently restart from Created), unless the sheet holds no touch yet.
    require_touch_columns: bool = True
    #: Hours after which a lock file left by Excel or LibreOffice, with no save of the
    #: workbook since, is reported as probably stale.
    stale_lock_hours: float = 12.0
    #: An Excel workbook whose parts unpack to more than this many MiB each, or (parts over
    #: 8 MiB) to more than this many times their packed size, is refused as a zip bomb.
    max_unpacked_mb: int = 2048
    max_unpack_ratio: int = 200
    #: The run log (absolute path, or "" = .sheetfollow/<workbook>.log beside the workbook).
    log_file: str = ""
    #: [import]: the key is a Python keyword, hence the plural.
    imports: ImportConfig = field(default_factory=ImportConfig)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    email: EmailConfig = field(default_factory=EmailConfig)
    inbox: InboxConfig = field(default_factory=InboxConfig)
    google: GoogleConfig = field(default_factory=GoogleConfig)


# --- Loading -------------------------------------------------------------------------------
#
# Validation is driven by tables: every top-level key or [section] of sheetfollow.toml is one
# entry in KEYS, and every key inside a section one entry in that section's table. A new
# section ([smtp], [email], ...) is a frozen dataclass, a Config field and one entry in KEYS.

#: The file looked for in the working folder (and its parents) when no --config is given.
CONFIG_NAME = "sheetfollow.toml"

#: Turns the raw TOML value at a dotted key into its validated form. Raises _Invalid (the
#: reader then names the file, key and value) or ConfigError (a complete message).
Parse = Callable[["_Reader", str, Any], Any]


class _Invalid(Exception):
    """A value is not what its key needs; the reader adds the file, the key and the value.

    `quote` False: the value may be a secret put in the wrong place (a password where the
    name of its variable belongs), and messages never carry secrets: it is not repeated."""

    def __init__(self, expected: str, hint: str = "", *, quote: bool = True) -> None:
        super().__init__(expected)
        self.expected = expected
        self.hint = hint
        self.quote = quote


@dataclass(frozen=True)
class _Reader:
    """Knows which file is being read, so that every message can name it."""

    source: str
    #: Folder that relative paths in the file are resolved against.
    base: Path

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.source}: {key} {message}")

    def invalid(self, key: str, expected: str, value: object, hint: str = "") -> ConfigError:
        return self.error(key, f"must be {expected}, not {_show(value)}{hint}")

    def parse(self, key: str, value: object, parse: Parse) -> Any:
        try:
            return parse(self, key, value)
        except _Invalid as bad:
            if not bad.quote:
                raise self.error(key, f"must be {bad.expected}{bad.hint}") from None
            raise self.invalid(key, bad.expected, value, bad.hint) from None

    def table(self, key: str, value: object) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.invalid(key, "a table", value)
        return value

    def reject_unknown(self, key: str, table: Mapping[str, Any], known: Iterable[str]) -> None:
        known = list(known)
        for name in table:
            if name not in known:
                raise ConfigError(f"{self.source}: {_unknown(_dotted(key, name), name, known)}")


def _unknown(dotted: str, name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f"unknown key '{dotted}' (did you mean '{close[0]}'?)"
    return f"unknown key '{dotted}' (known keys: {', '.join(known)})"


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _dotted(prefix: str, *names: str) -> str:
    """A key path as written in TOML: rules.min_gap, cadence."capital goods".

    `prefix` is already a dotted path; each of `names` is one key, quoted when TOML needs it.
    """
    shown = [name if _BARE_KEY.fullmatch(name) else _quoted(name) for name in names]
    return ".".join([prefix, *shown] if prefix else shown)


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _show(value: object) -> str:
    """A value as the user wrote it in TOML, short enough for one line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    if isinstance(value, dict):
        return "a table"
    return str(value)


# --- Value parsers (each: reader, dotted key, raw value -> validated value) ------------------


def _whole(low: int, high: int) -> Parse:
    def parse(reader: _Reader, key: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _Invalid(f"a whole number from {low} to {high}")
        return value

    return parse


def _flag(reader: _Reader, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid("true or false")
    return value


def _hours(low: int, high: int) -> Parse:
    def parse(reader: _Reader, key: str, value: Any) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or not low <= value <= high
        ):
            raise _Invalid(f"a number of hours from {low} to {high}")
        return float(value)

    return parse


def _amount(reader: _Reader, key: str, value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise _Invalid("an amount of 0 or more")
    return float(value)


def _text(max_length: int) -> Parse:
    def parse(reader: _Reader, key: str, value: Any) -> str:
        if (
            not isinstance(value, str)
            or len(value) > max_length
            or any(not ch.isprintable() for ch in value)
        ):
            raise _Invalid(f"text of at most {max_length} characters")
        return value

    return parse


def _language(reader: _Reader, key: str, value: Any) -> str:
    code = value.strip().lower() if isinstance(value, str) else value
    if code not in LANGUAGES:
        raise _Invalid(f"one of {', '.join(LANGUAGES)}")
    return str(code)


#: The orders a date typed as text can come in (schema.DATE_ORDERS).
DATE_ORDERS: tuple[str, ...] = ("DMY", "MDY", "YMD")
#: Countries whose people write the month first (12/31/2026).
_MONTH_FIRST_COUNTRIES = frozenset({"US", "PH", "FM", "MH", "PW", "AS", "GU", "MP", "PR", "VI"})


def _date_order(reader: _Reader, key: str, value: Any) -> str:
    word = value.strip().upper() if isinstance(value, str) else None
    if word not in DATE_ORDERS:
        raise _Invalid('"DMY" (31-12-2026), "MDY" (12/31/2026) or "YMD" (2026-12-31)')
    return word


def team_date_order(config: Config) -> str:
    """The order of dates typed as text: the configured one, else what the [calendar]
    country writes (month first in the US), else day first."""
    if config.date_order:
        return config.date_order
    return "MDY" if config.calendar.country in _MONTH_FIRST_COUNTRIES else "DMY"


def team_locale(config: Config) -> str:
    """The locale the team writes numbers in ("nl_NL", "en_US"): the language, with the
    [calendar] country when Babel knows that pair."""
    return _locale_of(config.language, config.calendar.country.split("-")[0])


@functools.lru_cache(maxsize=64)
def _locale_of(language: str, country: str) -> str:
    if country:
        from babel import Locale, UnknownLocaleError

        try:
            Locale.parse(f"{language}_{country}")
            return f"{language}_{country}"
        except (UnknownLocaleError, ValueError):
            pass
    return language


def _timezone(reader: _Reader, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid("an IANA time zone such as 'Europe/Amsterdam'")
    name = value.strip()
    if name and not _is_zone(name):
        raise _Invalid("an IANA time zone such as 'Europe/Amsterdam'", _zone_hint(name))
    return name


def _is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: names of tzdata folders ("Europe") and absurdly long names.
        return False
    return True


def _zone_hint(name: str) -> str:
    zones = {zone.casefold(): zone for zone in available_timezones()}
    if name.casefold() in zones:
        return f" (did you mean '{zones[name.casefold()]}'?)"
    close = difflib.get_close_matches(name, sorted(zones.values()), n=1, cutoff=0.8)
    return f" (did you mean '{close[0]}'?)" if close else ""


#: A Google Sheets key: long, and without the dot of a file name's extension.
_GOOGLE_KEY = re.compile(r"[A-Za-z0-9_-]{30,}")


def _sheet(reader: _Reader, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid("a path to an .xlsx file, or a Google Sheets URL or key")
    text = value.strip()
    if "://" in text or _GOOGLE_KEY.fullmatch(text):
        return text
    # A relative path means "next to this config file", wherever cron runs us from.
    return _placed(reader, text)


def _folder(reader: _Reader, key: str, value: Any) -> str:
    """An IMAP folder name such as "INBOX" or "sheetfollow/done"."""
    if (
        not isinstance(value, str)
        or not value.strip()
        or len(value) > 200
        or any(ord(ch) < 32 or ch in '"\\*%' for ch in value)
    ):
        raise _Invalid('a mail folder name such as "INBOX" or "sheetfollow/done"')
    return value.strip()


#: Characters Excel does not allow in a tab name.
_BAD_TAB_CHARS = frozenset(":\\/?*[]")


def _tab_name(reader: _Reader, key: str, value: Any) -> str:
    if (
        not isinstance(value, str)
        or not value.strip()
        or len(value) > 31
        or _BAD_TAB_CHARS.intersection(value)
    ):
        raise _Invalid("a tab name of 1 to 31 characters without : \\ / ? * [ ]")
    return value


_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_NUMBERS = {name: n for n, day in enumerate(_DAYS) for name in (day, day[:3])}


def _weekend(reader: _Reader, key: str, value: Any) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise _Invalid('a list of day names such as ["sat", "sun"]')
    days = {reader.parse(f"{key}[{i}]", day, _day) for i, day in enumerate(value)}
    if len(days) == len(_DAYS):
        raise reader.error(key, "must leave at least one working day in the week")
    return tuple(sorted(days))


def _day(reader: _Reader, key: str, value: Any) -> int:
    name = value.strip().lower() if isinstance(value, str) else None
    if name not in _DAY_NUMBERS:
        raise _Invalid("a day name such as 'sat' or 'sunday'")
    return _DAY_NUMBERS[name]


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _days_off(reader: _Reader, key: str, value: Any) -> tuple[date, ...]:
    if not isinstance(value, list):
        raise _Invalid("a list of dates such as [2026-12-24, 2026-12-31]")
    days = {reader.parse(f"{key}[{i}]", day, _date) for i, day in enumerate(value)}
    return tuple(sorted(days))


def _date(reader: _Reader, key: str, value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _Invalid("a date such as 2026-12-24")


def _country(reader: _Reader, key: str, value: Any) -> str:
    expected = "a country code the holidays package knows, such as 'NL', 'DE' or 'GB'"
    if not isinstance(value, str):
        raise _Invalid(expected)
    code = value.strip().upper()
    # Imported here: only a config that names a country needs the holiday tables, and only
    # their list of codes (loading no country's tables).
    from sheetfollow.holiday_tables import country_codes

    if code and code not in country_codes():
        raise _Invalid(expected)
    return code


def _holiday_countries() -> Mapping[str, list[str]]:
    import holidays  # only when a country is configured: the tables take a while to load

    countries: Mapping[str, list[str]] = holidays.list_supported_countries()
    return countries


def _subdivision(reader: _Reader, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid("a subdivision code such as 'BY' (Bavaria), or \"\"")
    return value.strip()


#: Gaps longer than this are a typo, and would push dates past what a calendar handles.
MAX_GAP = 365


def _gaps(reader: _Reader, key: str, value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise _Invalid("a list of business days between attempts, such as [0, 2, 5, 7, 7]")
    gap = _whole(0, MAX_GAP)
    return tuple(reader.parse(f"{key}[{i}]", raw, gap) for i, raw in enumerate(value))


_PROFILE_KEYS: dict[str, Parse] = {"gaps": _gaps, "max_attempts": _whole(1, 20)}


def _profile(reader: _Reader, key: str, value: Any) -> Cadence:
    if isinstance(value, list):
        return Cadence(gaps=reader.parse(key, value, _gaps))
    if not isinstance(value, dict):
        raise _Invalid("a list of gaps such as [0, 2, 5, 7, 7], or a table {gaps = [...]}")
    reader.reject_unknown(key, value, _PROFILE_KEYS)
    if "gaps" not in value:
        raise reader.error(_dotted(key, "gaps"), "is missing")
    parsed = {
        name: reader.parse(_dotted(key, name), raw, _PROFILE_KEYS[name])
        for name, raw in value.items()
    }
    return Cadence(**parsed)


def _cadences(reader: _Reader, key: str, value: Any) -> Mapping[str, Cadence]:
    table = reader.table(key, value)
    profiles: dict[str, Cadence] = {"default": Cadence()}
    seen: dict[str, str] = {}
    for name, raw in table.items():
        dotted = _dotted(key, name)
        profile_key = _profile_key(reader, dotted, name)
        if profile_key in seen:
            raise reader.error(dotted, f"is the same profile as {_dotted(key, seen[profile_key])}")
        seen[profile_key] = name
        profiles[profile_key] = reader.parse(dotted, raw, _profile)
    return MappingProxyType(profiles)


def _profile_key(reader: _Reader, dotted: str, name: str) -> str:
    """'Capital Goods / Offerte' -> 'capital goods/quote', the form the rules look up."""
    segment, slash, stage_text = (part.strip() for part in name.partition("/"))
    if not segment:
        raise reader.error(dotted, "needs a segment name before the '/'")
    if not slash:
        return segment.casefold()
    stage = STAGE_ALIASES.get(normalise(stage_text))
    if stage is None:
        stages = ", ".join(stage.value for stage in Stage)
        raise reader.error(dotted, f"names an unknown stage after the '/' (stages: {stages})")
    return f"{segment.casefold()}/{stage.value}"


def _headers(reader: _Reader, key: str, value: Any) -> Mapping[str, str]:
    table = reader.table(key, value)
    reader.reject_unknown(key, table, ALL_FIELDS)
    headers: dict[str, str] = {}
    owners: dict[str, str] = {}
    for name, raw in table.items():
        dotted = _dotted(key, name)
        if not isinstance(raw, str) or not raw.strip():
            raise reader.invalid(dotted, "the header text of that column in your sheet", raw)
        text = raw.strip()
        other = owners.get(text.casefold())
        if other is not None:
            raise reader.error(dotted, f"names the same column as {_dotted(key, other)}: {text!r}")
        owners[text.casefold()] = name
        headers[name] = text
    return MappingProxyType(headers)


# --- Sections --------------------------------------------------------------------------------


def _section(
    cls: Callable[..., Any],
    keys: Mapping[str, Parse],
    check: Parse | None = None,
    fields_of: Mapping[str, str] | None = None,
) -> Parse:
    """A [table] whose keys are the fields of a dataclass; `check` sees the built object.
    `fields_of` names the field of a key that cannot be a field name (`from`)."""
    renamed = fields_of or {}

    def parse(reader: _Reader, key: str, value: Any) -> Any:
        table = reader.table(key, value)
        reader.reject_unknown(key, table, keys)
        kwargs = {
            renamed.get(name, name): reader.parse(_dotted(key, name), raw, keys[name])
            for name, raw in table.items()
        }
        built = cls(**kwargs)
        return check(reader, key, built) if check else built

    return parse


_TAB_KEYS: dict[str, Parse] = {
    name: _tab_name for name in ("prospects", "log", "owners", "state", "touches")
}


def _check_tabs(reader: _Reader, key: str, tabs: Tabs) -> Tabs:
    seen: dict[str, str] = {}
    for item in fields(tabs):
        name = getattr(tabs, item.name)
        if name.casefold() in seen:
            other = _dotted(key, seen[name.casefold()])
            raise reader.error(_dotted(key, item.name), f"is the same tab as {other}: {name!r}")
        seen[name.casefold()] = item.name
    return tabs


_RULE_KEYS: dict[str, Parse] = {
    "min_gap": _whole(0, 60),
    "min_gap_after": _whole(0, 20),
    "min_attempts": _whole(1, 20),
    "max_attempts": _whole(1, 20),
    "window_days": _whole(1, 3650),
    "quote_follow_up": _whole(0, 60),
    "reached_follow_up": _whole(0, 60),
    "thank_you_days": _whole(0, 60),
    "checkin_days": _whole(0, 60),
    "review_months": _whole(0, 120),
    "delegate_below": _amount,
}


def _check_rules(reader: _Reader, key: str, rules: Rules) -> Rules:
    if rules.min_attempts > rules.max_attempts:
        raise reader.error(
            _dotted(key, "min_attempts"),
            f"must be a whole number from 1 to {_dotted(key, 'max_attempts')} "
            f"({rules.max_attempts}), not {rules.min_attempts}",
        )
    return rules


_CALENDAR_KEYS: dict[str, Parse] = {
    "country": _country,
    "subdivision": _subdivision,
    "weekend": _weekend,
    "days_off": _days_off,
    "calls_per_day": _whole(0, 10000),
}


def _check_calendar(reader: _Reader, key: str, calendar: CalendarConfig) -> CalendarConfig:
    if not calendar.subdivision:
        return calendar
    where = _dotted(key, "subdivision")
    if not calendar.country:
        raise reader.error(where, f"needs {_dotted(key, 'country')} to be set")
    from sheetfollow.holiday_tables import package  # that country's tables only

    try:
        package().country_holidays(calendar.country, subdiv=calendar.subdivision)
    except NotImplementedError:
        known = ", ".join(_holiday_countries()[calendar.country]) or "none"
        raise reader.error(
            where,
            f"must be a subdivision of {calendar.country} ({known}), "
            f"not {_show(calendar.subdivision)}",
        ) from None
    return calendar


def _phone_country(reader: _Reader, key: str, value: Any) -> str:
    import phonenumbers  # only when the key is set: its tables take a while to load

    code = value.strip().upper() if isinstance(value, str) else None
    if code is None or (code and code not in phonenumbers.SUPPORTED_REGIONS):
        raise _Invalid("a country code such as 'NL', 'DE' or 'GB', or \"\"")
    return code


def _names(reader: _Reader, key: str, value: Any) -> tuple[str, ...]:
    expected = 'a list of owner names such as ["Anna", "Bob"]'
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _Invalid(expected)
    names = tuple(v.strip() for v in value)
    if len({normalise(name) for name in names}) < len(names):
        raise reader.error(key, "names an owner twice")
    return names


_IMPORT_KEYS: dict[str, Parse] = {"default_country": _phone_country, "owners": _names}


_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[?[0-9A-Fa-f:.]+\]?")


def _host(reader: _Reader, key: str, value: Any) -> str:
    text = value.strip() if isinstance(value, str) else None
    if text is None or (text and not _HOST.fullmatch(text)) or len(text or "") > 253:
        raise _Invalid("a host name such as 'smtp.example.com', or \"\"")
    return text.strip("[]")


def _choice(choices: Iterable[str]) -> Parse:
    known = tuple(choices)

    def parse(reader: _Reader, key: str, value: Any) -> str:
        word = value.strip().lower() if isinstance(value, str) else None
        if word not in known:
            raise _Invalid(f"one of {', '.join(repr(c) for c in known)}")
        return word

    return parse


#: The name of an environment variable, as people write them: capitals, digits and "_".
#: Lower case is refused too: "hunter2" reads as a name, and would be echoed as one.
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
#: A name written as a shell or Windows reference to it: $NAME, ${NAME}, %NAME%.
_ENV_REFERENCE = re.compile(r"\$\{?([A-Z_][A-Z0-9_]*)\}?|%([A-Z_][A-Z0-9_]*)%")


def _env_name(reader: _Reader, key: str, value: Any) -> str:
    """The NAME of the variable that holds a secret. Anything else may be the secret itself
    (a password pasted into password_env), so the message never repeats it; a reference to
    a name ("$SMTP_PASSWORD") is no secret, and is quoted with the name to write instead."""
    expected = (
        "the NAME of the environment variable that holds the password, in capitals, "
        "digits and _ (such as 'SHEETFOLLOW_SMTP_PASSWORD')"
    )
    text = value.strip() if isinstance(value, str) else ""
    if _ENV_NAME.fullmatch(text):
        return text
    if isinstance(value, str) and not text:
        raise _Invalid(expected)
    reference = _ENV_REFERENCE.fullmatch(text)
    if reference:
        name = reference[1] or reference[2]
        raise _Invalid(expected, f" (did you mean '{name}'?)")
    raise _Invalid(
        expected,
        "; what is there is not repeated here, as it may be the password itself: that "
        "belongs in the variable, or in the file smtp.password_file names, never in this file",
        quote=False,
    )


def _path(reader: _Reader, key: str, value: Any) -> str:
    """A file or folder; relative to the config file's folder, like `sheet`."""
    if not isinstance(value, str):
        raise _Invalid('a path, or ""')
    text = value.strip()
    if not text:
        return ""
    return _placed(reader, text)


def _placed(reader: _Reader, text: str) -> str:
    """A path as written in the config: ~ and ~user expanded, relative to its folder."""
    try:
        path = Path(text).expanduser()
    except RuntimeError:  # ~user of a user this machine does not know
        user = text.split("/", 1)[0].split("\\", 1)[0]
        raise _Invalid("a path", f" ({user} is not a user on this machine)") from None
    return str(path if path.is_absolute() else reader.base / path)


#: An address as written in a From or To header: "a@b.c" or "Name <a@b.c>".
_ADDRESS = re.compile(r"[^@\s<>\"(),;:]+@[^@\s<>\"(),;:]+\.[^@\s<>\"(),;:.]+")


def is_address(text: str) -> bool:
    """An email address (without a display name)."""
    return _ADDRESS.fullmatch(text.strip()) is not None


def _address(named: bool) -> Parse:
    def parse(reader: _Reader, key: str, value: Any) -> str:
        text = value.strip() if isinstance(value, str) else None
        if text is None:
            raise _Invalid("an email address")
        found = re.fullmatch(r"(.*)<([^<>]*)>", text) if named else None
        bare = found[2].strip() if found else text
        if text and (not is_address(bare) or any(not ch.isprintable() for ch in text)):
            expected = (
                "an email address such as 'Sales <sales@example.com>'"
                if named
                else ("an email address such as 'sarah@example.com'")
            )
            raise _Invalid(expected)
        return text

    return parse


def _seconds(reader: _Reader, key: str, value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 1 <= value <= 600
    ):
        raise _Invalid("a number of seconds from 1 to 600")
    return float(value)


def _secret_file(reader: _Reader, key: str, value: Any) -> str:
    """The path of a file that holds a secret. Anything but text may be the secret itself
    (a PIN typed as a number), so it is not repeated."""
    if not isinstance(value, str):
        raise _Invalid('a path, or ""', ", given as text in quotes", quote=False)
    return str(_path(reader, key, value))


_SMTP_KEYS: dict[str, Parse] = {
    "host": _host,
    "port": _whole(1, 65535),
    "security": _choice(SMTP_SECURITY),
    "username": _text(254),
    "password_env": _env_name,
    "password_file": _secret_file,
    "ca_file": _path,
    "from": _address(named=True),
    "timeout": _seconds,
}
#: Keys of [smtp] whose field has another name.
_SMTP_FIELDS: Mapping[str, str] = MappingProxyType({"from": "sender"})


def _check_smtp(reader: _Reader, key: str, smtp: SmtpConfig) -> SmtpConfig:
    if smtp.security == "none" and smtp.host and smtp.host.lower() not in LOCAL_HOSTS:
        raise reader.error(
            _dotted(key, "security"),
            f"= 'none' sends mail and password unencrypted; it is only allowed for a server "
            f"on this machine (localhost), not {smtp.host!r}: use 'starttls' or 'tls'",
        )
    return smtp


def _currency(reader: _Reader, key: str, value: Any) -> str:
    code = value.strip().upper() if isinstance(value, str) else None
    if code is None:
        raise _Invalid("an ISO 4217 currency code such as 'EUR', or \"\"")
    # Babel is imported here, not for every command: only a config that sets this needs it.
    from babel.numbers import list_currencies

    if code and code not in list_currencies():
        raise _Invalid("an ISO 4217 currency code such as 'EUR', or \"\"")
    return code


def _web_address(reader: _Reader, key: str, value: Any) -> str:
    text = value.strip() if isinstance(value, str) else None
    if text is None or (
        text
        and (
            not re.fullmatch(r"https?://[^\s/]+\S*", text, re.IGNORECASE)
            or len(text) > 2000
            or any(not ch.isprintable() for ch in text)
        )
    ):
        raise _Invalid('a web address starting with https://, or ""')
    return text


_EMAIL_KEYS: dict[str, Parse] = {
    "manager": _address(named=False),
    "outbox": _path,
    "coming_days": _whole(0, 31),
    "max_cards": _whole(1, 1000),
    "currency": _currency,
    "sheet_url": _web_address,
}

_INBOX_KEYS: dict[str, Parse] = {
    "address": _address(named=False),
    "host": _host,
    "port": _whole(1, 65535),
    "security": _choice(IMAP_SECURITY),
    "username": _text(254),
    "password_env": _env_name,
    "password_file": _secret_file,
    "ca_file": _path,
    "folder": _folder,
    "done_folder": _folder,
    "review_folder": _folder,
    "secret_file": _secret_file,
    "max_age_days": _whole(1, 365),
    "timeout": _seconds,
}


def _check_inbox(reader: _Reader, key: str, inbox: InboxConfig) -> InboxConfig:
    if inbox.address and not inbox.host:
        raise reader.error(
            _dotted(key, "host"),
            f"is needed: address = {inbox.address!r} puts reply buttons in the emails, and "
            "sheetfollow reads the replies from that mailbox's IMAP server",
        )
    if inbox.security == "none" and inbox.host and inbox.host.lower() not in LOCAL_HOSTS:
        raise reader.error(
            _dotted(key, "security"),
            f"= 'none' sends the password unencrypted; it is only allowed for a server on "
            f"this machine (localhost), not {inbox.host!r}: use 'tls' or 'starttls'",
        )
    folders = {"folder": inbox.folder, "done_folder": inbox.done_folder}
    folders["review_folder"] = inbox.review_folder
    for name, other in (("done_folder", "folder"), ("review_folder", "folder")):
        if folders[name] == folders[other]:
            raise reader.error(
                _dotted(key, name), f"must differ from {_dotted(key, other)} ({folders[other]!r})"
            )
    return inbox


_GOOGLE_KEYS: dict[str, Parse] = {"key_file": _path}


@dataclass(frozen=True)
class Key:
    """One top-level key or [section] of sheetfollow.toml."""

    parse: Parse
    #: Where the value goes in Config: a field name, or a dotted path into a section.
    #: Empty: the field named like the key.
    target: str = ""


#: Every top-level key, in the order they are applied. [cadence] comes after [rules],
#: because it fills a field of the Rules that [rules] builds.
KEYS: dict[str, Key] = {
    "sheet": Key(_sheet),
    "timezone": Key(_timezone),
    "language": Key(_language),
    "date_order": Key(_date_order),
    "id_prefix": Key(_text(20)),
    "backups": Key(_whole(0, 100)),
    "require_touch_columns": Key(_flag),
    "stale_lock_hours": Key(_hours(1, 720)),
    "max_unpacked_mb": Key(_whole(16, 65536)),
    "max_unpack_ratio": Key(_whole(20, 2000)),
    "log_file": Key(_path),
    "tabs": Key(_section(Tabs, _TAB_KEYS, _check_tabs)),
    "headers": Key(_headers),
    "rules": Key(_section(Rules, _RULE_KEYS, _check_rules)),
    "cadence": Key(_cadences, target="rules.cadences"),
    "calendar": Key(_section(CalendarConfig, _CALENDAR_KEYS, _check_calendar)),
    "import": Key(_section(ImportConfig, _IMPORT_KEYS), target="imports"),
    "smtp": Key(_section(SmtpConfig, _SMTP_KEYS, _check_smtp, _SMTP_FIELDS)),
    "email": Key(_section(EmailConfig, _EMAIL_KEYS)),
    "inbox": Key(_section(InboxConfig, _INBOX_KEYS, _check_inbox)),
    "google": Key(_section(GoogleConfig, _GOOGLE_KEYS)),
}


def _put(obj: Any, target: str, value: object) -> Any:
    """replace() that reaches into nested frozen dataclasses: _put(c, 'rules.cadences', v)."""
    name, _, rest = target.partition(".")
    return replace(obj, **{name: _put(getattr(obj, name), rest, value) if rest else value})


def _check_config(reader: _Reader, config: Config) -> Config:
    """Checks that span sections."""
    floor = config.rules.min_attempts
    for name, cadence in config.rules.cadences.items():
        if cadence.max_attempts is not None and cadence.max_attempts < floor:
            raise reader.error(
                _dotted("cadence", name, "max_attempts"),
                f"must be at least rules.min_attempts ({floor}), not {cadence.max_attempts}",
            )
    return config


def config_from_toml(document: Mapping[str, Any], *, source: str, base: Path) -> Config:
    """Validate a parsed sheetfollow.toml. `source` names it in messages; relative paths in it
    are resolved against `base`."""
    reader = _Reader(source, base)
    reader.reject_unknown("", document, KEYS)
    config = Config()
    for name, key in KEYS.items():
        if name in document:
            config = _put(config, key.target or name, reader.parse(name, document[name], key.parse))
    return _check_config(reader, config)


def config_from_text(text: str, *, source: str, base: Path) -> Config:
    """Parse and validate the text of a sheetfollow.toml (see config_from_toml)."""
    return config_from_toml(_parse_toml(text, source), source=source, base=base)


# --- Files -----------------------------------------------------------------------------------


#: The environment variables that name the config file and the sheet, for people who run
#: sheetfollow from wherever they are (a laptop, a shell in another folder): set once,
#: instead of --config and --sheet on every command.
CONFIG_ENV = "SHEETFOLLOW_CONFIG"
SHEET_ENV = "SHEETFOLLOW_SHEET"

#: How the config file was found, in the order they are tried (Found.rule).
BY_OPTION = "--config"
BY_ENV = CONFIG_ENV
BY_FOLDER = "the working folder"
BY_PARENT = "a parent folder"
BY_USER = "the user config folder"
#: The sheet: --sheet, SHEETFOLLOW_SHEET, then `sheet` in the config.
BY_SHEET_OPTION = "--sheet"
BY_SHEET_ENV = SHEET_ENV
BY_CONFIG = "sheet in the config"


@dataclass(frozen=True)
class Found:
    """Which sheetfollow.toml a command uses, and why: the rule that found it, and every
    place looked at before (so that "nothing found" can name them)."""

    #: The file, absolute; None when no rule found one (the built-in defaults apply).
    file: Path | None
    #: How messages about the file name it: as given, or its full path when found.
    source: str
    #: One of the BY_* rules; "" when nothing was found.
    rule: str
    looked: tuple[str, ...]


def user_config_file() -> Path:
    """sheetfollow.toml in this user's config folder: $XDG_CONFIG_HOME/sheetfollow (Linux),
    %APPDATA%\\sheetfollow (Windows), ~/Library/Application Support/sheetfollow (macOS)."""
    # Imported here: only a command that finds no config closer by needs it.
    from platformdirs import user_config_dir

    folder = user_config_dir("sheetfollow", appauthor=False, roaming=True)
    return Path(folder) / CONFIG_NAME


def find_config(
    path: Path | None = None,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Found:
    """The config a command uses: --config PATH; else the file $SHEETFOLLOW_CONFIG names;
    else ./sheetfollow.toml or one in a parent folder, up to the root of the file system or
    of a repository (a folder holding .git); else the one in the user config folder.

    A relative PATH is taken relative to `cwd` (default: the process's working folder); a
    file named by --config or the variable must exist.
    """
    folder = cwd if cwd is not None else Path.cwd()
    environ = os.environ if env is None else env
    if path is not None:
        file = folder / path
        if not file.exists():
            raise ConfigError(f"{path}: no such config file")
        return Found(file.resolve(), str(path), BY_OPTION, (BY_OPTION,))
    named = environ.get(CONFIG_ENV, "").strip()
    if named:
        file = folder / Path(named).expanduser()
        if not file.exists():
            raise ConfigError(f"{named}: no such config file ({CONFIG_ENV} names it)")
        return Found(file.resolve(), named, BY_ENV, (BY_OPTION, CONFIG_ENV))
    looked = [BY_OPTION, CONFIG_ENV]
    for place in _upwards(folder.resolve()):
        file = place / CONFIG_NAME
        looked.append(str(file))
        if file.exists():  # a folder of that name is an error that names it, not skipped
            if place == folder.resolve():
                return Found(file, CONFIG_NAME, BY_FOLDER, tuple(looked))
            return Found(file, str(file), BY_PARENT, tuple(looked))
    file = user_config_file()
    looked.append(str(file))
    if file.exists():
        return Found(file.resolve(), str(file), BY_USER, tuple(looked))
    return Found(None, CONFIG_NAME, "", tuple(looked))


def _upwards(folder: Path) -> Iterator[Path]:
    """`folder`, then its parents, up to the root of the file system or of the repository
    it lies in: a project's config never comes from a folder that holds other projects."""
    for place in (folder, *folder.parents):
        yield place
        if (place / ".git").exists():
            return


def read_config(found: Found) -> Config:
    """The config in the file `found` names, or the built-in defaults."""
    if found.file is None:
        return Config()
    text = _read_text(found.file, found.source)
    config = config_from_text(text, source=found.source, base=found.file.parent)
    return replace(config, path=found.file)


def load_config(
    path: Path | None = None,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """The config from --config PATH, else as find_config finds it, else the defaults."""
    return read_config(find_config(path, cwd=cwd, env=env))


def find_sheet(
    option: str | None, config: Config, env: Mapping[str, str] | None = None
) -> tuple[str | None, str]:
    """The sheet a command works on and the rule that gave it: --sheet, else the variable
    SHEETFOLLOW_SHEET, else `sheet` in the config; (None, "") when none of them is set."""
    environ = os.environ if env is None else env
    if option:
        return option, BY_SHEET_OPTION
    named = environ.get(SHEET_ENV, "").strip()
    if named:
        return named, BY_SHEET_ENV
    if config.sheet:
        return config.sheet, BY_CONFIG
    return None, ""


def nothing_found(found: Found) -> str:
    """One line for a command that has no sheet because no config was found: where it
    looked, and how to make or adopt one."""
    folders = [str(Path(p).parent) for p in found.looked if p not in (BY_OPTION, CONFIG_ENV)]
    shown = folders if len(folders) <= 4 else [folders[0], "...", *folders[-2:]]
    return (
        f"no sheet given and no {CONFIG_NAME} found (looked in {', '.join(shown)}; "
        f"{CONFIG_ENV} and {SHEET_ENV} are not set): run 'sheetfollow init pipeline.xlsx' "
        "for a new workbook or 'sheetfollow adopt WORKBOOK' for yours, or give --sheet"
    )


def _read_text(file: Path, source: str) -> str:
    try:
        # utf-8-sig: Notepad and friends put a byte-order mark in front.
        return file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: not UTF-8 text (byte {exc.start})") from None
    except IsADirectoryError:
        raise ConfigError(f"{source}: is a folder, not a config file") from None
    except OSError as exc:
        raise ConfigError(f"{source}: cannot be read ({exc.strerror or exc})") from None


_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_AT_END = re.compile(r"\s*\(at end of document\)\s*$")


def _parse_toml(text: str, source: str) -> dict[str, Any]:
    try:
        document: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_toml_error(str(exc), text, source)) from None
    return document


def _toml_error(message: str, text: str, source: str) -> str:
    """tomllib's "Invalid value (at line 2, column 5)" -> "file, line 2, column 5: ..."."""
    found = _AT.search(message)
    if found:
        line, column = int(found[1]), int(found[2])
        message = message[: found.start()]
    else:
        lines = text.split("\n")
        line, column = len(lines), len(lines[-1]) + 1
        message = _AT_END.sub("", message)
    reason = message[:1].lower() + message[1:]
    return f"{source}, line {line}, column {column}: not valid TOML: {reason}"


def today_in(config: Config, now: datetime | None = None) -> date:
    """The team's local date: in config.timezone when set, else in this machine's zone.

    `now` is injectable for tests; a naive `now` is this machine's local time (Python's rule).
    """
    zone = _zone(config.timezone) if config.timezone else None
    if now is None:
        now = datetime.now(zone)
    return now.astimezone(zone).date()


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(f"timezone: unknown time zone {name!r}") from None
