"""Workbooks shaped like the ones users have: written by XlsxWriter the way Excel writes them.

    from realistic import build
    info = build(Path("pipeline.xlsx"), rows=30_000)

What makes them realistic, and why each matters for speed:

- **No `<c>` element for an empty cell.** The five owned columns (Next follow-up, Status,
  Step, Why, Assigned to) have headers and a column format but no cells until sheetfollow
  fills them, as in any sheet Excel saved; so a first refresh inserts every cell it writes.
  Blank Last contact, Outcome, Attempts, Follow up on and Channel cells are absent too.
- **Shared strings** (every text cell of Prospects, Owners and the headers, as Excel writes
  them) and **inline strings** (every text cell of the Log, as openpyxl, exports from other
  tools and sheetfollow's own writer leave them).
- **Styles**: a bold header, dates as serial numbers with a date format, a currency format,
  wrapped notes, column widths, frozen panes, dropdowns for Stage, Last outcome and Channel.
- **A merged title row** (row 1, merged over every column) and a blank row above the headers
  in row 3, so the header row is found below a title (the Excel Table names it).
- **An Excel Table** over the header row and every prospect, with a calculated column after
  the owned ones: `=IF([@Status]="overdue",[@Value],0)` (stored as Excel
  stores it), one `<f>` per row.
- **An Owners tab** of ten owners in five countries (so five holiday calendars) with a
  manager who gets the digest, and **a Log tab** holding earlier touches for 10% of the rows.

The content is drawn from one seeded random.Random: the same `rows` always gives the same
bytes' worth of cells. `TODAY` is the date every command is run with (`--today`).
"""

from __future__ import annotations

import csv
import os
import re
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from html import escape
from pathlib import Path
from random import Random

#: Bump when the generated workbook changes, so cached copies are rebuilt.
VERSION = 2
TODAY = date(2026, 3, 11)  # a Wednesday
SEED = 20260311

INPUT_HEADERS = (
    "ID", "Company", "Contact", "Email", "Phone", "Owner", "Stage", "Segment", "Value",
    "Created", "Last contact", "Last outcome", "Attempts", "Follow up on", "Channel", "Notes",
)  # fmt: skip
OWNED_HEADERS = ("Next follow-up", "Status", "Step", "Why", "Assigned to")
FORMULA_HEADER = "Overdue value"
HEADERS = (*INPUT_HEADERS, *OWNED_HEADERS, FORMULA_HEADER)
#: 0-based columns of the owned headers (Q..U) and of the calculated column (V).
OWNED_COLUMNS = tuple(range(len(INPUT_HEADERS), len(INPUT_HEADERS) + len(OWNED_HEADERS)))
FORMULA_COLUMN = len(HEADERS) - 1
TITLE_ROW, HEADER_ROW = 1, 3  # 1-based, as Excel shows them
#: A full-height sheet: the prospects below the title and headers down to Excel's last row.
MAX_PROSPECTS = 1_048_576 - HEADER_ROW
LOG_HEADERS = ("When", "ID", "Company", "By", "Outcome", "Channel", "Note", "Next follow-up")
OWNER_HEADERS = ("Owner", "Email", "Delegate", "Language", "Country", "Manager", "Digest")

#: name, language, country; the last one manages the others and gets the digest.
OWNERS = (
    ("Anna", "nl", "NL"), ("Bram", "nl", "NL"), ("Jonas", "de", "DE"), ("Lena", "de", "DE"),
    ("Mette", "da", "DK"), ("Søren", "da", "DK"), ("Lucía", "es", "ES"), ("Pablo", "es", "ES"),
    ("Tom", "en", "GB"), ("Sarah", "en", "GB"),
)  # fmt: skip
MANAGER = "Sarah"

STAGES = (
    ("New", 12), ("Contacted", 45), ("Interested", 10), ("Quote", 8), ("Won", 4),
    ("Delivered", 3), ("Customer", 6), ("Not interested", 6), ("Lost", 6),
)  # fmt: skip
OUTCOMES = {
    "Contacted": (("No answer", 45), ("Voicemail", 20), ("Reached", 25), ("Call back", 10)),
    "Interested": (("Interested", 70), ("Reached", 30)),
    "Quote": (("Quote sent", 100),),
    "Won": (("Won", 100),),
    "Delivered": (("Delivered", 100),),
    "Customer": (("Reached", 100),),
    "Not interested": (("Not interested", 100),),
    "Lost": (("Lost", 100),),
}
SEGMENTS = ("consumables", "capital goods", "services")
VALUES = (500, 1500, 2250, 4800, 12_500, 40_000, 240_500)
CHANNELS = (("Phone", 80), ("Email", 14), ("Visit", 6))
# fmt: off
FIRST = ("Pieter", "Ingrid", "Claire", "Jörg", "Renée", "Kees", "Mia", "Noah", "Eva", "Lars",
         "Sofie", "Diego", "Marta", "Oliver", "Emma", "Finn", "Julia", "Sven", "Ana", "Hugo")
LAST = ("Meijer", "de Boer", "Taylor", "Müller", "Jansen", "Schmidt", "Nielsen", "García",
        "Smith", "Visser", "Becker", "Hansen", "López", "Brown", "Bakker", "Wagner")
WORDS = ("Noord", "Zuid", "Alpen", "Hafnia", "Iberia", "Thames", "Rijn", "Elbe", "Delta", "Kust",
         "Berg", "Polder", "Fjord", "Sierra", "Bristol", "Utrecht", "Hansa", "Nova", "Orion")
TRADES = ("Machinebouw", "Verpakkingen", "Logistik", "Metaal", "Print", "Foods", "Tools",
          "Plastics", "Systems", "Trading", "Bouw", "Textiles", "Electric", "Pharma")
# fmt: on
FORMS = ("B.V.", "GmbH", "ApS", "S.L.", "Ltd", "N.V.", "AG", "A/S")
NOTES = (
    "Talked to the buyer, wants to think it over", "Asked for a price list",
    "Decision after the budget round", "Uses a competitor, contract ends in June",
    "Met at the trade fair", "Call after 3 pm", "Prefers email", "Sample sent",
    "New purchasing manager", "Wants a demo on site", "", "", "", "",
)  # fmt: skip


@dataclass(frozen=True)
class Built:
    """What a caller needs to know about a generated workbook."""

    path: Path
    rows: int  # prospects
    log_rows: int
    header_row: int  # 1-based
    mark_id: str  # the ID of a prospect in the middle of the sheet, for `mark`

    @property
    def last_row(self) -> int:
        return self.header_row + self.rows


def prospect_id(n: int) -> str:
    return f"P-{n:07d}"


def company(rng: Random, n: int) -> str:
    # The number keeps names distinct (duplicate detection and `mark` by name stay exact).
    return f"{rng.choice(WORDS)} {rng.choice(TRADES)} {n} {rng.choice(FORMS)}"


def _pick(rng: Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([w for w, _ in weighted], [n for _, n in weighted])[0]


def _ascii(text: str) -> str:
    text = text.replace("ø", "o").replace("Ø", "O")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _business_days_before(day: date, count: int) -> date:
    while count > 0:
        day -= timedelta(days=1)
        if day.weekday() < 5:
            count -= 1
    return day


def _prospect(rng: Random, n: int, today: date) -> list[object]:
    """One row of the 16 input columns; None is a cell that is not written at all."""
    stage = _pick(rng, STAGES)
    created = today - timedelta(days=rng.randint(1, 720))
    last: date | None = None
    outcome: str | None = None
    attempts: int | None = None
    follow: date | None = None
    if stage != "New":
        # Most rows were touched in the last three weeks; a tail is neglected.
        ago = rng.randint(0, 15) if rng.random() < 0.8 else rng.randint(16, 120)
        last = _business_days_before(today, min(ago, (today - created).days))
        last = max(last, created)
        outcome = _pick(rng, OUTCOMES[stage])
        unanswered = outcome in ("No answer", "Voicemail")
        attempts = rng.choice((1, 1, 2, 2, 3, 4, 5, 6)) if unanswered else 0
        if outcome == "Call back" or rng.random() < 0.04:
            follow = today + timedelta(days=rng.randint(-5, 30))
    elif rng.random() < 0.3:
        attempts = 0
    first, surname = rng.choice(FIRST), rng.choice(LAST)
    name = company(rng, n)
    domain = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    owner = rng.choice(OWNERS)[0]
    return [
        prospect_id(n), name, f"{first} {surname}",
        f"{_ascii(first)}.{n}@{domain}.example" if rng.random() < 0.9 else None,
        f"+31 20 {rng.randint(1_000_000, 9_999_999)}" if rng.random() < 0.8 else None,
        owner, stage, rng.choice(SEGMENTS),
        rng.choice(VALUES) if rng.random() < 0.85 else None,
        created, last, outcome, attempts, follow,
        _pick(rng, CHANNELS) if last is not None else None,
        rng.choice(NOTES) or None,
    ]  # fmt: skip


def build(path: Path, rows: int, *, today: date = TODAY, seed: int = SEED) -> Built:
    """Write a workbook of `rows` prospects to `path` (see the module's docstring)."""
    import xlsxwriter

    rows = min(rows, MAX_PROSPECTS)  # asking for 1,048,575 means "as many as fit"
    rng = Random(seed)
    path = Path(path)
    raw = path.with_name(path.name + ".raw.xlsx")
    book = xlsxwriter.Workbook(str(raw), {"strings_to_numbers": False})
    title = book.add_format({"bold": True, "font_size": 16, "align": "left"})
    header = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    day = book.add_format({"num_format": "dd-mm-yyyy"})
    when = book.add_format({"num_format": "dd-mm-yyyy hh:mm"})
    money = book.add_format({"num_format": "€ #,##0"})
    wrap = book.add_format({"text_wrap": True})

    sheet = book.add_worksheet("Prospects")
    width = len(HEADERS)
    sheet.merge_range(0, 0, 0, width - 1, f"Sales pipeline {today.year}", title)
    sheet.set_row(0, 24)
    widths = (10, 34, 20, 36, 16, 10, 14, 14, 11, 12, 12, 14, 9, 12, 9, 40, 14, 14, 8, 50, 12, 12)
    formats = {9: day, 10: day, 13: day, 16: day, 8: money, 21: money, 15: wrap}
    for col, w in enumerate(widths):
        sheet.set_column(col, col, w, formats.get(col))
    sheet.freeze_panes(HEADER_ROW, 2)
    top = HEADER_ROW - 1  # 0-based
    last = top + rows
    logged: dict[int, str] = {}  # prospect -> company, for the Log
    for n in range(1, rows + 1):
        row = top + n
        values = _prospect(rng, n, today)
        if n % 10 == 1:
            logged[n] = str(values[1])
        for col, value in enumerate(values):
            if value is None:
                continue  # an empty cell has no <c> element, as Excel writes it
            if isinstance(value, date):
                sheet.write_datetime(row, col, datetime(value.year, value.month, value.day), day)
            elif col == 8:
                sheet.write_number(row, col, value, money)  # type: ignore[arg-type]
            else:
                sheet.write(row, col, value)
    columns: list[dict[str, object]] = [{"header": h, "header_format": header} for h in HEADERS]
    # As Excel stores a calculated column's formula in each cell (XlsxWriter would turn the
    # short form [@Status] into one Excel rejects).
    columns[FORMULA_COLUMN]["formula"] = (
        '=IF(Pipeline[[#This Row],[Status]]="overdue",Pipeline[[#This Row],[Value]],0)'
    )
    columns[FORMULA_COLUMN]["format"] = money
    sheet.add_table(
        top, 0, max(last, top + 1), width - 1,
        {"name": "Pipeline", "style": "Table Style Medium 2", "columns": columns},
    )  # fmt: skip
    outcome_names = sorted({o for pairs in OUTCOMES.values() for o, _ in pairs})
    for col, values in (
        (6, [s for s, _ in STAGES]), (11, outcome_names), (14, [c for c, _ in CHANNELS])
    ):  # fmt: skip
        sheet.data_validation(top + 1, col, max(last, top + 1), col,
                              {"validate": "list", "source": values})  # fmt: skip

    owners = book.add_worksheet("Owners")
    owners.write_row(0, 0, OWNER_HEADERS, header)
    for r, (name, lang, country) in enumerate(OWNERS, start=1):
        manager = "" if name == MANAGER else MANAGER
        digest = "yes" if name == MANAGER else "no"
        email = f"{_ascii(name)}@example.com"
        owners.write_row(r, 0, [name, email, "", lang, country, manager, digest])

    log = book.add_worksheet("Log")
    log.write_row(0, 0, LOG_HEADERS, header)
    log.set_column(0, 0, 17, when)
    log.set_column(7, 7, 12, day)
    log_rows = rows // 10
    # Earlier touches of every tenth prospect, oldest first, as a log grows.
    start = datetime(today.year, today.month, today.day, 9) - timedelta(days=120)
    step = timedelta(days=120) / max(log_rows, 1)
    lrng = Random(seed + 1)
    for i in range(log_rows):
        n = 1 + i * 10
        at = start + step * i
        outcome = lrng.choice(("No answer", "No answer", "Voicemail", "Reached", "Interested"))
        log.write_datetime(i + 1, 0, at, when)
        log.write_row(i + 1, 1, [prospect_id(n), logged[n], lrng.choice(OWNERS)[0],
                                 outcome, "Phone", lrng.choice(NOTES) or "called"])  # fmt: skip
        nxt = at.date() + timedelta(days=lrng.randint(2, 10))
        log.write_datetime(i + 1, 7, datetime(nxt.year, nxt.month, nxt.day), day)
    book.close()
    _inline_log_strings(raw, path)
    raw.unlink()
    return Built(path, rows, log_rows, HEADER_ROW, prospect_id(rows // 2))


_SHARED_CELL = re.compile(rb'<c r="([A-Z]+[0-9]+)"( s="[0-9]+")? t="s"><v>([0-9]+)</v></c>')
_SI = re.compile(rb"<si><t(?: xml:space=\"preserve\")?>(.*?)</t></si>", re.S)


def _inline_log_strings(source: Path, target: Path) -> None:
    """Copy the package, with the Log's text cells turned into inline strings.

    XlsxWriter writes one kind of string per workbook (inline ones only in constant_memory
    mode, which cannot make Tables), so the Log is rewritten here. The shared strings it no
    longer uses stay in sharedStrings.xml, as they do in a workbook Excel saved after edits.
    """
    with zipfile.ZipFile(source) as package:
        shared = [m.group(1) for m in _SI.finditer(package.read("xl/sharedStrings.xml"))]
        log_part = _part_of(package, "Log")

        def inline(match: re.Match[bytes]) -> bytes:
            ref, style, index = match.group(1), match.group(2) or b"", int(match.group(3))
            text = shared[index]
            space = b' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else b""
            return b'<c r="%s"%s t="inlineStr"><is><t%s>%s</t></is></c>' % (
                ref, style, space, text)  # fmt: skip

        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
            for info in package.infolist():
                data = package.read(info)
                if info.filename == log_part:
                    data = _SHARED_CELL.sub(inline, data)
                out.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)


def _part_of(package: zipfile.ZipFile, tab: str) -> str:
    """The zip member of a tab, through workbook.xml and its relationships."""
    workbook = package.read("xl/workbook.xml").decode()
    rels = package.read("xl/_rels/workbook.xml.rels").decode()
    name = re.escape(escape(tab))
    rid = re.search(rf'<sheet name="{name}" sheetId="\d+" r:id="(rId\d+)"', workbook)
    assert rid, tab
    target = re.search(rf'Id="{rid.group(1)}"[^>]*Target="([^"]+)"', rels) or re.search(
        rf'Target="([^"]+)"[^>]*Id="{rid.group(1)}"', rels
    )
    assert target, rid.group(1)
    return "xl/" + target.group(1).removeprefix("/xl/")


def write_import_csv(path: Path, rows: int, *, seed: int = SEED) -> int:
    """A CSV export of 1% of `rows` leads, as a CRM gives them: nine in ten new, one in ten
    already in the sheet (same email) so the duplicate check has work. Returns its lines."""
    rows = min(rows, MAX_PROSPECTS)
    rng = Random(seed + 2)
    count = max(rows // 100, 1)
    dup_lines = range(9, count, 10)
    picks = [rng.randrange(1, rows + 1) for _ in dup_lines]
    wanted = set(picks)
    again = Random(seed)  # the prospects as build() drew them, for real duplicates
    existing: dict[int, list[object]] = {}
    for n in range(1, rows + 1):
        values = _prospect(again, n, TODAY)
        if n in wanted:
            existing[n] = values
    dups = dict(zip(dup_lines, picks, strict=True))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["Company", "Contact", "Email", "Phone", "Value", "Segment"])
        for i in range(count):
            if i in dups:  # a prospect the sheet has, as the CRM spells it
                row = existing[dups[i]]
                out.writerow([row[1], row[2], row[3] or "", row[4] or "", "", ""])
                continue
            n = rows + 1 + i
            first, surname = rng.choice(FIRST), rng.choice(LAST)
            name = f"{rng.choice(WORDS)} {rng.choice(TRADES)} import {n} {rng.choice(FORMS)}"
            out.writerow([name, f"{first} {surname}", f"{_ascii(first)}.{n}@lead.example",
                          f"+49 30 {rng.randint(1_000_000, 9_999_999)}",
                          rng.choice(("", "1500", "4800")), rng.choice(SEGMENTS)])  # fmt: skip
    return count


def cached(rows: int, folder: Path | None = None) -> Built:
    """The workbook of `rows` prospects, built once per generator version and kept in
    `folder` (default: $SHEETFOLLOW_BENCH_CACHE or the temp folder), since a million rows
    take minutes to generate."""
    folder = Path(folder or os.environ.get("SHEETFOLLOW_BENCH_CACHE")
                  or Path(tempfile.gettempdir()) / "sheetfollow-bench")  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"realistic-v{VERSION}-{rows}.xlsx"
    if not path.exists():
        # A name of its own: another process may be building the same size meanwhile.
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial.xlsx")
        build(partial, rows)
        os.replace(partial, path)
    rows = min(rows, MAX_PROSPECTS)
    return Built(path, rows, rows // 10, HEADER_ROW, prospect_id(rows // 2))
