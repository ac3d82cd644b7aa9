"""Stop rules and post-processing shared by all tiers: a table of cases, streaming stop
cases, and properties that hold for any model output."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tiers.base import CompletionRequest, Mode
from tiers.postprocess import block_indent, early_stop, initial_mode, postprocess

S, M = Mode.SINGLE_LINE, Mode.MULTI_LINE


def _request(prefix: str, suffix: str, mode: Mode = S) -> CompletionRequest:
    return CompletionRequest("file:///w/a.py", 1, prefix=prefix, suffix=suffix, mode=mode)


# (name, prefix, suffix, mode, raw model output, expected suggestion)
CASES = [
    # --- single line: stop at the end of the line
    ("single line cut at newline", "x = ", "\n", S, "foo(1)\nprint(x)\n", "foo(1)"),
    ("single line trailing spaces dropped", "x = ", "\n", S, "1   \n", "1"),
    ("single line keeps inner spaces", "    return ", "\n", S, "a  +  b\n    c", "a  +  b"),
    # --- a leading line end is only kept where the current line is complete
    ("leading newline after a complete line", "x = 1", "\n", S, "\ny = 2\nz = 3", "\ny = 2"),
    ("leading newline at end of file", "x = 1\n", "", S, "\ny = 2\nz = 3", "\ny = 2"),
    ("leading newline with text right of cursor", "foo(", ")", S, "\nbar", ""),
    # --- suffix overlap on the same line
    ("suffix overlap: closing paren", "x = foo(", ")\n", S, "a, b)", "a, b"),
    ("suffix overlap then next line", "x = foo(", ")\n", S, "a, b)\nprint(x)", "a, b"),
    ("suffix overlap: closing quote", 's = "', '"\n', S, 'hello"', "hello"),
    ("suffix overlap: quote and paren", "print('", "')\n", S, "hi')", "hi"),
    ("suffix overlap: nested closers", "d = {'a': [1, 2", "]}\n", S, ", 3]}", ", 3"),
    ("suffix overlap: partial", "d = {'a': [1, 2", "]}\n", S, ", 3]", ", 3"),
    ("suffix overlap: trailing comment", "x = ", "  # note\n", S, "1  # note", "1"),
    ("no overlap: nothing repeated", "print('", "')\n", S, "hi", "hi"),
    # --- multi-line: stop at the end of the block
    (
        "multi-line stop at dedent",
        "def f(x):\n    ",
        "\n",
        M,
        "y = x + 1\n    return y\nprint(f(1))\n",
        "y = x + 1\n    return y",
    ),
    (
        "multi-line stop at dedent on the last line",
        "def f(x):\n    ",
        "\n",
        M,
        "y = x + 1\n    return y\nprint(f(1))",
        "y = x + 1\n    return y",
    ),
    (
        "multi-line stop at dedent, cursor at column 0",
        "def f(x):\n",
        "",
        M,
        "    y = x + 1\n    return y\nprint(f(1))\n",
        "    y = x + 1\n    return y",
    ),
    (
        "multi-line nested block keeps deeper lines",
        "class A:\n    def f(self):\n        ",
        "\n",
        M,
        "if self.x:\n            return 1\n        return 2\n    def g(self):\n",
        "if self.x:\n            return 1\n        return 2",
    ),
    (
        "multi-line stop at a sibling method",
        "class A:\n    def f(self):\n        ",
        "\n",
        M,
        "pass\n\n    def g(self):\n        pass\n",
        "pass",
    ),
    ("multi-line tabs", "def f():\n\tif x:\n\t\t", "", M, "a\n\t\tb\n\tc\n", "a\n\t\tb"),
    ("multi-line stop at two blank lines", "if x:\n    ", "", M, "a = 1\n\n\n    b = 2", "a = 1"),
    (
        "multi-line stop when lines repeat the suffix",
        "def f(x):\n    ",
        "\n    return y\n",
        M,
        "y = x + 1\n    return y\n",
        "y = x + 1",
    ),
    (
        "multi-line closing brace already in the suffix",
        "function f() {\n  ",
        "\n}\n",
        M,
        "return 1;\n}",
        "return 1;",
    ),
    (
        "multi-line closing brace kept when the suffix lacks it",
        "function f() {\n  ",
        "",
        M,
        "return 1;\n}",
        "return 1;\n}",
    ),
    (
        "multi-line closing brace kept when the suffix lacks it, final newline",
        "function f() {\n  ",
        "",
        M,
        "return 1;\n}\n",
        "return 1;\n}",
    ),
    (
        "multi-line closing bracket kept when the suffix lacks it",
        "x = [\n    ",
        "",
        M,
        "1,\n    2,\n]\ny = 3\n",
        "1,\n    2,\n]",
    ),
    # --- brackets
    ("unbalanced paren trimmed", "x = 1", "\n", S, " + 2))", " + 2"),
    ("one paren closes the prefix", "x = (1", "\n", S, " + 2))", " + 2)"),
    ("balanced brackets kept", "x = ", "\n", S, "(1 + [2, 3])", "(1 + [2, 3])"),
    ("bracket inside a string kept", "print(", ")", S, '"a)")', '"a)"'),
    ("mismatched closer trimmed", "x = [", "\n", S, "1, 2)", "1, 2"),
    # --- nothing useful
    ("whitespace only", "x = ", "\n", S, "   \n  ", ""),
    ("newlines only", "x = ", "\n", S, "\n\n", ""),
    ("empty output", "x = ", "\n", S, "", ""),
    ("only the suffix again", "x = foo(", ")\n", S, ")", ""),
    ("repeats the previous line", "foo = bar(1)\n", "\n", S, "foo = bar(1)", ""),
    ("repeats the previous line, indented", "    foo = bar(1)\n    ", "\n", S, "foo = bar(1)", ""),
    ("similar but not a repeat", "foo = bar(1)\n", "\n", S, "foo = bar(2)", "foo = bar(2)"),
    # --- line ends
    ("CRLF normalised, single line", "x = ", "\r\n", S, "1\r\ny = 2", "1"),
    (
        "CRLF normalised, multi-line",
        "def f():\n    ",
        "",
        M,
        "a = 1\r\n    b = 2\r\nc = 3\r\n",
        "a = 1\n    b = 2",
    ),
]


@pytest.mark.parametrize(
    ("prefix", "suffix", "mode", "raw", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_postprocess_table(prefix: str, suffix: str, mode: Mode, raw: str, expected: str) -> None:
    assert postprocess(_request(prefix, suffix, mode), raw) == expected


# --- the first single / multi-line decision ---------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "suffix", "mode"),
    [
        pytest.param("def f(x):\n    ", "\n", M, id="empty function body"),
        pytest.param("def f(x):\n", "", M, id="empty body, cursor at column 0"),
        pytest.param("if x:\n    ", "\nprint(1)\n", M, id="next line is dedented"),
        pytest.param("if x:\n    ", "\n    y()\n", S, id="body already present"),
        pytest.param("function f() {\n  ", "\n}\n", M, id="brace block"),
        pytest.param("x = foo(", ")\n", S, id="text right of the cursor"),
        pytest.param("x = ", "\n", S, id="text left of the cursor"),
        pytest.param("x = 1\n", "", S, id="previous line opens nothing"),
        pytest.param("", "", S, id="empty document"),
        pytest.param("items.each do\n  ", "\nend\n", M, id="ruby do block"),
        pytest.param("def f(x):\n\n    ", "\n", M, id="blank line between"),
    ],
)
def test_initial_mode(prefix: str, suffix: str, mode: Mode) -> None:
    assert initial_mode(prefix, suffix) == mode


@pytest.mark.parametrize(
    ("prefix", "width"),
    [
        ("def f(x):\n    ", 4),
        ("def f(x):\n", 1),  # deeper than the opener, whatever the model's indent unit
        ("class A:\n    def f(self):\n        ", 8),
        ("    x = 1\n    ", 4),
        ("    x = 1\n", 4),
        ("        y = f(", 8),
        ("\tif x:\n\t\t", 8),
        ("", 0),
    ],
)
def test_block_indent(prefix: str, width: int) -> None:
    assert block_indent(prefix) == width


# --- early_stop while streaming ------------------------------------------------------------


def _stream(request: CompletionRequest, chunks: Iterable[str], **kw) -> list[int | None]:
    """early_stop after each chunk, stopping at the first cut (as a tier does)."""
    text = ""
    results: list[int | None] = []
    for chunk in chunks:
        text += chunk
        cut = early_stop(request, text, **kw)
        results.append(cut)
        if cut is not None:
            break
    return results


@pytest.mark.parametrize(
    ("prefix", "mode", "chunks", "expected"),
    [
        pytest.param(
            "x = ", S, ["foo", "(1)", "\n", "bar"], [None, None, 6], id="single: stop at newline"
        ),
        pytest.param("x = ", S, ["foo(1)\nbar"], [6], id="single: newline inside a chunk"),
        pytest.param(
            "x = 1", S, ["\n", "y = 2", "\n"], [None, None, 6], id="single: leading newline allowed"
        ),
        pytest.param(
            "x = 1", S, ["\n", "\n", "y", "\nz"], [None, None, None, 3], id="single: blank lines"
        ),
        pytest.param(
            "def f(x):\n    ",
            M,
            ["y = 1\n", "    z = 2\n", "print(y)", "\n"],
            [None, None, None, len("y = 1\n    z = 2")],
            id="multi: stop at a dedented line once it is complete",
        ),
        pytest.param(
            "def f(x):\n    ",
            M,
            ["y = 1\n", "\n", "    z = 2\n", "    return z"],
            [None, None, None, None],
            id="multi: one blank line inside the block",
        ),
        pytest.param(
            "if x:\n    ",
            M,
            ["a = 1\n", "\n", "\n"],
            [None, None, len("a = 1")],
            id="multi: two blank lines",
        ),
        pytest.param(
            "def f():\n",
            M,
            ["    a\n", "    b\n", "c\n"],
            [None, None, len("    a\n    b")],
            id="multi: cursor at column 0",
        ),
    ],
)
def test_early_stop_streaming(prefix: str, mode: Mode, chunks: list[str], expected) -> None:
    assert _stream(_request(prefix, "\n", mode), chunks) == expected


def test_early_stop_block_width_override() -> None:
    request = _request("def f(x):\n    ", "\n", M)
    chunks = ["a\n", "  b\n", "c\n"]
    assert _stream(request, chunks) == [None, len("a")]
    assert _stream(request, chunks, block_width=2) == [None, None, len("a\n  b")]


def test_early_stop_ignores_the_first_line_indent() -> None:
    """The first generated line continues the cursor's line: its indentation is not a dedent."""
    request = _request("def f(x):\n    return ", "\n", M)
    assert early_stop(request, "x\n        + 1\n") is None


# --- properties for any model output ------------------------------------------------------

code = st.text(st.sampled_from("ab (){}[]'\":,=\t\n\r  #"), max_size=40)


@settings(max_examples=300, deadline=None)
@given(code, code, code, st.sampled_from([S, M]))
def test_postprocess_is_a_trimmed_prefix_of_the_output(prefix, suffix, raw, mode) -> None:
    out = postprocess(_request(prefix, suffix, mode), raw)
    assert out == "" or out.strip(), "never whitespace-only"
    assert out == out.rstrip(), "no trailing whitespace"
    assert raw.replace("\r\n", "\n").startswith(out), "only ever cuts the model's output"
    if mode == S:
        assert "\n" not in out.lstrip("\n"), "a single-line answer has one line"


# --- brackets the prefix left open, past comments and strings ---------------------------------


@pytest.mark.parametrize(
    ("language_id", "prefix", "raw", "expected"),
    [
        pytest.param("python", "# don't stop here\nx = foo(bar.", "baz).qux", "baz).qux",
                     id="apostrophe in a comment"),
        pytest.param("python", 'msg = "it\'s"\nx = [a.', "b]", "b]", id="apostrophe in a string"),
        pytest.param("python", 'def f():\n    """Don\'t (really)."""\n    return g(h.', "i)",
                     "i)", id="docstring"),
        pytest.param("python", '"""\n' + "line\n" * 300 + '"""\nx = g(h.', "i)", "i)",
                     id="scan window starts inside a docstring"),
        pytest.param("python", "x = (\n" + "    1,\n" * 250 + "    h.", "i)", "i",
                     id="opened before the scan window: not known"),
        pytest.param("javascript", "// it's\nconst x = f(a.", "b);", "b);", id="js comment"),
        pytest.param("javascript", "class A { #p = 1; m() { return g(this.", "x);", "x);",
                     id="js private field is not a comment"),
        pytest.param("javascript", "const s = `a\n(b`;\nh(x.", "y)", "y)",
                     id="template literal across lines"),
        pytest.param("java", "char c = '(';\nfoo(a.", "b)", "b)", id="char literal"),
        pytest.param("python", "x = f(a.", "b))", "b)", id="one too many"),
    ],
)
def test_unclosed_brackets_survive_comments_and_strings(
    language_id: str, prefix: str, raw: str, expected: str
) -> None:
    request = CompletionRequest("file:///w/a", 1, prefix=prefix, suffix="\n", mode=S,
                                language_id=language_id)
    assert postprocess(request, raw) == expected
