"""Edits to tree-sitter InputEdits: an incremental parse must equal a fresh one."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.incremental import Edit, apply_edits, reparse
from indexer.languages import parser_for

from .conftest import DATA

BASE = (DATA / "sample.py").read_text()


def test_apply_edits_non_ascii_and_multiline():
    text = "a = 'é'\nb = 2\n"
    parser = parser_for("python")
    tree = parser.parse(text.encode())
    edits = [Edit((0, 5), (0, 6), "ü€"), Edit((1, 0), (1, 5), "def f():\n    return 'ö'")]
    new = apply_edits(text, edits, tree)
    assert new == "a = 'ü€'\ndef f():\n    return 'ö'\n"
    incremental = parser.parse(new.encode(), tree)
    assert str(incremental.root_node) == str(parser.parse(new.encode()).root_node)


def test_invalid_edits_are_refused():
    assert apply_edits("abc", [Edit((0, 2), (0, 1), "x")], None) is None
    assert apply_edits("abc", [Edit((-1, 0), (0, 1), "x")], None) is None
    # Past the end appends (editors send this), a column past the line end clamps.
    assert apply_edits("abc", [Edit((5, 0), (5, 0), "\nx")], None) == "abc\nx"
    assert apply_edits("ab\ncd", [Edit((0, 9), (0, 9), "!")], None) == "ab!\ncd"


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=0, max_value=len(BASE)),
    st.integers(min_value=0, max_value=40),
    st.text(alphabet="abc():\n é\"'#=", max_size=12),
)
def test_diff_reparse_equals_fresh_parse(start, length, insert):
    parser = parser_for("python")
    old = BASE.encode()
    tree = parser.parse(old)
    new_text = BASE[:start] + insert + BASE[start + length :]
    new = new_text.encode()
    incremental = reparse(parser, old, tree, new)
    assert str(incremental.root_node) == str(parser.parse(new).root_node)
    assert str(tree.root_node) == str(parser.parse(old).root_node)  # the old tree is untouched
