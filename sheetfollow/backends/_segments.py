"""Big worksheet parts packed in pieces that can be packed again one at a time.

A zip member is one deflate stream, so changing one row of a 200,000-row sheet meant
unpacking and packing all 190 MB of it again: two seconds of a `mark`. sheetfollow packs
the worksheet parts it writes with a full flush (zlib's Z_FULL_FLUSH) before the first row
of every block of ROWS row numbers. A full flush ends the deflate output on a byte and
forgets everything before it, so each piece unpacks alone, and a piece packed again on its
own takes the old one's place: the stream stays one valid deflate stream that any unzip
reads, and the member's checksum is combined from its pieces' (`crc32_combine`, as zlib
does). Where the pieces end depends on the rows only, so a part is the same bytes whether
it was packed whole or in the pieces a change needed.

Where the pieces of a big part lie (`Table`) is kept beside the parse cache under the
member's content key; a file that another program saved has another key and is rewritten
whole, in pieces again. `included` says which pieces a change of some rows needs: the
first (the part's head, whose dimension may grow) and the last (its end), the one holding
each row, and the one after it when the row may come after every row of its piece (a row
added there). The caller rewrites those pieces with the other ones left out and packs the
result (`Packer`); the pieces in between are copied as they are stored.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from sheetfollow.backends._xlsxml import hides_markup

#: A piece holds the rows of one block of this many row numbers (a quarter of a megabyte
#: of Excel's markup for 18 columns). A `mark` packs three or four pieces again (a
#: millisecond or two each); the pieces cost the deflate stream about 0.5% of its size.
ROWS = 256
#: A part smaller than this is packed as one stream: rewriting it whole costs little.
SMALLEST = 2 << 20

#: The start of a row that names its number, with any prefix: pieces start there only.
_ROW_START = re.compile(rb'<(?:[\w.-]+:)?row(?=[\s/>])[^>]*?\sr="(\d+)"')
_SHEET_DATA = re.compile(rb"<((?:[\w.-]+:)?)sheetData(?=[\s/>])")
#: At most this much of the end of what zipfile gives is held back for the next write
#: (from the last "<": a row's start tag split between two writes is seen whole).
_HELD = 4096


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of a part: the number of the row it starts with (0 for the first, which
    holds the part's head), its length unpacked and packed, and its CRC-32."""

    first_row: int
    raw: int
    packed: int
    crc: int


@dataclass(frozen=True)
class Table:
    """A part's pieces in order, and the compression level they were packed with."""

    segments: tuple[Segment, ...]
    level: int
    #: False when the part holds markup that could hide a row (a comment, CDATA, a
    #: processing instruction after the XML declaration): its rows are then not found by
    #: their start tags alone, and the part is always rewritten whole.
    plain: bool

    @functools.cached_property
    def firsts(self) -> list[int]:
        """Each piece's first row, in order."""
        return [segment.first_row for segment in self.segments]

    @functools.cached_property
    def starts(self) -> list[int]:
        """Where each piece starts among the packed bytes (and, last, where they end)."""
        return list(itertools.accumulate((s.packed for s in self.segments), initial=0))

    def unpack(self, packed: bytes | memoryview, index: int) -> bytes:
        """Piece `index` of the packed bytes `packed`, unpacked and checked (`unpack`)."""
        starts = self.starts
        return unpack(packed[starts[index] : starts[index + 1]], self.segments[index])

    @property
    def raw_size(self) -> int:
        return sum(segment.raw for segment in self.segments)

    @property
    def packed_size(self) -> int:
        return sum(segment.packed for segment in self.segments)

    @property
    def crc(self) -> int:
        return combined_crc(self.segments)

    def sound(self) -> bool:
        """Whether the table can describe a part: a head piece first, then pieces that
        start at rows in rising order, none empty."""
        segments = self.segments
        if not segments or segments[0].first_row != 0:
            return False
        rows = [segment.first_row for segment in segments[1:]]
        if any(b <= a for a, b in itertools.pairwise(rows)) or any(r <= 0 for r in rows):
            return False
        return all(segment.raw > 0 and segment.packed > 0 for segment in segments)

    def to_value(self) -> tuple[object, ...]:
        """The table as plain values (for the cache's file)."""
        flat = tuple(
            value
            for segment in self.segments
            for value in (segment.first_row, segment.raw, segment.packed, segment.crc)
        )
        return ("segments", self.level, self.plain, flat)

    @classmethod
    def from_value(cls, value: object) -> Table | None:
        """What `to_value` made, or None for anything else."""
        if type(value) is not tuple or len(value) != 4 or value[0] != "segments":
            return None
        _, level, plain, flat = value
        if type(level) is not int or type(plain) is not bool or type(flat) is not tuple:
            return None
        if len(flat) % 4 or not all(type(number) is int and number >= 0 for number in flat):
            return None
        segments = tuple(Segment(*flat[at : at + 4]) for at in range(0, len(flat), 4))
        table = cls(segments, level, plain)
        return table if table.sound() else None


class Packer:
    """A deflate compressor (raw, as in a zip member) that ends a piece before the first row
    of each block of ROWS row numbers (rows 1-255 with the part's head, 256-511, ...), and
    lists the pieces. Where the pieces end depends only on the part's rows, and deflate's
    output after a full flush only on what follows, so a part packed whole and one whose
    changed pieces were packed again are the same bytes. It has the methods zipfile calls
    on its own compressor (`compress`, `flush`), so a member written through zipfile can be
    packed this way; `end` finishes a run of pieces that others follow."""

    def __init__(self, level: int, *, first_row: int = 0) -> None:
        self.level = level
        self.segments: list[Segment] = []
        self.plain = True
        self._zip = zlib.compressobj(level, zlib.DEFLATED, -15)
        self._first = first_row
        self._bound = _next_bound(first_row)
        self._raw = self._packed = self._crc = 0
        self._seen = 0
        #: The end of what was given, from its last "<": a tag that may go on in the next.
        self._held = b""
        #: How a row start looks once the sheet's prefix is known (<row r=" or <x:row r=").
        self._row_tag: bytes | None = None

    def compress(self, data: bytes | bytearray | memoryview) -> bytes:
        buf = self._held + bytes(data) if self._held else bytes(data)
        last = buf.rfind(b"<", max(len(buf) - _HELD, 0))
        if last < 0:
            self._held = b""
        else:
            buf, self._held = buf[:last], buf[last:]
        return self._pack(buf)

    def flush(self, mode: int = zlib.Z_FINISH) -> bytes:
        """The rest of the stream: with Z_FINISH (what zipfile asks for) the stream ends."""
        return self.end(final=mode == zlib.Z_FINISH)

    def end(self, *, final: bool) -> bytes:
        """Close the last piece: the end of the stream when `final`, else a full flush (the
        pieces that follow are packed by another Packer)."""
        held, self._held = self._held, b""
        out = self._pack(held)
        tail = self._zip.flush(zlib.Z_FINISH if final else zlib.Z_FULL_FLUSH)
        self._packed += len(tail)
        if self._raw or self._packed:
            self.segments.append(Segment(self._first, self._raw, self._packed, self._crc))
        return out + tail

    def _pack(self, buf: bytes) -> bytes:
        if not buf:
            return b""
        self._watch(buf)
        if self._row_tag is None:
            found = _SHEET_DATA.search(buf)
            if found is not None:
                self._row_tag = b"<" + found.group(1) + b'row r="'
        out: list[bytes] = []
        view = memoryview(buf)
        pos = 0
        for at, row in self._cuts(buf):
            out.append(self._take(view[pos:at]))
            out.append(self._cut(row))
            pos = at
        out.append(self._take(view[pos:]))
        return b"".join(out)

    def _cuts(self, buf: bytes) -> Iterator[tuple[int, int]]:
        """Where in `buf` (whole tags) pieces end: before the first row numbered at or past
        the next block's first number, and the number of that row."""
        pos = 0
        while True:
            bound = self._bound
            # As Excel writes a row, that row is found with one search (rows rise).
            at = -1 if self._row_tag is None else buf.find(b'%s%d"' % (self._row_tag, bound), pos)
            if at >= 0 and _ROW_START.match(buf, at):
                number = bound  # the first row at or past it: rows rise
            else:
                top = last_row_in(buf, pos)
                if top is None or top < bound:
                    return
                found = next(
                    (m for m in _ROW_START.finditer(buf, pos) if int(m.group(1)) >= bound), None
                )
                if found is None:
                    return
                at, number = found.start(), int(found.group(1))
            if at > 0 or self._raw:
                yield at, number
            else:
                self._first = number
            self._bound = _next_bound(number)
            pos = at + 1

    def _take(self, piece: memoryview) -> bytes:
        if not piece:
            return b""
        self._crc = zlib.crc32(piece, self._crc)
        self._raw += len(piece)
        packed = self._zip.compress(piece)
        self._packed += len(packed)
        return packed

    def _cut(self, next_row: int) -> bytes:
        flushed = self._zip.flush(zlib.Z_FULL_FLUSH)
        self._packed += len(flushed)
        self.segments.append(Segment(self._first, self._raw, self._packed, self._crc))
        self._first, self._raw, self._packed, self._crc = next_row, 0, 0, 0
        return flushed

    def _watch(self, buf: bytes) -> None:
        # A comment, CDATA or processing instruction anywhere but the XML declaration (a
        # "<" at the end of a piece is held back: "<!" is never split).
        if not self.plain:
            return
        start = 1 if self._seen == 0 and buf.startswith(b"<?") else 0
        if hides_markup(buf, start):
            self.plain = False
        self._seen += len(buf)


def _next_bound(row: int) -> int:
    """The first row number of the block after the one `row` is in."""
    return (row // ROWS + 1) * ROWS


def included(table: Table, rows: list[int]) -> set[int]:
    """The pieces a change of `rows` surely needs: the first and the last (the part's head
    and its end, which the rewrite checks as XML, and where rows are added), and for each
    row the piece whose rows it lies among (`piece_of`). A row past the last row of its
    piece goes before the first row of the next one, which is then needed too: that is
    known only once the piece is unpacked (`last_row_in`)."""
    chosen = {0, len(table.segments) - 1}
    for row in rows:
        chosen.add(piece_of(table, row))
    return chosen


def piece_of(table: Table, row: int) -> int:
    """The piece whose rows `row` lies among (the last one starting at or before it)."""
    return bisect.bisect_right(table.firsts, row) - 1


def last_row_in(data: bytes, start: int = 0) -> int | None:
    """The number of the last row that starts in `data[start:]` (whole tags), or None."""
    at = len(data)
    while True:
        at = data.rfind(b"row", start, at)
        if at <= start:
            return None
        opening = data.rfind(b"<", start, at)
        if opening >= 0:
            match = _ROW_START.match(data, opening)
            if match is not None:
                return int(match.group(1))


def first_row_of(data: bytes) -> int | None:
    """The number of the row `data` starts with, or None when it does not start a row."""
    match = _ROW_START.match(data)
    return int(match.group(1)) if match is not None else None


def runs(chosen: set[int]) -> list[list[int]]:
    """The chosen pieces grouped in runs of neighbours."""
    grouped: list[list[int]] = []
    for index in sorted(chosen):
        if grouped and grouped[-1][-1] == index - 1:
            grouped[-1].append(index)
        else:
            grouped.append([index])
    return grouped


def unpack(packed: bytes | memoryview, segment: Segment) -> bytes:
    """One piece unpacked alone, checked against its length and checksum; ValueError when
    it is not what the table says."""
    inflater = zlib.decompressobj(-15)
    try:
        data = inflater.decompress(packed, segment.raw + 1)
    except zlib.error as exc:
        raise ValueError(f"a piece does not unpack ({exc})") from None
    if len(data) != segment.raw or zlib.crc32(data) != segment.crc:
        raise ValueError("a piece is not what its table says")
    if inflater.unconsumed_tail or inflater.unused_data:
        raise ValueError("a piece ends before its packed bytes do")
    return data


def combined_crc(segments: tuple[Segment, ...] | list[Segment]) -> int:
    crc = 0
    for segment in segments:
        crc = crc32_combine(crc, segment.crc, segment.raw)
    return crc


def crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """The CRC-32 of A + B from the CRC-32 of A, that of B and B's length (zlib's
    crc32_combine, which Python's zlib does not offer): A's CRC is carried through as many
    zero bytes as B has, by the GF(2) matrices that carry it through 2**k zero bytes for
    each bit k of the length, each applied a byte of the CRC at a time."""
    bit = 0
    while length2:
        if length2 & 1:
            t0, t1, t2, t3 = _operator(bit)
            crc1 = t0[crc1 & 255] ^ t1[(crc1 >> 8) & 255] ^ t2[(crc1 >> 16) & 255] ^ t3[crc1 >> 24]
        length2 >>= 1
        bit += 1
    return crc1 ^ crc2


@functools.lru_cache(maxsize=64)
def _operator(bit: int) -> tuple[list[int], list[int], list[int], list[int]]:
    """The matrix for 2**bit zero bytes, as four tables of what each byte of a CRC gives."""
    matrix = _matrix(bit)
    tables = []
    for byte in range(4):
        rows = matrix[8 * byte : 8 * byte + 8]
        table = [0] * 256
        for value in range(1, 256):
            low = value & -value
            table[value] = table[value ^ low] ^ rows[low.bit_length() - 1]
        tables.append(table)
    return tables[0], tables[1], tables[2], tables[3]


@functools.lru_cache(maxsize=64)
def _matrix(bit: int) -> tuple[int, ...]:
    """The 32x32 GF(2) matrix (a column per bit) that carries a CRC-32 register through
    2**bit zero bytes."""
    if bit == 0:
        one_bit = (0xEDB88320, *(1 << n for n in range(31)))  # one zero bit
        return _square(_square(_square(one_bit)))
    return _square(_matrix(bit - 1))


def _square(matrix: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(_times(matrix, column) for column in matrix)


def _times(matrix: tuple[int, ...], vector: int) -> int:
    total = 0
    row = 0
    while vector:
        if vector & 1:
            total ^= matrix[row]
        vector >>= 1
        row += 1
    return total
