"""A sheet whose writes are held back: reads see them as applied, `flush` writes them all.

Every command works on a `Staged` view of its backend. Changes from the pending journal, from
touches typed into the sheet and from the command itself are staged one after the other, each
seeing the ones before it, and then written in one atomic backend write. When that write
cannot be made (the workbook is open in Excel, say), nothing is lost: the command keeps what
it did in the pending journal, and what it read and printed already showed it as applied.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from sheetfollow.sheet import (
    Backend,
    CellValue,
    RawValue,
    TabChanges,
    Table,
    WriteResult,
)


@dataclass
class _View:
    """One tab as it reads with the staged changes applied."""

    name: str
    table: Table | None
    rows: list[list[RawValue]]
    #: Rows whose list is our own copy (the others are shared with the backend's table).
    copied: set[int] = field(default_factory=set)
    #: 1-based row of the view -> the staged append row that fills it.
    appended: dict[int, list[CellValue]] = field(default_factory=dict)

    def row(self, number: int) -> list[RawValue]:
        while len(self.rows) < number:
            self.rows.append([])
            self.copied.add(len(self.rows) - 1)
        index = number - 1
        if index not in self.copied:
            self.rows[index] = list(self.rows[index])
            self.copied.add(index)
        return self.rows[index]

    def set(self, number: int, column: int, value: CellValue) -> None:
        cells = self.row(number)
        if len(cells) < column:
            cells.extend([None] * (column - len(cells)))
        cells[column - 1] = None if value == "" else value

    def set_from_a(self, number: int, values: list[CellValue]) -> None:
        """`set` of each of `values` from column A on (a row appended: a new tab of
        200,000 rows is made here)."""
        self.row(number)[: len(values)] = [None if value == "" else value for value in values]


class Staged:
    """A Backend that holds writes back until `flush`; reads see them applied."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.label = backend.label
        self._staged: list[TabChanges] = []
        self._views: dict[str, _View] = {}
        #: Grows with every staged change, so callers can tell a cached read went stale.
        self.version = 0
        #: Staged changes per tab (casefolded name), for caches of one tab's reading.
        self._tab_changes: dict[str, int] = {}
        self._flushes = 0

    @property
    def has_changes(self) -> bool:
        return any(
            change.cells or change.new_headers or change.append_rows or change.create
            for change in self._staged
        )

    # -- reading

    def tab_names(self) -> list[str]:
        names = self.backend.tab_names()
        known = {name.casefold() for name in names}
        return names + [
            view.name
            for view in self._views.values()
            if view.table is None and view.name.casefold() not in known
        ]

    def read_tab(self, tab: str) -> Table | None:
        view = self._view(tab)
        if view is None:
            return None
        base = view.table
        if base is None:
            return Table(tab=view.name, rows=view.rows)
        return dataclasses.replace(base, rows=view.rows)

    def release(self, tab: str) -> bool:
        """Let go of what was read of `tab` (read again when asked for) when nothing is
        staged for it and the backend can read it again cheaply: a command that only reads
        holds less. True when it was let go."""
        key = tab.casefold()
        view = self._views.get(key)
        if view is None or view.copied or view.appended or self._tab_changes.get(key):
            return False
        if not self.backend.release(view.name):
            return False
        del self._views[key]
        return True

    def tab_version(self, tab: str) -> tuple[int, int]:
        """Changes when what `tab` reads may have changed (a change staged to it, a flush)."""
        return (self._flushes, self._tab_changes.get(tab.casefold(), 0))

    def _view(self, tab: str, *, create: bool = False) -> _View | None:
        key = tab.casefold()
        view = self._views.get(key)
        if view is None:
            table = self.backend.read_tab(tab)
            if table is None and not create:
                return None
            view = _View(
                tab if table is None else table.tab, table, list(table.rows) if table else []
            )
            self._views[key] = view
        return view

    # -- writing

    def write(self, changes: list[TabChanges], *, force: bool = False) -> WriteResult:
        """Stage the changes; nothing reaches the backend before `flush`."""
        cells = rows = 0
        for change in changes:
            staged = self._stage(change)
            cells += len(staged.cells) + len(staged.new_headers)
            rows += sum(
                1 for values in staged.append_rows if any(v not in (None, "") for v in values)
            )
        return WriteResult(cells, rows)

    def _stage(self, change: TabChanges) -> TabChanges:
        view = self._view(change.tab, create=change.create)
        if view is None:
            # The backend's own message for a tab that is not there, at flush time.
            self._staged.append(change)
            self._changed(change.tab)
            return change
        mine = TabChanges(
            tab=change.tab,
            header_row=change.header_row,
            new_headers=dict(change.new_headers),
            new_fields=dict(change.new_fields),
            language=change.language,
            create=change.create and view.table is None and not self._created(view),
            hidden=change.hidden,
            # Rows this view appended are not in the backend's sheet yet: nothing to check.
            expected_ids={
                row: ident for row, ident in change.expected_ids.items() if row not in view.appended
            },
            id_column=change.id_column,
        )
        for column, text in change.new_headers.items():
            view.set(change.header_row, column, text)
        written: list[int] = []
        for cell in change.cells:
            view.set(cell.row, cell.column, cell.value)
            target = view.appended.get(cell.row)
            if target is not None:
                # A row this view added earlier: the value travels inside that append.
                if len(target) < cell.column:
                    target.extend([None] * (cell.column - len(target)))
                target[cell.column - 1] = cell.value
            else:
                mine.cells.append(cell)
                if cell.value not in (None, ""):
                    written.append(cell.row)
        if change.append_rows:
            first = max([len(view.rows), *written]) + 1
            for offset, values in enumerate(change.append_rows):
                row = list(values)
                mine.append_rows.append(row)
                view.appended[first + offset] = row
                view.set_from_a(first + offset, row)
        self._staged.append(mine)
        self.version += 1
        self._changed(change.tab, view.name)
        return mine

    def _changed(self, *tabs: str) -> None:
        for name in {tab.casefold() for tab in tabs}:
            self._tab_changes[name] = self._tab_changes.get(name, 0) + 1

    def _created(self, view: _View) -> bool:
        return any(c.create and c.tab.casefold() == view.name.casefold() for c in self._staged)

    def flush(self, *, force: bool = False) -> WriteResult:
        """Write everything staged in one backend write (all or nothing)."""
        if not self.has_changes:
            self._staged.clear()
            return WriteResult(0, 0)
        result = self.backend.write(_merged(self._staged), force=force)
        self._staged.clear()
        self._views.clear()
        self.version += 1
        self._flushes += 1
        return result


def _merged(changes: list[TabChanges]) -> list[TabChanges]:
    """One change per tab where they fit together, in the order the tabs were first
    changed: a backend then creates each new tab once and appends in one block."""
    merged: list[TabChanges] = []
    for change in changes:
        into = next(
            (
                m
                for m in merged
                if m.tab.casefold() == change.tab.casefold()
                and (
                    m.header_row == change.header_row or not (m.new_headers and change.new_headers)
                )
                and (m.id_column is None or change.id_column in (None, m.id_column))
            ),
            None,
        )
        if into is None:
            merged.append(
                TabChanges(
                    tab=change.tab,
                    header_row=change.header_row,
                    new_headers=dict(change.new_headers),
                    new_fields=dict(change.new_fields),
                    language=change.language,
                    cells=list(change.cells),
                    append_rows=list(change.append_rows),
                    create=change.create,
                    hidden=change.hidden,
                    expected_ids=dict(change.expected_ids),
                    id_column=change.id_column,
                )
            )
            continue
        if change.new_headers:
            into.header_row = change.header_row
        into.new_headers.update(change.new_headers)
        into.new_fields.update(change.new_fields)
        into.cells.extend(change.cells)
        into.append_rows.extend(change.append_rows)
        into.create = into.create or change.create
        into.hidden = into.hidden or change.hidden
        into.expected_ids.update(change.expected_ids)
        into.id_column = into.id_column or change.id_column
    return merged
