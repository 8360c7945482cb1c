"""The one shape of every `--json` output, for scripts.

Each command prints exactly one JSON object on stdout, success or error alike::

    {"version": 1, "command": "due", "sheet": "...", "day": "2026-03-11", "data": ...}
    {"version": 1, "command": "mark", "sheet": "...", "day": "2026-03-11",
     "error": {"code": 6, "kind": "busy", "message": "..."}}

`version` changes only when a script written for the old shape would break (a member
removed, renamed or given another meaning); new members may appear in any version.
sheetfollow/schemas/output.schema.json describes it; the README documents each `data`.

The text is written straight to the stream as it is made: a call list of a million rows is
never held as one string (nor styled by Rich).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from itertools import chain, islice
from typing import TextIO

from sheetfollow.exit_codes import ExitCode

#: The version of the shape. Scripts compare it to the one they were written for.
VERSION = 1

#: What a script branches on when a command failed, by its exit code (see the README's exit
#: codes): a lock is "busy" (retry later), a wrong sheetfollow.toml is "config" (fix it).
KINDS: Mapping[int, str] = {
    ExitCode.ERROR: "unexpected",
    ExitCode.USAGE: "usage",
    ExitCode.CONFIG: "config",
    ExitCode.SHEET: "sheet",
    ExitCode.PROBLEMS: "problems",
    ExitCode.BUSY: "busy",
    ExitCode.DELIVERY: "delivery",
    ExitCode.REMOTE: "remote",
    ExitCode.NO_MATCH: "no_match",
    ExitCode.PENDING: "pending",
    130: "interrupted",
}


def kind_of(code: int) -> str:
    return KINDS.get(code, "unexpected")


def _head(command: str, sheet: str | None, day: date | None) -> str:
    """The envelope up to its last member, in the layout json.dumps(..., indent=2) gives."""
    members = [
        ("version", VERSION),
        ("command", command),
        ("sheet", sheet),
        ("day", day.isoformat() if day is not None else None),
    ]
    lines = [f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}," for k, v in members]
    return "{\n" + "\n".join(lines) + "\n"


def write_data(stream: TextIO, command: str, sheet: str | None, day: date, data: object) -> None:
    """A command's result. A list (or an iterator) is written one item at a time."""
    if isinstance(data, (list, Iterator)):
        write_records(stream, command, sheet, day, data)
        return
    stream.write(_head(command, sheet, day))
    stream.write('  "data": ' + _nested(data) + "\n}\n")
    stream.flush()


def write_records(
    stream: TextIO, command: str, sheet: str | None, day: date, records: Iterable[object]
) -> None:
    """A result that is a list (due's call list), written as each record comes: the same
    text json.dumps(..., indent=2) gives, but flat records go through the C encoder (the
    indenting one is pure Python, and was the slowest part of a big call list)."""
    stream.write(_head(command, sheet, day))
    stream.write('  "data": [')
    first = True
    items = iter(records)
    # A batch at a time: one encoder call and one check for a batch of flat records costs
    # less than one per record, and a big list is still never held whole.
    while batch := list(islice(items, _BATCH)):
        stream.write("\n" if first else ",\n")
        first = False
        if _all_flat(batch):
            stream.write(_flat_records(batch))
        else:
            stream.write(",\n".join(map(_record, batch)))
    stream.write("]\n}\n" if first else "\n  ]\n}\n")
    stream.flush()


def write_error(
    stream: TextIO,
    command: str,
    sheet: str | None,
    day: date | None,
    code: int,
    message: str,
    **details: object,
) -> None:
    """A command that failed: its exit code, the kind of failure, the one-line message, and
    any details a script can act on (the candidates of an ambiguous `mark`)."""
    error: dict[str, object] = {
        "code": int(code),
        "kind": kind_of(code),
        # One line, as on stderr: a message quoting a cell with a line break stays one line.
        "message": " ".join(message.splitlines()),
        **details,
    }
    stream.write(_head(command, sheet, day))
    stream.write('  "error": ' + _nested(error) + "\n}\n")
    stream.flush()


def _nested(value: object) -> str:
    """`value` as indent=2 writes it one level down (a JSON string holds no raw line
    break, so indenting every line is safe)."""
    return json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n  ")


#: Encodes one flat record's members as indent=2 puts them two levels down.
_RECORD_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",\n      ", ": "))
_SCALARS = (str, int, float, bool, type(None))


def _record(item: object) -> str:
    if _flat(item):
        members = _RECORD_ENCODER.encode(item)  # '{"a": 1,\n      "b": 2}'
        return "    {\n      " + members[1:-1] + "\n    }"
    return "    " + json.dumps(item, indent=2, ensure_ascii=False).replace("\n", "\n    ")


#: Records encoded in one call (and held at once) while a list is written.
_BATCH = 512
_SCALAR_TYPES = frozenset(_SCALARS)
#: Between two records of a list encoded by _RECORD_ENCODER, and only there: inside a flat
#: record the separator follows a scalar (never "}") and a text holds no raw line break.
_BETWEEN = "},\n      {"


def _all_flat(batch: list[object]) -> bool:
    """_flat of every item, in a few passes made in C rather than a loop per record."""
    if {dict} != set(map(type, batch)) or not all(batch):
        return False
    records: list[dict[object, object]] = batch  # type: ignore[assignment]
    values = chain.from_iterable(map(dict.values, records))
    return _SCALAR_TYPES.issuperset(map(type, values)) and {str} == set(
        map(type, chain.from_iterable(records))
    )


def _flat_records(batch: list[object]) -> str:
    """What _record gives for each of `batch` (all flat), joined by ",\n"."""
    members = _RECORD_ENCODER.encode(batch)  # '[{"a": 1,\n      "b": 2},\n      {...}]'
    return "    {\n      " + members[2:-2].replace(_BETWEEN, "\n    },\n    {\n      ") + "\n    }"


def _flat(item: object) -> bool:
    """A non-empty dict of text keys and scalar values (nothing the encoder would indent)."""
    return (
        isinstance(item, dict)
        and bool(item)
        and all(type(key) is str for key in item)
        and all(type(value) in _SCALARS for value in item.values())
    )
