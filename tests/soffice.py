"""LibreOffice as the tests run it: headless, with a private profile per call, so tests
running in parallel never share (and lock) one profile."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

SOFFICE = shutil.which("soffice")


def soffice_convert(
    files: Sequence[Path],
    target: str,
    outdir: Path,
    *,
    profile: Path | None = None,
    timeout: int = 300,
) -> None:
    """`soffice --convert-to target` of `files` into `outdir` (e.g. "html", "pdf", or
    "xlsx:Calc MS Excel 2007 XML" to open and save a workbook the way LibreOffice saves it)."""
    assert SOFFICE is not None, "LibreOffice is not installed"
    home = profile if profile is not None else outdir / "profile"
    subprocess.run(
        [
            SOFFICE,
            f"-env:UserInstallation={home.as_uri()}",
            "--headless",
            "--convert-to",
            target,
            "--outdir",
            str(outdir),
            *map(str, files),
        ],
        check=True,
        capture_output=True,
        timeout=timeout,
    )
