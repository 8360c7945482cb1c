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

from sheetfollow import i18n, vocab
from sheetfollow.config import CONFIG_NAME, config_from_text
from sheetfollow.errors import SheetError, SheetfollowError, UsageError
from sheetfollow.fields import (
    ALL_FIELDS,
    ALL_OWNER_FIELDS,
    DATE_FIELDS,
    LANGUAGES,
    LOG_FIELDS,
    OWNED_FIELDS,
)
from sheetfollow.models import Channel, Outcome, Stage, Status

# openpyxl is imported in the functions that build a workbook: `mark`, `notify` and the
# Excel backend use this module only for column widths and status colours, and openpyxl
# takes a tenth of a second to import.
if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

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
    # The Owners tab's leave and daily limit.
    "away_from": DATE_FORMAT,
    "away_until": DATE_FORMAT,
    "calls_per_day": COUNT_FORMAT,
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
    "away_from": 13,
    "away_until": 13,
    "cover": 12,
    "calls_per_day": 10,
}


def column_width(name: str, header: str) -> float:
    """The width (in characters) a starter workbook gives the column of field `name`, at
    least as wide as its header."""
    return max(_WIDTHS.get(name, 12), len(header) + 3)


_INPUT_HEADER_FILL = "DDEBF7"
#: Owned columns look different so people see at a glance which cells the tool fills in.
_OWNED_HEADER_FILL = "D9D9D9"


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


def write_starter(
    path: Path, *, lang: str = "en", today: date, overwrite: bool = False, country: str = ""
) -> None:
    """A ready starter workbook at `path`: Prospects, Log and Owners in `lang`, with a couple
    of example rows dated around `today` (the example owner in `country`, default the
    language's). Refuses to replace an existing file unless `overwrite`."""
    workbook = new_workbook(lang)
    _add_starter_rows(workbook, lang, today, country)
    _write_new(path, _to_bytes(workbook), overwrite=overwrite)


def write_example(path: Path, *, today: date, overwrite: bool = False, lang: str = "en") -> None:
    """The bundled demo workbook, with every date moved so that EXAMPLE_ANCHOR becomes today,
    in `lang`: its tabs, headers, dropdown words and status colours (the notes stay English)."""
    from openpyxl import load_workbook

    with (templates() / "example.xlsx").open("rb") as shipped:
        workbook = load_workbook(io.BytesIO(shipped.read()))
    shift_dates(workbook, today - EXAMPLE_ANCHOR)
    if lang != "en":
        _translate_example(workbook, lang)
    _write_new(path, _to_bytes(workbook), overwrite=overwrite)


def _translate_example(workbook: Any, lang: str) -> None:
    """The English example in `lang`, laid out as new_workbook(lang) lays out a starter."""
    from openpyxl.formatting.formatting import ConditionalFormattingList

    tabs = vocab.TAB_NAMES
    layouts = (
        ("prospects", vocab.PROSPECT_HEADERS),
        ("log", vocab.LOG_HEADERS),
        ("owners", vocab.OWNER_HEADERS),
    )
    words: dict[str, tuple[Mapping[str, Any], Mapping[str, Mapping[Any, str]]]] = {
        "stage": (vocab.STAGE_ALIASES, vocab.STAGE_NAMES),
        "last_outcome": (vocab.OUTCOME_ALIASES, vocab.OUTCOME_NAMES),
        "outcome": (vocab.OUTCOME_ALIASES, vocab.OUTCOME_NAMES),
        "channel": (vocab.CHANNEL_ALIASES, vocab.CHANNEL_NAMES),
    }
    for tab, headers in layouts:
        sheet = workbook[tabs["en"][tab]]
        sheet.title = tabs[lang][tab]
        field_of = {title: name for name, title in headers["en"].items()}
        for cell in sheet[1]:
            name = field_of.get(cell.value)
            if name is None:
                continue
            cell.value = headers[lang][name]
            if name == "digest":
                yes, no = vocab.YES_NO[lang]
                for value in _cells_below(sheet, cell.column):
                    if isinstance(value.value, str) and value.value.strip():
                        value.value = yes if vocab.BOOL_ALIASES.get(value.value.lower()) else no
            if name not in words or tab == "owners":
                continue
            aliases, names = words[name]
            for value in _cells_below(sheet, cell.column):
                member = aliases.get(vocab.normalise(value.value)) if value.value else None
                if member is not None:
                    value.value = names[lang][member]
        # The dropdowns and status colours of the language, as a starter has them.
        sheet.data_validations.dataValidation = []
        sheet.conditional_formatting = ConditionalFormattingList()
    prospects, log = workbook[tabs[lang]["prospects"]], workbook[tabs[lang]["log"]]
    _add_prospect_dropdowns(prospects, lang)
    _colour_status(prospects, lang)
    _add_dropdown(log, LOG_FIELDS, "outcome", vocab.OUTCOME_NAMES[lang].values())
    _add_dropdown(log, LOG_FIELDS, "channel", vocab.CHANNEL_NAMES[lang].values())
    owners = workbook[tabs[lang]["owners"]]
    _add_dropdown(owners, ALL_OWNER_FIELDS, "language", LANGUAGES)
    _add_dropdown(owners, ALL_OWNER_FIELDS, "digest", vocab.YES_NO[lang])


def _cells_below(sheet: Worksheet, column: int) -> list[Any]:
    return [row[0] for row in sheet.iter_rows(min_row=2, min_col=column, max_col=column)]


#: The team's clock and holidays a fresh config gets for each language (--country and
#: --timezone override them). English keeps the template's.
_TEAM_DEFAULTS: dict[str, tuple[str, str]] = {
    "nl": ("NL", "Europe/Amsterdam"),
    "de": ("DE", "Europe/Berlin"),
    "da": ("DK", "Europe/Copenhagen"),
    "es": ("ES", "Europe/Madrid"),
}
#: The time zone a fresh config gets for a --country (the first of several for the US).
_ZONE_OF_COUNTRY: dict[str, str] = {
    **{country: zone for country, zone in _TEAM_DEFAULTS.values()},
    "GB": "Europe/London",
    "IE": "Europe/Dublin",
    "BE": "Europe/Brussels",
    "AT": "Europe/Vienna",
    "CH": "Europe/Zurich",
    "SE": "Europe/Stockholm",
    "NO": "Europe/Oslo",
    "FR": "Europe/Paris",
    "US": "America/New_York",
}


def write_config(
    path: Path,
    *,
    sheet: str,
    lang: str,
    workbook_lang: str | None = None,
    overwrite: bool = False,
    country: str | None = None,
    timezone: str | None = None,
) -> None:
    """templates/sheetfollow.toml with `sheet` and `language` filled in, and [tabs] naming
    the tabs as a starter workbook in `workbook_lang` (default: `lang`) names them. The
    holidays' country and the time zone are the language's usual ones unless given."""
    _check_language(lang)
    _check_language(workbook_lang or lang)
    text = (templates() / CONFIG_NAME).read_text(encoding="utf-8")
    text = _set_key(text, "", "sheet", sheet)
    text = _set_key(text, "", "language", lang)
    usual_country, usual_zone = _TEAM_DEFAULTS.get(lang, ("", ""))
    chosen = (country or usual_country).upper()
    zone = timezone or (_ZONE_OF_COUNTRY.get(chosen, "") if country else usual_zone)
    if chosen:
        text = _set_key(text, "calendar", "country", chosen)
        text = _set_key(text, "", "date_order", "MDY" if chosen == "US" else "DMY")
    if zone:
        text = _set_key(text, "", "timezone", zone)
    for tab, name in vocab.TAB_NAMES[workbook_lang or lang].items():
        text = _set_key(text, "tabs", tab, name)
    # What init writes must load: check it the way sheetfollow will read it.
    config_from_text(text, source=str(path), base=path.parent)
    _write_new(path, text.encode("utf-8"), overwrite=overwrite)


def init(
    path: Path,
    *,
    lang: str = "en",
    example: bool = False,
    overwrite: bool = False,
    today: date,
    country: str | None = None,
    timezone: str | None = None,
) -> list[Path]:
    """The workbook at `path` (starter or example) and sheetfollow.toml next to it.

    Nothing is written when either file exists and `overwrite` is false; an existing
    workbook is pointed to `sheetfollow adopt`, which sets it up without changing it.
    """
    _check_language(lang)
    config = path.parent / CONFIG_NAME
    if not overwrite:
        if path.exists():
            raise UsageError(
                f"{path} already exists; to use the workbook you have, run "
                f"'sheetfollow adopt {path}' (it writes only {CONFIG_NAME} and never changes "
                "the workbook)"
            )
        _refuse_existing(config)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SheetError(f"cannot create the folder {path.parent}: {exc.strerror or exc}") from None
    if example:
        write_example(path, today=today, overwrite=overwrite, lang=lang)
    else:
        write_starter(path, lang=lang, today=today, overwrite=overwrite, country=country or "")
    write_config(
        config,
        sheet=path.name,
        lang=lang,
        workbook_lang=lang,
        overwrite=overwrite,
        country=country,
        timezone=timezone,
    )
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
    from openpyxl import Workbook

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
    # With the optional columns (empty): Away from, Away until, Cover and Calls per day, so
    # a team finds where leave and a daily limit go.
    _lay_out(owners, ALL_OWNER_FIELDS, vocab.OWNER_HEADERS[lang], filtered=False)
    _add_dropdown(owners, ALL_OWNER_FIELDS, "language", LANGUAGES)
    _add_dropdown(owners, ALL_OWNER_FIELDS, "digest", vocab.YES_NO[lang])
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
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    owned = set(owned)
    bold = Font(bold=True)
    owned_fill = PatternFill("solid", fgColor=_OWNED_HEADER_FILL)
    input_fill = PatternFill("solid", fgColor=_INPUT_HEADER_FILL)
    for index, name in enumerate(columns, start=1):
        # Plain strings, never rich text or formulas: header matching reads them as typed.
        cell = sheet.cell(row=1, column=index, value=str(headers[name]))
        cell.font = bold
        cell.fill = owned_fill if name in owned else input_fill
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
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

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
    from openpyxl.utils import get_column_letter

    letter = get_column_letter(ALL_FIELDS.index("status") + 1)
    cells = f"{letter}2:{letter}{LAST_ROW}"
    for look in _STATUS_LOOKS:
        sheet.conditional_formatting.add(cells, _status_rule(f"{letter}2", look, lang))


def _status_rule(first_cell: str, look: _Look, lang: str) -> Any:
    from openpyxl.formatting.rule import FormulaRule
    from openpyxl.styles import Font, PatternFill

    fill = PatternFill("solid", bgColor=look.fill) if look.fill else None
    formula = status_formula(first_cell, look, lang)
    return FormulaRule(formula=[formula], font=Font(color=look.text), fill=fill, stopIfTrue=True)


def status_formula(first_cell: str, look: _Look, lang: str) -> str:
    """The formula of one status colour on `first_cell` (also for the Excel backend, which
    adds the colours to a workbook without openpyxl)."""
    # The Status column holds the words sheetfollow writes in the team's language (i18n.py),
    # or the English values of a workbook refreshed before; a team may have its own too.
    words: list[str] = []
    for status in look.statuses:
        own = (status.value, vocab.STATUS_NAMES[lang][status])
        for word in (i18n.status_text(status.value, lang), *own):
            if word.casefold() not in (w.casefold() for w in words):
                words.append(word)
    # Text comparison in Excel ignores case, so "Overdue" matches "overdue".
    tests = [f'{first_cell}="{word}"' for word in words]
    return tests[0] if len(tests) == 1 else f"OR({','.join(tests)})"


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


def _add_starter_rows(workbook: Any, lang: str, today: date, country: str = "") -> None:
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
        ALL_OWNER_FIELDS,
        {
            "owner": _STARTER_OWNER,
            "email": "anna@example.com",
            "language": lang,
            "country": country.upper() or COUNTRY_BY_LANGUAGE[lang],
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


#: For `sheetfollow adopt`, which fills in the same template and writes a new file the same way.
set_key = _set_key


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


write_new = _write_new
