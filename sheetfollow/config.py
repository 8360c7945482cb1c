"""sheetfollow.toml -> one frozen, validated Config. Messages name the file and the key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType

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


@dataclass(frozen=True)
class Tabs:
    prospects: str = "Prospects"
    log: str = "Log"
    owners: str = "Owners"
    #: Hidden tab that keeps run state (which emails went out on which day).
    state: str = "sheetfollow_state"


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
    #: Prefix of the IDs sheetfollow gives to rows without one.
    id_prefix: str = "P-"
    #: How many previous versions of an Excel workbook to keep.
    backups: int = 3
