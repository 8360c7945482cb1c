"""sheetfollow at the edges of what a workbook and a team hold: Excel's last row, an owner
with thousands of follow-ups, ten thousand owners, paths and tab names beyond ASCII.

The heavy cases run the real command (in-process, or as a subprocess when its peak memory
is measured) on real workbooks written by XlsxWriter, and print what they measured: run
with `-s` to see the numbers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path

import lxml.html
import pytest
import xlsxwriter
from conftest import (
    TEAM_OWNERS,
    TODAY,
    Cell,
    Cli,
    Layout,
    Tab,
    as_date,
    openpyxl_rows,
    records,
    write_workbook,
)
from icalendar import Calendar
from json_output import data_of

from sheetfollow.config import CalendarConfig, Config, EmailConfig
from sheetfollow.models import Outcome, Owner, Prospect, Row, Stage
from sheetfollow.notify import render
from sheetfollow.notify.message import Message
from sheetfollow.notify.render import owner_message
from sheetfollow.service import compute_row

ISO_TODAY = TODAY.isoformat()
#: The emails of a team on TODAY, a Wednesday in the Netherlands.
CONFIG = Config(
    sheet="pipeline.xlsx",
    timezone="Europe/Amsterdam",
    calendar=CalendarConfig(country="NL"),
    # A team that raised the cap ([email] max_cards) far above the default of 25.
    email=EmailConfig(max_cards=100),
)
MAX_CARDS = CONFIG.email.max_cards
TEAM_TOML = """\
sheet = "pipeline.xlsx"
timezone = "Europe/Amsterdam"

[calendar]
country = "NL"
"""
#: Each email (HTML, text, calendar) of one owner stays below this, however much is due.
EMAIL_BYTES = 500_000


@dataclass(frozen=True)
class Measured:
    """A finished subprocess: its exit code, output, wall time and peak resident memory."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_bytes: int


def run_measured(args: list[str], cwd: Path, timeout: float) -> Measured:
    """`python -m sheetfollow ARGS` in cwd; wait4 gives that child's own peak memory."""
    out, err = cwd / "measured.out", cwd / "measured.err"
    started = time.perf_counter()
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "sheetfollow", *args], cwd=cwd, stdout=stdout, stderr=stderr
        )
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.05)
    # Reaped here, not by Popen: tell it, so it does not wait for the child again.
    process.returncode = os.waitstatus_to_exitcode(status)
    return Measured(
        returncode=process.returncode,
        stdout=out.read_text(encoding="utf-8"),
        stderr=err.read_text(encoding="utf-8"),
        seconds=time.perf_counter() - started,
        peak_bytes=usage.ru_maxrss * 1024,  # kilobytes on Linux
    )


# --- Excel's last row --------------------------------------------------------------------------

#: Rows of a worksheet: the header and 1,048,575 prospects.
EXCEL_ROWS = 1_048_576
#: One prospect in this many is a new lead from today (due); the others are lost, so the
#: call list stays short and the output small. The last row is due too.
DUE_EVERY = 10_000
#: What reading a full-height sheet may cost: a bound against blow-ups, not a benchmark
#: (on 2 shared cores `due --json` took 52-70 s and 1.15 GB).
FULL_HEIGHT_SECONDS = 300
FULL_HEIGHT_BYTES = 2 << 30


def write_full_height(path: Path) -> list[int]:
    """A Prospects tab down to Excel's last row (XlsxWriter's constant_memory mode, which
    streams rows and writes strings inline); returns the sheet rows that are due."""
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = workbook.add_worksheet("Prospects")
    day = workbook.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write_row(0, 0, ["Company", "Owner", "Stage", "Created"])
    today = datetime(TODAY.year, TODAY.month, TODAY.day)
    long_ago = datetime(2025, 1, 6)
    due: list[int] = []
    for index in range(1, EXCEL_ROWS):
        is_due = index % DUE_EVERY == 0 or index == EXCEL_ROWS - 1
        sheet.write_string(index, 0, f"Company {index}")
        sheet.write_string(index, 1, "Anna")
        sheet.write_string(index, 2, "new" if is_due else "lost")
        sheet.write_datetime(index, 3, today if is_due else long_ago, day)
        if is_due:
            due.append(index + 1)
    workbook.close()
    return due


@pytest.mark.slow
def test_a_prospects_tab_down_to_excels_last_row_reads(tmp_path: Path) -> None:
    due = write_full_height(tmp_path / "pipeline.xlsx")
    (tmp_path / "sheetfollow.toml").write_text(TEAM_TOML, encoding="utf-8")

    measured = run_measured(
        ["due", "--json", "--today", ISO_TODAY], tmp_path, timeout=FULL_HEIGHT_SECONDS
    )

    print(
        f"\ndue --json on {EXCEL_ROWS - 1:,} prospects: {measured.seconds:.1f} s, "
        f"peak {measured.peak_bytes / 2**20:,.0f} MiB"
    )
    assert measured.returncode == 0, measured.stderr
    rows = data_of(measured.stdout)
    assert sorted(row["row"] for row in rows) == due
    assert EXCEL_ROWS in {row["row"] for row in rows}
    assert measured.peak_bytes < FULL_HEIGHT_BYTES
    assert measured.seconds < FULL_HEIGHT_SECONDS


# --- An owner with thousands of follow-ups -------------------------------------------------------


def anna(language: str = "en") -> Owner:
    return Owner(name="Anna", email="anna@example.com", country="NL", language=language)


def lead(number: int, created: date, **changes: object) -> Prospect:
    """A new lead nobody called yet (due on the business day it was created), with notes
    long enough to be cut."""
    fields: dict[str, object] = {
        "id": f"P-{number:05d}",
        "company": f"Company {number} B.V.",
        "contact": f"Contact {number}",
        "phone": f"+31 20 555 {number:04d}",
        "email": f"contact{number}@example.com",
        "owner": "Anna",
        "stage": Stage.NEW,
        "created": created,
        "value": 1000 + number,
        "notes": "Met at the trade fair; wants a demo of the new line before the summer. " * 3,
    }
    fields.update(changes)
    return Prospect(number, **fields)  # type: ignore[arg-type]


def rows_of(*prospects: Prospect, owner: Owner | None = None) -> list[Row]:
    return [compute_row(p, owner or anna(), CONFIG, TODAY) for p in prospects]


def email_to(rows: list[Row], owner: Owner | None = None) -> Message:
    message = owner_message(owner or anna(), rows, today=TODAY, config=CONFIG, sheet="")
    assert message is not None
    return message


def cards_shown(message: Message) -> int:
    page = lxml.html.fromstring(message.html)
    big = [d for d in page.iter("div") if "font-size:16px" in d.get("style", "")]
    compact = [d for d in page.iter("div") if "background-color:#f9fafb" in d.get("style", "")]
    return len(big) + len(compact)


def calendar_events(message: Message) -> list[str]:
    (attachment,) = message.attachments
    return [str(e["UID"]) for e in Calendar.from_ical(attachment.data).walk("VEVENT")]


def assert_bounded(message: Message) -> None:
    (attachment,) = message.attachments
    sizes = {
        "html": len(message.html.encode()),
        "text": len(message.text.encode()),
        "ics": len(attachment.data),
    }
    assert all(size < EMAIL_BYTES for size in sizes.values()), sizes


def test_an_owner_with_5000_due_today_gets_the_first_cards_and_a_count_of_the_rest() -> None:
    message = email_to(rows_of(*(lead(n, TODAY) for n in range(2, 5002))))

    assert message.subject == "5,000 follow-ups today"
    assert_bounded(message)
    assert cards_shown(message) == MAX_CARDS
    # New leads that came in today are the day's first calls (the call order).
    assert "FIRST: PROMISED AND SAME-DAY CALLS (5,000)" in message.text
    assert message.text.count("and 4,900 more: see the sheet") == 1
    assert message.html.count("and 4,900 more: see the sheet") == 1
    # The largest values first, as always: the first cards are the ones that matter most.
    assert message.text.index("Company 5001 B.V.") < message.text.index("Company 4902 B.V.")
    assert "Company 4901 B.V." not in message.text
    # The calendar holds the calls shown, each once.
    events = calendar_events(message)
    assert len(events) == len(set(events)) == MAX_CARDS


def test_the_cap_runs_over_the_sections_in_order_and_each_counts_what_it_hides() -> None:
    overdue = [lead(n, TODAY - timedelta(days=7)) for n in range(2, 2002)]
    due_today = [lead(n, TODAY) for n in range(2002, 5002)]
    # A quote sent yesterday is asked about on Friday: in the coming days.
    quoted = {"stage": Stage.QUOTE, "last_contact": TODAY - timedelta(days=1)}
    coming = [
        lead(n, TODAY - timedelta(days=30), last_outcome=Outcome.QUOTE_SENT, **quoted)
        for n in range(5002, 5042)
    ]
    message = email_to(rows_of(*overdue, *due_today, *coming))

    assert message.subject == "5,000 follow-ups today, 2,000 overdue"
    assert_bounded(message)
    assert cards_shown(message) == MAX_CARDS
    text = message.text
    # Today's new leads come first (the call order), then the overdue ones.
    first = "FIRST: PROMISED AND SAME-DAY CALLS (3,000)"
    assert first in text and "and 2,900 more: see the sheet" in text
    assert "OVERDUE (2,000)" in text and "and 2,000 more: see the sheet" in text
    assert text.index(first) < text.index("OVERDUE (2,000)") < text.index("COMING DAYS (40)")
    assert "COMING DAYS (40)" in text and "and 40 more: see the sheet" in text
    assert len(calendar_events(message)) == MAX_CARDS


def test_cells_at_excels_size_limit_still_make_a_bounded_email() -> None:
    huge = "Ünïcödé " * (32_767 // 8)
    rows = rows_of(
        *(
            lead(n, TODAY, id="", company=f"{n} {huge}", contact=huge, phone=huge, email=huge)
            for n in range(2, 5002)
        )
    )

    message = email_to(rows)

    assert_bounded(message)
    assert cards_shown(message) == MAX_CARDS
    # The command still finds the prospect: mark takes a unique beginning of a company.
    assert "sheetfollow mark '5001 Ünïcödé Ünïcödé" in message.text


def test_a_short_list_shows_every_card_and_no_count() -> None:
    message = email_to(rows_of(*(lead(n, TODAY) for n in range(2, 2 + MAX_CARDS))))

    assert cards_shown(message) == MAX_CARDS
    assert "more: see the sheet" not in message.text
    assert "more: see the sheet" not in message.html


@pytest.mark.parametrize(
    ("language", "line"),
    [
        ("en", "and 4,900 more: see the sheet"),
        ("nl", "en nog 4.900: zie de sheet"),
        ("de", "und 4.900 weitere: siehe die Tabelle"),
        ("da", "og 4.900 mere: se regnearket"),
        ("es", "y 4.900 más: consulta la hoja"),
    ],
)
def test_the_count_of_the_rest_is_in_the_owners_language(language: str, line: str) -> None:
    owner = anna(language)
    message = email_to(rows_of(*(lead(n, TODAY) for n in range(2, 5002)), owner=owner), owner)

    assert line in message.text
    assert line in lxml.html.fromstring(message.html).text_content()


def test_the_count_line_comes_from_the_strings_table() -> None:
    for language, table in render.strings_table().items():
        forms = table["more_in_sheet"]
        assert isinstance(forms, dict) and set(forms) == {"one", "other"}, language


# --- Ten thousand owners --------------------------------------------------------------------------

OWNER_COUNT = 10_000
PROSPECTS_PER_OWNER = 3
#: How long `run --outbox` for ten thousand owners may go on before the test stops it: a
#: bound against a hang or a cost that grows with the square of the emails (that took more
#: than 20 minutes for 3,617 of them), not a speed measurement (tests/benchmarks measures
#: speed). Alone on 2 cores the run takes about 80 s; on a machine busy with other work, up
#: to three times that.
TEAM_RUN_SECONDS = 600


def owner_name(n: int) -> str:
    return f"Owner {n:05d}"


def write_big_team(folder: Path) -> Path:
    """10,000 owners (Owners tab) with 3 new leads each from today: 30,000 due prospects."""
    owners: list[list[Cell]] = [["Owner", "Email", "Language"]]
    owners += [[owner_name(n), f"owner{n:05d}@example.com", "en"] for n in range(OWNER_COUNT)]
    prospects: list[list[Cell]] = [
        ["ID", "Company", "Owner", "Stage", "Created", "Last contact", "Last outcome", "Attempts"]
    ]
    for n in range(OWNER_COUNT * PROSPECTS_PER_OWNER):
        owner = owner_name(n % OWNER_COUNT)
        prospects.append([f"P-{n + 1:05d}", f"Company {n}", owner, "new", TODAY])
    (folder / "sheetfollow.toml").write_text(TEAM_TOML, encoding="utf-8")
    return write_workbook(
        folder / "pipeline.xlsx", Tab("Prospects", prospects), Tab("Owners", owners)
    )


@pytest.mark.slow
def test_ten_thousand_owners_each_get_one_email_in_a_dry_run(cli: Cli, tmp_path: Path) -> None:
    write_big_team(tmp_path)

    started = time.perf_counter()
    result = cli("notify", "--dry-run", "--json", "--today", ISO_TODAY)
    seconds = time.perf_counter() - started

    print(f"\nnotify --dry-run for {OWNER_COUNT:,} owners: {seconds:.1f} s")
    assert result.exit_code == 0, result.output
    emails = data_of(result.stdout)["emails"]
    owners = Counter(e["key"] for e in emails if e["kind"] == "owner")
    assert set(owners) == {owner_name(n) for n in range(OWNER_COUNT)}
    assert set(owners.values()) == {1}
    assert {e["subject"] for e in emails if e["kind"] == "owner"} == {"3 follow-ups today"}


def recipient(eml: Path) -> str:
    """The To of an email the outbox wrote."""
    with eml.open("rb") as handle:
        return str(BytesParser(policy=policy.default).parse(handle, headersonly=True)["To"])


@pytest.mark.slow
def test_ten_thousand_owners_each_get_one_email_from_the_nightly_run(tmp_path: Path) -> None:
    write_big_team(tmp_path)

    measured = run_measured(
        ["run", "--outbox", "out", "--json", "--today", ISO_TODAY], tmp_path, TEAM_RUN_SECONDS
    )

    written = sorted((tmp_path / "out").glob("*.eml"))
    print(
        f"\nrun --outbox for {OWNER_COUNT:,} owners: {measured.seconds:.1f} s, "
        f"{len(written):,} emails written, peak {measured.peak_bytes / 2**20:,.0f} MiB"
    )
    # Never two emails for one owner, whether or not the run got to the end.
    per_owner = Counter(recipient(path) for path in written)
    assert set(per_owner.values()) <= {1}
    assert measured.returncode == 0, measured.stderr[-2000:]
    assert len(written) == OWNER_COUNT


# --- Paths and tab names beyond ASCII ----------------------------------------------------------

FOREIGN_TOML = """\
sheet = "pipeline Ünïcödé.xlsx"
timezone = "Europe/Amsterdam"

[tabs]
prospects = "Prospectos"
log = "Registro"
owners = "Équipe 🚀"

[rules]
delegate_below = 1000

[calendar]
country = "NL"
"""


def libreoffice_lock(workbook: Path, holder: str) -> Path:
    """The lock file LibreOffice keeps beside a workbook it has open."""
    lock = workbook.parent / f".~lock.{workbook.name}#"
    line = f"{holder},zoe,laptop-zoë,11.03.2026 09:12,file:///home/zoe/.config/libreoffice/4;"
    lock.write_bytes(line.encode("utf-8"))
    return lock


def test_paths_and_tab_names_beyond_ascii(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "Ventes été"
    folder.mkdir()
    workbook = folder / "pipeline Ünïcödé.xlsx"
    owners = [*TEAM_OWNERS, ("Ünïcödé", "not an address", None, "es", "ES")]
    write_workbook(workbook, Layout().tab("Prospectos"), Tab("Équipe 🚀", owners))
    config = folder / "sheetfollow.toml"
    config.write_text(FOREIGN_TOML, encoding="utf-8")
    common = ("--config", str(config), "--today", ISO_TODAY)

    check = cli("check", "--json", *common)
    assert check.exit_code == 5, check.output
    refs = {p["ref"] for p in data_of(check.stdout)["problems"]}
    assert "'Équipe 🚀'!B6" in refs  # quoted: a space and an emoji
    assert any(ref.startswith("Prospectos!") for ref in refs)
    text = cli("check", *common)
    assert text.stdout.splitlines()[0] == f"{workbook}: 10 prospects, headers in row 1"

    refresh = cli("refresh", *common)
    assert refresh.exit_code == 0, refresh.output
    assert refresh.stdout.startswith(f"{workbook}: 10 prospects · ")
    assert records(workbook, "Prospectos")["Delta GmbH"]["Status"] == "overdue"

    mark = cli("mark", "Brick & Co", "no-answer", *common)
    assert mark.exit_code == 0, mark.output
    log = openpyxl_rows(workbook, "Registro")
    assert [row[2] for row in log[1:]] == ["Brick & Co"]

    due = cli("due", "--json", *common)
    assert due.exit_code == 0, due.output
    listed = {row["company"] for row in data_of(due.stdout)}
    assert {"Acme Tools", "Cobalt BV", "Delta GmbH", "India Pty"} <= listed

    # Held open by a colleague: the touch waits in a journal beside the workbook, and the
    # line says who holds which file.
    lock = libreoffice_lock(workbook, "Zoë Ünïcödé")
    held = cli("mark", "Acme Tools", "reached", *common)
    assert held.exit_code == 10, held.output
    assert "Zoë Ünïcödé" in held.stderr
    assert workbook.name in held.stderr
    assert (folder / ".sheetfollow" / f"{workbook.name}.pending.jsonl").is_file()
    lock.unlink()
    applied = cli("refresh", *common)
    assert applied.exit_code == 0, applied.output
    assert [row[2] for row in openpyxl_rows(workbook, "Registro")[1:]] == [
        "Brick & Co",
        "Acme Tools",
    ]
    assert as_date(records(workbook, "Prospectos")["Acme Tools"]["Last contact"]) == TODAY

    missing = folder / "absent Ünï.xlsx"
    gone = cli("due", "--sheet", str(missing), *common)
    assert gone.exit_code == 4
    assert gone.stderr.strip() == f"error: {missing} was not found"


def test_a_non_ascii_path_under_the_c_locale(tmp_path: Path) -> None:
    """cron often runs with LANG unset: Python then speaks UTF-8 anyway (PEP 538/540)."""
    folder = tmp_path / "Ventes été"
    folder.mkdir()
    workbook = folder / "pipeline Ünïcödé.xlsx"
    write_workbook(workbook, Layout().tab("Prospectos"), Tab("Équipe 🚀", TEAM_OWNERS))
    (folder / "sheetfollow.toml").write_text(FOREIGN_TOML, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG", "PYTHONIO"))}

    done = subprocess.run(
        [sys.executable, "-m", "sheetfollow", "check", "--today", ISO_TODAY],
        cwd=folder,
        env={**env, "LC_ALL": "C"},
        capture_output=True,
        timeout=120,
    )

    assert done.returncode == 5, done.stderr
    lines = done.stdout.decode("utf-8").splitlines()
    assert lines[0] == f"{workbook}: 10 prospects, headers in row 1"
