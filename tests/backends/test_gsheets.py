"""The Google Sheets backend against the fake Sheets server: a real HTTP server on loopback
that answers as Google does, with a real service-account key and token.

Each test builds a spreadsheet in the fake, drives the backend (or the CLI) at it, and looks
at what the fake holds afterwards and at the requests it received.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import gspread
import pytest
import requests
import xlsxwriter
from conftest import TEAM_CONFIG, TEAM_EXPECTED, TEAM_OWNERS, TODAY, Cell, Cli, Layout
from fakes.sheets_server import FakeSheets, RecordedRequest, SheetDate
from google.auth.transport.requests import AuthorizedSession, Request
from google.oauth2 import service_account
from json_output import data_of
from requests.adapters import HTTPAdapter

from sheetfollow import schema, service
from sheetfollow.backends.gsheets import (
    API_ROOT,
    CREDENTIALS_ENV,
    ENDPOINT_ENV,
    IAM_ROOT,
    SCOPES,
    GoogleSheetsBackend,
    RetryPolicy,
    _date_formats,
    open_sheet,
    sheet_key,
    sheet_url,
)
from sheetfollow.backends.xlsx import XlsxBackend
from sheetfollow.config import Config, GoogleConfig, config_from_text, load_config
from sheetfollow.errors import BusyError, ConfigError, RemoteError, SheetError
from sheetfollow.exit_codes import ExitCode
from sheetfollow.sheet import CellWrite, TabChanges

KEY = "1SheetfollowTestPipeline-abcdefghijklmnopqrs"
OTHER_KEY = "1SomebodyElsesSheet_0123456789abcdefghijklm"
D = FakeSheets.date

HEADERS = ["ID", "Company", "Created", "Next follow-up", "Status", "Notes"]


def prospects() -> list[list[Cell | SheetDate]]:
    return [
        list(HEADERS),
        ["P-1", "Acme", D(2026, 3, 2), None, "new"],
        ["P-2", "Brick", D(2026, 3, 3), D(2026, 3, 9), "due", "call at 9"],
        [None, "Cobalt", 46000],
        ["P-4", "Delta", D(2026, 3, 5), None, None, None],
    ]


@pytest.fixture
def key_file(sheets_server: FakeSheets, tmp_path: Path) -> Path:
    return sheets_server.write_key_file(tmp_path / "google-key.json")


@pytest.fixture
def naps() -> list[float]:
    """The pauses the backend took between tries (it never really sleeps in these tests)."""
    return []


@pytest.fixture
def fake(sheets_server: FakeSheets) -> FakeSheets:
    sheets_server.add_spreadsheet(
        KEY,
        "Pipeline",
        {"Prospects": prospects(), "Owners": [["Owner", "Email"], ["Anna", "anna@example.com"]]},
        hidden={"Owners"},
    )
    return sheets_server


@contextmanager
def connect(
    fake: FakeSheets,
    key_file: Path,
    naps: list[float],
    *,
    key: str = KEY,
    timeout: float = 5.0,
) -> Iterator[GoogleSheetsBackend]:
    policy = RetryPolicy(sleep=naps.append, jitter=lambda: 0.0)
    with GoogleSheetsBackend(
        key, key_file=key_file, endpoint=fake.url, timeout=timeout, retry=policy
    ) as backend:
        yield backend


@pytest.fixture
def sheet(fake: FakeSheets, key_file: Path, naps: list[float]) -> Iterator[GoogleSheetsBackend]:
    with connect(fake, key_file, naps) as backend:
        yield backend


class _ToFake(HTTPAdapter):
    __attrs__ = [*HTTPAdapter.__attrs__, "root", "url"]  # noqa: RUF012

    def __init__(self, root: str, url: str) -> None:
        super().__init__()
        self.root, self.url = root, url

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        request.url = self.url + request.url[len(self.root) :]
        return super().send(request, *args, **kwargs)


@contextmanager
def someone_else(fake: FakeSheets, key_file: Path) -> Iterator[gspread.Spreadsheet]:
    """The sheet as another program (or the Sheets web app) edits it: plain gspread."""
    credentials = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
        str(key_file), scopes=list(SCOPES)
    )
    with requests.Session() as lookups:
        lookups.mount(IAM_ROOT, _ToFake(IAM_ROOT, fake.url))
        with AuthorizedSession(credentials, auth_request=Request(lookups)) as session:  # type: ignore[no-untyped-call]
            session.mount(API_ROOT, _ToFake(API_ROOT, fake.url))
            yield gspread.Client(auth=credentials, session=session).open_by_key(KEY)


def calls(fake: FakeSheets, since: int = 0, key: str = KEY) -> list[str]:
    """The API requests, as "METHOD endpoint" without the spreadsheet key."""
    return [_endpoint(r, key) for r in fake.requests[since:]]


def _endpoint(request: RecordedRequest, key: str) -> str:
    path = request.path.replace(f"/v4/spreadsheets/{key}", "")
    if path.startswith("/values/") and not path.endswith((":append", ":clear")):
        path = "/values/{range}"
    return f"{request.method} {path or '/'}"


def value_writes(fake: FakeSheets) -> list[RecordedRequest]:
    return [r for r in fake.requests if r.path.endswith("/values:batchUpdate")]


def sheet_writes(fake: FakeSheets) -> list[RecordedRequest]:
    return [r for r in fake.requests if r.path.endswith(f"{KEY}:batchUpdate")]


def owned(values: dict[str, object]) -> TabChanges:
    """Status cells by ID, as a refresh asks: rows as read, IDs to check them by."""
    rows = {"P-1": 2, "P-2": 3, "P-4": 5}
    change = TabChanges(tab="Prospects", id_column=1)
    for ident, value in values.items():
        change.cells.append(CellWrite(rows[ident], 5, value))  # type: ignore[arg-type]
        change.expected_ids[rows[ident]] = ident
    return change


def _serial(value: object) -> object:
    """A date cell as its serial number (a date cell without a date format reads as one)."""
    return value.serial if isinstance(value, SheetDate) else value


def by_id(fake: FakeSheets, column: int = 5) -> dict[object, object]:
    rows = fake.tab(KEY, "Prospects")
    return {row[0]: row[column - 1] if len(row) >= column else None for row in rows[1:] if row}


# --- Naming the sheet ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"https://docs.google.com/spreadsheets/d/{KEY}/edit#gid=0",
        f"https://docs.google.com/spreadsheets/u/1/d/{KEY}/edit?usp=sharing",
        f"https://docs.google.com/spreadsheets/d/{KEY}",
        f"  {KEY}  ",
    ],
)
def test_the_key_is_found_in_a_url_or_taken_as_it_is(text: str) -> None:
    assert sheet_key(text) == KEY
    assert sheet_url(KEY) == f"https://docs.google.com/spreadsheets/d/{KEY}"


@pytest.mark.parametrize(
    "text", ["https://example.com/pipeline.xlsx", "https://docs.google.com/document/d/abc/edit"]
)
def test_another_address_is_not_taken_for_a_sheet(text: str) -> None:
    with pytest.raises(SheetError, match="not a Google Sheets URL or key"):
        sheet_key(text)


def test_open_backend_picks_google_for_a_url_or_key_and_excel_for_a_path(
    fake: FakeSheets, key_file: Path, tmp_path: Path
) -> None:
    config = Config(google=GoogleConfig(key_file=str(key_file)))
    env = {ENDPOINT_ENV: fake.url}
    for target in (KEY, f"https://docs.google.com/spreadsheets/d/{KEY}/edit"):
        backend = service.open_backend(target, config, env)
        assert isinstance(backend, GoogleSheetsBackend)
        assert backend.tab_names() == ["Prospects", "Owners"]
        backend.close()
    assert isinstance(service.open_backend(str(tmp_path / "p.xlsx"), config, env), XlsxBackend)
    # A file that happens to be named like a key is a file.
    (tmp_path / OTHER_KEY).write_bytes(b"")
    local = service.open_backend(str(tmp_path / OTHER_KEY), config, env)
    assert isinstance(local, XlsxBackend)


# --- Signing in --------------------------------------------------------------------------------


def test_the_key_file_may_come_from_the_environment(fake: FakeSheets, key_file: Path) -> None:
    env = {CREDENTIALS_ENV: str(key_file), ENDPOINT_ENV: fake.url}
    with open_sheet(KEY, key_file="", env=env) as backend:
        assert backend.account.email == fake.service_account_email
        assert backend.read_tab("Prospects") is not None
    assert [r.status for r in fake.token_requests] == [200]


def test_without_a_key_file_the_message_says_where_to_set_one() -> None:
    with pytest.raises(ConfigError) as caught:
        open_sheet(KEY, key_file="", env={})
    assert "[google]" in str(caught.value)
    assert CREDENTIALS_ENV in str(caught.value)
    assert caught.value.exit_code is ExitCode.CONFIG


def test_a_missing_key_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "key.json"
    with pytest.raises(ConfigError, match="does not exist") as caught:
        open_sheet(KEY, key_file=str(missing), env={})
    assert str(missing) in str(caught.value)


def test_a_key_file_others_can_read_is_refused(key_file: Path) -> None:
    key_file.chmod(0o644)
    with pytest.raises(ConfigError, match=f"chmod 600 {key_file}"):
        open_sheet(KEY, key_file=str(key_file), env={})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not a service account key"),
        ('{"installed": {"client_id": "x"}}', "OAuth client secret, not a service account key"),
        ('{"type": "service_account", "client_email": "a@b.c"}', "lacks private_key, token_uri"),
        (
            '{"type": "service_account", "client_email": "a@b.c", "token_uri": "http://x",'
            ' "private_key": "-----BEGIN PRIVATE KEY-----\\nnope\\n-----END PRIVATE KEY-----\\n"}',
            "private key in this service account key file cannot be used",
        ),
    ],
)
def test_a_file_that_is_not_a_usable_key_is_named(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "client_secret.json"
    path.write_text(content, encoding="utf-8")
    path.chmod(0o600)
    with pytest.raises(ConfigError, match=message) as caught:
        open_sheet(KEY, key_file=str(path), env={})
    assert str(caught.value).startswith(str(path))


def test_key_file_in_the_config_is_relative_to_the_config(tmp_path: Path) -> None:
    text = '[google]\nkey_file = "secrets/key.json"\n'
    config = config_from_text(text, source="sheetfollow.toml", base=tmp_path)
    assert config.google.key_file == str(tmp_path / "secrets" / "key.json")
    with pytest.raises(ConfigError, match=r"unknown key 'google.keyfile' \(did you mean"):
        config_from_text('[google]\nkeyfile = "k.json"\n', source="sheetfollow.toml", base=tmp_path)


def test_an_expired_token_is_replaced_without_fuss(
    fake: FakeSheets, sheet: GoogleSheetsBackend
) -> None:
    sheet.read_tab("Prospects")
    fake.revoke_tokens()
    sheet.write([owned({"P-1": "due"})])
    assert by_id(fake)["P-1"] == "due"
    assert [r.status for r in fake.token_requests] == [200, 200]


def test_a_deleted_key_is_a_plain_remote_error(
    fake: FakeSheets, sheet: GoogleSheetsBackend, key_file: Path
) -> None:
    sheet.read_tab("Prospects")
    fake.revoke_key()
    with pytest.raises(RemoteError) as caught:
        sheet.write([owned({"P-1": "due"})])
    message = str(caught.value)
    assert fake.service_account_email in message
    assert str(key_file) in message
    assert "Invalid JWT Signature" in message
    assert "create a new JSON key" in message
    assert by_id(fake)["P-1"] == "new"


# --- Plain errors ------------------------------------------------------------------------------


def test_an_unknown_key_says_check_the_url(
    fake: FakeSheets, key_file: Path, naps: list[float]
) -> None:
    with (
        connect(fake, key_file, naps, key=OTHER_KEY) as backend,
        pytest.raises(SheetError) as caught,
    ):
        backend.read_tab("Prospects")
    assert str(caught.value) == f"no Google Sheet with key {OTHER_KEY}; check the URL"
    assert naps == []


def test_a_sheet_not_shared_names_the_account_to_share_it_with(
    sheets_server: FakeSheets, key_file: Path, naps: list[float]
) -> None:
    sheets_server.add_spreadsheet(
        OTHER_KEY, "Private", {"Prospects": [["ID"]]}, shared_with={"anna@example.com"}
    )
    with connect(sheets_server, key_file, naps, key=OTHER_KEY) as backend:
        with pytest.raises(RemoteError) as caught:
            backend.read_tab("Prospects")
        access = backend.access()
    email = sheets_server.service_account_email
    assert f"share the sheet with {email} as Editor" in str(caught.value)
    assert caught.value.exit_code is ExitCode.REMOTE
    assert not access.shared
    assert access.account == email


def test_a_disabled_api_names_the_project_to_enable_it_in(
    fake: FakeSheets, sheet: GoogleSheetsBackend
) -> None:
    fake.api_disabled = True
    with pytest.raises(RemoteError) as caught:
        sheet.read_tab("Prospects")
    message = str(caught.value)
    assert "the Google Sheets API is not enabled for project 418927651370" in message
    assert "sheets.googleapis.com?project=418927651370" in message


def test_a_write_refused_after_a_read_asks_for_editor_rights(
    fake: FakeSheets, sheet: GoogleSheetsBackend
) -> None:
    sheet.read_tab("Prospects")
    fake.fail_next(403)  # as Google answers a Viewer who tries to add a tab
    with pytest.raises(RemoteError) as caught:
        sheet.write([state_change(TODAY)])
    message = str(caught.value)
    assert "may read this sheet but not change it" in message
    assert f"share the sheet with {fake.service_account_email} as Editor" in message
    assert message.endswith("nothing was written")
    assert calls(fake)[-1] == "POST :batchUpdate"
    assert "sheetfollow_state" not in [r.path for r in fake.requests]
    with pytest.raises(KeyError):
        fake.tab(KEY, "sheetfollow_state")


# --- Reading ------------------------------------------------------------------------------------


def test_one_read_fetches_every_tab_in_two_requests(
    fake: FakeSheets, sheet: GoogleSheetsBackend
) -> None:
    assert sheet.tab_names() == ["Prospects", "Owners"]
    assert sheet.read_tab("Prospects") is not None
    assert sheet.read_tab("owners") is not None
    assert sheet.read_tab("Log") is None
    assert calls(fake) == ["GET /", "GET /values:batchGet"]
    batch = fake.requests[1]
    assert batch.query["ranges"] == ["'Prospects'", "'Owners'"]
    assert batch.query["valueRenderOption"] == ["UNFORMATTED_VALUE"]
    assert batch.query["dateTimeRenderOption"] == ["SERIAL_NUMBER"]
    assert len(fake.token_requests) == 1
    assert sheet.requests_sent == 2


def test_values_arrive_as_google_sends_them(sheet: GoogleSheetsBackend) -> None:
    table = sheet.read_tab("prospects")
    assert table is not None
    assert table.tab == "Prospects"
    assert table.epoch == date(1899, 12, 30)
    assert table.rows[0] == HEADERS
    # Dates are serial numbers; the schema turns them into dates with the table's epoch.
    assert table.rows[1] == ["P-1", "Acme", 46083, None, "new"]
    assert schema.parse_date(table.rows[1][2], epoch=table.epoch) == date(2026, 3, 2)
    assert table.rows[3] == [None, "Cobalt", 46000]
    assert table.rows[4] == ["P-4", "Delta", 46086]


def test_a_big_tab_is_read_only_when_asked_for(
    fake: FakeSheets, key_file: Path, sheet: GoogleSheetsBackend
) -> None:
    with someone_else(fake, key_file) as spreadsheet:
        spreadsheet.add_worksheet("Log", rows=50_000, cols=8).update([["When", "ID"]], "A1")
    sent = len(fake.requests)
    assert sheet.read_tab("Prospects") is not None  # with Owners, small: one request
    assert sheet.read_tab("Owners") is not None
    reads = [r.query["ranges"] for r in fake.requests[sent:] if "ranges" in r.query]
    assert reads == [["'Prospects'", "'Owners'"]]
    # The Log grew past a new tab's size: a command that does not ask for it never reads it.
    log = sheet.read_tab("Log")
    assert log is not None and log.rows == [["When", "ID"]]
    assert fake.requests[-1].query["ranges"] == ["'Log'"]
    assert sheet.requests_sent == 3


def test_check_reads_no_values_to_say_the_sheet_is_shared(
    fake: FakeSheets, sheet: GoogleSheetsBackend
) -> None:
    assert sheet.access().shared
    assert calls(fake) == ["GET /"]


LOOKUP = "=VLOOKUP(A2,Rates!A:B,2,FALSE)"


def excel_with_errors(path: Path, errors: dict[tuple[int, int], tuple[str, str]]) -> Path:
    """The team's workbook as Excel saves it, with formulas whose result is an error:
    (row, column) 0-based -> (formula, the error Excel keeps as its result)."""
    workbook = xlsxwriter.Workbook(str(path))
    day = workbook.add_format({"num_format": "yyyy-mm-dd"})
    for name, rows in team_tabs().items():
        tab = workbook.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if (r, c) in errors and name == "Prospects":
                    tab.write_formula(r, c, errors[(r, c)][0], None, errors[(r, c)][1])
                elif isinstance(value, SheetDate):
                    tab.write_datetime(r, c, datetime.combine(value.day, datetime.min.time()), day)
                elif isinstance(value, str) and value.startswith("="):
                    tab.write_formula(r, c, value, None, 3)
                elif value is not None:
                    tab.write(r, c, value)
    workbook.close()
    return path


def test_an_error_in_a_cell_reads_as_on_excel(
    sheets_server: FakeSheets, key_file: Path, naps: list[float], tmp_path: Path
) -> None:
    tabs = team_tabs()
    value = tabs["Prospects"][0].index("Value")
    # Acme's Value looks its amount up and finds nothing; Brick's divides by zero.
    errors = {(1, value): (LOOKUP, "#N/A"), (2, value): ("=1/0", "#DIV/0!")}
    tabs["Prospects"][1][value] = FakeSheets.formula(LOOKUP, "#N/A")
    tabs["Prospects"][2][value] = "=1/0"  # the fake works this one out: "#DIV/0!"
    sheets_server.add_spreadsheet(KEY, "Team", tabs)
    workbook = excel_with_errors(tmp_path / "pipeline.xlsx", errors)
    config = load_config(team_config(tmp_path, key_file))
    with connect(sheets_server, key_file, naps) as google:
        ours = google.read_tab("Prospects")
        pipeline = service.load(google, config, TODAY)
    theirs = XlsxBackend(workbook).read_tab("Prospects")
    excel = service.load(XlsxBackend(workbook), config, TODAY)
    assert ours is not None and theirs is not None
    # Google sends the error's text ("#N/A"), calamine an empty cell: both read as empty.
    assert [ours.rows[1][value], ours.rows[2][value]] == [None, None]
    assert [theirs.rows[1][value], theirs.rows[2][value]] == [None, None]
    for google_row, excel_row in zip(pipeline.rows, excel.rows, strict=True):
        assert google_row.computed == excel_row.computed, google_row.prospect.company
        assert google_row.prospect.problems == excel_row.prospect.problems
    acme = pipeline.rows[0]
    assert acme.computed.status == TEAM_EXPECTED["Acme Tools"].status  # not "needs attention"


# --- Writing ------------------------------------------------------------------------------------


def test_owned_cells_are_written_in_one_request_one_range_per_run_of_a_column(
    fake: FakeSheets, sheet: GoogleSheetsBackend
) -> None:
    sheet.read_tab("Prospects")
    change = TabChanges(
        tab="Prospects",
        id_column=1,
        expected_ids={2: "P-1", 3: "P-2", 5: "P-4"},
        cells=[
            CellWrite(2, 5, "due"),
            CellWrite(3, 5, "overdue"),
            CellWrite(4, 5, "new"),
            CellWrite(4, 1, "P-5"),
            CellWrite(2, 4, date(2026, 3, 11)),
            CellWrite(5, 4, date(2026, 3, 12)),
        ],
    )
    result = sheet.write([change])
    assert result.cells_written == 6
    [request] = value_writes(fake)
    assert request.body["valueInputOption"] == "RAW"
    ranges = {item["range"]: item["values"] for item in request.body["data"]}
    assert ranges == {
        "'Prospects'!A4:A4": [["P-5"]],
        "'Prospects'!D2:D2": [[46092]],
        "'Prospects'!D5:D5": [[46093]],
        "'Prospects'!E2:E4": [["due"], ["overdue"], ["new"]],
    }
    rows = fake.tab(KEY, "Prospects")
    assert rows[1] == ["P-1", "Acme", D(2026, 3, 2), D(2026, 3, 11), "due", None]
    assert rows[2] == ["P-2", "Brick", D(2026, 3, 3), D(2026, 3, 9), "overdue", "call at 9"]
    assert rows[3] == ["P-5", "Cobalt", 46000, None, "new", None]
    assert rows[4][3] == D(2026, 3, 12)


def test_text_stays_text_and_dates_get_a_date_format_once(
    fake: FakeSheets, sheet: GoogleSheetsBackend
) -> None:
    sheet.write(
        [
            TabChanges(
                tab="Prospects",
                cells=[
                    CellWrite(2, 6, "42"),
                    CellWrite(3, 6, "2025-04-01"),
                    CellWrite(2, 4, date(2026, 3, 11)),
                    CellWrite(3, 4, date(2026, 3, 10)),  # holds a date already
                    CellWrite(3, 5, None),
                ],
            )
        ]
    )
    rows = fake.tab(KEY, "Prospects")
    assert rows[1][5] == "42"
    assert rows[2][5] == "2025-04-01"
    assert rows[1][3] == D(2026, 3, 11)
    assert rows[2][3:5] == [D(2026, 3, 10), None]
    [formats] = sheet_writes(fake)
    assert formats.body["requests"] == [
        {
            "repeatCell": {
                "range": {
                    "sheetId": fake.sheet_id(KEY, "Prospects"),
                    "startRowIndex": 1,
                    "endRowIndex": 2,
                    "startColumnIndex": 3,
                    "endColumnIndex": 4,
                },
                "cell": {"userEnteredFormat": {"numberFormat": {"type": "DATE"}}},
                "fields": "userEnteredFormat.numberFormat",
            }
        }
    ]
    # The cell holds a date number now: the next date written there needs no format.
    sheet.write([TabChanges(tab="Prospects", cells=[CellWrite(2, 4, date(2026, 3, 20))])])
    assert len(sheet_writes(fake)) == 1
    assert fake.tab(KEY, "Prospects")[1][3] == D(2026, 3, 20)


def test_new_columns_are_added_to_a_full_grid_in_the_same_write(
    sheets_server: FakeSheets, key_file: Path, naps: list[float]
) -> None:
    wide = [f"Column {n}" for n in range(1, 27)]
    sheets_server.add_spreadsheet(KEY, "Wide", {"Prospects": [wide, ["x"] * 26]})
    assert sheets_server.grid_size(KEY, "Prospects") == (1000, 26)
    with connect(sheets_server, key_file, naps) as backend:
        backend.write(
            [
                TabChanges(
                    tab="Prospects",
                    new_headers={27: "Next follow-up", 28: "Status"},
                    cells=[CellWrite(2, 27, date(2026, 3, 11)), CellWrite(2, 28, "due")],
                )
            ]
        )
    assert sheets_server.grid_size(KEY, "Prospects") == (1000, 28)
    rows = sheets_server.tab(KEY, "Prospects")
    assert rows[0][26:] == ["Next follow-up", "Status"]
    assert rows[1][26:] == [D(2026, 3, 11), "due"]
    [grow] = sheet_writes(sheets_server)
    kinds = [next(iter(request)) for request in grow.body["requests"]]
    assert kinds == ["appendDimension", "repeatCell"]
    assert grow.body["requests"][0]["appendDimension"]["length"] == 2
    [values] = value_writes(sheets_server)
    assert values.body["data"][0] == {
        "range": "'Prospects'!AA1:AB1",
        "majorDimension": "ROWS",
        "values": [["Next follow-up", "Status"]],
    }


def test_a_formula_in_an_owned_cell_is_left_as_it_is(
    sheets_server: FakeSheets, key_file: Path, naps: list[float]
) -> None:
    rows = [["ID", "Status"], ["P-1", "=1+2"], ["P-2", "old"]]
    sheets_server.add_spreadsheet(KEY, "Formulas", {"Prospects": rows})
    with connect(sheets_server, key_file, naps) as backend:
        result = backend.write(
            [
                TabChanges(
                    tab="Prospects",
                    id_column=1,
                    expected_ids={2: "P-1", 3: "P-2"},
                    cells=[CellWrite(2, 2, "due"), CellWrite(3, 2, "new")],
                )
            ]
        )
    assert result.skipped == ("Prospects!B2 holds a formula; left as it is",)
    assert result.cells_written == 1
    assert sheets_server.tab(KEY, "Prospects")[1:] == [["P-1", "=1+2"], ["P-2", "new"]]


def test_what_was_written_is_what_is_read_next_without_asking_again(
    fake: FakeSheets, sheet: GoogleSheetsBackend
) -> None:
    before = sheet.read_tab("Prospects")
    sheet.write([owned({"P-2": "won"})])
    sent = len(fake.requests)
    table = sheet.read_tab("Prospects")
    assert table is not None and before is not None
    assert table.rows[2][4] == "won"
    assert len(fake.requests) == sent
    assert before.rows[2][4] == "due"  # a table read earlier keeps what it read


def test_a_write_that_changes_nothing_sends_nothing(
    fake: FakeSheets, sheet: GoogleSheetsBackend
) -> None:
    assert sheet.write([TabChanges(tab="Prospects")]) == sheet.write([])
    assert fake.requests == []


# --- New tabs and appended rows -------------------------------------------------------------


def state_change(*days: date, create: bool = True) -> TabChanges:
    rows: list[list[Any]] = [
        [day, "owner", "Anna", "sent", datetime(2026, 3, 11, 7, 30)] for day in days
    ]
    headers = {1: "Day", 2: "Kind", 3: "Key", 4: "Status", 5: "At"} if create else {}
    return TabChanges(
        tab="sheetfollow_state", create=create, hidden=True, new_headers=headers, append_rows=rows
    )


def test_a_hidden_tab_is_created_and_rows_are_appended_below(
    fake: FakeSheets, sheet: GoogleSheetsBackend
) -> None:
    result = sheet.write([state_change(TODAY)])
    assert result.rows_appended == 1
    sent = len(fake.requests)
    assert sheet.write([state_change(date(2026, 3, 12), create=False)]).rows_appended == 1
    rows = fake.tab(KEY, "sheetfollow_state")
    assert rows[0] == ["Day", "Kind", "Key", "Status", "At"]
    # The new tab gets date formats with its first rows; rows appended to a hidden tab
    # keep their date numbers unformatted (only sheetfollow reads them).
    assert [row[:4] for row in rows[1:]] == [
        [D(2026, 3, 11), "owner", "Anna", "sent"],
        [46093, "owner", "Anna", "sent"],
    ]
    assert rows[1][4] == pytest.approx(46092.3125)  # 07:30 as a fraction of the day
    [add] = [r for r in sheet_writes(fake) if "addSheet" in r.body["requests"][0]]
    assert add.body["requests"][0]["addSheet"]["properties"]["hidden"] is True
    # The second write appends: a header re-check, then one values:append below the table.
    assert calls(fake, sent) == [
        "GET /values:batchGet",
        "POST /values/'sheetfollow_state'!A1:E1:append",
    ]
    append = fake.requests[-1]
    assert append.query["insertDataOption"] == ["INSERT_ROWS"]
    assert append.query["valueInputOption"] == ["RAW"]
    with connect(fake, Path(str(sheet.account.key_file)), []) as fresh:
        assert "sheetfollow_state" in fresh.tab_names()
        table = fresh.read_tab("sheetfollow_state")
        assert table is not None and len(table.rows) == 3
        days = [schema.parse_date(row[0], epoch=table.epoch) for row in table.rows[1:]]
        assert days == [date(2026, 3, 11), date(2026, 3, 12)]


def test_a_new_tab_its_date_formats_and_grid_growth_go_in_one_batch(
    fake: FakeSheets, sheet: GoogleSheetsBackend
) -> None:
    sheet.read_tab("Prospects")
    sent = len(fake.requests)
    wider = TabChanges(tab="Prospects", new_headers={27: "Extra"})  # one column past Z
    sheet.write([state_change(TODAY), wider])
    assert calls(fake, sent) == [
        "GET /values:batchGet",
        "POST :batchUpdate",
        "POST /values:batchUpdate",
    ]
    [batch] = sheet_writes(fake)
    kinds = [next(iter(request)) for request in batch.body["requests"]]
    assert kinds == ["addSheet", "appendDimension", "repeatCell", "repeatCell"]
    chosen = batch.body["requests"][0]["addSheet"]["properties"]["sheetId"]
    assert 0 <= chosen < 2**31 and chosen != fake.sheet_id(KEY, "Prospects")
    assert chosen == fake.sheet_id(KEY, "sheetfollow_state")
    assert {r["repeatCell"]["range"]["sheetId"] for r in batch.body["requests"][2:]} == {chosen}
    assert fake.grid_size(KEY, "Prospects")[1] == 27
    assert fake.tab(KEY, "Prospects")[0][26] == "Extra"


def test_rows_a_person_added_meanwhile_are_not_written_over(
    fake: FakeSheets, key_file: Path, sheet: GoogleSheetsBackend, naps: list[float]
) -> None:
    sheet.write([state_change(TODAY)])
    with connect(fake, key_file, naps) as person:
        person.write([state_change(date(2026, 3, 12), create=False)])
    sheet.write([state_change(date(2026, 3, 13), create=False)])
    days = [_serial(row[0]) for row in fake.tab(KEY, "sheetfollow_state")[1:]]
    assert days == [46092, 46093, 46094]  # 11, 12 and 13 March 2026


def test_a_tab_made_by_a_try_whose_answer_was_lost_is_used(
    fake: FakeSheets, key_file: Path, naps: list[float]
) -> None:
    with connect(fake, key_file, naps, timeout=0.5) as backend:
        backend.read_tab("Prospects")
        # The recheck needs nothing for a new tab; the addSheet is done but answered late.
        fake.delay_next(2.0)
        backend.write([state_change(TODAY)])
    rows = fake.tab(KEY, "sheetfollow_state")
    assert [row[:2] for row in rows] == [["Day", "Kind"], [D(2026, 3, 11), "owner"]]
    assert len(naps) == 1
    # The second try found the tab made by the first, empty, and used it.
    adds = [r for r in sheet_writes(fake) if "addSheet" in r.body["requests"][0]]
    assert [r.status for r in adds] == [200, 400]
    assert [t for t in fake.requests if t.path.endswith(KEY)][-1].status == 200
    # Then the date formats once more, for the tab adopted, in one more call.
    last = sheet_writes(fake)[-1]
    assert [next(iter(r)) for r in last.body["requests"]] == ["repeatCell", "repeatCell"]


def test_a_tab_someone_else_made_meanwhile_is_not_written_into(
    fake: FakeSheets, key_file: Path, sheet: GoogleSheetsBackend, naps: list[float]
) -> None:
    sheet.read_tab("Prospects")
    with connect(fake, key_file, naps) as other:
        other.read_tab("Prospects")
        other.write([state_change(TODAY)])
    # Ours would write its first rows where theirs are: it writes nothing, to run again
    # (and then append below theirs).
    with pytest.raises(BusyError, match="'sheetfollow_state' was created by someone else"):
        sheet.write([state_change(date(2026, 3, 12))])
    assert [row[0] for row in fake.tab(KEY, "sheetfollow_state")] == ["Day", D(2026, 3, 11)]


def test_a_grid_grown_by_a_try_whose_answer_was_lost_is_not_grown_again(
    fake: FakeSheets, key_file: Path, naps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    with connect(fake, key_file, naps, timeout=0.5) as backend:
        backend.read_tab("Prospects")
        http = backend._http
        read = http.values_batch_get

        def read_then_delay(*args: Any, **kwargs: Any) -> Any:
            found = read(*args, **kwargs)
            if not naps:  # the batchUpdate after the recheck: done, but answered late
                fake.delay_next(2.0)
            return found

        monkeypatch.setattr(http, "values_batch_get", read_then_delay)
        backend.write([state_change(TODAY), TabChanges(tab="Prospects", new_headers={27: "X"})])
    assert len(naps) == 1
    assert fake.tab(KEY, "Prospects")[0][26] == "X"
    assert fake.grid_size(KEY, "Prospects")[1] == 27
    assert fake.tab(KEY, "sheetfollow_state")[0][:2] == ["Day", "Kind"]


def log_change(*notes: str) -> TabChanges:
    """Rows for a Log the team keeps in view: a time, an ID, a note and a day."""
    return TabChanges(
        tab="Log",
        append_rows=[
            [datetime(2026, 3, 11, 9, 30), "P-1", note, date(2026, 3, 18)] for note in notes
        ],
    )


@pytest.fixture
def with_log(fake: FakeSheets, key_file: Path) -> FakeSheets:
    with someone_else(fake, key_file) as spreadsheet:
        spreadsheet.add_worksheet("Log", rows=1000, cols=26).update(
            [["When", "ID", "Note", "Next follow-up"]], "A1"
        )
    fake.requests.clear()
    return fake


def test_rows_are_appended_by_google_below_the_last_row_with_dates_formatted(
    with_log: FakeSheets, sheet: GoogleSheetsBackend
) -> None:
    fake = with_log
    assert sheet.read_tab("Log") is not None
    sent = len(fake.requests)
    assert sheet.write([log_change("first", "second")]).rows_appended == 2
    # The header re-check, the append, then the date formats of the rows where they went.
    assert calls(fake, sent) == [
        "GET /values:batchGet",
        "POST /values/'Log'!A1:D1:append",
        "POST :batchUpdate",
    ]
    rows = fake.tab(KEY, "Log")
    assert [row[1:] for row in rows[1:]] == [
        ["P-1", "first", D(2026, 3, 18)],
        ["P-1", "second", D(2026, 3, 18)],
    ]
    formats = [r["repeatCell"] for r in sheet_writes(fake)[-1].body["requests"]]
    kinds = {f["cell"]["userEnteredFormat"]["numberFormat"]["type"]: f["range"] for f in formats}
    assert kinds["DATE_TIME"]["startRowIndex"] == 1 and kinds["DATE_TIME"]["endRowIndex"] == 3
    assert kinds["DATE"]["startColumnIndex"] == 3


def test_rows_appended_by_someone_meanwhile_are_kept(
    with_log: FakeSheets, key_file: Path, sheet: GoogleSheetsBackend, naps: list[float]
) -> None:
    fake = with_log
    assert sheet.read_tab("Log") is not None
    with connect(fake, key_file, naps) as other:
        assert other.read_tab("Log") is not None
        # Both append, each after reading the same Log: neither takes the other's row.
        other.write([log_change("theirs")])
        sheet.write([log_change("ours")])
    assert [row[2] for row in fake.tab(KEY, "Log")[1:]] == ["theirs", "ours"]
    # The cache of the Log no longer matches the sheet: it is read again next time.
    log = sheet.read_tab("Log")
    assert log is not None and [row[2] for row in log.rows[1:]] == ["theirs", "ours"]


def test_rows_go_into_a_table_that_starts_in_column_b(
    fake: FakeSheets, key_file: Path, sheet: GoogleSheetsBackend
) -> None:
    with someone_else(fake, key_file) as spreadsheet:
        spreadsheet.add_worksheet("Calls", rows=100, cols=5).update([["Who", "When"]], "B1")
    assert sheet.read_tab("Calls") is not None
    sheet.write([TabChanges(tab="Calls", append_rows=[[None, "Anna", "today"]])])
    # Google writes from the table's first column: the values are sent from there too.
    assert fake.requests[-1].path.endswith("/values/'Calls'!B1:C1:append")
    assert fake.tab(KEY, "Calls") == [[None, "Who", "When"], [None, "Anna", "today"]]


def test_an_append_whose_answer_was_lost_is_not_appended_twice(
    with_log: FakeSheets, key_file: Path, naps: list[float]
) -> None:
    fake = with_log
    with connect(fake, key_file, naps, timeout=0.5) as backend:
        assert backend.read_tab("Log") is not None
        fake.delay_next(0.0)  # the header re-check, answered at once
        fake.delay_next(2.0)  # the append: done, but answered after the client gave up
        backend.write([log_change("once")])
    assert [row[2] for row in fake.tab(KEY, "Log")[1:]] == ["once"]
    appends = [r for r in fake.requests if r.path.endswith(":append")]
    assert len(appends) == 1
    assert naps == []  # found at once: no pause, no second try


def test_an_append_that_failed_is_sent_again(
    with_log: FakeSheets, key_file: Path, naps: list[float]
) -> None:
    fake = with_log
    with connect(fake, key_file, naps) as backend:
        assert backend.read_tab("Log") is not None
        fake.delay_next(0.0)  # the header re-check, answered at once
        fake.fail_next(503)  # the append fails without being done ...
        backend.write([log_change("once")])
    # ... the rows are looked for, not found, and sent again.
    assert [row[2] for row in fake.tab(KEY, "Log")[1:]] == ["once"]
    assert [r.status for r in fake.requests if r.path.endswith(":append")] == [503, 200]
    assert naps == [1.0]


# --- People editing meanwhile ---------------------------------------------------------------


def test_rows_inserted_meanwhile_are_written_where_their_ids_are_now(
    fake: FakeSheets, sheet: GoogleSheetsBackend
) -> None:
    sheet.read_tab("Prospects")
    fake.insert_rows(KEY, "Prospects", 2, [["P-9", "Newco", None, None, "mine"]])
    change = owned({"P-1": "due", "P-2": "overdue", "P-4": "dead"})
    change.cells.append(CellWrite(4, 1, "P-5"))  # Cobalt, which had no ID
    sheet.write([change])
    assert by_id(fake) == {
        "P-9": "mine",
        "P-1": "due",
        "P-2": "overdue",
        "P-5": None,
        "P-4": "dead",
    }
    assert fake.tab(KEY, "Prospects")[4][:2] == ["P-5", "Cobalt"]


def test_rows_sorted_meanwhile_are_found_by_their_ids(
    fake: FakeSheets, sheet: GoogleSheetsBackend
) -> None:
    sheet.read_tab("Prospects")
    fake.sort_rows(KEY, "Prospects", "C")  # by Created: Cobalt (46000) first
    sheet.write([owned({"P-1": "due", "P-2": "overdue", "P-4": "dead"})])
    assert by_id(fake) == {None: None, "P-1": "due", "P-2": "overdue", "P-4": "dead"}
    assert fake.tab(KEY, "Prospects")[1][:2] == [None, "Cobalt"]
    # The sheet moved under the cache: the next read asks Google again.
    sent = len(fake.requests)
    table = sheet.read_tab("Prospects")
    assert table is not None and table.rows[1][1] == "Cobalt"
    assert len(fake.requests) == sent + 2


def test_a_row_without_an_id_is_not_written_when_rows_around_it_moved_apart(
    fake: FakeSheets, sheet: GoogleSheetsBackend
) -> None:
    sheet.read_tab("Prospects")
    fake.sort_rows(KEY, "Prospects", "C")
    change = owned({"P-1": "due"})
    change.cells.append(CellWrite(4, 1, "P-5"))
    before = fake.tab(KEY, "Prospects")
    with pytest.raises(BusyError, match="row 4 has no ID to find it by; nothing was written"):
        sheet.write([change])
    assert fake.tab(KEY, "Prospects") == before
    assert value_writes(fake) == []


def test_an_id_that_vanished_meanwhile_writes_nothing(
    fake: FakeSheets, key_file: Path, sheet: GoogleSheetsBackend, naps: list[float]
) -> None:
    sheet.read_tab("Prospects")
    with connect(fake, key_file, naps) as person:
        person.write([TabChanges(tab="Prospects", cells=[CellWrite(3, 1, "P-20")])])
    before = fake.tab(KEY, "Prospects")
    with pytest.raises(BusyError) as caught:
        sheet.write([owned({"P-1": "due", "P-2": "overdue"})])
    assert "ID 'P-2' (row 3 of 'Prospects') is gone" in str(caught.value)
    assert caught.value.exit_code is ExitCode.BUSY
    assert fake.tab(KEY, "Prospects") == before


def test_an_id_that_now_appears_twice_writes_nothing(
    fake: FakeSheets, sheet: GoogleSheetsBackend
) -> None:
    sheet.read_tab("Prospects")
    fake.insert_rows(KEY, "Prospects", 6, [["P-1", "Acme copy"]])
    before = fake.tab(KEY, "Prospects")
    with pytest.raises(BusyError, match=r"ID 'P-1' is now in rows 2, 6 of 'Prospects'"):
        sheet.write([owned({"P-1": "due"})])
    assert fake.tab(KEY, "Prospects") == before


def test_headers_changed_meanwhile_write_nothing(
    fake: FakeSheets, key_file: Path, sheet: GoogleSheetsBackend, naps: list[float]
) -> None:
    sheet.read_tab("Prospects")
    with connect(fake, key_file, naps) as person:
        person.write([TabChanges(tab="Prospects", cells=[CellWrite(1, 5, "Stage")])])
    with pytest.raises(BusyError, match="the headers of 'Prospects' changed"):
        sheet.write([owned({"P-1": "due"})])
    assert by_id(fake)["P-1"] == "new"


def test_a_tab_renamed_meanwhile_writes_nothing(
    fake: FakeSheets, key_file: Path, sheet: GoogleSheetsBackend
) -> None:
    sheet.read_tab("Prospects")
    with someone_else(fake, key_file) as spreadsheet:
        spreadsheet.worksheet("Prospects").update_title("Pipeline")
    with pytest.raises(BusyError, match="a tab was renamed or deleted while sheetfollow worked"):
        sheet.write([owned({"P-1": "due"})])
    assert fake.tab(KEY, "Pipeline")[1][4] == "new"


def test_a_row_inserted_while_the_cells_are_on_their_way_is_put_right(
    fake: FakeSheets, sheet: GoogleSheetsBackend
) -> None:
    sheet.read_tab("Prospects")
    # After the ID re-check, before Google applies the write: every row moves down one, so
    # the status meant for P-2 (row 3) lands on P-1, now in row 3.
    fake.before_next_write(lambda: fake.insert_rows(KEY, "Prospects", 2, [["P-9", "Newco"]]))
    result = sheet.write([owned({"P-2": "won"})])
    assert by_id(fake) == {"P-9": None, "P-1": "new", "P-2": "won", None: None, "P-4": None}
    [warning] = result.skipped
    assert warning == (
        "rows of 'Prospects' moved while the cells of P-2 were on their way, and they landed "
        "on other rows; those rows were put back as they were, and the cells of P-2 written "
        "again where they are now"
    )
    # The write, the ID column read back, the cells read where the rows are now, the
    # repair (P-1 put back, P-2 written), the ID column read back once more.
    assert calls(fake)[-5:] == [
        "POST /values:batchUpdate",
        "GET /values:batchGet",
        "GET /values:batchGet",
        "POST /values:batchUpdate",
        "GET /values:batchGet",
    ]
    assert value_writes(fake)[-1].body["data"] == [
        {"range": "'Prospects'!E3:E4", "majorDimension": "ROWS", "values": [["new"], ["won"]]}
    ]


def test_rows_sorted_while_the_cells_are_on_their_way_are_put_right(
    fake: FakeSheets, sheet: GoogleSheetsBackend
) -> None:
    sheet.read_tab("Prospects")
    fake.before_next_write(lambda: fake.sort_rows(KEY, "Prospects", "C"))
    change = owned({"P-1": "due", "P-2": "overdue", "P-4": "dead"})
    result = sheet.write([change])
    # Cobalt, without an ID, got P-1's status first; it is empty again.
    assert by_id(fake) == {None: None, "P-1": "due", "P-2": "overdue", "P-4": "dead"}
    assert "the cells of P-1, P-2 written again" in result.skipped[0]


def test_a_filled_in_id_that_landed_on_another_prospect_is_put_back(
    fake: FakeSheets, sheet: GoogleSheetsBackend
) -> None:
    sheet.read_tab("Prospects")
    fake.before_next_write(lambda: fake.insert_rows(KEY, "Prospects", 2, [["P-9", "Newco"]]))
    change = owned({"P-2": "won"})
    change.cells += [CellWrite(4, 1, "P-5"), CellWrite(4, 5, "new")]  # Cobalt gets an ID
    sheet.write([change])
    rows = fake.tab(KEY, "Prospects")
    assert [row[:2] for row in rows[1:]] == [
        ["P-9", "Newco"], ["P-1", "Acme"], ["P-2", "Brick"], ["P-5", "Cobalt"], ["P-4", "Delta"]
    ]  # fmt: skip
    assert by_id(fake) == {"P-9": None, "P-1": "new", "P-2": "won", "P-5": "new", "P-4": None}


def test_rows_moved_just_after_the_write_are_left_as_they_are(
    fake: FakeSheets, sheet: GoogleSheetsBackend
) -> None:
    sheet.read_tab("Prospects")
    fake.after_next_write(lambda: fake.sort_rows(KEY, "Prospects", "C"))
    result = sheet.write([owned({"P-1": "due", "P-2": "overdue", "P-4": "dead"})])
    assert by_id(fake) == {None: None, "P-1": "due", "P-2": "overdue", "P-4": "dead"}
    assert result.skipped == ()
    assert len(value_writes(fake)) == 1  # nothing to put right: every cell moved with its row
    # The rows are not where the cache has them: the next read asks Google again.
    table = sheet.read_tab("Prospects")
    assert table is not None and table.rows[1][:2] == [None, "Cobalt"]


def test_cells_that_landed_on_a_row_added_meanwhile_stop_with_busy(
    fake: FakeSheets, sheet: GoogleSheetsBackend
) -> None:
    sheet.read_tab("Prospects")
    # Inserted right where the write goes: what that row held before is not known.
    fake.before_next_write(lambda: fake.insert_rows(KEY, "Prospects", 3, [["P-9", "Newco"]]))
    with pytest.raises(BusyError) as caught:
        sheet.write([owned({"P-2": "won"})])
    assert "rows of 'Prospects' moved while sheetfollow wrote" in str(caught.value)
    assert "E3: landed on a row added meanwhile" in str(caught.value)
    assert by_id(fake)["P-9"] == "won"  # named in the message, for a person to check


# --- Google's hiccups ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_passing_failures_are_tried_again_with_growing_pauses(
    fake: FakeSheets, sheet: GoogleSheetsBackend, naps: list[float], status: int
) -> None:
    fake.fail_next(status, times=3)
    assert sheet.read_tab("Prospects") is not None
    assert naps == [1.0, 2.0, 4.0]
    assert [r.status for r in fake.requests] == [status, status, status, 200, 200]


def test_the_pauses_have_jitter_and_a_ceiling() -> None:
    policy = RetryPolicy(jitter=lambda: 0.5)
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [1.5, 2.5, 4.5, 8.5]
    assert policy.delay(1, retry_after=7.0) == 7.0
    assert sum(policy.delay(n) for n in range(1, policy.tries)) <= policy.max_total


def test_a_dropped_connection_is_tried_again(
    fake: FakeSheets, sheet: GoogleSheetsBackend, naps: list[float]
) -> None:
    sheet.read_tab("Prospects")
    fake.drop_next()
    sheet.write([owned({"P-1": "due"})])
    assert by_id(fake)["P-1"] == "due"
    assert naps == [1.0]


def test_a_slow_answer_is_given_up_on_and_asked_again(
    fake: FakeSheets, key_file: Path, naps: list[float]
) -> None:
    with connect(fake, key_file, naps, timeout=0.3) as backend:
        backend.read_tab("Prospects")
        fake.delay_next(1.0)  # the ID re-check
        backend.write([owned({"P-1": "due"})])
    assert by_id(fake)["P-1"] == "due"
    assert naps == [1.0]


def test_a_failure_that_lasts_ends_in_a_plain_error_and_writes_nothing(
    fake: FakeSheets, sheet: GoogleSheetsBackend, naps: list[float]
) -> None:
    sheet.read_tab("Prospects")
    before = fake.tab(KEY, "Prospects")
    fake.fail_next(503, times=5)
    with pytest.raises(RemoteError) as caught:
        sheet.write([owned({"P-1": "due"})])
    assert str(caught.value) == (
        "Google Sheets failed after 5 tries (HTTP 503: The service is currently unavailable.)"
        "; nothing was written; run again later"
    )
    assert naps == [1.0, 2.0, 4.0, 8.0]
    assert fake.tab(KEY, "Prospects") == before


def test_a_quota_that_stays_exceeded_says_so(
    fake: FakeSheets, sheet: GoogleSheetsBackend, naps: list[float]
) -> None:
    fake.fail_next(429, times=5)
    with pytest.raises(RemoteError, match="too many requests after 5 tries"):
        sheet.read_tab("Prospects")
    assert len(fake.requests) == 5


def test_a_server_that_cannot_be_reached_is_a_remote_error(
    key_file: Path, naps: list[float], sheets_server: FakeSheets
) -> None:
    policy = RetryPolicy(tries=2, sleep=naps.append, jitter=lambda: 0.0)
    with (
        GoogleSheetsBackend(
            KEY, key_file=key_file, endpoint="http://127.0.0.1:9", retry=policy
        ) as backend,
        pytest.raises(RemoteError, match="cannot reach Google Sheets after 2 tries"),
    ):
        backend.read_tab("Prospects")
    assert naps == [1.0]


def test_a_slow_google_is_given_up_on_at_the_deadline(
    fake: FakeSheets, key_file: Path, naps: list[float]
) -> None:
    policy = RetryPolicy(sleep=naps.append, jitter=lambda: 0.0)
    started = time.monotonic()
    with GoogleSheetsBackend(
        KEY, key_file=key_file, endpoint=fake.url, timeout=30, retry=policy, deadline=0.5
    ) as backend:
        fake.delay_next(3.0, times=5)
        with pytest.raises(RemoteError) as caught:
            backend.read_tab("Prospects")
    # Not five tries of 30 seconds: the answer is waited for until the deadline, no longer.
    assert time.monotonic() - started < 2.5
    assert str(caught.value) == (
        "Google Sheets did not answer within 0.5 seconds in all; run again later"
    )
    assert naps == []


def test_tries_stop_when_their_pauses_would_pass_the_deadline(
    fake: FakeSheets, key_file: Path, naps: list[float]
) -> None:
    policy = RetryPolicy(sleep=naps.append, jitter=lambda: 0.0)
    with GoogleSheetsBackend(
        KEY, key_file=key_file, endpoint=fake.url, retry=policy, deadline=2.5
    ) as backend:
        backend.read_tab("Prospects")
        fake.fail_next(503, times=5)
        with pytest.raises(RemoteError) as caught:
            backend.write([owned({"P-1": "due"})])
    # 1 second after the first failure; the 2 seconds after the second would pass 2.5.
    assert naps == [1.0]
    assert str(caught.value) == (
        "Google Sheets did not answer within 2.5 seconds in all after 2 tries; nothing was "
        "written; run again later"
    )
    assert by_id(fake)["P-1"] == "new"


# --- The whole job ------------------------------------------------------------------------------


def team_tabs(layout: Layout | None = None) -> dict[str, list[list[Any]]]:
    """The team's workbook (conftest) as tabs for the fake: dates as date cells."""
    grid = (layout or Layout()).tab().rows
    return {
        "Prospects": [[_cell(value) for value in row] for row in grid],
        "Owners": [list(row) for row in TEAM_OWNERS],
    }


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        raise AssertionError("the team sheet has no times")
    return D(value.year, value.month, value.day) if isinstance(value, date) else value


def team_config(folder: Path, key_file: Path) -> Path:
    text = TEAM_CONFIG.replace('sheet = "pipeline.xlsx"', f'sheet = "{sheet_url(KEY)}/edit"')
    path = folder / "sheetfollow.toml"
    path.write_text(text + f'\n[google]\nkey_file = "{key_file}"\n', encoding="utf-8")
    return path


def test_a_refresh_writes_what_a_person_works_out(
    sheets_server: FakeSheets, key_file: Path, naps: list[float], tmp_path: Path
) -> None:
    sheets_server.add_spreadsheet(KEY, "Team", team_tabs())
    config = load_config(team_config(tmp_path, key_file))
    with connect(sheets_server, key_file, naps) as backend:
        summary = service.refresh(backend, config, TODAY)
    assert (summary.rows, summary.ids_filled, summary.needs_attention) == (10, 2, 1)
    rows = sheets_server.tab(KEY, "Prospects")
    header = [str(h) for h in rows[0]]
    for row in rows[1:]:
        record = dict(zip(header, row, strict=False))
        expected = TEAM_EXPECTED[str(record["Company"])]
        wanted = expected.next_follow_up
        assert record["Next follow-up"] == (
            D(wanted.year, wanted.month, wanted.day) if wanted else None
        )
        assert (record["Status"], record["Step"] or "", record["Assigned to"]) == (
            expected.status,
            expected.step,
            expected.assigned_to,
        )
        assert record["ID"]


def test_a_refresh_costs_the_same_few_requests_for_any_number_of_rows(
    sheets_server: FakeSheets, key_file: Path, naps: list[float], tmp_path: Path
) -> None:
    config = load_config(team_config(tmp_path, key_file))
    costs = []
    for n, key in ((10, KEY), (400, OTHER_KEY)):
        extra = [
            {"id": f"P-{k:04d}", "company": f"Extra {k}", "owner": "Anna", "created": TODAY}
            for k in range(100, 100 + n)
        ]
        sheets_server.add_spreadsheet(key, f"Team {n}", team_tabs(Layout(extra_rows=extra)))
        start, tokens = len(sheets_server.requests), len(sheets_server.token_requests)
        with connect(sheets_server, key_file, naps, key=key) as backend:
            service.refresh(backend, config, TODAY)
        costs.append((calls(sheets_server, start, key), len(sheets_server.token_requests) - tokens))
    assert costs[0] == costs[1]
    # The tabs, all their values (the tab of touch snapshots does not exist yet), the
    # re-check, the new hidden tab with its first rows' date formats, every cell in one
    # write (the snapshots of the new tab included), the check that the cells landed.
    assert costs[0] == (
        ["GET /", "GET /values:batchGet", "GET /values:batchGet", "POST :batchUpdate",
         "POST /values:batchUpdate", "GET /values:batchGet"],
        1,
    )  # fmt: skip


def test_a_refresh_after_a_person_inserted_a_row_writes_each_row_by_its_id(
    sheets_server: FakeSheets, key_file: Path, naps: list[float], tmp_path: Path
) -> None:
    sheets_server.add_spreadsheet(KEY, "Team", team_tabs())
    config = load_config(team_config(tmp_path, key_file))
    with connect(sheets_server, key_file, naps) as backend:
        service.load(backend, config, TODAY)  # read while the person is typing
        sheets_server.insert_rows(KEY, "Prospects", 3, [["P-0099", "Inserted Ltd"]])
        service.refresh(backend, config, TODAY)
    rows = sheets_server.tab(KEY, "Prospects")
    header = [str(h) for h in rows[0]]
    records = {row[1]: dict(zip(header, row, strict=False)) for row in rows[1:]}
    assert records["Inserted Ltd"]["Status"] is None
    for company, expected in TEAM_EXPECTED.items():
        assert records[company]["Status"] == expected.status, company


def test_a_date_column_gets_its_format_in_one_request_however_many_rows(
    sheets_server: FakeSheets, key_file: Path, naps: list[float]
) -> None:
    rows = 4_000
    grid: list[list[Any]] = [["ID", "Next follow-up", "Last contact"]]
    grid += [[f"P-{n:05d}", None, D(2026, 3, 2) if n % 1000 == 0 else None] for n in range(rows)]
    sheets_server.add_spreadsheet(KEY, "Big", {"Prospects": grid})
    change = TabChanges(tab="Prospects", id_column=1)
    for n in range(rows):
        change.expected_ids[n + 2] = f"P-{n:05d}"
        # A first refresh: most rows get a date; dead ones (every seventh) stay empty.
        wanted = None if n % 7 == 0 else date(2026, 3, 11 + n % 14)
        change.cells += [CellWrite(n + 2, 2, wanted), CellWrite(n + 2, 3, wanted)]
    with connect(sheets_server, key_file, naps, timeout=30) as backend:
        backend.read_tab("Prospects")
        backend.write([change])
    [formats] = sheet_writes(sheets_server)
    ranges = [r["repeatCell"]["range"] for r in formats.body["requests"]]
    # One range for the empty column, from its first dated row (3) to its last (4001); the
    # column with a date of its own every thousand rows keeps those dates' format: the 3 of
    # them among the rows to format split it in 4 ranges. (Before: one range per run of
    # dated rows, 572 per column.)
    assert ranges[0] == {
        "sheetId": 0, "startRowIndex": 2, "endRowIndex": rows + 1, "startColumnIndex": 1,
        "endColumnIndex": 2,
    }  # fmt: skip
    assert len(ranges) == 1 + 4
    assert sheets_server.tab(KEY, "Prospects")[2][1:] == [D(2026, 3, 12), D(2026, 3, 12)]


def test_the_date_formats_of_a_first_refresh_of_100000_rows_are_one_request_a_column() -> None:
    writes: dict[tuple[int, int], Any] = {}
    for row in range(2, 100_002):
        dead = row % 7 == 0
        writes[(row, 17)] = None if dead else date(2026, 3, 11)  # Next follow-up
        writes[(row, 18)] = "dead" if dead else "due"  # Status, text
    asks = _date_formats(0, writes, {})
    assert len(asks) == 1
    assert asks[0]["repeatCell"]["range"]["endRowIndex"] == 100_001


def test_mark_costs_a_few_requests(
    sheets_server: FakeSheets, key_file: Path, tmp_path: Path, cli: Cli
) -> None:
    tabs = team_tabs()
    tabs["Log"] = [["When", "ID", "Company", "By", "Outcome", "Channel", "Note", "Next follow-up"]]
    sheets_server.add_spreadsheet(KEY, "Team", tabs)
    config = team_config(cli.cwd, key_file)
    args = ("--today", TODAY.isoformat(), "--config", config)
    assert cli("refresh", *args, env=google_env(sheets_server)).exit_code == 0
    sent = len(sheets_server.requests)
    result = cli("mark", "P-0003", "no-answer", *args, env=google_env(sheets_server))
    assert result.exit_code == 0, result.output
    # The tabs; every tab's values (all small); the re-check; the Prospects cells; the
    # check that they landed; the Log row and the touch snapshot, each appended by Google;
    # the date format of the Log row where it went.
    assert calls(sheets_server, sent) == [
        "GET /",
        "GET /values:batchGet",
        "GET /values:batchGet",
        "POST /values:batchUpdate",
        "GET /values:batchGet",
        "POST /values/'Log'!A1:H1:append",
        "POST /values/'sheetfollow_touches'!A1:I1:append",
        "POST :batchUpdate",
    ]


# --- check ------------------------------------------------------------------------------------


def google_env(fake: FakeSheets) -> dict[str, str]:
    return {ENDPOINT_ENV: fake.url}


def test_check_names_the_service_account_and_says_the_sheet_is_shared(
    sheets_server: FakeSheets, key_file: Path, cli: Cli
) -> None:
    sheets_server.add_spreadsheet(KEY, "Team", team_tabs())
    config = team_config(cli.cwd, key_file)
    email = sheets_server.service_account_email
    result = cli(
        "check", "--config", config, "--today", TODAY.isoformat(), env=google_env(sheets_server)
    )
    lines = result.output.splitlines()
    assert lines[0] == f"service account: {email} (key {key_file})"
    assert lines[1] == "  the sheet 'Team' is shared with it"
    assert lines[2].startswith(f"{sheet_url(KEY)}/edit: 10 prospects")  # as the config has it
    assert result.exit_code == ExitCode.PROBLEMS  # Golf SA's Last contact is not a date
    found = cli(
        "check",
        "--json",
        "--config",
        config,
        "--today",
        TODAY.isoformat(),
        env=google_env(sheets_server),
    )
    report = data_of(found.stdout)
    assert report["google"] == {
        "service_account": email,
        "key_file": str(key_file),
        "title": "Team",
        "shared": True,
        "problem": None,
    }


def test_check_says_what_to_share_when_the_sheet_is_not_shared(
    sheets_server: FakeSheets, key_file: Path, cli: Cli
) -> None:
    sheets_server.add_spreadsheet(KEY, "Team", team_tabs(), shared_with={"anna@example.com"})
    config = team_config(cli.cwd, key_file)
    email = sheets_server.service_account_email
    result = cli("check", "--config", config, env=google_env(sheets_server))
    assert result.exit_code == ExitCode.REMOTE
    assert result.stdout.splitlines() == [f"service account: {email} (key {key_file})"]
    assert f"share the sheet with {email} as Editor" in result.stderr
