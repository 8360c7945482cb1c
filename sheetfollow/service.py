"""Use cases: each command of the CLI calls one function here."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING

from sheetfollow import capacity, collector, i18n, priority, schema, vocab
from sheetfollow.calendar import BusinessCalendar, calendar_for
from sheetfollow.config import (
    CONFIG_NAME,
    Cadence,
    Config,
    Rules,
    team_date_order,
    team_locale,
)
from sheetfollow.errors import ConfigError, SheetError
from sheetfollow.fields import OWNED_FIELDS
from sheetfollow.log import read_log
from sheetfollow.models import Computed, Outcome, Owner, Problem, Prospect, Row, Stage, Status
from sheetfollow.rules import (
    CLOSED_STAGES,
    COUNTING_OUTCOMES,
    assigned_to,
    cadence_for,
    compute,
    with_leave,
)
from sheetfollow.sheet import Backend, CellValue, CellWrite, RawValue, TabChanges, Table

if TYPE_CHECKING:
    from sheetfollow.backends.gsheets import Access  # noqa: TID251
    from sheetfollow.workspace import Workspace

#: Called as work advances: (done, total). The CLI draws a progress bar with it.
Progress = Callable[[int, int], None]


_GSHEETS = "sheetfollow.backends.gsheets"

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
            'no sheet given: pass --sheet pipeline.xlsx or set sheet = "..." in sheetfollow.toml'
        )
    if _REMOTE_SHEET.fullmatch(target.strip()) and not Path(target).exists():
        # Imported here: the Google libraries take a while to load, and Excel needs none
        # (an Excel-only install has none: they are the extra sheetfollow[google]).
        try:
            from sheetfollow.backends.gsheets import open_sheet  # noqa: TID251
        except ImportError as missing:
            raise ConfigError(
                f"{target} is a Google Sheet, and the Google libraries are not installed "
                f"({missing.name or missing}): pip install 'sheetfollow[google]'"
            ) from None

        environ = os.environ if env is None else env
        return open_sheet(target, key_file=config.google.key_file, env=environ)
    from sheetfollow.backends.xlsx import XlsxBackend  # noqa: TID251

    return XlsxBackend(
        Path(target),
        backups=config.backups,
        stale_lock_after=timedelta(hours=config.stale_lock_hours),
        max_member_bytes=config.max_unpacked_mb << 20,
        max_ratio=config.max_unpack_ratio,
        # Every tab a command reads: when all are in the parse cache, calamine never opens.
        cached_tabs=(
            config.tabs.prospects,
            config.tabs.owners,
            config.tabs.log,
            config.tabs.state,
            config.tabs.touches,
        ),
    )


def sheet_access(backend: Backend) -> Access | None:
    """For a Google Sheet: the service account used and whether the sheet opens with it."""
    if _GSHEETS not in sys.modules:
        return None  # only that module makes Google backends: an Excel workbook, no import
    from sheetfollow.backends.gsheets import GoogleSheetsBackend  # noqa: TID251

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
    #: Rows that are no prospect (totals, notes, headings): never given an ID or written.
    left_alone: list[schema.LeftAlone] = field(default_factory=list)
    #: Owned columns that hold the team's own values: refresh refuses to write over them.
    foreign: list[schema.ForeignColumn] = field(default_factory=list)
    #: Days on which promised or same-day calls alone go past someone's daily limit.
    over_limit: tuple[capacity.Load, ...] = ()
    #: True when `table` holds no rows: they were let go once understood (a command that
    #: only reads, Workspace.lean); what writes from the table's rows must not get this one.
    rows_let_go: bool = False

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
    with collector.paused():
        return _load(backend, config, today, progress)


def _load(backend: Backend, config: Config, today: date, progress: Progress | None) -> Pipeline:
    table = prospects_table(backend, config)
    header = prospect_header(table, config, backend.label)
    _check_touch_columns(backend, config, table, header)
    owners, owner_problems = _read_owners(backend, config)
    pipeline = Pipeline(table, header, [], owners, list(owner_problems))
    skipped = schema.non_prospect_rows(table, header)
    pipeline.left_alone = list(skipped.values())
    pipeline.foreign = schema.foreign_columns(table, header)
    pipeline.problems += [
        Problem(
            schema.cell_ref(header.tab, header.header_row, column.column),
            schema.foreign_message(column, config.language),
        )
        for column in pipeline.foreign
    ]
    total = len(table.rows) - header.header_row
    memo = ComputeMemo()
    parse, epoch, rows = schema.parse_prospect, table.epoch, pipeline.rows
    # owner_of's answer by the Owner cell's text: thousands of rows name a few people.
    owner_by_name: dict[str, Owner | None] = {}
    for index, values in enumerate(table.rows[header.header_row :]):
        number = header.header_row + 1 + index
        if skipped and number in skipped:
            continue
        prospect = parse(values, number, header, epoch=epoch, today=today)
        if prospect is None:
            if any(_blank(v) is False for v in _owned_cells(values, header)):
                pipeline.empty_rows.append(number)
        else:
            name = prospect.owner
            if name in owner_by_name:
                owner = owner_by_name[name]
            else:
                owner = owner_by_name[name] = owner_of(prospect, owners)
            if owner is None or not owner.email:  # else with_owner_problems has nothing to add
                prospect = with_owner_problems(prospect, owners, header)
            rows.append(compute_row(prospect, owner, config, today, owners, memo=memo))
        if progress is not None and index % 1000 == 0:
            progress(index, total)
    # Each person's daily limit spreads what does not fit over their next working days.
    planned = capacity.plan(
        pipeline.rows, today=today, calendar=config.calendar, rules=config.rules, owners=owners
    )
    pipeline.rows, pipeline.over_limit = planned.rows, planned.over
    if progress is not None:
        progress(total, total)
    return pipeline


def prospect_header(table: Table, config: Config, source: str) -> schema.HeaderMap:
    """The Prospects tab's header map, with the team's way of typing dates and amounts."""
    return schema.map_headers(
        table,
        overrides=config.headers,
        source=source,
        date_order=team_date_order(config),
        amount_locale=team_locale(config),
    )


#: The columns that say where a prospect's cadence stands. Without them every row looks
#: untouched, and every follow-up silently starts over.
TOUCH_FIELDS: tuple[str, ...] = ("last_contact", "last_outcome", "attempts")


def _check_touch_columns(
    backend: Backend, config: Config, table: Table, header: schema.HeaderMap
) -> None:
    """A SheetError when a touch column is missing from a sheet that has touches to lose.

    A fresh list (nothing in the touch columns it has or in columns that look like the
    missing ones, no touch in the Log) may lack them: `mark` adds them with the first touch.
    The Log is only read when a column is missing.
    """
    missing = [name for name in TOUCH_FIELDS if name not in header.columns]
    if not missing or not config.require_touch_columns:
        return
    # A renamed column still holds its touches: it counts like one that is found.
    guesses = _touch_header_guesses(table, header, missing)
    columns = {name: header.columns[name] for name in TOUCH_FIELDS if name in header.columns}
    columns.update((name, column) for name, (column, _) in guesses.items())
    if not _holds_touches(table, header, columns) and not _log_holds_touches(backend, config):
        return
    raise SheetError(_missing_touch_columns(backend.label, config, header, missing, guesses))


def _holds_touches(table: Table, header: schema.HeaderMap, columns: Mapping[str, int]) -> bool:
    """Whether any data row has something in one of these touch columns (field -> column)."""
    for _, values in schema.data_rows(table, header):
        for name, column in columns.items():
            text = schema.cell_text(values[column - 1]) if column <= len(values) else ""
            # Attempts 0 is what an import or a template fills in: not a touch.
            if text and not (name == "attempts" and text == "0"):
                return True
    return False


def _log_holds_touches(backend: Backend, config: Config) -> bool:
    try:
        entries = read_log(backend, config)
    except SheetError:
        return True  # a Log that cannot be read cannot show the list is fresh
    return any(entry.outcome is not None for entry in entries)


def _missing_touch_columns(
    label: str,
    config: Config,
    header: schema.HeaderMap,
    missing: list[str],
    guesses: Mapping[str, tuple[int, str]],
) -> str:
    """One line: what is missing, what would go wrong, and the mapping that fixes it."""
    found = {name: text for name, (_, text) in guesses.items()}
    names = [schema.english_header(name) for name in missing]
    if "last_contact" in missing:
        harm = "every follow-up would restart from Created"
    elif "attempts" in missing:
        harm = "every cadence would restart from the first attempt"
    else:
        harm = "every outcome (quote sent, call back, not interested ...) would be ignored"
    toml = config.path.name if config.path is not None else CONFIG_NAME
    mapping = ", ".join(
        f"{name} = {json.dumps(found.get(name, '...'), ensure_ascii=False)}" for name in missing
    )
    several = len(missing) > 1
    if len(found) == len(missing):
        fix = (
            f"map yours with [headers] {mapping} in {toml} "
            f"(or rename {'them' if several else 'it'} to {_and(names)})"
        )
    else:
        fix = (
            f"name your column{'s' if several else ''} {_and(names)} or map "
            f"{'them' if several else 'it'} with [headers] {mapping} in {toml}"
        )
    return (
        f"{label}: {schema.cell_ref(header.tab, header.header_row)} has no "
        f"{_or(names)} column, so {harm}; {fix}; a list that never records touches "
        "can set require_touch_columns = false"
    )


def _or(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _and(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


#: How alike (rapidfuzz WRatio, 0-100) an unknown header must be to a field's alias to be
#: suggested as that field's column.
_GUESS_SCORE = 80


def _touch_header_guesses(
    table: Table, header: schema.HeaderMap, missing: Sequence[str]
) -> dict[str, tuple[int, str]]:
    """Missing touch field -> (column, header text) of the unknown header that looks like
    it: close in spelling to an alias, or sharing a word only that field's aliases use, and
    holding mostly values that field can hold. Each header is given once, best first."""
    texts = {
        column: schema.cell_text(value)
        for column, value in enumerate(table.rows[header.header_row - 1], start=1)
        if schema.cell_text(value) in header.unknown
    }
    from rapidfuzz import fuzz

    scored: list[tuple[float, str, int]] = []
    for name in missing:
        aliases = vocab.HEADER_ALIASES[name]
        own_words = _own_words(name)
        for column, text in texts.items():
            key = vocab.normalise(text)
            score = max(fuzz.WRatio(key, alias) for alias in aliases)
            if score < _GUESS_SCORE and own_words.isdisjoint(key.split()):
                continue
            if _column_fits(table, header, column, name):
                scored.append((score, name, column))
    guesses: dict[str, tuple[int, str]] = {}
    taken: set[int] = set()
    for _, name, column in sorted(scored, key=lambda item: -item[0]):
        if name not in guesses and column not in taken:
            guesses[name] = (column, texts[column])
            taken.add(column)
    return guesses


def _own_words(name: str) -> set[str]:
    """Words of a field's aliases that no other field's aliases use ("tries", not "last")."""
    others = {
        word
        for other, aliases in vocab.HEADER_ALIASES.items()
        if other != name
        for alias in aliases
        for word in alias.split()
    }
    words = {word for alias in vocab.HEADER_ALIASES[name] for word in alias.split()}
    return {word for word in words - others if len(word) > 2}


def _column_fits(table: Table, header: schema.HeaderMap, column: int, name: str) -> bool:
    """Whether most filled cells of the column read as what field `name` holds (one typo
    like "soon" in a date column must not hide the column)."""
    filled = bad = 0
    for _, values in schema.data_rows(table, header):
        value = values[column - 1] if column <= len(values) else None
        if not schema.cell_text(value):
            continue
        filled += 1
        try:
            if name == "last_contact":
                schema.parse_date(value, epoch=table.epoch)
            elif name == "attempts":
                schema.parse_count(value)
            else:
                schema.parse_choice(value, vocab.OUTCOME_ALIASES, "outcome")
        except schema.BadValue:
            bad += 1
    return bad * 2 <= filled


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


class ComputeMemo:
    """What compute_row worked out for earlier rows of one read of the sheet (one config,
    one `today`): each owner country's calendar, and the rules' result by its inputs."""

    __slots__ = ("_numbers", "cadences", "calendars", "computed")

    def __init__(self) -> None:
        # By country: calendar_for's own cache hashes the whole calendar config each time.
        self.calendars: dict[str, BusinessCalendar] = {}
        #: rules.cadence_for's answer by (Segment, Stage), the only fields it reads, as a
        #: number: a Cadence is a dataclass, hashed in Python code.
        self.cadences: dict[tuple[str, Stage | None], int] = {}
        self._numbers: dict[Cadence, int] = {}
        #: The key is the calendar and what the rules read of a row but Value and Owner
        #: (only Assigned to depends on those, and is worked out for each row): Segment and
        #: Stage as the cadence they give, and each field only where it counts (rules.py's
        #: CLOSED_STAGES and COUNTING_OUTCOMES), so that more rows share a result.
        self.computed: dict[tuple[object, ...], Computed] = {}

    def cadence(self, prospect: Prospect, rules: Rules) -> int:
        """The number of the row's cadence (rows with equal cadences get the same one)."""
        cadence = cadence_for(prospect, rules)
        number = self._numbers.setdefault(cadence, len(self._numbers))
        self.cadences[(prospect.segment, prospect.stage)] = number
        return number


def compute_row(
    prospect: Prospect,
    owner: Owner | None,
    config: Config,
    today: date,
    owners: Mapping[str, Owner] | None = None,
    *,
    memo: ComputeMemo | None = None,
) -> Row:
    """One row computed as refresh computes it: the owner's calendar, no row can stop a run;
    with the Owners tab (`owners`), a due row of an owner away today goes to their Cover.

    `memo` (one per sheet, config and `today`) shares the rules' result between rows with
    the same inputs: in a sheet of thousands, most rows repeat another's."""
    country = owner.country if owner else ""
    if memo is None:
        calendar = calendar_for(config.calendar, country)
    else:
        found = memo.calendars.get(country)
        if found is None:
            found = memo.calendars[country] = calendar_for(config.calendar, country)
        calendar = found
    try:
        if memo is not None and not prospect.problems:
            stage, outcome, last = prospect.stage, prospect.last_outcome, prospect.last_contact
            cadence = memo.cadences.get((prospect.segment, stage))
            if cadence is None:
                cadence = memo.cadence(prospect, config.rules)
            key = (
                calendar,
                cadence,
                last,
                outcome,
                prospect.attempts if outcome in COUNTING_OUTCOMES else 0,
                stage if stage in CLOSED_STAGES else None,
                prospect.follow_up_on,
                # Created counts only for a row never contacted (rules._new_lead, _dead).
                prospect.created if last is None else None,
            )
            known = memo.computed.get(key)
            if known is None:
                computed = memo.computed[key] = compute(
                    prospect, rules=config.rules, calendar=calendar, today=today, owner=owner
                )
            else:
                rules = config.rules
                # assigned_to, whose answer is the Owner cell unless small deals go to a
                # delegate: asked of every row.
                who = (
                    prospect.owner
                    if rules.delegate_below is None
                    else assigned_to(prospect, owner, rules)
                )
                computed = (
                    known
                    if who == known.assigned_to
                    else Computed(known.next_follow_up, known.status, known.step, known.why, who)
                )
        else:
            computed = compute(
                prospect, rules=config.rules, calendar=calendar, today=today, owner=owner
            )
    except (ValueError, OverflowError) as error:
        # A date the calendar cannot work with (31-12-9999 as "never", say) must not stop
        # the run: this row needs attention, the others go on.
        ref = schema.cell_ref(config.tabs.prospects, prospect.row)
        message = i18n.R_("cannot work out a follow-up date (%(error)s)", error=str(error))
        problem = Problem(ref, i18n.Why(message))
        prospect = replace(prospect, problems=(*prospect.problems, problem))
        computed = compute(
            prospect, rules=config.rules, calendar=calendar, today=today, owner=owner
        )
    if (
        owner is not None
        # Owner.away_on's own first test, made here: it is asked for every row.
        and (owner.away_from is not None or owner.away_until is not None)
        and owner.away_on(today)
    ):
        cover = (owners or {}).get(vocab.normalise(owner.cover)) if owner.cover else None
        computed = with_leave(computed, prospect, owner, cover, today)
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
    owner = owners.get(vocab.normalise(prospect.owner))
    if owner is None:
        message = i18n.Why(
            i18n.R_("owner %(name)s is not in the Owners tab", name=repr(prospect.owner))
        )
    elif not owner.email:
        message = i18n.Why(
            i18n.R_("owner %(name)s has no email in the Owners tab", name=repr(prospect.owner))
        )
    else:
        return prospect
    ref = schema.cell_ref(header.tab, prospect.row, header.columns.get("owner"))
    return replace(prospect, problems=(*prospect.problems, Problem(ref, message)))


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
    #: Touches typed into the sheet since the last run, recorded now (one line each).
    typed: tuple[str, ...] = ()
    #: Why the changes wait in the pending journal ("" when they were written).
    pending: str = ""
    #: About the journal: changes included, changes held.
    notes: tuple[str, ...] = ()

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
            "typed_touches": list(self.typed),
            "pending": self.pending or None,
            "notes": list(self.notes),
        }


def refresh(
    backend: Backend,
    config: Config,
    today: date,
    *,
    dry_run: bool = False,
    force: bool = False,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> RefreshSummary:
    """Record the touches typed into the sheet, recompute the owned columns and write back
    only the cells whose value changes, with the touch snapshot for the next run."""
    from sheetfollow.workspace import open_workspace

    ws = open_workspace(backend, config, today, now=now, progress=progress)
    summary = refresh_in(ws, dry_run=dry_run, progress=progress)
    if dry_run:
        return summary
    saved = ws.save(force=force)
    cells = summary.cells_changed - len(saved.skipped) if saved.written else 0
    return replace(summary, skipped=saved.skipped, cells_changed=cells, pending=saved.pending)


def refresh_in(
    ws: Workspace, *, dry_run: bool = False, progress: Progress | None = None
) -> RefreshSummary:
    """The refresh, staged in `ws` (written by ws.save())."""
    # A first refresh makes a cell change for most owned cells, and a snapshot per row: all
    # kept until the write, so the collector would walk them again and again for nothing.
    with collector.paused():
        return _refresh_in(ws, dry_run=dry_run, progress=progress)


def _refresh_in(ws: Workspace, *, dry_run: bool, progress: Progress | None) -> RefreshSummary:
    from sheetfollow import snapshot, typed

    config, today, sheet = ws.config, ws.today, ws.sheet
    pipeline = ws.pipeline(progress)
    taken_over = _taken_over(pipeline, config)
    if taken_over and not dry_run:
        # The team's own Status (Warm, Koud ...) is never written over: one line on how
        # to give sheetfollow a column of its own.
        raise SheetError(f"{sheet.label}: {taken_over[0]}")
    changes, ids_filled = plan_refresh(pipeline, config, source=sheet.label)
    sheet.write([changes])
    filled = {
        cell.row: cell.value
        for cell in changes.cells
        if cell.column == changes.id_column and isinstance(cell.value, str)
    }
    prospects = [
        replace(row.prospect, id=filled[row.prospect.row])
        if filled and not row.prospect.id and row.prospect.row in filled
        else row.prospect
        for row in pipeline.rows
    ]
    taken = typed.snaps_to_take(
        prospects, ws.snapshots(), ws.waiting, pipeline.header, today, ws.compared
    )
    if taken:
        sheet.write([snapshot.append_changes(sheet, config, taken)])
    counts = count_statuses(pipeline.rows, today)
    return RefreshSummary(
        sheet=sheet.label,
        rows=len(pipeline.rows),
        new=counts["new"],
        due=counts["due"],
        overdue=counts["overdue"],
        dead=counts["dead"],
        needs_attention=counts["needs_attention"],
        cells_changed=len(changes.cells) + len(changes.new_headers) + ws.touch_cells,
        ids_filled=ids_filled,
        columns_added=tuple(changes.new_headers.values()),
        skipped=(),
        dry_run=dry_run,
        typed=tuple(item.line() for item in ws.typed_touches),
        notes=(
            *(f"warning: {line}" for line in taken_over),
            *ws.notes(),
            # What the daily limit moved, and today's loads past it (capacity.py).
            *capacity.notes(pipeline.rows, pipeline.over_limit, today),
        ),
    )


def _taken_over(pipeline: Pipeline, config: Config) -> list[str]:
    """One line per owned column whose cells hold the team's own values."""
    header = pipeline.header
    return [
        f"{schema.cell_ref(header.tab, header.header_row, column.column)}: "
        + schema.foreign_message(column, config.language)
        for column in pipeline.foreign
    ]


def count_statuses(rows: Iterable[Row], today: date) -> dict[str, int]:
    new = due = overdue = dead = needs_attention = 0
    for row in rows:
        c = row.computed
        status = c.status
        if status is Status.DEAD:
            dead += 1
        elif status is Status.NEEDS_ATTENTION:
            needs_attention += 1
        else:
            # capacity.was_due, spelt out (it is asked of every row): by the day the rules
            # gave, so a call the daily limit moved later was due as well.
            day = c.due_by_rules or c.next_follow_up
            if day is not None and day <= today and status in _ACTIONABLE:
                if day < today:
                    overdue += 1
                else:
                    due += 1
        if status is Status.NEW:
            new += 1
    return {
        "new": new,
        "due": due,
        "overdue": overdue,
        "dead": dead,
        "needs_attention": needs_attention,
    }


def plan_refresh(pipeline: Pipeline, config: Config, *, source: str = "") -> tuple[TabChanges, int]:
    """The cells to write: changed owned values, blank IDs, headers of missing columns."""
    assert not pipeline.rows_let_go, "refresh needs the rows of the tab"
    header = pipeline.header
    columns = dict(header.columns)
    changes = TabChanges(tab=header.tab, header_row=header.header_row, language=config.language)
    names = vocab.PROSPECT_HEADERS.get(config.language, vocab.PROSPECT_HEADERS["en"])
    missing = [name for name in ("id", *OWNED_FIELDS) if name not in columns]
    places = schema.NewColumns(pipeline.table, header, source=source)
    # A mapped header that is not there yet ([headers] status = "Status (sheetfollow)")
    # is the header of the column added.
    titles = [config.headers.get(n, names[n]) for n in missing]
    for name, column, title in zip(missing, places.place(titles), titles, strict=True):
        columns[name] = column
        changes.new_headers[column] = title
        changes.new_fields[column] = name
    changes.id_column = columns["id"]
    ids = IdMaker(config.id_prefix, [row.prospect.id for row in pipeline.rows])
    ids_filled = 0
    epoch, grid, cells = pipeline.table.epoch, pipeline.table.rows, changes.cells
    # OWNED_FIELDS' columns, in the order _owned_values gives their values.
    owned = [columns[name] for name in OWNED_FIELDS]
    held = itemgetter(*(column - 1 for column in owned))
    widest = max(owned)
    language = config.language
    english = language == i18n.SOURCE_LANGUAGE
    expected_ids, add = changes.expected_ids, cells.append
    status_value, text = _STATUS_VALUE, str.__str__
    for row in pipeline.rows:
        prospect = row.prospect
        number = prospect.row
        values = grid[number - 1]
        if prospect.id:
            expected_ids[number] = prospect.id
        else:
            add(CellWrite(number, columns["id"], ids.next()))
            ids_filled += 1
        c = row.computed
        if english:
            # _owned_values' values, made here: this runs for every row of every refresh.
            wanted_values: tuple[CellValue, ...] = (
                c.next_follow_up,
                status_value[c.status],
                c.step or None,
                text(c.why) if c.why else None,
                c.assigned_to or None,
            )
        else:
            wanted_values = _owned_values(c, language)
        # An unchanged row, the usual one: the five cells hold exactly what is wanted (a
        # date cell for the date; texts, never blank, as the same str).
        width = len(values)
        if width >= widest:
            current_values = held(values)
            if current_values == wanted_values:
                continue
        else:
            current_values = tuple(
                values[column - 1] if column <= width else None for column in owned
            )
        # A row that changes: more than half of them each night (an overdue row's Why counts
        # its days), so the values just compared are reused rather than looked up again.
        for column, current, wanted in zip(owned, current_values, wanted_values, strict=True):
            # What an unchanged cell holds, decided without _same's parsing, and an empty
            # cell (a first refresh's).
            if current is None:
                if wanted is not None and wanted != "":
                    add(CellWrite(number, column, wanted))
                continue
            if (
                type(current) is type(wanted)
                and current == wanted
                and (type(wanted) is date or (type(wanted) is str and wanted.strip()))
            ):
                continue
            if type(wanted) is str and type(current) is str and wanted and current.strip():
                # Two texts, neither blank (a Why that counts one more day): _same, decided.
                if current != wanted:
                    add(CellWrite(number, column, wanted))
                continue
            if not _same(current, wanted, epoch):
                add(CellWrite(number, column, wanted))
    for number in pipeline.empty_rows:
        values = pipeline.table.rows[number - 1]
        for name in OWNED_FIELDS:
            column = columns[name]
            if column <= len(values) and not _blank(values[column - 1]):
                changes.cells.append(CellWrite(number, column, None))
    return changes, ids_filled


#: Each Status as refresh writes it in English: its word, a plain str.
_STATUS_VALUE: Mapping[Status, str] = {status: status.value for status in Status}


def _owned_values(computed: Computed, language: str = "en") -> tuple[CellValue, ...]:
    """owned_cell_values' values, in OWNED_FIELDS order, in the team's language (i18n.py:
    the same words every night, so an unchanged row stays unchanged)."""
    return (
        computed.next_follow_up,
        i18n.status_text(computed.status.value, language),
        i18n.step_text(computed.step, language) if computed.step else None,
        i18n.localise(computed.why, language) if computed.why else None,
        computed.assigned_to or None,
    )


def owned_cell_values(computed: Computed, language: str = "en") -> dict[str, CellValue]:
    return dict(zip(OWNED_FIELDS, _owned_values(computed, language), strict=True))


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
        # One match per ID (a refresh makes an IdMaker for every row's ID).
        digits = [m[1] for m in map(pattern.match, self.taken) if m]
        self.counter = max(map(int, digits), default=0)
        self.width = max(4, max(map(len, digits), default=0))

    def next(self) -> str:
        while True:
            self.counter += 1
            candidate = f"{self.prefix}{self.counter:0{self.width}d}"
            if candidate not in self.taken:
                self.taken.add(candidate)
                return candidate


# --- due and check ---------------------------------------------------------------------


def due_rows(pipeline: Pipeline, today: date, owner: str | None = None) -> list[Row]:
    """Today's call list in the call order (sheetfollow/priority.py). With `owner`, only the
    rows that person owns or is assigned; a name nobody in the sheet or the Owners tab has
    is a UsageError that suggests the names it comes close to."""
    wanted = vocab.normalise(owner) if owner is not None else None
    if owner is not None:
        _known_person(pipeline, owner)
    # Computed.is_due, spelt out: it is asked of every row.
    rows = [
        row
        for row in pipeline.rows
        if (day := row.computed.next_follow_up) is not None
        and day <= today
        and row.computed.status in _ACTIONABLE
        and (
            wanted is None
            or wanted
            in (vocab.normalise(row.computed.assigned_to), vocab.normalise(row.prospect.owner))
        )
    ]
    return priority.in_order(rows, today)


_ACTIONABLE = frozenset(status for status in Status if status.actionable)


def people(pipeline: Pipeline) -> list[str]:
    """Everyone a row can be for: owners and delegates in the Owners tab, owners and
    assignees in the sheet; each once, as first written."""
    names: dict[str, str] = {}
    listed = list(pipeline.owners.values()) if pipeline.owners else []
    candidates = [name for o in listed for name in (o.name, o.delegate)]
    candidates += [
        n for row in pipeline.rows for n in (row.prospect.owner, row.computed.assigned_to)
    ]
    for name in candidates:
        if name.strip():
            names.setdefault(vocab.normalise(name), name.strip())
    return list(names.values())


_MAX_NAMES_SHOWN = 8


def _known_person(pipeline: Pipeline, name: str) -> None:
    from sheetfollow.errors import UsageError

    everyone = people(pipeline)
    key = vocab.normalise(name)
    if key and key in {vocab.normalise(person) for person in everyone}:
        return
    from rapidfuzz import fuzz, process  # only for a misspelt name

    from sheetfollow.mark import SUGGEST_SCORE  # names that come as close as mark suggests

    hits = process.extract(
        key,
        {person: vocab.normalise(person) for person in everyone},
        scorer=fuzz.WRatio,
        processor=None,
        score_cutoff=SUGGEST_SCORE,
        limit=5,
    )
    close = sorted(hits, key=lambda hit: (-hit[1], hit[2]))
    hint = f"; did you mean {', '.join(hit[2] for hit in close)}?" if close else ""
    if not close and everyone:
        shown = everyone[:_MAX_NAMES_SHOWN]
        more = f" and {len(everyone) - len(shown)} more" if len(everyone) > len(shown) else ""
        hint = f"; the names it has are {', '.join(shown)}{more}"
    raise UsageError(f"no owner or delegate named '{name}' in the sheet or its Owners tab{hint}")


def row_as_dict(row: Row, today: date) -> dict[str, object]:
    # Made for every row of `due --json`: enum words from a table (an enum's .value goes
    # through Python code), dates without a helper.
    p, c = row.prospect, row.computed
    last, due, moved = p.last_contact, c.next_follow_up, c.due_by_rules
    return {
        "row": p.row,
        "id": p.id,
        "company": p.company,
        "contact": p.contact,
        "email": p.email,
        "phone": p.phone,
        "owner": p.owner,
        "assigned_to": c.assigned_to,
        "stage": _WORD[p.stage] if p.stage else None,
        "segment": p.segment,
        "value": p.value,
        "last_contact": last.isoformat() if last else None,
        "last_outcome": _WORD[p.last_outcome] if p.last_outcome else None,
        "attempts": p.attempts,
        "next_follow_up": due.isoformat() if due else None,
        # The day the rules gave, when the daily limit moved the call later (capacity.py).
        "due_by_rules": moved.isoformat() if moved else None,
        "days_overdue": (today - due).days if due and due < today else 0,
        "status": _WORD[c.status],
        "step": c.step,
        # A plain str: a Why (a str subclass) would send the JSON writer down its slow path.
        "why": str(c.why),
    }


#: Each Stage, Outcome and Status member's word (its value), as a plain str. The members
#: are str, equal to their words: Stage.WON and Outcome.WON share the entry "won".
_WORD: Mapping[Stage | Outcome | Status, str] = {
    member: member.value for kind in (Stage, Outcome, Status) for member in kind
}


def check(pipeline: Pipeline) -> list[Problem]:
    """Every problem in the sheet, each with its cell reference, in sheet order."""
    return [*pipeline.problems, *pipeline.row_problems]
