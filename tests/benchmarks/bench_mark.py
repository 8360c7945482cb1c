"""How fast `mark` records one touch in a big workbook. Prints timings and peak memory.

    /work/venv/bin/python tests/benchmarks/bench_mark.py --rows 30000

Builds, with XlsxWriter, a workbook as a team keeps it: a Prospects tab of `--rows` rows
with every input and owned column filled, an Owners tab and a Log of earlier touches. Then
times `mark` end to end (read the tabs, find the prospect, compute its row, write the row
and the Log in one atomic replacement of the file), the median of `--repeat` runs on fresh
copies, each in its own process so its peak memory is its own. WHO is given three ways: an
ID, an exact company name and a misspelt one (the slowest path: a fuzzy search over every
name).
"""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from _harness import arguments, peak_mb, run_step

HEADERS = [
    "ID", "Company", "Contact", "Email", "Phone", "Owner", "Stage", "Segment", "Value",
    "Created", "Last contact", "Last outcome", "Attempts", "Follow up on", "Channel", "Notes",
    "Next follow-up", "Status", "Step", "Why", "Assigned to",
]  # fmt: skip
OWNERS = ["Anna", "Bob", "Cas", "Dee"]
TODAY = date(2026, 3, 11)
#: WHO for each measured case; the target is the row in the middle of the sheet.
CASES = ("id", "name", "typo")


def company(n: int) -> str:
    # Distinct made-up names, so that one typo still points at one prospect.
    syllables = ["ka", "lo", "mi", "ne", "ru", "so", "ta", "ve", "zu", "pi"]
    word = "".join(syllables[(n // 10**i) % 10] for i in range(5))
    return f"{word.capitalize()} {['B.V.', 'GmbH', 'Ltd', 'AS', 'SA'][n % 5]}"


def who(case: str, rows: int) -> str:
    target = rows // 2
    if case == "id":
        return f"P-{target:06d}"
    name = company(target).split(" ")[0]
    return name if case == "name" else name[:3] + name[4:]  # one letter dropped


def build(path: Path, rows: int) -> None:
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    day = workbook.add_format({"num_format": "yyyy-mm-dd"})
    sheet = workbook.add_worksheet("Prospects")
    sheet.write_row(0, 0, HEADERS)
    for n in range(1, rows + 1):
        created = TODAY - timedelta(days=30 + n % 300)
        last = TODAY - timedelta(days=1 + n % 20)
        values: list[object] = [
            f"P-{n:06d}", company(n), f"Contact {n}", f"c{n}@example.com", f"+31 20 {n:07d}",
            OWNERS[n % 4], ["new", "contacted", "interested", "quote"][n % 4],
            ["retail", "industry"][n % 2], n * 13 % 9000, created, last,
            ["no answer", "voicemail", "reached"][n % 3], n % 4, None, "phone", f"note {n}",
            last + timedelta(days=5), "scheduled", f"{n % 4 + 1} of 5",
            "Attempt 2 on Wed 18 Mar 2026: 5 business days after the no answer.", OWNERS[n % 4],
        ]  # fmt: skip
        for c, value in enumerate(values):
            if isinstance(value, date):
                sheet.write_datetime(n, c, datetime(value.year, value.month, value.day), day)
            elif value is not None:
                sheet.write(n, c, value)
    owners = workbook.add_worksheet("Owners")
    owners.write_row(0, 0, ["Owner", "Email", "Country"])
    for r, name in enumerate(OWNERS, start=1):
        owners.write_row(r, 0, [name, f"{name.lower()}@example.com", "NL"])
    log = workbook.add_worksheet("Log")
    log.write_row(0, 0, ["When", "ID", "Company", "By", "Outcome", "Channel", "Note"])
    for r in range(1, 2001):
        when = datetime(2026, 1, 1, 9) + timedelta(hours=r)
        log.write_datetime(r, 0, when, day)
        log.write_row(r, 1, [f"P-{r:06d}", company(r), OWNERS[r % 4], "no answer", "phone"])
    workbook.close()


def step(case: str, path: Path, rows: int) -> dict[str, float]:
    """One measured mark, run inside its own process."""
    from sheetfollow import mark, service
    from sheetfollow.config import Config

    config = Config(sheet=str(path), timezone="Europe/Amsterdam")
    request = mark.MarkRequest(who(case, rows), "no-answer", note="benchmark")
    started = time.perf_counter()
    backend = service.open_backend(None, config)
    result = mark.mark(backend, config, TODAY, request, now=datetime(2026, 3, 11, 15, 0))
    seconds = time.perf_counter() - started
    assert result.row.prospect.row == rows // 2 + 1, result.row.prospect.row
    peak = peak_mb()
    return {"seconds": seconds, "peak_mb": peak}


def main() -> None:
    args = arguments(__doc__, rows=30_000)
    if args.step:
        print(json.dumps(step(args.step, Path(args.path), args.rows)))
        return
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "source.xlsx"
        started = time.perf_counter()
        build(source, args.rows)
        print(
            f"built {args.rows:,} prospects x {len(HEADERS)} columns and a 2,000-row Log: "
            f"{source.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s"
        )
        for case in CASES:
            runs = []
            for _ in range(args.repeat):
                work = Path(folder) / "pipeline.xlsx"
                shutil.copyfile(source, work)
                runs.append(run_step(__file__, case, work, args.rows))
            seconds = statistics.median(r["seconds"] for r in runs)
            peak = statistics.median(r["peak_mb"] for r in runs)
            label = f"mark {who(case, args.rows)!r} ({case})"
            print(f"{label:>32}: {seconds:6.2f} s  peak {peak:6.0f} MB")


if __name__ == "__main__":
    main()
