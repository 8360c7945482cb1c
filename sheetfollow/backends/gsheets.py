"""The Google Sheets backend: a spreadsheet read and written through the Sheets API v4.

A run costs a fixed number of requests whatever the row count: the spreadsheet's metadata
and every tab's values in one batchGet (cached for the backend's life), then for a write
one batchGet that re-reads the header row, the ID column and the cells about to be written,
one spreadsheets:batchUpdate only when tabs must be made (addSheet, with a sheetId of our
choosing so that later requests of the batch can refer to it) or rows, columns or date
formats must be added, and one values:batchUpdate (RAW) with one range per run of cells in
a column.

The values API has no conditional write. Rows a person inserted, deleted or sorted between
our read and our write are found again by their ID; when that cannot be done safely,
nothing is written. Requests that fail on the way (429, 5xx, a dropped connection, no
answer in time) are tried again a few times with growing pauses. The values are written
by the last call, so a failure before it writes none.
"""

from __future__ import annotations

import bisect
import json
import random
import re
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import requests
from google.auth.exceptions import GoogleAuthError, RefreshError, TransportError
from google.auth.transport.requests import AuthorizedSession, Request
from google.oauth2 import service_account
from gspread import Client
from gspread.exceptions import APIError
from gspread.http_client import FileType, HTTPClient, ParamsType
from requests.adapters import HTTPAdapter

from sheetfollow.backends.base import (
    EPOCH_1900,
    CellValue,
    RawValue,
    TabChanges,
    Table,
    WriteResult,
)
from sheetfollow.errors import (
    BusyError,
    ConfigError,
    RemoteError,
    SheetError,
    SheetfollowError,
)
from sheetfollow.schema import col_letter
from sheetfollow.secrets import read_private_file

__all__ = [
    "API_ROOT",
    "CREDENTIALS_ENV",
    "DEFAULT_TIMEOUT",
    "ENDPOINT_ENV",
    "IAM_ROOT",
    "SCOPES",
    "Access",
    "GoogleSheetsBackend",
    "RetryPolicy",
    "ServiceAccount",
    "key_file_for",
    "load_service_account",
    "open_sheet",
    "sheet_key",
    "sheet_url",
]

#: The only scope needed: read and write the spreadsheets shared with the account.
SCOPES: tuple[str, ...] = ("https://www.googleapis.com/auth/spreadsheets",)
#: Where gspread sends every Sheets API call.
API_ROOT = "https://sheets.googleapis.com"
#: Where google-auth asks, after each new token, in which regions the account may be used.
IAM_ROOT = "https://iamcredentials.googleapis.com"
#: Replaces API_ROOT and IAM_ROOT (a test server, a proxy): "http://127.0.0.1:8080".
ENDPOINT_ENV = "SHEETFOLLOW_SHEETS_ENDPOINT"
#: The standard variable naming a service account key file, used when the config names none.
CREDENTIALS_ENV = "GOOGLE_APPLICATION_CREDENTIALS"
#: Seconds to wait for one answer from Google.
DEFAULT_TIMEOUT = 30.0
#: Answers that mean "try again later".
RETRY_STATUSES: frozenset[int] = frozenset({429, 500, 502, 503, 504})
#: Grid of a tab sheetfollow creates (Google's own default for a new tab).
_NEW_TAB_ROWS = 1000
_NEW_TAB_COLUMNS = 26

_URL = re.compile(r"https?://docs\.google\.com/spreadsheets/(?:u/\d+/)?d/([A-Za-z0-9_-]+)")
_KEY = re.compile(r"[A-Za-z0-9_-]{30,}")
_METADATA_FIELDS = (
    "properties(title,locale,timeZone),"
    "sheets(properties(sheetId,title,index,sheetType,hidden,gridProperties(rowCount,columnCount)))"
)
_PROJECT = re.compile(r"project[ =]([A-Za-z0-9-]+)")

T = TypeVar("T")


# --- Naming the sheet ------------------------------------------------------------------------


def sheet_key(text: str) -> str:
    """The spreadsheet key in a Google Sheets URL, or a bare key as it is.

    Raises SheetError for a URL that is not a Google Sheets URL.
    """
    text = text.strip()
    found = _URL.match(text)
    if found:
        return found.group(1)
    if _KEY.fullmatch(text):
        return text
    raise SheetError(
        f"{text} is not a Google Sheets URL or key; copy the address of the sheet from the "
        "browser (https://docs.google.com/spreadsheets/d/.../edit)"
    )


def sheet_url(key: str) -> str:
    return f"https://docs.google.com/spreadsheets/d/{key}"


# --- Credentials -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceAccount:
    """The service account whose key sheetfollow uses."""

    email: str
    project_id: str
    key_file: Path


def key_file_for(configured: str, env: Mapping[str, str]) -> Path:
    """The key file: [google] key_file, else $GOOGLE_APPLICATION_CREDENTIALS."""
    if configured:
        return Path(configured)
    from_env = env.get(CREDENTIALS_ENV, "").strip()
    if from_env:
        return Path(from_env).expanduser()
    raise ConfigError(
        "no Google service account key: set key_file in the [google] section of "
        f"sheetfollow.toml, or the environment variable {CREDENTIALS_ENV}, to the JSON key "
        "file of the service account the sheet is shared with"
    )


def load_service_account(path: Path) -> tuple[ServiceAccount, service_account.Credentials]:
    """Read a service account key file. Every problem is a ConfigError naming the file."""
    info = _key_info(path)
    try:
        credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
            info, scopes=list(SCOPES)
        )
    except (ValueError, TypeError, GoogleAuthError) as exc:
        raise ConfigError(
            f"{path}: the private key in this service account key file cannot be used "
            f"({exc}); download a new JSON key for the service account"
        ) from None
    account = ServiceAccount(
        email=str(info["client_email"]), project_id=str(info.get("project_id", "")), key_file=path
    )
    return account, credentials


def _key_info(path: Path) -> dict[str, Any]:
    text = read_private_file(path, f"{path}: the service account key file", encoding="utf-8-sig")
    try:
        info = json.loads(text)
    except ValueError:
        info = None
    if not isinstance(info, dict):
        raise ConfigError(f"{path}: not a service account key (not a JSON object)")
    if info.get("type") != "service_account":
        kind = "an OAuth client secret" if {"installed", "web"} & set(info) else "another file"
        raise ConfigError(
            f"{path}: this is {kind}, not a service account key; in the Google Cloud console "
            "open IAM & Admin > Service Accounts > the account > Keys > Add key > JSON"
        )
    missing = [k for k in ("client_email", "private_key", "token_uri") if not info.get(k)]
    if missing:
        raise ConfigError(
            f"{path}: the service account key lacks {', '.join(missing)}; download a new "
            "JSON key for the service account"
        )
    return info


# --- HTTP ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a failed request is tried again."""

    #: Tries in all, the first one included.
    tries: int = 5
    #: Pause after the first failure; it doubles after each next one, plus up to one
    #: `first_delay` of random jitter so that parallel runs do not retry in step.
    first_delay: float = 1.0
    #: Never pause longer than this in all, for one request.
    max_total: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    #: A number in [0, 1); injectable for reproducible tests.
    jitter: Callable[[], float] = random.random

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        pause = self.first_delay * 2.0 ** (failures - 1) + self.jitter() * self.first_delay
        return max(pause, retry_after or 0.0)


class _GaveUp(Exception):
    """A request failed for good: its last answer or error, and how often it was tried."""

    def __init__(
        self,
        tries: int,
        error: APIError | None = None,
        cause: BaseException | None = None,
    ) -> None:
        super().__init__(str(error or cause))
        self.tries = tries
        self.error = error
        self.cause = cause


class _Http(HTTPClient):
    """gspread's HTTP client with a bounded retry of the failures that pass."""

    retry: RetryPolicy = RetryPolicy()
    #: Every request sent, retries included (for the request budget of a run).
    sent: int = 0

    def request(
        self,
        method: str,
        endpoint: str,
        params: ParamsType | None = None,
        data: bytes | None = None,
        json: Mapping[str, Any] | None = None,
        files: FileType = None,
        headers: MutableMapping[str, str] | None = None,
    ) -> requests.Response:
        policy = self.retry
        waited = 0.0
        for attempt in range(1, policy.tries + 1):
            retry_after = None
            try:
                self.sent += 1
                response = self.session.request(
                    method=method,
                    url=endpoint,
                    json=json,
                    params=params,
                    data=data,
                    files=files,
                    headers=headers,
                    timeout=self.timeout,
                )
            except (requests.ConnectionError, requests.Timeout, TransportError) as exc:
                failure: _GaveUp = _GaveUp(attempt, cause=exc)
            except RefreshError as exc:
                raise _GaveUp(attempt, cause=exc) from exc
            else:
                if response.ok:
                    return response
                failure = _GaveUp(attempt, error=APIError(response))
                if response.status_code not in RETRY_STATUSES:
                    raise failure
                retry_after = _seconds(response.headers.get("Retry-After"))
            pause = policy.delay(attempt, retry_after)
            if attempt == policy.tries or waited + pause > policy.max_total:
                raise failure
            policy.sleep(pause)
            waited += pause
        raise AssertionError("unreachable: the last try returns or raises")


def _close_all(*sessions: requests.Session) -> None:
    for session in sessions:
        session.close()


def _seconds(header: str | None) -> float | None:
    try:
        return float(header) if header else None
    except ValueError:
        return None


class _Redirect(HTTPAdapter):
    """Sends what is addressed to one of Google's hosts to another server instead."""

    # google-auth deep-copies its transport for a lookup in a thread of its own, and an
    # HTTPAdapter keeps only the attributes named here when copied.
    __attrs__ = [*HTTPAdapter.__attrs__, "root", "endpoint"]  # noqa: RUF012

    def __init__(self, root: str, endpoint: str, max_retries: int = 0) -> None:
        super().__init__(max_retries=max_retries)
        self.root = root
        self.endpoint = endpoint

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        url = request.url or ""
        if url.startswith(self.root):
            request.url = self.endpoint + url[len(self.root) :]
        return super().send(request, *args, **kwargs)


def _auth_session(endpoint: str | None) -> requests.Session:
    """What google-auth sends its own calls with (the token, and the IAM lookup it makes
    after each new token); the lookup goes to `endpoint` when one is set."""
    session = requests.Session()
    # As google-auth's own session does: network errors while signing in are tried again.
    session.mount("https://", HTTPAdapter(max_retries=3))
    if endpoint:
        session.mount(IAM_ROOT + "/", _Redirect(IAM_ROOT, endpoint, max_retries=3))
    return session


def _endpoint(env: Mapping[str, str]) -> str | None:
    text = env.get(ENDPOINT_ENV, "").strip().rstrip("/")
    if not text:
        return None
    if not re.match(r"https?://[^/\s]+", text):
        raise ConfigError(
            f"{ENDPOINT_ENV} must be a URL such as http://127.0.0.1:8080, not {text!r}"
        )
    return text


# --- The sheet as read -----------------------------------------------------------------------


@dataclass
class _Tab:
    sheet_id: int
    title: str
    rows_in_grid: int
    columns_in_grid: int
    hidden: bool = False
    grid: bool = True

    @classmethod
    def from_json(cls, sheet: Mapping[str, Any]) -> _Tab:
        props = sheet.get("properties", {})
        size = props.get("gridProperties", {})
        return cls(
            sheet_id=int(props.get("sheetId", 0)),
            title=str(props.get("title", "")),
            rows_in_grid=int(size.get("rowCount", 0)),
            columns_in_grid=int(size.get("columnCount", 0)),
            hidden=bool(props.get("hidden", False)),
            grid=props.get("sheetType", "GRID") == "GRID",
        )


@dataclass
class _Loaded:
    title: str
    tabs: list[_Tab]
    #: Values by tab title, as the API returned them ("" read as None).
    grids: dict[str, list[list[RawValue]]]

    def find(self, name: str) -> _Tab | None:
        wanted = name.casefold()
        exact = [tab for tab in self.tabs if tab.title == name]
        return (
            exact[0]
            if exact
            else next((tab for tab in self.tabs if tab.title.casefold() == wanted), None)
        )


@dataclass(frozen=True)
class Access:
    """Which service account sheetfollow uses, and whether it can open the sheet."""

    account: str
    key_file: str
    #: The spreadsheet's title; "" when it could not be opened.
    title: str
    #: Why the sheet could not be opened; None when it could.
    error: SheetfollowError | None = None

    @property
    def shared(self) -> bool:
        return self.error is None

    def as_dict(self) -> dict[str, object]:
        return {
            "service_account": self.account,
            "key_file": self.key_file,
            "title": self.title,
            "shared": self.shared,
            "problem": str(self.error) if self.error else None,
        }


# --- The backend -----------------------------------------------------------------------------


class GoogleSheetsBackend:
    """A Google Sheet opened with a service account. Reads are cached; see the module."""

    def __init__(
        self,
        key: str,
        *,
        key_file: Path,
        endpoint: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        label: str | None = None,
    ) -> None:
        self.key = key
        #: The sheet as the user named it (its URL), for messages and emails.
        self.label = label or sheet_url(key)
        self.account, credentials = load_service_account(key_file)
        self.timeout = timeout
        signing_in = _auth_session(endpoint)
        # Untyped in google-auth. The token request gets the same timeout as the others.
        session = AuthorizedSession(  # type: ignore[no-untyped-call]
            credentials, auth_request=Request(signing_in), refresh_timeout=timeout
        )
        if endpoint:
            session.mount(API_ROOT + "/", _Redirect(API_ROOT, endpoint))
        # Connections are kept open between calls; closed with the backend at the latest.
        self._closer = weakref.finalize(self, _close_all, session, signing_in)
        client = Client(auth=credentials, session=session, http_client=_Http)
        client.set_timeout(timeout)
        http = client.http_client
        assert isinstance(http, _Http)
        http.retry = retry or RetryPolicy()
        self._http = http
        self._loaded: _Loaded | None = None
        #: Set while a write is under way: a failure then means nothing was written.
        self._writing = False

    def close(self) -> None:
        """Close the connections to Google (also done when the backend is collected)."""
        self._closer()

    def __enter__(self) -> GoogleSheetsBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def requests_sent(self) -> int:
        """Requests sent to the Sheets API so far, retries included (not the token's)."""
        return self._http.sent

    # ------------------------------------------------------------------ reading

    def tab_names(self) -> list[str]:
        return [tab.title for tab in self._load().tabs]

    def read_tab(self, tab: str) -> Table | None:
        if not tab:
            return None
        loaded = self._load()
        found = loaded.find(tab)
        if found is None:
            return None
        return Table(tab=found.title, rows=loaded.grids.get(found.title, []), epoch=EPOCH_1900)

    def access(self) -> Access:
        """The service account in use, and whether the sheet opens with it."""
        account, key_file = self.account.email, str(self.account.key_file)
        try:
            loaded = self._load()
        except (RemoteError, SheetError) as error:
            return Access(account, key_file, "", error)
        return Access(account, key_file, loaded.title)

    def _load(self) -> _Loaded:
        if self._loaded is None:
            meta = self._call(
                lambda: self._http.fetch_sheet_metadata(
                    self.key, params={"includeGridData": "false", "fields": _METADATA_FIELDS}
                )
            )
            tabs = [_Tab.from_json(sheet) for sheet in meta.get("sheets", [])]
            title = str(meta.get("properties", {}).get("title", ""))
            self._loaded = _Loaded(title, tabs, self._values([t for t in tabs if t.grid]))
        return self._loaded

    def _values(self, tabs: list[_Tab]) -> dict[str, list[list[RawValue]]]:
        if not tabs:
            return {}
        ranges = [_quote(tab.title) for tab in tabs]
        found = self._batch_get(ranges, "UNFORMATTED_VALUE")
        return {tab.title: _rows(values) for tab, values in zip(tabs, found, strict=True)}

    def _batch_get(self, ranges: list[str], render: str) -> list[list[list[Any]]]:
        params: ParamsType = {
            "valueRenderOption": render,
            "dateTimeRenderOption": "SERIAL_NUMBER",
            "majorDimension": "ROWS",
        }
        answer = self._call(lambda: self._http.values_batch_get(self.key, ranges, params))
        found = [r.get("values", []) for r in answer.get("valueRanges", [])]
        if len(found) != len(ranges):
            raise RemoteError(
                f"{self.label}: Google Sheets answered {len(found)} ranges for {len(ranges)}"
            )
        return found

    # ------------------------------------------------------------------ writing

    def write(self, changes: list[TabChanges], *, force: bool = False) -> WriteResult:
        """Write all changes: re-check the rows by ID, then one request for the values.

        `force` changes nothing here: a sheet that moved underneath is never written blind.
        Raises BusyError (nothing written) when rows cannot be found again by their ID.
        """
        if not any(_has_work(change) for change in changes):
            return WriteResult(0, 0)
        loaded = self._load()
        plans = [_Plan(self.label, loaded, change) for change in changes]
        for plan in plans:
            plan.check_target()
        self._writing = True
        try:
            self._write(loaded, plans)
        finally:
            self._writing = False
        return _result(plans)

    def _write(self, loaded: _Loaded, plans: list[_Plan]) -> None:
        self._recheck(plans)
        last_rows: dict[str, int] = {}
        for plan in plans:
            plan.place(last_rows)
        if not any(plan.writes or plan.tab is None for plan in plans):
            return
        self._prepare(loaded, plans)
        data = [item for plan in plans for item in plan.value_ranges()]
        if data:
            body = {"valueInputOption": "RAW", "data": data}
            self._call(lambda: self._http.values_batch_update(self.key, body))
        if all(plan.undisturbed for plan in plans):
            for plan in plans:
                plan.remember()
        else:
            self._loaded = None  # others changed the sheet too: read it afresh next time

    def _recheck(self, plans: list[_Plan]) -> None:
        """Read again, just before writing, what the write depends on: one request, and
        one more only when IDs are formulas or rows moved."""
        found = self._read_for(plans, lambda plan: plan.check_ranges(), "FORMULA")
        for plan, values in found:
            plan.checked(values)
        # IDs made by a formula read as the formula's text; compare their values instead.
        by_formula = [plan for plan in plans if plan.formula_ids]
        for plan, values in self._read_for(
            by_formula, lambda p: [p.id_range()], "UNFORMATTED_VALUE"
        ):
            plan.map_rows([_id_text(row[0] if row else None) for row in values[0]])
        # Rows moved: the cells to write are elsewhere now; look at them there.
        moved = [plan for plan in plans if plan.moved]
        for plan, values in self._read_for(moved, lambda p: p.span_ranges(), "FORMULA"):
            plan.spans_read(values)

    def _read_for(
        self, plans: list[_Plan], ranges_of: Callable[[_Plan], list[str]], render: str
    ) -> list[tuple[_Plan, list[list[list[Any]]]]]:
        """One batchGet of every plan's ranges, handed back per plan."""
        wanted = [(plan, own) for plan in plans if (own := ranges_of(plan))]
        ranges = [r for _, own in wanted for r in own]
        if not ranges:
            return []
        with self._busy_if_tabs_vanished():
            found = self._batch_get(ranges, render)
        out, at = [], 0
        for plan, own in wanted:
            out.append((plan, found[at : at + len(own)]))
            at += len(own)
        return out

    @contextmanager
    def _busy_if_tabs_vanished(self) -> Iterator[None]:
        try:
            yield
        except RemoteError as error:
            if "Unable to parse range" in str(error):
                raise BusyError(
                    f"{self.label}: a tab was renamed or deleted while sheetfollow worked; "
                    "nothing was written; run again"
                ) from None
            raise

    def _prepare(
        self, loaded: _Loaded, plans: list[_Plan], *, taken: set[int] | None = None
    ) -> None:
        """Make the new tabs, grow grids that are too small and give date cells a date
        format, in one batchUpdate. Google applies its requests in order and all or nothing;
        a new tab gets an ID chosen here, so the requests after its addSheet can use it."""
        new = [plan for plan in plans if plan.tab is None]
        in_use = {tab.sheet_id for tab in loaded.tabs} | (taken or set())
        adds = []
        for plan, sheet_id in zip(new, _free_sheet_ids(in_use, len(new)), strict=True):
            properties = plan.new_tab_properties(sheet_id)
            adds.append({"addSheet": {"properties": properties}})
            plan.tab = _Tab.from_json({"properties": properties})
        requests_ = adds + [ask for plan in plans for ask in plan.grid_requests()]
        requests_ += [ask for plan in plans for ask in plan.format_requests()]
        if not requests_:
            return
        try:
            answer = self._call(lambda: self._http.batch_update(self.key, {"requests": requests_}))
        except RemoteError as error:
            for plan in new:
                plan.tab = None  # none of the batch was applied
            if not new or "already exists" not in str(error) or taken is not None:
                raise
            # Our own earlier try may have made it (its answer was lost), or someone else
            # did meanwhile: an empty tab of that name is as good as a new one. Then the
            # rest of the batch once more, with the tabs still missing.
            self._prepare(loaded, plans, taken=self._adopt_tabs(loaded, new))
            return
        replies = answer.get("replies", [])[: len(new)]
        for plan, reply in zip(new, replies, strict=True):
            plan.tab = _Tab.from_json(reply.get("addSheet", {}))
            loaded.tabs.append(plan.tab)
            loaded.grids[plan.tab.title] = []
        for plan in plans:
            plan.grid_grown()

    def _adopt_tabs(self, loaded: _Loaded, plans: list[_Plan]) -> set[int]:
        """Take the tabs of these plans' names that exist now, if empty; the IDs in use."""
        meta = self._call(
            lambda: self._http.fetch_sheet_metadata(
                self.key, params={"includeGridData": "false", "fields": _METADATA_FIELDS}
            )
        )
        now = _Loaded(loaded.title, [_Tab.from_json(sheet) for sheet in meta.get("sheets", [])], {})
        # Grids as they are now: a lost try may have grown them already.
        sizes = {tab.sheet_id: tab for tab in now.tabs}
        for known in loaded.tabs:
            if (fresh := sizes.get(known.sheet_id)) is not None:
                known.rows_in_grid = fresh.rows_in_grid
                known.columns_in_grid = fresh.columns_in_grid
        found = {plan.change.tab: now.find(plan.change.tab) for plan in plans}
        existing = [tab for tab in found.values() if tab is not None]
        grids = self._values(existing)
        for plan in plans:
            tab = found[plan.change.tab]
            if tab is None:
                continue
            if grids.get(tab.title):
                raise BusyError(
                    f"{self.label}: the tab {tab.title!r} was created by someone else while "
                    "sheetfollow worked; nothing was written; run again"
                )
            plan.tab = tab
            loaded.tabs.append(tab)
            loaded.grids[tab.title] = []
        return set(sizes)

    # ------------------------------------------------------------------ errors

    def _call(self, send: Callable[[], T]) -> T:
        try:
            return send()
        except _GaveUp as failure:
            raise self._explain(failure) from None
        except requests.JSONDecodeError:
            # A proxy's or captive portal's page instead of Google's answer.
            raise RemoteError(
                f"{self.label}: the answer from Google Sheets was not JSON; is a proxy in the way?"
            ) from None

    def _explain(self, failure: _GaveUp) -> SheetfollowError:
        email = self.account.email
        unchanged = "; nothing was written" if self._writing else ""
        tries = f" after {failure.tries} tries" if failure.tries > 1 else ""
        cause = failure.cause
        if isinstance(cause, RefreshError):
            return RemoteError(
                f"Google refused the key of the service account {email} "
                f"({self.account.key_file}: {_auth_reason(cause)}); the key may have been "
                "deleted or the account disabled: create a new JSON key for it"
            )
        if isinstance(cause, requests.Timeout):
            return RemoteError(
                f"Google Sheets did not answer within {self.timeout:g} seconds{tries}"
                f"{unchanged}; run again later"
            )
        if cause is not None:
            return RemoteError(
                f"cannot reach Google Sheets{tries} ({_short(cause)}){unchanged}; check the "
                "network connection and run again"
            )
        assert failure.error is not None
        code, message = failure.error.code, str(failure.error.error.get("message", ""))
        if code == 404:
            return SheetError(f"no Google Sheet with key {self.key}; check the URL")
        if code == 403:
            request = failure.error.response.request
            return self._forbidden(message, writing=request.method not in (None, "GET"))
        if code == 401:
            return RemoteError(
                f"Google refused the credentials of the service account {email} "
                f"({self.account.key_file}): {message or 'unauthorized'}; if the key was "
                "deleted or the account disabled, create a new JSON key for it"
            )
        if code == 429:
            return RemoteError(
                f"Google Sheets says too many requests{tries} (the quota is 60 a minute per "
                f"account){unchanged}; run again in a minute"
            )
        if code >= 500:
            return RemoteError(
                f"Google Sheets failed{tries} (HTTP {code}: {message or 'server error'})"
                f"{unchanged}; run again later"
            )
        return RemoteError(f"{self.label}: Google Sheets refused: {message} (HTTP {code})")

    def _forbidden(self, message: str, *, writing: bool) -> RemoteError:
        email = self.account.email
        if "has not been used in project" in message or "is disabled" in message:
            found = _PROJECT.search(message)
            project = found.group(1) if found else self.account.project_id
            return RemoteError(
                f"the Google Sheets API is not enabled for project {project}: enable it at "
                "https://console.cloud.google.com/apis/library/sheets.googleapis.com"
                f"?project={project} and run again a few minutes later"
            )
        if "scope" in message.lower():
            return RemoteError(f"{self.label}: Google Sheets refused: {message}")
        if writing:
            return RemoteError(
                f"{self.label}: the service account {email} may read this sheet but not "
                f"change it; share the sheet with {email} as Editor; nothing was written"
            )
        return RemoteError(
            f"{self.label} is not shared with the service account: share the sheet with "
            f"{email} as Editor"
        )


def _auth_reason(error: RefreshError) -> str:
    text = str(error.args[0]) if error.args else str(error)
    return text.rstrip(".") or "refused"


def _short(error: BaseException) -> str:
    text = str(error)
    return text if len(text) <= 160 else text[:157] + "..."


def open_sheet(
    target: str,
    *,
    key_file: str,
    env: Mapping[str, str],
    timeout: float = DEFAULT_TIMEOUT,
    retry: RetryPolicy | None = None,
) -> GoogleSheetsBackend:
    """The backend for a Google Sheets URL or key, with the configured credentials."""
    return GoogleSheetsBackend(
        sheet_key(target),
        key_file=key_file_for(key_file, env),
        endpoint=_endpoint(env),
        timeout=timeout,
        retry=retry,
        label=target.strip() if "://" in target else None,
    )


# --- Planning a write ------------------------------------------------------------------------

Cell = tuple[int, int]


@dataclass
class _Plan:
    """One TabChanges turned into ranges to write, once the rows are found again."""

    label: str
    loaded: _Loaded
    change: TabChanges
    tab: _Tab | None = None
    #: (row, column) -> value, where it is written: rows already moved to where they are now.
    writes: dict[Cell, CellValue] = field(default_factory=dict)
    #: Original row -> the row it is in now.
    mapping: dict[int, int] = field(default_factory=dict)
    moved: bool = False
    #: Rows a person added below the ones read (found when appending).
    rows_added_meanwhile: bool = False
    formula_ids: bool = False
    #: Cells as they are now, read with FORMULA rendering, at the rows being written.
    current: dict[Cell, Any] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    first_appended: int = 0
    appended: int = 0
    grid_rows: int = 0
    grid_columns: int = 0

    def __post_init__(self) -> None:
        self.tab = self.loaded.find(self.change.tab)
        self._last_row_now = len(self.rows)

    @property
    def rows(self) -> list[list[RawValue]]:
        return self.loaded.grids.get(self.tab.title, []) if self.tab else []

    @property
    def undisturbed(self) -> bool:
        return not (self.moved or self.rows_added_meanwhile)

    def check_target(self) -> None:
        change = self.change
        if self.tab is None and not change.create:
            raise SheetError(f"{self.label} has no tab named {change.tab!r}")
        if self.tab is not None and not self.tab.grid:
            raise SheetError(f"{self.label}: {self.tab.title!r} is a chart, not a tab of cells")
        for cell in change.cells:
            if cell.row < 1 or cell.column < 1:
                raise SheetError(
                    f"{self.label}: row {cell.row}, column {cell.column} is outside {change.tab!r}"
                )

    # -- the re-check read

    def check_ranges(self) -> list[str]:
        """Ranges to read again before writing: header row, ID column, cells, the end."""
        if self.tab is None:
            return []
        ranges = [self._header_range()]
        if self._needs_ids():
            ranges.append(self.id_range())
        ranges += self.span_ranges()
        if self._reads_tail():
            ranges.append(f"{_quote(self.tab.title)}!A{len(self.rows) + 1}:{self._last_letter()}")
        return ranges

    def _reads_tail(self) -> bool:
        """Whether to look below the rows read for rows added since (when appending)."""
        assert self.tab is not None
        return bool(self.change.append_rows) and len(self.rows) < self.tab.rows_in_grid

    def _needs_ids(self) -> bool:
        return bool(self.change.cells and self.change.id_column)

    def _header_range(self) -> str:
        assert self.tab is not None
        row = self.change.header_row
        return f"{_quote(self.tab.title)}!A{row}:{self._last_letter()}{row}"

    def _last_letter(self) -> str:
        assert self.tab is not None
        width = max(
            self.tab.columns_in_grid,
            max((len(row) for row in self.rows), default=0),
            1,
        )
        return col_letter(width)

    def id_range(self) -> str:
        assert self.tab is not None and self.change.id_column
        letter = col_letter(self.change.id_column)
        return f"{_quote(self.tab.title)}!{letter}:{letter}"

    def span_ranges(self) -> list[str]:
        """Per written column, the rows from its first to its last cell (where they are)."""
        assert self.tab is not None
        return [
            f"{_quote(self.tab.title)}!{col_letter(column)}{first}:{col_letter(column)}{last}"
            for column, first, last in self._spans()
        ]

    def _spans(self) -> list[tuple[int, int, int]]:
        """(column, first row, last row) of the cells to write, inside the grid: outside
        it there is nothing to look at (and Google refuses to read there)."""
        assert self.tab is not None
        columns: dict[int, list[int]] = {}
        for cell in self.change.cells:
            columns.setdefault(cell.column, []).append(self.mapping.get(cell.row, cell.row))
        height, width = self.tab.rows_in_grid, self.tab.columns_in_grid
        return [
            (column, min(rows), min(max(rows), height))
            for column, rows in sorted(columns.items())
            if column <= width and min(rows) <= height
        ]

    def checked(self, found: list[list[list[Any]]]) -> None:
        """Take the re-check read: refuse when the headers moved, find the rows again."""
        assert self.tab is not None
        found = list(found)
        self._check_header(found.pop(0))
        ids = (
            [_id_text(row[0] if row else None) for row in found.pop(0)]
            if self._needs_ids()
            else None
        )
        # The cells were read where they were; take them before the rows are mapped.
        self.spans_read([found.pop(0) for _ in self.span_ranges()])
        if ids is not None:
            self.formula_ids = any(text.startswith("=") for text in ids)
            if not self.formula_ids:
                self.map_rows(ids)
        if self._reads_tail():
            tail = found.pop(0)
            if tail:
                self.rows_added_meanwhile = True
                self._last_row_now = len(self.rows) + len(tail)

    def _check_header(self, values: list[list[Any]]) -> None:
        assert self.tab is not None
        now = list(values[0]) if values else []
        row = self.change.header_row
        before = self.rows[row - 1] if row <= len(self.rows) else []
        width = max(len(now), len(before))
        for column in range(width):
            new = now[column] if column < len(now) else None
            old = before[column] if column < len(before) else None
            if isinstance(new, str) and new.startswith("="):
                continue  # a header made by a formula reads as its formula here
            if _id_text(new) != _id_text(old):
                raise BusyError(
                    f"{self.label}: the headers of {self.tab.title!r} changed while sheetfollow "
                    "worked (a column was added, moved or renamed); nothing was written; "
                    "run again"
                )

    def map_rows(self, ids: list[str]) -> None:
        """Where each row to write is now, by its ID; BusyError when that is unclear."""
        assert self.tab is not None
        title = self.tab.title
        positions: dict[str, list[int]] = {}
        for number, text in enumerate(ids, start=1):
            if text and number > self.change.header_row:
                positions.setdefault(text, []).append(number)
        by_id: dict[str, list[int]] = {}
        for row, text in self.change.expected_ids.items():
            by_id.setdefault(text.strip(), []).append(row)
        mapping: dict[int, int] = {}
        for text, rows in by_id.items():
            now = positions.get(text, [])
            if sorted(rows) == now:
                mapping.update({row: row for row in rows})
            elif len(rows) == 1 and len(now) == 1:
                mapping[rows[0]] = now[0]
            elif not now:
                raise BusyError(
                    f"{self.label}: ID {text!r} (row {rows[0]} of {title!r}) is gone: someone "
                    "deleted the row or changed its ID while sheetfollow worked; nothing was "
                    "written; run again"
                )
            else:
                where = ", ".join(str(n) for n in now)
                raise BusyError(
                    f"{self.label}: ID {text!r} is now in rows {where} of {title!r}; nothing "
                    "was written; give each prospect its own ID and run again"
                )
        self.moved = any(new != old for old, new in mapping.items())
        self._map_rows_without_id(mapping, ids)
        self.mapping = mapping

    def _map_rows_without_id(self, mapping: dict[int, int], ids: list[str]) -> None:
        # A row that had no ID moves with the rows around it. When those moved apart, or
        # its place now holds an ID, there is no safe place to write it.
        assert self.tab is not None
        anchors = sorted(mapping)
        for row in sorted({cell.row for cell in self.change.cells} - set(mapping)):
            if row <= self.change.header_row:
                continue
            at = bisect.bisect(anchors, row)
            shifts = {
                mapping[anchors[i]] - anchors[i] for i in (at - 1, at) if 0 <= i < len(anchors)
            }
            target = row + (min(shifts) if shifts else 0)
            taken = target <= len(ids) and ids[target - 1] != ""
            if len(shifts) > 1 or taken:
                raise BusyError(
                    f"{self.label}: rows of {self.tab.title!r} were moved while sheetfollow "
                    f"worked, and row {row} has no ID to find it by; nothing was written; "
                    "run again"
                )
            mapping[row] = target

    def spans_read(self, spans: list[list[list[Any]]]) -> None:
        self.current.clear()
        for (column, first, _), values in zip(self._spans(), spans, strict=True):
            for offset, row in enumerate(values):
                if row:
                    self.current[(first + offset, column)] = row[0]

    # -- placing the cells

    def place(self, last_rows: dict[str, int]) -> None:
        """Every cell where it goes now; appended rows below the last row there is."""
        change = self.change
        for column, text in change.new_headers.items():
            self.writes[(change.header_row, column)] = text
        for cell in change.cells:
            row = self.mapping.get(cell.row, cell.row)
            now = self.current.get((row, cell.column))
            if isinstance(now, str) and now.startswith("="):
                self.skipped.append(
                    f"{self._tab_title()}!{col_letter(cell.column)}{row} holds a formula; "
                    "left as it is"
                )
                continue
            self.writes[(row, cell.column)] = cell.value
        if change.append_rows:
            key = self._tab_title().casefold()
            filled = [row for (row, _), value in self.writes.items() if value not in (None, "")]
            last = max([last_rows.get(key, 0), self._last_row_now, *filled])
            self.first_appended = last + 1
            for offset, values in enumerate(change.append_rows):
                if any(value not in (None, "") for value in values):
                    self.appended += 1
                for column, value in enumerate(values, start=1):
                    if value not in (None, ""):
                        self.writes[(self.first_appended + offset, column)] = value
            last_rows[key] = self.first_appended + len(change.append_rows) - 1

    def _tab_title(self) -> str:
        return self.tab.title if self.tab else self.change.tab

    def new_tab_properties(self, sheet_id: int) -> dict[str, Any]:
        rows, columns = self.grid_needed()
        return {
            "sheetId": sheet_id,
            "title": self.change.tab,
            "hidden": self.change.hidden,
            "gridProperties": {
                "rowCount": max(_NEW_TAB_ROWS, rows),
                "columnCount": max(_NEW_TAB_COLUMNS, columns),
            },
        }

    def grid_needed(self) -> tuple[int, int]:
        rows = max((row for row, _ in self.writes), default=0)
        columns = max((column for _, column in self.writes), default=0)
        return rows, columns

    def grid_requests(self) -> list[dict[str, Any]]:
        assert self.tab is not None
        rows, columns = self.grid_needed()
        asks = []
        for dimension, needed, have in (
            ("ROWS", rows, self.tab.rows_in_grid),
            ("COLUMNS", columns, self.tab.columns_in_grid),
        ):
            if needed > have:
                asks.append(
                    {
                        "appendDimension": {
                            "sheetId": self.tab.sheet_id,
                            "dimension": dimension,
                            "length": needed - have,
                        }
                    }
                )
        return asks

    def grid_grown(self) -> None:
        assert self.tab is not None
        rows, columns = self.grid_needed()
        self.tab.rows_in_grid = max(self.tab.rows_in_grid, rows)
        self.tab.columns_in_grid = max(self.tab.columns_in_grid, columns)

    def format_requests(self) -> list[dict[str, Any]]:
        """A date format for date cells that do not hold a number (and so show no date)."""
        assert self.tab is not None
        wanted: dict[tuple[int, str], list[int]] = {}
        for (row, column), value in self.writes.items():
            if not isinstance(value, date):
                continue
            now = self.current.get((row, column))
            if isinstance(now, (int, float)) and not isinstance(now, bool):
                continue  # a number already: shown as the date it is, in the sheet's format
            kind = "DATE_TIME" if isinstance(value, datetime) else "DATE"
            wanted.setdefault((column, kind), []).append(row)
        asks = []
        for (column, kind), rows in sorted(wanted.items()):
            for first, last in _runs(rows):
                asks.append(
                    {
                        "repeatCell": {
                            "range": {
                                "sheetId": self.tab.sheet_id,
                                "startRowIndex": first - 1,
                                "endRowIndex": last,
                                "startColumnIndex": column - 1,
                                "endColumnIndex": column,
                            },
                            "cell": {"userEnteredFormat": {"numberFormat": {"type": kind}}},
                            "fields": "userEnteredFormat.numberFormat",
                        }
                    }
                )
        return asks

    def value_ranges(self) -> list[dict[str, Any]]:
        """One range per run of rows in a column; appended rows as one block."""
        title = _quote(self._tab_title())
        out: list[dict[str, Any]] = []
        block = range(self.first_appended, self.first_appended + len(self.change.append_rows))
        header = self.change.header_row
        headers = sorted(
            c for (r, c) in self.writes if r == header and c in self.change.new_headers
        )
        for first, last in _runs(headers):
            values = [[_json(self.writes[(header, c)]) for c in range(first, last + 1)]]
            out.append(
                {
                    "range": f"{title}!{col_letter(first)}{header}:{col_letter(last)}{header}",
                    "majorDimension": "ROWS",
                    "values": values,
                }
            )
        columns: dict[int, list[int]] = {}
        for row, column in self.writes:
            if row in block or (row == header and column in self.change.new_headers):
                continue
            columns.setdefault(column, []).append(row)
        for column, rows in sorted(columns.items()):
            letter = col_letter(column)
            for first, last in _runs(rows):
                values = [[_json(self.writes[(r, column)])] for r in range(first, last + 1)]
                out.append(
                    {
                        "range": f"{title}!{letter}{first}:{letter}{last}",
                        "majorDimension": "ROWS",
                        "values": values,
                    }
                )
        if self.change.append_rows:
            width = max(1, max(len(values) for values in self.change.append_rows))
            rows_ = [
                [_json(values[c]) if c < len(values) else "" for c in range(width)]
                for values in self.change.append_rows
            ]
            out.append(
                {
                    "range": f"{title}!A{block.start}:{col_letter(width)}{block.stop - 1}",
                    "majorDimension": "ROWS",
                    "values": rows_,
                }
            )
        return out

    def remember(self) -> None:
        """Put what was written into the cached grid, as a read would now return it."""
        title = self._tab_title()
        # A new grid: tables handed out before keep the rows they were read with.
        grid = [list(row) for row in self.loaded.grids.get(title, [])]
        self.loaded.grids[title] = grid
        for (row, column), value in self.writes.items():
            while len(grid) < row:
                grid.append([])
            cells = grid[row - 1]
            while len(cells) < column:
                cells.append(None)
            cells[column - 1] = _raw(_json(value))
        while grid and not any(value is not None for value in grid[-1]):
            grid.pop()


def _free_sheet_ids(in_use: set[int], count: int) -> list[int]:
    """IDs for new tabs: at random below 2**31, as Google picks them, avoiding those in use;
    drawn from those, so the same sheet gets the same ones."""
    pick = random.Random(",".join(str(sheet_id) for sheet_id in sorted(in_use)))
    ids: list[int] = []
    while len(ids) < count:
        candidate = pick.randrange(1, 2**31)
        if candidate not in in_use and candidate not in ids:
            ids.append(candidate)
    return ids


def _has_work(change: TabChanges) -> bool:
    return bool(change.cells or change.new_headers or change.append_rows or change.create)


def _result(plans: Sequence[_Plan]) -> WriteResult:
    return WriteResult(
        cells_written=sum(len(plan.writes) for plan in plans),
        rows_appended=sum(plan.appended for plan in plans),
        skipped=tuple(message for plan in plans for message in plan.skipped),
    )


# --- Values ----------------------------------------------------------------------------------


def _json(value: CellValue) -> str | int | float | bool:
    """A value as the API takes it with RAW input: dates as serial numbers, None as ""."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        moment = value.replace(tzinfo=None)
        delta = moment - datetime.combine(EPOCH_1900, datetime.min.time())
        return delta.days + delta.seconds / 86400
    if isinstance(value, date):
        return (value - EPOCH_1900).days
    return value


def _raw(value: object) -> RawValue:
    """A value of a values response as a Table holds it."""
    if value == "" or value is None:
        return None
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _rows(values: list[list[Any]]) -> list[list[RawValue]]:
    return [[_raw(value) for value in row] for row in values]


def _id_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value).strip()


def _runs(numbers: Sequence[int]) -> list[tuple[int, int]]:
    """[2, 3, 4, 7, 9, 10] -> [(2, 4), (7, 7), (9, 10)]."""
    runs: list[tuple[int, int]] = []
    for number in sorted(set(numbers)):
        if runs and number == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], number)
        else:
            runs.append((number, number))
    return runs


def _quote(title: str) -> str:
    """A tab name as A1 notation needs it: 'Sales ''24'."""
    return "'" + title.replace("'", "''") + "'"
