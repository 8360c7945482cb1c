"""How fast the Excel backend reads and rewrites a big Prospects tab. Prints timings.

    /work/venv/bin/python tests/benchmarks/bench_xlsx_write.py --rows 200000

Builds a workbook shaped like one Excel saves (shared strings, date styles, a Summary tab
with COUNTIF formulas), then times, each in a fresh process so peak memory is its own:
reading the tab, a first refresh that fills two owned columns and adds two new ones on every
row, a second refresh with the same values (nothing to write), and a one-cell change.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
import zipfile
from datetime import date, timedelta
from pathlib import Path

from _harness import arguments, peak_mb, run_step

COLUMNS = 18
HEADERS = [
    "ID", "Company", "Contact", "Email", "Phone", "Owner", "Stage", "Segment", "Value",
    "Created", "Last contact", "Last outcome", "Attempts", "Follow up on", "Channel", "Notes",
    "Next follow-up", "Status",
]  # fmt: skip
NEXT, STATUS = 17, 18
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def letters(column: int) -> str:
    text = ""
    while column:
        column, rest = divmod(column - 1, 26)
        text = chr(65 + rest) + text
    return text


def build(path: Path, rows: int) -> None:
    strings: dict[str, int] = {}

    def sst(text: str) -> int:
        return strings.setdefault(text, len(strings))

    epoch = date(1899, 12, 30)
    refs = [letters(c) for c in range(1, COLUMNS + 1)]
    out = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<worksheet xmlns="{MAIN}" xmlns:r="{REL}"><dimension ref="A1:R{rows + 1}"/>'
        '<sheetViews><sheetView workbookViewId="0"/></sheetViews>'
        '<sheetFormatPr defaultRowHeight="15"/><sheetData>'
    ]
    header = "".join(f'<c r="{refs[i]}1" t="s"><v>{sst(h)}</v></c>' for i, h in enumerate(HEADERS))
    out.append(f'<row r="1" spans="1:{COLUMNS}">{header}</row>')
    for r in range(2, rows + 2):
        n = r - 1
        created = (date(2023, 1, 1) + timedelta(days=n % 700) - epoch).days
        cells = [
            f'<c r="A{r}" t="s"><v>{sst(f"P{n:06d}")}</v></c>',
            f'<c r="B{r}" t="s"><v>{sst(f"Company {n % 50000}")}</v></c>',
            f'<c r="C{r}" t="s"><v>{sst(f"Contact {n}")}</v></c>',
            f'<c r="D{r}" t="s"><v>{sst(f"c{n}@example.com")}</v></c>',
            f'<c r="E{r}" t="s"><v>{sst(f"+31 20 {n:07d}")}</v></c>',
            f'<c r="F{r}" t="s"><v>{sst(["ann", "bob", "cy", "dee"][n % 4])}</v></c>',
            f'<c r="G{r}" t="s"><v>{sst(["new", "contacted", "quote"][n % 3])}</v></c>',
            f'<c r="H{r}" t="s"><v>{sst(["retail", "industry"][n % 2])}</v></c>',
            f'<c r="I{r}"><v>{n * 13 % 9000}</v></c>',
            f'<c r="J{r}" s="1"><v>{created}</v></c>',
            f'<c r="K{r}" s="1"><v>{created + 3}</v></c>',
            f'<c r="L{r}" t="s"><v>{sst(["no answer", "voicemail", "reached"][n % 3])}</v></c>',
            f'<c r="M{r}"><v>{n % 5}</v></c>',
            f'<c r="N{r}" s="1"/>',
            f'<c r="O{r}" t="s"><v>{sst("phone")}</v></c>',
            f'<c r="P{r}" t="s"><v>{sst(f"note {n % 1000}")}</v></c>',
            f'<c r="Q{r}" s="1"/>',
            f'<c r="R{r}"/>',
        ]
        out.append(f'<row r="{r}" spans="1:{COLUMNS}">{"".join(cells)}</row>')
    out.append('</sheetData><pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" '
               'header="0.3" footer="0.3"/></worksheet>')  # fmt: skip
    sheet = "".join(out).encode()
    items = "".join(f"<si><t>{t}</t></si>" for t in strings)
    shared = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="{MAIN}" '
        f'count="{len(strings)}" uniqueCount="{len(strings)}">{items}</sst>'
    )
    summary = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{MAIN}">'
        '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>due</t></is></c>'
        '<c r="B1"><f>COUNTIF(Prospects!R:R,A1)</f><v>0</v></c></row></sheetData></worksheet>'
    )
    styles = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<styleSheet xmlns="{MAIN}">'
        '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
        '</cellStyleXfs><cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" '
        'xfId="0"/><xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" '
        'applyNumberFormat="1"/></cellXfs></styleSheet>'
    )
    workbook = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="{MAIN}" '
        f'xmlns:r="{REL}"><sheets><sheet name="Prospects" sheetId="1" r:id="rId1"/>'
        '<sheet name="Summary" sheetId="2" r:id="rId2"/></sheets><calcPr calcId="191029"/>'
        "</workbook>"
    )
    rels = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{PKG}">'
        f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{REL}/worksheet" Target="worksheets/sheet2.xml"/>'
        f'<Relationship Id="rId3" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>'
        f'<Relationship Id="rId4" Type="{REL}/styles" Target="styles.xml"/></Relationships>'
    )
    content_types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://schemas.'
        'openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType='
        '"application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
        'ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{CT}.sheet.main+xml"/>'
        f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{CT}.worksheet+xml"/>'
        f'<Override PartName="/xl/worksheets/sheet2.xml" ContentType="{CT}.worksheet+xml"/>'
        f'<Override PartName="/xl/sharedStrings.xml" ContentType="{CT}.sharedStrings+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{CT}.styles+xml"/></Types>'
    )
    root_rels = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{PKG}">'
        f'<Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("[Content_Types].xml", content_types)
        package.writestr("_rels/.rels", root_rels)
        package.writestr("xl/workbook.xml", workbook)
        package.writestr("xl/_rels/workbook.xml.rels", rels)
        package.writestr("xl/styles.xml", styles)
        package.writestr("xl/sharedStrings.xml", shared)
        package.writestr("xl/worksheets/sheet1.xml", sheet)
        package.writestr("xl/worksheets/sheet2.xml", summary)


def refresh_changes(rows: int, variant: int) -> list[object]:
    from sheetfollow.sheet import CellWrite, TabChanges

    cells = []
    for r in range(2, rows + 2):
        cells.append(CellWrite(r, NEXT, date(2024, 6, 1) + timedelta(days=(r + variant) % 30)))
        cells.append(CellWrite(r, STATUS, ["due", "overdue", "scheduled"][(r + variant) % 3]))
        cells.append(CellWrite(r, COLUMNS + 1, f"{r % 5 + 1} of 5"))
        cells.append(CellWrite(r, COLUMNS + 2, f"Attempt {r % 5 + 1}: no answer since Monday"))
    headers = {COLUMNS + 1: "Step", COLUMNS + 2: "Why"}
    return [TabChanges("Prospects", new_headers=headers, cells=cells)]


def step(kind: str, path: Path, rows: int) -> dict[str, float]:
    """One measured step, run inside its own process."""
    from sheetfollow.backends.xlsx import XlsxBackend
    from sheetfollow.sheet import CellWrite, TabChanges

    backend = XlsxBackend(path, backups=1)
    changes: list[object] = []
    if kind in ("refresh", "same-again"):
        changes = refresh_changes(rows, 0)
    elif kind == "one-cell":
        changes = [TabChanges("Prospects", cells=[CellWrite(rows // 2, STATUS, "won")])]
    started = time.perf_counter()
    if kind == "read":
        table = backend.read_tab("Prospects")
        assert table is not None and len(table.rows) == rows + 1
        cells = 0
    else:
        cells = backend.write(changes).cells_written  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    peak = peak_mb()
    return {"seconds": seconds, "peak_mb": peak, "cells_written": cells}


def main() -> None:
    args = arguments(__doc__, rows=200_000)
    if args.step:
        print(json.dumps(step(args.step, Path(args.path), args.rows)))
        return
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "source.xlsx"
        started = time.perf_counter()
        build(source, args.rows)
        print(
            f"built {args.rows:,} rows x {COLUMNS} columns: {source.stat().st_size / 1e6:.1f} MB "
            f"in {time.perf_counter() - started:.1f} s"
        )
        results: dict[str, list[dict[str, float]]] = {}
        for _ in range(args.repeat):
            work = Path(folder) / "pipeline.xlsx"
            work.write_bytes(source.read_bytes())
            for kind in ("read", "refresh", "same-again", "one-cell"):
                results.setdefault(kind, []).append(run_step(__file__, kind, work, args.rows))
        for kind, runs in results.items():
            seconds = statistics.median(r["seconds"] for r in runs)
            peak = statistics.median(r["peak_mb"] for r in runs)
            cells = int(runs[0]["cells_written"])
            print(f"{kind:>10}: {seconds:6.2f} s  peak {peak:6.0f} MB  cells written {cells:,}")


if __name__ == "__main__":
    main()
