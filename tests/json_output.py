"""Reading `--json` output in tests: the envelope every command prints (sheetfollow/output.py)."""

from __future__ import annotations

import json
from typing import Any


def envelope(stdout: str) -> dict[str, Any]:
    """The one JSON object on stdout, with the members every output has."""
    found: dict[str, Any] = json.loads(stdout)
    assert {"version", "command", "sheet", "day"} <= set(found), found
    assert ("data" in found) != ("error" in found), found
    return found


def data_of(stdout: str) -> Any:
    """The command's result; fails, showing the error, when the command printed one."""
    found = envelope(stdout)
    assert "data" in found, found["error"]
    return found["data"]


def error_of(stdout: str) -> dict[str, Any]:
    """The error a command printed: code, kind, message (and details)."""
    found = envelope(stdout)
    assert "error" in found, found
    error: dict[str, Any] = found["error"]
    return error
