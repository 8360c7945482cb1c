"""What a staged write reads back before it is flushed, and what the flush writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from xlsx_fixtures import minimal_workbook, sheet_document

from sheetfollow.backends.xlsx import XlsxBackend
from sheetfollow.sheet import CellWrite, TabChanges
from sheetfollow.staged import Staged


def _number(value: Any) -> Any:
    return float(value) if isinstance(value, int) else value


VALUES = st.one_of(st.none(), st.just(""), st.text(alphabet="ab ", max_size=3), st.integers(0, 9))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    appended=st.lists(st.lists(VALUES, max_size=5), min_size=1, max_size=5),
    # Cells written below the rows are written a value: a staged empty cell there would
    # count as a row (the file has none), so the rows appended would read one row lower.
    written=st.lists(
        st.one_of(
            st.tuples(st.integers(1, 2), st.integers(1, 6), VALUES),
            st.tuples(st.integers(3, 9), st.integers(1, 6), st.integers(0, 9)),
        ),
        max_size=6,
    ),
)
def test_rows_appended_read_as_they_will_be_written(
    tmp_path_factory: Any, appended: list[list[Any]], written: list[tuple[int, int, Any]]
) -> None:
    """Cells written and rows appended in one change, over a tab of two rows: the staged
    tab reads as the flushed file does (an empty text reads as nothing; the rows appended
    go below the last row that holds or gets a value)."""
    path = Path(tmp_path_factory.mktemp("staged")) / "book.xlsx"
    rows = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>When</t></is></c>'
        '<c r="B1" t="inlineStr"><is><t>ID</t></is></c></row>'
        '<row r="2"><c r="A2"><v>1</v></c><c r="B2" t="inlineStr"><is><t>P1</t></is></c></row>'
    )
    minimal_workbook(path, {"Log": sheet_document(rows)})
    staged = Staged(XlsxBackend(path))
    cells = [CellWrite(row, column, value) for row, column, value in written]
    staged.write([TabChanges("Log", cells=cells, append_rows=appended)])
    seen = staged.read_tab("Log")
    assert seen is not None
    staged.flush()
    read = XlsxBackend(path).read_tab("Log")
    assert read is not None

    def trimmed(grid: list[list[Any]]) -> list[list[Any]]:
        # Numbers read back as floats (an empty text must already read as None).
        out = [[_number(v) for v in r] for r in grid]
        width = max((len(r) for r in out), default=0)
        out = [r + [None] * (width - len(r)) for r in out]
        while out and all(v is None for v in out[-1]):
            out.pop()
        while width and all(r[width - 1] is None for r in out):
            width -= 1
            out = [r[:width] for r in out]
        return out

    assert trimmed(seen.rows) == trimmed(read.rows)
    filled = [r for r in appended if any(v not in (None, "") for v in r)]
    if filled:  # the last row holding a value is the last row appended holding one
        last = [v for v in trimmed(seen.rows)[-1] if v is not None]
        assert last == [_number(v) for v in filled[-1] if v not in (None, "")]


def test_a_tab_is_let_go_only_when_nothing_is_staged_and_it_reads_again_cheaply(
    tmp_path: Path,
) -> None:
    """What was read of a tab is let go when its parse-cache entry can give it again and
    nothing is staged for it; read again, it is the same."""
    path = tmp_path / "book.xlsx"
    rows = '<row r="1"><c r="A1"><v>1</v></c></row><row r="2"><c r="A2"><v>2</v></c></row>'
    minimal_workbook(path, {"Log": sheet_document(rows)})
    uncached = Staged(XlsxBackend(path, cached_tabs=["Log"]))
    assert uncached.read_tab("Log") is not None
    assert not uncached.release("Log")  # no .sheetfollow folder: reading again is a parse

    (tmp_path / ".sheetfollow").mkdir()
    staged = Staged(XlsxBackend(path, cached_tabs=["Log"]))
    first = staged.read_tab("Log")
    assert first is not None and staged.release("Log")
    again = staged.read_tab("Log")
    assert again is not None and again.rows == first.rows and again.rows is not first.rows

    staged.write([TabChanges("Log", cells=[CellWrite(3, 1, 3)])])
    assert not staged.release("Log")  # a change staged: the view is what reads it
    assert not staged.release("Nowhere")
