"""LSP position <-> string offset, checked against an independent reference (property tests)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lsp_server.positions import (
    UTF8,
    UTF16,
    UTF32,
    LineIndex,
    PositionError,
    col_to_units,
    units_to_col,
)
from tests.unit._reference import (
    ENCODINGS,
    PIECES,
    inside_crlf,
    line_bounds,
    line_starts,
    position_of,
    units,
)

texts = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)
# Any code point Python can encode (no lone surrogates: an editor never sends them).
any_texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)
encodings = st.sampled_from(ENCODINGS)

SETTINGS = settings(max_examples=150, deadline=None)


def test_encoding_names_are_the_lsp_ones() -> None:
    assert (UTF8, UTF16, UTF32) == ENCODINGS


@SETTINGS
@given(st.one_of(texts, any_texts))
def test_lines_end_only_at_lsp_line_ends(text: str) -> None:
    idx = LineIndex.of(text)
    starts = line_starts(text)
    assert list(idx.starts) == starts
    assert idx.line_count == len(starts)
    for line in range(len(starts)):
        start, end = line_bounds(text, line)
        assert idx.line_text(line) == text[start:end]


@SETTINGS
@given(st.one_of(texts, any_texts), encodings)
def test_every_offset_maps_to_its_position_and_back(text: str, encoding: str) -> None:
    idx = LineIndex.of(text)
    for offset in range(len(text) + 1):
        if inside_crlf(text, offset):
            continue
        expected = position_of(text, offset, encoding)
        assert idx.position(offset, encoding) == expected
        assert idx.offset(*expected, encoding) == offset


@SETTINGS
@given(texts, encodings)
def test_offset_inside_crlf_is_the_end_of_its_line(text: str, encoding: str) -> None:
    idx = LineIndex.of(text)
    for offset in range(len(text) + 1):
        if inside_crlf(text, offset):
            line, character = idx.position(offset, encoding)
            assert (line, character) == position_of(text, offset - 1, encoding)


@SETTINGS
@given(texts, encodings)
def test_every_valid_position_round_trips(text: str, encoding: str) -> None:
    """Each character boundary of each line, expressed in code units, round-trips exactly."""
    idx = LineIndex.of(text)
    for line in range(len(line_starts(text))):
        start, end = line_bounds(text, line)
        for col in range(end - start + 1):
            character = units(text[start : start + col], encoding)
            offset = idx.offset(line, character, encoding)
            assert offset == start + col
            assert idx.position(offset, encoding) == (line, character)


@SETTINGS
@given(texts, encodings, st.integers(min_value=1, max_value=10**6))
def test_character_past_the_line_end_clamps_to_the_line_end(
    text: str, encoding: str, extra: int
) -> None:
    idx = LineIndex.of(text)
    for line in range(len(line_starts(text))):
        start, end = line_bounds(text, line)
        length = units(text[start:end], encoding)
        assert idx.offset(line, length + extra, encoding) == end


@SETTINGS
@given(texts, st.sampled_from([UTF8, UTF16]))
def test_position_inside_a_character_rounds_down(text: str, encoding: str) -> None:
    """Half a surrogate pair (UTF-16) or the middle of a multi-byte sequence (UTF-8)."""
    idx = LineIndex.of(text)
    for line in range(len(line_starts(text))):
        start, end = line_bounds(text, line)
        for col in range(end - start):
            before = units(text[start : start + col], encoding)
            width = units(text[start + col], encoding)
            for inside in range(1, width):
                assert idx.offset(line, before + inside, encoding) == start + col


@SETTINGS
@given(texts, encodings, st.integers(min_value=0, max_value=5), st.integers(0, 3))
def test_line_past_the_end_raises_except_at_the_end_of_text(
    text: str, encoding: str, beyond: int, character: int
) -> None:
    idx = LineIndex.of(text)
    line = idx.line_count + beyond
    documented_end = beyond == 0 and character == 0 and text.endswith(("\n", "\r"))
    if documented_end:
        assert idx.offset(line, character, encoding) == len(text)
    else:
        with pytest.raises(PositionError):
            idx.offset(line, character, encoding)


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize(("line", "character"), [(-1, 0), (0, -1), (-3, -3)])
def test_negative_positions_raise(encoding: str, line: int, character: int) -> None:
    with pytest.raises(PositionError):
        LineIndex.of("abc\ndef").offset(line, character, encoding)


def test_position_error_is_a_value_error() -> None:
    assert issubclass(PositionError, ValueError)


@SETTINGS
@given(texts, st.integers(min_value=-5, max_value=200))
def test_out_of_range_offsets_clamp_into_the_text(text: str, offset: int) -> None:
    idx = LineIndex.of(text)
    clamped = max(0, min(offset, len(text)))
    assert idx.line_col(offset) == idx.line_col(clamped)


@pytest.mark.parametrize(
    ("line", "encoding", "units_in", "col"),
    [
        ("a😀b", UTF16, 1, 1),
        ("a😀b", UTF16, 2, 1),  # between the two halves of the pair
        ("a😀b", UTF16, 3, 2),
        ("a😀b", UTF16, 4, 3),
        ("a😀b", UTF8, 5, 2),
        ("a😀b", UTF8, 3, 1),
        ("a😀b", UTF32, 2, 2),
        ("中文", UTF8, 3, 1),
        ("中文", UTF8, 4, 1),
        ("中文", UTF16, 1, 1),
        ("é", UTF8, 1, 0),
        ("abc", UTF16, 99, 3),
        ("", UTF8, 5, 0),
        ("x", UTF16, -2, 0),
    ],
)
def test_units_to_col_table(line: str, encoding: str, units_in: int, col: int) -> None:
    assert units_to_col(line, units_in, encoding) == col


@SETTINGS
@given(st.text(st.characters(exclude_categories=("Cs",)), max_size=30), encodings, st.data())
def test_col_to_units_counts_like_the_codecs(line: str, encoding: str, data) -> None:
    col = data.draw(st.integers(min_value=-3, max_value=len(line) + 3))
    clamped = max(0, min(col, len(line)))
    assert col_to_units(line, col, encoding) == units(line[:clamped], encoding)
    assert units_to_col(line, units(line[:clamped], encoding), encoding) == clamped
