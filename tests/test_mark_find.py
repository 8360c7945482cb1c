"""How `mark` finds WHO among every row: the quick scans (raw ID and email cells, names
folded only when their text can match) must find exactly what folding every cell would.

The reference below is the rule as the help states it, applied the slow way: every cell made
text, every name folded, then the ID, the email, the same name, a unique beginning, a part,
and a close spelling."""

from __future__ import annotations

from datetime import date, datetime

from hypothesis import example, given
from hypothesis import strategies as st
from strategies import PROPERTY

from sheetfollow import mark, schema
from sheetfollow.sheet import RawValue, Table

HEADERS = ["ID", "Company", "Contact", "Email", "Owner"]
#: A title row and a blank row above the headers, as many real sheets have.
HEADER_ROW = 3

#: Letters that fold in every way names do: case, accents, ß, ø, separators, digits.
LETTERS = "abcAB éüÉßøØç-_./& 0129"

names = st.text(alphabet=LETTERS, max_size=12)
typed = st.sampled_from([" P-1 ", "p-1", "P-0001", "12", "a@b.example", " A@B.example"])
cells: st.SearchStrategy[RawValue] = st.one_of(
    st.none(),
    names,
    typed,
    st.sampled_from([12.0, 12.5, 7, True, date(2026, 3, 11), datetime(2026, 3, 11, 9, 30)]),
)
#: Rows as the backend gives them, short ones too (a row ends at its last value).
rows = st.lists(st.lists(cells, max_size=5), max_size=12)


def table_of(data: list[list[RawValue]]) -> tuple[Table, schema.HeaderMap]:
    table = Table("Prospects", [["Pipeline"], [], list(HEADERS), *data])
    header = schema.HeaderMap(
        tab="Prospects",
        header_row=HEADER_ROW,
        columns={"id": 1, "company": 2, "contact": 3, "email": 4, "owner": 5},
        last_column=5,
    )
    return table, header


def texts(table: Table, column: int) -> list[tuple[int, str]]:
    found = []
    for number in range(HEADER_ROW + 1, len(table.rows) + 1):
        values = table.rows[number - 1]
        text = schema.cell_text(values[column - 1]) if column <= len(values) else ""
        if text:
            found.append((number, text))
    return found


def reference(table: Table, who: str) -> mark.Match:
    text = who.strip()
    wanted = text.casefold()
    by_id = [row for row, value in texts(table, 1) if value.casefold() == wanted]
    if by_id:
        return mark.Match(tuple(by_id))
    if "@" in text:
        return mark.Match(
            tuple(row for row, value in texts(table, 4) if value.casefold() == wanted)
        )
    key = mark.fold(text)
    companies = [(row, mark.fold(value)) for row, value in texts(table, 2)]
    contacts = [(row, mark.fold(value)) for row, value in texts(table, 3)]
    named = companies + contacts
    for shortest, test in (
        (1, lambda name: name == key),
        (2, lambda name: name.startswith(key)),
        (3, lambda name: key in name),
    ):
        if len(key) >= shortest:
            found = tuple(dict.fromkeys(row for row, name in named if test(name)))
            if found:
                return mark.Match(found)
    if len(key) < 4:
        return mark.Match(())
    bare = [(row, mark._bare_name(name)) for row, name in companies]
    return mark._fuzzy(key, named + bare)


@st.composite
def sheets_and_who(draw: st.DrawFn) -> tuple[list[list[RawValue]], str]:
    """Rows, and WHO: typed freely, or a piece of a cell of them (so that most examples
    match something, by every test in turn)."""
    data = draw(rows)
    written = [v for row in data for v in row if isinstance(v, str) and v.strip()]
    from_a_cell = draw(st.booleans())
    if written and from_a_cell:
        text = draw(st.sampled_from(written))
        start = draw(st.integers(0, len(text)))
        end = draw(st.integers(start, len(text)))
        piece = text[start:end]
        who = draw(st.sampled_from([piece, piece.upper(), piece.casefold(), text]))
    else:
        who = draw(st.one_of(names, typed))
    return data, who


@PROPERTY
@given(sheet=sheets_and_who())
@example(sheet=([["P-1", "Café Zürich"], ["P-2", "Cafe-Zurich B.V."]], "CAFE ZURICH"))
@example(sheet=([["P-1", "Brick & Co"]], "Bríck"))
@example(sheet=([["P-1", "Acme B.V.", "Jan"]], "acme-b.v."))
@example(sheet=([["P-1", "Straße 9", "x"], ["P-2", "Strasse 9"]], "STRASSE"))
@example(sheet=([[" P-1 ", "x"], [12.0, "y"]], "p-1"))
@example(sheet=([[12.0, "y"]], "12"))
@example(sheet=([[None, "x", "y", " A@B.example"]], "a@b.EXAMPLE"))
def test_the_quick_scans_find_what_folding_every_cell_finds(
    sheet: tuple[list[list[RawValue]], str],
) -> None:
    data, who = sheet
    table, header = table_of(data)
    if not who.strip():
        return  # refused before any row is looked at (test_mark)
    assert mark.find(table, header, who) == reference(table, who)


#: Cells of an ID or email column as sheetfollow and most people leave it: text or empty,
#: the way rows_holding compares in C.
text_cells = st.one_of(st.none(), names, typed)


@PROPERTY
@given(data=st.lists(st.lists(text_cells, max_size=5), max_size=12), who=typed)
def test_an_id_or_email_among_text_cells_is_found_as_folding_finds_it(
    data: list[list[RawValue]], who: str
) -> None:
    table, header = table_of(data)
    assert mark.find(table, header, who) == reference(table, who)
