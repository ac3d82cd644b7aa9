"""The one place where LSP positions (in the negotiated encoding) meet Python string indices.

LSP counts `character` in UTF-16 code units by default, or UTF-8 bytes / UTF-32 code points when
negotiated; Python strings index code points. Lines end at "\\n", "\\r\\n" or a lone "\\r".
A `character` past the end of its line means the end of the line (as the specification says).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

UTF8, UTF16, UTF32 = "utf-8", "utf-16", "utf-32"
_LINE_END = re.compile(r"\r\n|\r|\n")


class PositionError(ValueError):
    """A position that cannot be in the document (a line past its last line)."""


def _units(ch: str, encoding: str) -> int:
    cp = ord(ch)
    if encoding == UTF16:
        return 2 if cp > 0xFFFF else 1
    if encoding == UTF8:
        return 1 if cp < 0x80 else 2 if cp < 0x800 else 3 if cp < 0x10000 else 4
    return 1


def units_to_col(line: str, units: int, encoding: str) -> int:
    """The code-point column for `units` code units into `line` (clamped to the line's end).

    A position inside a multi-unit character (half a surrogate pair) rounds down to it.
    """
    if units <= 0:
        return 0
    if encoding == UTF32 or line.isascii():
        return min(units, len(line))
    acc = 0
    for i, ch in enumerate(line):
        acc += _units(ch, encoding)
        if acc > units:
            return i
        if acc == units:
            return i + 1
    return len(line)


def col_to_units(line: str, col: int, encoding: str) -> int:
    """Code units of the first `col` code points of `line`."""
    col = max(0, min(col, len(line)))
    if encoding == UTF32 or line.isascii():
        return col
    if encoding == UTF16:
        return col + sum(1 for ch in line[:col] if ord(ch) > 0xFFFF)
    return len(line[:col].encode("utf-8", errors="surrogatepass"))


@dataclass(frozen=True)
class LineIndex:
    """Start offsets of each line of a text, for offset <-> (line, column) conversion."""

    text: str
    starts: tuple[int, ...]

    @classmethod
    def of(cls, text: str) -> LineIndex:
        return cls(text, (0, *(m.end() for m in _LINE_END.finditer(text))))

    @property
    def line_count(self) -> int:
        return len(self.starts)

    def line_text(self, line: int) -> str:
        """The line's text without its line end."""
        start = self.starts[line]
        end = self.starts[line + 1] if line + 1 < len(self.starts) else len(self.text)
        return self.text[start:end].rstrip("\r\n")

    def offset(self, line: int, units: int, encoding: str) -> int:
        """String offset of an LSP position. Raises PositionError for a line past the end."""
        if line < 0 or units < 0:
            raise PositionError(f"negative position ({line}, {units})")
        if line >= len(self.starts):
            # The position just after the last character is the only valid one past it.
            if line == len(self.starts) and units == 0 and self.text.endswith(("\n", "\r")):
                return len(self.text)
            raise PositionError(f"line {line} is past the end ({len(self.starts)} lines)")
        return self.starts[line] + units_to_col(self.line_text(line), units, encoding)

    def line_col(self, offset: int) -> tuple[int, int]:
        """(line, code-point column) of a string offset."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect_right(self.starts, offset) - 1
        return line, offset - self.starts[line]

    def position(self, offset: int, encoding: str) -> tuple[int, int]:
        """LSP (line, character) of a string offset."""
        line, col = self.line_col(offset)
        return line, col_to_units(self.line_text(line), col, encoding)
