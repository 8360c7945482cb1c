"""What sheetfollow costs on workbooks like the users': the CLI against the read and write floors.

    .venv/bin/python tests/benchmarks/bench_real.py                  # 3k, 30k and 200k rows
    .venv/bin/python tests/benchmarks/bench_real.py --sizes 3000,30000 --json before.json
    .venv/bin/python tests/benchmarks/bench_real.py --sizes 1048575  # a full-height sheet

Builds (once, cached; see realistic.py) a workbook per size as Excel and XlsxWriter write it:
empty owned cells have no <c> element, shared and inline strings, styles, an Excel Table
with a calculated column after the owned ones, a merged title row, Owners and a Log. Then
runs, each in a fresh process on a fresh copy, whole-process as a user runs it:

  read floor     python-calamine reads the Prospects tab into Python values
  write floor    the Prospects sheet member inflated and deflated once (zlib, the backend's level)
  openpyxl       load_workbook, write the 5 owned columns on every row, save
  refresh        `sheetfollow refresh` on the generated file (fills every owned cell)
  refresh no-op  `sheetfollow refresh` again on its output (nothing to change)
  refresh next   `sheetfollow refresh` on its output the next day, as cron runs it every night
  mark           `sheetfollow mark ID no-answer` on one row in the middle
  due --json     `sheetfollow due --json` (stdout to a file)
  due after the night  `due --json` the morning after: the next day's refresh (unmeasured)
                 first, as cron leaves the workbook for the first command of the day
  notify         `sheetfollow notify --outbox DIR`: 10 owners and a manager's digest
  stats          `sheetfollow stats`
  import         `sheetfollow import` of a CSV holding 1% as many leads (one in ten a duplicate)
  --help         `sheetfollow --help`

The commands after the first refresh run on copies of its output, as a user's workbook is
after the first night, twice: warm, with the `.sheetfollow` folder beside it as the night's
refresh and the morning's `due` left it (the parse cache current), and cold, with that folder's
parse-cache entries removed (as after someone saved the workbook in Excel: every tab read
through calamine, and the entries stored again). CPU is the child's user + system time and
peak the child's maximum resident set (os.wait4), so start-up and imports count as they do
for a user (with the package's bytecode compiled, as pip leaves it). Prints a table per size
with the ratios of issue 11 next to their targets (warm and cold), and the growth with the
size.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
TODAY = "2026-03-11"  # realistic.TODAY, without importing it (the floors import nothing)
STEPS = (
    "read-floor", "write-floor", "openpyxl", "refresh", "refresh-noop", "refresh-next", "mark",
    "due-json", "due-after-night", "notify", "stats", "import", "help",
)  # fmt: skip
LABELS = {
    "read-floor": "read floor (calamine)",
    "write-floor": "write floor (zlib)",
    "openpyxl": "openpyxl load+5 cols+save",
    "refresh": "refresh (first)",
    "refresh-noop": "refresh (no-op)",
    "refresh-next": "refresh (the next day)",
    "mark": "mark (one row)",
    "due-json": "due --json",
    "due-after-night": "due --json after the nightly refresh",
    "notify": "notify --outbox (10 owners)",
    "stats": "stats",
    "import": "import (1% rows)",
    "help": "sheetfollow --help",
}
SHORT = {"read-floor": "read floor", "openpyxl": "openpyxl", "refresh": "refresh",
         "refresh-noop": "refresh no-op", "refresh-next": "refresh next", "mark": "mark",
         "due-json": "due --json",
         "notify": "notify"}  # fmt: skip
#: Steps that run `sheetfollow` on the refreshed workbook, and their arguments.
COMMANDS = {
    "refresh-noop": ["refresh"],
    "refresh-next": ["refresh"],
    "mark": ["mark", "{mark_id}", "no-answer", "--note", "benchmark"],
    "due-json": ["due", "--json"],
    "notify": ["notify", "--outbox", "outbox"],
    "stats": ["stats"],
    "import": ["import", "leads.csv"],
}
#: The steps after the first refresh, run warm and cold (see the docstring); the cold run's
#: results are kept under STEP + COLD.
AFTER = tuple(COMMANDS)
COLD = ":cold"


@dataclass(frozen=True)
class Target:
    label: str
    measure: str  # key into ratios()
    limit: float
    at_least: bool  # True: measured >= limit passes
    min_rows: int = 0
    max_rows: int = 10**9
    unit: str = "x"

    def applies(self, rows: int) -> bool:
        return self.min_rows <= rows <= self.max_rows

    def text(self) -> str:
        sign = ">=" if self.at_least else "<="
        limit = f"{self.limit:g}{self.unit}" if self.unit == "x" else f"{self.limit:g} {self.unit}"
        where = ""
        if self.min_rows:
            where = f" at {self.min_rows // 1000}k+"
        if self.max_rows < 10**9:
            where = f" up to {self.max_rows // 1000}k"
        return f"{sign} {limit}{where}"


#: Issue 11's targets. Those the issue states at 200k rows apply from 200k rows on; the others
#: at every size (at 3k the start-up of the CLI weighs most).
TARGETS = (
    Target("refresh vs openpyxl (CPU)", "refresh_vs_openpyxl", 15, True, min_rows=200_000),
    Target("refresh vs read+write floor", "refresh_vs_floors", 2.5, False),
    Target("refresh peak memory", "refresh_peak_mb", 250, False, max_rows=200_000, unit="MB"),
    Target("refresh peak memory", "refresh_peak_mb", 1024, False, min_rows=200_001, unit="MB"),
    Target("no-op refresh vs read floor", "noop_vs_read", 1.5, False),
    Target("next-day refresh vs read+write floor", "next_vs_floors", 2.5, False),
    Target("mark vs read floor", "mark_vs_read", 1.5, False),
    Target("due --json vs read floor", "due_vs_read", 2, False),
    Target("due --json peak memory", "due_peak_mb", 300, False, unit="MB"),
    Target("notify vs read floor", "notify_vs_read", 3, False),
    Target("--help CPU", "help_cpu", 0.2, False, unit="s"),
)


# --- The measured steps, each in its own process -----------------------------------------------


def floor_step(kind: str, path: Path) -> None:
    """Runs inside the child: the read or the write floor, nothing else imported."""
    if kind == "read-floor":
        from python_calamine import CalamineWorkbook

        values = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Prospects").to_python()
        assert len(values) > 3
    elif kind == "write-floor":
        import zipfile
        import zlib

        with zipfile.ZipFile(path) as package:
            data = package.read("xl/worksheets/sheet1.xml")  # inflate
        level = 3 if len(data) > 16 << 20 else 6  # sheetfollow.backends.xlsx._BIG_PART_LEVEL
        packer = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
        size = len(packer.compress(data)) + len(packer.flush())
        assert size > 0
    elif kind == "openpyxl":
        from datetime import date

        import openpyxl

        book = openpyxl.load_workbook(path)
        sheet = book["Prospects"]
        first = 4  # realistic.HEADER_ROW + 1
        for row in range(first, sheet.max_row + 1):
            sheet.cell(row, 17, date(2026, 3, 11 + row % 15))
            sheet.cell(row, 18, "overdue" if row % 3 else "due")
            sheet.cell(row, 19, f"{row % 5 + 1} of 5")
            sheet.cell(row, 20, "Attempt 2 on Wed 18 Mar 2026: 5 business days after no answer")
            sheet.cell(row, 21, "Anna")
        book.save(path.with_name("openpyxl-out.xlsx"))
    else:
        raise SystemExit(f"unknown step {kind}")


@dataclass
class Run:
    cpu: float
    wall: float
    peak_mb: float
    ok: bool
    note: str = ""


def measure(argv: Sequence[str], cwd: Path) -> Run:
    """Run `python ARGV` in a child process: its CPU (user + system, os.wait4) and its peak
    resident memory (VmHWM, written by _peak.py at exit; see there why not ru_maxrss)."""
    peak_file = cwd / "peak-kb.txt"
    peak_file.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "COLUMNS": "120",
           "BENCH_PEAK_FILE": str(peak_file)}  # fmt: skip
    command = [sys.executable, str(HERE / "_peak.py"), *argv]
    with open(cwd / "stdout.txt", "wb") as out, open(cwd / "stderr.txt", "wb") as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not wait again
    code = child.returncode
    note = ""
    if code != 0:
        tail = (cwd / "stderr.txt").read_text(errors="replace").strip().splitlines()[-1:]
        note = f"exit {code}: {tail[0][:100] if tail else ''}"
    peak_kb = float(peak_file.read_text()) if peak_file.exists() else usage.ru_maxrss
    return Run(usage.ru_utime + usage.ru_stime, wall, peak_kb / 1024, code == 0, note)


#: The night after: what cron's refresh does every working day (statuses move on, the
#: Why texts count another day, rows come due), on the workbook as the first refresh left it.
NEXT_DAY = {"refresh-next": "2026-03-12"}


def cli(*args: str, today: str = TODAY) -> list[str]:
    return ["-m", "sheetfollow", *args, "--today", today]


def label(step: str) -> str:
    if step.endswith(COLD):
        return f"{LABELS[step.removesuffix(COLD)]}, cold"
    return f"{LABELS[step]}, warm" if step in AFTER else LABELS[step]


def shown(step: str, run: Run) -> None:
    flag = "" if run.ok else f"  FAILED {run.note}"
    print(f"  {label(step):<34} {run.cpu:8.2f} s CPU {run.wall:8.2f} s wall "
          f"{run.peak_mb:7.0f} MB{flag}", flush=True)  # fmt: skip


def morning(folder: Path, side: Path) -> None:
    """The working day's state after the night's refresh in `folder`: the morning's `due`
    has run (unmeasured), and the `.sheetfollow` folder it leaves is kept in `side`."""
    subprocess.run(
        [sys.executable, *cli("due", "--sheet", "pipeline.xlsx")],
        cwd=folder,
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "120"},
    )
    shutil.rmtree(side, ignore_errors=True)
    shutil.copytree(folder / ".sheetfollow", side, ignore=shutil.ignore_patterns("backups"))


def compile_package() -> None:
    """Compile sheetfollow's modules to bytecode first, as pip does when it installs the
    package: with PYTHONDONTWRITEBYTECODE set (or a checkout that cannot be written) every
    measured command would otherwise compile the modules changed since their last .pyc
    (about 0.05 s each time for the backend's)."""
    import compileall

    import sheetfollow

    compileall.compile_dir(Path(sheetfollow.__file__).parent, quiet=1)


def run_size(rows: int, repeat: int, steps: Sequence[str], openpyxl_max: int) -> dict[str, object]:
    sys.path.insert(0, str(HERE))
    import realistic

    started = time.perf_counter()
    # In a child process: XlsxWriter holds the whole workbook (GBs at a million rows).
    code = f"import realistic; print(realistic.cached({rows}).path)"
    subprocess.run([sys.executable, "-c", code], cwd=HERE, check=True, stdout=subprocess.DEVNULL)
    built = realistic.cached(rows)
    build_s = time.perf_counter() - started
    size_mb = built.path.stat().st_size / 1e6
    print(f"\n{built.rows:,} prospects (+ Log of {built.log_rows:,}): {size_mb:.1f} MB "
          f"({built.path}, ready in {build_s:.0f} s)", flush=True)  # fmt: skip
    runs: dict[str, list[Run]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-real-") as tmp:
        root = Path(tmp)
        leads = root / "leads.csv"
        realistic.write_import_csv(leads, rows)

        def fresh(name: str, source: Path, side: Path | None = None, warm: bool = True) -> Path:
            folder = root / name
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            shutil.copyfile(source, folder / "pipeline.xlsx")
            shutil.copyfile(leads, folder / "leads.csv")
            if side is not None and side.is_dir():
                kept = shutil.ignore_patterns("backups")
                shutil.copytree(side, folder / ".sheetfollow", ignore=kept)
                if not warm:
                    for entry in (folder / ".sheetfollow").glob("*.grid"):
                        entry.unlink()
            return folder

        refreshed = root / "refreshed.xlsx"
        day_side = root / "day-side"  # the .sheetfollow folder as the working day finds it
        for _ in range(repeat):
            for step in steps:
                if step in ("read-floor", "write-floor", "openpyxl"):
                    if step == "openpyxl" and rows > openpyxl_max:
                        continue
                    folder = fresh(step, built.path)
                    argv = [__file__, "--step", step, "--path", "pipeline.xlsx"]
                    run = measure(argv, folder)
                elif step == "refresh":
                    folder = fresh(step, built.path)
                    run = measure(cli("refresh", "--sheet", "pipeline.xlsx"), folder)
                    if run.ok:
                        shutil.copyfile(folder / "pipeline.xlsx", refreshed)
                        morning(folder, day_side)
                elif step == "help":
                    run = measure(["-m", "sheetfollow", "--help"], root)
                elif step == "due-after-night":
                    # The next morning as it comes: the night's refresh (unmeasured) on the
                    # working day's state, then the first command of the day.
                    if not refreshed.exists():
                        continue
                    folder = fresh(step, refreshed, day_side)
                    day = NEXT_DAY["refresh-next"]
                    subprocess.run(
                        [sys.executable, *cli("refresh", "--sheet", "pipeline.xlsx", today=day)],
                        cwd=folder,
                        check=True,
                        stdout=subprocess.DEVNULL,
                    )
                    run = measure(
                        cli("due", "--json", "--sheet", "pipeline.xlsx", today=day), folder
                    )
                else:
                    if not refreshed.exists():
                        # Without a first refresh, run on the generated file.
                        shutil.copyfile(built.path, refreshed)
                        morning(fresh("morning", refreshed), day_side)
                    args = [a.format(mark_id=built.mark_id) for a in COMMANDS[step]]
                    day = NEXT_DAY.get(step, TODAY)
                    for warm in (True, False):
                        folder = fresh(step, refreshed, day_side, warm)
                        run = measure(cli(*args, "--sheet", "pipeline.xlsx", today=day), folder)
                        shown(step if warm else step + COLD, run)
                        runs.setdefault(step if warm else step + COLD, []).append(run)
                    continue
                runs.setdefault(step, []).append(run)
                shown(step, run)
    result: dict[str, object] = {"rows": built.rows, "log_rows": built.log_rows, "file_mb": size_mb}
    for step, many in runs.items():
        result[step] = {
            "cpu": statistics.median(r.cpu for r in many),
            "wall": statistics.median(r.wall for r in many),
            "peak_mb": statistics.median(r.peak_mb for r in many),
            "ok": all(r.ok for r in many),
            "note": "; ".join(sorted({r.note for r in many if r.note})),
        }
    return result


# --- Ratios, targets and the report ---------------------------------------------------------


def ratios(result: dict[str, object], cold: bool = False) -> dict[str, float]:
    """Issue 11's ratios, from the warm runs of the steps after the refresh (or the cold)."""

    def entry_of(step: str) -> object:
        return result.get(step + COLD if cold and step in AFTER else step)

    def cpu(step: str) -> float | None:
        entry = entry_of(step)
        return entry["cpu"] if isinstance(entry, dict) and entry["ok"] else None

    def peak(step: str) -> float | None:
        entry = entry_of(step)
        return entry["peak_mb"] if isinstance(entry, dict) and entry["ok"] else None

    out: dict[str, float] = {}
    read, write, refresh = cpu("read-floor"), cpu("write-floor"), cpu("refresh")
    pairs = {
        "refresh_vs_openpyxl": (cpu("openpyxl"), refresh),
        "refresh_vs_floors": (refresh, read + write if read and write else None),
        "noop_vs_read": (cpu("refresh-noop"), read),
        "next_vs_floors": (cpu("refresh-next"), read + write if read and write else None),
        "mark_vs_read": (cpu("mark"), read),
        "due_vs_read": (cpu("due-json"), read),
        "notify_vs_read": (cpu("notify"), read),
        "stats_vs_read": (cpu("stats"), read),
        "import_vs_read": (cpu("import"), read),
    }
    for key, (top, bottom) in pairs.items():
        if top is not None and bottom:
            out[key] = top / bottom
    for key, value in (
        ("refresh_peak_mb", peak("refresh")),
        ("due_peak_mb", peak("due-json")),
        ("help_cpu", cpu("help")),
    ):
        if value is not None:
            out[key] = value
    return out


def report(result: dict[str, object]) -> list[str]:
    rows = int(result["rows"])  # type: ignore[call-overload]
    lines = [
        f"### {rows:,} rows ({result['file_mb']:.1f} MB file, Log {result['log_rows']:,} rows)",
        "",
        "| step | CPU s | wall s | peak MB | CPU vs read floor |",
        "|---|---:|---:|---:|---:|",
    ]
    read = result.get("read-floor")
    for step in STEPS:
        for key in (step, step + COLD) if step in AFTER else (step,):
            entry = result.get(key)
            if not isinstance(entry, dict):
                continue
            vs = f"{entry['cpu'] / read['cpu']:.1f}x" if isinstance(read, dict) else ""
            fail = "" if entry["ok"] else f" FAILED ({entry['note']})"
            lines.append(f"| {label(key)}{fail} | {entry['cpu']:.2f} | {entry['wall']:.2f} | "
                         f"{entry['peak_mb']:.0f} | {vs} |")  # fmt: skip
    lines += ["", "| target | warm | cold | target | warm | cold |", "|---|---:|---:|---|---|---|"]
    warm, cold = ratios(result), ratios(result, cold=True)
    for target in TARGETS:
        if not target.applies(rows):
            continue
        cells, verdicts = [], []
        for measured in (warm, cold):
            value = measured.get(target.measure)
            if value is None:
                cells.append("n/a")
                verdicts.append("")
                continue
            ok = value >= target.limit if target.at_least else value <= target.limit
            text = f"{value:.2f}x" if target.unit == "x" else f"{value:.2f} {target.unit}"
            cells.append(f"{value:.0f} MB" if target.unit == "MB" else text)
            verdicts.append("PASS" if ok else "FAIL")
        lines.append(f"| {target.label} | {cells[0]} | {cells[1]} | {target.text()} | "
                     f"{verdicts[0]} | {verdicts[1]} |")  # fmt: skip
    return lines


def growth(results: Sequence[dict[str, object]]) -> list[str]:
    """Cost per row between sizes, and an ASCII plot of CPU and peak memory against rows."""
    if len(results) < 2:
        return []
    ordered = sorted(results, key=lambda r: int(r["rows"]))  # type: ignore[call-overload]
    lines = ["### Growth", "", "Marginal cost per 1,000 rows between consecutive sizes:", "",
             "| step | " + " | ".join(f"{int(a['rows']) // 1000}k→{int(b['rows']) // 1000}k"  # type: ignore[call-overload]
                                      for a, b in itertools.pairwise(ordered)) + " |",
             "|---|" + "---:|" * (len(ordered) - 1)]  # fmt: skip
    for step in STEPS:
        if step == "help":
            continue
        cells = []
        for a, b in itertools.pairwise(ordered):
            ea, eb = a.get(step), b.get(step)
            if not (isinstance(ea, dict) and isinstance(eb, dict)):
                cells.append("")
                continue
            drows = (int(b["rows"]) - int(a["rows"])) / 1000  # type: ignore[call-overload]
            ms = (eb["cpu"] - ea["cpu"]) / drows * 1000
            mb = (eb["peak_mb"] - ea["peak_mb"]) / drows
            cells.append(f"{ms:.0f} ms, {mb:.2f} MB")
        if any(cells):
            lines.append(f"| {LABELS[step]} | " + " | ".join(cells) + " |")
    lines += ["", "```", *plot(ordered), "```"]
    return lines


def plot(ordered: Sequence[dict[str, object]]) -> list[str]:
    """Horizontal bars, CPU seconds and peak MB on a log scale, per size and step."""
    import math

    shown = ("read-floor", "openpyxl", "refresh", "refresh-noop", "refresh-next", "mark",
             "due-json", "notify")  # fmt: skip
    values = [
        (int(r["rows"]), step, r[step]["cpu"], r[step]["peak_mb"])  # type: ignore[call-overload,index]
        for r in ordered for step in shown if isinstance(r.get(step), dict)
    ]  # fmt: skip
    if not values:
        return []
    cmax = max(v[2] for v in values)
    mmax = max(v[3] for v in values)
    width = 28

    def bar(value: float, top: float, bottom: float) -> str:
        # log scale from bottom to top
        if value <= bottom:
            return ""
        return "#" * max(1, round(width * math.log(value / bottom) / math.log(top / bottom)))

    out = [f"{'rows':>9} {'step':<16} {'CPU s (log, 0.1..' + f'{cmax:.0f})':<{width + 10}}"
           f"peak MB (log, 10..{mmax:.0f})"]  # fmt: skip
    for rows, step, c, m in values:
        short = SHORT.get(step, step)
        out.append(f"{rows:>9,} {short:<16} {bar(c, cmax, 0.1):<{width}} {c:7.1f}  "
                   f"{bar(m, mmax, 10):<{width}} {m:6.0f}")  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="3000,30000,200000",
        help="comma-separated prospect counts (1048575 is a full-height sheet)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per step; the median counts")
    parser.add_argument("--steps", default=",".join(STEPS), help="comma-separated subset")
    parser.add_argument(
        "--openpyxl-max",
        type=int,
        default=200_000,
        help="skip the openpyxl baseline above this many rows (it takes GBs)",
    )
    parser.add_argument("--json", type=Path, help="save the results to this file")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        floor_step(args.step, Path(args.path))
        return
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s]
    steps = [s for s in args.steps.split(",") if s]
    unknown = set(steps) - set(STEPS)
    if unknown:
        parser.error(f"unknown steps: {', '.join(sorted(unknown))}; known: {', '.join(STEPS)}")
    steps = [s for s in STEPS if s in steps]  # refresh before the steps that use its output
    compile_package()
    results = [run_size(rows, args.repeat, steps, args.openpyxl_max) for rows in sizes]
    lines: list[str] = []
    for result in results:
        lines += ["", *report(result)]
    lines += ["", *growth(results)]
    print("\n".join(lines))
    if args.json:
        meta = {
            "when": datetime.now().isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "repeat": args.repeat,
        }
        args.json.write_text(json.dumps({"meta": meta, "results": results}, indent=1) + "\n")
        print(f"\nsaved {args.json}")


if __name__ == "__main__":
    main()
