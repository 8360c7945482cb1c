"""The columns sheetfollow knows, by field name, and which of them it owns."""

from __future__ import annotations

#: Columns people (and `mark`/`import`) write, in the order a starter workbook lays them out.
INPUT_FIELDS: tuple[str, ...] = (
    "id",
    "company",
    "contact",
    "email",
    "phone",
    "owner",
    "stage",
    "segment",
    "value",
    "created",
    "last_contact",
    "last_outcome",
    "attempts",
    "follow_up_on",
    "channel",
    "notes",
)

#: Columns sheetfollow owns in the Prospects tab: the only cells it ever changes there
#: (besides blank IDs it fills).
OWNED_FIELDS: tuple[str, ...] = ("next_follow_up", "status", "step", "why", "assigned_to")

ALL_FIELDS: tuple[str, ...] = INPUT_FIELDS + OWNED_FIELDS

#: Fields without which a Prospects tab cannot be processed.
REQUIRED_FIELDS: tuple[str, ...] = ("company", "owner")

#: Fields parsed as dates.
DATE_FIELDS: frozenset[str] = frozenset(
    {"created", "last_contact", "follow_up_on", "next_follow_up"}
)

#: Columns of the Log tab, in order.
LOG_FIELDS: tuple[str, ...] = (
    "when",
    "id",
    "company",
    "by",
    "outcome",
    "channel",
    "note",
    "next_follow_up",
)

#: Columns of the Owners tab, in order.
OWNER_FIELDS: tuple[str, ...] = (
    "owner",
    "email",
    "delegate",
    "language",
    "country",
    "manager",
    "digest",
)

#: Optional columns of the Owners tab for someone's leave (the starter workbook has them,
#: empty; a workbook without them works as before).
OWNER_LEAVE_FIELDS: tuple[str, ...] = ("away_from", "away_until", "cover")

#: Optional column of the Owners tab: how many calls a day the person makes (capacity.py).
OWNER_CAPACITY_FIELDS: tuple[str, ...] = ("calls_per_day",)

#: Every column of the Owners tab sheetfollow reads.
ALL_OWNER_FIELDS: tuple[str, ...] = OWNER_FIELDS + OWNER_LEAVE_FIELDS + OWNER_CAPACITY_FIELDS

LANGUAGES: tuple[str, ...] = ("en", "nl", "de", "da", "es")
