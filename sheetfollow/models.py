"""The vocabulary of sheetfollow: prospects, outcomes, statuses. Plain data, no I/O."""

from __future__ import annotations

import enum
from dataclasses import MISSING, dataclass, field, fields
from datetime import date
from typing import Any, TypeVar

_T = TypeVar("_T")


def _set_by_slot(cls: type[_T]) -> type[_T]:
    """The frozen dataclass `cls` with an __init__ that fills each slot through its
    descriptor: the one dataclass writes calls object.__setattr__ by name for each field,
    and a refresh makes a Prospect and a Row for every row (this takes half the time).
    Same parameters, same defaults; the instance stays frozen."""
    params, lines = [], []
    env: dict[str, object] = {}
    for spec in fields(cls):  # type: ignore[arg-type]
        name = spec.name
        if not spec.init or spec.default_factory is not MISSING:
            raise TypeError(f"{cls.__name__}.{name}: only plain fields and defaults")
        env[f"_set_{name}"] = getattr(cls, name).__set__
        if spec.default is MISSING:
            params.append(name)
        else:
            env[f"_default_{name}"] = spec.default
            params.append(f"{name}=_default_{name}")
        lines.append(f"    _set_{name}(self, {name})\n")
    source = f"def __init__(self, {', '.join(params)}):\n{''.join(lines)}"
    exec(source, env)  # the text is made above from the field names only
    init: Any = env["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    # The __init__ dataclass wrote stays at hand: tests/test_models.py compares the two.
    cls.__dataclass_init__ = cls.__init__  # type: ignore[attr-defined]
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


class Outcome(str, enum.Enum):
    """What happened on the last touch (DESIGN.md §3)."""

    REACHED = "reached"
    NO_ANSWER = "no answer"
    VOICEMAIL = "voicemail"
    INTERESTED = "interested"
    CALL_BACK = "call back"
    QUOTE_SENT = "quote sent"
    NOT_INTERESTED = "not interested"
    WON = "won"
    DELIVERED = "delivered"
    LOST = "lost"

    @property
    def unanswered(self) -> bool:
        """A touch that did not get through to a person."""
        return self in (Outcome.NO_ANSWER, Outcome.VOICEMAIL)


class Stage(str, enum.Enum):
    """Where a prospect stands in the pipeline."""

    NEW = "new"
    CONTACTED = "contacted"
    INTERESTED = "interested"
    QUOTE = "quote"
    WON = "won"
    DELIVERED = "delivered"
    CUSTOMER = "customer"
    LOST = "lost"
    NOT_INTERESTED = "not interested"


class Channel(str, enum.Enum):
    PHONE = "phone"
    EMAIL = "email"
    VISIT = "visit"


class Status(str, enum.Enum):
    """The computed state written into the Status column."""

    NEW = "new"
    DUE = "due"
    OVERDUE = "overdue"
    SCHEDULED = "scheduled"
    SNOOZED = "snoozed"
    DEAD = "dead"
    WON = "won"
    LOST = "lost"
    NOT_INTERESTED = "not interested"
    CUSTOMER = "customer"
    NEEDS_ATTENTION = "needs attention"

    @property
    def actionable(self) -> bool:
        """Statuses whose Next follow-up is a touch someone should make."""
        return self not in (Status.DEAD, Status.NOT_INTERESTED, Status.NEEDS_ATTENTION)


@_set_by_slot
@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with the input, pinned to where a person can fix it."""

    ref: str  # "Prospects!F17", "sheetfollow.toml: rules.max_attempts", "Prospects!1:1"
    message: str

    def __str__(self) -> str:
        return f"{self.ref}: {self.message}"


@_set_by_slot
@dataclass(frozen=True, slots=True)
class Prospect:
    """One row of the Prospects tab, parsed. Fields a person left blank are None or ''."""

    row: int  # 1-based sheet row number
    id: str = ""
    company: str = ""
    contact: str = ""
    email: str = ""
    phone: str = ""
    owner: str = ""
    stage: Stage | None = None
    segment: str = ""
    value: float | None = None
    created: date | None = None
    last_contact: date | None = None
    last_outcome: Outcome | None = None
    attempts: int = 0  # touches in the current sequence; reset when the prospect is reached
    follow_up_on: date | None = None  # a date a person chose; overrides the cadence
    channel: Channel | None = None
    notes: str = ""
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True, slots=True)
class Owner:
    name: str
    email: str = ""
    delegate: str = ""
    language: str = "en"
    country: str = ""
    manager: str = ""
    digest: bool = False
    #: On leave from .. until (both inclusive; either may be open); Cover takes their calls.
    away_from: date | None = None
    away_until: date | None = None
    cover: str = ""
    #: Calls a day this person makes (Owners tab Calls per day); None: [calendar]
    #: calls_per_day, 0 there: no limit. See sheetfollow/capacity.py.
    calls_per_day: int | None = None

    def away_on(self, day: date) -> bool:
        """Whether `day` falls in the owner's leave (Owners tab Away from / Away until)."""
        if self.away_from is None and self.away_until is None:
            return False
        after_start = self.away_from is None or self.away_from <= day
        before_end = self.away_until is None or day <= self.away_until
        return after_start and before_end


@_set_by_slot
@dataclass(frozen=True, slots=True)
class Computed:
    """The owned columns of one row, as the rules decide them."""

    next_follow_up: date | None
    status: Status
    step: str
    why: str
    assigned_to: str
    #: The day the rules made this row due, when the capacity planner (capacity.py) moved
    #: it to a later day because the caller's day was full; None when it was not moved.
    due_by_rules: date | None = None

    def is_due(self, today: date) -> bool:
        """Whether this row belongs on today's call list."""
        return (
            self.status.actionable
            and self.next_follow_up is not None
            and self.next_follow_up <= today
        )


@_set_by_slot
@dataclass(frozen=True, slots=True)
class Row:
    """A parsed prospect together with what the rules computed for it."""

    prospect: Prospect
    computed: Computed
    problems: tuple[Problem, ...] = field(default=())
