"""Incremental re-parsing: turn text edits into tree-sitter `InputEdit`s.

Edits come from the editor as ranges in (line, column in code points) of the text before the
edit; tree-sitter wants byte offsets and (row, byte column) points. When no edits are known,
`diff_edit` finds the one changed region between two versions (common prefix and suffix,
compared with memcmp-speed slice comparisons), which is what a keystroke produces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tree_sitter import Parser, Tree

Pos = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace the text between `start` and `end` (0-based line, code-point column) by `text`."""

    start: Pos
    end: Pos
    text: str


def _line_starts(text: str) -> list[int]:
    starts = [0]
    find = text.find
    i = find("\n")
    while i >= 0:
        starts.append(i + 1)
        i = find("\n", i + 1)
    return starts


def _offset(text: str, starts: list[int], pos: Pos) -> int | None:
    line, col = pos
    if line < 0 or col < 0:
        return None
    if line >= len(starts):
        return len(text)  # past the end: editors send this for appends
    line_end = starts[line + 1] - 1 if line + 1 < len(starts) else len(text)
    return min(starts[line] + col, line_end)


def _point(data: bytes, offset: int) -> tuple[int, int]:
    row = data.count(b"\n", 0, offset)
    return (row, offset - (data.rfind(b"\n", 0, offset) + 1))


def apply_edits(text: str, edits: Sequence[Edit], tree: Tree | None) -> str | None:
    """Apply `edits` in order to `text`, telling `tree` about each; None if one is invalid."""
    for edit in edits:
        starts = _line_starts(text)
        start = _offset(text, starts, edit.start)
        end = _offset(text, starts, edit.end)
        if start is None or end is None or end < start:
            return None
        if tree is not None:
            old = text.encode("utf-8", "replace") if not text.isascii() else text.encode()
            start_byte = len(text[:start].encode("utf-8", "replace"))
            old_end_byte = start_byte + len(text[start:end].encode("utf-8", "replace"))
            new_bytes = edit.text.encode("utf-8", "replace")
            new_end_byte = start_byte + len(new_bytes)
            start_point = _point(old, start_byte)
            old_end_point = _point(old, old_end_byte)
            if b"\n" in new_bytes:
                new_end_point = (
                    start_point[0] + new_bytes.count(b"\n"),
                    len(new_bytes) - (new_bytes.rfind(b"\n") + 1),
                )
            else:
                new_end_point = (start_point[0], start_point[1] + len(new_bytes))
            tree.edit(start_byte, old_end_byte, new_end_byte, start_point, old_end_point,
                      new_end_point)
        text = text[:start] + edit.text + text[end:]
    return text


def _common_prefix(a: bytes, b: bytes) -> int:
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:  # largest n with a[:n] == b[:n]
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: bytes, b: bytes, limit: int) -> int:
    lo, hi = 0, limit
    la, lb = len(a), len(b)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[la - mid : la - lo] == b[lb - mid : lb - lo]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def changed_region(old: bytes, new: bytes) -> tuple[int, int, int] | None:
    """(start, old_end, new_end) byte offsets of the one region where `new` differs."""
    if old == new:
        return None
    start = _common_prefix(old, new)
    while start > 0 and start < len(old) and (old[start] & 0xC0) == 0x80:
        start -= 1  # never split a UTF-8 sequence
    suffix = _common_suffix(old, new, min(len(old), len(new)) - start)
    while suffix > 0 and (old[len(old) - suffix] & 0xC0) == 0x80:
        suffix -= 1
    return start, len(old) - suffix, len(new) - suffix


def diff_edit(old: bytes, new: bytes, tree: Tree) -> None:
    """Tell `tree` (parsed from `old`) about the single region where `new` differs."""
    region = changed_region(old, new)
    if region is None:
        return
    start, old_end, new_end = region
    tree.edit(start, old_end, new_end, _point(old, start), _point(old, old_end),
              _point(new, new_end))


def reparse(parser: Parser, old_src: bytes, old_tree: Tree | None, new_src: bytes) -> Tree:
    """Parse `new_src`, reusing `old_tree` (which must match `old_src`) when there is one."""
    if old_tree is None:
        return parser.parse(new_src)
    tree = old_tree.copy()
    diff_edit(old_src, new_src, tree)
    return parser.parse(new_src, tree)
