"""Calls typed into a Google Sheet, and the pending journal when Google refuses the write.

The team's pipeline (conftest) lives in the fake Sheets server, and the team uses it as
people do: they type calls into the sheet in the browser (here: a second, plain gspread
client writing with USER_ENTERED, as the Sheets web app does) and run the command line.

When Google refuses every write (the sheet is shared with the service account as Viewer:
reads work, each write answers 403 PERMISSION_DENIED), `mark` and `run` keep what must not
be lost in the pending journal next to sheetfollow.toml, and the next command that can
write applies it exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import gspread
import pytest
import requests
from conftest import TEAM_CONFIG, TODAY, Cli, Layout
from fakes.sheets_server import FakeSheets, SheetDate, _ApiError
from google.auth.transport.requests import AuthorizedSession, Request
from google.oauth2 import service_account
from json_output import data_of
from requests.adapters import HTTPAdapter
from typer.testing import Result

from backends.test_gsheets import KEY, OTHER_KEY, team_tabs
from sheetfollow import service
from sheetfollow.backends.gsheets import (
    API_ROOT,
    ENDPOINT_ENV,
    IAM_ROOT,
    SCOPES,
    GoogleSheetsBackend,
    RetryPolicy,
    sheet_url,
)
from sheetfollow.config import load_config
from sheetfollow.exit_codes import ExitCode
from sheetfollow.mark import MarkRequest, mark

D = FakeSheets.date
EPOCH = date(1899, 12, 30)
TOUCHES_TAB = "sheetfollow_touches"
STATE_TAB = "sheetfollow_state"
TABS = ("Prospects", "Owners", "Log", TOUCHES_TAB, STATE_TAB)

#: A customer who had the delivery on Monday last week: the check-in call is pending.
KILO = {
    "id": "P-0008",
    "company": "Kilo BV",
    "contact": "Kees Kilo",
    "phone": "+31 20 555 0111",
    "owner": "Bob",
    "stage": "delivered",
    "value": 40000,
    "created": date(2026, 1, 5),
    "last_contact": date(2026, 3, 2),
    "last_outcome": "delivered",
}
#: A lead from February that nobody has called yet: long overdue.
LIMA = {
    "id": "P-0009",
    "company": "Lima Srl",
    "contact": "Luca Lima",
    "phone": "+39 06 555 0112",
    "owner": "Anna",
    "stage": "new",
    "value": 6000,
    "created": date(2026, 2, 16),
}

LOG_HEADER = ["When", "ID", "Company", "By", "Outcome", "Channel", "Note", "Next follow-up"]
#: The Log as the team keeps it: one touch recorded before sheetfollow came along.
OLD_LOG: list[list[Any]] = [
    LOG_HEADER,
    [D(2026, 3, 2), "P-0007", "Delta GmbH", "Bob", "no answer", "phone", None, D(2026, 3, 9)],
]


# --- The team's sheet in the fake -------------------------------------------------------------


@dataclass
class Team:
    key: str
    folder: Path
    config: Path
    env: dict[str, str]
    key_file: Path

    @property
    def journal(self) -> Path:
        """Where the pending journal of a Google Sheet goes: beside sheetfollow.toml."""
        return self.folder / ".sheetfollow" / f"{self.key}.pending.jsonl"


def make_team(
    fake: FakeSheets, folder: Path, key: str, extra: tuple[Mapping[str, Any], ...] = ()
) -> Team:
    folder.mkdir(parents=True)
    grid = team_tabs(Layout(extra_rows=extra))
    grid["Log"] = [list(row) for row in OLD_LOG]
    fake.add_spreadsheet(key, "Team", grid)
    key_file = fake.write_key_file(folder / "google-key.json")
    text = TEAM_CONFIG.replace('sheet = "pipeline.xlsx"', f'sheet = "{sheet_url(key)}/edit"')
    config = folder / "sheetfollow.toml"
    config.write_text(text + f'\n[google]\nkey_file = "{key_file}"\n', encoding="utf-8")
    # The user's own state folder, where the journal would go if the folder beside the
    # config could not be written: kept inside the test, and expected to stay unused.
    env = {ENDPOINT_ENV: fake.url, "XDG_STATE_HOME": str(folder / "user-state")}
    return Team(key, folder, config, env, key_file)


def sf(cli: Cli, team: Team, *args: str | Path, code: int = ExitCode.OK) -> Result:
    """A sheetfollow command on the team's sheet, on TODAY."""
    result = cli(*args, "--today", TODAY.isoformat(), "--config", team.config, env=team.env)
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result


def sf_json(cli: Cli, team: Team, *args: str | Path, code: int = ExitCode.OK) -> Any:
    return data_of(sf(cli, team, *args, "--json", code=code).stdout)


def tabs(fake: FakeSheets, key: str) -> dict[str, list[list[Any]]]:
    """Every tab sheetfollow may touch, as the fake holds it (a missing tab left out)."""
    found = {}
    for name in TABS:
        try:
            found[name] = fake.tab(key, name)
        except KeyError:
            continue
    return found


def records(fake: FakeSheets, key: str, tab: str) -> list[dict[str, Any]]:
    """A tab's rows below its header as {header: value}."""
    rows = fake.tab(key, tab)
    header = [str(h) for h in rows[0]]
    return [
        {name: row[i] if i < len(row) else None for i, name in enumerate(header)}
        for row in rows[1:]
    ]


def prospects(fake: FakeSheets, key: str) -> dict[str, dict[str, Any]]:
    """The Prospects rows by company, each with its sheet row number as "row"."""
    return {
        str(record["Company"]): {**record, "row": number}
        for number, record in enumerate(records(fake, key, "Prospects"), start=2)
    }


def day_of(value: Any) -> date:
    """The day of a date cell, or of a date-and-time serial number (the Log's When)."""
    if isinstance(value, SheetDate):
        return value.day
    assert isinstance(value, (int, float)), value
    return EPOCH + timedelta(days=int(value))


def iso(value: Any) -> str | None:
    return None if value is None else day_of(value).isoformat()


# --- People and Google ------------------------------------------------------------------------


class _ToFake(HTTPAdapter):
    __attrs__ = [*HTTPAdapter.__attrs__, "root", "url"]  # noqa: RUF012

    def __init__(self, root: str, url: str) -> None:
        super().__init__()
        self.root, self.url = root, url

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        request.url = self.url + request.url[len(self.root) :]
        return super().send(request, *args, **kwargs)


@contextmanager
def browser(fake: FakeSheets, team: Team) -> Iterator[gspread.Worksheet]:
    """The Prospects tab as a person edits it in the Sheets web app: what they type is
    entered as typed (USER_ENTERED), so "2026-03-11" becomes a date, as in the browser."""
    credentials = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
        str(team.key_file), scopes=list(SCOPES)
    )
    with requests.Session() as lookups:
        lookups.mount(IAM_ROOT, _ToFake(IAM_ROOT, fake.url))
        with AuthorizedSession(credentials, auth_request=Request(lookups)) as session:  # type: ignore[no-untyped-call]
            session.mount(API_ROOT, _ToFake(API_ROOT, fake.url))
            client = gspread.Client(auth=credentials, session=session)
            yield client.open_by_key(team.key).worksheet("Prospects")


def type_in(sheet: gspread.Worksheet, cell: str, *values: str) -> None:
    """A person types values into the cells from `cell` rightwards."""
    sheet.update(
        [list(values)], cell, value_input_option=gspread.utils.ValueInputOption.user_entered
    )


@contextmanager
def google_refuses_writes(fake: FakeSheets, status: int = 403) -> Iterator[list[int]]:
    """Google refuses every write request (values:batchUpdate, :batchUpdate, append ...)
    and applies none of it, while every read works. 403 (PERMISSION_DENIED) is how Google
    answers when the sheet is shared with the service account as Viewer; 503 (UNAVAILABLE)
    is an outage of the write path that outlasts the retries. Yields the statuses sent.

    The fake has no switch for this; each refusal queues the next one with
    before_next_write, until the block ends (the last queued one then does nothing)."""
    refused: list[int] = []
    on = [True]

    def refuse() -> None:
        if not on[0]:
            return
        fake.before_next_write(refuse)
        refused.append(status)
        raise _ApiError(status)

    fake.before_next_write(refuse)
    try:
        yield refused
    finally:
        on[0] = False


# --- 1. Calls typed into the sheet ------------------------------------------------------------


@dataclass(frozen=True)
class Typed:
    """One call a person types into the sheet, and the `mark` that records the same."""

    company: str
    outcome: str
    mark: tuple[str, ...]
    follow_up_on: str | None = None


DAY = TODAY.isoformat()
TYPED = (
    # A new lead reached on the first call.
    Typed("Acme Tools", "Reached", ("reached",)),
    # The second call on a row with Attempts 1, again unanswered.
    Typed("Cobalt BV", "No answer", ("no-answer",)),
    # Reached after two unanswered calls: call back, with the day typed in Follow up on.
    Typed("Delta GmbH", "Call back", ("call-back", "--on", "2026-03-18"), "2026-03-18"),
    # The quote sent yesterday is won.
    Typed("Echo Ltd", "Won", ("won",)),
    # Nobody answered the check-in call of a delivered customer: still to be made.
    Typed("Kilo BV", "No answer", ("no-answer",)),
)


def test_calls_typed_into_the_sheet_are_recorded_as_mark_records_them(
    cli: Cli, sheets_server: FakeSheets, tmp_path: Path
) -> None:
    fake = sheets_server
    team = make_team(fake, tmp_path / "typed", KEY, (KILO,))
    twin = make_team(fake, tmp_path / "marked", OTHER_KEY, (KILO,))

    # The first refresh takes the snapshot of the touch columns and records nothing.
    first = sf_json(cli, team, "refresh")
    assert first["typed_touches"] == []
    assert fake.tab(KEY, "Log") == OLD_LOG
    with browser(fake, team) as sheet:
        hidden = sheet.spreadsheet.worksheet(TOUCHES_TAB).isSheetHidden
    assert hidden
    snapshot = records(fake, KEY, TOUCHES_TAB)
    assert {r["ID"] for r in snapshot} >= {"P-0001", "P-0003", "P-0007", "P-0011", "P-0008"}
    sf_json(cli, twin, "refresh")
    assert tabs(fake, OTHER_KEY) == tabs(fake, KEY), "both sheets start alike"

    rows = prospects(fake, KEY)
    ids = {item.company: str(rows[item.company]["ID"]) for item in TYPED}
    assert ids["Echo Ltd"] == "P-0011"  # filled in by the first refresh
    assert rows["Cobalt BV"]["Attempts"] == 1
    assert rows["Kilo BV"]["Step"] == "check-in"

    # People type today's calls into the sheet: Last contact and Last outcome (columns J
    # and K), and for the call back the day in Follow up on (column M).
    with browser(fake, team) as sheet:
        for item in TYPED:
            row = rows[item.company]["row"]
            type_in(sheet, f"J{row}", DAY, item.outcome)
            if item.follow_up_on:
                type_in(sheet, f"M{row}", item.follow_up_on)
    typed_rows = prospects(fake, KEY)
    assert typed_rows["Cobalt BV"]["Last contact"] == SheetDate(TODAY)
    assert typed_rows["Cobalt BV"]["Attempts"] == 1  # nobody counted the attempt

    second = sf_json(cli, team, "refresh")
    assert second["typed_touches"] == [
        f"{ids[item.company]} {item.company}: {item.outcome.lower()} on {DAY} "
        f"(row {rows[item.company]['row']})"
        for item in TYPED
    ]

    # The same calls recorded with mark on the twin sheet.
    for item in TYPED:
        sf(cli, twin, "mark", ids[item.company], *item.mark, "--date", DAY)

    ours, theirs = prospects(fake, KEY), prospects(fake, OTHER_KEY)
    for item in TYPED:
        assert ours[item.company] == theirs[item.company], item.company
    assert fake.tab(KEY, "Prospects") == fake.tab(OTHER_KEY, "Prospects")

    # What a person works out for each, in business days: a talk without a decision +5;
    # the cadence 0, 2, 5, 7, 7 and no gap under 5 from the second attempt on; a thank-you
    # +1 after the win; an unanswered check-in tried again after the cadence's gap (+2).
    worked_out = {
        # company: (Attempts, Stage, Next follow-up, Status, Step)
        "Acme Tools": (0, "Contacted", D(2026, 3, 18), "scheduled", "1 of 5"),
        "Cobalt BV": (2, "contacted", D(2026, 3, 18), "scheduled", "3 of 5"),
        "Delta GmbH": (0, "contacted", D(2026, 3, 18), "snoozed", "1 of 5"),
        "Echo Ltd": (None, "Won", D(2026, 3, 12), "won", "thank-you"),
        "Kilo BV": (1, "delivered", D(2026, 3, 13), "customer", "check-in"),
    }
    for company, wanted in worked_out.items():
        row = ours[company]
        got = (row["Attempts"], row["Stage"], row["Next follow-up"], row["Status"], row["Step"])
        assert got == wanted, company
        assert row["Last contact"] == SheetDate(TODAY)
    assert ours["Delta GmbH"]["Follow up on"] == D(2026, 3, 18)
    assert ours["Kilo BV"]["Next follow-up"].day > TODAY  # the check-in is still to be made

    # One Log row per call, as mark writes it; Note "typed in the sheet", By: Assigned to.
    logged = records(fake, KEY, "Log")[1:]
    marked = records(fake, OTHER_KEY, "Log")[1:]
    assert len(logged) == len(marked) == len(TYPED)
    for entry, twin_entry, item in zip(logged, marked, TYPED, strict=True):
        assert entry["ID"] == ids[item.company]
        assert entry["Note"] == "typed in the sheet"
        assert twin_entry["Note"] is None
        assert entry["By"] == ours[item.company]["Assigned to"]
        assert day_of(entry["When"]) == day_of(twin_entry["When"]) == TODAY
        same = {k: v for k, v in entry.items() if k not in ("When", "Note")}
        assert same == {k: v for k, v in twin_entry.items() if k not in ("When", "Note")}

    # A second refresh finds nothing new: no Log row, no cell changed.
    before = tabs(fake, KEY)
    again = sf_json(cli, team, "refresh")
    assert again["typed_touches"] == []
    assert again["cells_changed"] == 0
    assert tabs(fake, KEY) == before

    # Corrections are no calls: a typed day moved to the day before, and "no answer"
    # turned into "voicemail" on the same day.
    with browser(fake, team) as sheet:
        type_in(sheet, f"J{rows['Cobalt BV']['row']}", (TODAY - timedelta(days=1)).isoformat())
        type_in(sheet, f"K{rows['Kilo BV']['row']}", "Voicemail")
    log = fake.tab(KEY, "Log")
    corrected = sf_json(cli, team, "refresh")
    assert corrected["typed_touches"] == []
    assert fake.tab(KEY, "Log") == log
    after = prospects(fake, KEY)
    assert after["Cobalt BV"]["Last contact"] == D(2026, 3, 10)
    assert after["Cobalt BV"]["Attempts"] == 2
    assert after["Kilo BV"]["Last outcome"] == "Voicemail"
    assert after["Kilo BV"]["Attempts"] == 1
    # And they stay no calls on the run after.
    assert sf_json(cli, team, "refresh")["typed_touches"] == []
    assert fake.tab(KEY, "Log") == log


# --- 2. mark while Google refuses the write ---------------------------------------------------


def test_marks_google_refuses_wait_in_the_journal_and_are_written_once(
    cli: Cli, sheets_server: FakeSheets, tmp_path: Path
) -> None:
    fake = sheets_server
    team = make_team(fake, tmp_path / "team", KEY, (LIMA,))
    sf(cli, team, "refresh")
    before = tabs(fake, KEY)
    due_before = {row["id"]: row for row in sf_json(cli, team, "due")}

    # Calls made earlier, recorded now, each leaving the prospect on the call list.
    calls = {
        # Brick: first call on Wed 4 Mar; the next 2 business days later, Fri 6 Mar.
        "P-0002": ("2026-03-04", 1, "2026-03-06"),
        # Delta: a third unanswered call, on Mon 2 Mar as the second; then 7 business
        # days: Wed 11 Mar.
        "P-0007": ("2026-03-02", 3, "2026-03-11"),
        # Lima: first call on Wed 18 Feb; next on Fri 20 Feb.
        "P-0009": ("2026-02-18", 1, "2026-02-20"),
    }
    marked = {}
    with google_refuses_writes(fake) as refused:
        for count, (ident, (day, attempts, next_day)) in enumerate(calls.items(), start=1):
            command = ("mark", ident, "no-answer", "--date", day, "--json")
            result = sf(cli, team, *command, code=ExitCode.PENDING)
            report = data_of(result.stdout)
            marked[ident] = report
            assert report["row"]["attempts"] == attempts
            assert report["row"]["next_follow_up"] == next_day
            assert report["pending"]
            assert "may read this sheet but not change it" in result.stderr
            assert str(team.journal) in " ".join(result.stderr.split())
            assert len(refused) == count
            assert tabs(fake, KEY) == before, "nothing was written"
            lines = team.journal.read_text(encoding="utf-8").splitlines()
            assert [json.loads(line)["data"]["id"] for line in lines] == list(calls)[:count]
        # The journal sits beside the config, never in the user's own fallback folder
        # (the run log may go there until .sheetfollow exists).
        assert not (team.folder / "user-state" / "sheetfollow" / "pending").exists()

        # What the team reads meanwhile is the sheet with the touches in it.
        due = {row["id"]: row for row in sf_json(cli, team, "due")}
    for ident, (day, attempts, next_day) in calls.items():
        assert due[ident]["last_contact"] == day
        assert due[ident]["last_outcome"] == "no answer"
        assert due[ident]["attempts"] == attempts
        assert due[ident]["next_follow_up"] == next_day != due_before[ident]["next_follow_up"]
        assert due[ident]["status"] == marked[ident]["row"]["status"]
    assert tabs(fake, KEY) == before

    # Google takes writes again: the next refresh writes the three touches, once.
    summary = sf_json(cli, team, "refresh")
    assert not team.journal.exists()
    assert summary["pending"] is None
    rows = {str(r["ID"]): r for r in records(fake, KEY, "Prospects")}
    for ident, (day, attempts, next_day) in calls.items():
        row, want = rows[ident], marked[ident]["row"]
        assert (iso(row["Last contact"]), row["Last outcome"], row["Attempts"]) == (
            day,
            "No answer",
            attempts,
        )
        assert (iso(row["Next follow-up"]), row["Status"], row["Step"]) == (
            next_day,
            want["status"],
            want["step"],
        )
    new_log = records(fake, KEY, "Log")[1:]
    assert [(e["ID"], e["Outcome"], iso(e["Next follow-up"])) for e in new_log] == [
        (ident, "no answer", next_day) for ident, (_, _, next_day) in calls.items()
    ]
    assert [day_of(e["When"]).isoformat() for e in new_log] == [d for d, _, _ in calls.values()]
    assert [e["By"] for e in new_log] == [marked[i]["log"]["by"] for i in calls]

    # Once written, never again.
    written = tabs(fake, KEY)
    again = sf_json(cli, team, "refresh")
    assert again["cells_changed"] == 0
    assert again["typed_touches"] == []
    assert tabs(fake, KEY) == written
    assert not team.journal.exists()


# --- 2b. The same through an outage: 503s until the retries are used up ------------------------


def test_a_mark_google_keeps_failing_with_503_waits_in_the_journal(
    cli: Cli, sheets_server: FakeSheets, tmp_path: Path
) -> None:
    """Through the service functions, so the backend's pauses are recorded, not slept."""
    fake = sheets_server
    team = make_team(fake, tmp_path / "team", KEY)
    sf(cli, team, "refresh")
    before = tabs(fake, KEY)
    config = load_config(team.config)
    naps: list[float] = []
    policy = RetryPolicy(sleep=naps.append, jitter=lambda: 0.0)

    with (
        google_refuses_writes(fake, 503) as refused,
        GoogleSheetsBackend(KEY, key_file=team.key_file, endpoint=fake.url, retry=policy) as sheet,
    ):
        result = mark(sheet, config, TODAY, MarkRequest("P-0002", "no-answer", day="2026-03-04"))
    assert refused == [503] * 5
    assert naps == [1.0, 2.0, 4.0, 8.0]
    assert "Google Sheets failed after 5 tries (HTTP 503" in result.pending
    assert f"touch P-0002 kept in {team.journal}" in result.pending
    assert result.row.computed.next_follow_up == date(2026, 3, 6)
    assert tabs(fake, KEY) == before
    [line] = team.journal.read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["data"]["id"] == "P-0002"

    with GoogleSheetsBackend(KEY, key_file=team.key_file, endpoint=fake.url, retry=policy) as sheet:
        summary = service.refresh(sheet, config, TODAY)
    assert summary.pending == ""
    assert not team.journal.exists()
    row = next(r for r in records(fake, KEY, "Prospects") if r["ID"] == "P-0002")
    assert (row["Last contact"], row["Attempts"], row["Next follow-up"]) == (
        D(2026, 3, 4),
        1,
        D(2026, 3, 6),
    )
    log = records(fake, KEY, "Log")[1:]
    assert [(e["ID"], e["Outcome"]) for e in log] == [("P-0002", "no answer")]
    written = tabs(fake, KEY)
    assert sf_json(cli, team, "refresh")["cells_changed"] == 0
    assert tabs(fake, KEY) == written


# --- 3. run while Google refuses the write ----------------------------------------------------


def test_run_sends_while_google_refuses_the_write_and_never_sends_twice(
    cli: Cli, sheets_server: FakeSheets, tmp_path: Path
) -> None:
    fake = sheets_server
    team = make_team(fake, tmp_path / "team", KEY)
    outbox = team.folder / "outbox"
    owners = {"Anna", "Zoë", "Bob", "Émile"}  # each has a follow-up due (India: Émile's)

    with google_refuses_writes(fake) as refused:
        first = sf_json(cli, team, "run", "--outbox", outbox, code=ExitCode.PENDING)
    assert refused
    emails = first["notify"]["emails"]
    assert {e["key"] for e in emails if e["kind"] == "owner"} == owners
    assert {e["status"] for e in emails} == {"written"}
    assert first["notify"]["unrecorded"]
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == len(emails)
    with pytest.raises(KeyError):
        fake.tab(KEY, STATE_TAB)
    [kept] = [json.loads(line) for line in team.journal.read_text(encoding="utf-8").splitlines()]
    assert kept["kind"] == "sent"
    assert {e["key"] for e in kept["data"]["emails"]} >= owners

    stamps = {path.name: (path.stat().st_mtime_ns, path.read_bytes()) for path in files}
    second = sf_json(cli, team, "run", "--outbox", outbox)
    assert {e["status"] for e in second["notify"]["emails"]} == {"skipped"}
    assert {path.name: (path.stat().st_mtime_ns, path.read_bytes())
            for path in outbox.glob("*.eml")} == stamps  # fmt: skip
    assert not team.journal.exists()
    state = records(fake, KEY, STATE_TAB)
    assert sorted((day_of(r["Day"]), r["Kind"], r["Key"], r["Status"]) for r in state) == sorted(
        (TODAY, e["kind"], e["key"], "written") for e in emails
    )

    # A third run the same day: still nothing sent, nothing recorded again.
    third = sf_json(cli, team, "run", "--outbox", outbox)
    assert {e["status"] for e in third["notify"]["emails"]} == {"skipped"}
    assert len(records(fake, KEY, STATE_TAB)) == len(state)
    assert len(list(outbox.glob("*.eml"))) == len(stamps)
