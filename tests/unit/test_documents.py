"""DocumentStore: incremental edits against a plain string, and every way an editor's copy and
ours can diverge."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lsp_server.documents import Change, DocumentStore
from tests.unit._reference import (
    ENCODINGS,
    PIECES,
    inside_crlf,
    line_bounds,
    line_starts,
    position_of,
    units,
)

URI = "file:///w/a.py"
texts = st.lists(st.sampled_from(PIECES), max_size=30).map("".join)
inserts = st.one_of(texts, st.text(st.characters(exclude_categories=("Cs",)), max_size=8))


def _boundaries(text: str) -> list[int]:
    """Offsets an LSP position can name (every one except between "\\r" and "\\n")."""
    return [o for o in range(len(text) + 1) if not inside_crlf(text, o)]


def _position(data: st.DataObject, text: str, offset: int, encoding: str) -> tuple[int, int]:
    """One of the LSP positions that denote `offset`: the exact one, or (at a line end) one
    past the end of the line, or (before a multi-unit character) one inside that character,
    or (at the end of a text that ends with a line end) the line after the last line."""
    line, character = position_of(text, offset, encoding)
    _, end = line_bounds(text, line)
    variants = [(line, character)]
    if offset == end:
        variants.append((line, character + data.draw(st.integers(1, 50), label="past end")))
    elif units(text[offset], encoding) > 1:
        variants.append((line, character + units(text[offset], encoding) - 1))
    if offset == len(text) and text.endswith(("\n", "\r")):
        variants.append((len(line_starts(text)), 0))
    return data.draw(st.sampled_from(variants), label="position")


@settings(max_examples=120, deadline=None)
@given(texts, st.sampled_from(ENCODINGS), st.data())
def test_random_edit_sequences_match_a_plain_string(text: str, encoding: str, data) -> None:
    store = DocumentStore(encoding)
    store.open(URI, "python", 1, text)
    expected = text
    notifications = data.draw(st.integers(1, 8), label="notifications")
    for version in range(2, 2 + notifications):
        changes: list[Change] = []
        # Each change in one notification is relative to the text after the previous ones.
        for _ in range(data.draw(st.integers(1, 3), label="changes")):
            offsets = _boundaries(expected)
            a = data.draw(st.sampled_from(offsets), label="start")
            b = data.draw(st.sampled_from(offsets), label="end")
            start, end = min(a, b), max(a, b)
            new = data.draw(inserts, label="new text")
            changes.append(
                Change(
                    new,
                    _position(data, expected, start, encoding),
                    _position(data, expected, end, encoding),
                )
            )
            expected = expected[:start] + new + expected[end:]
        doc = store.change(URI, version, changes)
        assert doc is not None
        assert doc.in_sync
        assert doc.version == version
        assert doc.text == expected
        # The document is served, at the right place, after every step.
        line, character = position_of(expected, len(expected), encoding)
        snap = store.snapshot(URI, line, character)
        assert snap is not None
        assert (snap.text, snap.version, snap.offset) == (expected, version, len(expected))


@pytest.mark.parametrize(
    ("encoding", "start", "end", "new", "expected"),
    [
        # "a😀b\r\nc中d\re": 😀 is 2 UTF-16 units / 4 bytes, 中 3 bytes.
        ("utf-16", (0, 3), (0, 3), "X", "a😀Xb\r\nc中d\re"),
        ("utf-16", (0, 2), (0, 3), "X", "aXb\r\nc中d\re"),  # inside the pair: rounds down
        ("utf-8", (0, 5), (0, 5), "X", "a😀Xb\r\nc中d\re"),
        ("utf-32", (0, 2), (0, 2), "X", "a😀Xb\r\nc中d\re"),
        ("utf-8", (1, 1), (1, 4), "", "a😀b\r\ncd\re"),
        ("utf-16", (0, 4), (1, 0), "", "a😀bc中d\re"),  # joins the lines across "\r\n"
        ("utf-16", (1, 3), (2, 0), " ", "a😀b\r\nc中d e"),  # a lone "\r" is a line end
        ("utf-16", (0, 99), (0, 99), "!", "a😀b!\r\nc中d\re"),  # past the end of the line
        ("utf-16", (2, 1), (2, 1), "\n", "a😀b\r\nc中d\re\n"),
        ("utf-16", (0, 0), (2, 1), "new", "new"),
    ],
)
def test_edit_table(encoding, start, end, new, expected) -> None:
    store = DocumentStore(encoding)
    store.open(URI, "python", 1, "a😀b\r\nc中d\re")
    doc = store.change(URI, 2, [Change(new, start, end)])
    assert doc is not None and doc.in_sync
    assert doc.text == expected


def test_changes_in_one_notification_apply_in_order() -> None:
    store = DocumentStore("utf-16")
    store.open(URI, "python", 1, "abc")
    doc = store.change(
        URI,
        2,
        [
            Change("X", (0, 1), (0, 1)),  # aXbc
            Change("", (0, 0), (0, 2)),  # bc: the range is in the text after the first change
            Change("\n", (0, 2), (0, 2)),  # bc\n
            Change("d", (1, 0), (1, 0)),  # bc\nd
        ],
    )
    assert doc is not None and doc.text == "bc\nd"


def test_full_text_change_replaces_everything() -> None:
    store = DocumentStore()
    store.open(URI, "python", 1, "old")
    changes = [Change("x", (0, 0), (0, 0)), Change("new\n"), Change("!", (1, 0), (1, 0))]
    doc = store.change(URI, 2, changes)
    assert doc is not None and doc.text == "new\n!" and doc.in_sync


def test_incremental_change_for_unknown_document_is_ignored(caplog) -> None:
    store = DocumentStore()
    with caplog.at_level(logging.WARNING, logger="lsp_server.documents"):
        assert store.change(URI, 3, [Change("x", (0, 0), (0, 0))]) is None
    assert URI not in store
    assert store.snapshot(URI, 0, 0) is None
    assert "never opened" in caplog.text


def test_full_text_change_for_unknown_document_opens_it() -> None:
    store = DocumentStore()
    doc = store.change(URI, 4, [Change("hello\n"), Change("!", (1, 0), (1, 0))])
    assert doc is not None
    assert URI in store
    assert (doc.text, doc.version, doc.in_sync) == ("hello\n!", 4, True)
    snap = store.snapshot(URI, 1, 1)
    assert snap is not None and snap.prefix == "hello\n!" and snap.suffix == ""


def test_incremental_changes_before_the_full_text_of_an_unknown_document_are_dropped() -> None:
    store = DocumentStore()
    doc = store.change(URI, 2, [Change("zz", (0, 0), (0, 0)), Change("base")])
    assert doc is not None and doc.text == "base"


@pytest.mark.parametrize("new_version", [1, 3])  # backwards, and the same version again
def test_version_not_increasing_marks_out_of_sync_until_full_text(new_version: int) -> None:
    store = DocumentStore()
    store.open(URI, "python", 3, "abc")
    doc = store.change(URI, new_version, [Change("X", (0, 0), (0, 0))])
    assert doc is not None and not doc.in_sync
    assert store.snapshot(URI, 0, 0) is None
    # Later incremental edits cannot repair it: the base text is unknown.
    doc = store.change(URI, new_version + 5, [Change("Y", (0, 0), (0, 0))])
    assert doc is not None and not doc.in_sync
    assert store.snapshot(URI, 0, 0) is None
    doc = store.change(URI, new_version + 6, [Change("fresh")])
    assert doc is not None and doc.in_sync and doc.text == "fresh"
    snap = store.snapshot(URI, 0, 5)
    assert snap is not None and snap.text == "fresh" and snap.version == new_version + 6


def test_version_gap_is_allowed() -> None:
    """Versions must increase, not be consecutive (LSP: "doesn't need to be consecutive")."""
    store = DocumentStore()
    store.open(URI, "python", 1, "abc")
    doc = store.change(URI, 7, [Change("X", (0, 3), (0, 3))])
    assert doc is not None and doc.in_sync and doc.text == "abcX"


def test_change_without_version_keeps_the_version() -> None:
    store = DocumentStore()
    store.open(URI, "python", 5, "abc")
    doc = store.change(URI, None, [Change("X", (0, 0), (0, 0))])
    assert doc is not None and doc.version == 5 and doc.text == "Xabc" and doc.in_sync


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ((5, 0), (5, 0)),  # line past the end
        ((0, 0), (9, 0)),
        ((-1, 0), (0, 0)),  # negative
        ((0, 0), (0, -1)),
    ],
)
def test_range_outside_the_text_marks_out_of_sync(start, end) -> None:
    store = DocumentStore()
    store.open(URI, "python", 1, "ab\ncd")
    doc = store.change(URI, 2, [Change("X", start, end), Change("Y", (0, 0), (0, 0))])
    assert doc is not None and not doc.in_sync
    assert store.snapshot(URI, 0, 0) is None
    assert store.change(URI, 3, [Change("ok")]) is not None
    assert store.snapshot(URI, 0, 2) is not None


def test_reversed_range_marks_out_of_sync() -> None:
    store = DocumentStore()
    store.open(URI, "python", 1, "ab\ncd")
    doc = store.change(URI, 2, [Change("X", (1, 1), (0, 1))])
    assert doc is not None and not doc.in_sync
    assert store.snapshot(URI, 0, 0) is None


def test_close_forgets_the_document() -> None:
    store = DocumentStore()
    store.open(URI, "python", 1, "abc")
    store.close(URI)
    store.close(URI)  # twice: no error
    assert URI not in store and store.uris() == []
    assert store.snapshot(URI, 0, 0) is None
    assert store.change(URI, 2, [Change("x", (0, 0), (0, 0))]) is None


def test_reopen_resets_state() -> None:
    store = DocumentStore()
    store.open(URI, "python", 5, "abc")
    store.change(URI, 1, [Change("x", (0, 0), (0, 0))])
    store.open(URI, "python", 1, "new")
    snap = store.snapshot(URI, 0, 3)
    assert snap is not None and snap.text == "new" and snap.version == 1


@pytest.mark.parametrize(
    ("encoding", "line", "character", "prefix", "column"),
    [
        ("utf-16", 1, 2, "x😀\r\n中", 1),  # inside the surrogate pair: rounds down
        ("utf-16", 1, 3, "x😀\r\n中😀", 2),
        ("utf-16", 1, 1, "x😀\r\n中", 1),
        ("utf-8", 1, 3, "x😀\r\n中", 1),
        ("utf-8", 0, 100, "x😀", 2),  # past the end of the line
        ("utf-32", 1, 2, "x😀\r\n中😀", 2),
        ("utf-32", 2, 0, "x😀\r\n中😀\r", 0),
    ],
)
def test_snapshot_at_a_position(encoding, line, character, prefix, column) -> None:
    text = "x😀\r\n中😀\rend"
    store = DocumentStore(encoding)
    store.open(URI, "python", 9, text)
    snap = store.snapshot(URI, line, character)
    assert snap is not None
    assert snap.prefix == prefix and snap.prefix + snap.suffix == text
    assert snap.version == 9 and snap.language_id == "python" and snap.uri == URI
    assert snap.line_col == (line, column)


def test_snapshot_past_the_last_line_is_none() -> None:
    store = DocumentStore()
    store.open(URI, "python", 1, "abc")
    assert store.snapshot(URI, 3, 0) is None
