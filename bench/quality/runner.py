"""Runs systems over samples, scores every answer, and sums the scores up per set and system."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from bench.quality.data import Sample
from bench.quality.metrics import edit_similarity, exact_match, first_line, identifier_match
from bench.quality.sandbox import run_program
from bench.quality.systems import Answer


class System(Protocol):
    name: str

    async def answer(self, sample: Sample) -> Answer: ...


@dataclass(frozen=True)
class Outcome:
    set_name: str
    sample_id: str
    system: str
    answer: Answer
    em: bool
    es: float
    status: str = ""  # the test run's status ("passed", "failed", "timeout", ...), "" if none
    id_match: bool = False  # the first identifier is the reference's

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def middle_for_program(sample: Sample, system: str, text: str) -> str:
    """What goes into the hole when the tests run.

    The raw model's text goes between the published prefix and suffix as it is (first line only
    on the single-line set, with the line end the cut removed); the pipeline's suggestion is
    typed at the cursor of the editor's document.
    """
    if system.startswith("raw") and sample.set_name == "humaneval-single":
        return first_line(text) + "\n"
    return text


def score(sample: Sample, system: str, answer: Answer, *, test_timeout: float) -> Outcome:
    text = answer.text
    if system.startswith("raw") and sample.set_name == "humaneval-single":
        text = first_line(text)  # the published metric: the first line as generated
    em = exact_match(text, sample.reference)
    es = edit_similarity(text, sample.reference)
    status = ""
    if sample.test:
        editor = not system.startswith("raw")
        middle = middle_for_program(sample, system, answer.text)
        status = run_program(sample.program(middle, editor=editor), timeout=test_timeout).status
    return Outcome(sample.set_name, sample.id, system, answer, em, es, status,
                   identifier_match(text, sample.reference))


async def run_samples(
    samples: Sequence[Sample],
    systems: Sequence[System],
    *,
    test_timeout: float = 10.0,
    log_file: Path | None = None,
    progress: bool = True,
) -> list[Outcome]:
    """Every system on every sample, sample by sample (systems on the same sample share the
    model's KV cache); each outcome is appended to `log_file` as one JSON line."""
    outcomes: list[Outcome] = []
    totals: dict[str, list[int]] = {s.name: [0, 0] for s in systems}
    log = log_file.open("a", encoding="utf-8") if log_file else None
    try:
        for i, sample in enumerate(samples, 1):
            for system in systems:
                answer = await system.answer(sample)
                outcome = score(sample, system.name, answer, test_timeout=test_timeout)
                outcomes.append(outcome)
                good = outcome.passed if sample.test else outcome.em
                totals[system.name][0] += int(good)
                totals[system.name][1] += 1
                if log is not None:
                    log.write(json.dumps(outcome_record(outcome, sample)) + "\n")
                    log.flush()
            if progress:
                parts = "  ".join(f"{k} {g}/{n}" for k, (g, n) in totals.items())
                print(f"[{sample.set_name} {i}/{len(samples)}] {parts}", file=sys.stderr,
                      flush=True)
    finally:
        if log is not None:
            log.close()
    return outcomes


def outcome_record(outcome: Outcome, sample: Sample) -> dict:
    return {
        "set": outcome.set_name, "id": outcome.sample_id, "system": outcome.system,
        "em": outcome.em, "es": round(outcome.es, 4), "id_match": outcome.id_match,
        "status": outcome.status,
        "reference": sample.reference, **asdict(outcome.answer),
    }


@dataclass(frozen=True)
class Summary:
    set_name: str
    system: str
    n: int
    em: float  # percent
    es: float  # percent (mean edit similarity x 100)
    pass_at_1: float | None  # percent; None where the set has no tests
    skipped: int  # samples the gate skipped (count as misses)
    empty: int  # samples with no suggestion at all (skipped included)
    mean_ms: float
    id_match: float = 0.0  # percent


def summarize(outcomes: Sequence[Outcome]) -> list[Summary]:
    groups: dict[tuple[str, str], list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault((o.set_name, o.system), []).append(o)
    out = []
    for (set_name, system), group in groups.items():
        n = len(group)
        tested = [o for o in group if o.status]
        timed = [o.answer.ms for o in group if not o.answer.skipped]
        out.append(Summary(
            set_name, system, n,
            em=100 * sum(o.em for o in group) / n,
            es=100 * sum(o.es for o in group) / n,
            pass_at_1=100 * sum(o.passed for o in tested) / len(tested) if tested else None,
            skipped=sum(o.answer.skipped for o in group),
            empty=sum(not o.answer.text.strip() for o in group),
            mean_ms=sum(timed) / len(timed) if timed else 0.0,
            id_match=100 * sum(o.id_match for o in group) / n,
        ))
    return out
