"""The core types build as the dataclasses they are (models._set_by_slot gives them a
quicker __init__): same fields, same defaults, still frozen."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import pytest

from sheetfollow.models import Computed, Outcome, Problem, Prospect, Row, Stage, Status

FULL = {
    "row": 7,
    "id": "P-0007",
    "company": "Acme",
    "contact": "Ann",
    "email": "ann@acme.example",
    "phone": "+31 20 555 0101",
    "owner": "Anna",
    "stage": Stage.QUOTE,
    "segment": "retail",
    "value": 1234.5,
    "created": date(2026, 1, 5),
    "last_contact": date(2026, 3, 2),
    "last_outcome": Outcome.QUOTE_SENT,
    "attempts": 2,
    "follow_up_on": date(2026, 3, 20),
    "notes": "x",
    "problems": (Problem("Prospects!A7", "no owner"),),
}


def _by_dataclass(cls: type, *args: Any, **kwargs: Any) -> Any:
    """An instance made by the __init__ dataclass wrote."""
    made = object.__new__(cls)
    cls.__dataclass_init__(made, *args, **kwargs)  # type: ignore[attr-defined]
    return made


@pytest.mark.parametrize(
    ("cls", "args", "kwargs"),
    [
        (Prospect, (3,), {}),
        (Prospect, (), FULL),
        (Prospect, tuple(FULL.values()), {}),
        (Problem, ("Prospects!B2", "bad"), {}),
        (Computed, (None, Status.DUE, "1 of 5", "why", "Anna"), {}),
        (Computed, (date(2026, 3, 11), Status.OVERDUE, "", "", ""), {"due_by_rules": None}),
        (Row, (Prospect(1), Computed(None, Status.NEW, "", "", "")), {}),
    ],
)
def test_every_field_is_set_as_the_dataclass_sets_it(
    cls: type, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    quick, plain = cls(*args, **kwargs), _by_dataclass(cls, *args, **kwargs)
    assert quick == plain
    assert dataclasses.astuple(quick) == dataclasses.astuple(plain)
    assert hash(quick) == hash(plain)
    assert dataclasses.replace(quick) == quick


def test_it_stays_frozen_and_refuses_what_the_dataclass_refuses() -> None:
    prospect = Prospect(1, id="P-1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        prospect.id = "P-2"  # type: ignore[misc]
    with pytest.raises(TypeError, match="row"):
        Prospect()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="bogus"):
        Prospect(1, bogus=2)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Problem("a", "b", "c")  # type: ignore[call-arg]
