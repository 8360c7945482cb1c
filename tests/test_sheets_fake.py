"""The fake Google Sheets server is only worth its tests if it answers as Google does.

First it replays every request in Google's recorded traffic (the cassettes) and must give
the same status and the same JSON, field by field. Then the real gspread and google-auth
clients drive it the way the Sheets backend does: a service-account key file, a token from
the fake's token endpoint, and a transport adapter that sends https://sheets.googleapis.com
to the fake.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import gspread
import pytest
import requests
from fakes.sheets_server import FakeSheets, column_letters
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import AuthorizedSession, Request
from google.oauth2 import service_account
from gspread.exceptions import APIError, SpreadsheetNotFound
from gspread.http_client import ParamsType
from requests.adapters import HTTPAdapter

SHEETS_API = "https://sheets.googleapis.com"
#: google-auth asks IAM where a service account may be used, in a thread of its own.
IAM_API = "https://iamcredentials.googleapis.com"
SCOPES = ["https://www.googleapis.com/auth/spreadsheets"]

_HERE = Path(__file__).resolve().parent
CASSETTES = _HERE / "data" / "corpus" / "gsheets-cassettes"
#: Why the replay skips the Drive API calls in the cassettes.
DRIVE_SKIPPED = (
    "Drive API (create, describe and delete a file): sheetfollow never calls it; the "
    "spreadsheet such a call created is added to the fake under the id Google gave it"
)

KEY = "1-sheetfollow-pipeline"
Row = list[Any]


class ToFake(HTTPAdapter):
    """Sends requests for `prefix` to the fake instead: the URL is rewritten, nothing else."""

    # google-auth deep-copies its token transport for a background thread; HTTPAdapter
    # copies only the attributes named here.
    __attrs__ = [*HTTPAdapter.__attrs__, "prefix", "base"]  # noqa: RUF012

    def __init__(self, prefix: str, base: str) -> None:
        super().__init__()
        self.prefix, self.base = prefix, base

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        assert request.url.startswith(self.prefix), request.url
        request.url = self.base + request.url[len(self.prefix) :]
        return super().send(request, *args, **kwargs)


@contextmanager
def authorized_session(
    fake: FakeSheets, key_file: Path, scopes: list[str] = SCOPES
) -> Iterator[AuthorizedSession]:
    """A session that gets its token from the fake with the key file; Google's API hosts
    are sent to the fake (IAM too, which google-auth asks on its own)."""
    credentials = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
        str(key_file), scopes=scopes
    )
    with requests.Session() as lookups:
        lookups.mount(IAM_API, ToFake(IAM_API, fake.url))
        with AuthorizedSession(credentials, auth_request=Request(lookups)) as session:  # type: ignore[no-untyped-call]
            session.mount(SHEETS_API, ToFake(SHEETS_API, fake.url))
            yield session


@contextmanager
def gspread_client(
    fake: FakeSheets, key_file: Path, scopes: list[str] = SCOPES
) -> Iterator[gspread.Client]:
    """gspread as the backend uses it: the adapter sits on client.http_client.session."""
    with authorized_session(fake, key_file, scopes) as session:
        client = gspread.authorize(session.credentials, session=session)
        assert client.http_client.session is session
        client.set_timeout(10)
        yield client


@pytest.fixture
def key_file(sheets_server: FakeSheets, tmp_path: Path) -> Path:
    return sheets_server.write_key_file(tmp_path / "service-account.json")


@pytest.fixture
def client(sheets_server: FakeSheets, key_file: Path) -> Iterator[gspread.Client]:
    with gspread_client(sheets_server, key_file) as made:
        yield made


@pytest.fixture
def fake(sheets_server: FakeSheets) -> FakeSheets:
    """The fake with the team's pipeline: a Prospects tab and a hidden Owners tab."""
    sheets_server.add_spreadsheet(
        KEY,
        "Pipeline",
        {
            "Prospects": [
                ["ID", "Company", "Value", "Created", "Won", "Score"],
                ["P-1", "Acme", 5000, FakeSheets.date(2026, 3, 11), True, "=2*3"],
                [],
                ["P-3", None, 1.5],
            ],
            "Owners": [["Owner", "Email"], ["Anna", "anna@example.com"]],
        },
        hidden={"Owners"},
    )
    return sheets_server


def calls(fake: FakeSheets) -> list[tuple[str, str, int | None]]:
    return [(r.method, r.path, r.status) for r in fake.requests]


# --- Replaying Google's answers --------------------------------------------------------------


def shape(value: Any) -> Any:
    """The JSON's structure: every field, every list item, the type of every value."""
    if isinstance(value, dict):
        return {name: shape(inner) for name, inner in value.items()}
    if isinstance(value, list):
        return [shape(inner) for inner in value]
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "null" if value is None else "string"


def swap_sheet_ids(value: Any, ids: dict[int, int]) -> Any:
    """`value` with every sheetId replaced through `ids` (Google picks them at random)."""
    if isinstance(value, dict):
        return {
            name: ids.get(inner, inner) if name == "sheetId" else swap_sheet_ids(inner, ids)
            for name, inner in value.items()
        }
    if isinstance(value, list):
        return [swap_sheet_ids(inner, ids) for inner in value]
    return value


def spreadsheet_key(uri: str) -> str | None:
    found = re.match(re.escape(SHEETS_API) + r"/v4/spreadsheets/([^/:?]+)", uri)
    return found[1] if found else None


def is_drive(uri: str) -> bool:
    return uri.startswith("https://www.googleapis.com/drive/")


def recorded_json(interaction: dict[str, Any]) -> Any:
    text = interaction["response"]["body"]["string"]
    return json.loads(text) if text else None


def seed(fake: FakeSheets, interactions: list[dict[str, Any]]) -> dict[int, int]:
    """Add the spreadsheets the recording used, as its first answer about each showed them
    (a new spreadsheet, one the account may not open, or none). Returns Google's sheet ids
    -> the fake's."""
    seen: set[str] = set()
    ids: dict[int, int] = {}
    for interaction in interactions:
        uri = interaction["request"]["uri"]
        key = spreadsheet_key(uri)
        if key is None or key in seen:
            continue
        seen.add(key)
        status, answer = interaction["response"]["status"]["code"], recorded_json(interaction)
        if status == 200 and interaction["request"]["method"] == "GET" and "/values" not in uri:
            sheets = [sheet["properties"] for sheet in answer["sheets"]]
            fake.add_spreadsheet(
                key,
                answer["properties"]["title"],
                {sheet["title"]: [] for sheet in sheets},
                hidden={sheet["title"] for sheet in sheets if sheet.get("hidden")},
                locale=answer["properties"]["locale"],
                time_zone=answer["properties"]["timeZone"],
            )
            for sheet in sheets:
                grid = sheet["gridProperties"]
                fake.resize(key, sheet["title"], rows=grid["rowCount"], columns=grid["columnCount"])
                ids[sheet["sheetId"]] = fake.sheet_id(key, sheet["title"])
        elif answer["error"]["status"] == "PERMISSION_DENIED":
            fake.add_spreadsheet(key, "Not shared", {"Sheet1": []}, shared_with=set())
        else:
            assert answer["error"]["status"] == "NOT_FOUND", f"what did {key} hold? {answer}"
    return ids


def learn_new_sheet_ids(sent: Any, google: Any, ours: Any, ids: dict[int, int]) -> None:
    """After an addSheet: Google's new sheet id -> the one the fake gave."""
    if not isinstance(sent, dict) or not isinstance(google, dict) or not isinstance(ours, dict):
        return
    for request, theirs, mine in zip(
        sent.get("requests", []), google.get("replies", []), ours.get("replies", []), strict=False
    ):
        if "addSheet" in request:
            ids[theirs["addSheet"]["properties"]["sheetId"]] = mine["addSheet"]["properties"][
                "sheetId"
            ]


def cassette_files() -> list[Path]:
    return sorted(CASSETTES.glob("*.json"))


@pytest.mark.parametrize("cassette", cassette_files(), ids=lambda path: path.stem)
def test_fake_answers_recorded_requests_as_google_did(
    sheets_server: FakeSheets, key_file: Path, cassette: Path
) -> None:
    interactions = json.loads(cassette.read_text(encoding="utf-8"))["interactions"]
    ids = seed(sheets_server, interactions)
    replayed, skipped = [], []
    with authorized_session(sheets_server, key_file) as session:
        for interaction in interactions:
            request, response = interaction["request"], interaction["response"]
            if is_drive(request["uri"]):
                skipped.append(request["uri"])
                continue
            sent = json.loads(request["body"]) if request["body"] else None
            answer = session.request(  # type: ignore[no-untyped-call]
                request["method"],
                request["uri"],
                data=None if sent is None else json.dumps(swap_sheet_ids(sent, ids)),
                headers={"Content-Type": "application/json"} if sent is not None else {},
            )
            google = recorded_json(interaction)
            ours = answer.json() if answer.content else None
            learn_new_sheet_ids(sent, google, ours, ids)
            ours = swap_sheet_ids(ours, {mine: theirs for theirs, mine in ids.items()})
            said = f"{request['method']} {request['uri']}"
            assert answer.status_code == response["status"]["code"], (said, ours)
            assert shape(ours) == shape(google), said
            assert ours == google, said
            replayed.append(request["uri"])
    assert replayed, "nothing of this recording reached the Sheets API"
    assert all(is_drive(uri) for uri in skipped), DRIVE_SKIPPED
    # One request per recorded one, and one token for the whole session.
    assert len(sheets_server.requests) == len(replayed)
    assert [r.status for r in sheets_server.token_requests] == [200]


def test_the_recordings_hold_each_kind_of_call_and_error() -> None:
    """The recorded traffic holds errors and each kind of call the fake is checked on."""
    assert len(cassette_files()) == 9  # a missing corpus must fail, not skip
    kinds: set[str] = set()
    for path in cassette_files():
        for interaction in json.loads(path.read_text(encoding="utf-8"))["interactions"]:
            uri, status = interaction["request"]["uri"], interaction["response"]["status"]["code"]
            if not is_drive(uri):
                path_only = uri.split("?")[0].removeprefix(SHEETS_API + "/v4/spreadsheets/")
                action = re.sub(r"^[^/:]+", "", path_only)
                action = re.sub(r"/values/[^:]+", "/values/RANGE", action)
                kinds.add(f"{interaction['request']['method']} {action or '/'} {status}")
    assert {
        "GET / 200",
        "GET / 403",
        "GET / 404",
        "GET /values/RANGE 200",
        "GET /values:batchGet 200",
        "PUT /values/RANGE 200",
        "POST /values:batchUpdate 200",
        "POST /values/RANGE:clear 200",
        "POST :batchUpdate 200",
    } <= kinds


# --- Through gspread and google-auth -------------------------------------------------------


def test_open_by_key_reads_the_metadata_with_a_token_from_the_key_file(
    fake: FakeSheets, client: gspread.Client
) -> None:
    spreadsheet = client.open_by_key(KEY)
    tabs = spreadsheet.worksheets()
    assert spreadsheet.title == "Pipeline"
    assert spreadsheet.locale == "en_US" and spreadsheet.timezone == "Europe/Amsterdam"
    assert [(ws.title, ws.isSheetHidden) for ws in tabs] == [
        ("Prospects", False),
        ("Owners", True),
    ]
    assert tabs[0].id == 0 and tabs[1].id == fake.sheet_id(KEY, "Owners") != 0
    assert (tabs[0].row_count, tabs[0].col_count) == (1000, 26)
    assert [ws.title for ws in spreadsheet.worksheets(exclude_hidden=True)] == ["Prospects"]
    # open_by_key asks once; worksheets() asks again each time.
    assert calls(fake) == [("GET", f"/v4/spreadsheets/{KEY}", 200)] * 3
    assert fake.requests[0].query == {"includeGridData": ["false"]}
    assert len(fake.token_requests) == 1
    grant = fake.token_requests[0].body
    assert grant["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"


def test_a_field_mask_keeps_only_what_was_asked(fake: FakeSheets, client: gspread.Client) -> None:
    metadata = client.http_client.fetch_sheet_metadata(
        KEY,
        params={
            "includeGridData": "false",
            "fields": "properties(title,timeZone),sheets(properties(sheetId,title,hidden))",
        },
    )
    assert metadata == {
        "properties": {"title": "Pipeline", "timeZone": "Europe/Amsterdam"},
        "sheets": [
            {"properties": {"sheetId": 0, "title": "Prospects"}},
            {
                "properties": {
                    "sheetId": fake.sheet_id(KEY, "Owners"),
                    "title": "Owners",
                    "hidden": True,
                }
            },
        ],
    }
    dotted = client.http_client.fetch_sheet_metadata(
        KEY, params={"fields": "sheets.properties.title"}
    )
    assert dotted == {
        "sheets": [{"properties": {"title": "Prospects"}}, {"properties": {"title": "Owners"}}]
    }


def test_values_come_unformatted_with_serial_dates_or_as_people_see_them(
    fake: FakeSheets, client: gspread.Client
) -> None:
    spreadsheet = client.open_by_key(KEY)
    fake.requests.clear()
    raw = spreadsheet.values_get(
        "Prospects",
        params={"valueRenderOption": "UNFORMATTED_VALUE", "dateTimeRenderOption": "SERIAL_NUMBER"},
    )
    assert raw == {
        "range": "Prospects!A1:Z1000",
        "majorDimension": "ROWS",
        "values": [
            ["ID", "Company", "Value", "Created", "Won", "Score"],
            ["P-1", "Acme", 5000, 46092, True, 6],
            [],
            ["P-3", "", 1.5],
        ],
    }
    shown = spreadsheet.values_get("Prospects!A2:F4")
    assert shown["values"] == [
        ["P-1", "Acme", "5000", "3/11/2026", "TRUE", "6"],
        [],
        ["P-3", "", "1.5"],
    ]
    as_text = spreadsheet.values_get(
        "'Prospects'!D2",
        params={
            "valueRenderOption": "UNFORMATTED_VALUE",
            "dateTimeRenderOption": "FORMATTED_STRING",
        },
    )
    assert as_text == {"range": "Prospects!D2", "majorDimension": "ROWS", "values": [["3/11/2026"]]}
    formulas = spreadsheet.values_get("Prospects!D2:F2", params={"valueRenderOption": "FORMULA"})
    assert formulas["values"] == [[46092, True, "=2*3"]]
    by_column = spreadsheet.values_get(
        "Prospects!A:C",
        params={"majorDimension": "COLUMNS", "valueRenderOption": "UNFORMATTED_VALUE"},
    )
    assert by_column["range"] == "Prospects!A1:C1000"
    assert by_column["values"] == [
        ["ID", "P-1", "", "P-3"],
        ["Company", "Acme"],
        ["Value", 5000, "", 1.5],
    ]
    both = spreadsheet.values_batch_get(
        ["Prospects!C2:D", "Owners!A2:B"], params={"valueRenderOption": "UNFORMATTED_VALUE"}
    )
    assert [(r["range"], r.get("values")) for r in both["valueRanges"]] == [
        ("Prospects!C2:D1000", [[5000, 46092], [], [1.5]]),
        ("Owners!A2:B1000", [["Anna", "anna@example.com"]]),
    ]
    assert [r.path for r in fake.requests] == [
        f"/v4/spreadsheets/{KEY}/values/Prospects",
        f"/v4/spreadsheets/{KEY}/values/Prospects!A2:F4",
        f"/v4/spreadsheets/{KEY}/values/'Prospects'!D2",
        f"/v4/spreadsheets/{KEY}/values/Prospects!D2:F2",
        f"/v4/spreadsheets/{KEY}/values/Prospects!A:C",
        f"/v4/spreadsheets/{KEY}/values:batchGet",
    ]
    assert fake.requests[-1].query["ranges"] == ["Prospects!C2:D", "Owners!A2:B"]


def test_dates_are_shown_in_the_spreadsheets_locale(
    sheets_server: FakeSheets, client: gspread.Client
) -> None:
    sheets_server.add_spreadsheet(
        "nl-sheet", "Leads", {"Leads": [["Datum"], [FakeSheets.date(2026, 3, 1)]]}, locale="nl_NL"
    )
    answer = client.open_by_key("nl-sheet").values_get("Leads!A2")
    assert answer["values"] == [["1-3-2026"]]


def test_raw_keeps_text_and_user_entered_parses_it(
    fake: FakeSheets, client: gspread.Client
) -> None:
    spreadsheet = client.open_by_key(KEY)
    typed = [["42", "2025-04-01", "=1+2", "TRUE", "'7"]]
    raw = spreadsheet.values_batch_update(
        {"valueInputOption": "RAW", "data": [{"range": "Prospects!G2:K2", "values": typed}]}
    )
    assert raw == {
        "spreadsheetId": KEY,
        "totalUpdatedRows": 1,
        "totalUpdatedColumns": 5,
        "totalUpdatedCells": 5,
        "totalUpdatedSheets": 1,
        "responses": [
            {
                "spreadsheetId": KEY,
                "updatedRange": "Prospects!G2:K2",
                "updatedRows": 1,
                "updatedColumns": 5,
                "updatedCells": 5,
            }
        ],
    }
    assert fake.tab(KEY, "Prospects")[1][6:] == typed[0]
    spreadsheet.values_batch_update(
        {
            "valueInputOption": "USER_ENTERED",
            "data": [{"range": "Prospects!G3:K3", "values": typed}],
        }
    )
    assert fake.tab(KEY, "Prospects")[2][6:] == [42, FakeSheets.date(2025, 4, 1), "=1+2", True, "7"]
    unformatted: ParamsType = {"valueRenderOption": "UNFORMATTED_VALUE"}
    assert spreadsheet.values_get("Prospects!G2:K3", params=unformatted)["values"] == [
        ["42", "2025-04-01", "=1+2", "TRUE", "'7"],
        [42, 45748, 3, True, "7"],
    ]
    assert spreadsheet.values_get("Prospects!G3:K3")["values"] == [
        ["42", "2025-04-01", "3", "TRUE", "7"]
    ]


def test_a_serial_written_raw_into_a_date_cell_stays_a_date(
    fake: FakeSheets, client: gspread.Client
) -> None:
    spreadsheet = client.open_by_key(KEY)
    spreadsheet.values_batch_update(
        {"valueInputOption": "RAW", "data": [{"range": "Prospects!D2", "values": [[46100]]}]}
    )
    assert fake.tab(KEY, "Prospects")[1][3] == FakeSheets.date(2026, 3, 19)
    assert spreadsheet.values_get("Prospects!D2")["values"] == [["3/19/2026"]]
    # "" empties a cell and keeps its format; null leaves a cell as it is.
    spreadsheet.values_batch_update(
        {
            "valueInputOption": "RAW",
            "data": [{"range": "Prospects!B2:D2", "values": [[None, "x", ""]]}],
        }
    )
    assert fake.tab(KEY, "Prospects")[1][1:4] == ["Acme", "x", None]
    spreadsheet.values_batch_update(
        {"valueInputOption": "RAW", "data": [{"range": "Prospects!D2", "values": [[46101]]}]}
    )
    assert fake.tab(KEY, "Prospects")[1][3] == FakeSheets.date(2026, 3, 20)


def test_append_adds_rows_below_the_table(fake: FakeSheets, client: gspread.Client) -> None:
    spreadsheet = client.open_by_key(KEY)
    params: ParamsType = {"valueInputOption": "RAW", "insertDataOption": "INSERT_ROWS"}
    answer = spreadsheet.values_append(
        "Owners!A1", params, {"values": [["Bob", "bob@example.com"]]}
    )
    assert answer == {
        "spreadsheetId": KEY,
        "tableRange": "Owners!A1:B2",
        "updates": {
            "spreadsheetId": KEY,
            "updatedRange": "Owners!A3:B3",
            "updatedRows": 1,
            "updatedColumns": 2,
            "updatedCells": 2,
        },
    }
    assert fake.tab(KEY, "Owners")[-1] == ["Bob", "bob@example.com"]
    assert fake.grid_size(KEY, "Owners") == (1001, 26)
    # Overwriting at the end of a full grid grows it by the rows needed.
    fake.resize(KEY, "Owners", rows=3)
    spreadsheet.values_append("Owners", {"valueInputOption": "RAW"}, {"values": [["Cy"], ["Di"]]})
    assert [row[0] for row in fake.tab(KEY, "Owners")] == ["Owner", "Anna", "Bob", "Cy", "Di"]
    assert fake.grid_size(KEY, "Owners") == (5, 26)


def test_a_failing_formula_reads_as_the_error_it_shows(
    fake: FakeSheets, client: gspread.Client
) -> None:
    """The values API has no error type: a formula that fails reads as the error's text,
    whatever the render option, except FORMULA, which gives the formula."""
    lookup = "=VLOOKUP(A2,Rates!A:B,2,FALSE)"
    fake.insert_rows(KEY, "Prospects", 3, [["P-2", "Brick", FakeSheets.formula(lookup, "#N/A")]])
    fake.insert_rows(KEY, "Prospects", 4, [["P-4", "Cobalt", "=1/0"]])
    spreadsheet = client.open_by_key(KEY)
    for render in ("UNFORMATTED_VALUE", "FORMATTED_VALUE"):
        found = spreadsheet.values_get("Prospects!C3:C4", params={"valueRenderOption": render})
        assert found["values"] == [["#N/A"], ["#DIV/0!"]], render
    formulas = spreadsheet.values_get("Prospects!C3:C4", params={"valueRenderOption": "FORMULA"})
    assert formulas["values"] == [[lookup], ["=1/0"]]
    assert fake.tab(KEY, "Prospects")[2][2] == lookup


def test_rows_moved_just_after_a_write_move_what_it_wrote(
    fake: FakeSheets, client: gspread.Client
) -> None:
    spreadsheet = client.open_by_key(KEY)
    fake.after_next_write(lambda: fake.insert_rows(KEY, "Prospects", 2, [["P-9", "Newco"]]))
    spreadsheet.values_batch_update(
        {"valueInputOption": "RAW", "data": [{"range": "Prospects!G2", "values": [["called"]]}]}
    )
    grid = fake.tab(KEY, "Prospects")
    # Written where it was sent (P-1's row), then moved down with it.
    assert (grid[1][0], grid[1][6]) == ("P-9", None)
    assert (grid[2][0], grid[2][6]) == ("P-1", "called")


def test_each_request_is_recorded_with_the_bytes_sent_and_answered(
    fake: FakeSheets, client: gspread.Client
) -> None:
    spreadsheet = client.open_by_key(KEY)
    fake.requests.clear()
    body = {"values": [["Bob", "bob@example.com"]]}
    answer = spreadsheet.values_append("Owners!A1", {"valueInputOption": "RAW"}, body)
    [append] = fake.requests
    assert append.sent == len(json.dumps(body).encode())
    assert append.answered == len(json.dumps(answer, indent=2).encode())


def test_a_hidden_tab_is_added_and_a_taken_name_refused_atomically(
    fake: FakeSheets, client: gspread.Client
) -> None:
    spreadsheet = client.open_by_key(KEY)
    reply = spreadsheet.batch_update(
        {
            "requests": [
                {
                    "addSheet": {
                        "properties": {
                            "title": "sheetfollow",
                            "hidden": True,
                            "gridProperties": {"rowCount": 10, "columnCount": 3},
                        }
                    }
                }
            ]
        }
    )
    added = reply["replies"][0]["addSheet"]["properties"]
    assert added == {
        "sheetId": fake.sheet_id(KEY, "sheetfollow"),
        "title": "sheetfollow",
        "index": 2,
        "sheetType": "GRID",
        "gridProperties": {"rowCount": 10, "columnCount": 3},
        "hidden": True,
    }
    assert [ws.title for ws in spreadsheet.worksheets(exclude_hidden=True)] == ["Prospects"]
    both = [
        {"addSheet": {"properties": {"title": "Log"}}},
        {"addSheet": {"properties": {"title": "prospects"}}},
    ]
    with pytest.raises(APIError) as refused:
        spreadsheet.batch_update({"requests": both})
    assert refused.value.code == 400
    assert refused.value.error["status"] == "INVALID_ARGUMENT"
    assert refused.value.error["message"] == (
        'Invalid requests[1].addSheet: A sheet with the name "prospects" already exists. '
        "Please enter another name."
    )
    assert [ws.title for ws in spreadsheet.worksheets()] == ["Prospects", "Owners", "sheetfollow"]


def test_grid_and_format_requests_change_the_tab(fake: FakeSheets, client: gspread.Client) -> None:
    spreadsheet = client.open_by_key(KEY)
    with pytest.raises(APIError) as outside:
        spreadsheet.values_batch_update(
            {"valueInputOption": "RAW", "data": [{"range": "Prospects!AA1", "values": [["Step"]]}]}
        )
    assert outside.value.error["message"] == (
        "Range (Prospects!AA1) exceeds grid limits. Max rows: 1000, max columns: 26"
    )
    spreadsheet.batch_update(
        {
            "requests": [
                {"appendDimension": {"sheetId": 0, "dimension": "COLUMNS", "length": 2}},
                {
                    "insertDimension": {
                        "range": {
                            "sheetId": 0,
                            "dimension": "ROWS",
                            "startIndex": 2,
                            "endIndex": 3,
                        },
                        "inheritFromBefore": True,
                    }
                },
                {
                    "repeatCell": {
                        "range": {
                            "sheetId": 0,
                            "startRowIndex": 1,
                            "endRowIndex": 5,
                            "startColumnIndex": 26,
                            "endColumnIndex": 27,
                        },
                        "cell": {"userEnteredFormat": {"numberFormat": {"type": "DATE"}}},
                        "fields": "userEnteredFormat.numberFormat",
                    }
                },
            ]
        }
    )
    assert fake.grid_size(KEY, "Prospects") == (1001, 28)
    spreadsheet.values_batch_update(
        {
            "valueInputOption": "RAW",
            "data": [{"range": "Prospects!AA1:AA2", "values": [["Next"], [46093]]}],
        }
    )
    grid = fake.tab(KEY, "Prospects")
    assert [row[0] for row in grid] == ["ID", "P-1", None, None, "P-3"]
    assert grid[1][26] == FakeSheets.date(2026, 3, 12)
    # The inserted row took the date format of the row above it.
    spreadsheet.values_batch_update(
        {"valueInputOption": "RAW", "data": [{"range": "Prospects!D3", "values": [[46094]]}]}
    )
    assert fake.tab(KEY, "Prospects")[2][3] == FakeSheets.date(2026, 3, 13)


def test_clearing_keeps_formats_and_tabs_can_be_shown_and_frozen(
    fake: FakeSheets, client: gspread.Client
) -> None:
    spreadsheet = client.open_by_key(KEY)
    cleared = spreadsheet.values_clear("Prospects!D2:D4")
    assert cleared == {"spreadsheetId": KEY, "clearedRange": "Prospects!D2:D4"}
    assert fake.tab(KEY, "Prospects")[1][:4] == ["P-1", "Acme", 5000, None]
    spreadsheet.values_update(
        "Prospects!D2", params={"valueInputOption": "USER_ENTERED"}, body={"values": [["46093"]]}
    )
    assert fake.tab(KEY, "Prospects")[1][3] == FakeSheets.date(2026, 3, 12)
    owners = fake.sheet_id(KEY, "Owners")
    properties = {"sheetId": owners, "hidden": False, "gridProperties": {"frozenRowCount": 1}}
    spreadsheet.batch_update(
        {
            "requests": [
                {
                    "updateSheetProperties": {
                        "properties": properties,
                        "fields": "hidden,gridProperties.frozenRowCount",
                    }
                }
            ]
        }
    )
    tab = spreadsheet.worksheet("Owners")
    assert (tab.isSheetHidden, tab.frozen_row_count, tab.row_count) == (False, 1, 1000)


def test_missing_and_unshared_spreadsheets_raise_what_gspread_raises(
    fake: FakeSheets, client: gspread.Client
) -> None:
    with pytest.raises(SpreadsheetNotFound):
        client.open_by_key("no-such-sheet")
    fake.add_spreadsheet("private", "Private", {"Sheet1": []}, shared_with={"boss@example.com"})
    with pytest.raises(PermissionError) as denied:
        client.open_by_key("private")
    cause = denied.value.__cause__
    assert isinstance(cause, APIError)
    assert cause.error == {
        "code": 403,
        "message": "The caller does not have permission",
        "status": "PERMISSION_DENIED",
    }
    fake.add_spreadsheet(
        "shared", "Shared", {"Sheet1": []}, shared_with={fake.service_account_email}
    )
    assert client.open_by_key("shared").title == "Shared"
    assert [status for _, _, status in calls(fake)] == [404, 403, 200]


def test_a_disabled_api_is_a_403_that_says_so(fake: FakeSheets, client: gspread.Client) -> None:
    fake.api_disabled = True
    with pytest.raises(PermissionError) as denied:
        client.open_by_key(KEY)
    cause = denied.value.__cause__
    assert isinstance(cause, APIError) and cause.code == 403
    assert "Google Sheets API has not been used in project" in cause.error["message"]
    assert cause.error["details"][1]["reason"] == "SERVICE_DISABLED"


def test_a_read_only_token_cannot_write(fake: FakeSheets, key_file: Path) -> None:
    read_only = ["https://www.googleapis.com/auth/spreadsheets.readonly"]
    with gspread_client(fake, key_file, read_only) as reader:
        spreadsheet = reader.open_by_key(KEY)
        with pytest.raises(APIError) as refused:
            spreadsheet.values_batch_update(
                {"valueInputOption": "RAW", "data": [{"range": "Prospects!A9", "values": [["x"]]}]}
            )
    assert refused.value.code == 403
    assert refused.value.error["message"] == "Request had insufficient authentication scopes."


def test_an_injected_429_fails_one_request_and_does_nothing(
    fake: FakeSheets, client: gspread.Client
) -> None:
    spreadsheet = client.open_by_key(KEY)
    fake.fail_next(429)
    with pytest.raises(APIError) as limited:
        spreadsheet.values_get("Prospects!A1")
    assert limited.value.code == 429
    assert limited.value.error["status"] == "RESOURCE_EXHAUSTED"
    assert "'Read requests'" in limited.value.error["message"]
    assert limited.value.error["details"][0]["reason"] == "RATE_LIMIT_EXCEEDED"
    assert spreadsheet.values_get("Prospects!A1")["values"] == [["ID"]]
    fake.fail_next(503, times=2)
    write = {"valueInputOption": "RAW", "data": [{"range": "Prospects!B2", "values": [["Beta"]]}]}
    for _ in range(2):
        with pytest.raises(APIError) as unavailable:
            spreadsheet.values_batch_update(write)
        assert unavailable.value.error["status"] == "UNAVAILABLE"
    assert fake.tab(KEY, "Prospects")[1][1] == "Acme"
    spreadsheet.values_batch_update(write)
    assert fake.tab(KEY, "Prospects")[1][1] == "Beta"
    assert [status for _, _, status in calls(fake)] == [200, 429, 200, 503, 503, 200]


def test_a_dropped_connection_raises_and_writes_nothing(
    fake: FakeSheets, client: gspread.Client
) -> None:
    spreadsheet = client.open_by_key(KEY)
    fake.drop_next()
    write = {"valueInputOption": "RAW", "data": [{"range": "Prospects!B2", "values": [["Beta"]]}]}
    with pytest.raises(requests.exceptions.ConnectionError):
        spreadsheet.values_batch_update(write)
    assert fake.tab(KEY, "Prospects")[1][1] == "Acme"
    spreadsheet.values_batch_update(write)
    assert fake.tab(KEY, "Prospects")[1][1] == "Beta"
    assert [status for _, _, status in calls(fake)] == [200, None, 200]


def test_a_slow_answer_times_the_client_out_after_the_write_was_done(
    fake: FakeSheets, client: gspread.Client
) -> None:
    spreadsheet = client.open_by_key(KEY)
    client.set_timeout(0.25)
    # Far longer than the client waits; the fake cuts the wait short when it stops.
    fake.delay_next(60)
    write = {"valueInputOption": "RAW", "data": [{"range": "Prospects!B2", "values": [["Beta"]]}]}
    with pytest.raises(requests.exceptions.ReadTimeout):
        spreadsheet.values_batch_update(write)
    client.set_timeout(10)
    assert fake.tab(KEY, "Prospects")[1][1] == "Beta"
    assert spreadsheet.values_get("Prospects!B2")["values"] == [["Beta"]]


def test_rows_inserted_before_a_write_move_the_prospects_under_it(
    fake: FakeSheets, client: gspread.Client
) -> None:
    spreadsheet = client.open_by_key(KEY)
    ids = spreadsheet.values_get("Prospects!A:A")["values"]
    row_of_p1 = next(i + 1 for i, row in enumerate(ids) if row == ["P-1"])
    fake.before_next_write(lambda: fake.insert_rows(KEY, "Prospects", 2, [["P-9", "Newco"]]))
    write: dict[str, Any] = {
        "valueInputOption": "RAW",
        "data": [{"range": f"Prospects!G{row_of_p1}", "values": [["called"]]}],
    }
    spreadsheet.values_batch_update(write)
    grid = fake.tab(KEY, "Prospects")
    # Written by row number, the status landed on the prospect the person inserted.
    assert (grid[1][0], grid[1][6]) == ("P-9", "called")
    assert (grid[2][0], grid[2][6]) == ("P-1", None)
    assert fake.grid_size(KEY, "Prospects") == (1001, 26)
    # The action ran once: the next write lands where it is sent.
    write["data"][0]["range"] = "Prospects!G3"
    spreadsheet.values_batch_update(write)
    assert fake.tab(KEY, "Prospects")[2][6] == "called"


def test_a_sort_before_a_write_reorders_the_rows(fake: FakeSheets, client: gspread.Client) -> None:
    spreadsheet = client.open_by_key(KEY)
    fake.before_next_write(lambda: fake.sort_rows(KEY, "Prospects", "C"))
    spreadsheet.values_batch_update(
        {"valueInputOption": "RAW", "data": [{"range": "Prospects!G2", "values": [["x"]]}]}
    )
    grid = fake.tab(KEY, "Prospects")
    # By Value, ascending: 1.5 (P-3), 5000 (P-1), then the empty row.
    assert [row[0] for row in grid] == ["ID", "P-3", "P-1"]
    assert grid[1][6] == "x"


def test_revoked_tokens_are_renewed_with_the_key(fake: FakeSheets, client: gspread.Client) -> None:
    spreadsheet = client.open_by_key(KEY)
    fake.revoke_tokens()
    assert spreadsheet.values_get("Prospects!A1")["values"] == [["ID"]]
    assert [status for _, _, status in calls(fake)] == [200, 401, 200]
    assert [r.status for r in fake.token_requests] == [200, 200]


def test_a_revoked_key_gets_no_token(fake: FakeSheets, client: gspread.Client) -> None:
    fake.revoke_key()
    with pytest.raises(RefreshError, match="invalid_grant"):
        client.open_by_key(KEY)
    assert fake.requests == []
    assert [r.status for r in fake.token_requests] == [400]


def test_requests_without_a_valid_token_get_401(fake: FakeSheets) -> None:
    url = f"{fake.url}/v4/spreadsheets/{KEY}"
    with requests.Session() as plain:
        missing = plain.get(url, timeout=10)
        wrong = plain.get(url, headers={"Authorization": "Bearer ya29.guess"}, timeout=10)
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert wrong.json()["error"]["status"] == "UNAUTHENTICATED"
    assert wrong.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("method", "path", "body", "message"),
    [
        (
            "POST",
            "/values:batchUpdate",
            {"data": [{"range": "Prospects!A9", "values": [["x"]]}]},
            "Invalid valueInputOption: INPUT_VALUE_OPTION_UNSPECIFIED",
        ),
        (
            "POST",
            "/values:batchUpdate",
            {"valueInputOptions": "RAW", "data": []},
            'Invalid JSON payload received. Unknown name "valueInputOptions": Cannot find field.',
        ),
        (
            "POST",
            "/values:batchUpdate",
            {"valueInputOption": "RAW", "data": [{"range": "Nope!A1", "values": [["x"]]}]},
            "Unable to parse range: Nope!A1",
        ),
        (
            "POST",
            "/values:batchUpdate",
            {
                "valueInputOption": "RAW",
                "data": [{"range": "Prospects!A9:B9", "values": [["a", "b", "c"]]}],
            },
            "Requested writing within range [Prospects!A9:B9], but tried writing to column [C]",
        ),
        (
            "PUT",
            "/values/Prospects!A9",
            {"values": [["x"]]},
            "'valueInputOption' is required but not specified",
        ),
        (
            "GET",
            "/values/Prospects!A1?valueRenderOption=DATES",
            None,
            "Invalid value at 'value_render_option' "
            '(type.googleapis.com/google.apps.sheets.v4.ValueRenderOption), "DATES"',
        ),
        (
            "GET",
            "/values/Prospects!A1?renderAs=RAW",
            None,
            'Invalid JSON payload received. Unknown name "renderAs": Cannot bind query '
            "parameter. Field 'renderAs' could not be found in request message.",
        ),
        (
            "GET",
            "/values/Prospects!A1:A2000",
            None,
            "Range (Prospects!A1:A2000) exceeds grid limits. Max rows: 1000, max columns: 26",
        ),
        ("POST", ":batchUpdate", {"requests": []}, "Must specify at least one request."),
    ],
)
def test_malformed_requests_get_400_invalid_argument(
    fake: FakeSheets, key_file: Path, method: str, path: str, body: Any, message: str
) -> None:
    before = fake.tab(KEY, "Prospects")
    with authorized_session(fake, key_file) as session:
        answer = session.request(  # type: ignore[no-untyped-call]
            method, f"{SHEETS_API}/v4/spreadsheets/{KEY}{path}", json=body, timeout=10
        )
    assert answer.status_code == 400
    assert answer.json() == {
        "error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}
    }
    assert fake.tab(KEY, "Prospects") == before


def test_a_batch_with_one_bad_range_writes_nothing(
    fake: FakeSheets, client: gspread.Client
) -> None:
    spreadsheet = client.open_by_key(KEY)
    data = [
        {"range": "Prospects!B2", "values": [["Beta"]]},
        {"range": "Prospects!Z1:AB1", "values": [["too", "wide", "!"]]},
    ]
    with pytest.raises(APIError):
        spreadsheet.values_batch_update({"valueInputOption": "RAW", "data": data})
    assert fake.tab(KEY, "Prospects")[1][1] == "Acme"


def test_a_body_that_is_not_json_is_refused(fake: FakeSheets, key_file: Path) -> None:
    with authorized_session(fake, key_file) as session:
        answer = session.post(
            f"{SHEETS_API}/v4/spreadsheets/{KEY}/values:batchUpdate",
            data=b"{not json",
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
    assert answer.status_code == 400
    assert answer.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_a_refresh_takes_three_requests_and_one_token(
    fake: FakeSheets, client: gspread.Client
) -> None:
    """Metadata, one read of every tab, one write of the owned columns: what DESIGN asks of
    the backend, counted at the server."""
    http = client.http_client
    http.fetch_sheet_metadata(
        KEY, params={"includeGridData": "false", "fields": "sheets.properties"}
    )
    http.values_batch_get(
        KEY, ["'Prospects'", "'Owners'"], {"valueRenderOption": "UNFORMATTED_VALUE"}
    )
    http.values_batch_update(
        KEY,
        {
            "valueInputOption": "RAW",
            "data": [
                {"range": "'Prospects'!G1:G4", "values": [["Status"], ["due"], [], ["new"]]},
                {"range": "'Prospects'!H1", "values": [["Next"]]},
            ],
        },
    )
    assert calls(fake) == [
        ("GET", f"/v4/spreadsheets/{KEY}", 200),
        ("GET", f"/v4/spreadsheets/{KEY}/values:batchGet", 200),
        ("POST", f"/v4/spreadsheets/{KEY}/values:batchUpdate", 200),
    ]
    assert len(fake.token_requests) == 1
    assert fake.requests[2].body["data"][0]["range"] == "'Prospects'!G1:G4"
    assert [row[6:8] for row in fake.tab(KEY, "Prospects")] == [
        ["Status", "Next"],
        ["due", None],
        [None, None],
        ["new", None],
    ]


def test_people_edit_the_fake_as_in_the_browser(sheets_server: FakeSheets) -> None:
    sheets_server.add_spreadsheet(
        "edits",
        "Edits",
        {"Tab": [["Name", "Day"], ["b", FakeSheets.date(2026, 1, 2)], ["a", None]]},
    )
    sheets_server.insert_rows("edits", "Tab", 2, [["c", "=1+1"]])
    assert sheets_server.tab("edits", "Tab") == [
        ["Name", "Day"],
        ["c", "=1+1"],
        ["b", FakeSheets.date(2026, 1, 2)],
        ["a", None],
    ]
    sheets_server.sort_rows("edits", "Tab", 1)
    assert [row[0] for row in sheets_server.tab("edits", "Tab")] == ["Name", "a", "b", "c"]
    with pytest.raises(ValueError, match="already"):
        sheets_server.add_spreadsheet("edits", "Again", {"Tab": []})
    with pytest.raises(TypeError, match=r"FakeSheets\.date"):
        sheets_server.add_spreadsheet("bad", "Bad", {"Tab": [[object()]]})  # type: ignore[list-item]
    assert column_letters(27) == "AB"
