"""The local tier on tiny generated models: prompt layout, cancellation, one inference at a
time, budgets and KV-cache reuse."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from models.templates import build_prompt
from tiers.base import CancelledError, CancelToken, CompletionRequest, Mode
from tiers.llama_engine import EngineConfig, LlamaEngine
from tiers.local import LocalTier
from tiers.settings import LocalSettings

QWEN_IDS = {"<|fim_prefix|>": 151659, "<|fim_middle|>": 151660, "<|fim_suffix|>": 151661}


def _settings(**kw) -> LocalSettings:
    base = {"threads": 1, "context_size": 1024, "time_budget_ms": 0}
    base.update(kw)
    return LocalSettings(**base)


def _request(prefix: str, suffix: str = "", **kw) -> CompletionRequest:
    return CompletionRequest(uri="file:///t.py", version=1, prefix=prefix, suffix=suffix, **kw)


@pytest.fixture(scope="module")
def qwen_engine(tiny_qwen_model: Path) -> LlamaEngine:
    engine = LlamaEngine(EngineConfig(tiny_qwen_model, n_ctx=1024, n_threads=1))
    yield engine
    engine.close()


def test_fim_tokens_are_where_the_template_says(qwen_engine: LlamaEngine):
    assert qwen_engine.template.family == "qwen"
    tokens = qwen_engine.tokenize(build_prompt(qwen_engine.template, "def f(x):\n    ", "\n"))
    pre, suf, mid = (QWEN_IDS[t] for t in ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"))
    assert tokens[0] == pre
    assert tokens[-1] == mid
    assert tokens.count(suf) == 1 and 0 < tokens.index(suf) < len(tokens) - 1
    # Code that spells a control token stays text: no extra control ids appear.
    tricky = qwen_engine.tokenize(build_prompt(qwen_engine.template, "x = '<|fim_middle|>'", ""))
    assert tricky.count(mid) == 1


def test_greedy_generation_is_deterministic(qwen_engine: LlamaEngine):
    prompt = qwen_engine.tokenize(build_prompt(qwen_engine.template, "import os\n", ""))
    qwen_engine.reset_cache()
    a = qwen_engine.generate(prompt, max_tokens=12, cancel=CancelToken())
    qwen_engine.reset_cache()
    b = qwen_engine.generate(prompt, max_tokens=12, cancel=CancelToken())
    assert a.text == b.text and a.tokens == b.tokens == 12


def test_cancellation_stops_within_a_token(qwen_engine: LlamaEngine):
    prompt = qwen_engine.tokenize(build_prompt(qwen_engine.template, "def g():\n", ""))
    cancel = CancelToken()
    calls = 0

    def watcher(_text: str) -> None:
        nonlocal calls
        calls += 1
        if calls == 5:
            cancel.cancel("newer keystroke")

    gen = qwen_engine.generate(prompt, max_tokens=500, cancel=cancel, should_stop=watcher)
    assert gen.stop_reason == "cancelled"
    assert gen.tokens <= 6  # the token being decoded when the cancel came, and no more


def test_cancel_from_another_thread_ends_generation_quickly(qwen_engine: LlamaEngine):
    prompt = qwen_engine.tokenize(build_prompt(qwen_engine.template, "class A:\n", ""))
    cancel = CancelToken()
    timer = threading.Timer(0.05, cancel.cancel)
    timer.start()
    t0 = time.perf_counter()
    gen = qwen_engine.generate(prompt, max_tokens=100_000 // 100, cancel=cancel)
    timer.cancel()
    assert gen.stop_reason == "cancelled" and gen.tokens < 1000
    assert time.perf_counter() - t0 < 5


def test_time_budget_stops_generation(qwen_engine: LlamaEngine):
    prompt = qwen_engine.tokenize(build_prompt(qwen_engine.template, "x = 1\n", ""))
    gen = qwen_engine.generate(
        prompt, max_tokens=900, cancel=CancelToken(), deadline=time.monotonic() + 0.01
    )
    assert gen.stop_reason == "budget"
    assert gen.tokens < 900


def test_appending_to_the_prompt_reuses_the_cache_and_matches_fresh_output(
    qwen_engine: LlamaEngine,
):
    tpl = qwen_engine.template
    first = qwen_engine.tokenize(build_prompt(tpl, "def area(r):\n    return", ""))
    qwen_engine.reset_cache()
    qwen_engine.generate(first, max_tokens=4, cancel=CancelToken())
    longer = first + qwen_engine.tokenize([" 3.14 * r"])
    reused = qwen_engine.generate(longer, max_tokens=8, cancel=CancelToken())
    assert reused.evaluated_tokens < len(longer) // 2
    qwen_engine.reset_cache()
    fresh = qwen_engine.generate(longer, max_tokens=8, cancel=CancelToken())
    assert fresh.evaluated_tokens == len(longer)
    assert reused.text == fresh.text


async def test_one_inference_at_a_time(tiny_qwen_model: Path):
    active = 0
    peak = 0
    lock = threading.Lock()

    class CountingEngine(LlamaEngine):
        def generate(self, *args, **kwargs):
            nonlocal active, peak
            with lock:
                active += 1
                peak = max(peak, active)
            try:
                return super().generate(*args, **kwargs)
            finally:
                with lock:
                    active -= 1

    tier = LocalTier(_settings(max_tokens=16), tiny_qwen_model, engine_factory=CountingEngine)
    try:
        assert await tier.wait_ready()
        requests = [_request(f"value_{i} = ", mode=Mode.SINGLE_LINE) for i in range(6)]
        results = await asyncio.gather(*(tier.complete(r, CancelToken()) for r in requests))
        assert len(results) == 6
        assert peak == 1
    finally:
        await tier.aclose()


async def test_cancelled_while_queued_never_runs(tiny_qwen_model: Path):
    tier = LocalTier(_settings(max_tokens=64), tiny_qwen_model)
    try:
        assert await tier.wait_ready()
        first = asyncio.ensure_future(tier.complete(_request("a = "), CancelToken()))
        queued_token = CancelToken()
        queued = asyncio.ensure_future(tier.complete(_request("b = "), queued_token))
        queued_token.cancel("superseded")
        with pytest.raises(CancelledError):
            await queued
        await first
    finally:
        await tier.aclose()


async def test_missing_model_file_is_reported_not_raised(tmp_path: Path):
    tier = LocalTier(_settings(), tmp_path / "nope.gguf")
    try:
        assert not await tier.wait_ready()
        assert "not found" in tier.load_error.user_message
        assert await tier.complete(_request("x = "), CancelToken()) is None
        assert not tier.info().available
    finally:
        await tier.aclose()


async def test_broken_model_file_is_reported_not_raised(tmp_path: Path, tiny_qwen_model: Path):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(tiny_qwen_model.read_bytes()[: 1 << 20])  # truncated
    tier = LocalTier(_settings(), broken)
    try:
        assert not await tier.wait_ready()
        assert "broken.gguf" in str(tier.load_error)
    finally:
        await tier.aclose()


async def test_mistral_family_is_detected_and_prompt_is_suffix_first(tiny_mistral_model: Path):
    engine = LlamaEngine(EngineConfig(tiny_mistral_model, n_ctx=512, n_threads=1))
    try:
        assert engine.template.family == "mistral"
        tokens = engine.tokenize(build_prompt(engine.template, "PREFIX_TEXT", "SUFFIX_TEXT"))
        suffix_id, prefix_id = engine.special_id("[SUFFIX]"), engine.special_id("[PREFIX]")
        assert tokens.index(suffix_id) < tokens.index(prefix_id)
        assert tokens[0] == engine._llm.token_bos()  # SentencePiece models start with BOS
    finally:
        engine.close()


def test_a_moved_context_chunk_is_shifted_not_recomputed(tiny_model_factory):
    """Dropping a repository-context chunk moves the chunks after it: their KV cells are
    shifted (llama.cpp sequence remove/add) instead of evaluated again. With one layer, keys
    and values depend only on the token and its position, so shifting is exact and greedy
    output must equal a fresh evaluation."""
    from tests.support.tiny_gguf import QWEN25_CODER_TOKENS
    from tiers.base import ContextChunk
    from tiers.local import _context_tokens

    model = tiny_model_factory("qwen2", arch="qwen2", rename_tokens=QWEN25_CODER_TOKENS,
                               quant="Q8_0", n_layer=1)
    engine = LlamaEngine(EngineConfig(model, n_ctx=2048, n_threads=1))
    try:
        chunks = [ContextChunk(f"pkg/mod_{i}.py", f"def helper_{i}(x):\n    return x * {i}\n" * 4)
                  for i in range(4)]

        def prompt(ctx):
            pieces = build_prompt(engine.template, "def main():\n    return helper_",
                                  "\n", context=ctx, path="main.py")
            return engine.tokenize(pieces), _context_tokens(engine, pieces)

        first, limit1 = prompt(chunks)
        engine.reset_cache()
        engine.generate(first, max_tokens=4, cancel=CancelToken(), shift_limit=limit1)
        moved, limit2 = prompt(chunks[1:])  # the first chunk is gone: the rest moved up
        shifted = engine.generate(moved, max_tokens=12, cancel=CancelToken(), shift_limit=limit2)
        # Only the new file header before the moved chunks, and the last token, were evaluated.
        assert shifted.evaluated_tokens < len(moved) // 4, (shifted.evaluated_tokens, len(moved))
        engine.reset_cache()
        fresh = engine.generate(moved, max_tokens=12, cancel=CancelToken())
        assert fresh.evaluated_tokens == len(moved)
        assert shifted.text == fresh.text
    finally:
        engine.close()


def test_an_edit_next_to_the_cursor_is_never_shifted_over(qwen_engine: LlamaEngine):
    """Typing in the prefix of a FIM prompt changes what the suffix after it should attend
    to: the suffix is evaluated again, and the output equals a fresh evaluation."""
    tpl = qwen_engine.template
    suffix = "\n\n\ndef other(a, b):\n    return a - b\n" * 3
    before = qwen_engine.tokenize(build_prompt(tpl, "def add(a, b):\n    return a", suffix))
    after = qwen_engine.tokenize(build_prompt(tpl, "def add(a, b):\n    return a +", suffix))
    qwen_engine.reset_cache()
    qwen_engine.generate(before, max_tokens=4, cancel=CancelToken())
    typed = qwen_engine.generate(after, max_tokens=8, cancel=CancelToken())
    qwen_engine.reset_cache()
    fresh = qwen_engine.generate(after, max_tokens=8, cancel=CancelToken())
    assert typed.text == fresh.text
    assert typed.evaluated_tokens < len(after)  # the common prefix was still reused
