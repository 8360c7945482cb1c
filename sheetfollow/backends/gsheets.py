"""The Google Sheets backend: a spreadsheet read and written through the Sheets API v4.

A run costs a fixed number of requests whatever the row count. Reading: the spreadsheet's
metadata, then a tab's values when a command first asks for it, in one batchGet with every
small tab not read yet (so Prospects and Owners come together, and a big Log only when a
command needs it); all cached for the backend's life. Writing:

1. one batchGet that re-reads the header rows, the ID column and the cells to be written;
2. one spreadsheets:batchUpdate, only when tabs must be made (addSheet, with a sheetId of
   our choosing so that later requests of the batch can refer to it) or rows, columns or
   date formats must be added (one repeatCell per date column and run, not per cell);
3. one values:batchUpdate (RAW) with one range per run of cells in a column, the rows of a
   tab made in step 2 included;
4. one batchGet of the ID column, to see that every cell landed on the row it was meant
   for (see _verify);
5. one values:append (INSERT_ROWS) per tab that gets rows (the Log, the hidden tabs, new
   prospects), and one batchUpdate for the date formats of the rows appended to a tab
   people look at.

The values API has no conditional write. Rows a person inserted, deleted or sorted between
our read and our write are found again by their ID; when that cannot be done safely,
nothing is written. Requests that fail on the way (429, 5xx, a dropped connection, no
answer in time) are tried again a few times with growing pauses, within a deadline for
all the waiting of a command. A failure before step 3 writes nothing; the appends come
last, the touch snapshot (the mark of a change written) after the Log.
"""

from __future__ import annotations

import bisect
import json
import math
import random
import re
import time
import weakref
from collections import Counter
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

from sheetfollow.errors import (
    BusyError,
    ConfigError,
    RemoteError,
    SheetError,
    SheetfollowError,
)
from sheetfollow.schema import col_letter
from sheetfollow.secrets import read_private_file
from sheetfollow.sheet import (
    EPOCH_1900,
    CellValue,
    RawValue,
    TabChanges,
    Table,
    WriteResult,
)

__all__ = [
    "API_ROOT",
    "CREDENTIALS_ENV",
    "DEFAULT_DEADLINE",
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
#: Tabs whose grid is this small are read along with the first tab asked for (Owners, a
#: young Log: a new tab's grid, grown by a thousand appended rows), so that a command reads
#: them in one request; bigger ones only when asked for.
_SMALL_TAB_CELLS = 2 * _NEW_TAB_ROWS * _NEW_TAB_COLUMNS
#: Seconds a backend may spend waiting for Google in all, retries and pauses included.
DEFAULT_DEADLINE = 120.0
#: What a values read gives for a cell whose formula fails (the text the cell shows; the
#: values API has no other way to say it). Read as an empty cell, as from an Excel file.
_ERROR_TEXTS = frozenset(
    {"#N/A", "#REF!", "#NAME?", "#DIV/0!", "#VALUE!", "#NUM!", "#NULL!", "#ERROR!"}
)

_URL = re.compile(r"https?://docs\.google\.com/spreadsheets/(?:u/\d+/)?d/([A-Za-z0-9_-]+)")
_KEY = re.compile(r"[A-Za-z0-9_-]{30,}")
_METADATA_FIELDS = (
    "properties(title,locale,timeZone),"
    "sheets(properties(sheetId,title,index,sheetType,hidden,gridProperties(rowCount,columnCount)))"
)
_PROJECT = re.compile(r"project[ =]([A-Za-z0-9-]+)")
#: The first row of an A1 range in an answer: "'Log'!A8:H9" -> 8.
_FIRST_ROW = re.compile(r"!\$?[A-Za-z]*\$?(\d+)")

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
    """A request failed for good: its last answer or error, and how often it was tried.
    `late`: it was given up because the backend's deadline was reached."""

    def __init__(
        self,
        tries: int,
        error: APIError | None = None,
        cause: BaseException | None = None,
        *,
        late: bool = False,
    ) -> None:
        super().__init__(str(error or cause or "out of time"))
        self.tries = tries
        self.error = error
        self.cause = cause
        self.late = late

    @property
    def maybe_done(self) -> bool:
        """Whether Google may have done the request even so (the answer was lost)."""
        if self.error is not None:
            return self.error.code >= 500
        return isinstance(self.cause, (requests.ConnectionError, requests.Timeout))


class _AlreadyDone(Exception):
    """A request whose answer was lost turned out to have been done: not sent again."""


class _Http(HTTPClient):
    """gspread's HTTP client with a bounded retry of the failures that pass, and a deadline
    for all the waiting on Google a backend does."""

    retry: RetryPolicy = RetryPolicy()
    #: Seconds a backend may spend waiting for Google in all (answers and pauses between
    #: tries together); None: no limit.
    deadline: float | None = None
    #: Seconds spent waiting so far.
    spent: float = 0.0
    #: Every request sent, retries included (for the request budget of a run).
    sent: int = 0
    #: For a request that must not be done twice (an append): after a failure that may have
    #: been done after all, this tells whether it was; then it is not sent again.
    done_already: Callable[[], bool] | None = None

    def left(self) -> float | None:
        return None if self.deadline is None else self.deadline - self.spent

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
            left = self.left()
            if left is not None and left <= 0:
                raise _GaveUp(attempt - 1, late=True)
            timeout = self.timeout
            if left is not None:
                timeout = left if timeout is None else min(timeout, left)
            retry_after = None
            started = time.monotonic()
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
                    timeout=timeout,
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
            finally:
                self.spent += time.monotonic() - started
            self._unless_done(failure)
            pause = policy.delay(attempt, retry_after)
            if attempt == policy.tries or waited + pause > policy.max_total:
                raise failure
            left = self.left()
            if left is not None and pause >= left:
                failure.late = True
                raise failure
            policy.sleep(pause)
            waited += pause
            self.spent += pause
        raise AssertionError("unreachable: the last try returns or raises")

    def _unless_done(self, failure: _GaveUp) -> None:
        check = self.done_already
        if check is None or not failure.maybe_done:
            return
        self.done_already = None  # the check's own requests are plain ones
        try:
            if check():
                raise _AlreadyDone
        finally:
            self.done_already = check


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

    @property
    def small(self) -> bool:
        """A grid no bigger than a new tab's: cheap enough to read along with another."""
        return self.grid and self.rows_in_grid * self.columns_in_grid <= _SMALL_TAB_CELLS


@dataclass
class _Loaded:
    title: str
    tabs: list[_Tab]
    #: Values of the tabs read so far, by title, as the API returned them ("" read as None).
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
        deadline: float | None = DEFAULT_DEADLINE,
    ) -> None:
        self.key = key
        #: The sheet as the user named it (its URL), for messages and emails.
        self.label = label or sheet_url(key)
        self.account, credentials = load_service_account(key_file)
        self.timeout = timeout
        self.deadline = deadline
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
        http.deadline = deadline
        self._http = http
        self._loaded: _Loaded | None = None
        #: Set while a write is under way: a failure then means nothing was written...
        self._writing = False
        #: ... unless part of it was written already.
        self._wrote = False

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
        """The tab's values, read when first asked for (with the small tabs not read yet)."""
        if not tab:
            return None
        loaded = self._load()
        found = loaded.find(tab)
        if found is None:
            return None
        self._read_values([found])
        return Table(tab=found.title, rows=loaded.grids.get(found.title, []), epoch=EPOCH_1900)

    def release(self, tab: str) -> bool:
        """Kept: reading a tab again is a request to Google."""
        return False

    def access(self) -> Access:
        """The service account in use, and whether the sheet opens with it."""
        account, key_file = self.account.email, str(self.account.key_file)
        try:
            loaded = self._load()
        except (RemoteError, SheetError) as error:
            return Access(account, key_file, "", error)
        return Access(account, key_file, loaded.title)

    def _load(self) -> _Loaded:
        """The spreadsheet's title and tabs (one request); values come with read_tab."""
        if self._loaded is None:
            meta = self._metadata()
            tabs = [_Tab.from_json(sheet) for sheet in meta.get("sheets", [])]
            title = str(meta.get("properties", {}).get("title", ""))
            self._loaded = _Loaded(title, tabs, {})
        return self._loaded

    def _metadata(self) -> Mapping[str, Any]:
        return self._call(
            lambda: self._http.fetch_sheet_metadata(
                self.key, params={"includeGridData": "false", "fields": _METADATA_FIELDS}
            )
        )

    def _read_values(self, tabs: Sequence[_Tab]) -> None:
        """Read the values of these tabs in one request, with every tab not read yet that
        is small or hidden: a command that asks for Prospects, then for Owners and for the
        touch snapshots (hidden: sheetfollow's own, read by nearly every command) costs
        one. A big Log is read only by the commands that ask for it."""
        loaded = self._load()
        wanted = [tab for tab in tabs if tab.grid and tab.title not in loaded.grids]
        if not wanted:
            return
        wanted += [
            tab
            for tab in loaded.tabs
            if (tab.small or (tab.hidden and tab.grid))
            and tab.title not in loaded.grids
            and tab not in wanted
        ]
        with self._busy_if_tabs_vanished():
            loaded.grids.update(self._values(wanted))

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
        """Write all changes: re-check the rows by ID, write the cells, check they landed
        on the rows meant (and put right what did not), then append the new rows.

        `force` changes nothing here: a sheet that moved underneath is never written blind.
        Raises BusyError when rows cannot be found again by their ID (nothing written), or
        when rows moved while the cells were on their way and it cannot be told for sure
        where they went (the message names the cells to check; nothing is appended).
        """
        if not any(_has_work(change) for change in changes):
            return WriteResult(0, 0)
        loaded = self._load()
        # What a write is checked against is the tab as read: read it if nobody did.
        self._read_values([tab for c in changes if (tab := loaded.find(c.tab)) is not None])
        plans = [_Plan(self.label, loaded, change) for change in changes]
        for plan in plans:
            plan.check_target()
        self._writing, self._wrote = True, False
        try:
            self._write(loaded, plans)
        finally:
            self._writing = False
        return _result(plans)

    def _write(self, loaded: _Loaded, plans: list[_Plan]) -> None:
        """The order matters. The cells go first, in one request; they are checked before
        anything is appended. The appends go last, in the order of the changes, so that the
        touch snapshot (the last change a command stages) is written only when the rest is
        in: it is how the next run tells that a change kept in the journal was written."""
        self._recheck(plans)
        for plan in plans:
            plan.place()
        if not any(plan.writes or plan.tab is None or plan.append_rows for plan in plans):
            return
        self._prepare(loaded, plans)
        data = [item for plan in plans for item in plan.value_ranges()]
        if data:
            self._write_values(data)
        self._verify(plans)
        for plan in plans:
            self._append(plan)
        self._format_appended(plans)
        if all(plan.undisturbed for plan in plans):
            for plan in plans:
                plan.remember()
        else:
            self._loaded = None  # others changed the sheet too: read it afresh next time

    def _write_values(self, data: list[dict[str, Any]]) -> None:
        body = {"valueInputOption": "RAW", "data": data}
        self._call(lambda: self._http.values_batch_update(self.key, body))
        self._wrote = True

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
            plan.map_rows([_id_text(_raw(row[0]) if row else None) for row in values[0]])
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
                done = "part of the change was written" if self._wrote else "nothing was written"
                raise BusyError(
                    f"{self.label}: a tab was renamed or deleted while sheetfollow worked; "
                    f"{done}; run again"
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
        adds, chosen = [], {}
        for plan, sheet_id in zip(new, _free_sheet_ids(in_use, len(new)), strict=True):
            properties = plan.new_tab_properties(sheet_id)
            adds.append({"addSheet": {"properties": properties}})
            plan.tab = _Tab.from_json({"properties": properties})
            chosen[plan.change.tab] = sheet_id
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
            # did meanwhile. Ours is known by the sheetId chosen for it; then the rest of
            # the batch once more, with the tabs still missing.
            self._prepare(loaded, plans, taken=self._adopt_tabs(loaded, new, chosen))
            return
        replies = answer.get("replies", [])[: len(new)]
        for plan, reply in zip(new, replies, strict=True):
            plan.tab = _Tab.from_json(reply.get("addSheet", {}))
            loaded.tabs.append(plan.tab)
            loaded.grids[plan.tab.title] = []
        for plan in plans:
            plan.grid_grown()

    def _adopt_tabs(self, loaded: _Loaded, plans: list[_Plan], chosen: dict[str, int]) -> set[int]:
        """Take the tabs of these plans' names that our own lost try made; the IDs in use.

        A tab of that name that someone else made meanwhile is not used: they may be
        writing its first rows at the very places this write would, so nothing is written
        (BusyError) and the next run appends to it instead."""
        now = _Loaded(
            loaded.title, [_Tab.from_json(s) for s in self._metadata().get("sheets", [])], {}
        )
        # Grids as they are now: a lost try may have grown them already.
        sizes = {tab.sheet_id: tab for tab in now.tabs}
        for known in loaded.tabs:
            if (fresh := sizes.get(known.sheet_id)) is not None:
                known.rows_in_grid = fresh.rows_in_grid
                known.columns_in_grid = fresh.columns_in_grid
        for plan in plans:
            tab = now.find(plan.change.tab)
            if tab is None:
                continue
            if tab.sheet_id != chosen[plan.change.tab]:
                raise BusyError(
                    f"{self.label}: the tab {tab.title!r} was created by someone else while "
                    "sheetfollow worked; nothing was written; run again"
                )
            plan.tab = tab
            loaded.tabs.append(tab)
            loaded.grids[tab.title] = []
        return set(sizes)

    # ------------------------------------------------------------------ after the cells

    # Rows a person inserts, deletes or sorts between the re-check and the moment Google
    # applies the write move the cells onto other prospects: the values API has no
    # conditional write. Two ways out were weighed. Developer metadata on every row
    # (createDeveloperMetadata on a ROWS range moves with its row through inserts and
    # sorts) with values:batchUpdateByDataFilter would write by row identity, but it
    # needs a metadata entry per prospect, created once and kept in step as rows are added
    # (100,000 entries on a big sheet, each write range a DataFilter of its own). Instead
    # the ID column is read again right after the write: one request of one column. When
    # the IDs stand where they stood at the re-check, every cell landed where it was meant
    # to (by far the usual case). When they moved, the cells are read where each row is
    # now and where it was: values that landed on another row are put back to what that
    # row held, and written again where their row is now; when that cannot be told for
    # sure, BusyError says so and the command keeps its change in the journal.

    def _verify(self, plans: list[_Plan]) -> None:
        todo = [plan for plan in plans if plan.verifies]
        for render in ("FORMULA", "UNFORMATTED_VALUE"):
            group = [plan for plan in todo if plan.id_render == render]
            for plan, values in self._read_for(group, lambda p: [p.id_range()], render):
                if not plan.landed(_id_column(values[0])):
                    self._repair(plan)

    def _repair(self, plan: _Plan) -> None:
        """Cells of this plan landed on other rows (or their rows moved after the write):
        find out which, put them right, or raise BusyError."""
        found = self._read_for([plan], lambda p: [p.id_range(), *p.column_ranges()], "FORMULA")
        [(_, columns)] = found
        ids = _id_column(columns[0])
        if plan.id_render != "FORMULA":
            [(_, again)] = self._read_for([plan], lambda p: [p.id_range()], plan.id_render)
            ids = _id_column(again[0])
        fixes = plan.reconcile(ids, columns[1:])
        plan.shifted = True  # the cached grid has the rows where they were
        if not fixes:
            return
        formats = plan.format_requests_for(fixes)
        if formats:
            self._call(lambda: self._http.batch_update(self.key, {"requests": formats}))
        self._write_values(plan.ranges_for(fixes))
        [(_, after)] = self._read_for([plan], lambda p: [p.id_range()], plan.id_render)
        if not plan.unmoved(plan.ids_after(ids, fixes), _id_column(after[0])):
            raise BusyError(
                f"{self.label}: rows of {plan.tab_title!r} kept moving while sheetfollow "
                f"wrote; check {plan.repair_note()}; the change is not complete; run again"
            )
        plan.skipped.append(plan.repair_warning())

    def _append(self, plan: _Plan) -> None:
        """Append the plan's new rows below the last row of its tab: Google finds that row
        and adds the rows in one step (values:append, INSERT_ROWS), so rows that others
        append at the same time never take the same place. Not idempotent: when an answer
        is lost, the rows are looked for before they are sent again."""
        if not plan.appended or plan.created:
            return
        params: ParamsType = {"valueInputOption": "RAW", "insertDataOption": "INSERT_ROWS"}
        body = {"majorDimension": "ROWS", "values": plan.append_values()}
        where = plan.append_range()

        def find() -> bool:
            try:
                found = self._read_for([plan], lambda p: [p.tail_range()], "UNFORMATTED_VALUE")
            except RemoteError as error:
                if "exceeds grid limits" in str(error):
                    return False  # no row below those read: nothing was appended
                raise
            return plan.find_appended(found[0][1][0])

        self._http.done_already = find
        try:
            answer = self._call(lambda: self._http.values_append(self.key, where, params, body))
        except _AlreadyDone:
            self._wrote = True
            return
        finally:
            self._http.done_already = None
        self._wrote = True
        plan.appended_at_range(str(answer.get("updates", {}).get("updatedRange", "")))

    def _format_appended(self, plans: list[_Plan]) -> None:
        """A date format for the dates in the rows just appended to a tab people look at,
        now that it is known where they went (hidden tabs are read by sheetfollow only)."""
        asks = [ask for plan in plans for ask in plan.appended_format_requests()]
        if asks:
            self._call(lambda: self._http.batch_update(self.key, {"requests": asks}))

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
        unchanged = ""
        if self._writing:
            unchanged = (
                "; part of the change was written" if self._wrote else "; nothing was written"
            )
        tries = f" after {failure.tries} tries" if failure.tries > 1 else ""
        cause = failure.cause
        if failure.late:
            return RemoteError(
                f"Google Sheets did not answer within {self.deadline:g} seconds in all{tries}"
                f"{unchanged}; run again later"
            )
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
    deadline: float | None = DEFAULT_DEADLINE,
) -> GoogleSheetsBackend:
    """The backend for a Google Sheets URL or key, with the configured credentials."""
    return GoogleSheetsBackend(
        sheet_key(target),
        key_file=key_file_for(key_file, env),
        endpoint=_endpoint(env),
        timeout=timeout,
        retry=retry,
        label=target.strip() if "://" in target else None,
        deadline=deadline,
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
    #: Whether this write makes the tab: its rows then go in place, below its headers.
    created: bool = False
    #: (row, column) -> value, where it is written: rows already moved to where they are now.
    #: Rows appended to a tab that exists are not here: Google places those.
    writes: dict[Cell, CellValue] = field(default_factory=dict)
    #: Original row -> the row it is in now.
    mapping: dict[int, int] = field(default_factory=dict)
    moved: bool = False
    formula_ids: bool = False
    #: The ID column at the re-check: as text (index 0 is row 1), and the cells as read.
    ids_checked: list[str] = field(default_factory=list)
    id_cells: list[Any] = field(default_factory=list)
    #: Cells as they are now, read with FORMULA rendering, at the rows being written...
    current: dict[Cell, Any] = field(default_factory=dict)
    #: ... from the first to the last row of each column (empty cells are left out).
    spans: dict[int, tuple[int, int]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    appended: int = 0
    #: The row the first appended row went to, once known.
    first_appended: int = 0
    #: Others appended rows to the tab since it was read: the cached grid is stale.
    others_appended: bool = False
    #: Rows moved between the re-check and the check after the write: stale too.
    shifted: bool = False
    #: Rows whose cells landed on another row and were written again (for the warning).
    repaired: list[str] = field(default_factory=list)
    #: Date cells written again by a repair, with their dates (for their format).
    _repair_dates: dict[Cell, CellValue] = field(default_factory=dict)
    _repair_cells: dict[Cell, Any] = field(default_factory=dict)
    _origins: dict[str, list[int]] | None = None

    def __post_init__(self) -> None:
        self.tab = self.loaded.find(self.change.tab)
        self.created = self.tab is None

    @property
    def rows(self) -> list[list[RawValue]]:
        return self.loaded.grids.get(self.tab.title, []) if self.tab else []

    @property
    def tab_title(self) -> str:
        return self.tab.title if self.tab else self.change.tab

    @property
    def append_rows(self) -> list[list[CellValue]]:
        return self.change.append_rows

    @property
    def undisturbed(self) -> bool:
        return not (self.moved or self.others_appended or self.shifted)

    @property
    def cells_written(self) -> int:
        if self.created:
            return len(self.writes)
        appended = sum(1 for row in self.append_rows for value in row if value not in (None, ""))
        return len(self.writes) + appended

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
        """Ranges to read again before writing: the header row, the ID column, the cells."""
        if self.tab is None:
            return []
        ranges = [self._header_range()]
        if self._needs_ids():
            ranges.append(self.id_range())
        ranges += self.span_ranges()
        return ranges

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
        ids = None
        if self._needs_ids():
            column = found.pop(0)
            self.id_cells = [row[0] if row else None for row in column]
            ids = _id_column(column)
        # The cells were read where they were; take them before the rows are mapped.
        self.spans_read([found.pop(0) for _ in self.span_ranges()])
        if ids is not None:
            self.formula_ids = any(text.startswith("=") for text in ids)
            if not self.formula_ids:
                self.map_rows(ids)

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
            if _id_text(_raw(new)) != _id_text(old):
                raise BusyError(
                    f"{self.label}: the headers of {self.tab.title!r} changed while sheetfollow "
                    "worked (a column was added, moved or renamed); nothing was written; "
                    "run again"
                )

    def map_rows(self, ids: list[str]) -> None:
        """Where each row to write is now, by its ID; BusyError when that is unclear."""
        assert self.tab is not None
        self.ids_checked = ids
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
        self.spans.clear()
        for (column, first, last), values in zip(self._spans(), spans, strict=True):
            self.spans[column] = (first, last)
            for offset, row in enumerate(values):
                if row:
                    self.current[(first + offset, column)] = row[0]

    # -- placing the cells

    def place(self) -> None:
        """Every cell where it goes now. The rows of a tab this write makes go right below
        its headers; rows appended to a tab that exists are placed by Google."""
        change = self.change
        for column, text in change.new_headers.items():
            self.writes[(change.header_row, column)] = text
        for cell in change.cells:
            row = self.mapping.get(cell.row, cell.row)
            now = self.current.get((row, cell.column))
            if isinstance(now, str) and now.startswith("="):
                self.skipped.append(
                    f"{self.tab_title}!{col_letter(cell.column)}{row} holds a formula; "
                    "left as it is"
                )
                continue
            self.writes[(row, cell.column)] = cell.value
        self.appended = sum(
            1 for values in change.append_rows if any(v not in (None, "") for v in values)
        )
        if change.append_rows and self.created:
            filled = [row for (row, _), value in self.writes.items() if value not in (None, "")]
            self.first_appended = max(filled, default=0) + 1
            for offset, values in enumerate(change.append_rows):
                for column, value in enumerate(values, start=1):
                    if value not in (None, ""):
                        self.writes[(self.first_appended + offset, column)] = value

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
        """Rows and columns the write needs. Appending to a tab adds rows by itself, but
        not columns."""
        rows = max((row for row, _ in self.writes), default=0)
        columns = max((column for _, column in self.writes), default=0)
        return rows, max(columns, self._append_width() if self.append_rows else 0)

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
        """A date format for the date cells written that do not hold a number yet."""
        assert self.tab is not None
        return _date_formats(self.tab.sheet_id, self.writes, self.current)

    def value_ranges(self) -> list[dict[str, Any]]:
        """One range per run of rows in a column; the rows of a new tab as one block."""
        title = _quote(self.tab_title)
        out: list[dict[str, Any]] = []
        size = len(self.append_rows) if self.created else 0
        block = range(self.first_appended, self.first_appended + size)
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
        cells = {
            (row, column): _json(value)
            for (row, column), value in self.writes.items()
            if row not in block and not (row == header and column in self.change.new_headers)
        }
        out += self.ranges_for(cells)
        if size:
            width = self._append_width()
            rows_ = [
                [_json(values[c]) if c < len(values) else "" for c in range(width)]
                for values in self.append_rows
            ]
            out.append(
                {
                    "range": f"{title}!A{block.start}:{col_letter(width)}{block.stop - 1}",
                    "majorDimension": "ROWS",
                    "values": rows_,
                }
            )
        return out

    def ranges_for(self, cells: Mapping[Cell, Any]) -> list[dict[str, Any]]:
        """Values as the API takes them, one range per run of rows in a column."""
        title = _quote(self.tab_title)
        columns: dict[int, list[int]] = {}
        for row, column in cells:
            columns.setdefault(column, []).append(row)
        out: list[dict[str, Any]] = []
        for column, rows in sorted(columns.items()):
            letter = col_letter(column)
            for first, last in _runs(rows):
                out.append(
                    {
                        "range": f"{title}!{letter}{first}:{letter}{last}",
                        "majorDimension": "ROWS",
                        "values": [[cells[(r, column)]] for r in range(first, last + 1)],
                    }
                )
        return out

    # -- after the write: did every cell land on its row?

    @property
    def verifies(self) -> bool:
        header = self.change.header_row
        return (
            not self.created and self._needs_ids() and any(row > header for row, _ in self.writes)
        )

    @property
    def id_render(self) -> str:
        return "UNFORMATTED_VALUE" if self.formula_ids else "FORMULA"

    def _height(self) -> int:
        return max(len(self.ids_checked), max((row for row, _ in self.writes), default=0))

    def _expected_ids(self) -> list[str]:
        """The ID column as the write leaves it, if every cell landed where it was sent."""
        ids = _padded(self.ids_checked, self._height())
        column = self.change.id_column
        for (row, col), value in self.writes.items():
            if col == column and row > self.change.header_row:
                ids[row - 1] = _id_text(value)
        return ids

    def landed(self, now: list[str]) -> bool:
        """Whether the IDs stand where they stood (rows added at the end aside): then no
        row moved between the re-check and the write, nor after it."""
        height = self._height()
        return _padded(now, height)[:height] == self._expected_ids()

    def unmoved(self, before: list[str], after: list[str]) -> bool:
        height = max(self._height(), len(before))
        return _padded(before, height)[:height] == _padded(after, height)[:height]

    def ids_after(self, ids: list[str], fixes: Mapping[Cell, Any]) -> list[str]:
        """The ID column `ids` with the repair's cells in it."""
        ids = _padded(ids, max((row for row, _ in fixes), default=0))
        for (row, column), value in fixes.items():
            if column == self.change.id_column:
                ids[row - 1] = _id_text(_raw(value))
        return ids

    def column_ranges(self) -> list[str]:
        """The written columns, whole (only read when rows moved)."""
        assert self.tab is not None
        title = _quote(self.tab.title)
        return [f"{title}!{col_letter(c)}:{col_letter(c)}" for c in self._written_columns()]

    def _written_columns(self) -> list[int]:
        return sorted({c for (r, c) in self.writes if r > self.change.header_row})

    def reconcile(self, now: list[str], columns: list[list[list[Any]]]) -> dict[Cell, Any]:
        """Compare the cells as they are now with where each row is now. Returns the cells
        to write: values that landed on another row, where their row is now, and what
        those other rows held, back in place. BusyError when that cannot be told."""
        header = self.change.header_row
        cells: dict[Cell, Any] = {}
        for column, values in zip(self._written_columns(), columns, strict=True):
            for number, line in enumerate(values, start=1):
                if line and line[0] not in (None, ""):
                    cells[(number, column)] = line[0]
        where = self._where_now(now)
        occupant = {place: row for row, place in where.items() if place is not None}
        fixes: dict[Cell, Any] = {}
        restores: dict[Cell, Any] = {}
        problems: list[str] = []
        for (row, column), value in sorted(self.writes.items()):
            if row <= header:
                continue
            wanted = _json(value)
            place = where.get(row)
            ref = f"{col_letter(column)}{row}"
            if place is None:
                problems.append(f"{ref}: its row cannot be found again")
                continue
            if place == row or _same(cells.get((place, column)), wanted):
                continue  # it landed on its row (which may have moved since)
            if not _same(cells.get((row, column)), wanted):
                problems.append(f"{ref}: changed by someone meanwhile")
                continue
            if column == self.change.id_column and cells.get((place, column)) not in (None, ""):
                problems.append(f"{ref}: the row it was meant for has an ID now")
                continue
            fixes[(place, column)] = wanted
            if isinstance(value, date):
                self._repair_dates[(place, column)] = value
            self.repaired.append(self._name(row))
            victim = occupant.get(row)
            if victim is None:
                problems.append(f"{ref}: landed on a row added meanwhile")
                continue
            if (victim, column) in self.writes:
                continue  # that row gets a value of its own from this write
            before = self._before(victim, column)
            if before is None:
                problems.append(f"{ref}: what {self._name(victim)} held there is not known")
            elif not _same(before, wanted):
                restores[(row, column)] = before
        if problems:
            raise BusyError(
                f"{self.label}: rows of {self.tab_title!r} moved while sheetfollow wrote, "
                "and where some cells went cannot be told for sure "
                f"({'; '.join(problems[:3])}); check those rows; run again"
            )
        self._repair_cells = cells
        return {**restores, **fixes}

    def _where_now(self, now: list[str]) -> dict[int, int | None]:
        """Re-check row -> the row it is in now: by ID, and a row without one (or whose ID
        this write may have overwritten) by the rows around it."""
        header = self.change.header_row
        counts = Counter(text for n, text in enumerate(now, 1) if text and n > header)
        index = {text: n for n, text in enumerate(now, 1) if n > header and counts[text] == 1}
        checked = _padded(self.ids_checked, self._height())
        where: dict[int, int | None] = {}
        for row in range(header + 1, len(checked) + 1):
            where[row] = index.get(checked[row - 1]) if checked[row - 1] else None
        anchors = sorted(row for row, place in where.items() if place is not None)
        taken = {place for place in where.values() if place is not None}
        for row in range(header + 1, len(checked) + 1):
            if where[row] is not None:
                continue
            at = bisect.bisect(anchors, row)
            shifts = {
                where[anchors[i]] - anchors[i]  # type: ignore[operator]
                for i in (at - 1, at)
                if 0 <= i < len(anchors)
            }
            if len(shifts) == 1 and (place := row + shifts.pop()) not in taken:
                where[row] = place
        # An ID this write filled in finds its row when no other ID is gone (only then it
        # cannot have landed on, and overwritten, another prospect's).
        gone = any(text and text not in index for text in checked[header:])
        column = self.change.id_column
        for (row, col), value in self.writes.items():
            if col == column and where.get(row) is None and not gone:
                where[row] = index.get(_id_text(value))
        # One row left unplaced (say, one without an ID after a sort) and one place left
        # over: that is where it went.
        unplaced = [row for row, place in where.items() if place is None]
        placed = {place for place in where.values() if place is not None}
        free = [n for n in range(header + 1, max(len(now), len(checked)) + 1) if n not in placed]
        if len(unplaced) == 1 and len(free) == 1:
            where[unplaced[0]] = free[0]
        return where

    def _before(self, row: int, column: int) -> Any | None:
        """What the cell of re-check row `row` held then, as the API takes it back ("" for
        empty); None when that is not known (or is a formula, which RAW cannot restore)."""
        if column == self.change.id_column:
            if self.formula_ids:
                return None
            value = self.id_cells[row - 1] if row <= len(self.id_cells) else None
        elif (span := self.spans.get(column)) is not None and span[0] <= row <= span[1]:
            value = self.current.get((row, column))
        else:
            origin = self._origin(row)
            if origin is None:
                return None
            values = self.rows[origin - 1] if origin <= len(self.rows) else []
            value = values[column - 1] if column <= len(values) else None
        if isinstance(value, str) and value.startswith("="):
            return None
        return "" if value is None else value

    def _origin(self, row: int) -> int | None:
        """The row, in the tab as first read, of re-check row `row`."""
        ident = self.ids_checked[row - 1] if row <= len(self.ids_checked) else ""
        if not ident:
            return None if self.moved else row
        if self._origins is None:
            column = self.change.id_column or 1
            self._origins = {}
            for number, values in enumerate(self.rows, start=1):
                if number > self.change.header_row and len(values) >= column:
                    self._origins.setdefault(_id_text(values[column - 1]), []).append(number)
        found = self._origins.get(ident, [])
        return found[0] if len(found) == 1 else None

    def _name(self, row: int) -> str:
        ident = self.ids_checked[row - 1] if row <= len(self.ids_checked) else ""
        filled = self.writes.get((row, self.change.id_column or 0))
        return ident or (str(filled) if filled else f"row {row}")

    def format_requests_for(self, fixes: Mapping[Cell, Any]) -> list[dict[str, Any]]:
        assert self.tab is not None
        dates = {cell: value for cell, value in self._repair_dates.items() if cell in fixes}
        return _date_formats(self.tab.sheet_id, dates, self._repair_cells)

    def repair_warning(self) -> str:
        names = ", ".join(dict.fromkeys(self.repaired))
        return (
            f"rows of {self.tab_title!r} moved while the cells of {names} were on their way, "
            "and they landed on other rows; those rows were put back as they were, and the "
            f"cells of {names} written again where they are now"
        )

    def repair_note(self) -> str:
        return f"the rows of {', '.join(dict.fromkeys(self.repaired))}"

    # -- appending

    def _append_width(self) -> int:
        return max(1, max((len(values) for values in self.append_rows), default=1))

    def _append_from(self) -> int:
        """The first column to append from. Google writes appended values from the first
        column of the table it finds: columns empty in the header row and in every row to
        append are left out, so that a table starting in column B gets its values there."""
        header = self.change.header_row
        names = self.rows[header - 1] if header <= len(self.rows) else []
        first = 1
        while first < self._append_width() and (
            (names[first - 1] if first <= len(names) else None) is None
            and all(
                (values[first - 1] if first <= len(values) else None) in (None, "")
                for values in self.append_rows
            )
        ):
            first += 1
        return first

    def append_values(self) -> list[list[Any]]:
        first, width = self._append_from(), self._append_width()
        return [
            [_json(values[c]) if c < len(values) else "" for c in range(first - 1, width)]
            for values in self.append_rows
        ]

    def append_range(self) -> str:
        """Where Google looks for the table to append to: from the header row down."""
        row, first = self.change.header_row, col_letter(self._append_from())
        return f"{_quote(self.tab_title)}!{first}{row}:{col_letter(self._append_width())}{row}"

    def tail_range(self) -> str:
        """The rows below those read, where appended rows are."""
        first, last = col_letter(self._append_from()), col_letter(self._append_width())
        return f"{_quote(self.tab_title)}!{first}{len(self.rows) + 1}:{last}"

    def find_appended(self, tail: list[list[Any]]) -> bool:
        """Whether the rows to append are in `tail` (read with tail_range) already."""
        mine = self.append_values()
        for start in range(len(tail) - len(mine) + 1):
            if all(_same_row(tail[start + k], values) for k, values in enumerate(mine)):
                self.first_appended = len(self.rows) + 1 + start
                self.others_appended = self.others_appended or start > 0
                self._grew()
                return True
        return False

    def appended_at_range(self, updated: str) -> None:
        """Where Google put the rows, from the answer's updatedRange ("'Log'!A8:H9")."""
        found = _FIRST_ROW.search(updated)
        self.first_appended = int(found.group(1)) if found else 0
        if self.first_appended != len(self.rows) + 1:
            self.others_appended = True
        self._grew()

    def _grew(self) -> None:
        # INSERT_ROWS adds as many rows to the grid as it appends.
        if self.tab is not None:
            self.tab.rows_in_grid += len(self.append_rows)

    def appended_format_requests(self) -> list[dict[str, Any]]:
        if self.created or not self.first_appended or self.tab is None or self.tab.hidden:
            return []
        writes = {
            (self.first_appended + offset, column): value
            for offset, values in enumerate(self.append_rows)
            for column, value in enumerate(values, start=1)
            if value not in (None, "")
        }
        return _date_formats(self.tab.sheet_id, writes, {})

    def remember(self) -> None:
        """Put what was written into the cached grid, as a read would now return it."""
        title = self.tab_title
        if title not in self.loaded.grids:
            return  # never read: read in full when first asked for
        # A new grid: tables handed out before keep the rows they were read with.
        grid = [list(row) for row in self.loaded.grids[title]]
        self.loaded.grids[title] = grid
        cells = dict(self.writes)
        if self.first_appended and not self.created:
            for offset, values in enumerate(self.append_rows):
                for column, value in enumerate(values, start=1):
                    cells[(self.first_appended + offset, column)] = value
        for (row, column), value in cells.items():
            while len(grid) < row:
                grid.append([])
            line = grid[row - 1]
            while len(line) < column:
                line.append(None)
            line[column - 1] = _raw(_json(value))
        while grid and not any(value is not None for value in grid[-1]):
            grid.pop()


def _date_formats(
    sheet_id: int, writes: Mapping[Cell, CellValue], current: Mapping[Cell, Any]
) -> list[dict[str, Any]]:
    """repeatCell requests giving the date cells among `writes` a date format, where the
    cell does not hold a number yet (a number is a date shown in a format of the sheet's
    own, which stays). Per column one range from the first such cell to the last, split
    only at cells whose format must stay: numbers, formulas, other kinds of dates. So a
    first refresh of 100,000 rows formats its date column in one request, not one per run
    of dated rows."""
    wanted: dict[tuple[int, str], list[int]] = {}
    kinds: dict[int, dict[int, str]] = {}
    for (row, column), value in writes.items():
        now = current.get((row, column))
        if _is_number(now) or (isinstance(now, str) and now.startswith("=")):
            kinds.setdefault(column, {})[row] = "kept"
        elif isinstance(value, date):
            kind = "DATE_TIME" if isinstance(value, datetime) else "DATE"
            wanted.setdefault((column, kind), []).append(row)
            kinds.setdefault(column, {})[row] = kind
        elif _is_number(value):
            kinds.setdefault(column, {})[row] = "number"
    for (row, column), now in current.items():
        if (row, column) not in writes and (
            _is_number(now) or (isinstance(now, str) and now.startswith("="))
        ):
            kinds.setdefault(column, {})[row] = "kept"
    asks = []
    for (column, kind), rows in sorted(wanted.items()):
        stops = sorted(row for row, other in kinds.get(column, {}).items() if other != kind)
        rows.sort()
        first = previous = rows[0]
        for row in rows[1:]:
            if bisect.bisect_right(stops, row) != bisect.bisect_right(stops, previous):
                asks.append(_date_format(sheet_id, column, first, previous, kind))
                first = row
            previous = row
        asks.append(_date_format(sheet_id, column, first, previous, kind))
    return asks


def _date_format(sheet_id: int, column: int, first: int, last: int, kind: str) -> dict[str, Any]:
    return {
        "repeatCell": {
            "range": {
                "sheetId": sheet_id,
                "startRowIndex": first - 1,
                "endRowIndex": last,
                "startColumnIndex": column - 1,
                "endColumnIndex": column,
            },
            "cell": {"userEnteredFormat": {"numberFormat": {"type": kind}}},
            "fields": "userEnteredFormat.numberFormat",
        }
    }


def _free_sheet_ids(in_use: set[int], count: int) -> list[int]:
    """IDs for new tabs: at random below 2**31, as Google picks them, avoiding those in use.
    Truly at random: two runs that make the same tab at the same time must not choose the
    same ID, for a run tells the tab its own lost try made by it (see _adopt_tabs)."""
    pick = random.SystemRandom()
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
        cells_written=sum(plan.cells_written for plan in plans),
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
    """A value of a values response as a Table holds it. A formula that fails reads as
    the error it shows ("#N/A"); it is read as an empty cell, as from an Excel file
    (python-calamine reads error cells as empty), so that both backends see the same."""
    if value == "" or value is None or value in _ERROR_TEXTS:
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


def _id_column(values: list[list[Any]]) -> list[str]:
    """A column as read (one value per row) as ID texts; index 0 is row 1."""
    return [_id_text(_raw(row[0]) if row else None) for row in values]


def _padded(texts: Sequence[str], length: int) -> list[str]:
    return list(texts) + [""] * (length - len(texts))


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _same(read: object, written: object) -> bool:
    """Whether a cell read back holds what was written (both as the API has them)."""
    if read in (None, "") or written in (None, ""):
        return read in (None, "") and written in (None, "")
    if _is_number(read) and _is_number(written):
        return math.isclose(float(read), float(written), rel_tol=1e-12, abs_tol=1e-9)  # type: ignore[arg-type]
    return type(read) is type(written) and read == written


def _same_row(read: Sequence[Any], written: Sequence[Any]) -> bool:
    width = max(len(read), len(written))
    return all(
        _same(read[c] if c < len(read) else "", written[c] if c < len(written) else "")
        for c in range(width)
    )


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
