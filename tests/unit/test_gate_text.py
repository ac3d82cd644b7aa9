"""The text-only gate: skip where a suggestion is useless, otherwise single or multi-line."""

from __future__ import annotations

import pytest

from lsp_server.config import Config
from lsp_server.pipeline import text_gate
from tiers.base import Mode

S, M, SKIP = Mode.SINGLE_LINE, Mode.MULTI_LINE, Mode.SKIP


@pytest.mark.parametrize(
    ("prefix", "suffix", "mode", "reason"),
    [
        # inside a word
        pytest.param("x = fo", "o()\n", SKIP, "inside a word", id="middle of identifier"),
        pytest.param("x = foo_", "bar\n", SKIP, "inside a word", id="after underscore"),
        pytest.param("x = foo", "_bar\n", SKIP, "inside a word", id="before underscore"),
        pytest.param("s = 'naï", "ve'\n", SKIP, "inside a word", id="non-ASCII word"),
        pytest.param("x = 1", "2\n", SKIP, "inside a word", id="inside a number"),
        pytest.param("x = foo", "(1)\n", S, "line", id="end of identifier before paren"),
        pytest.param("x = foo", "\n", S, "line", id="end of identifier at end of line"),
        pytest.param("x = ", "foo\n", S, "line", id="before a word after a space"),
        pytest.param("x = foo", "\nbar\n", S, "line", id="word on the next line only"),
        # text right of the cursor
        pytest.param("x = f(", ")\n", S, "line", id="closer only"),
        pytest.param("x = f(", ")]}'\";,:  \n", S, "line", id="many closers"),
        pytest.param("x = f(", "a, b, c, d, e)\n", S, "line", id="short text right"),
        pytest.param(
            "if ",
            " and some_condition(x):\n",
            SKIP,
            "text right of the cursor",
            id="long text right",
        ),
        pytest.param("x = ", "   \n" + "y" * 100, S, "line", id="long text on the next line"),
        # multi-line for an empty block body
        pytest.param("def f(x):\n    ", "\n", M, "empty block", id="empty python body"),
        pytest.param("function f() {\n  ", "\n}\n", M, "empty block", id="empty brace body"),
        pytest.param("def f(x):\n    ", "\n    return 1\n", S, "line", id="body present"),
        pytest.param("", "", S, "line", id="empty document"),
    ],
)
def test_text_gate(prefix: str, suffix: str, mode: Mode, reason: str) -> None:
    cfg = Config()
    decision = text_gate(prefix, suffix, cfg)
    assert (decision.mode, decision.reason) == (mode, reason)
    expected_tokens = {
        SKIP: 0,
        S: cfg.local.max_tokens,
        M: cfg.local.max_tokens_multiline,
    }[mode]
    assert decision.max_tokens == expected_tokens


@pytest.mark.parametrize(("limit", "rest", "skip"), [(3, "abc)\n", False), (3, "abcd)\n", True)])
def test_max_chars_right_is_the_configured_limit(limit: int, rest: str, skip: bool) -> None:
    cfg = Config()
    cfg.completion.max_chars_right = limit
    decision = text_gate("x = f(", rest, cfg)
    assert (decision.mode == SKIP) is skip


def test_token_budgets_come_from_the_config() -> None:
    cfg = Config()
    cfg.local.max_tokens, cfg.local.max_tokens_multiline = 7, 77
    assert text_gate("x = ", "\n", cfg).max_tokens == 7
    assert text_gate("def f():\n    ", "\n", cfg).max_tokens == 77
