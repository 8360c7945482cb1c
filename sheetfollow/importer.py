"""`sheetfollow import`: add prospects from a CSV or Excel file, skipping the ones the sheet
already has and the ones that said no.

The file is read and its columns are matched to the Prospects fields; each line becomes a
candidate, a rejected line, a duplicate (of a sheet row or of an earlier line) or a
suppressed one (the sheet row it matches said no, was lost or is dead). The candidates get
an ID, an owner and their computed columns, and are appended together with one Log row each
in a single write.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import getpass
import io
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import phonenumbers

from sheetfollow import schema, service, snapshot, vocab
from sheetfollow.config import Config
from sheetfollow.errors import ConfigError, SheetError, UsageError
from sheetfollow.fields import INPUT_FIELDS, OWNED_FIELDS
from sheetfollow.log import LogEntry, append_changes
from sheetfollow.models import Outcome, Prospect, Row, Stage, Status
from sheetfollow.sheet import (
    EPOCH_1900,
    Backend,
    CellValue,
    RawValue,
    TabChanges,
    Table,
)

#: What the Log's Outcome column says for a row added by an import.
IMPORTED = "imported"

# --- Reading the file ------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """A file to import, as read: its header and its numbered lines."""

    name: str
    header: tuple[str, ...]
    #: (line number in the file, or row number in a workbook; values), blank lines left out.
    lines: list[tuple[int, list[RawValue]]]
    epoch: date = EPOCH_1900
    #: A CSV line with more values than the header has columns was split wrongly.
    from_csv: bool = False


_WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
#: The first bytes of a zip (.xlsx) and of an old binary Office file (.xls).
_WORKBOOK_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")
_DELIMITERS = ",;\t|"
#: How much of a CSV file the delimiter is guessed from.
_SAMPLE_CHARS = 32_000
#: Excel writes "sep=;" as the first line of some CSV exports to name the delimiter.
_SEP_LINE = re.compile(r'"?sep=(.)"?\s*', re.IGNORECASE)


def read_source(path: Path, config: Config) -> Source:
    """The lines of a CSV (any of , ; tab | as delimiter; UTF-8, UTF-16 or Windows-1252) or
    of the first tab of an .xlsx/.xlsm workbook."""
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if path.is_dir():
        raise UsageError(f"{path} is a folder; give the file to import")
    if path.suffix.lower() in _WORKBOOK_SUFFIXES:
        return _read_workbook(path, config)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SheetError(f"{path} cannot be read: {exc.strerror or exc}") from None
    if data.startswith(_WORKBOOK_MAGIC):
        return _read_workbook(path, config)
    return _read_csv(path.name, data)


def _read_workbook(path: Path, config: Config) -> Source:
    # Opened like any sheet, through the backend, and only ever read.
    book = service.open_backend(str(path), config)
    tabs = book.tab_names()
    table = book.read_tab(tabs[0]) if tabs else None
    if table is None or not table.rows:
        raise SheetError(f"{path.name}: the first tab is empty")
    header_row = _header_row(table.rows)
    header = tuple(schema.cell_text(v) for v in table.rows[header_row - 1])
    lines = [
        (number, list(values))
        for number, values in enumerate(table.rows[header_row:], start=header_row + 1)
        if not _blank_line(values)
    ]
    return Source(path.name, header, lines, table.epoch)


def _header_row(rows: Sequence[Sequence[RawValue]]) -> int:
    """The first of the top rows naming two known columns; else the first row with anything."""
    top = rows[: schema.HEADER_SEARCH_ROWS]
    for number, values in enumerate(top, start=1):
        known = {_ALIASES.get(vocab.normalise(schema.cell_text(v))) for v in values}
        if len(known - {None}) >= 2:
            return number
    return next((n for n, values in enumerate(rows, start=1) if not _blank_line(values)), 1)


def _blank_line(values: Sequence[RawValue]) -> bool:
    return not any(schema.cell_text(v) for v in values)


def _read_csv(name: str, data: bytes) -> Source:
    records = _csv_records(name, _decode(data))
    for _, values in records:
        if not _blank_line(values):
            header = tuple(v.strip() for v in values)
            break
    else:
        raise SheetError(f"{name} is empty")
    lines: list[tuple[int, list[RawValue]]] = [
        (number, list(values)) for number, values in records if not _blank_line(values)
    ]
    return Source(name, header, lines, from_csv=True)


def _decode(data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")  # Excel's "Unicode text"
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel's plain "CSV" on Windows in Western Europe; it never fails to decode.
        return data.decode("cp1252", errors="replace")


def _csv_records(name: str, text: str) -> Iterator[tuple[int, list[str]]]:
    """(line number where the record starts, fields) for every record of the file."""
    first, _, rest = text.partition("\n")
    found = _SEP_LINE.fullmatch(first.rstrip("\r"))
    if found:
        body, offset, delimiter = rest, 1, found[1]
    else:
        body, offset, delimiter = text, 0, _delimiter(text)
    reader = csv.reader(io.StringIO(body, newline=""), delimiter=delimiter)
    start = 1
    try:
        for record in reader:
            yield offset + start, record
            start = reader.line_num + 1
    except csv.Error as exc:
        raise SheetError(f"{name}, line {offset + start}: not readable as CSV ({exc})") from None


def _delimiter(text: str) -> str:
    sample = text[:_SAMPLE_CHARS]
    if len(text) > _SAMPLE_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n") + 1]  # whole lines only
    header = next((line for line in sample.splitlines() if line.strip()), "")
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        sniffed = ""
    # The sniffer guesses from character counts and is sometimes wrong; a header that
    # splits into several columns with its guess confirms it.
    if sniffed and _width(header, sniffed) > 1:
        return sniffed
    return max(_DELIMITERS, key=lambda d: _width(header, d))


def _width(line: str, delimiter: str) -> int:
    return len(next(csv.reader([line], delimiter=delimiter), []))


# --- Columns ---------------------------------------------------------------------------------

#: Fields an import takes from the file. First and last name make up Contact.
IMPORTED_FIELDS = (
    "company",
    "contact",
    "first_name",
    "last_name",
    "email",
    "phone",
    "owner",
    "segment",
    "value",
    "last_contact",
    "last_outcome",
    "attempts",
    "follow_up_on",
    "channel",
    "notes",
)
#: Fields sheetfollow sets on new rows itself: columns holding them are not imported.
SET_BY_IMPORT = ("id", "stage", "created", *OWNED_FIELDS)

#: Headers CRM exports use (HubSpot, Pipedrive, Salesforce, Excel address lists), on top of
#: the Prospects aliases.
_EXPORT_ALIASES: dict[str, tuple[str, ...]] = {
    "first_name": (
        "first name",
        "firstname",
        "given name",
        "person first name",
        "voornaam",
        "vorname",
        "fornavn",
        "nombre de pila",
    ),
    "last_name": (
        "last name",
        "lastname",
        "surname",
        "family name",
        "person last name",
        "achternaam",
        "nachname",
        "efternavn",
        "apellido",
        "apellidos",
    ),
    "company": ("organization name", "organisation name", "account company"),
    "contact": ("person name", "contact full name"),
    "email": ("person email", "person email work", "work email", "email 1", "primary email"),
    "phone": (
        "person phone",
        "person phone work",
        "work phone",
        "business phone",
        "mobile phone number",
        "phone 1",
        "primary phone",
    ),
    "owner": (
        "lead owner",
        "contact owner",
        "deal owner",
        "company owner",
        "record owner",
        "owner name",
        "person owner",
    ),
    "notes": ("description",),
}


def _aliases() -> dict[str, str]:
    """normalised header -> field, for every field a file's column can hold."""
    found: dict[str, str] = {}
    for name in (*IMPORTED_FIELDS, *SET_BY_IMPORT):
        words = {*vocab.HEADER_ALIASES.get(name, ())}
        words |= {vocab.normalise(w) for w in _EXPORT_ALIASES.get(name, ())}
        for word in words:
            if found.setdefault(word, name) != name:
                raise ValueError(f"{word!r} would mean both {found[word]} and {name}")
    return found


_ALIASES = _aliases()


@dataclass(frozen=True)
class Columns:
    """Where each field sits in the file's lines."""

    #: field -> 0-based columns, leftmost first; the first of them that is filled counts.
    fields: Mapping[str, tuple[int, ...]]
    header: tuple[str, ...]
    #: Headers of columns sheetfollow does not know: not imported.
    unknown: tuple[str, ...] = ()
    #: Headers of columns sheetfollow fills itself on new rows (ID, Status ...): not imported.
    set_by_import: tuple[str, ...] = ()


def map_columns(source: Source, overrides: Mapping[str, str]) -> Columns:
    """The file's columns by field. The sheet's own header texts ([headers]) count too."""
    aliases = {**_ALIASES, **{vocab.normalise(text): name for name, text in overrides.items()}}
    found: dict[str, list[int]] = {}
    unknown: list[str] = []
    set_here: list[str] = []
    for index, text in enumerate(source.header):
        name = aliases.get(vocab.normalise(text))
        if name is None:
            if text:
                unknown.append(text)
        elif name in SET_BY_IMPORT:
            set_here.append(text)
        else:
            found.setdefault(name, []).append(index)
    if not {"company", "contact", "first_name", "last_name", "email"} & set(found):
        listed = ", ".join(repr(h) for h in source.header if h) or "none"
        raise SheetError(
            f"{source.name}: no column to import prospects from; it needs a Company, Contact "
            f"(or First and Last name) or Email column (its columns: {listed})"
        )
    fields = {name: tuple(indexes) for name, indexes in found.items()}
    return Columns(fields, source.header, tuple(unknown), tuple(set_here))


# --- Keys that identify a prospect -----------------------------------------------------------


def email_key(text: str) -> str:
    """The first address in a cell, lower-cased; "" when the cell holds no address."""
    for word in re.split(r"[\s;,<>]+", text.strip().lower()):
        word = word.removeprefix("mailto:")
        if "@" in word:
            return word
    return ""


#: Fewer digits than this are not a phone number ("0", "-", an extension alone).
MIN_PHONE_DIGITS = 6


def phone_key(text: str, region: str = "") -> str:
    """Digits of the number in international form without the "+": "+31 20 123 4567" and,
    with region NL, "020-1234567" both become "31201234567". Without a region a number
    written without its country code stays as its digits. "" when it is not a number."""
    digits = re.sub(r"\D", "", text)
    if len(digits) < MIN_PHONE_DIGITS:
        return ""
    typed = text.strip()
    if not region and typed.startswith("00"):
        typed = "+" + typed[2:]  # the international prefix of most of the world
    try:
        number = phonenumbers.parse(typed, region or None)
    except phonenumbers.NumberParseException:
        return digits
    if not phonenumbers.is_possible_number(number):
        return digits
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]


#: Legal forms that end company names, written without dots or slashes: "B.V." is "bv",
#: "A/S" is "as", "GmbH & Co. KG" is the three words "gmbh", "co" and "kg".
_LEGAL_FORMS_BY_REGION = {
    "Dutch and Belgian": "bv nv vof cv bvba sprl",
    "German-speaking": "gmbh mbh ag kg kgaa ohg ug haftungsbeschrankt gbr ek ev se",
    "Nordic": "aps as asa ivs ab oy oyj",
    "Southern European": "sl slu sa sau sas sarl srl spa lda ltda",
    "English-speaking": "ltd limited llc llp lp inc incorporated corp corporation co company plc",
    "Asia-Pacific": "pty pte bhd",
}
LEGAL_FORMS = frozenset(w for words in _LEGAL_FORMS_BY_REGION.values() for w in words.split())


def company_key(name: str) -> str:
    """A company name folded for matching: case, accents and punctuation dropped, legal forms
    at the end stripped. "Acme B.V.", "ACME bv" and "Acme" all become "acme"."""
    folded = vocab.normalise(name.replace(".", "").replace("/", ""))
    words: list[str] = []
    joining = False
    for word in re.findall(r"[^\W_]+", folded):
        if joining and len(word) == 1:
            words[-1] += word  # letters typed apart ("B V", "A S") are one abbreviation
        else:
            words.append(word)
        joining = len(word) == 1
    while len(words) > 1 and words[-1] in LEGAL_FORMS:
        words.pop()
    return " ".join(words)


@dataclass(frozen=True)
class Keys:
    email: str = ""
    phone: str = ""
    company: str = ""

    def pairs(self) -> list[tuple[str, str]]:
        """(kind, key) for the keys this prospect has, most telling first."""
        kinds = (("email", self.email), ("phone", self.phone), ("company", self.company))
        return [(kind, key) for kind, key in kinds if key]

    def shared_with(self, other: Keys) -> tuple[str, ...]:
        mine = dict(self.pairs())
        return tuple(kind for kind, key in other.pairs() if mine.get(kind) == key)


def keys_of(email: str, phone: str, company: str, region: str) -> Keys:
    return Keys(email_key(email), phone_key(phone, region), company_key(company))


# --- Lines -----------------------------------------------------------------------------------


class _Rejected(Exception):
    """A line that cannot be imported; the reason is one plain sentence."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class _Candidate:
    """A readable line: its values by Prospects field, as they will be written."""

    line: int
    values: Mapping[str, CellValue]
    keys: Keys

    @property
    def name(self) -> str:
        """How reports name it: the company, else the contact, else the email."""
        for name in ("company", "contact", "email"):
            if self.values.get(name):
                return str(self.values[name])
        return ""


_V = TypeVar("_V")


@dataclass(frozen=True)
class _Cells:
    values: Sequence[RawValue]
    columns: Columns

    def pick(self, name: str) -> tuple[RawValue, str]:
        """The first filled cell of the field's columns, and that column's header."""
        for index in self.columns.fields.get(name, ()):
            value = self.values[index] if index < len(self.values) else None
            if schema.cell_text(value):
                return value, self.columns.header[index]
        return None, ""

    def text(self, name: str) -> str:
        # A value over several lines keeps them, as Excel writes them in a cell.
        return schema.cell_text(self.pick(name)[0]).replace("\r\n", "\n").replace("\r", "\n")

    def parse(self, name: str, parse: Callable[[RawValue], _V]) -> _V:
        value, header = self.pick(name)
        try:
            return parse(value)
        except schema.BadValue as bad:
            raise _Rejected(f"{header}: {bad.message}") from None


_TEXT_FIELDS = ("company", "email", "phone", "owner", "segment", "notes")


def _read_line(
    number: int,
    values: Sequence[RawValue],
    columns: Columns,
    *,
    epoch: date = EPOCH_1900,
    language: str = "en",
    region: str = "",
    strict_width: bool = True,
) -> _Candidate:
    """One line of the file as a candidate. Raises _Rejected for a line that cannot be
    imported: nothing to identify the prospect by, a value that is not what its column
    holds, or (in a CSV) more values than the header has columns."""
    if strict_width and any(schema.cell_text(v) for v in values[len(columns.header) :]):
        raise _Rejected(
            f"{len(values)} values for {len(columns.header)} columns "
            "(a value holding the delimiter needs quotes)"
        )
    cells = _Cells(values, columns)
    found: dict[str, CellValue] = {name: cells.text(name) for name in _TEXT_FIELDS}
    names = (cells.text("first_name"), cells.text("last_name"))
    found["contact"] = cells.text("contact") or " ".join(n for n in names if n)
    if not (found["company"] or found["contact"] or found["email"]):
        raise _Rejected("no company, contact or email")
    found.update(_typed(cells, epoch, language))
    keys = keys_of(cells.text("email"), cells.text("phone"), cells.text("company"), region)
    return _Candidate(number, {k: v for k, v in found.items() if v not in (None, "")}, keys)


def _typed(cells: _Cells, epoch: date, language: str) -> dict[str, CellValue]:
    def day(value: RawValue) -> date | None:
        return schema.parse_date(value, epoch=epoch)

    outcome = cells.parse(
        "last_outcome", lambda v: schema.parse_choice(v, vocab.OUTCOME_ALIASES, "outcome")
    )
    channel = cells.parse(
        "channel", lambda v: schema.parse_choice(v, vocab.CHANNEL_ALIASES, "channel")
    )
    return {
        "value": _number(cells.parse("value", schema.parse_amount)),
        "last_contact": cells.parse("last_contact", day),
        "follow_up_on": cells.parse("follow_up_on", day),
        "attempts": cells.parse("attempts", schema.parse_count) or None,
        # In the sheet's language, like the dropdowns of a starter workbook.
        "last_outcome": _word(vocab.OUTCOME_NAMES, language, outcome),
        "channel": _word(vocab.CHANNEL_NAMES, language, channel),
    }


_E = TypeVar("_E", bound=Enum)


def _word(names: Mapping[str, Mapping[_E, str]], language: str, member: _E | None) -> str | None:
    if member is None:
        return None
    return names.get(language, names["en"])[member]


def _number(amount: float | None) -> int | float | None:
    """12500.0 is written as 12500."""
    if amount is not None and amount.is_integer():
        return int(amount)
    return amount


# --- Duplicates and suppression --------------------------------------------------------------


@dataclass(frozen=True)
class Skipped:
    """A line not added because the prospect is in the sheet already, or earlier in the file."""

    line: int
    name: str
    #: What it matches: a cell of the sheet ("Prospects!D5") or an earlier line ("line 4").
    of: str
    #: That sheet row's ID and company ("P-0003 Cobalt BV"), or the earlier line's name.
    of_name: str
    #: The keys both share, most telling first: email, phone, company.
    on: tuple[str, ...]
    #: For a suppressed line, what the sheet row says: not interested, lost or dead.
    why: str = ""

    def as_dict(self) -> dict[str, object]:
        found: dict[str, object] = {
            "line": self.line,
            "name": self.name,
            "of": self.of,
            "of_name": self.of_name,
            "on": list(self.on),
        }
        if self.why:
            found["why"] = self.why
        return found


def suppression(row: Row) -> str:
    """Why a sheet row keeps an imported twin out for good ("" when it does not)."""
    prospect = row.prospect
    said = (prospect.last_outcome, prospect.stage)
    if Outcome.NOT_INTERESTED in said or Stage.NOT_INTERESTED in said:
        return "not interested"
    if Outcome.LOST in said or Stage.LOST in said:
        return "lost"
    if row.computed.status is Status.DEAD:
        return "dead"
    return ""


class _Seen:
    """The prospects a line can duplicate: the sheet's rows, then the file's earlier lines."""

    def __init__(self, pipeline: service.Pipeline, region: str) -> None:
        self.header = pipeline.header
        self.rows: dict[tuple[str, str], list[Row]] = {}
        self.row_keys: dict[int, Keys] = {}
        for row in pipeline.rows:
            p = row.prospect
            keys = keys_of(p.email, p.phone, p.company, region)
            self.row_keys[p.row] = keys
            for pair in keys.pairs():
                self.rows.setdefault(pair, []).append(row)
        self.lines: dict[tuple[str, str], _Candidate] = {}

    def match(self, candidate: _Candidate) -> Skipped | None:
        """The sheet row or earlier line this candidate duplicates; a suppressing row first."""
        rows = self._rows_sharing(candidate.keys)
        if rows:
            row = next((r for r in rows if suppression(r)), rows[0])
            return self._of_row(candidate, row)
        for pair in candidate.keys.pairs():
            earlier = self.lines.get(pair)
            if earlier is not None:
                on = candidate.keys.shared_with(earlier.keys)
                return Skipped(
                    candidate.line, candidate.name, f"line {earlier.line}", earlier.name, on
                )
        return None

    def _rows_sharing(self, keys: Keys) -> list[Row]:
        found: dict[int, Row] = {}
        for pair in keys.pairs():
            for row in self.rows.get(pair, []):
                found.setdefault(row.prospect.row, row)
        return list(found.values())

    def _of_row(self, candidate: _Candidate, row: Row) -> Skipped:
        p = row.prospect
        on = candidate.keys.shared_with(self.row_keys[p.row])
        name = " ".join(part for part in (p.id, p.company or p.contact or p.email) if part)
        ref = self.header.cell(p.row, on[0])
        return Skipped(candidate.line, candidate.name, ref, name, on, suppression(row))

    def remember(self, candidate: _Candidate) -> None:
        for pair in candidate.keys.pairs():
            self.lines.setdefault(pair, candidate)


# --- Owners ----------------------------------------------------------------------------------


class _Owners:
    """Who gets a new row: the file's Owner, else --owner, else the next one in turn.

    Turns go over [import] owners, else the Owners tab's owners that have an email (in tab
    order), else the owners already in the sheet; they continue after the owner of the
    sheet's last row, so that imports of a few lines at a time share the work too.
    """

    def __init__(self, pipeline: service.Pipeline, config: Config, chosen: str | None) -> None:
        listed = list(pipeline.owners.values()) if pipeline.owners else []
        self.checked = bool(listed)
        # Names are written as the Owners tab (else the sheet) spells them: "anna" is Anna.
        names = [o.name for o in listed] or _sheet_owners(pipeline)
        self.spelling = {vocab.normalise(name): name for name in names}
        where = f"the {config.tabs.owners} tab (owners: {', '.join(o.name for o in listed)})"
        self.chosen = ""
        if chosen and chosen.strip():
            self.chosen = self._listed(chosen)
            if not self.chosen:
                raise UsageError(f"--owner {chosen.strip()!r} is not in {where}")
        configured = []
        for name in config.imports.owners:
            known = self._listed(name)
            if not known:
                raise ConfigError(
                    f"{_config_name(config)}: import.owners names {name!r}, who is not in {where}"
                )
            configured.append(known)
        self.turns = configured or [o.name for o in listed if o.email] or _sheet_owners(pipeline)
        self.next = _after(self.turns, pipeline.rows[-1].prospect.owner if pipeline.rows else "")

    def _listed(self, name: str) -> str:
        """The name as the Owners tab spells it, "" when the tab does not list it; without
        an Owners tab, as the sheet spells it, or as given."""
        spelled = self.spelling.get(vocab.normalise(name), "")
        return spelled if self.checked else spelled or name.strip()

    def owner_for(self, named: str) -> str:
        if named:
            return self.spelling.get(vocab.normalise(named), named)
        if self.chosen:
            return self.chosen
        if not self.turns:
            return ""
        name = self.turns[self.next % len(self.turns)]
        self.next += 1
        return name


def _config_name(config: Config) -> str:
    return config.path.name if config.path else "sheetfollow.toml"


def _sheet_owners(pipeline: service.Pipeline) -> list[str]:
    """The owners of the sheet's rows, each once, in the order they first appear."""
    found: dict[str, str] = {}
    for row in pipeline.rows:
        if row.prospect.owner:
            found.setdefault(vocab.normalise(row.prospect.owner), row.prospect.owner)
    return list(found.values())


def _after(turns: Sequence[str], last: str) -> int:
    wanted = vocab.normalise(last)
    for index, name in enumerate(turns):
        if vocab.normalise(name) == wanted:
            return index + 1
    return 0


# --- New rows --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    """The Prospects columns new rows are written in, and the columns to add for them."""

    columns: Mapping[str, int]
    new_headers: dict[int, str]

    @property
    def width(self) -> int:
        return max(self.columns.values())

    def cells(self, values: Mapping[str, CellValue]) -> list[CellValue]:
        row: list[CellValue] = [None] * self.width
        for name, value in values.items():
            row[self.columns[name] - 1] = value
        return row


def _layout(
    table: Table,
    header: schema.HeaderMap,
    rows: Sequence[Mapping[str, CellValue]],
    language: str,
) -> _Layout:
    """Existing columns, plus new ones (after the last) for the owned fields and for every
    field a new row has a value for and the sheet has no column for."""
    filled = {name for values in rows for name in values}
    names = vocab.PROSPECT_HEADERS.get(language, vocab.PROSPECT_HEADERS["en"])
    columns = dict(header.columns)
    missing = [
        name
        for name in (*INPUT_FIELDS, *OWNED_FIELDS)
        if name not in columns and (name in filled or name in OWNED_FIELDS)
    ]
    places = schema.NewColumns(table, header).place([names[n] for n in missing])
    new_headers: dict[int, str] = {}
    for name, column in zip(missing, places, strict=True):
        columns[name] = column
        new_headers[column] = names[name]
    return _Layout(columns, new_headers)


def _computed(
    config: Config,
    today: date,
    pipeline: service.Pipeline,
    layout: _Layout,
    rows: Sequence[list[CellValue]],
) -> list[Row]:
    """The new rows, parsed and computed as refresh will once they are below the last row:
    the same owner checks, the same problems, the same dates."""
    header = dataclasses.replace(pipeline.header, columns=layout.columns)
    first = len(pipeline.table.rows) + 1
    computed = []
    for number, values in enumerate(rows, start=first):
        prospect = schema.parse_prospect(
            values, number, header, epoch=pipeline.table.epoch, today=today
        )
        if prospect is None:  # every line kept has a company, contact or email
            raise AssertionError(f"new row {number} is empty")
        owner = service.owner_of(prospect, pipeline.owners)
        prospect = service.with_owner_problems(prospect, pipeline.owners, header)
        computed.append(service.compute_row(prospect, owner, config, today))
    return computed


# --- The report ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Added:
    """A line added to the sheet, with the ID and the computed columns it got."""

    line: int
    id: str
    company: str
    contact: str
    owner: str
    status: str
    next_follow_up: date | None

    def as_dict(self) -> dict[str, object]:
        return {
            "line": self.line,
            "id": self.id,
            "company": self.company,
            "contact": self.contact,
            "owner": self.owner,
            "status": self.status,
            "next_follow_up": self.next_follow_up.isoformat() if self.next_follow_up else None,
        }


@dataclass(frozen=True)
class Rejected:
    """A line that could not be imported, and why."""

    line: int
    reason: str


@dataclass(frozen=True)
class ImportReport:
    """What an import did (or, in a dry run, would do) with every line of the file."""

    file: str
    sheet: str
    #: Lines read below the header (blank lines not counted).
    lines: int
    added: tuple[Added, ...]
    duplicates: tuple[Skipped, ...]
    suppressed: tuple[Skipped, ...]
    rejected: tuple[Rejected, ...]
    #: Headers of the file's columns that were not imported: unknown to sheetfollow ...
    unknown_columns: tuple[str, ...]
    #: ... or filled by sheetfollow itself on new rows (ID, Stage, Created, Status ...).
    columns_set_here: tuple[str, ...]
    #: Headers added to the Prospects tab for the new rows.
    columns_added: tuple[str, ...]
    dry_run: bool
    #: Why the new rows wait in the pending journal ("" when they were written).
    pending: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "pending": self.pending or None,
            "file": self.file,
            "sheet": self.sheet,
            "lines": self.lines,
            "added": [a.as_dict() for a in self.added],
            "duplicates": [s.as_dict() for s in self.duplicates],
            "suppressed": [s.as_dict() for s in self.suppressed],
            "rejected": [{"line": r.line, "reason": r.reason} for r in self.rejected],
            "unknown_columns": list(self.unknown_columns),
            "columns_set_here": list(self.columns_set_here),
            "columns_added": list(self.columns_added),
            "dry_run": self.dry_run,
        }

    def text(self) -> list[str]:
        """The report as plain lines: the counts first, then every line by kind."""
        verb = "would be added" if self.dry_run else "added"
        lines = [
            f"{self.file}: {self.lines} lines · {len(self.added)} {verb} · "
            f"{len(self.duplicates)} duplicate{'' if len(self.duplicates) == 1 else 's'} · "
            f"{len(self.suppressed)} suppressed · "
            f"{len(self.rejected)} rejected"
        ]
        lines += _section(f"{verb}:", [_added_text(a) for a in self.added])
        lines += _section("duplicates:", [_skipped_text(s) for s in self.duplicates])
        lines += _section("suppressed:", [_skipped_text(s) for s in self.suppressed])
        lines += _section("rejected:", [f"line {r.line}: {r.reason}" for r in self.rejected])
        if self.unknown_columns:
            lines.append(f"unknown columns, not imported: {_quoted(self.unknown_columns)}")
        if self.columns_set_here:
            lines.append(
                f"columns sheetfollow fills itself, not imported: {_quoted(self.columns_set_here)}"
            )
        if self.columns_added:
            lines.append(f"columns added to the sheet: {', '.join(self.columns_added)}")
        if self.dry_run:
            lines.append("dry run: nothing was written")
        return lines


def _section(title: str, items: list[str]) -> list[str]:
    return [title, *(f"  {item}" for item in items)] if items else []


def _added_text(a: Added) -> str:
    name = a.company or a.contact
    return f"line {a.line} -> {a.id} {name} ({a.owner}, {a.status})"


def _skipped_text(s: Skipped) -> str:
    on = ", ".join(s.on)
    if s.why:
        return f"line {s.line} {s.name}: {s.of} ({s.of_name}) is {s.why}; same {on}"
    return f"line {s.line} {s.name}: duplicate of {s.of} ({s.of_name}) on {on}"


def _quoted(headers: Sequence[str]) -> str:
    return ", ".join(repr(h) for h in headers)


# --- The import ------------------------------------------------------------------------------


@dataclass
class _Sorted:
    """The file's lines, each in one pile."""

    candidates: list[_Candidate] = field(default_factory=list)
    duplicates: list[Skipped] = field(default_factory=list)
    suppressed: list[Skipped] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


#: How many lines go by between two progress reports.
_PROGRESS_EVERY = 500


def _sort_lines(
    source: Source,
    columns: Columns,
    pipeline: service.Pipeline,
    config: Config,
    progress: service.Progress | None = None,
) -> _Sorted:
    """Read every line and match it against the sheet and the lines before it."""
    region = config.imports.default_country or config.calendar.country
    seen = _Seen(pipeline, region)
    piles = _Sorted()
    total = len(source.lines)
    for index, (number, values) in enumerate(source.lines):
        if progress is not None and index % _PROGRESS_EVERY == 0:
            progress(index, total)
        try:
            candidate = _read_line(
                number,
                values,
                columns,
                epoch=source.epoch,
                language=config.language,
                region=region,
                strict_width=source.from_csv,
            )
        except _Rejected as rejected:
            piles.rejected.append(Rejected(number, rejected.reason))
            continue
        skipped = seen.match(candidate)
        seen.remember(candidate)
        if skipped is None:
            piles.candidates.append(candidate)
        elif skipped.why:
            piles.suppressed.append(skipped)
        else:
            piles.duplicates.append(skipped)
    if progress is not None:
        progress(total, total)
    return piles


def import_file(
    backend: Backend,
    config: Config,
    path: Path,
    today: date,
    *,
    owner: str | None = None,
    segment: str | None = None,
    by: str = "",
    now: datetime | None = None,
    dry_run: bool = False,
    force: bool = False,
    progress: service.Progress | None = None,
) -> ImportReport:
    """Add the new prospects of a CSV or Excel file to the sheet, with one Log row each, in
    one write. `by` names who imported them in the Log (each row's owner when empty); `now`
    is when (default: the current time on `today`, in the team's time zone).

    When the workbook cannot be written, a copy of the file waits in the pending journal
    and the next command that can write imports it (checking for duplicates again then)."""
    from sheetfollow import journal
    from sheetfollow.workspace import Kept, open_workspace

    ws = open_workspace(backend, config, today, now=now)
    change_id = journal.new_id()
    report = import_into(
        ws.sheet,
        config,
        path,
        today,
        owner=owner,
        segment=segment,
        by=by,
        now=now,
        change_id=change_id,
        progress=progress,
    )
    if dry_run:
        return dataclasses.replace(report, dry_run=True)
    kept: list[Kept] = []
    if report.added:
        data = {"name": report.file, "owner": owner, "segment": segment, "by": by}

        def copy() -> dict[str, str]:
            # Only when the workbook cannot be written, just before the journal line.
            return {"file": str(ws.journal.keep_file(path, change_id))}

        kept.append(Kept(change_id, journal.IMPORT, data, f"import of {report.file}", copy))
    saved = ws.save(force=force, kept=kept)
    return dataclasses.replace(report, pending=saved.pending)


def import_into(
    sheet: Backend,
    config: Config,
    path: Path,
    today: date,
    *,
    owner: str | None = None,
    segment: str | None = None,
    by: str = "",
    now: datetime | None = None,
    name: str | None = None,
    change_id: str = "",
    progress: service.Progress | None = None,
) -> ImportReport:
    """The import, written into `sheet` (a Staged view in the commands); `name` is the
    file's name for the Log and the report (a kept copy has another); `change_id` is
    recorded in the state tab with the rows."""
    source = read_source(path, config)
    if name:
        source = dataclasses.replace(source, name=name)
    columns = map_columns(source, config.headers)
    pipeline = service.load(sheet, config, today)
    piles = _sort_lines(source, columns, pipeline, config, progress)
    new = _new_rows(config, today, pipeline, piles.candidates, owner, segment)
    if new.added:
        when = now or _now(config, today)
        entries = [_log_entry(added, when, by, source.name) for added in new.added]
        changes = [new.changes(pipeline.header), append_changes(sheet, config, entries)]
        # The new rows' touch snapshot, carrying the change's ID (see snapshot.Snap.change).
        snaps = [
            snapshot.snap_of(prospect, recorded=None, seen=today, change=change_id)
            for prospect in new.prospects
        ]
        changes.append(snapshot.append_changes(sheet, config, snaps))
        sheet.write(changes)
    return ImportReport(
        file=source.name,
        sheet=sheet.label,
        lines=len(source.lines),
        added=tuple(new.added),
        duplicates=tuple(piles.duplicates),
        suppressed=tuple(piles.suppressed),
        rejected=tuple(piles.rejected),
        unknown_columns=columns.unknown,
        columns_set_here=columns.set_by_import,
        columns_added=tuple(new.layout.new_headers.values()) if new.added else (),
        dry_run=False,
    )


@dataclass(frozen=True)
class _NewRows:
    layout: _Layout
    #: Each new row's cells, column 1 first.
    rows: list[list[CellValue]]
    added: list[Added]
    #: The new rows as parsed, for the touch snapshot.
    prospects: list[Prospect] = field(default_factory=list)

    def changes(self, header: schema.HeaderMap) -> TabChanges:
        return TabChanges(
            tab=header.tab,
            header_row=header.header_row,
            new_headers=self.layout.new_headers,
            append_rows=self.rows,
        )


def _new_rows(
    config: Config,
    today: date,
    pipeline: service.Pipeline,
    candidates: Sequence[_Candidate],
    owner: str | None,
    segment: str | None,
) -> _NewRows:
    """The candidates as rows of the Prospects tab, their computed columns filled in."""
    assert not pipeline.rows_let_go, "import needs the rows of the tab"
    values = _new_values(candidates, pipeline, config, today, owner, segment)
    layout = _layout(pipeline.table, pipeline.header, values, config.language)
    rows = [layout.cells(v) for v in values]
    if not rows:
        return _NewRows(layout, [], [])
    computed = _computed(config, today, pipeline, layout, rows)
    added = []
    for candidate, cells, row, result in zip(candidates, values, rows, computed, strict=True):
        for name, value in service.owned_cell_values(result.computed).items():
            row[layout.columns[name] - 1] = value
        added.append(_added(candidate.line, cells, result))
    return _NewRows(layout, rows, added, [row.prospect for row in computed])


def _new_values(
    candidates: Sequence[_Candidate],
    pipeline: service.Pipeline,
    config: Config,
    today: date,
    owner: str | None,
    segment: str | None,
) -> list[dict[str, CellValue]]:
    """Each candidate's cells by field: what the file gave, plus an ID, Created, Stage, an
    owner and a segment."""
    owners = _Owners(pipeline, config, owner)
    ids = service.IdMaker(config.id_prefix, (row.prospect.id for row in pipeline.rows))
    stage = vocab.STAGE_NAMES.get(config.language, vocab.STAGE_NAMES["en"])[Stage.NEW]
    found = []
    for candidate in candidates:
        values = dict(candidate.values)
        values["owner"] = owners.owner_for(str(values.get("owner", "")))
        if not values["owner"]:
            raise UsageError(
                f"line {candidate.line} has no owner: add an Owner column to the file, pass "
                f"--owner NAME, or list the owners in the {config.tabs.owners} tab"
            )
        if segment and not values.get("segment"):
            values["segment"] = segment
        values.update(id=ids.next(), created=today, stage=stage)
        found.append(values)
    return found


def _added(line: int, values: Mapping[str, CellValue], row: Row) -> Added:
    return Added(
        line=line,
        id=str(values["id"]),
        company=str(values.get("company", "")),
        contact=str(values.get("contact", "")),
        owner=str(values["owner"]),
        status=row.computed.status.value,
        next_follow_up=row.computed.next_follow_up,
    )


def _log_entry(added: Added, when: datetime, by: str, file: str) -> LogEntry:
    return LogEntry(
        when=when,
        id=added.id,
        company=added.company,
        by=by or added.owner,
        outcome=None,
        event=IMPORTED,
        note=f"from {file}",
        next_follow_up=added.next_follow_up,
    )


def _now(config: Config, today: date) -> datetime:
    zone = ZoneInfo(config.timezone) if config.timezone else None
    # With --today the run pretends it is another day: the Log records that day.
    return datetime.combine(today, datetime.now(zone).time())


def os_user() -> str:
    """The login name of whoever runs the import, for the Log's By column; "" if unknown."""
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        return ""
