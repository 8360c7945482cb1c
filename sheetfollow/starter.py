"""`sheetfollow init`: a starter workbook, the example workbook and a commented config.

Everything here writes NEW files only (or replaces them when the user asked to overwrite);
it never opens a user's workbook. The layout it builds (tabs, headers, formats, dropdowns,
status colours) is also the base of the shipped example workbook.
"""

from __future__ import annotations

import importlib.resources
import io
import json
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openpyxl import Workbook, load_workbook
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from sheetfollow import vocab
from sheetfollow.config import CONFIG_NAME, config_from_text
from sheetfollow.errors import SheetError, SheetfollowError, UsageError
from sheetfollow.fields import (
    ALL_FIELDS,
    DATE_FIELDS,
    LANGUAGES,
    LOG_FIELDS,
    OWNED_FIELDS,
    OWNER_FIELDS,
)
from sheetfollow.models import Channel, Outcome, Stage, Status

if TYPE_CHECKING:
    if sys.version_info >= (3, 11):
        from importlib.resources.abc import Traversable
    else:
        from importlib.abc import Traversable

#: The day the dates in templates/example.xlsx are written relative to. write_example moves
#: them so that this day becomes "today".
EXAMPLE_ANCHOR = date(2026, 11, 20)

#: Dropdowns and status colours cover rows 2 to this one.
LAST_ROW = 1000

DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
VALUE_FORMAT = "#,##0"
COUNT_FORMAT = "0"

#: Number formats by field, in every tab: Log's "when" is a moment, the others are days.
NUMBER_FORMATS: dict[str, str] = {
    **dict.fromkeys(sorted(DATE_FIELDS), DATE_FORMAT),
    "when": DATETIME_FORMAT,
    "value": VALUE_FORMAT,
    "attempts": COUNT_FORMAT,
}

#: Where a fresh workbook's owner keeps public holidays, by the language chosen at init.
COUNTRY_BY_LANGUAGE = {"en": "GB", "nl": "NL", "de": "DE", "da": "DK", "es": "ES"}

_WIDTHS = {
    "id": 9,
    "company": 30,
    "contact": 22,
    "email": 30,
    "phone": 18,
    "owner": 12,
    "stage": 15,
    "segment": 15,
    "value": 11,
    "created": 12,
    "last_contact": 13,
    "last_outcome": 16,
    "attempts": 9,
    "follow_up_on": 13,
    "channel": 10,
    "notes": 45,
    "next_follow_up": 14,
    "status": 16,
    "step": 8,
    "why": 60,
    "assigned_to": 13,
    "when": 17,
    "by": 12,
    "outcome": 16,
    "note": 45,
    "delegate": 12,
    "language": 10,
    "country": 9,
    "manager": 12,
    "digest": 9,
}

_HEADER_FONT = Font(bold=True)
_INPUT_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
#: Owned columns look different so people see at a glance which cells the tool fills in.
_OWNED_HEADER_FILL = PatternFill("solid", fgColor="D9D9D9")


@dataclass(frozen=True)
class _Look:
    """How one group of statuses is shown: a fill colour (or none) and a text colour."""

    statuses: tuple[Status, ...]
    fill: str | None
    text: str


_STATUS_LOOKS = (
    _Look((Status.OVERDUE,), "FFC7CE", "9C0006"),
    _Look((Status.DUE,), "F8CBAD", "843C0C"),
    _Look((Status.NEW,), "DDEBF7", "1F4E78"),
    _Look((Status.SCHEDULED, Status.SNOOZED), "EDEDED", "404040"),
    _Look((Status.WON, Status.CUSTOMER), "C6EFCE", "006100"),
    _Look((Status.NEEDS_ATTENTION,), "FFEB9C", "7F6000"),
    # Closed rows fade into the background; dead ones too, until someone gets through.
    _Look((Status.DEAD, Status.LOST, Status.NOT_INTERESTED), None, "595959"),
)


# --- Public entry points ----------------------------------------------------------------------


def write_starter(path: Path, *, lang: str = "en", today: date, overwrite: bool = False) -> None:
    """A ready starter workbook at `path`: Prospects, Log and Owners in `lang`, with a couple
    of example rows dated around `today`. Refuses to replace an existing file unless
    `overwrite`."""
    workbook = new_workbook(lang)
    _add_starter_rows(workbook, lang, today)
    _write_new(path, _to_bytes(workbook), overwrite=overwrite)


def write_example(path: Path, *, today: date, overwrite: bool = False) -> None:
    """The bundled demo workbook, with every date moved so that EXAMPLE_ANCHOR becomes today."""
    with (templates() / "example.xlsx").open("rb") as shipped:
        workbook = load_workbook(io.BytesIO(shipped.read()))
    shift_dates(workbook, today - EXAMPLE_ANCHOR)
    _write_new(path, _to_bytes(workbook), overwrite=overwrite)


def write_config(
    path: Path,
    *,
    sheet: str,
    lang: str,
    workbook_lang: str | None = None,
    overwrite: bool = False,
) -> None:
    """templates/sheetfollow.toml with `sheet` and `language` filled in, and [tabs] naming
    the tabs as a starter workbook in `workbook_lang` (default: `lang`) names them."""
    _check_language(lang)
    _check_language(workbook_lang or lang)
    text = (templates() / CONFIG_NAME).read_text(encoding="utf-8")
    text = _set_key(text, "", "sheet", sheet)
    text = _set_key(text, "", "language", lang)
    for tab, name in vocab.TAB_NAMES[workbook_lang or lang].items():
        text = _set_key(text, "tabs", tab, name)
    # What init writes must load: check it the way sheetfollow will read it.
    config_from_text(text, source=str(path), base=path.parent)
    _write_new(path, text.encode("utf-8"), overwrite=overwrite)


def init(
    path: Path, *, lang: str = "en", example: bool = False, overwrite: bool = False, today: date
) -> list[Path]:
    """The workbook at `path` (starter or example) and sheetfollow.toml next to it.

    Nothing is written when either file exists and `overwrite` is false.
    """
    _check_language(lang)
    config = path.parent / CONFIG_NAME
    if not overwrite:
        for target in (path, config):
            _refuse_existing(target)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SheetError(f"cannot create the folder {path.parent}: {exc.strerror or exc}") from None
    if example:
        write_example(path, today=today, overwrite=overwrite)
    else:
        write_starter(path, lang=lang, today=today, overwrite=overwrite)
    # The example workbook is English whatever the team's language.
    tabs_in = "en" if example else lang
    write_config(config, sheet=path.name, lang=lang, workbook_lang=tabs_in, overwrite=overwrite)
    return [path, config]


def templates() -> Traversable:
    """The shipped templates/ folder (the package sheetfollow.templates once installed)."""
    try:
        return importlib.resources.files("sheetfollow.templates")
    except ModuleNotFoundError:
        # A source checkout used without installing: templates/ sits next to the package.
        return Path(__file__).resolve().parent.parent / "templates"


# --- The layout -------------------------------------------------------------------------------


def new_workbook(lang: str = "en") -> Any:
    """An openpyxl Workbook with the starter layout in `lang` and no data rows.

    Prospects is the first and active tab; header rows are bold, frozen and filtered; date,
    value and count columns carry their number formats; Stage, Last outcome, Channel and
    Digest have dropdowns; Status is coloured by conditional formatting.
    """
    _check_language(lang)
    workbook = Workbook()
    tabs = vocab.TAB_NAMES[lang]
    prospects = workbook.active
    prospects.title = tabs["prospects"]
    _lay_out(prospects, ALL_FIELDS, vocab.PROSPECT_HEADERS[lang], owned=OWNED_FIELDS)
    _add_prospect_dropdowns(prospects, lang)
    _colour_status(prospects, lang)
    log = workbook.create_sheet(tabs["log"])
    _lay_out(log, LOG_FIELDS, vocab.LOG_HEADERS[lang])
    _add_dropdown(log, LOG_FIELDS, "outcome", vocab.OUTCOME_NAMES[lang].values())
    _add_dropdown(log, LOG_FIELDS, "channel", vocab.CHANNEL_NAMES[lang].values())
    owners = workbook.create_sheet(tabs["owners"])
    _lay_out(owners, OWNER_FIELDS, vocab.OWNER_HEADERS[lang], filtered=False)
    _add_dropdown(owners, OWNER_FIELDS, "language", LANGUAGES)
    _add_dropdown(owners, OWNER_FIELDS, "digest", vocab.YES_NO[lang])
    workbook.active = 0
    return workbook


def append_row(sheet: Worksheet, columns: Sequence[str], values: Mapping[str, object]) -> int:
    """Write `values` (field -> value) as the next row of a tab laid out with `columns`.

    Dates, amounts and counts get their number formats: a cell written by a program does not
    take the column's format the way a typed one does. Returns the new row's number.
    """
    unknown = set(values) - set(columns)
    if unknown:
        raise ValueError(f"not columns of this tab: {', '.join(sorted(unknown))}")
    row: int = sheet.max_row + 1
    for index, name in enumerate(columns, start=1):
        value = values.get(name)
        if value is None or value == "":
            continue
        cell = sheet.cell(row=row, column=index, value=value)
        if name in NUMBER_FORMATS and isinstance(value, (date, int, float)):
            cell.number_format = NUMBER_FORMATS[name]
    _widen_filter(sheet, row)
    return row


def shift_dates(workbook: Any, by: timedelta) -> None:
    """Move every date and date-time cell of every tab by `by`; text that looks like a date
    stays text (the example's deliberately broken "next tuesday" must stay broken)."""
    if not by:
        return
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, date):  # datetime is a date too
                    cell.value = cell.value + by


def _lay_out(
    sheet: Worksheet,
    columns: Sequence[str],
    headers: Mapping[str, str],
    *,
    owned: Iterable[str] = (),
    filtered: bool = True,
) -> None:
    owned = set(owned)
    for index, name in enumerate(columns, start=1):
        # Plain strings, never rich text or formulas: header matching reads them as typed.
        cell = sheet.cell(row=1, column=index, value=str(headers[name]))
        cell.font = _HEADER_FONT
        cell.fill = _OWNED_HEADER_FILL if name in owned else _INPUT_HEADER_FILL
        cell.alignment = Alignment(vertical="center")
        column = sheet.column_dimensions[get_column_letter(index)]
        column.width = max(_WIDTHS.get(name, 12), len(headers[name]) + 3)
        if name in NUMBER_FORMATS:
            # What people type into the column takes this format; no cells are created.
            column.number_format = NUMBER_FORMATS[name]
    sheet.freeze_panes = "A2"
    if filtered:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}1"


def _widen_filter(sheet: Worksheet, row: int) -> None:
    ref = sheet.auto_filter.ref
    if ref:
        sheet.auto_filter.ref = re.sub(r"\d+$", str(row), ref)


def _add_prospect_dropdowns(sheet: Worksheet, lang: str) -> None:
    _add_dropdown(sheet, ALL_FIELDS, "stage", vocab.STAGE_NAMES[lang].values())
    _add_dropdown(sheet, ALL_FIELDS, "last_outcome", vocab.OUTCOME_NAMES[lang].values())
    _add_dropdown(sheet, ALL_FIELDS, "channel", vocab.CHANNEL_NAMES[lang].values())


def _add_dropdown(
    sheet: Worksheet, columns: Sequence[str], name: str, choices: Iterable[str]
) -> None:
    items = list(choices)
    formula = '"' + ",".join(items) + '"'
    if len(formula) > 257 or any("," in item or '"' in item for item in items):
        raise ValueError(f"the {name} choices do not fit an Excel dropdown: {items}")
    letter = get_column_letter(columns.index(name) + 1)
    validation = DataValidation(
        type="list",
        formula1=formula,
        allow_blank=True,
        # A warning, not a stop: sheetfollow also understands other spellings and languages.
        errorStyle="warning",
        showErrorMessage=True,
        errorTitle="sheetfollow",
        error="Not one of the listed values. Keep it anyway?",
    )
    validation.add(f"{letter}2:{letter}{LAST_ROW}")
    sheet.add_data_validation(validation)


def _colour_status(sheet: Worksheet, lang: str) -> None:
    letter = get_column_letter(ALL_FIELDS.index("status") + 1)
    cells = f"{letter}2:{letter}{LAST_ROW}"
    for look in _STATUS_LOOKS:
        sheet.conditional_formatting.add(cells, _status_rule(f"{letter}2", look, lang))


def _status_rule(first_cell: str, look: _Look, lang: str) -> Any:
    # The Status column holds the English values; a team may also have translated them.
    words: list[str] = []
    for status in look.statuses:
        for word in (status.value, vocab.STATUS_NAMES[lang][status]):
            if word.casefold() not in (w.casefold() for w in words):
                words.append(word)
    # Text comparison in Excel ignores case, so "Overdue" matches "overdue".
    tests = [f'{first_cell}="{word}"' for word in words]
    formula = tests[0] if len(tests) == 1 else f"OR({','.join(tests)})"
    fill = PatternFill("solid", bgColor=look.fill) if look.fill else None
    return FormulaRule(formula=[formula], font=Font(color=look.text), fill=fill, stopIfTrue=True)


# --- Starter content --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Sample:
    company: str
    other_company: str
    contact: str
    email: str
    phone: str
    first_note: str
    second_note: str


_SAMPLES = {
    "en": _Sample(
        "Northwind Supplies Ltd",
        "Harbour Tools Ltd",
        "Jane Smith",
        "jane.smith@northwind.example",
        "+44 20 7946 0123",
        "Example row: replace it with your own prospects.",
        "Left a message with reception.",
    ),
    "nl": _Sample(
        "Voorbeeld Techniek B.V.",
        "Bakker Installaties B.V.",
        "Jan de Vries",
        "jan.devries@voorbeeld.example",
        "+31 20 123 4567",
        "Voorbeeldregel: vervang hem door je eigen prospects.",
        "Bericht achtergelaten bij de receptie.",
    ),
    "de": _Sample(
        "Muster Maschinenbau GmbH",
        "Beispiel Logistik GmbH",
        "Max Mustermann",
        "max.mustermann@muster.example",
        "+49 30 1234567",
        "Beispielzeile: durch eigene Interessenten ersetzen.",
        "Nachricht am Empfang hinterlassen.",
    ),
    "da": _Sample(
        "Eksempel Emballage ApS",
        "Nordisk Værktøj A/S",
        "Jens Hansen",
        "jens.hansen@eksempel.example",
        "+45 33 12 34 56",
        "Eksempelrække: erstat den med dine egne emner.",
        "Efterlod besked i receptionen.",
    ),
    "es": _Sample(
        "Suministros Ejemplo S.L.",
        "Talleres Modelo S.A.",
        "María García",
        "maria.garcia@ejemplo.example",
        "+34 912 345 678",
        "Fila de ejemplo: sustitúyela por tus propios prospectos.",
        "Dejé un mensaje en recepción.",
    ),
}

_STARTER_OWNER = "Anna"


def _add_starter_rows(workbook: Any, lang: str, today: date) -> None:
    sample = _SAMPLES[lang]
    prospects, log, owners = workbook.worksheets
    stages, outcomes = vocab.STAGE_NAMES[lang], vocab.OUTCOME_NAMES[lang]
    phone = vocab.CHANNEL_NAMES[lang][Channel.PHONE]
    called = today - timedelta(days=2)
    append_row(
        prospects,
        ALL_FIELDS,
        {
            "id": "P-0001",
            "company": sample.company,
            "contact": sample.contact,
            "email": sample.email,
            "phone": sample.phone,
            "owner": _STARTER_OWNER,
            "stage": stages[Stage.NEW],
            "value": 5000,
            "created": today,
            "notes": sample.first_note,
        },
    )
    second = {
        "id": "P-0002",
        "company": sample.other_company,
        "contact": sample.contact,
        "phone": sample.phone,
        "owner": _STARTER_OWNER,
        "stage": stages[Stage.CONTACTED],
        "value": 12000,
        "created": today - timedelta(days=7),
        "last_contact": called,
        "last_outcome": outcomes[Outcome.NO_ANSWER],
        "attempts": 1,
        "channel": phone,
        "notes": sample.second_note,
    }
    append_row(prospects, ALL_FIELDS, second)
    append_row(
        log,
        LOG_FIELDS,
        {
            "when": datetime.combine(called, time(10, 15)),
            "id": second["id"],
            "company": second["company"],
            "by": _STARTER_OWNER,
            "outcome": second["last_outcome"],
            "channel": phone,
            "note": sample.second_note,
        },
    )
    append_row(
        owners,
        OWNER_FIELDS,
        {
            "owner": _STARTER_OWNER,
            "email": "anna@example.com",
            "language": lang,
            "country": COUNTRY_BY_LANGUAGE[lang],
            "digest": vocab.YES_NO[lang][0],
        },
    )


# --- Files ------------------------------------------------------------------------------------


def _check_language(lang: str) -> None:
    if lang not in LANGUAGES:
        raise SheetfollowError(f"unknown language {lang!r}: choose one of {', '.join(LANGUAGES)}")


def _set_key(text: str, section: str, key: str, value: str) -> str:
    """Set `key = "value"` in [section] ("" = the top level), keeping every comment."""
    start = text.find(f"\n[{section}]\n") + 1 if section else 0
    if section and not start:
        raise SheetfollowError(f"the shipped {CONFIG_NAME} has no [{section}] table")
    following = re.compile(r"^\[", re.MULTILINE).search(text, start + 1)
    end = following.start() if following else len(text)
    pattern = re.compile(rf"^{re.escape(key)} = .*$", re.MULTILINE)
    # A JSON string is a valid TOML basic string (same escapes), Windows paths included.
    line = f"{key} = {json.dumps(value, ensure_ascii=False)}"
    body, count = pattern.subn(lambda _: line, text[start:end], 1)
    if count != 1:
        raise SheetfollowError(f"the shipped {CONFIG_NAME} has no '{key} =' line")
    return text[:start] + body + text[end:]


def _to_bytes(workbook: Any) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _refuse_existing(path: Path) -> None:
    if path.exists():
        raise UsageError(f"{path} already exists; not replacing it (use --overwrite)")


def _write_new(path: Path, data: bytes, *, overwrite: bool) -> None:
    try:
        if overwrite:
            _replace(path, data)
            return
        # "x" creates the file or fails: no window in which another program's new file at
        # the same path could be overwritten.
        with path.open("xb") as handle:
            _fill(path, handle, data)
    except FileExistsError:
        raise SheetfollowError(
            f"{path} already exists; not replacing it (use --overwrite)"
        ) from None
    except OSError as exc:
        raise SheetfollowError(f"cannot write {path}: {exc.strerror or exc}") from None


def _fill(path: Path, handle: Any, data: bytes) -> None:
    try:
        handle.write(data)
    except BaseException:
        handle.close()
        path.unlink(missing_ok=True)  # never leave half a workbook behind
        raise


def _replace(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
