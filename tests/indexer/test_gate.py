"""The gate's decisions, as a table: `|` marks the cursor."""

from __future__ import annotations

import time

import pytest

from indexer.gate import MULTI_LINE_TOKENS, SINGLE_LINE_TOKENS, decide
from tiers.base import Mode

S, M, K = Mode.SINGLE_LINE, Mode.MULTI_LINE, Mode.SKIP

CASES = [
    # (language, source with cursor, mode, reason contains)
    ("python", "x = foo|bar\n", K, "inside a word"),
    ("python", "x = foo(|)\n", S, "code"),
    ("python", "result = compute(|\n", S, "code"),
    ("python", "foo(|, bar, baz, qux)\n", K, "right of the cursor"),
    ("python", "# a comment |\nx = 1\n", K, "comment"),
    ("python", 'x = "abc |def"\n', K, "string"),
    ("python", 'x = "abc"|\n', S, "code"),
    ("python", 'x = f"{|}"\n', S, "code"),
    ("python", 'x = "unterminated |\n', K, "string"),
    ("python", '"""Module doc |\nmore\n"""\n', K, "string"),
    ("python", "def f():\n    |\n", M, "empty block"),
    ("python", "def f():\n    |\n\ndef g():\n    pass\n", M, "empty block"),
    ("python", "class A:\n    |\n", M, "empty block"),
    ("python", "def f():\n    x = 1\n    |\n    return x\n", S, "code"),
    ("python", "if ready:\n    |\n", M, "empty block"),
    ("javascript", "function f() {\n  |\n}\n", M, "empty block"),
    ("javascript", "const s = `a ${|}`;\n", S, "code"),
    ("javascript", "const s = `a |`;\n", K, "string"),
    ("javascript", "// note |\n", K, "comment"),
    ("typescript", "class A {\n  |\n}\n", M, "empty block"),
    ("go", "func main() {\n\t|\n}\n", M, "empty block"),
    ("rust", "fn main() {\n    let x = |\n}\n", S, "code"),
    ("rust", "/// docs |\nfn f() {}\n", K, "comment"),
    ("c", "/* c |*/ int x;", K, "comment"),
    ("c", "/* c */| int x;", S, "code"),
    ("cpp", "int main() {\n  // note |\n}\n", K, "comment"),
    ("java", 'String s = "a|";\n', K, "string"),
    ("csharp", "class A {\n    void M() {\n        |\n    }\n}\n", M, "empty block"),
    ("ruby", "def greet\n  |\nend\n", M, "empty block"),
    ("php", "<?php\nfunction f() {\n    |\n}\n", M, "empty block"),
    ("sql", "-- comment |\n", K, "comment"),
    ("lua", "local s = 'x|\n", K, "string"),
    ("plaintext", "hello |\n", S, "code"),
    ("plaintext", "block:\n  |\n", M, "empty block"),
]


def _split(source: str) -> tuple[str, int, int]:
    i = source.index("|")
    text = source[:i] + source[i + 1 :]
    line = text.count("\n", 0, i)
    col = i - (text.rfind("\n", 0, i) + 1)
    return text, line, col


@pytest.mark.parametrize(("language", "source", "mode", "reason"), CASES)
def test_decisions(language, source, mode, reason):
    text, line, col = _split(source)
    decision = decide(text, line, col, language)
    assert decision.mode is mode, decision
    assert reason in decision.reason
    expected_tokens = {S: SINGLE_LINE_TOKENS, M: MULTI_LINE_TOKENS, K: 0}[mode]
    assert decision.max_tokens == expected_tokens


def test_comments_and_strings_when_allowed():
    text, line, col = _split("# a comment |\n")
    assert decide(text, line, col, "python", allow_in_comments=True).mode is S
    text, line, col = _split('x = "abc |"\n')
    assert decide(text, line, col, "python", allow_in_strings=True).mode is S


def test_cursor_outside_the_text():
    assert decide("x = 1\n", 5, 0, "python").mode is K
    assert decide("x = 1\n", 0, 99, "python").mode is K


def test_path_picks_the_grammar_when_the_language_id_is_unknown():
    text, line, col = _split('x = "abc |"\n')
    assert decide(text, line, col, "", path="/w/a.py").reason == "in a string"


def test_fast_on_a_long_file():
    body = "".join(
        f"def function_{i}(a, b):\n    '''Doc {i}.'''\n    return a + b * {i}\n\n"
        for i in range(500)
    )
    lines = body.split("\n")
    assert len(lines) >= 2000
    decide(body, 1000, 4, "python", path="/bench/long.py")  # first call: a full parse
    timings = []
    text = body
    for i in range(50):  # typing: one character more each time
        line = 1001
        pos = sum(len(x) + 1 for x in lines[:line]) + 4 + i
        text = text[:pos] + "x" + text[pos:]
        # CPU time of this thread: what the gate costs, whatever else the machine runs.
        start = time.thread_time()
        decide(text, line, 5 + i, "python", path="/bench/long.py")
        timings.append(time.thread_time() - start)
    timings.sort()
    assert timings[len(timings) // 2] < 0.002  # median under 2 ms
