"""Leave and cover (DESIGN.md §9): while an owner is away (Owners tab Away from / Away until)
their due rows go to their Cover, with a Why that says so, and reach the cover's email; the
owner gets no email. Without a cover the rows wait with the owner, and are still due (or
overdue) the day they are back. The digest says who is away and who covers.

The tests write real .xlsx workbooks and run the real CLI on them.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from conftest import Cli, Tab, write_workbook
from json_output import data_of

from sheetfollow import notifier, schema, service, vocab
from sheetfollow.backends.xlsx import XlsxBackend
from sheetfollow.config import Config
from sheetfollow.sheet import Table

MONDAY = date(2026, 12, 7)
FRIDAY = date(2026, 12, 11)
NEXT_MONDAY = date(2026, 12, 14)

CONFIG = """\
sheet = "pipeline.xlsx"
timezone = "Europe/Amsterdam"
language = "en"

[calendar]
country = "NL"
"""

PROSPECTS = [
    ["ID", "Company", "Owner", "Stage", "Created", "Value"],
    ["P-1", "Acme Tools", "Anna", "new", date(2026, 12, 1), 5000],
    ["P-2", "Brick & Co", "Anna", "new", date(2026, 12, 2), 8000],
    ["P-3", "Crane BV", "Bert", "new", date(2026, 12, 3), 3000],
    ["P-4", "Delta Ltd", "Carl", "new", date(2026, 12, 3), 2000],
]

OWNERS_HEADER = ["Owner", "Email", "Manager", "Digest", "Away from", "Away until", "Cover"]


def _owners(anna_cover: str = "Bert", carl_from: date | None = None) -> list[list[object]]:
    return [
        OWNERS_HEADER,
        ["Anna", "anna@example.com", "Mia", "no", MONDAY, FRIDAY, anna_cover],
        ["Bert", "bert@example.com", "Mia", "no", None, None, None],
        ["Carl", "carl@example.com", "Mia", "no", carl_from, FRIDAY if carl_from else None, None],
        ["Mia", "mia@example.com", None, "yes", None, None, None],
    ]


def _workbook(folder: Path, owners: list[list[object]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = write_workbook(
        folder / "pipeline.xlsx", Tab("Prospects", PROSPECTS), Tab("Owners", owners)
    )
    (folder / "sheetfollow.toml").write_text(CONFIG, encoding="utf-8")
    return path


def _table(rows: list[list[object]]) -> Table:
    return Table(tab="Owners", rows=[list(r) for r in rows])  # type: ignore[misc]


# --- The Owners tab -----------------------------------------------------------------------------


@pytest.mark.parametrize("lang", vocab.LANGS)
def test_the_leave_columns_are_read_in_every_language(lang: str) -> None:
    names = vocab.OWNER_HEADERS[lang]
    header = [names[f] for f in ("owner", "email", "away_from", "away_until", "cover")]
    owners, problems = schema.parse_owners(
        _table(
            [
                header,
                ["Anna", "anna@example.com", "2026-12-07", "11-12-2026", "bert"],
                ["Bert", "bert@example.com", None, None, None],
            ]
        )
    )
    assert problems == ()
    anna = owners["anna"]
    assert (anna.away_from, anna.away_until, anna.cover) == (MONDAY, FRIDAY, "Bert")
    assert anna.away_on(MONDAY) and anna.away_on(FRIDAY)
    assert not anna.away_on(date(2026, 12, 6)) and not anna.away_on(NEXT_MONDAY)
    assert not owners["bert"].away_on(MONDAY)


def test_bad_leave_cells_are_problems_with_their_cell() -> None:
    owners, problems = schema.parse_owners(
        _table(
            [
                OWNERS_HEADER,
                ["Anna", "anna@example.com", None, None, "tomorrow", None, None],
                ["Bert", "bert@example.com", None, None, FRIDAY, MONDAY, None],
                ["Carl", "carl@example.com", None, None, MONDAY, FRIDAY, "Zoe"],
                ["Dora", "dora@example.com", None, None, MONDAY, FRIDAY, "dora"],
            ]
        )
    )
    found = {p.ref: p.message for p in problems}
    assert "is not a date" in found["Owners!E2"]
    assert "before Away from" in found["Owners!F3"]
    assert "'Zoe' is not in the Owners tab" in found["Owners!G4"].replace('"', "'")
    assert "cannot cover for themselves" in found["Owners!G5"]
    # A bad leave is ignored (the owner counts as present); a bad cover is no cover.
    assert not owners["anna"].away_on(MONDAY) and not owners["bert"].away_on(MONDAY)
    assert owners["carl"].away_on(MONDAY) and owners["carl"].cover == ""
    assert owners["dora"].cover == ""


# --- Rows, emails and the digest ----------------------------------------------------------------


def test_an_away_owners_due_rows_go_to_the_cover_with_a_why(tmp_path: Path) -> None:
    path = _workbook(tmp_path, _owners())
    pipeline = service.load(XlsxBackend(path), Config(), MONDAY)
    rows = {r.prospect.id: r for r in pipeline.rows}
    for pid in ("P-1", "P-2"):
        computed = rows[pid].computed
        assert computed.is_due(MONDAY)
        assert computed.assigned_to == "Bert"
        assert computed.why.startswith("Anna is away until Fri 11 Dec 2026: Bert covers.")
    assert rows["P-3"].computed.assigned_to == "Bert"
    assert "away" not in rows["P-3"].computed.why
    # The cover's email carries the rows; the owner on leave gets none, and the report
    # says why.
    plans, _ = notifier.owner_plans(pipeline, Config(), MONDAY, "pipeline.xlsx")
    by = {p.key: p for p in plans}
    assert by["Anna"].message is None and by["Anna"].status == notifier.SKIPPED
    assert "Anna is away until Fri 11 Dec 2026: Bert covers" in by["Anna"].reason
    bert = next(p for p in plans if p.to == "bert@example.com").message
    assert bert is not None
    for company in ("Acme Tools", "Brick & Co", "Crane BV"):
        assert company in bert.text


def test_without_a_cover_the_rows_wait_and_are_due_on_return(tmp_path: Path) -> None:
    path = _workbook(tmp_path, _owners(anna_cover=""))
    pipeline = service.load(XlsxBackend(path), Config(), MONDAY)
    anna = [r for r in pipeline.rows if r.prospect.owner == "Anna"]
    for row in anna:
        assert row.computed.assigned_to == "Anna"
        assert row.computed.why.startswith("Anna is away until Fri 11 Dec 2026; no cover: it waits")
    plans, _ = notifier.owner_plans(pipeline, Config(), MONDAY, "pipeline.xlsx")
    skipped = next(p for p in plans if p.key == "Anna")
    assert skipped.message is None and "no cover" in skipped.reason
    # Back on the day after Away until: the rows are hers again, overdue, on her email
    # (without a daily limit the whole backlog; with one it is spread: test_capacity.py).
    back = service.load(XlsxBackend(path), Config(), NEXT_MONDAY)
    for row in (r for r in back.rows if r.prospect.owner == "Anna"):
        assert row.computed.is_due(NEXT_MONDAY) and row.computed.assigned_to == "Anna"
        assert "away" not in row.computed.why
    plans, _ = notifier.owner_plans(back, Config(), NEXT_MONDAY, "pipeline.xlsx")
    mail = next(p for p in plans if p.to == "anna@example.com").message
    assert mail is not None and "Acme Tools" in mail.text and "Brick & Co" in mail.text


def test_a_cover_who_is_away_too_is_no_cover(tmp_path: Path) -> None:
    owners = _owners(anna_cover="Carl", carl_from=MONDAY)
    path = _workbook(tmp_path, owners)
    pipeline = service.load(XlsxBackend(path), Config(), MONDAY)
    for row in (r for r in pipeline.rows if r.prospect.owner == "Anna"):
        assert row.computed.assigned_to == "Anna"
        assert "Carl (cover) is away too: it waits." in row.computed.why


def test_the_cli_sends_the_rows_to_the_cover_and_the_digest_says_who_is_away(
    cli: Cli, tmp_path: Path
) -> None:
    path = _workbook(tmp_path / "team", _owners())
    config = path.parent / "sheetfollow.toml"
    outbox = tmp_path / "outbox"
    result = cli("run", "--config", config, "--outbox", outbox, "--today", MONDAY.isoformat())
    assert result.exit_code == 0, result.output
    assert "Anna is away until Fri 11 Dec 2026: Bert covers" in result.output
    mails = {p.name: p.read_text(errors="replace") for p in outbox.glob("*.eml")}
    assert not any("anna" in name for name in mails)
    bert = next(text for name, text in mails.items() if "bert" in name)
    assert "Acme Tools" in bert
    digest = next(text for name, text in mails.items() if "digest" in name)
    assert "Away: Anna until" in digest and "(Bert covers)" in digest
    # The sheet says so too: Assigned to and Why are written back.
    due = cli("due", "--json", "--config", config, "--today", MONDAY.isoformat())
    assert due.exit_code == 0, due.output
    found = data_of(due.stdout)
    items = found if isinstance(found, list) else found.get("rows", found.get("due", []))
    acme = next(item for item in items if item["id"] == "P-1")
    assert acme["assigned_to"] == "Bert" and "Bert covers" in acme["why"]
