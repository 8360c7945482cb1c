"""Status colours for a Status column the writer adds to a workbook it did not make.

A starter workbook colours its Status column with conditional formats (starter.py): overdue
red, due orange, new blue and so on, in the team's language. A workbook a team already had
gets the same colours on the Status column its first refresh adds: a differential format per
colour appended to styles.xml (<dxfs>), and one <conditionalFormatting> block on the new
column placed where the schema wants it in the worksheet. Formats the team has are never
touched: nothing is renumbered, the new rules take priorities after theirs.

Like the rest of the writer this edits text, not a DOM: the sheet arrives in pieces and only
what follows </sheetData> (usually a few hundred bytes) is held and edited.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sheetfollow.backends import _xlsxml as xml
from sheetfollow.sheet import TabChanges

if TYPE_CHECKING:
    from sheetfollow.starter import _Look

#: Children of <worksheet> that come after <sheetData> and before <conditionalFormatting>
#: in CT_Worksheet's sequence (ECMA-376 Part 1, 18.3.1.99), and conditionalFormatting
#: itself. Everything else that may follow sheetData (dataValidations, hyperlinks,
#: printOptions, pageMargins, pageSetup, headerFooter, rowBreaks, colBreaks,
#: customProperties, cellWatches, ignoredErrors, smartTags, drawing, legacyDrawing,
#: legacyDrawingHF, drawingHF, picture, oleObjects, controls, webPublishItems, tableParts,
#: extLst, and mc:AlternateContent around controls) comes after the new block.
_BEFORE_FORMATS = frozenset(
    {
        "sheetCalcPr",
        "sheetProtection",
        "protectedRanges",
        "scenarios",
        "autoFilter",
        "sortState",
        "dataConsolidate",
        "customSheetViews",
        "mergeCells",
        "phoneticPr",
        "conditionalFormatting",
    }
)

#: Children of <styleSheet> that come after <dxfs> in CT_Stylesheet's sequence (numFmts,
#: fonts, fills, borders, cellStyleXfs, cellXfs, cellStyles, dxfs, tableStyles, colors,
#: extLst).
_AFTER_DXFS = re.compile(rb"<(?:[\w.-]+:)?(?:tableStyles|colors|extLst)(?=[\s/>])")
_BEFORE_DXFS = (b"cellStyles", b"cellXfs", b"cellStyleXfs", b"borders", b"fills", b"fonts")

#: One markup token: a comment, a processing instruction, CDATA, or a tag (attribute values
#: may hold ">").
_TOKEN = re.compile(
    rb"<!--.*?-->|<\?.*?\?>|<!\[CDATA\[.*?\]\]>"
    rb"|<(/?)((?:[\w.-]+:)?)([\w.-]+)((?:[^>\"']|\"[^\"]*\"|'[^']*')*?)(/?)>",
    re.DOTALL,
)
_PRIORITY = re.compile(rb"""\spriority\s*=\s*["'](\d+)["']""")


@dataclass(frozen=True)
class StatusRule:
    """One colour of the Status column: its formula (on the column's first data cell) and
    the differential format it shows."""

    formula: str
    dxf_id: int


def status_colours(
    styles: xml.StyleSheet, change: TabChanges, writes: xml.Writes
) -> Callable[[bytes, bytes], bytes] | None:
    """When `change` adds the Status column: the starter's status colours added to
    `styles`, and the edit that puts the rules on the new column (the part of the worksheet
    after </sheetData> and the sheet's namespace prefix -> the new part). None when the
    change adds no Status column, or the workbook has no styles part to hold the colours."""
    column = next((c for c, name in change.new_fields.items() if name == "status"), None)
    if column is None or styles.data is None or styles.part is None:
        return None
    # Imported here: only a write that adds the Status column needs the starter's colours.
    from sheetfollow import starter

    letters = xml.column_letters(column)
    first_row = change.header_row + 1
    written = max(writes.by_row, default=first_row)
    # Below the last prospect, as much room for the rows people add as a starter has.
    last_row = written + starter.LAST_ROW
    first_cell = f"{letters}{first_row}"
    looks = [
        (rule_formula(first_cell, look, change.language), look) for look in starter._STATUS_LOOKS
    ]
    first_id = add_dxfs(styles, [dxf_markup(look.fill, look.text) for _, look in looks])
    rules = [StatusRule(formula, first_id + i) for i, (formula, _) in enumerate(looks)]
    sqref = f"{first_cell}:{letters}{last_row}"

    def edit(tail: bytes, prefix: bytes) -> bytes:
        return add_conditional_formatting(tail, prefix, sqref, rules)

    return edit


def rule_formula(first_cell: str, look: _Look, language: str) -> str:
    """The starter's formula for one colour (every word the Status cell may hold for it, in
    the team's language and in English), on `first_cell`."""
    from sheetfollow import starter, vocab

    # A language without starter words of its own is written in English.
    language = language if language in vocab.STATUS_NAMES else "en"
    return starter.status_formula(first_cell, look, language)


def dxf_markup(fill: str | None, text: str) -> str:
    """A differential format: the text colour and (as Excel writes a solid fill in one)
    the fill as a background colour. Without the namespace prefix: add_dxfs adds it."""
    shade = f'<fill><patternFill><bgColor rgb="FF{fill}"/></patternFill></fill>' if fill else ""
    return f'<dxf><font><color rgb="FF{text}"/></font>{shade}</dxf>'


def add_dxfs(styles: xml.StyleSheet, dxfs: list[str]) -> int:
    """Append differential formats to styles.xml (creating <dxfs> where the schema wants
    it); the index of the first. Existing ones keep their indexes: tables and the team's
    own rules refer to them."""
    data = styles.data
    if data is None:
        raise xml.DamagedPart("the workbook has no styles part")
    root = xml._start_tag(data, b"styleSheet")
    if root is None:
        raise xml.DamagedPart(f"{styles.part} has no <styleSheet>")
    prefix = root.group(1)
    markup = b"".join(_prefixed(dxf, prefix) for dxf in dxfs)
    opening = xml._start_tag(data, b"dxfs")
    if opening is None:
        block = b'<%sdxfs count="%d">%s</%sdxfs>' % (prefix, len(dxfs), markup, prefix)
        at = _dxfs_place(data, prefix, root.end())
        styles.data = data[:at] + block + data[at:]
        styles.changed = True
        return 0
    if opening.group(0).endswith(b"/>"):
        existing = 0
    else:
        close = data.find(b"</%sdxfs>" % prefix, opening.end())
        if close < 0:
            raise xml.DamagedPart(f"{styles.part}: <dxfs> is not closed")
        dxf = re.compile(rb"<" + re.escape(prefix) + rb"dxf(?=[\s/>])")
        existing = len(dxf.findall(data, opening.end(), close))
    data = xml.insert_before_close(data, b"dxfs", markup)
    opening = xml._start_tag(data, b"dxfs")
    assert opening is not None
    tag = xml.set_attr(opening.group(0), b"count", str(existing + len(dxfs)).encode())
    styles.data = data[: opening.start()] + tag + data[opening.end() :]
    styles.changed = True
    return existing


def _dxfs_place(data: bytes, prefix: bytes, start: int) -> int:
    """Where a new <dxfs> goes: after the cell formats and styles, before tableStyles,
    colors or extLst (searched past the cell styles, which may hold an extLst of their own)."""
    for name in _BEFORE_DXFS:
        close = data.find(b"</%s%s>" % (prefix, name), start)
        if close >= 0:
            start = close + len(b"</%s%s>" % (prefix, name))
            break
        empty = re.compile(rb"<" + re.escape(prefix) + name + rb"(?=[\s/])[^>]*/>").search(
            data, start
        )
        if empty is not None:
            start = empty.end()
            break
    follower = _AFTER_DXFS.search(data, start)
    if follower is not None:
        return follower.start()
    close = data.rfind(b"</%sstyleSheet>" % prefix)
    if close < 0:
        raise xml.DamagedPart("the styles part is not closed")
    return close


def add_conditional_formatting(
    tail: bytes, prefix: bytes, sqref: str, rules: list[StatusRule]
) -> bytes:
    """The worksheet's markup after </sheetData> with a <conditionalFormatting> block for
    `rules` on `sqref`: after the sheet's own blocks (or where the first would go), with
    priorities after every existing rule's (x14 ones in the extLst included)."""
    top = max((int(m.group(1)) for m in _rule_priorities(tail)), default=0)
    body = "".join(
        f'<{prefix.decode()}cfRule type="expression" dxfId="{rule.dxf_id}" '
        f'priority="{top + i}" stopIfTrue="1"><{prefix.decode()}formula>'
        f"{xml.escape_text(rule.formula)}</{prefix.decode()}formula></{prefix.decode()}cfRule>"
        for i, rule in enumerate(rules, start=1)
    )
    p = prefix.decode()
    block = f'<{p}conditionalFormatting sqref="{sqref}">{body}</{p}conditionalFormatting>'
    at = _formats_place(tail, prefix)
    return tail[:at] + block.encode() + tail[at:]


def _rule_priorities(tail: bytes) -> list[re.Match[bytes]]:
    found = []
    for token in _TOKEN.finditer(tail):
        if token.group(3) == b"cfRule" and not token.group(1):
            match = _PRIORITY.search(token.group(4) or b"")
            if match is not None:
                found.append(match)
    return found


def _formats_place(tail: bytes, prefix: bytes) -> int:
    """The offset in `tail` before the first child of <worksheet> that comes after the
    conditional formats (or before </worksheet>)."""
    depth = 0
    for token in _TOKEN.finditer(tail):
        if token.group(3) is None:
            continue  # a comment, processing instruction or CDATA
        closing, own, name, selfclosing = (
            token.group(1),
            token.group(2),
            token.group(3),
            token.group(5),
        )
        if closing:
            if depth == 0:
                return token.start()  # </worksheet>
            depth -= 1
            continue
        if depth == 0 and not (own == prefix and name.decode() in _BEFORE_FORMATS):
            return token.start()
        if not selfclosing:
            depth += 1
    raise xml.DamagedPart("the worksheet is not closed")


def _prefixed(markup: str, prefix: bytes) -> bytes:
    """Markup written without a namespace prefix, with the part's prefix on every tag."""
    if not prefix:
        return markup.encode()
    return re.sub(
        r"<(/?)(\w)", lambda m: f"<{m.group(1)}{prefix.decode()}{m.group(2)}", markup
    ).encode()


class AfterSheetData:
    """A worksheet part's output that holds back what follows </sheetData> and hands it on
    edited, once the part is complete (`close`). Everything before passes straight on."""

    def __init__(
        self,
        out: Callable[[bytes | memoryview], object],
        prefix: bytes,
        edit: Callable[[bytes, bytes], bytes],
    ) -> None:
        self.out = out
        self.prefix = prefix
        self.edit = edit
        self.tag = b"</" + prefix + b"sheetData>"
        self.carry = b""
        self.tail: bytearray | None = None

    def __call__(self, chunk: bytes | memoryview) -> None:
        if self.tail is not None:
            self.tail += chunk
            return
        data = self.carry + bytes(chunk)
        at = data.find(self.tag)
        if at < 0:
            # The closing tag may be split between two pieces: its start is kept back.
            keep = len(self.tag) - 1
            if len(data) > keep:
                self.out(data[:-keep])
                data = data[-keep:]
            self.carry = data
            return
        end = at + len(self.tag)
        self.out(data[:end])
        self.carry = b""
        self.tail = bytearray(data[end:])

    def close(self) -> None:
        if self.tail is None:
            raise xml.DamagedPart("the worksheet's <sheetData> is not closed")
        self.out(self.edit(bytes(self.tail), self.prefix))
