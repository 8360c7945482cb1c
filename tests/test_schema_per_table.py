"""The shortcuts schema.py takes for every row of a big sheet give what the plain way gives:
a Prospect made as a draft is a Prospect like any other, columns tallied by value are judged
as row by row, and the owner test that skips counting a row's empty cells finds the same
rows to leave alone."""

from __future__ import annotations

import dataclasses
import random
from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sheetfollow import schema, vocab
from sheetfollow.models import Prospect
from sheetfollow.sheet import RawValue, Table

TODAY = date(2026, 3, 11)
_FIELDS = [
    "id", "company", "contact", "email", "phone", "owner", "stage", "segment", "value",
    "created", "last_contact", "last_outcome", "attempts", "follow_up_on", "channel", "notes",
]  # fmt: skip
_COLUMNS: list[RawValue] = [vocab.PROSPECT_HEADERS["en"][name] for name in _FIELDS]


def _rows(count: int) -> list[list[RawValue]]:
    """Rows as a workbook holds them (floats, date cells, dropdown words, blanks), each
    field's text its own, most of them the usual row that takes parse_prospect's short way."""
    pick = random.Random(11)
    rows: list[list[RawValue]] = []
    for n in range(count):
        touched = pick.random() < 0.8
        rows.append(
            [
                f"P-{n:04d}",
                f" Company {n} " if n % 7 else None,
                f"Contact {n}",
                f"c{n}@example.com" if n % 3 else None,
                f"+31 20 {n:07d}" if n % 4 else None,
                pick.choice(["Anna", "Bert", " Cy "]),
                pick.choice(["new", "contacted", "Quote", None]),
                pick.choice(["retail", "", None]),
                float(n * 10) if n % 2 else None,
                date(2026, 1, 1 + n % 28),
                date(2026, 2, 1 + n % 28) if touched else None,
                pick.choice(["no answer", "Voicemail", "reached"]) if touched else None,
                float(n % 4) if touched else None,
                date(2026, 4, 1 + n % 28) if n % 5 == 0 else None,
                pick.choice(["phone", "email", None]),
                f"note {n}" if n % 6 else None,
            ]
        )
    return rows


def test_a_draft_prospect_is_the_prospect_its_frozen_init_makes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert schema._PROSPECT_DRAFT is not None  # CPython: the draft way is the one taken
    table = Table("Prospects", [_COLUMNS, *_rows(200)])
    header = schema.map_headers(table)
    # Twice: the first read of a dropdown word takes the long way, later ones the short.
    schema.parse_prospects(table, header, today=TODAY)
    drafted = schema.parse_prospects(table, header, today=TODAY)
    monkeypatch.setattr(schema, "_PROSPECT_DRAFT", None)  # Prospect's own __init__
    made = schema.parse_prospects(table, header, today=TODAY)
    assert len(drafted) == len(made) == 200
    assert sum(not prospect.problems for prospect in made) > 100  # the draft way's rows
    for prospect, plain in zip(drafted, made, strict=True):
        assert type(prospect) is Prospect
        for spec in dataclasses.fields(Prospect):
            assert getattr(prospect, spec.name) == getattr(plain, spec.name), spec.name
        assert prospect == plain and hash(prospect) == hash(plain)
        assert repr(prospect) == repr(plain)
        with pytest.raises(dataclasses.FrozenInstanceError):
            prospect.id = "changed"  # type: ignore[misc]


def test_every_field_lands_in_its_own_slot() -> None:
    """Each text and typed cell in its own column comes back in its own field (a draft
    filled in another order would swap two of them)."""
    row: list[RawValue] = [
        "P-1",
        "Acme",
        "Anna Smit",
        "anna@acme.example",
        "+31 20 1234567",
        "Bert",
        "quote",
        "retail",
        1250.0,
        date(2026, 1, 5),
        date(2026, 3, 2),
        "quote sent",
        2.0,
        date(2026, 3, 20),
        "email",
        "a note",
    ]
    table = Table("Prospects", [_COLUMNS, row])
    header = schema.map_headers(table)
    schema.parse_prospect(row, 2, header, epoch=table.epoch)  # the dropdown words, seen
    prospect = schema.parse_prospect(row, 2, header, epoch=table.epoch)
    assert prospect is not None and not prospect.problems
    assert (prospect.row, prospect.id, prospect.company, prospect.contact) == (
        2,
        "P-1",
        "Acme",
        "Anna Smit",
    )
    assert (prospect.email, prospect.phone, prospect.owner, prospect.segment) == (
        "anna@acme.example",
        "+31 20 1234567",
        "Bert",
        "retail",
    )
    assert (prospect.stage, prospect.value, prospect.created) == ("quote", 1250.0, row[9])
    assert (prospect.last_contact, prospect.last_outcome, prospect.attempts) == (
        row[10],
        "quote sent",
        2,
    )
    assert (prospect.follow_up_on, prospect.channel, prospect.notes) == (
        row[13],
        "email",
        "a note",
    )


# --- Owned columns that hold the team's own values ---------------------------------------

_CELLS = st.sampled_from(
    [
        None,
        "",
        "  ",
        "due",
        "overdue",
        "Due ",
        "Warm",
        "Koud",
        "1 of 5",
        "free text in a step",
        "2026-03-12",
        "soon",
        date(2026, 3, 12),
        date(2026, 3, 13),
        datetime(2026, 3, 12, 9, 30),
        1.0,
        1,
        True,
        46093.0,
        0.0,
    ]
)


def _foreign_alone(table: Table, header: schema.HeaderMap) -> list[schema.ForeignColumn]:
    """foreign_columns as its docstring says, cell by cell with nothing remembered."""
    found = []
    for name in ("next_follow_up", "status", "step"):
        column = header.columns.get(name)
        if column is None:
            continue
        filled = foreign = 0
        samples: dict[str, None] = {}
        for values in table.rows[header.header_row :]:
            value = values[column - 1] if column <= len(values) else None
            if not schema.cell_text(value):
                continue
            filled += 1
            if not schema._ours(name, value, table.epoch, header.date_order):
                foreign += 1
                if len(samples) < 3:
                    samples.setdefault(schema.cell_text(value), None)
        if foreign and foreign * 2 >= filled:
            text = schema.cell_text(table.rows[header.header_row - 1][column - 1])
            found.append(schema.ForeignColumn(name, column, text, tuple(samples)))
    return found


@given(st.lists(st.tuples(_CELLS, _CELLS, _CELLS, st.booleans()), max_size=40))
def test_columns_tallied_by_value_are_judged_as_cell_by_cell(
    cells: list[tuple[RawValue, RawValue, RawValue, bool]],
) -> None:
    headers = ["Company", "Owner", "Next follow-up", "Status", "Step"]
    rows: list[list[RawValue]] = [
        # Some rows end before the owned columns, as rows Excel saves without them do.
        ["Acme", "Anna"] if short else ["Acme", "Anna", due, status, step]
        for due, status, step, short in cells
    ]
    table = Table("Prospects", [headers, *rows])  # type: ignore[list-item]
    header = schema.map_headers(table)
    assert schema.foreign_columns(table, header) == _foreign_alone(table, header)


# --- Rows that are no prospect ------------------------------------------------------------


def _left_alone_alone(table: Table, hm: schema.HeaderMap) -> dict[int, schema.LeftAlone]:
    """non_prospect_rows with the blank-row test first, as it was before the owner test
    went first."""
    ours = {hm.columns[name] - 1 for name in schema.ADDED_FIELDS if name in hm.columns}
    owner = hm.columns["owner"] - 1 if "owner" in hm.columns else None
    found: dict[int, schema.LeftAlone] = {}
    after_blank = False
    for number, values in schema.data_rows(table, hm):
        if all(value is None for value in values):
            after_blank = True
            continue
        if owner is not None and owner < len(values):
            name = values[owner]
            if isinstance(name, str) and name.strip() and not schema._is_total_word(name):
                after_blank = False
                continue
        filled = [
            value
            for column, value in enumerate(values)
            if column not in ours and value is not None and schema.cell_text(value)
        ]
        if not filled:
            after_blank = True
            continue
        kind = schema._left_alone_kind(filled, after_blank)
        if kind is None:
            after_blank = False
        else:
            first = filled[0] if isinstance(filled[0], str) else ""
            found[number] = schema.LeftAlone(number, kind, first.strip())
    return found


_ROW_CELLS = st.sampled_from([None, "", " ", "Acme", "Totaal", "Total:", "Anna", 5.0, 0, True])


@given(st.lists(st.lists(_ROW_CELLS, max_size=5), max_size=30))
def test_the_owner_test_first_leaves_the_same_rows_alone(rows: list[list[RawValue]]) -> None:
    table = Table("Prospects", [["Company", "Owner", "Email", "Value", "Status"], *rows])
    header = schema.map_headers(table)
    assert schema.non_prospect_rows(table, header) == _left_alone_alone(table, header)
