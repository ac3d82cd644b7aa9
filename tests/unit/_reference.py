"""Independent reference for LSP positions: a plain Python re-statement of the specification,
used to check `lsp_server.positions` and `lsp_server.documents` against.

Lines end at "\\n", "\\r\\n" or a lone "\\r" (and nowhere else: not at U+2028, form feed, ...).
"""

from __future__ import annotations

ENCODINGS = ("utf-8", "utf-16", "utf-32")

# Pieces the generated texts are made of: ASCII, 2-, 3- and 4-byte UTF-8 characters, astral
# characters (a surrogate pair in UTF-16), combining marks, every LSP line end, and characters
# that str.splitlines() would take for line ends but LSP does not.
PIECES = (
    "a",
    "Z",
    "_",
    " ",
    "\t",
    "(",
    ")",
    "é",
    "ß",
    "中",
    "文",
    "€",
    "😀",
    "🐍",
    "𝔘",
    "\U0010ffff",
    "e\u0301",
    "\n",
    "\r",
    "\r\n",
    "\u2028",
    "\x0c",
    "\x85",
)


def units(s: str, encoding: str) -> int:
    """Code units of `s` in an LSP position encoding, as Python's codecs count them."""
    if encoding == "utf-8":
        return len(s.encode("utf-8"))
    if encoding == "utf-16":
        return len(s.encode("utf-16-le")) // 2
    return len(s.encode("utf-32-le")) // 4


def line_starts(text: str) -> list[int]:
    starts = [0]
    i = 0
    while i < len(text):
        if text.startswith("\r\n", i):
            i += 2
            starts.append(i)
        elif text[i] in "\r\n":
            i += 1
            starts.append(i)
        else:
            i += 1
    return starts


def line_bounds(text: str, line: int) -> tuple[int, int]:
    """(start, end) string offsets of a line's content, without its line end."""
    starts = line_starts(text)
    start = starts[line]
    end = starts[line + 1] if line + 1 < len(starts) else len(text)
    while end > start and text[end - 1] in "\r\n":
        end -= 1
    return start, end


def position_of(text: str, offset: int, encoding: str) -> tuple[int, int]:
    """The LSP position of a string offset that is not inside a "\\r\\n"."""
    starts = line_starts(text)
    line = max(i for i, s in enumerate(starts) if s <= offset)
    return line, units(text[starts[line] : offset], encoding)


def inside_crlf(text: str, offset: int) -> bool:
    return 0 < offset < len(text) and text[offset - 1] == "\r" and text[offset] == "\n"
