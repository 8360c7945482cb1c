"""How many requests a refresh and a mark of a big Google Sheet cost, against the fake
Sheets server.

    .venv/bin/python tests/benchmarks/bench_gsheets_requests.py --rows 10000

Puts a Prospects tab of `--rows` rows (every input column filled, the owned columns empty),
an Owners tab and a Log of `--rows` touches into the fake Google Sheets server, then runs
`refresh` three times and `mark` once, each with a new backend as cron or a person would:
the first refresh fills in every owned cell (and makes the hidden tab of touch snapshots),
the second finds nothing to change, the third runs a week later when many dates and
statuses move; the mark records one call. For each it prints the API requests by endpoint,
the token requests, the date-format requests (repeatCell) inside the batchUpdates, the
bytes sent and received and the time taken (the fake runs on this machine, so the time is
sheetfollow's and the fake's, without Google's network).

Measured at 100,000 rows (requests, date-format requests, MB sent / received at the fake,
whose JSON is indented), before and after the Google backend changes of March 2026:

                      before                          after
    first refresh     5 req, 20,002 repeatCell,       6 req (+ the ID column read back),
                      28.2 / 63.8 MB                  3 repeatCell, 23.4 / 51.3 MB
    nothing changed   2 req, 85.1 MB received         2 req, 68.6 MB (the Log is not read)
    a week later      4 req, 11.5 / 112.0 MB          5 req (+ ID column), 11.5 / 99.6 MB
    mark              5 req, 89.7 MB received         9 req: + the Log read on its own (it
                                                      is big), the ID column read back, the
                                                      Log row and the snapshot appended by
                                                      Google, the Log row's date format;
                                                      93.8 MB (mark reads the Log and the
                                                      snapshots in full for their headers)
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fakes.sheets_server import FakeSheets

from sheetfollow import service
from sheetfollow.backends.gsheets import GoogleSheetsBackend
from sheetfollow.config import load_config
from sheetfollow.mark import MarkRequest, mark

KEY = "1BenchmarkPipeline-0123456789abcdefghijklmno"
HEADERS = [
    "ID", "Company", "Contact", "Email", "Phone", "Owner", "Stage", "Segment", "Value",
    "Created", "Last contact", "Last outcome", "Attempts", "Follow up on", "Channel", "Notes",
    "Next follow-up", "Status", "Step", "Why", "Assigned to",
]  # fmt: skip
OWNERS = ["Anna", "Bob", "Cas", "Dee"]
STAGES = ["new", "contacted", "interested", "quote"]
TODAY = date(2026, 3, 11)


def day(value: date) -> Any:
    return FakeSheets.date(value.year, value.month, value.day)


def outcome(n: int) -> str:
    """Every fifth prospect said no: no follow-up, so the dated rows come in runs of four."""
    return "not interested" if n % 5 == 0 else ["no answer", "voicemail", "reached"][n % 3]


def prospects(rows: int) -> list[list[Any]]:
    grid: list[list[Any]] = [list(HEADERS)]
    for n in range(1, rows + 1):
        created = TODAY - timedelta(days=30 + n % 300)
        last = TODAY - timedelta(days=1 + n % 20)
        grid.append(
            [
                f"P-{n:06d}", f"Company {n}", f"Contact {n}", f"c{n}@example.com",
                f"+31 20 {n:07d}", OWNERS[n % 4], STAGES[n % 4],
                ["retail", "industry"][n % 2], n * 13 % 9000, day(created), day(last),
                outcome(n), n % 4, None, "phone", f"note {n}",
            ]
        )  # fmt: skip
    return grid


def log(rows: int) -> list[list[Any]]:
    """A Log of `rows` touches, one for each of the first prospects."""
    grid: list[list[Any]] = [["When", "ID", "Company", "By", "Outcome", "Channel", "Note"]]
    for n in range(1, rows + 1):
        when = TODAY - timedelta(days=1 + n % 20)
        grid.append([day(when), f"P-{n:06d}", f"Company {n}", OWNERS[n % 4], "no answer",
                     "phone", f"note {n}"])  # fmt: skip
    return grid


def measure(fake: FakeSheets, run: Callable[[], int]) -> dict[str, Any]:
    """The requests `run` makes (it returns the cells it changed), counted at the fake."""
    start, tokens = len(fake.requests), len(fake.token_requests)
    started = time.perf_counter()
    cells = run()
    seconds = time.perf_counter() - started
    made = fake.requests[start:]
    counts = collections.Counter(
        f"{r.method} {r.path.replace(f'/v4/spreadsheets/{KEY}', '') or '/'}" for r in made
    )
    formats = sum(
        1
        for r in made
        if r.path.endswith(":batchUpdate") and not r.path.endswith("values:batchUpdate")
        for ask in r.body["requests"]
        if "repeatCell" in ask
    )
    return {
        "requests": len(made),
        "by_endpoint": dict(counts),
        "token_requests": len(fake.token_requests) - tokens,
        "formats": formats,
        "cells_changed": cells,
        "kb_sent": round(sum(r.sent for r in made) / 1024),
        "kb_received": round(sum(r.answered for r in made) / 1024),
        "seconds": round(seconds, 2),
    }


def backend(fake: FakeSheets, key_file: Path) -> GoogleSheetsBackend:
    # The fake answers a 100,000-row write slower than Google does (it checks and copies
    # what Google keeps in a database): no timeout or deadline gets in the way of counting.
    return GoogleSheetsBackend(
        KEY, key_file=key_file, endpoint=fake.url, timeout=900, deadline=None
    )


def refresh(fake: FakeSheets, key_file: Path, config_path: Path, today: date) -> int:
    config = load_config(config_path)
    with backend(fake, key_file) as sheet:
        return service.refresh(sheet, config, today).cells_changed


def mark_one(fake: FakeSheets, key_file: Path, config_path: Path, today: date) -> int:
    config = load_config(config_path)
    with backend(fake, key_file) as sheet:
        touch = MarkRequest("P-000042", "no-answer", note="rang twice")
        return mark(sheet, config, today, touch).cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, FakeSheets() as fake:
        owners = [["Owner", "Email", "Country"]]
        owners += [[name, f"{name.lower()}@example.com", "NL"] for name in OWNERS]
        tabs = {"Prospects": prospects(args.rows), "Owners": owners, "Log": log(args.rows)}
        fake.add_spreadsheet(KEY, "Pipeline", tabs)
        key_file = fake.write_key_file(Path(folder) / "key.json")
        config = Path(folder) / "sheetfollow.toml"
        config.write_text(
            f'timezone = "Europe/Amsterdam"\n[google]\nkey_file = "{key_file}"\n',
            encoding="utf-8",
        )
        later = TODAY + timedelta(days=7)
        runs: list[tuple[str, Callable[[], int]]] = [
            ("first refresh", lambda: refresh(fake, key_file, config, TODAY)),
            ("nothing changed", lambda: refresh(fake, key_file, config, TODAY)),
            ("a week later", lambda: refresh(fake, key_file, config, later)),
            ("mark", lambda: mark_one(fake, key_file, config, later)),
        ]
        print(
            f"{args.rows:,} prospects and a Log of {args.rows:,} touches, against the fake "
            "Sheets server"
        )
        for label, run in runs:
            found = measure(fake, run)
            endpoints = ", ".join(f"{n} x {name}" for name, n in found["by_endpoint"].items())
            print(
                f"{label:>16}: {found['requests']} requests + {found['token_requests']} token "
                f"({endpoints}); {found['formats']:,} repeatCell; {found['cells_changed']:,} "
                f"cells changed, {found['kb_sent']:,} KB sent, {found['kb_received']:,} KB "
                f"received, {found['seconds']:.2f} s"
            )
        if fake.errors:
            raise fake.errors[0]


if __name__ == "__main__":
    main()
