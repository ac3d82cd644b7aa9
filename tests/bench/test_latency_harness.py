"""The latency bench's harness on tiny inputs: no model, no network."""

from __future__ import annotations

import asyncio
import itertools
import random
import statistics
from pathlib import Path

import pytest

from bench.latency.llama_server import (
    VimConfig,
    _ClientCache,
    extra_chunks,
    local_context,
    shown_text,
)
from bench.latency.lsp_client import metrics_from_text, utf16_offset, utf16_position
from bench.latency.replay import (
    Answer,
    SessionStats,
    accepted_part,
    complete_positions,
    first_line_match,
    next_keystroke,
    replay_region,
    typing_schedule,
)
from bench.latency.report import ratios, table
from bench.latency.sources import pick_positions, pick_region, python_files
from bench.latency.stats import percentile, summarize

CODE = (
    "def area(width, height):\n"
    "    if width < 0:\n"
    "        raise ValueError(width)\n"
    "    return width * height\n"
)


# -- typing schedule --------------------------------------------------------------------------


def test_schedule_is_deterministic_for_a_seed_and_types_the_text() -> None:
    a, b, c = typing_schedule(CODE, 7), typing_schedule(CODE, 7), typing_schedule(CODE, 8)
    assert a == b
    assert [k.delay for k in a] != [k.delay for k in c]
    assert "".join(k.text for k in a) == CODE
    assert all(k.start == prev.end for prev, k in itertools.pairwise(a))


def test_schedule_bursts_pauses_and_auto_indent() -> None:
    sched = typing_schedule(CODE, 3)
    enters = [k for k in sched if k.text.startswith("\n")]
    assert [k.text for k in enters] == ["\n    ", "\n        ", "\n    ", "\n"]
    for prev, k in itertools.pairwise(sched):
        if prev.text.startswith("\n"):  # first key of a line: a pause
            assert 0.3 <= k.delay <= 1.5
        assert 0.05 <= k.delay <= 1.5


def test_next_keystroke_inside_an_indentation_types_the_rest_of_it() -> None:
    sched = typing_schedule(CODE, 1)
    nl = CODE.index("\n")
    assert next_keystroke(sched, nl).text == "\n    "
    cut = next_keystroke(sched, nl + 2)
    assert (cut.start, cut.text) == (nl + 2, "   ")
    assert next_keystroke(sched, 0) == sched[0]


# -- acceptance and match ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suggestion", "truth", "expected"),
    [
        ("width * height", "width * height\nnext", "width * height"),  # all of it
        ("wid", "width * height", "wid"),  # a correct start of the line
        ("x < 0:\n    return 1", "x < 0:\n    raise", "x < 0:"),  # first line only
        ("a\nb\nc", "a\nb\nd", "a\nb"),  # whole lines that match
        ("x < 1:", "x < 0:", ""),  # wrong first line: nothing
        ("x < 0:x", "x < 0:\n", ""),
        ("   \n", "   \nfoo", ""),  # only whitespace: nothing worth accepting
        ("", "anything", ""),
        ("\n    return x", "\n    return y", ""),
    ],
)
def test_accepted_part_accepts_only_matching_text(suggestion: str, truth: str,
                                                  expected: str) -> None:
    got = accepted_part(suggestion, truth)
    assert got == expected
    assert truth.startswith(got)


def test_first_line_match() -> None:
    assert first_line_match("width * height", "width * height\n")
    assert first_line_match("\n    return x", "\n    return x  \nmore")
    assert not first_line_match("width", "width * height")
    assert not first_line_match("\n\n    return x", "\n    return x")
    assert not first_line_match("   ", "   ")


# -- percentiles and summary ------------------------------------------------------------------


def test_percentile_matches_the_inclusive_quantiles() -> None:
    data = [0.9, 0.1, 0.5, 0.3, 2.0, 0.7, 0.2, 1.1, 0.05, 0.4, 3.5]
    reference = statistics.quantiles(data, n=100, method="inclusive")
    for q in (1, 25, 50, 95, 99):
        assert percentile(data, q) == pytest.approx(reference[q - 1])
    assert percentile(data, 0) == min(data)
    assert percentile(data, 100) == max(data)
    assert percentile([], 50) is None
    assert percentile([4.0], 99) == 4.0
    with pytest.raises(ValueError):
        percentile(data, 101)


# -- the replay against in-process backends ---------------------------------------------------


class _Pending:
    def __init__(self, answer: Answer, delay: float) -> None:
        self._answer, self._delay = answer, delay
        self._cancelled = asyncio.Event()

    def cancel(self) -> None:
        self._cancelled.set()

    async def result(self) -> Answer:
        if self._delay <= 0:
            return self._answer
        try:
            await asyncio.wait_for(self._cancelled.wait(), self._delay)
        except TimeoutError:
            return self._answer
        return Answer("cancelled")


class TextBackend:
    """A backend that keeps the document as the server would and suggests from a known text:
    the rest of the current line of `source` (right), or a garbled version of it (wrong)."""

    name = "text"

    def __init__(self, source: str, delay: float = 0.0, wrong: bool = False) -> None:
        self.source, self.delay, self.wrong = source, delay, wrong
        self.docs: dict[str, str] = {}
        self.final: dict[str, str] = {}
        self.requests = 0

    async def open(self, uri: str, text: str) -> None:
        self.docs[uri] = text

    async def insert(self, uri: str, offset: int, text: str, document: str) -> None:
        doc = self.docs[uri]
        self.docs[uri] = doc[:offset] + text + doc[offset:]
        assert self.docs[uri] == document

    def complete(self, uri: str, offset: int) -> _Pending:
        self.requests += 1
        doc = self.docs[uri]
        # Where the cursor is in the source: the document is the source with one line held back.
        prefix = doc[:offset]
        rest = self.source[len(prefix):] if self.source.startswith(prefix) else ""
        line = rest.split("\n", 1)[0] or "\n".join(rest.split("\n", 2)[:2])
        if self.wrong and line.strip():
            line = "zz" + line
        return _Pending(Answer("answered", line, prompt_tokens=3, cached_tokens=9), self.delay)

    async def close(self, uri: str) -> None:
        self.final[uri] = self.docs.pop(uri)


def _region(tmp_path: Path, lines: int = 3):
    body = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(30))
    path = tmp_path / "mod.py"
    path.write_text(body)
    region = pick_region(path, body, random.Random(5), lines, "mod.py")
    assert region is not None
    return region


def test_replay_accepts_right_suggestions_and_rebuilds_the_file(tmp_path: Path) -> None:
    region = _region(tmp_path)
    backend = TextBackend(region.text)
    stats = SessionStats()
    asyncio.run(replay_region(backend, region, 1, stats, speed=50.0))
    assert backend.final[region.path.as_uri()] == region.text  # every edit landed exactly once
    assert stats.acceptances > 0 and stats.accepted_chars > 0
    assert stats.keystrokes + stats.acceptances == len(stats.records)
    assert stats.accepted_chars + stats.typed_chars == len(region.target)
    summary = summarize("text", stats)
    assert summary.answered > 0 and summary.accepted_per_100 and summary.accepted_per_100 > 0
    assert summary.kv_reuse == pytest.approx(0.75)
    assert summary.first_line_exact == 1.0  # it only ever suggests the real rest of the line


def test_replay_never_accepts_wrong_suggestions(tmp_path: Path) -> None:
    region = _region(tmp_path)
    backend = TextBackend(region.text, wrong=True)
    stats = SessionStats()
    asyncio.run(replay_region(backend, region, 1, stats, speed=50.0))
    assert backend.final[region.path.as_uri()] == region.text
    assert stats.acceptances == 0 and stats.accepted_chars == 0
    assert stats.keystrokes == len(typing_schedule(region.target, 1))
    summary = summarize("text", stats)
    assert summary.shown > 0 and summary.first_line_exact == 0.0


def test_slow_answers_are_cancelled_by_the_next_keystroke(tmp_path: Path) -> None:
    region = _region(tmp_path, lines=2)
    backend = TextBackend(region.text, delay=0.5)
    stats = SessionStats()
    asyncio.run(replay_region(backend, region, 1, stats, speed=50.0, final_wait=2.0))
    statuses = [r.status for r in stats.records]
    assert statuses[:-1] == ["cancelled"] * (len(statuses) - 1)
    assert statuses[-1] == "answered"  # the user stopped typing: the last one is answered
    summary = summarize("text", stats)
    assert summary.answered == 1 and summary.p50 is not None and summary.p50 >= 0.5
    assert "| text |" in table([summary])
    assert ratios([summary]) == ""


# -- sources, clients ------------------------------------------------------------------------


def test_regions_and_positions_are_seeded(tmp_path: Path) -> None:
    for n in range(3):
        (tmp_path / f"m{n}.py").write_text(
            "".join(f"value_{n}_{i} = compute({i}, {i + 1})  # step\n" for i in range(120))
        )
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "t.py").write_text("x = 1\n" * 200)
    files = python_files(tmp_path)
    assert [p.name for p in files] == ["m0.py", "m1.py", "m2.py"]
    a = pick_positions([tmp_path], 2, 3, seed=4)
    assert a == pick_positions([tmp_path], 2, 3, seed=4)
    assert len(a) == 6
    for pos in a:
        line_end = pos.text.find("\n", pos.offset)
        assert line_end == pos.offset  # the rest of the line is what the model must write
        assert pos.truth.strip()


def test_utf16_positions_round_trip() -> None:
    text = "a = '😀é'\nb = 2\n"
    for offset in range(len(text) + 1):
        assert utf16_offset(text, utf16_position(text, offset)) == offset
    assert utf16_position(text, text.index("é")) == {"line": 0, "character": 7}


def test_metrics_are_read_from_log_lines_and_tolerate_absence() -> None:
    assert metrics_from_text("completion evaluated=12 promptTokens=300 cached=false") == {
        "evaluated": 12, "promptTokens": 300, "cached": False}
    assert metrics_from_text('{"evaluated": 0, "cached": true}') == {
        "evaluated": 0, "cached": True}
    assert metrics_from_text("initialized: root=None") == {}
    reported = [
        metrics_from_text('metrics {"cached": false, "promptTokens": 300, "evaluated": 30}'),
        metrics_from_text('metrics {"cached": true, "promptTokens": 0, "evaluated": 0}'),
    ]
    summary = summarize("ours", SessionStats(), reported)
    assert summary.prompt_tokens == 15.0
    assert summary.kv_reuse == pytest.approx(0.9)
    assert summary.cache_hit_rate == 0.5
    assert summarize("ours", SessionStats()).prompt_tokens is None  # no figures: none shown


def test_llama_vim_context_and_cache() -> None:
    doc = "import os\n\ndef f(x):\n    ret\n    pass\n"
    cfg = VimConfig()
    ctx = local_context(doc, doc.index("ret") + 3, cfg)
    assert (ctx.prefix, ctx.middle, ctx.indent) == ("import os\n\ndef f(x):\n", "    ret", 4)
    assert ctx.suffix == "\n    pass\n\n"
    blank = local_context("def f():\n    \n", len("def f():\n    "), cfg)
    assert (blank.middle, blank.indent, blank.blank_line) == ("", 0, True)
    assert shown_text("    return 1\n\n", blank) == "return 1"
    cache = _ClientCache(4)
    cache.put(ctx, "urn x\n")
    typed = local_context(doc.replace("ret\n", "retu\n"), doc.index("ret") + 4, cfg)
    assert cache.get(typed) == "rn x\n"  # typed through the start of a cached answer
    other = local_context(doc.replace("ret\n", "rex\n"), doc.index("ret") + 3, cfg)
    assert cache.get(other) is None
    many = "\n".join(f"line {i}" for i in range(400)) + "\n"
    chunks = extra_chunks(many, many.index("line 300"), VimConfig(ring_n_chunks=2), seed=1)
    assert len(chunks) == 2 and all(c["text"].count("\n") == 32 for c in chunks)


def test_positions_are_answered_one_by_one_after_an_untimed_warm_request(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(
        "".join(f"result_{i} = compute_value({i}, {i + 1})\n" for i in range(120))
    )
    positions = pick_positions([tmp_path], 1, 3, seed=2)
    source = (tmp_path / "m.py").read_text()
    backend = TextBackend(source)
    stats = SessionStats()
    asyncio.run(complete_positions(backend, positions, stats))
    assert backend.requests == len(positions) + 1  # one warm request for the file
    assert [r.status for r in stats.records] == ["answered"] * len(positions)
    # The text backend knows the file: every suggestion is the real rest of the line.
    assert all(r.first_line_match for r in stats.records)
    assert summarize("text", stats).first_line_exact == 1.0


def test_cdf_plot_is_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from bench.latency.replay import RequestRecord
    from bench.latency.report import cdf_plot

    recs = [RequestRecord("a", "f", i, "key", 0.0, latency=lat, status=status)
            for i, (lat, status) in enumerate([(0.0001, "answered"), (0.3, "answered"),
                                               (2.0, "answered"), (0.1, "cancelled")])]
    out = cdf_plot({"a": recs, "b": []}, tmp_path / "cdf.png", "test")
    assert out is not None and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
