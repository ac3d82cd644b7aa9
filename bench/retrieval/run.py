"""Retrieval benchmark: does the index's context hold what the line needs, and at what cost?

    PYTHONPATH=. python bench/retrieval/run.py                   # both cross-file sets
    PYTHONPATH=. python bench/retrieval/run.py --sets crossfile-py-api --limit 200

No model: for each sample of the cross-file sets (bench/quality/crossfile.py, pinned PyPI
sdists), the document is opened in the project's index as an editor would open it, the context
is gathered for the cursor as the server gathers it, and two things are recorded: whether the
reference's first identifier (on the API set: the member the line uses) appears in the context,
and in which kind of chunk; and how long `gather_context` took (p50/p95). The model-side effect
of the same context is `python -m bench.quality --sets crossfile-py-api --systems pipeline`.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

from bench.quality import crossfile  # noqa: E402
from bench.quality.data import choose  # noqa: E402
from indexer.context import gather_context  # noqa: E402
from indexer.workspace import WorkspaceIndex  # noqa: E402

WORK = REPO / "bench" / ".work" / "quality"
RESULTS = REPO / "bench" / "results" / "retrieval.md"
KINDS = ("outline", "usage", "definition", "snippet", "scope")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def measure(set_name: str, limit: int | None, seed: int, budget: int, work: Path) -> dict:
    samples = choose(crossfile.build_set(work / "crossfile", set_name), limit, seed)
    return {"set": set_name, **measure_samples(samples, budget, work / "index")}


def measure_samples(samples: list, budget: int, index_dir: Path) -> dict:
    """Recall of the needed name per chunk kind, and gather_context timings, over samples."""
    found: Counter[str] = Counter()
    times: list[float] = []
    indexes: dict[str, WorkspaceIndex] = {}
    try:
        for sample in samples:
            index = indexes.get(sample.root)
            if index is None:
                root = Path(sample.root)
                index_dir.mkdir(parents=True, exist_ok=True)
                index = indexes[sample.root] = WorkspaceIndex(
                    root, db_path=index_dir / f"{root.name}.sqlite")
                index.build()
            path = index.root / sample.path
            text = sample.doc_prefix + sample.doc_suffix
            index.update_text(path, text)  # open in the editor: its symbols are fresh
            lines = sample.doc_prefix.split("\n")
            t0 = time.perf_counter()
            chunks = gather_context(index, str(path), text, len(lines) - 1, len(lines[-1]),
                                    budget_tokens=budget)
            times.append((time.perf_counter() - t0) * 1000)
            index.close_document(path)
            ident = _IDENT.search(sample.reference)
            if ident is None:
                continue
            word = re.compile(rf"\b{re.escape(ident.group(0))}\b")
            kinds = {c.kind for c in chunks if word.search(c.text)}
            found["any"] += bool(kinds)
            found.update(kinds)
    finally:
        for index in indexes.values():
            index.close()
    n = len(samples)
    return {
        "n": n, "budget": budget,
        "recall": {k: 100 * found[k] / n for k in ("any", *KINDS)} if n else {},
        "p50": _percentile(times, 0.5), "p95": _percentile(times, 0.95),
        "mean": statistics.fmean(times) if times else 0.0,
    }


def markdown(rows: list[dict], command: str) -> str:
    head = ["set", "n", "budget", "needed name in context", *(f"in {k}" for k in KINDS),
            "gather p50 ms", "p95 ms"]
    out = ["# Retrieval", "", f"Produced by `{command}` (see bench/README.md). Percent of "
           "samples whose reference's first identifier appears in the context, by chunk kind "
           "(a sample can count in several); time of one `gather_context` call.", "",
           "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["set"], str(r["n"]), str(r["budget"]), f"{r['recall'].get('any', 0):.1f}",
                 *(f"{r['recall'].get(k, 0):.1f}" for k in KINDS),
                 f"{r['p50']:.1f}", f"{r['p95']:.1f}"]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default=",".join(crossfile.SET_NAMES))
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--budget", type=int, default=512, help="context tokens (the default)")
    ap.add_argument("--work", type=Path, default=WORK)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    names = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = [s for s in names if s not in crossfile.SET_NAMES]
    if unknown:
        ap.error(f"unknown set(s): {', '.join(unknown)}")
    rows = [measure(s, args.limit, args.seed, args.budget, args.work) for s in names]
    command = "python bench/retrieval/run.py " + " ".join(argv if argv is not None
                                                          else sys.argv[1:])
    text = markdown(rows, command.strip())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
