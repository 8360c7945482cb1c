"""`sheetfollow adopt WORKBOOK`: set sheetfollow up on a workbook a team already has.

It only reads the workbook (never writes, locks or backs it up) and writes one file, the
sheetfollow.toml beside it: which tab holds the prospects and in which row its headers are,
how each header maps to a column sheetfollow knows (and the closest known names of those it
does not), the language and country the headers are in, the order dates are typed in, and
the columns the first refresh will add. A column with the header of one sheetfollow fills
but the team's own values in it (a Status of Warm, Koud, Heet) is kept: sheetfollow gets a
new column of its own instead, and the report says so.
"""

from __future__ import annotations

import difflib
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sheetfollow import schema, vocab
from sheetfollow.config import CONFIG_NAME, config_from_text
from sheetfollow.errors import SheetError, UsageError
from sheetfollow.fields import DATE_FIELDS, LANGUAGES, OWNED_FIELDS, REQUIRED_FIELDS
from sheetfollow.sheet import Backend, Table

#: Where a team of each language usually keeps its holidays and its clock.
COUNTRY_BY_LANGUAGE: Mapping[str, str] = {
    "en": "GB",
    "nl": "NL",
    "de": "DE",
    "da": "DK",
    "es": "ES",
}
TIMEZONE_BY_COUNTRY: Mapping[str, str] = {
    "NL": "Europe/Amsterdam",
    "BE": "Europe/Brussels",
    "DE": "Europe/Berlin",
    "AT": "Europe/Vienna",
    "CH": "Europe/Zurich",
    "DK": "Europe/Copenhagen",
    "ES": "Europe/Madrid",
    "GB": "Europe/London",
    "IE": "Europe/Dublin",
    # The US spans six zones: the east coast is a guess the report points out.
    "US": "America/New_York",
}

_ADDED = ("id", *OWNED_FIELDS)
#: The columns that say where a cadence stands (service.TOUCH_FIELDS).
_TOUCH_FIELDS = ("last_contact", "last_outcome", "attempts")
_TEXT_DATE = re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{2}|\d{4})")


@dataclass(frozen=True)
class Unknown:
    """A header sheetfollow does not know, and the known names closest to it."""

    header: str
    closest: tuple[tuple[str, str], ...]  # (known name, field)

    def line(self) -> str:
        if not self.closest:
            return f"{self.header!r}: not a column sheetfollow knows; left alone"
        names = ", ".join(f"{name!r} ({name_of})" for name, name_of in self.closest)
        return f"{self.header!r}: not a column sheetfollow knows (closest: {names}); left alone"


@dataclass
class Adoption:
    """What adopt found in a workbook, and the config it writes for it."""

    workbook: str
    tab: str
    header_row: int
    #: field -> the header text in the workbook.
    mapped: dict[str, str]
    unknown: list[Unknown]
    language: str
    country: str
    timezone: str
    date_order: str
    #: Why this date order ("3 dates like 25/03/2026 put the day first").
    date_order_why: str
    #: Header texts of the columns the first refresh adds, in order.
    added: list[str]
    #: Owned fields mapped to a new column because the team's column of that name holds
    #: its own values: field -> (the team's header, the new header, a few of its values).
    kept: dict[str, tuple[str, str, tuple[str, ...]]] = field(default_factory=dict)
    #: Rows that are no prospect ("Prospects!41:41: totals row ('Totaal'), left alone").
    left_alone: list[str] = field(default_factory=list)
    log_tab: str = ""
    owners_tab: str = ""
    #: Things an admin should look at (a required column missing, a guessed time zone).
    warnings: list[str] = field(default_factory=list)
    #: The sheet value written into the config (the workbook's name when beside it).
    sheet_value: str = ""
    #: The sheet lacks a touch column (Last contact, Last outcome, Attempts).
    no_touch_columns: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "workbook": self.workbook,
            "tab": self.tab,
            "header_row": self.header_row,
            "mapped": dict(self.mapped),
            "unknown": [
                {"header": u.header, "closest": [{"name": n, "field": f} for n, f in u.closest]}
                for u in self.unknown
            ],
            "language": self.language,
            "country": self.country,
            "timezone": self.timezone,
            "date_order": self.date_order,
            "date_order_why": self.date_order_why,
            "columns_to_add": list(self.added),
            "kept_columns": [
                {"field": name, "header": old, "new_header": new, "values": list(values)}
                for name, (old, new, values) in self.kept.items()
            ],
            "left_alone": list(self.left_alone),
            "log_tab": self.log_tab or None,
            "owners_tab": self.owners_tab or None,
            "warnings": list(self.warnings),
        }

    def lines(self) -> list[str]:
        """The report, one line each, for people."""
        found = ", ".join(f"{schema.english_header(n)}={h!r}" for n, h in self.mapped.items())
        out = [
            f"{self.workbook}: prospects in tab {self.tab!r}, headers in row {self.header_row}",
            f"  columns: {found}",
            f"  language {self.language}, country {self.country}, time zone {self.timezone}",
            f"  dates typed as {self.date_order}: {self.date_order_why}",
        ]
        for name, (old, new, values) in self.kept.items():
            shown = ", ".join(values)
            out.append(
                f"  {old!r} holds your own values ({shown}): kept as it is; sheetfollow's "
                f"{schema.english_header(name)} goes into a new column {new!r}"
            )
        out += [f"  {u.line()}" for u in self.unknown]
        if self.added:
            out.append(f"  the first refresh adds the columns: {', '.join(self.added)}")
        out += [f"  {line}" for line in self.left_alone]
        out += [f"  warning: {line}" for line in self.warnings]
        return out


def inspect(backend: Backend, *, tab: str | None = None) -> Adoption:
    """Look at a workbook through `backend` (reading only) and work out its config."""
    tables = _tables(backend)
    table, header = _prospects(backend.label, tables, tab)
    texts = _header_texts(table, header.header_row)
    language = _guess_language([*texts, *(t.tab for t in tables)])
    currency = _currency_sign(texts)
    country = _guess_country(language, currency, table, header)
    date_order, why = _guess_date_order(table, header, country)
    header = schema.map_headers(table, required=(), date_order=date_order)
    mapped = {name: texts[column - 1] for name, column in header.columns.items()}
    kept: dict[str, tuple[str, str, tuple[str, ...]]] = {}
    for column in schema.foreign_columns(table, header):
        new = column.suggestion(language)
        kept[column.name] = (column.header, new, column.samples)
        mapped.pop(column.name, None)
    names = vocab.PROSPECT_HEADERS[language]
    added = [kept[n][1] if n in kept else names[n] for n in _ADDED if n not in mapped]
    left = schema.non_prospect_rows(table, header)
    others = [t for t in tables if t.tab != table.tab]
    adoption = Adoption(
        workbook=backend.label,
        tab=table.tab,
        header_row=header.header_row,
        mapped=dict(sorted(mapped.items(), key=lambda item: header.columns[item[0]])),
        unknown=[_unknown(text) for text in header.unknown if text not in _kept_headers(kept)],
        language=language,
        country=country,
        timezone=TIMEZONE_BY_COUNTRY.get(country, ""),
        date_order=date_order,
        date_order_why=why,
        added=added,
        kept=kept,
        left_alone=[item.line() for item in left.values()],
        log_tab=_tab_with(others, vocab.LOG_ALIASES, ("when", "outcome")),
        owners_tab=_tab_with(others, vocab.OWNER_ALIASES, ("owner", "email")),
    )
    missing = [schema.english_header(n) for n in REQUIRED_FIELDS if n not in mapped]
    if missing:
        adoption.warnings.append(
            f"no column for {', '.join(missing)}: name one in [headers] before the first refresh"
        )
    lacking = [schema.english_header(n) for n in _TOUCH_FIELDS if n not in mapped]
    if lacking:
        adoption.no_touch_columns = True
        adoption.warnings.append(
            f"no {' or '.join(lacking)} column: require_touch_columns = false, so follow-ups "
            "count from Last contact alone until `sheetfollow mark` adds them"
        )
    if country == "US":
        adoption.warnings.append(
            "time zone America/New_York is a guess for a US team: set timezone if yours differs"
        )
    if not adoption.owners_tab:
        adoption.warnings.append(
            "no Owners tab (Owner, Email ...): add one so the emails know where to go"
        )
    return adoption


def config_text(adoption: Adoption, sheet_value: str) -> str:
    """The sheetfollow.toml for an adopted workbook: the commented template, filled in."""
    from sheetfollow import starter

    text = (starter.templates() / CONFIG_NAME).read_text(encoding="utf-8")
    text = starter.set_key(text, "", "sheet", sheet_value)
    text = starter.set_key(text, "", "language", adoption.language)
    text = starter.set_key(text, "", "timezone", adoption.timezone)
    text = starter.set_key(text, "", "date_order", adoption.date_order)
    text = starter.set_key(text, "calendar", "country", adoption.country)
    text = starter.set_key(text, "tabs", "prospects", adoption.tab)
    tabs = vocab.TAB_NAMES[adoption.language]
    text = starter.set_key(text, "tabs", "log", adoption.log_tab or tabs["log"])
    text = starter.set_key(text, "tabs", "owners", adoption.owners_tab or tabs["owners"])
    if adoption.no_touch_columns:
        text = _set_value(text, "require_touch_columns", "false")
    text = _with_headers(text, adoption)
    return _summary(adoption) + text


def adopt(
    backend: Backend,
    target: Path,
    *,
    sheet_value: str,
    force: bool = False,
    write: bool = True,
    tab: str | None = None,
) -> tuple[Adoption, str]:
    """Inspect the workbook and write `target` (a sheetfollow.toml); nothing else is written.
    An existing `target` is only replaced with `force`. Returns the findings and the text."""
    if write and target.exists() and not force:
        raise UsageError(
            f"{target} already exists; not replacing it (sheetfollow adopt --force replaces "
            "it, --print shows what it would write)"
        )
    adoption = inspect(backend, tab=tab)
    adoption.sheet_value = sheet_value
    text = config_text(adoption, sheet_value)
    # What adopt writes must load: check it the way sheetfollow will read it.
    config_from_text(text, source=str(target), base=target.parent)
    if write:
        _write(target, text)
    return adoption, text


# --- Finding the tab and the headers ----------------------------------------------------------


def _tables(backend: Backend) -> list[Table]:
    tables = []
    for name in backend.tab_names():
        table = backend.read_tab(name)
        if table is not None and table.rows:
            tables.append(table)
    if not tables:
        raise SheetError(f"{backend.label}: every tab is empty; there is nothing to adopt")
    return tables


def _prospects(
    label: str, tables: Sequence[Table], tab: str | None
) -> tuple[Table, schema.HeaderMap]:
    """The tab that names the most prospect columns (or the one asked for), and its headers."""
    best: tuple[int, Table, schema.HeaderMap] | None = None
    for table in tables:
        if tab is not None and table.tab != tab:
            continue
        try:
            header = schema.map_headers(table, required=())
        except SheetError:
            continue
        score = len(header.columns) + 10 * sum(n in header.columns for n in REQUIRED_FIELDS)
        if best is None or score > best[0]:
            best = (score, table, header)
    if best is None:
        names = ", ".join(t.tab for t in tables)
        if tab is not None:
            raise UsageError(f"{label}: no tab {tab!r} with a header row (tabs: {names})")
        raise SheetError(
            f"{label}: no tab has a header row sheetfollow recognises (tabs: {names}); "
            "the prospects tab needs headers such as Company and Owner in its first 20 rows"
        )
    return best[1], best[2]


def _header_texts(table: Table, row: int) -> list[str]:
    return [schema.cell_text(v) for v in table.rows[row - 1]]


def _tab_with(
    tables: Sequence[Table], aliases: Mapping[str, frozenset[str]], need: Sequence[str]
) -> str:
    for table in tables:
        try:
            header = schema.map_headers(table, aliases=aliases, required=need)
        except SheetError:
            continue
        return header.tab
    return ""


def _kept_headers(kept: Mapping[str, tuple[str, str, tuple[str, ...]]]) -> set[str]:
    return {old for old, _, _ in kept.values()}


def _unknown(text: str) -> Unknown:
    """The known names closest in spelling to a header (difflib over every alias)."""
    key = vocab.without_currency(vocab.normalise(text))
    owner = {alias: name for name, aliases in vocab.HEADER_ALIASES.items() for alias in aliases}
    close = difflib.get_close_matches(key, list(owner), n=3, cutoff=0.6)
    return Unknown(text, tuple((alias, owner[alias]) for alias in close))


# --- Guessing language, country and date order -----------------------------------------------


def _language_words() -> dict[str, set[str]]:
    """Words of each language's headers and tab names that no other language uses."""
    words: dict[str, set[str]] = {}
    for lang in LANGUAGES:
        texts = [
            *vocab.PROSPECT_HEADERS[lang].values(),
            *vocab.LOG_HEADERS[lang].values(),
            *vocab.OWNER_HEADERS[lang].values(),
            *vocab.TAB_NAMES[lang].values(),
        ]
        words[lang] = {w for t in texts for w in vocab.normalise(t).split() if len(w) > 2}
    shared = Counter(w for ws in words.values() for w in ws)
    return {lang: {w for w in ws if shared[w] == 1} for lang, ws in words.items()}


def _guess_language(texts: Sequence[str]) -> str:
    """The language most header words belong to; English when nothing tells."""
    words = _language_words()
    seen = [w for t in texts for w in vocab.without_currency(vocab.normalise(t)).split()]
    score = {lang: sum(w in words[lang] for w in seen) for lang in LANGUAGES}
    best = max(LANGUAGES, key=lambda lang: (score[lang], lang == "en"))
    return best if score[best] else "en"


def _currency_sign(texts: Sequence[str]) -> str:
    joined = " ".join(texts)
    for sign in ("$", "£", "€"):
        if sign in joined:
            return sign
    return ""


def _guess_country(language: str, currency: str, table: Table, header: schema.HeaderMap) -> str:
    if language == "en":
        if currency == "$" or _text_date_votes(table, header)["MDY"]:
            return "US"
        return "GB"
    return COUNTRY_BY_LANGUAGE[language]


def _text_date_votes(table: Table, header: schema.HeaderMap) -> Counter[str]:
    """Dates typed as text that only one order reads: a day above 12 first or second."""
    votes: Counter[str] = Counter()
    columns = [header.columns[n] for n in DATE_FIELDS if n in header.columns]
    for _, values in schema.data_rows(table, header):
        for column in columns:
            value = values[column - 1] if column <= len(values) else None
            if not isinstance(value, str):
                continue
            match = _TEXT_DATE.fullmatch(value.strip().split(" ")[0])
            if match is None:
                continue
            first, second = int(match[1]), int(match[2])
            if first > 12 >= second:
                votes["DMY"] += 1
            elif second > 12 >= first:
                votes["MDY"] += 1
    return votes


def _guess_date_order(table: Table, header: schema.HeaderMap, country: str) -> tuple[str, str]:
    votes = _text_date_votes(table, header)
    if votes["DMY"] or votes["MDY"]:
        order = "MDY" if votes["MDY"] > votes["DMY"] else "DMY"
        count = votes[order]
        place = "day first (31/12/2026)" if order == "DMY" else "month first (12/31/2026)"
        against = votes["MDY" if order == "DMY" else "DMY"]
        but = f"; {against} read the other way: check them" if against else ""
        noun = "date" if count == 1 else "dates"
        return order, f"{count} {noun} typed as text put the {place}{but}"
    order = "MDY" if country == "US" else "DMY"
    return order, f"no date typed as text tells; the usual order in {country}"


# --- Writing -----------------------------------------------------------------------------------


def _with_headers(text: str, adoption: Adoption) -> str:
    """The [headers] table with every column found, and notes on those left alone."""
    lines = [f"# Found by sheetfollow adopt in row {adoption.header_row} of {adoption.tab!r}."]
    for name, header in adoption.mapped.items():
        lines.append(f"{name} = {json.dumps(header, ensure_ascii=False)}")
    for name, (old, new, values) in adoption.kept.items():
        shown = ", ".join(values)
        lines.append(
            f"# {json.dumps(old, ensure_ascii=False)} holds your own values ({shown}): "
            "sheetfollow leaves it alone and writes into a column of its own:"
        )
        lines.append(f"{name} = {json.dumps(new, ensure_ascii=False)}")
    for unknown in adoption.unknown:
        lines.append(f"# {unknown.line()}")
    block = "\n".join(lines) + "\n"
    at = text.find("\n[rules]\n")
    if at < 0:
        raise SheetError(f"the shipped {CONFIG_NAME} has no [rules] table")
    return text[: at + 1] + block + text[at:]


def _set_value(text: str, key: str, value: str) -> str:
    """A top-level key set to a bare TOML value (true, 3), keeping the comments."""
    line = re.compile(rf"^{re.escape(key)} = .*$", re.MULTILINE)
    return line.sub(lambda _: f"{key} = {value}", text, count=1)


def _summary(adoption: Adoption) -> str:
    lines = [
        f"# Written by `sheetfollow adopt` for {adoption.workbook}. The workbook was not changed."
    ]
    lines.append(f"# Dates typed as text: {adoption.date_order_why}.")
    if adoption.added:
        lines.append(f"# The first refresh adds the columns: {', '.join(adoption.added)}.")
    lines += [f"# {line}" for line in adoption.left_alone]
    lines += [f"# Warning: {line}" for line in adoption.warnings]
    return "\n".join(lines) + "\n#\n"


def _write(target: Path, text: str) -> None:
    from sheetfollow import starter

    starter.write_new(target, text.encode("utf-8"), overwrite=True)


def default_target(workbook: str) -> Path:
    """sheetfollow.toml beside a workbook file; in the working folder for a Google Sheet."""
    path = Path(workbook)
    if path.suffix.lower() in (".xlsx", ".xlsm") or path.exists():
        return path.parent / CONFIG_NAME
    return Path(CONFIG_NAME)


def sheet_value(workbook: str, target: Path) -> str:
    """How the config names the workbook: its file name when the config sits beside it, its
    full path when not, a Google Sheet as given."""
    path = Path(workbook)
    if not path.exists():
        return workbook
    if path.resolve().parent == target.resolve().parent:
        return path.name
    return str(path.resolve())
