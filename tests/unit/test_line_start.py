"""A cursor on a line holding only indentation: the prompt ends at the previous line's end and
the model's answer is mapped back to the cursor."""

from __future__ import annotations

import pytest

from tiers.base import CompletionRequest, Mode
from tiers.postprocess import from_line_start, line_start_split, postprocess


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("def f():\n    ", ("def f():", "\n    ")),
        ("def f():\r\n    ", ("def f():", "\r\n    ")),
        ("x = 1\n", ("x = 1", "\n")),
        ("x = 1\n    y", None),  # text already typed on the line
        ("    ", None),  # first line: no previous line to end at
        ('    """doc"""\n\n', ('    """doc"""', "\n\n")),  # blank lines before the cursor
        ("x = 1\r\n  \r\n  ", ("x = 1", "\r\n  \r\n  ")),
        ("\n\n    ", None),  # only blank lines before the cursor
    ],
)
def test_line_start_split(prefix, expected):
    assert line_start_split(prefix) == expected


@pytest.mark.parametrize(
    ("raw", "typed", "expected"),
    [
        ("", "\n    ", ("", 0)),
        ("\n  ", "\n    ", ("", 0)),  # still writing the indentation
        ("\n    return x", "\n    ", ("return x", 5)),
        ("\n        deeper()", "\n    ", ("    deeper()", 5)),  # more indented than typed
        ("\nreturn x", "\n    ", ("return x", 1)),  # less indented: code starts at the cursor
        (": int", "\n    ", None),  # went on writing the previous line
        ("\n\n    return x", "\n    ", ("return x", 6)),  # a blank line first: dropped
        ("\n    mean = 1", "\n\n", ("    mean = 1", 1)),  # typed holds a blank line
        ("\r\n    x", "\r\n    ", ("x", 6)),
    ],
)
def test_from_line_start(raw, typed, expected):
    assert from_line_start(raw, typed) == expected


def test_an_indented_closing_brace_is_not_the_suffix_brace():
    request = CompletionRequest(
        uri="file:///a.js", version=1, mode=Mode.SINGLE_LINE,
        prefix="function f(xs) {\n  if (xs) {\n    return 1;\n", suffix="\n}\n",
    )
    assert postprocess(request, "  }") == "  }"


@pytest.mark.parametrize(
    ("language", "raw", "expected"),
    [
        ("python", "result = []  # Initialize an empty list", "result = []"),
        ("python", "url = 'http://x#frag'  # note", "url = 'http://x#frag'"),
        ("python", "# a comment line stays", "# a comment line stays"),
        ("javascript", "let n = 0; // counter", "let n = 0;"),
        ("javascript", "const u = 'a//b';", "const u = 'a//b';"),
        ("lua", "x = 1 -- kept: unknown leader", "x = 1 -- kept: unknown leader"),
    ],
)
def test_a_comment_narrating_generated_code_is_dropped(language, raw, expected):
    request = CompletionRequest(uri="file:///a", version=1, prefix="\n", suffix="\n",
                                language_id=language, mode=Mode.SINGLE_LINE)
    assert postprocess(request, raw) == expected


@pytest.mark.parametrize(
    ("prefix", "raw", "expected"),
    [
        # the block starts by repeating the line above the cursor: it starts at its 2nd line
        ("if (c) {\n    a++;\n} else {\n", "} else {\n    b--;", "    b--;"),
        ("    } else {\n        ", "} else {\n        b--;", "b--;"),
        # a different first line stays
        ("} else {\n", "    b--;\n    c++;", "    b--;\n    c++;"),
    ],
)
def test_a_block_repeating_the_line_above_starts_after_it(prefix, raw, expected):
    request = CompletionRequest(uri="file:///a.js", version=1, prefix=prefix, suffix="\n",
                                language_id="javascript", mode=Mode.MULTI_LINE)
    assert postprocess(request, raw) == expected
