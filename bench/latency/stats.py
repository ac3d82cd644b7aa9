"""Figures of a run: percentiles of answered requests, prompt tokens, cache hits, acceptance."""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.latency.replay import SessionStats


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100), linear between the two nearest ranks; None when empty."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0..100")
    if not values:
        return None
    data = sorted(values)
    rank = (len(data) - 1) * q / 100
    lo, hi = math.floor(rank), math.ceil(rank)
    return data[lo] + (data[hi] - data[lo]) * (rank - lo)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


@dataclass
class Summary:
    backend: str
    requests: int
    answered: int
    cancelled: int
    late: int
    errors: int
    p50: float | None
    p95: float | None
    p99: float | None
    prompt_tokens: float | None  # mean prompt tokens evaluated per answered request
    kv_reuse: float | None  # share of prompt tokens taken from the KV cache
    cache_hit_rate: float | None  # answered without the model (result cache)
    keystrokes: int
    accepted_chars: int
    accepted_per_100: float | None
    shown: int  # non-empty suggestions shown
    first_line_exact: float | None  # among the non-empty suggestions shown


def _ints(found: list[dict[str, int | bool]], key: str) -> list[int]:
    return [int(m[key]) for m in found
            if isinstance(m.get(key), int) and not isinstance(m.get(key), bool)]


def summarize(backend: str, stats: SessionStats,
              reported: list[dict[str, int | bool]] | None = None) -> Summary:
    """Figures for one backend. `reported` holds per-completion figures the server gave out of
    band (its log or a metrics notification: `evaluated`, `promptTokens`, `cached`); they are
    used where the answers themselves carry none."""
    recs = stats.records
    reported = reported or []
    answered = [r for r in recs if r.status == "answered"]
    latencies = [r.latency for r in answered if r.latency is not None]
    tokens = [r.prompt_tokens for r in answered if r.prompt_tokens is not None]
    if not tokens:
        tokens = _ints(reported, "evaluated")
    cached = [(r.prompt_tokens, r.cached_tokens) for r in answered
              if r.prompt_tokens is not None and r.cached_tokens is not None]
    total = sum(p + c for p, c in cached)
    kv_reuse = sum(c for _, c in cached) / total if total else None
    if kv_reuse is None:
        both = [m for m in reported if _ints([m], "evaluated") and _ints([m], "promptTokens")]
        prompt = sum(int(m["promptTokens"]) for m in both)
        if prompt:
            kv_reuse = 1 - sum(int(m["evaluated"]) for m in both) / prompt
    hits = [r.cache_hit for r in answered if r.cache_hit is not None]
    if not hits:
        hits = [m["cached"] for m in reported if isinstance(m.get("cached"), bool)]
    shown = [r for r in answered if r.suggestion and r.suggestion.strip()]
    return Summary(
        backend=backend,
        requests=len(recs),
        answered=len(answered),
        cancelled=sum(r.status == "cancelled" for r in recs),
        late=sum(r.status == "late" for r in recs),
        errors=sum(r.status in ("error", "unfinished") for r in recs),
        p50=percentile(latencies, 50),
        p95=percentile(latencies, 95),
        p99=percentile(latencies, 99),
        prompt_tokens=_mean([float(t) for t in tokens]),
        kv_reuse=kv_reuse,
        cache_hit_rate=_mean([float(h) for h in hits]),
        keystrokes=stats.keystrokes,
        accepted_chars=stats.accepted_chars,
        accepted_per_100=100 * stats.accepted_chars / stats.keystrokes if stats.keystrokes
        else None,
        shown=len(shown),
        first_line_exact=_mean([float(bool(r.first_line_match)) for r in shown]),
    )
