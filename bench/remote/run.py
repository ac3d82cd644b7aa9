"""Remote tier benchmark against a loopback server.

1. Overhead: the tier's own cost (prompt building, privacy checks, deadline and cancel
   watchers, SSE parsing, post-processing, the router on top) over the raw HTTP round trip
   to the same server with the same client library. Target: < 5 ms p50.
2. Time to the first multi-line ghost text: a server that generates at a fixed token rate;
   with streaming, the tier stops reading as soon as the block is complete, without it the
   whole reply (up to max tokens) must arrive first.

    .venv/bin/python -m bench.remote.run [--n 300] [--token-ms 15] [--json out.json]
        [--real-url http://127.0.0.1:PORT]   # a running llama_cpp.server with the default model
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from typing import Any

import httpx

from tests.remote.loopback import LoopbackServer, send_json, sse, start_sse
from tiers.base import CancelToken, Completion, CompletionRequest, Mode, TierInfo
from tiers.remote import RemoteTier
from tiers.router import Router
from tiers.settings import RemoteSettings, RouterSettings

BLOCK = ["return", " a", " +", " b", "\n", "\n", "\n", "def", " sub", "(a", ",", " b", "):",
         "\n", "    return", " a", " -", " b", "\n"] + ["\n#"] * 45  # 64 tokens in all
ANSWER = "".join(BLOCK[:5])


class NoLocal:
    def info(self) -> TierInfo:
        return TierInfo("local", "none", True, 0, 0.0)

    async def complete(self, request: CompletionRequest, cancel: CancelToken) -> Completion | None:
        return None

    async def aclose(self) -> None:
        return None


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(int(q * len(values)), len(values) - 1)]


def request(i: int) -> CompletionRequest:
    return CompletionRequest(uri="file:///ws/calc.py", version=i,
                             prefix="import math\n\n" * 40 + "def add(a, b):\n    ",
                             suffix="\n\nprint(add(1, 2))\n", language_id="python",
                             path="calc.py", mode=Mode.MULTI_LINE, max_tokens=64)


async def overhead(n: int, stream: bool) -> dict[str, Any]:
    async def handle(rec, writer):
        if rec.json.get("stream"):
            await start_sse(writer)
            for tok in BLOCK:
                await sse(writer, {"choices": [{"index": 0, "text": tok,
                                                "finish_reason": None}]})
            await sse(writer, {"choices": [{"index": 0, "text": "", "finish_reason": "length"}]})
            await sse(writer, "[DONE]")
            writer.close()
        else:
            await send_json(writer, {"choices": [{"index": 0, "text": "".join(BLOCK),
                                                  "finish_reason": "length"}]})

    srv = await LoopbackServer(handle).start()
    settings = RemoteSettings(enabled=True, provider="openai", base_url=srv.url, model="m",
                              family="qwen", stream=stream, inline_timeout_ms=5000)
    tier = RemoteTier(settings)
    router = Router(NoLocal(), RemoteTier(settings), RouterSettings(remote_wait_ms=5000))
    raw_client = httpx.AsyncClient(base_url=srv.url, trust_env=False)
    call = tier.provider.fim_call(request(0), stream=stream)
    raw, via_tier, via_router = [], [], []

    async def raw_once() -> None:
        if stream:
            async with raw_client.stream("POST", call.path, json=call.body) as resp:
                async for _ in resp.aiter_lines():
                    pass
        else:
            (await raw_client.post(call.path, json=call.body)).json()

    try:
        for _ in range(20):  # warm up connections and code paths
            await raw_once()
            await tier.complete(request(0), CancelToken())
            await router.complete(request(0), CancelToken())
        for i in range(n):
            # Interleaved, so drift in machine load hits all three alike.
            t0 = time.perf_counter()
            await raw_once()
            t1 = time.perf_counter()
            got = await tier.complete(request(i), CancelToken())
            t2 = time.perf_counter()
            via = await router.complete(request(i), CancelToken())
            t3 = time.perf_counter()
            assert got is not None and got.text == ANSWER.rstrip(), got
            assert via is not None and via.text == got.text
            raw.append((t1 - t0) * 1000)
            via_tier.append((t2 - t1) * 1000)
            via_router.append((t3 - t2) * 1000)
    finally:
        await raw_client.aclose()
        await tier.aclose()
        await router.aclose()
        await srv.stop()
    diffs = [t - r for t, r in zip(via_tier, raw, strict=True)]
    rdiffs = [t - r for t, r in zip(via_router, raw, strict=True)]
    return {
        "stream": stream, "n": n,
        "raw_p50_ms": statistics.median(raw), "tier_p50_ms": statistics.median(via_tier),
        "router_p50_ms": statistics.median(via_router),
        "tier_overhead_p50_ms": statistics.median(diffs),
        "tier_overhead_p90_ms": pct(diffs, 0.9),
        "router_overhead_p50_ms": statistics.median(rdiffs),
    }


async def first_ghost_text(n: int, token_ms: float) -> dict[str, Any]:
    async def handle(rec, writer):
        body = rec.json
        if body.get("stream"):
            await start_sse(writer)
            for tok in BLOCK[: body["max_tokens"]]:
                await asyncio.sleep(token_ms / 1000)
                await sse(writer, {"choices": [{"index": 0, "text": tok,
                                                "finish_reason": None}]})
            await sse(writer, {"choices": [{"index": 0, "text": "", "finish_reason": "length"}]})
            await sse(writer, "[DONE]")
            writer.close()
        else:
            await asyncio.sleep(token_ms / 1000 * min(body["max_tokens"], len(BLOCK)))
            await send_json(writer, {"choices": [{"index": 0, "text": "".join(BLOCK),
                                                  "finish_reason": "length"}]})

    srv = await LoopbackServer(handle).start()
    out: dict[str, Any] = {"token_ms": token_ms, "block_tokens": 5, "max_tokens": 64}
    try:
        for stream in (True, False):
            tier = RemoteTier(RemoteSettings(enabled=True, provider="openai", base_url=srv.url,
                                             model="m", family="qwen", stream=stream,
                                             inline_timeout_ms=10_000))
            times = []
            try:
                for i in range(n):
                    t0 = time.perf_counter()
                    got = await tier.complete(request(i), CancelToken())
                    times.append((time.perf_counter() - t0) * 1000)
                    assert got is not None and got.text == ANSWER.rstrip()
            finally:
                await tier.aclose()
            out["stream_p50_ms" if stream else "no_stream_p50_ms"] = statistics.median(times)
    finally:
        await srv.stop()
    return out


async def real_server_ghost_text(url: str, n: int) -> dict[str, Any]:
    """The same measurement against a real OpenAI-compatible server (e.g. llama_cpp.server
    with Qwen2.5-Coder): time until the tier returns a multi-line block."""
    req = CompletionRequest(uri="file:///ws/calc.py", version=1,
                            prefix="def add(a, b):\n    ", suffix="\n\n\nprint(add(2, 3))\n",
                            language_id="python", path="calc.py", mode=Mode.MULTI_LINE,
                            max_tokens=64)
    out: dict[str, Any] = {"url": url, "n": n}
    for stream in (True, False):
        tier = RemoteTier(RemoteSettings(enabled=True, provider="openai", base_url=url,
                                         family="qwen", stream=stream,
                                         inline_timeout_ms=120_000))
        times, text = [], ""
        try:
            await tier.complete(req, CancelToken())  # warm the server's prompt cache
            for _ in range(n):
                t0 = time.perf_counter()
                got = await tier.complete(req, CancelToken())
                times.append((time.perf_counter() - t0) * 1000)
                text = got.text if got else ""
        finally:
            await tier.aclose()
        key = "stream" if stream else "no_stream"
        out[f"{key}_p50_ms"] = statistics.median(times)
        out[f"{key}_text"] = text
    return out


async def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300, help="requests per measurement")
    ap.add_argument("--token-ms", type=float, default=15.0,
                    help="simulated generation time per token for the ghost-text measurement")
    ap.add_argument("--real-url", help="also measure against this OpenAI-compatible server "
                    "(serving a Qwen2.5-Coder model), e.g. http://127.0.0.1:8000")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args(argv)
    results = {
        "overhead_non_streaming": await overhead(args.n, stream=False),
        "overhead_streaming": await overhead(args.n, stream=True),
        "first_multiline_ghost_text": await first_ghost_text(max(args.n // 30, 5), args.token_ms),
    }
    if args.real_url:
        results["real_server_multiline"] = await real_server_ghost_text(args.real_url, 5)
    for name, figures in results.items():
        print(name)
        for k, v in figures.items():
            print(f"  {k:24} {v:.2f}" if isinstance(v, float) else f"  {k:24} {v!r}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
