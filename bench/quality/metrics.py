"""Scoring of one completion against its reference: exact match and edit similarity."""

from __future__ import annotations

import re


def first_line(text: str) -> str:
    """The text up to its first line end (may be empty when the text starts with one)."""
    return text.split("\n", 1)[0]


def first_nonempty_line(text: str) -> str:
    """The first line with something other than whitespace, stripped; "" when there is none."""
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.strip():
            return line.strip()
    return ""


def exact_match(generated: str, reference: str) -> bool:
    """Exact match of the first non-empty lines after strip (the Qwen2.5-Coder FIM metric).

    An empty generation never matches, even an empty reference.
    """
    got = first_nonempty_line(generated)
    return bool(got) and got == first_nonempty_line(reference)


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def identifier_match(generated: str, reference: str) -> bool:
    """The first identifier of the first non-empty lines is the same (on the cross-file API
    set: the member the line uses, CrossCodeEval's identifier match in its simplest form)."""
    got = _IDENTIFIER.search(first_nonempty_line(generated))
    want = _IDENTIFIER.search(first_nonempty_line(reference))
    return bool(got and want) and got.group(0) == want.group(0)


def _lcs_length(a: str, b: str) -> int:
    if len(a) < len(b):
        a, b = b, a
    prev = [0] * (len(b) + 1)
    for ca in a:
        cur = [0]
        for j, cb in enumerate(b):
            cur.append(prev[j] + 1 if ca == cb else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def edit_similarity(generated: str, reference: str) -> float:
    """Similarity in [0, 1] of the first non-empty lines: 1 - indel distance / total length.

    The same quantity as `rapidfuzz.fuzz.ratio` / 100, the edit similarity CrossCodeEval
    reports. Two empty lines are identical (1.0).
    """
    a, b = first_nonempty_line(generated), first_nonempty_line(reference)
    if not a and not b:
        return 1.0
    return 2 * _lcs_length(a, b) / (len(a) + len(b))
