"""The run's report: a Markdown table, ours/peer ratios, and a latency CDF plot."""

from __future__ import annotations

from pathlib import Path

from bench.latency.replay import RequestRecord
from bench.latency.stats import Summary


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value * 1000:.0f}"


def _num(value: float | None, fmt: str = "{:.1f}") -> str:
    return "–" if value is None else fmt.format(value)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def table(summaries: list[Summary]) -> str:
    head = ("| backend | requests | answered | cancelled | p50 ms | p95 ms | p99 ms "
            "| prompt tokens/answer | KV reuse | cache hits | keystrokes "
            "| accepted chars/100 keys | shown | first-line exact |")
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    for s in summaries:
        rows.append(
            f"| {s.backend} | {s.requests} | {s.answered} | {s.cancelled + s.late} "
            f"| {_ms(s.p50)} | {_ms(s.p95)} | {_ms(s.p99)} | {_num(s.prompt_tokens)} "
            f"| {_pct(s.kv_reuse)} | {_pct(s.cache_hit_rate)} | {s.keystrokes} "
            f"| {_num(s.accepted_per_100)} | {s.shown} | {_pct(s.first_line_exact)} |"
        )
    return "\n".join(rows)


def ratios(summaries: list[Summary], ours: str = "ours", peer: str = "llama-server") -> str:
    by = {s.backend: s for s in summaries}
    if ours not in by or peer not in by:
        return ""
    a, b = by[ours], by[peer]
    parts = []
    for label, x, y in (("p50", a.p50, b.p50), ("p95", a.p95, b.p95)):
        parts.append(f"{label} {x / y:.2f}×" if x is not None and y else f"{label} –")
    return f"ours / llama-server: {', '.join(parts)} (targets: p50 ≤ 0.5×, p95 ≤ 0.7×)"


def cdf_plot(records: dict[str, list[RequestRecord]], out: Path, title: str) -> Path | None:
    """Latency CDF of the answered requests, one line per backend; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for name, recs in records.items():
        # Below 1 ms (an answer from a cache) is drawn at 1 ms: the axis is logarithmic.
        lat = sorted(max(1.0, 1000 * r.latency) for r in recs
                     if r.status == "answered" and r.latency is not None)
        if not lat:
            continue
        ys = [0.0] + [(i + 1) / len(lat) for i in range(len(lat))]
        ax.step([lat[0], *lat], ys, where="post", label=f"{name} (n={len(lat)})")
    ax.axvline(200, color="grey", linestyle=":", linewidth=1, label="200 ms")
    ax.set_xscale("log")
    ax.set_xlim(left=1.0)
    ax.set_xlabel("request → response (ms), answered requests")
    ax.set_ylabel("fraction of answers")
    ax.set_ylim(0, 1.01)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="lower right")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
