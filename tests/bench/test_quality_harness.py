"""The quality benchmark's own parts: metrics, set loading, the sandboxed test runner, the
cross-file set builder, scoring and the report; and one end-to-end run on a tiny model."""

from __future__ import annotations

import gzip
import json
import socket
import textwrap
import threading
from pathlib import Path

import pytest

from bench.quality import crossfile
from bench.quality.data import SETS, Sample, choose, editor_view, load_set
from bench.quality.metrics import (
    edit_similarity,
    exact_match,
    first_line,
    first_nonempty_line,
    identifier_match,
)
from bench.quality.report import PUBLISHED, markdown, merge_results, rows
from bench.quality.runner import score, summarize
from bench.quality.sandbox import network_namespace_command, run_program
from bench.quality.systems import Answer

# -- metrics -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("generated", "reference", "match"),
    [
        ("    return x", "return x", True),  # indentation is stripped
        ("\n\n  return x  \nfoo()", "return x\n", True),  # first non-empty line only
        ("return x\n", "    return x", True),
        ("return  x", "return x", False),  # inner whitespace counts
        ("return y", "return x", False),
        ("", "", False),  # no answer never matches
        ("   \n  ", "return x", False),
        ("\r\n  i += 1\r\n", "i += 1", True),
    ],
)
def test_exact_match_normalisation(generated: str, reference: str, match: bool) -> None:
    assert exact_match(generated, reference) is match


def test_line_helpers() -> None:
    assert first_line("\n  a\nb") == ""
    assert first_line("a\nb") == "a"
    assert first_nonempty_line("\n \n  a b \nc") == "a b"
    assert first_nonempty_line("\n\n") == ""


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("abc", "abc", 1.0),
        ("abc", "xyz", 0.0),
        ("abc", "abd", 4 / 6),  # LCS "ab": 2 * 2 / (3 + 3)
        ("kitten", "sitting", 8 / 13),  # LCS "ittn"
        ("  foo(x)", "foo(x)\nbar", 1.0),  # first non-empty lines, stripped
        ("", "", 1.0),
        ("", "abc", 0.0),
    ],
)
def test_edit_similarity(a: str, b: str, expected: float) -> None:
    assert edit_similarity(a, b) == pytest.approx(expected)
    assert edit_similarity(b, a) == pytest.approx(expected)  # symmetric


# -- sets ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("generated", "reference", "match"),
    [
        ("validate_boolean}),", "validate_boolean", True),
        ("  get(console)\n", "get(console, options)", True),
        ("get_theme(x)", "get(x)", False),  # a whole identifier, not a prefix
        ("(a)", "(a)", True),
        ("", "x", False), ("+ 1", "+ 1", False),  # no identifier: no match
    ],
)
def test_identifier_match(generated: str, reference: str, match: bool) -> None:
    assert identifier_match(generated, reference) is match


def test_editor_view_of_both_cut_styles() -> None:
    # HumanEval: the prefix ends with a line end, the reference carries one.
    assert editor_view("def f():\n", "    return 1\n", "    x = 1\n") == (
        "def f():\n", "\n    return 1\n", "    x = 1")
    # SantaCoder: the prefix stops at the end of the line before, no line end in the reference.
    assert editor_view("if (a) {", "    return 1;\n}", "    a++;") == (
        "if (a) {\n", "\n    return 1;\n}", "    a++;")


def _write_gz(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)


HE_ROW = {
    "task_id": "SingleLineInfilling/HumanEval/0/L1",
    "entry_point": "add",
    "prompt": "def add(a, b):\n    s = a + b\n",
    "suffix": "    return t\n",
    "canonical_solution": "    t = s\n",
    "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n",
}


def test_load_and_choose(tmp_path: Path) -> None:
    _write_gz(tmp_path / SETS["humaneval-single"].file,
              [dict(HE_ROW, task_id=f"SingleLineInfilling/HumanEval/{i}/L1") for i in range(10)])
    _write_gz(tmp_path / SETS["santacoder-js"].file, [
        {"name": "a.json-L3", "language": "js", "prompt": "function f(){", "suffix": "}",
         "canonical_solution": "  return 1;"},
        {"name": "b.json-L3", "language": "py", "prompt": "def f():", "suffix": "",
         "canonical_solution": "  return 1"},
    ])
    samples = load_set("humaneval-single", tmp_path)
    assert len(samples) == 10 and samples[0].path == "SingleLineInfilling_HumanEval_0_L1.py"
    js = load_set("santacoder-js", tmp_path)
    assert [(s.id, s.language_id, s.path) for s in js] == [("a.json-L3", "javascript", "a.js")]

    picked = choose(samples, 4, seed=7)
    assert picked == choose(samples, 4, seed=7)  # reproducible
    assert len(picked) == 4 and picked == sorted(picked, key=samples.index)  # file order
    assert choose(samples, None, 0) == samples and choose(samples, 50, 0) == samples


def test_typing_variant_has_the_first_word_typed(tmp_path: Path) -> None:
    _write_gz(tmp_path / SETS["santacoder-py-typing"].file, [
        {"name": "a.json-L2", "language": "py", "prompt": "def f(x):",
         "suffix": "\n    return y", "canonical_solution": "    y = x + 1"},
        {"name": "b.json-L2", "language": "py", "prompt": "def f(x):",
         "suffix": "\n    return y", "canonical_solution": "    pass"},  # nothing would remain
    ])
    (sample,) = load_set("santacoder-py-typing", tmp_path)
    assert sample.doc_prefix == sample.prefix == "def f(x):\n    y"
    assert sample.reference == " = x + 1"
    assert sample.doc_suffix == sample.suffix == "\n    return y"


def test_missing_set_is_a_clear_error(tmp_path: Path) -> None:
    from bench.quality.data import DataError

    with pytest.raises(DataError, match="BENCH_EVAL_DATA"):
        load_set("santacoder-py", tmp_path)
    bad = tmp_path / SETS["santacoder-py"].file
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_bytes(gzip.compress(b"{not json\n"))
    with pytest.raises(DataError, match="not JSON"):
        load_set("santacoder-py", tmp_path)


# -- the sandbox ---------------------------------------------------------------------------


def test_sandbox_passes_and_fails() -> None:
    assert run_program("assert sum([1, 2]) == 3\n").status == "passed"
    failed = run_program("assert 1 + 1 == 3\n")
    assert failed.status == "failed" and "AssertionError" in failed.output


def test_sandbox_times_out_an_infinite_loop() -> None:
    result = run_program("while True:\n    pass\n", timeout=1.0)
    assert result.status == "timeout" and not result.passed


def test_sandbox_isolation_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_SECRET_FOR_TEST", "x")
    code = textwrap.dedent("""
        import os, sys
        assert "BENCH_SECRET_FOR_TEST" not in os.environ, os.environ
        assert sys.flags.isolated == 1
        assert os.listdir(".") == ["program.py"], os.listdir(".")
        import resource
        assert resource.getrlimit(resource.RLIMIT_AS)[0] == 256 << 20
    """)
    result = run_program(code, memory_mb=256)
    assert result.passed, result.output
    assert run_program("x = bytearray(512 << 20)\n", memory_mb=256).status == "failed"


class _Listener:
    """A loopback server that records whether anything connected."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connected = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connected = True
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def _connect_program(port: int) -> str:
    return textwrap.dedent(f"""
        import sys
        for name in ("socket", "_socket", "selectors", "select"):
            sys.modules.pop(name, None)
        import socket
        socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
    """)


def test_sandbox_blocks_the_network() -> None:
    listener = _Listener()
    try:
        # The module guard alone: importing socket fails.
        result = run_program("import socket\n", timeout=5)
        assert result.status == "failed" and "socket" in result.output
        # Undoing the guard still finds no network where a network namespace is available.
        if network_namespace_command():
            result = run_program(_connect_program(listener.port), timeout=5)
            assert result.status == "failed", result.output
    finally:
        listener.close()
    assert not listener.connected


def test_the_connect_program_does_connect_outside_the_sandbox() -> None:
    """The network check above is meaningful: the same program connects when not isolated."""
    import subprocess
    import sys

    listener = _Listener()
    try:
        proc = subprocess.run([sys.executable, "-c", _connect_program(listener.port)],
                              capture_output=True, timeout=10, check=False)
    finally:
        listener.close()
    assert proc.returncode == 0 and listener.connected


# -- scoring -------------------------------------------------------------------------------


def _he_sample() -> Sample:
    doc_prefix, doc_suffix, middle = editor_view(
        HE_ROW["prompt"], HE_ROW["suffix"], HE_ROW["canonical_solution"])
    return Sample("humaneval-single", HE_ROW["task_id"], "python", "t.py", HE_ROW["prompt"],
                  HE_ROW["suffix"], middle, doc_prefix, doc_suffix, HE_ROW["test"], "add")


def test_reference_passes_in_both_views() -> None:
    s = _he_sample()
    assert run_program(s.program(s.reference, editor=True)).passed
    assert run_program(s.program(s.reference + "\n", editor=False)).passed
    assert not run_program(s.program("    t = 0", editor=True)).passed


def test_score_raw_is_cut_at_the_first_line_end() -> None:
    s = _he_sample()
    # The raw model's text is scored as published: its first line, even when empty.
    good = score(s, "raw", Answer("    t = s\n    u = 1"), test_timeout=10)
    assert good.em and good.passed
    leading_blank = score(s, "raw", Answer("\n    t = s"), test_timeout=10)
    assert not leading_blank.em and not leading_blank.passed
    # The pipeline's suggestion is typed at the editor's cursor, all of it.
    piped = score(s, "pipeline", Answer("    t = s"), test_timeout=10)
    assert piped.em and piped.passed and piped.es == 1.0
    skipped = score(s, "pipeline", Answer("", skipped=True), test_timeout=10)
    assert not skipped.em and not skipped.passed

    summary = {x.system: x for x in summarize([good, leading_blank, piped, skipped])}
    assert summary["raw"].n == 2 and summary["raw"].pass_at_1 == 50.0
    assert summary["pipeline"].skipped == 1 and summary["pipeline"].em == 50.0


def test_report_table_and_merge() -> None:
    s = _he_sample()
    outcomes = [score(s, "raw", Answer("    t = s"), test_timeout=10),
                score(s, "pipeline", Answer("    t = 0"), test_timeout=10)]
    results = merge_results({"sets": {"santacoder-py": {"meta": {"seed": 1}, "systems": {
        "raw": {"n": 3, "em": 66.7, "es": 80.0, "pass_at_1": None, "skipped": 0,
                "empty": 0, "mean_ms": 1.0}}}}}, summarize(outcomes), {"seed": 0, "set_size": 9})
    assert set(results["sets"]) == {"santacoder-py", "humaneval-single"}  # merged, not replaced
    table = rows(results)
    assert [(r["set"], r["metric"]) for r in table] == [
        ("humaneval-single", "pass"), ("humaneval-single", "em"), ("santacoder-py", "em")]
    assert table[0]["values"] == {"raw": 100.0, "pipeline": 0.0}
    text = markdown(results)
    assert "| SantaCoder FIM, Python | exact match | 3 | 66.7 | — | 70.3 | 77.0 |" in text
    assert "n = 1 of 9, seed 0" in text and "systems pipeline, raw" in text
    assert PUBLISHED[("santacoder-py", "em")] == (70.3, 77.0)


# -- the cross-file set --------------------------------------------------------------------


def test_crossfile_samples_use_names_from_other_files(tmp_path: Path) -> None:
    pkg = tmp_path / "proj-1.0" / "src" / "proj"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "util.py").write_text("def scale(value, factor):\n    return value * factor\n"
                                 "LIMIT = 10\n")
    (pkg / "core.py").write_text(textwrap.dedent("""\
        from .util import LIMIT, scale
        from . import util


        def local_helper(x):
            return x


        def run(x):
            y = local_helper(x)
            z = scale(y, 2)
            if z > LIMIT:
                return util.scale(z, 0.5)
            return scale(z, 3)
    """))
    samples = list(crossfile.samples_for(tmp_path / "proj-1.0"))
    got = {(s.id.split(":")[1], s.reference) for s in samples}
    assert got == {("11", "z = scale(y, 2)"), ("12", "if z > LIMIT:"),
                   ("13", "return util.scale(z, 0.5)")}
    first = min(samples, key=lambda s: int(s.id.split(":")[1]))
    assert first.path == "src/proj/core.py" and first.language_id == "python"
    assert first.doc_prefix.endswith("y = local_helper(x)\n    ")
    assert first.doc_suffix.startswith("\n    if z > LIMIT:")
    assert first.doc_prefix + first.reference + first.doc_suffix == (pkg / "core.py").read_text()


def test_crossfile_api_samples_cut_at_the_first_use_of_another_files_member(tmp_path: Path
                                                                            ) -> None:
    pkg = tmp_path / "proj-1.0" / "proj"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "shapes.py").write_text(textwrap.dedent("""\
        class Color:
            RED = 1
            BLUE = 2


        def area(r):
            return r
    """))
    draw = textwrap.dedent("""\
        from . import shapes
        from .shapes import Color as Colour


        def paint(r):
            fill = Colour.RED
            size = shapes.area(r) + shapes.area(2)
            other = Colour.RED
            return Colour.BLUE if size else fill
    """)
    (pkg / "draw.py").write_text(draw)
    samples = list(crossfile.api_samples_for(tmp_path / "proj-1.0"))
    assert [(s.id.split(":", 1)[1], s.reference) for s in samples] == [
        ("6:18", "RED"), ("7:18", "area(r) + shapes.area(2)"), ("9:18", "BLUE if size else fill"),
    ]
    first = samples[0]
    assert first.set_name == crossfile.API_SET_NAME and first.path == "proj/draw.py"
    assert first.doc_prefix.endswith("def paint(r):\n    fill = Colour.")
    assert first.doc_prefix + first.reference + first.doc_suffix == draw


# -- end to end on a tiny model ------------------------------------------------------------


async def test_systems_run_on_a_real_model(tiny_qwen_model: Path, tmp_path: Path) -> None:
    """The raw baseline and the pipeline both answer through llama.cpp (noise from random
    weights, but a full run: prompts, generation, post-processing, tests, log)."""
    from bench.quality.pipeline import bench_config, make_pipeline
    from bench.quality.runner import run_samples
    from bench.quality.systems import PipelineSystem, RawSystem
    from tiers.llama_engine import LlamaEngine
    from tiers.local import LocalTier

    config = bench_config(tiny_qwen_model, {"local": {"maxTokens": 6, "contextSize": 512}})
    engines: list[LlamaEngine] = []
    local = LocalTier(config.local, tiny_qwen_model,
                      engine_factory=lambda cfg: engines.append(LlamaEngine(cfg)) or engines[-1])
    assert await local.wait_ready()
    try:
        systems = [RawSystem("raw", engines[0], max_tokens=6),
                   PipelineSystem("pipeline", make_pipeline(config, local, gate="text"))]
        log = tmp_path / "log.jsonl"
        outcomes = await run_samples([_he_sample()], systems, log_file=log, progress=False)
    finally:
        await local.aclose()
    assert [o.system for o in outcomes] == ["raw", "pipeline"]
    assert all(o.status in ("passed", "failed") for o in outcomes)
    assert outcomes[0].answer.prompt_tokens > 0 and outcomes[0].answer.generated_tokens > 0
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["system"] for r in records] == ["raw", "pipeline"]


def test_command_line_checks_its_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.quality.__main__ import _parse

    args = _parse(["--sets", "santacoder-py, crossfile-py", "--limit", "5"])
    assert args.set_names == ["santacoder-py", "crossfile-py"] and args.limit == 5
    assert args.system_names == {"raw", "pipeline"}
    for bad in (["--sets", "santacoder-go"], ["--systems", "raw,oracle"]):
        with pytest.raises(SystemExit):
            _parse(bad)
    assert "unknown set(s): santacoder-go" in capsys.readouterr().err
