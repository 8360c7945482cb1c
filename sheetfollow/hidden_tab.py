"""The hidden tabs sheetfollow keeps its own records in (`sheetfollow_state`: the emails sent;
`sheetfollow_touches`: the touch snapshots): a row of headers, then rows only ever appended."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from sheetfollow import schema
from sheetfollow.sheet import CellValue, RawValue, TabChanges, Table


def append_rows(
    table: Table | None,
    tab: str,
    names: Sequence[str],
    columns_of: Callable[[Table], dict[str, int]],
    rows: Iterable[Mapping[str, CellValue]],
) -> TabChanges:
    """The change that appends `rows` (header name -> value) to the hidden tab as read
    (`table`; None: it does not exist yet and is created, hidden). An existing tab keeps its
    columns where they are (`columns_of` finds them, or says what is wrong with them);
    headers it lacks are added after its last column; one emptied by hand gets its headers
    back."""
    if table is None or not any(_filled(v) for row in table.rows for v in row):
        columns = {name: i + 1 for i, name in enumerate(names)}
        changes = TabChanges(
            tab=table.tab if table is not None else tab,
            create=table is None,
            hidden=table is None,
            new_headers={column: name for name, column in columns.items()},
        )
    else:
        columns = columns_of(table)
        changes = TabChanges(tab=table.tab)
        last = max(len(table.rows[0]), *columns.values())
        for name in names:
            if name not in columns:
                last += 1
                columns[name] = last
                changes.new_headers[last] = name
    width = max(columns.values())
    for cells in rows:
        row: list[CellValue] = [None] * width
        for name, value in cells.items():
            row[columns[name] - 1] = value
        changes.append_rows.append(row)
    return changes


def _filled(value: RawValue) -> bool:
    return value is not None and schema.cell_text(value) != ""
