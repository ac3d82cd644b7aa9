"""The evaluation sets, read where they are shipped (never copied into the project).

A `Sample` holds the hole twice: as the published evaluation feeds it to a model (`prefix`,
`suffix`: the raw baseline uses these, for comparability with published figures) and as an
editor holds the document while the user writes the missing code (`doc_prefix`, `doc_suffix`:
the cursor at the start of an empty line opened where the code goes; the pipeline sees this).
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

# The eval data folder: $BENCH_EVAL_DATA, else ../shared/data/eval beside the project.
_PROJECT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = _PROJECT.parent / "shared" / "data" / "eval"


def data_dir() -> Path:
    return Path(os.environ.get("BENCH_EVAL_DATA") or DEFAULT_DATA_DIR)


@dataclass(frozen=True)
class Sample:
    set_name: str
    id: str
    language_id: str  # the LSP languageId: "python", "javascript", "java"
    path: str  # the document's workspace-relative path
    prefix: str  # as the published evaluation gives it to the model
    suffix: str
    reference: str  # the removed code
    doc_prefix: str  # the editor's document before the cursor
    doc_suffix: str  # and after it
    test: str = ""  # HumanEval: the tests (`check(candidate)`), run for pass@1
    entry_point: str = ""
    root: str = ""  # cross-file: the project folder the document belongs to

    @property
    def multi_line(self) -> bool:
        return "\n" in self.reference.strip("\n")

    def program(self, middle: str, *, editor: bool) -> str:
        """The whole program with `middle` in the hole, followed by its tests."""
        if editor:
            body = self.doc_prefix + middle + self.doc_suffix
        else:
            body = self.prefix + middle + self.suffix
        return f"{body}\n\n{self.test}\n\ncheck({self.entry_point})\n"


@dataclass(frozen=True)
class SetInfo:
    name: str
    title: str
    file: str  # relative to the data folder
    metric: str  # "em" (first non-empty line), "pass" (pass@1 and first-line em)
    language: str = ""  # santacoder: the `language` field to keep
    typing: bool = False  # the cursor after the line's first word, as while typing it


SETS: dict[str, SetInfo] = {
    s.name: s
    for s in (
        SetInfo("humaneval-single", "HumanEval single-line infilling",
                "humaneval-infilling/HumanEval-SingleLineInfilling.jsonl.gz", "pass"),
        SetInfo("humaneval-multi", "HumanEval multi-line infilling",
                "humaneval-infilling/HumanEval-MultiLineInfilling.jsonl.gz", "pass"),
        SetInfo("santacoder-py", "SantaCoder FIM, Python",
                "santacoder-fim/santacoder-fim.jsonl.gz", "em", "py"),
        SetInfo("santacoder-py-typing", "SantaCoder FIM, Python, first word typed",
                "santacoder-fim/santacoder-fim.jsonl.gz", "em", "py", typing=True),
        SetInfo("santacoder-js", "SantaCoder FIM, JavaScript",
                "santacoder-fim/santacoder-fim.jsonl.gz", "em", "js"),
        SetInfo("santacoder-java", "SantaCoder FIM, Java",
                "santacoder-fim/santacoder-fim.jsonl.gz", "em", "java"),
        SetInfo("crossfile-py", "Cross-file next line, Python (PyPI sdists)", "", "crossfile"),
        SetInfo("crossfile-py-api", "Cross-file API completion, Python (PyPI sdists)", "",
                "crossfile"),
    )
}
_LANGUAGE_IDS = {"py": "python", "js": "javascript", "java": "java"}
_EXTENSIONS = {"py": "py", "js": "js", "java": "java"}


class DataError(Exception):
    """An evaluation file is missing or malformed."""


def _rows(path: Path) -> Iterator[dict]:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise DataError(f"{path}:{n}: not JSON ({exc})") from exc
    except FileNotFoundError as exc:
        raise DataError(
            f"{path} not found: set BENCH_EVAL_DATA to the folder holding the eval sets"
        ) from exc
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot be read ({exc})") from exc


def editor_view(prefix: str, suffix: str, reference: str) -> tuple[str, str, str]:
    """(doc_prefix, doc_suffix, middle) with the hole as an empty line of its own.

    The sets cut at line boundaries in two styles: HumanEval's prefix ends with a line end and
    its reference carries the trailing one; SantaCoder's prefix ends at the end of the line
    before and its reference has no line end at all. Both become: the cursor at column 0 of a
    new empty line, the reference without its line ends.
    """
    doc_prefix = prefix if prefix.endswith("\n") or not prefix else prefix + "\n"
    doc_suffix = suffix if suffix.startswith("\n") else "\n" + suffix
    return doc_prefix, doc_suffix, reference.strip("\n")


def _humaneval(info: SetInfo, row: dict) -> Sample:
    try:
        task_id = row["task_id"]
        prefix, suffix, ref = row["prompt"], row["suffix"], row["canonical_solution"]
        test, entry = row["test"], row["entry_point"]
    except KeyError as exc:
        raise DataError(f"{info.name}: a row lacks the field {exc}") from exc
    doc_prefix, doc_suffix, middle = editor_view(prefix, suffix, ref)
    name = task_id.replace("/", "_")
    return Sample(info.name, task_id, "python", f"{name}.py", prefix, suffix, middle,
                  doc_prefix, doc_suffix, test, entry)


def _santacoder(info: SetInfo, row: dict) -> Sample | None:
    if row.get("language") != info.language:
        return None
    try:
        name, prefix, suffix, ref = row["name"], row["prompt"], row["suffix"], row[
            "canonical_solution"]
    except KeyError as exc:
        raise DataError(f"{info.name}: a row lacks the field {exc}") from exc
    doc_prefix, doc_suffix, middle = editor_view(prefix, suffix, ref)
    stem = name.split(".json")[0]
    return Sample(info.name, name, _LANGUAGE_IDS[info.language],
                  f"{stem}.{_EXTENSIONS[info.language]}", prefix, suffix, middle,
                  doc_prefix, doc_suffix)


def load_set(name: str, base: Path | None = None) -> list[Sample]:
    """Every sample of a published set, in file order."""
    info = SETS.get(name)
    if info is None or not info.file:
        raise DataError(f"unknown set {name!r}")
    path = (base or data_dir()) / info.file
    samples: list[Sample] = []
    for row in _rows(path):
        if info.name.startswith("humaneval"):
            samples.append(_humaneval(info, row))
        elif (s := _santacoder(info, row)) is not None:
            samples.append(s)
    if info.typing:
        samples = [t for s in samples if (t := typing_variant(s)) is not None]
    return samples


_FIRST_WORD = re.compile(r"\s*\w+")


def typing_variant(sample: Sample) -> Sample | None:
    """The same hole with the line's first word already typed: the cursor sits mid-line (the
    common case while typing) and the reference is the rest of the line. Both the model's
    prompt and the editor's document hold the typed word. None when nothing would remain."""
    m = _FIRST_WORD.match(sample.reference)
    if m is None or not sample.reference[m.end():].strip():
        return None
    typed, rest = sample.reference[: m.end()], sample.reference[m.end():]
    doc_prefix = sample.doc_prefix + typed
    return replace(sample, prefix=doc_prefix, suffix=sample.doc_suffix, reference=rest,
                   doc_prefix=doc_prefix)


def choose(samples: list[Sample], limit: int | None, seed: int) -> list[Sample]:
    """A seeded random subset of `limit` samples, kept in file order (neighbouring samples
    share their beginning, which a model's KV cache reuses)."""
    if limit is None or limit >= len(samples):
        return list(samples)
    picked = sorted(random.Random(seed).sample(range(len(samples)), max(limit, 0)))
    return [samples[i] for i in picked]
