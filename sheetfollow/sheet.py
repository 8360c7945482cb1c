"""What every sheet (an Excel file, a Google Sheet) offers the service layer: the values and
tables the core reads, the changes it asks for, and the Backend protocol the adapters in
sheetfollow/backends implement. The core imports these from here, never an adapter."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

#: A value as a backend reads it. Empty cells are None.
RawValue = str | float | int | bool | date | datetime | None
#: A value the service asks a backend to write. None empties the cell (its style stays).
CellValue = str | int | float | date | None

#: Day zero of spreadsheet serial dates (Excel's 1900 system and Google Sheets).
EPOCH_1900 = date(1899, 12, 30)
#: Day zero of Excel's 1904 date system (old Mac workbooks; workbook.xml date1904="1").
EPOCH_1904 = date(1904, 1, 1)


@dataclass(frozen=True)
class Table:
    """One tab as read: a grid anchored at A1. rows[r][c] is the cell at row r+1, column c+1.

    Rows may be shorter than others; a missing cell is empty.
    """

    tab: str
    rows: list[list[RawValue]]
    epoch: date = EPOCH_1900
    #: 1-based header row of an Excel Table (ListObject) laid over this tab, if any.
    table_header_row: int | None = None
    #: Merged ranges (first row, first column, last row, last column), 1-based: the cells
    #: under a merge other than its first are hidden, so nothing new goes there.
    merged: tuple[tuple[int, int, int, int], ...] = ()


@dataclass(frozen=True)
class CellWrite:
    row: int  # 1-based
    column: int  # 1-based
    value: CellValue


@dataclass
class TabChanges:
    """Everything to change in one tab, applied in one write."""

    tab: str
    #: 1-based row that holds the headers (new headers are written there).
    header_row: int = 1
    #: Columns to add: 1-based column -> header text. Always after the last used column.
    new_headers: dict[int, str] = field(default_factory=dict)
    #: Of those, the field each holds (column -> "status"), so a backend can give the new
    #: column the width, number format and status colours a starter workbook has ...
    new_fields: dict[int, str] = field(default_factory=dict)
    #: ... with the status words in this language.
    language: str = "en"
    cells: list[CellWrite] = field(default_factory=list)
    #: Rows to add after the last used row; each is a list of values for columns 1, 2, ...
    append_rows: list[list[CellValue]] = field(default_factory=list)
    #: Create the tab first (its header row is new_headers). For Log and the run-state tab.
    create: bool = False
    #: Hide the tab (only when it is created).
    hidden: bool = False
    #: For race checks: row -> ID as read. A backend that can see concurrent edits
    #: re-reads the IDs before writing and refuses when they moved.
    expected_ids: dict[int, str] = field(default_factory=dict)
    id_column: int | None = None


@dataclass(frozen=True)
class WriteResult:
    cells_written: int
    rows_appended: int
    #: Cells the backend refused to write (e.g. an owned cell holding a formula), with why.
    skipped: tuple[str, ...] = ()


class Backend(Protocol):
    """A spreadsheet: read tabs, then write changes atomically (all or nothing)."""

    #: How to name the sheet in messages ("pipeline.xlsx", a sheet URL).
    label: str

    def tab_names(self) -> list[str]: ...

    def read_tab(self, tab: str) -> Table | None:
        """The tab's values, or None when there is no such tab."""
        ...

    def write(self, changes: list[TabChanges], *, force: bool = False) -> WriteResult:
        """Apply all changes at once. Raise BusyError (and change nothing) when the sheet
        is open elsewhere or changed since it was read, unless force is set."""
        ...

    def release(self, tab: str) -> bool:
        """Let go of what was read of `tab` when reading it again costs little (the next
        read_tab reads it again); True when it was let go."""
        ...
