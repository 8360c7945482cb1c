"""Use cases: each command of the CLI calls one function here."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from sheetfollow import schema, vocab
from sheetfollow.backends.base import Backend, CellValue, CellWrite, RawValue, TabChanges, Table
from sheetfollow.calendar import calendar_for
from sheetfollow.config import Config
from sheetfollow.errors import SheetError
from sheetfollow.fields import OWNED_FIELDS
from sheetfollow.models import Computed, Owner, Problem, Prospect, Row, Status
from sheetfollow.rules import compute

if TYPE_CHECKING:
    from sheetfollow.backends.gsheets import Access

#: Called as work advances: (done, total). The CLI draws a progress bar with it.
Progress = Callable[[int, int], None]


#: A web address, or something as long as a Google Sheets key and without a file's dot.
_REMOTE_SHEET = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://.*|[A-Za-z0-9_-]{30,}", re.DOTALL)


def open_backend(
    sheet: str | None, config: Config, env: Mapping[str, str] | None = None
) -> Backend:
    """The backend for a sheet given on the command line or in the config: a Google Sheet
    for its URL or key (credentials from the config or `env`), else an Excel workbook."""
    target = sheet or config.sheet
    if not target:
        raise SheetError(
            "no sheet given: pass --sheet pipeline.xlsx or set sheet = \"...\" in sheetfollow.toml"
        )
    if _REMOTE_SHEET.fullmatch(target.strip()) and not Path(target).exists():
        # Imported here: the Google libraries take a while to load, and Excel needs none.
        from sheetfollow.backends.gsheets import open_sheet

        environ = os.environ if env is None else env
        return open_sheet(target, key_file=config.google.key_file, env=environ)
    from sheetfollow.backends.xlsx import XlsxBackend

    return XlsxBackend(Path(target), backups=config.backups)


def sheet_access(backend: Backend) -> Access | None:
    """For a Google Sheet: the service account used and whether the sheet opens with it."""
    from sheetfollow.backends.gsheets import GoogleSheetsBackend

    return backend.access() if isinstance(backend, GoogleSheetsBackend) else None


@dataclass
class Pipeline:
    """The Prospects tab, understood: every row parsed and computed."""

    table: Table
    header: schema.HeaderMap
    rows: list[Row]
    owners: Mapping[str, Owner] | None
    #: Problems outside the rows (the Owners tab, unknown headers are not problems).
    problems: list[Problem] = field(default_factory=list)
    #: Rows with nothing in them but stale owned cells: those cells are cleared.
    empty_rows: list[int] = field(default_factory=list)

    @property
    def row_problems(self) -> list[Problem]:
        return [p for row in self.rows for p in row.prospect.problems]


def load(
    backend: Backend,
    config: Config,
    today: date,
    *,
    progress: Progress | None = None,
) -> Pipeline:
    """Read the Prospects (and Owners) tab and compute every row."""
    table = prospects_table(backend, config)
    header = schema.map_headers(table, overrides=config.headers, source=backend.label)
    owners, owner_problems = _read_owners(backend, config)
    pipeline = Pipeline(table, header, [], owners, list(owner_problems))
    total = len(table.rows) - header.header_row
    for index, values in enumerate(table.rows[header.header_row :]):
        number = header.header_row + 1 + index
        prospect = schema.parse_prospect(values, number, header, epoch=table.epoch, today=today)
        if prospect is None:
            if any(_blank(v) is False for v in _owned_cells(values, header)):
                pipeline.empty_rows.append(number)
        else:
            owner = owner_of(prospect, owners)
            prospect = with_owner_problems(prospect, owners, header)
            pipeline.rows.append(compute_row(prospect, owner, config, today))
        if progress is not None and index % 1000 == 0:
            progress(index, total)
    if progress is not None:
        progress(total, total)
    return pipeline


def prospects_table(backend: Backend, config: Config) -> Table:
    """The Prospects tab, or a SheetError that says which tabs there are."""
    table = backend.read_tab(config.tabs.prospects)
    if table is None:
        tabs = ", ".join(backend.tab_names()) or "none"
        raise SheetError(
            f"{backend.label}: no tab named {config.tabs.prospects!r} (tabs: {tabs}); "
            "set [tabs] prospects in sheetfollow.toml"
        )
    return table


def compute_row(prospect: Prospect, owner: Owner | None, config: Config, today: date) -> Row:
    """One row computed as refresh computes it: the owner's calendar, no row can stop a run."""
    calendar = calendar_for(config.calendar, owner.country if owner else "")
    try:
        computed = compute(
            prospect, rules=config.rules, calendar=calendar, today=today, owner=owner
        )
    except (ValueError, OverflowError) as error:
        # A date the calendar cannot work with (31-12-9999 as "never", say) must not stop
        # the run: this row needs attention, the others go on.
        ref = schema.cell_ref(config.tabs.prospects, prospect.row)
        problem = Problem(ref, f"cannot work out a follow-up date ({error})")
        prospect = replace(prospect, problems=(*prospect.problems, problem))
        computed = compute(
            prospect, rules=config.rules, calendar=calendar, today=today, owner=owner
        )
    return Row(prospect, computed)


def _read_owners(
    backend: Backend, config: Config
) -> tuple[Mapping[str, Owner] | None, Sequence[Problem]]:
    table = backend.read_tab(config.tabs.owners)
    if table is None:
        return None, ()
    return schema.parse_owners(table, source=backend.label)


def owner_of(prospect: Prospect, owners: Mapping[str, Owner] | None) -> Owner | None:
    """The row's owner from the Owners tab, if there is one."""
    if owners is None or not prospect.owner:
        return None
    return owners.get(vocab.normalise(prospect.owner))


def with_owner_problems(
    prospect: Prospect, owners: Mapping[str, Owner] | None, header: schema.HeaderMap
) -> Prospect:
    """With an Owners tab, every row's owner must be in it, with an email address."""
    if owners is None or not prospect.owner:
        return prospect
    ref = schema.cell_ref(header.tab, prospect.row, header.columns.get("owner"))
    owner = owners.get(vocab.normalise(prospect.owner))
    if owner is None:
        problem = Problem(ref, f"owner {prospect.owner!r} is not in the Owners tab")
    elif not owner.email:
        problem = Problem(ref, f"owner {prospect.owner!r} has no email in the Owners tab")
    else:
        return prospect
    return replace(prospect, problems=(*prospect.problems, problem))


def _owned_cells(values: Sequence[RawValue], header: schema.HeaderMap) -> Iterable[RawValue]:
    for name in OWNED_FIELDS:
        column = header.columns.get(name)
        if column is not None and column <= len(values):
            yield values[column - 1]


def _blank(value: RawValue) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# --- refresh ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshSummary:
    sheet: str
    rows: int
    new: int
    due: int
    overdue: int
    dead: int
    needs_attention: int
    cells_changed: int
    ids_filled: int
    columns_added: tuple[str, ...]
    skipped: tuple[str, ...]
    dry_run: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "sheet": self.sheet,
            "rows": self.rows,
            "new": self.new,
            "due": self.due,
            "overdue": self.overdue,
            "dead": self.dead,
            "needs_attention": self.needs_attention,
            "cells_changed": self.cells_changed,
            "ids_filled": self.ids_filled,
            "columns_added": list(self.columns_added),
            "skipped": list(self.skipped),
            "dry_run": self.dry_run,
        }


def refresh(
    backend: Backend,
    config: Config,
    today: date,
    *,
    dry_run: bool = False,
    force: bool = False,
    progress: Progress | None = None,
) -> RefreshSummary:
    """Recompute the owned columns and write back only the cells whose value changes."""
    pipeline = load(backend, config, today, progress=progress)
    changes, ids_filled = plan_refresh(pipeline, config)
    skipped: tuple[str, ...] = ()
    cells = len(changes.cells) + len(changes.new_headers)
    if cells and not dry_run:
        result = backend.write([changes], force=force)
        skipped = result.skipped
        cells -= len(skipped)
    counts = count_statuses(pipeline.rows, today)
    return RefreshSummary(
        sheet=backend.label,
        rows=len(pipeline.rows),
        new=counts["new"],
        due=counts["due"],
        overdue=counts["overdue"],
        dead=counts["dead"],
        needs_attention=counts["needs_attention"],
        cells_changed=cells,
        ids_filled=ids_filled,
        columns_added=tuple(changes.new_headers.values()),
        skipped=skipped,
        dry_run=dry_run,
    )


def count_statuses(rows: Iterable[Row], today: date) -> dict[str, int]:
    counts = {"new": 0, "due": 0, "overdue": 0, "dead": 0, "needs_attention": 0}
    for row in rows:
        status = row.computed.status
        if status is Status.DEAD:
            counts["dead"] += 1
        elif status is Status.NEEDS_ATTENTION:
            counts["needs_attention"] += 1
        elif row.computed.is_due(today):
            late = row.computed.next_follow_up is not None and row.computed.next_follow_up < today
            counts["overdue" if late else "due"] += 1
        if status is Status.NEW:
            counts["new"] += 1
    return counts


def plan_refresh(pipeline: Pipeline, config: Config) -> tuple[TabChanges, int]:
    """The cells to write: changed owned values, blank IDs, headers of missing columns."""
    header = pipeline.header
    columns = dict(header.columns)
    changes = TabChanges(tab=header.tab, header_row=header.header_row)
    names = vocab.PROSPECT_HEADERS.get(config.language, vocab.PROSPECT_HEADERS["en"])
    next_column = header.last_column + 1
    for name in ("id", *OWNED_FIELDS):
        if name not in columns:
            columns[name] = next_column
            changes.new_headers[next_column] = names[name]
            next_column += 1
    changes.id_column = columns["id"]
    ids = IdMaker(config.id_prefix, (row.prospect.id for row in pipeline.rows))
    ids_filled = 0
    for row in pipeline.rows:
        values = pipeline.table.rows[row.prospect.row - 1]
        if row.prospect.id:
            changes.expected_ids[row.prospect.row] = row.prospect.id
        else:
            changes.cells.append(CellWrite(row.prospect.row, columns["id"], ids.next()))
            ids_filled += 1
        wanted = owned_cell_values(row.computed)
        for name in OWNED_FIELDS:
            column = columns[name]
            current = values[column - 1] if column <= len(values) else None
            if not _same(current, wanted[name], pipeline.table.epoch):
                changes.cells.append(CellWrite(row.prospect.row, column, wanted[name]))
    for number in pipeline.empty_rows:
        values = pipeline.table.rows[number - 1]
        for name in OWNED_FIELDS:
            column = columns[name]
            if column <= len(values) and not _blank(values[column - 1]):
                changes.cells.append(CellWrite(number, column, None))
    return changes, ids_filled


def owned_cell_values(computed: Computed) -> dict[str, CellValue]:
    return {
        "next_follow_up": computed.next_follow_up,
        "status": computed.status.value,
        "step": computed.step or None,
        "why": computed.why or None,
        "assigned_to": computed.assigned_to or None,
    }


def _same(current: RawValue, wanted: CellValue, epoch: date) -> bool:
    if _blank(current) or wanted is None or wanted == "":
        return _blank(current) and (wanted is None or wanted == "")
    if isinstance(wanted, date):
        try:
            return schema.parse_date(current, epoch=epoch) == wanted
        except ValueError:
            return False
    return isinstance(current, str) and current == wanted


class IdMaker:
    """New IDs continue the highest number already used with the configured prefix."""

    def __init__(self, prefix: str, existing: Iterable[str]) -> None:
        self.prefix = prefix
        pattern = re.compile(re.escape(prefix) + r"(\d+)$", re.IGNORECASE)
        self.taken = set(existing)
        numbers = [int(m.group(1)) for i in self.taken if (m := pattern.match(i))]
        self.counter = max(numbers, default=0)
        self.width = max([4, *(len(m.group(1)) for i in self.taken if (m := pattern.match(i)))])

    def next(self) -> str:
        while True:
            self.counter += 1
            candidate = f"{self.prefix}{self.counter:0{self.width}d}"
            if candidate not in self.taken:
                self.taken.add(candidate)
                return candidate


# --- due and check ---------------------------------------------------------------------


def due_rows(pipeline: Pipeline, today: date, owner: str | None = None) -> list[Row]:
    """Today's call list: the overdue ones first, then the rest; each by value, largest first."""
    wanted = vocab.normalise(owner) if owner else None
    rows = [
        row
        for row in pipeline.rows
        if row.computed.is_due(today)
        and (
            wanted is None
            or wanted
            in (vocab.normalise(row.computed.assigned_to), vocab.normalise(row.prospect.owner))
        )
    ]

    def order(row: Row) -> tuple[bool, float, str]:
        late = (row.computed.next_follow_up or today) < today
        return (not late, -(row.prospect.value or 0.0), row.prospect.company.casefold())

    return sorted(rows, key=order)


def row_as_dict(row: Row, today: date) -> dict[str, object]:
    p, c = row.prospect, row.computed

    def iso(d: date | None) -> str | None:
        return d.isoformat() if d else None

    return {
        "row": p.row,
        "id": p.id,
        "company": p.company,
        "contact": p.contact,
        "email": p.email,
        "phone": p.phone,
        "owner": p.owner,
        "assigned_to": c.assigned_to,
        "stage": p.stage.value if p.stage else None,
        "segment": p.segment,
        "value": p.value,
        "last_contact": iso(p.last_contact),
        "last_outcome": p.last_outcome.value if p.last_outcome else None,
        "attempts": p.attempts,
        "next_follow_up": iso(c.next_follow_up),
        "days_overdue": (today - c.next_follow_up).days
        if c.next_follow_up and c.next_follow_up < today
        else 0,
        "status": c.status.value,
        "step": c.step,
        "why": c.why,
    }


def check(pipeline: Pipeline) -> list[Problem]:
    """Every problem in the sheet, each with its cell reference, in sheet order."""
    return [*pipeline.problems, *pipeline.row_problems]
