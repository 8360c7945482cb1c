"""What the benchmark scripts share: each measured step runs in a fresh process, so one
step's memory and caches never flatter the next."""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path


def arguments(doc: str, *, rows: int) -> argparse.Namespace:
    """--rows and --repeat, plus the hidden --step/--path a step's own process gets."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--rows", type=int, default=rows)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    return parser.parse_args()


def run_step(script: str, step: str, path: Path, rows: int) -> dict[str, float]:
    """Run one step of `script` in its own process; the step prints its numbers as JSON."""
    result = subprocess.run(
        [sys.executable, script, "--step", step, "--path", str(path), "--rows", str(rows)],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def peak_mb() -> float:
    """This process's peak resident memory so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
