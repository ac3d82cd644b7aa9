"""The completion cache: exact hits, typed-through answers, bounds; and speculation."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lsp_server.config import Config
from lsp_server.documents import Snapshot
from lsp_server.pipeline import CompletionPipeline
from tiers.base import CancelToken, Completion, CompletionRequest, ContextChunk, Mode
from tiers.completion_cache import CompletionCache, request_key
from tiers.local import LocalTier
from tiers.settings import LocalSettings


def _req(prefix: str, suffix: str = "\n", **kw) -> CompletionRequest:
    return CompletionRequest(uri="file:///a.py", version=1, prefix=prefix, suffix=suffix, **kw)


def _done(text: str) -> Completion:
    return Completion(text=text, tier="local", model="m", generated_tokens=5, elapsed_ms=40)


def test_exact_hit_is_marked_cached():
    cache = CompletionCache()
    req = _req("x = ")
    cache.put(req, _done("compute(1)"))
    hit = cache.get(req)
    assert hit is not None and hit.text == "compute(1)" and hit.cached and hit.elapsed_ms == 0


def test_typed_through_answers_the_rest_exactly():
    cache = CompletionCache()
    cache.put(_req("total = "), _done("price * quantity"))
    for typed in ("p", "pri", "price *", "price * quant"):
        hit = cache.get(_req("total = " + typed))
        assert hit is not None and hit.cached
        assert typed + hit.text == "price * quantity"


def test_typed_through_refuses_a_mismatch_or_a_different_suffix_or_earlier_text():
    cache = CompletionCache()
    cache.put(_req("total = "), _done("price * quantity"))
    assert cache.get(_req("total = px")) is None  # typed something else
    assert cache.get(_req("total = p", suffix="\nother\n")) is None  # the suffix changed
    assert cache.get(_req("count = p")) is None  # the text before changed
    assert cache.get(_req("total = price * quantity")) is None  # nothing left to suggest


def test_key_depends_on_what_determines_the_prompt():
    base = _req("a = ")
    assert request_key(base) == request_key(_req("a = "))
    assert request_key(base) != request_key(_req("a = ", mode=Mode.MULTI_LINE))
    assert request_key(base) != request_key(_req("a = ", suffix="\nb\n"))
    with_ctx = _req("a = ", context=(ContextChunk("m.py", "def f(): ..."),))
    assert request_key(base) != request_key(with_ctx)


def test_cache_is_bounded():
    cache = CompletionCache(capacity=8)
    for i in range(50):
        cache.put(_req(f"v{i} = "), _done(f"value_{i}"))
    assert len(cache._exact) == 8 and len(cache._by_suffix) <= 8
    assert cache.get(_req("v49 = ")) is not None
    assert cache.get(_req("v0 = ")) is None


async def test_speculation_fills_the_cache_and_a_newer_request_cancels_it(tiny_qwen_model: Path):
    settings = LocalSettings(threads=1, context_size=1024, time_budget_ms=0, max_tokens=8)
    tier = LocalTier(settings, tiny_qwen_model)
    config = Config()
    config.local = settings
    pipeline = CompletionPipeline(config, tier)
    try:
        assert await tier.wait_ready()
        text = "import os\nname = "
        snap = Snapshot("file:///s.py", "python", 1, text + "\n", len(text))
        shown = _done("os.getcwd()")
        # 1. Left alone, the speculation computes the accepted state's answer into the cache.
        pipeline.speculate(snap, shown)
        assert pipeline._speculation is not None
        await pipeline._speculation[2]
        accepted = text + shown.text
        accepted_snap = Snapshot(snap.uri, "python", 1, accepted + "\n", len(accepted))
        after = pipeline.request_for(accepted_snap)
        assert after is not None and pipeline.cache.get(after) is not None
        # 2. A request for another state cancels a running speculation.
        other = text.replace("name", "path")
        snap2 = Snapshot("file:///s.py", "python", 2, other + "\n", len(other))
        pipeline.speculate(snap2, _done("os.sep.join(parts)"))
        token = pipeline._speculation[1]
        task = pipeline._speculation[2]
        fresh = pipeline.request_for(Snapshot("file:///s.py", "python", 3, "x = 1\n", 6))
        await pipeline.complete_request(fresh, CancelToken())
        assert token.cancelled
        await asyncio.wait_for(task, timeout=30)
    finally:
        await tier.aclose()
