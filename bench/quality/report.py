"""The results file (JSON, merged across runs set by set), its Markdown table and bar chart."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.quality.data import SETS
from bench.quality.runner import Summary

# Published figures for base models at full precision, Qwen2.5-Coder technical report (see
# ../shared/notes/models.md): HumanEval-FIM (= the SantaCoder FIM set) exact match, and
# CrossCodeEval Python beside the set cut the way CrossCodeEval cuts its samples (other
# projects, left context only, retrieved context: an anchor, not a like-for-like figure).
PUBLISHED: dict[tuple[str, str], tuple[float, float]] = {
    ("santacoder-py", "em"): (70.3, 77.0),
    ("santacoder-js", "em"): (81.2, 85.0),
    ("santacoder-java", "em"): (78.1, 85.6),
    ("crossfile-py-api", "em"): (22.7, 35.5),
    ("crossfile-py-api", "es"): (66.2, 74.3),
}
METRICS: dict[str, tuple[str, ...]] = {
    "humaneval-single": ("pass", "em"),
    "humaneval-multi": ("pass",),
    "santacoder-py": ("em",),
    "santacoder-py-typing": ("em",),
    "santacoder-js": ("em",),
    "santacoder-java": ("em",),
    "crossfile-py": ("em", "es", "id"),
    "crossfile-py-api": ("em", "es", "id"),
}
METRIC_NAMES = {"pass": "pass@1", "em": "exact match", "es": "edit similarity",
                "id": "identifier match"}
SYSTEM_ORDER = ("raw", "pipeline", "pipeline+context", "pipeline-block", "remote")
SYSTEM_TITLES = {
    "raw": "raw model",
    "pipeline": "pipeline",
    "pipeline+context": "pipeline + index context",
    "pipeline-block": "pipeline, block command",
    "remote": "remote tier",
}


def load_results(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {"sets": {}}
    return data if isinstance(data.get("sets"), dict) else {"sets": {}}


def merge_results(
    results: dict[str, Any], summaries: Sequence[Summary], meta: Mapping[str, Any]
) -> dict[str, Any]:
    """Replace the entries of the sets just run; keep the others."""
    by_set: dict[str, dict[str, Any]] = {}
    for s in summaries:
        entry = by_set.setdefault(s.set_name, {"meta": dict(meta), "systems": {}})
        entry["systems"][s.system] = asdict(s)
    results.setdefault("sets", {}).update(by_set)
    return results


def _value(summary: Mapping[str, Any] | None, metric: str) -> float | None:
    if summary is None:
        return None
    return {"pass": summary.get("pass_at_1"), "em": summary.get("em"),
            "es": summary.get("es"), "id": summary.get("id_match")}[metric]


def _fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:.1f}"


def rows(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per (set, metric) in a fixed order: values per system and published ones."""
    out = []
    for set_name in METRICS:
        entry = results.get("sets", {}).get(set_name)
        if not entry:
            continue
        systems = entry["systems"]
        n = max((s["n"] for s in systems.values()), default=0)
        for metric in METRICS[set_name]:
            pub = PUBLISHED.get((set_name, metric))
            out.append({
                "set": set_name, "metric": metric, "n": n, "meta": entry.get("meta", {}),
                "values": {name: _value(systems.get(name), metric) for name in SYSTEM_ORDER
                           if name in systems},
                "published": pub,
                "skipped": {name: systems[name]["skipped"] for name in systems},
            })
    return out


def markdown(results: Mapping[str, Any]) -> str:
    table = rows(results)
    present = [s for s in SYSTEM_ORDER if any(s in r["values"] for r in table)]
    head = ["set", "metric", "n", *(SYSTEM_TITLES[s] for s in present),
            "published 0.5B base", "published 1.5B base"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in table:
        pub = r["published"] or (None, None)
        cells = [SETS[r["set"]].title, METRIC_NAMES[r["metric"]], str(r["n"]),
                 *(_fmt(r["values"].get(s)) for s in present), _fmt(pub[0]), _fmt(pub[1])]
        lines.append("| " + " | ".join(cells) + " |")
    runs = []
    for set_name, entry in results.get("sets", {}).items():
        meta = entry.get("meta", {})
        skipped = ", ".join(f"{k} {v['skipped']}" for k, v in entry["systems"].items()
                            if v.get("skipped"))
        runs.append(
            f"- {SETS[set_name].title if set_name in SETS else set_name}: "
            f"n = {max(v['n'] for v in entry['systems'].values())}"
            f" of {meta.get('set_size', '?')}, seed {meta.get('seed', '?')}, "
            f"model `{meta.get('model', '?')}`, gate `{meta.get('gate', '?')}`, "
            f"systems {', '.join(sorted(entry['systems']))}, "
            f"{meta.get('date', '?')}" + (f"; skipped by the gate: {skipped}" if skipped else "")
            + (f"; {meta['note']}" if meta.get("note") else "")
        )
    return "\n".join(lines) + "\n\nRuns:\n\n" + "\n".join(sorted(runs)) + "\n"


def bar_chart(results: Mapping[str, Any], out: Path) -> bool:
    """A grouped bar chart of the table; False (and no file) when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    table = rows(results)
    if not table:
        return False
    series = [s for s in SYSTEM_ORDER if any(s in r["values"] for r in table)]
    labels = [f"{r['set']}\n{METRIC_NAMES[r['metric']]} (n={r['n']})" for r in table]
    width = 0.8 / (len(series) + 1)
    fig, ax = plt.subplots(figsize=(max(8, 1.9 * len(table)), 5))
    for k, name in enumerate(series):
        xs = [i + k * width for i in range(len(table))]
        ys = [r["values"].get(name) or 0.0 for r in table]
        bars = ax.bar(xs, ys, width, label=SYSTEM_TITLES[name])
        ax.bar_label(bars, labels=[_fmt(r["values"].get(name)) if name in r["values"] else ""
                                   for r in table], fontsize=7)
    xs = [i + len(series) * width for i in range(len(table))]
    ys = [(r["published"] or (0.0,))[0] for r in table]
    ax.bar(xs, ys, width, label="published, 0.5B base model", color="lightgray",
           hatch="//", edgecolor="gray")
    ax.set_xticks([i + len(series) * width / 2 for i in range(len(table))], labels, fontsize=8)
    ax.set_ylabel("%")
    ax.set_ylim(0, 100)
    ax.set_title("Completion quality, Qwen2.5-Coder-0.5B-Instruct Q4_K_M")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return True
