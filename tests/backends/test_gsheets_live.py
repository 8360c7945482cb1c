"""The Google Sheets backend against the real Google Sheets API.

Skipped unless both are set:

- SHEETFOLLOW_LIVE_SHEET: the URL (or key) of a sheet the tests may scribble on, shared with
  the service account as Editor;
- GOOGLE_APPLICATION_CREDENTIALS: that service account's JSON key file (chmod 600).

Each test works in tabs of its own, named "sfl-<random> ...", next to whatever the sheet
holds, and deletes them at the end. SHEETFOLLOW_SHEETS_ENDPOINT, when set, sends every call
elsewhere (a proxy, or the fake server when checking these tests themselves).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import gspread
import pytest
from conftest import TEAM_CONFIG, TEAM_EXPECTED, TEAM_OWNERS, TODAY, Layout
from requests.adapters import HTTPAdapter

from sheetfollow import mark, schema, service
from sheetfollow.backends.gsheets import (
    API_ROOT,
    CREDENTIALS_ENV,
    ENDPOINT_ENV,
    GoogleSheetsBackend,
    open_sheet,
    sheet_key,
)
from sheetfollow.config import Config, config_from_text
from sheetfollow.notify import state
from sheetfollow.sheet import CellValue, TabChanges

LIVE_SHEET = os.environ.get("SHEETFOLLOW_LIVE_SHEET", "").strip()
CREDENTIALS = os.environ.get(CREDENTIALS_ENV, "").strip()

pytestmark = pytest.mark.skipif(
    not (LIVE_SHEET and CREDENTIALS),
    reason=f"set SHEETFOLLOW_LIVE_SHEET and {CREDENTIALS_ENV} to test against Google",
)


class _Elsewhere(HTTPAdapter):
    """For the tidying client: sends API calls to SHEETFOLLOW_SHEETS_ENDPOINT."""

    __attrs__ = [*HTTPAdapter.__attrs__, "endpoint"]  # noqa: RUF012

    def __init__(self, endpoint: str) -> None:
        super().__init__()
        self.endpoint = endpoint

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        request.url = self.endpoint + request.url[len(API_ROOT) :]
        return super().send(request, *args, **kwargs)


@dataclass
class Live:
    """A prefix of tab names of our own in the live sheet, and a config that uses them."""

    prefix: str
    config: Config
    #: gspread, for what a person does in the sheet meanwhile and for tidying up.
    spreadsheet: gspread.Spreadsheet

    def open(self) -> GoogleSheetsBackend:
        """A backend as a new run of sheetfollow opens it."""
        return open_sheet(LIVE_SHEET, key_file=CREDENTIALS, env=os.environ)

    def tab(self, name: str) -> str:
        return f"{self.prefix} {name}"


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    prefix = f"sfl-{secrets.token_hex(4)}"
    tabs = "\n".join(
        f'{field} = "{prefix} {name}"'
        for field, name in (
            ("prospects", "Prospects"),
            ("log", "Log"),
            ("owners", "Owners"),
            ("state", "state"),
        )
    )
    config = config_from_text(f"{TEAM_CONFIG}\n[tabs]\n{tabs}\n", source="live", base=tmp_path)
    client = gspread.service_account(filename=CREDENTIALS)
    endpoint = os.environ.get(ENDPOINT_ENV, "").rstrip("/")
    if endpoint:
        client.http_client.session.mount(API_ROOT + "/", _Elsewhere(endpoint))
    spreadsheet = client.open_by_key(sheet_key(LIVE_SHEET))
    try:
        yield Live(prefix, config, spreadsheet)
    finally:
        for worksheet in spreadsheet.worksheets(exclude_hidden=False):
            if worksheet.title.startswith(prefix):
                spreadsheet.del_worksheet(worksheet)
        client.http_client.session.close()


def put_team(live: Live) -> None:
    """The team's Prospects and Owners tabs, written as new tabs by the backend itself."""
    grid = Layout().tab().rows
    with live.open() as backend:
        backend.write(
            [
                _new_tab(live.tab("Prospects"), grid),
                _new_tab(live.tab("Owners"), TEAM_OWNERS),
            ]
        )


def _new_tab(name: str, grid: Any) -> TabChanges:
    rows: list[list[CellValue]] = [list(row) for row in grid]
    return TabChanges(
        tab=name,
        create=True,
        new_headers={c: str(h) for c, h in enumerate(rows[0], start=1)},
        append_rows=rows[1:],
    )


def check_owned(backend: GoogleSheetsBackend, live: Live) -> dict[str, dict[str, Any]]:
    table = backend.read_tab(live.tab("Prospects"))
    assert table is not None
    header = [str(h) for h in table.rows[0]]
    records = {}
    for row in table.rows[1:]:
        record = dict(zip(header, row, strict=False))
        expected = TEAM_EXPECTED[str(record["Company"])]
        when = schema.parse_date(record.get("Next follow-up"), epoch=table.epoch)
        assert when == expected.next_follow_up, record["Company"]
        assert (record.get("Status"), record.get("Assigned to")) == (
            expected.status,
            expected.assigned_to,
        )
        records[str(record["ID"])] = record
    return records


def test_refresh_mark_and_the_run_state_on_a_real_sheet(live: Live) -> None:
    put_team(live)
    with live.open() as backend:
        summary = service.refresh(backend, live.config, TODAY)
        # Metadata, all values, the ID re-check, date formats, the values: whatever the rows.
        assert backend.requests_sent <= 5
    assert (summary.rows, summary.ids_filled) == (10, 2)
    with live.open() as backend:
        records = check_owned(backend, live)
        assert len(records) == 10
        result = mark.mark(
            backend, live.config, TODAY, mark.MarkRequest("P-0003", "no-answer", note="live")
        )
        assert result.row.prospect.attempts == 2
    moment = datetime(2026, 3, 11, 7, 30)
    entry = state.Entry(TODAY, "owner", "Anna", "anna@example.com", state.WRITTEN, moment)
    with live.open() as backend:
        backend.write([state.append_changes(backend, live.config, [entry])])
    with live.open() as backend:
        log = backend.read_tab(live.tab("Log"))
        assert log is not None and log.rows[1][1] == "P-0003"
        assert state.read_state(backend, live.config).delivered(TODAY, "owner", "anna")
    assert live.spreadsheet.worksheet(live.tab("state")).isSheetHidden


def test_a_row_a_person_inserted_meanwhile_is_not_written_over(live: Live) -> None:
    put_team(live)
    with live.open() as backend:
        service.load(backend, live.config, TODAY)
        worksheet = live.spreadsheet.worksheet(live.tab("Prospects"))
        worksheet.insert_row(["P-0099", "Inserted meanwhile"], index=3)
        service.refresh(backend, live.config, TODAY)
    with live.open() as backend:
        table = backend.read_tab(live.tab("Prospects"))
        assert table is not None
        inserted = [row for row in table.rows if len(row) > 1 and row[1] == "Inserted meanwhile"]
        assert inserted == [["P-0099", "Inserted meanwhile"]]
        without = TabChanges(tab=live.tab("Prospects"))
        assert backend.write([without]).cells_written == 0
