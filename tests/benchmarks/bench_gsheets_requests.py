"""How many requests a refresh of a big Google Sheet costs, against the fake Sheets server.

    /work/venv/bin/python tests/benchmarks/bench_gsheets_requests.py --rows 10000

Puts a Prospects tab of `--rows` rows (every input column filled, the owned columns empty)
and an Owners tab into the fake Google Sheets server, then runs `refresh` three times, each
with a new backend as cron would: the first fills in every owned cell, the second finds
nothing to change, the third runs a week later when many dates and statuses move. For each
it prints the API requests by endpoint, the token requests, the bytes sent and received
and the time taken (the fake runs on this machine, so the time is sheetfollow's and the
fake's, without Google's network).
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fakes.sheets_server import FakeSheets

from sheetfollow import service
from sheetfollow.backends.gsheets import GoogleSheetsBackend
from sheetfollow.config import load_config

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
                ["no answer", "voicemail", "reached"][n % 3], n % 4, None, "phone", f"note {n}",
            ]
        )  # fmt: skip
    return grid


def refresh(fake: FakeSheets, key_file: Path, config_path: Path, today: date) -> dict[str, Any]:
    config = load_config(config_path)
    start, tokens = len(fake.requests), len(fake.token_requests)
    started = time.perf_counter()
    with GoogleSheetsBackend(KEY, key_file=key_file, endpoint=fake.url) as backend:
        summary = service.refresh(backend, config, today)
    seconds = time.perf_counter() - started
    made = fake.requests[start:]
    counts = collections.Counter(
        f"{r.method} {r.path.replace(f'/v4/spreadsheets/{KEY}', '') or '/'}" for r in made
    )
    sent = sum(len(json.dumps(r.body)) for r in made if r.body is not None)
    return {
        "requests": len(made),
        "by_endpoint": dict(counts),
        "token_requests": len(fake.token_requests) - tokens,
        "cells_changed": summary.cells_changed,
        "kb_sent": round(sent / 1024),
        "seconds": round(seconds, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, FakeSheets() as fake:
        owners = [["Owner", "Email", "Country"]]
        owners += [[name, f"{name.lower()}@example.com", "NL"] for name in OWNERS]
        fake.add_spreadsheet(KEY, "Pipeline", {"Prospects": prospects(args.rows), "Owners": owners})
        key_file = fake.write_key_file(Path(folder) / "key.json")
        config = Path(folder) / "sheetfollow.toml"
        config.write_text(
            f'timezone = "Europe/Amsterdam"\n[google]\nkey_file = "{key_file}"\n', encoding="utf-8"
        )
        runs = [
            ("first refresh", TODAY),
            ("nothing changed", TODAY),
            ("a week later", TODAY + timedelta(days=7)),
        ]
        print(f"refresh of {args.rows:,} prospects against the fake Sheets server")
        for label, today in runs:
            found = refresh(fake, key_file, config, today)
            endpoints = ", ".join(f"{n} x {name}" for name, n in found["by_endpoint"].items())
            print(
                f"{label:>16}: {found['requests']} requests + {found['token_requests']} token "
                f"({endpoints}); {found['cells_changed']:,} cells changed, "
                f"{found['kb_sent']:,} KB sent, {found['seconds']:.2f} s"
            )
        if fake.errors:
            raise fake.errors[0]


if __name__ == "__main__":
    main()
