"""The prompt layout that keeps a keystroke from changing anything before the suffix."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.templates import MISTRAL, QWEN, Special, build_prompt, render
from tiers.base import CancelToken, CompletionRequest
from tiers.local import LocalTier, window
from tiers.postprocess import line_start_split
from tiers.settings import LocalSettings

SUFFIX = "".join(f"    value_{i} = compute({i})\n" for i in range(12))


@given(
    lines=st.lists(st.text(alphabet="ab =(\t", max_size=12), min_size=1, max_size=90),
    step=st.integers(min_value=1, max_value=16),
)
def test_the_middle_is_the_end_of_the_window_split_at_a_line_end(lines: list[str], step: int):
    prefix = "\n".join(lines)
    whole = window(prefix, "", 64, 16)
    win = window(prefix, "", 64, 16, middle_lines=step)
    assert win.prefix + win.middle == whole.prefix
    if len(whole.prefix.split("\n")) > 1:
        assert win.middle.startswith("\n")
        # the split sits on a line whose number (within the window) is a multiple of `step`,
        # or at the current line's start for the first `step` lines
        head_lines = win.prefix.count("\n") + 1
        current = whole.prefix.count("\n")
        assert head_lines % step == 0 or head_lines == current
    else:
        assert win.middle == ""


def test_typing_on_a_line_changes_only_the_middle():
    before = "".join(f"line_{i} = {i}\n" for i in range(21))
    states = [before + "resu", before + "result = li", before + "result = line_3 +\n    x"]
    wins = [window(s, SUFFIX, 64, 16, middle_lines=8) for s in states]
    assert len({w.prefix for w in wins}) == 1  # the part before the suffix stays
    assert wins[0].middle == "\nline_16 = 16\nline_17 = 17\nline_18 = 18\nline_19 = 19" \
        "\nline_20 = 20\nresu"
    # every 8 lines the split moves on
    later = window(before + "a = 1\n" * 3 + "b", SUFFIX, 64, 16, middle_lines=8)
    assert later.middle == "\nb" and later.prefix != wins[0].prefix


def test_the_middle_follows_the_middle_marker_and_suffix_first_families_keep_it_in_the_prefix():
    pieces = build_prompt(QWEN, "def f():", "\nprint(f())", middle="\n    return")
    assert pieces[-2:] == [Special(QWEN.middle), "\n    return"]
    assert render(pieces).index("<|fim_suffix|>") < render(pieces).index("return")
    spm = render(build_prompt(MISTRAL, "def f():", "\nprint(f())", middle="\n    return"))
    assert spm.endswith("[PREFIX]def f():\n    return")


def _request(prefix: str, suffix: str) -> CompletionRequest:
    return CompletionRequest(uri="file:///t.py", version=1, prefix=prefix, suffix=suffix,
                             max_tokens=4)


@pytest.mark.parametrize("middle_lines", [8, 0])
async def test_a_keystroke_evaluates_only_the_typed_tokens(tiny_qwen_model: Path,
                                                           middle_lines: int):
    """With the middle layout, the next keystroke costs the new characters, not the suffix."""
    settings = LocalSettings(threads=1, context_size=1024, time_budget_ms=0,
                             middle_lines=middle_lines)
    tier = LocalTier(settings, tiny_qwen_model)
    try:
        before = "".join(f"item_{i} = load({i})\n" for i in range(10)) + "total = item_1"
        await tier.complete(_request(before, SUFFIX), CancelToken())
        second = await tier.complete(_request(before + " + item_2", SUFFIX), CancelToken())
        assert second is not None
        suffix_tokens = tier._engine.count_tokens(SUFFIX)
        if middle_lines:
            assert second.evaluated_tokens <= 6
        else:  # the classic layout evaluates the suffix again after the change
            assert second.evaluated_tokens > suffix_tokens
    finally:
        await tier.aclose()


async def test_the_first_keystroke_on_a_new_line_reuses_the_blank_line_prompt(
    tiny_qwen_model: Path,
):
    """A blank cursor line keeps the classic layout (whole lines before the suffix); the first
    character typed on it then only adds the middle: the suffix is not evaluated again."""
    tier = LocalTier(LocalSettings(threads=1, context_size=1024, time_budget_ms=0), tiny_qwen_model)
    try:
        assert await tier.wait_ready()
        engine = tier._engine
        before = "".join(f"item_{i} = load({i})\n" for i in range(10)) + "    "
        split = line_start_split(before)
        assert split is not None
        blank, _ = tier._prompt_tokens(engine, _request(split[0], SUFFIX), 4)
        typed, _ = tier._prompt_tokens(engine, _request(before + "t", SUFFIX), 4, 1)
        assert typed[: len(blank)] == blank
        assert len(typed) - len(blank) <= 4 < engine.count_tokens(SUFFIX)
    finally:
        await tier.aclose()


def test_token_healing_regenerates_the_last_token_among_those_with_its_text(tiny_qwen_model):
    from tiers.llama_engine import EngineConfig, LlamaEngine

    engine = LlamaEngine(EngineConfig(tiny_qwen_model, n_ctx=512, n_threads=1))
    try:
        import llama_cpp

        vocab = engine._llm._model.vocab
        pieces = [engine._piece(t) for t in range(engine._n_vocab)]
        for prefix in (b" ", b"re", b"\xff\xff"):
            brute = {t for t, p in enumerate(pieces) if p.startswith(prefix) and p
                     and not llama_cpp.llama_vocab_is_control(vocab, t)}
            assert {int(i) for i in engine.tokens_starting_with(prefix)} == brute
        prompt = engine.tokenize([Special(QWEN.prefix), "x = 1", Special(QWEN.suffix), "",
                                  Special(QWEN.middle), "    return"])
        shorter, healed = engine.heal(prompt)
        assert shorter == prompt[:-1] and healed and b"return".endswith(healed.strip())
        gen = engine.generate(shorter, max_tokens=1, cancel=CancelToken(), healed=healed)
        first = healed + gen.text.encode()
        assert gen.stop_reason != "eog"
        assert first in {pieces[int(t)] for t in engine.tokens_starting_with(healed)}
        # a prompt ending in a control token has nothing to heal
        ends_in_marker = engine.tokenize([Special(QWEN.prefix), "x", Special(QWEN.middle)])
        assert engine.heal(ends_in_marker) == (ends_in_marker, b"")
    finally:
        engine.close()


async def test_an_answer_that_goes_on_with_the_previous_line_is_asked_again(tiny_qwen_model):
    """Fault injection: the model's first answer continues the line above the blank cursor
    line (nothing to show); the tier asks again with the cursor line as the document has it."""
    from tiers.llama_engine import LlamaEngine

    prompts: list[list[int]] = []

    class PreviousLineFirst(LlamaEngine):
        def generate(self, prompt, **kw):
            prompts.append(list(prompt))
            gen = super().generate(prompt, **kw)
            if len(prompts) == 1:
                gen.text, gen.stop_reason = "  # the line above goes on", "stop"
            return gen

    tier = LocalTier(LocalSettings(threads=1, context_size=1024, time_budget_ms=0),
                     tiny_qwen_model, engine_factory=PreviousLineFirst)
    try:
        before = "def f(x):\n    y = x + 1\n    "
        await tier.complete(_request(before, "\n    return y\n"), CancelToken())
        assert len(prompts) == 2
        engine = tier._engine
        # the second prompt holds the cursor line's indentation, the first does not
        assert engine.count_tokens("\n    ") and prompts[1] != prompts[0]
        assert len(prompts[1]) > len(prompts[0])
    finally:
        await tier.aclose()
