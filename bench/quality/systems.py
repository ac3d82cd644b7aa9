"""What answers a sample: the pipeline (as in the editor), or the raw model (as published).

Every system turns a `Sample` into an `Answer`; the runner scores answers the same way for all.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from bench.quality.data import Sample
from lsp_server.documents import Snapshot
from lsp_server.pipeline import CompletionPipeline
from models.templates import build_prompt
from tiers.base import CancelToken, Mode
from tiers.llama_engine import LlamaEngine


@dataclass(frozen=True)
class Answer:
    text: str  # "" when nothing was suggested
    skipped: bool = False  # the gate decided not to ask the model
    mode: str = ""  # the gate's decision: "single", "multi", "skip"
    reason: str = ""
    context_chunks: int = 0
    prompt_tokens: int = 0
    generated_tokens: int = 0
    ms: float = 0.0


def snapshot_of(sample: Sample) -> Snapshot:
    """The editor's view: the document with the cursor at the start of the hole."""
    path = (Path(sample.root).absolute() / sample.path if sample.root
            else Path("/bench") / sample.path)
    return Snapshot(path.as_uri(), sample.language_id, 1, sample.doc_prefix + sample.doc_suffix,
                    len(sample.doc_prefix))


class PipelineSystem:
    """The completion pipeline through the same gate, context, tier and post-processing as the
    language server. `block=True` asks for a block, as the explicit complete-block command does
    (`lsp-server complete --multi-line`), instead of letting the gate choose."""

    def __init__(self, name: str, pipeline: CompletionPipeline, *, block: bool = False,
                 index=None) -> None:
        self.name = name
        self.pipeline = pipeline
        self.block = block
        self.index = index  # a WorkspaceIndex that should see the document as open

    async def answer(self, sample: Sample) -> Answer:
        snap = snapshot_of(sample)
        opened = self._open(sample, snap.text)
        try:
            return await self._answer(sample, snap)
        finally:
            if opened is not None:
                self.index.close_document(opened)

    def _open(self, sample: Sample, text: str) -> Path | None:
        if self.index is None or not sample.root:
            return None
        path = Path(sample.root) / sample.path
        self.index.update_text(path, text)
        return path

    async def _answer(self, sample: Sample, snap: Snapshot) -> Answer:
        p = self.pipeline
        t0 = time.perf_counter()
        decision = p.decide(snap, sample.path)
        if self.block:
            request = p.request_for(snap, sample.path, force=True)
            assert request is not None  # forced requests are never skipped
            request = replace(request, mode=Mode.MULTI_LINE,
                              max_tokens=p.config.local.max_tokens_multiline)
            result = await p.tier.complete(request, CancelToken())
            if result is not None and not result.text.strip():
                result = None
            chunks = len(request.context)
        else:
            if decision.mode == Mode.SKIP:
                return Answer("", skipped=True, mode=decision.mode.value, reason=decision.reason)
            chunks = 0
            if self.index is not None:  # the chunks the request will carry, for the report
                request = p.request_for(snap, sample.path)
                chunks = len(request.context) if request is not None else 0
            result = await p.complete(snap, CancelToken(), sample.path)
        ms = (time.perf_counter() - t0) * 1000
        if result is None:
            return Answer("", mode=decision.mode.value, reason=decision.reason, ms=ms,
                          context_chunks=chunks)
        return Answer(
            result.text, mode=decision.mode.value, reason=result.stop_reason,
            context_chunks=chunks, prompt_tokens=result.prompt_tokens,
            generated_tokens=result.generated_tokens, ms=ms,
        )


def _first_line_stop(text: str) -> int | None:
    nl = text.find("\n")
    return nl if nl >= 0 else None


def _first_nonempty_line_stop(text: str) -> int | None:
    start = 0
    while True:
        nl = text.find("\n", start)
        if nl < 0:
            return None
        if text[start:nl].strip():
            return nl
        start = nl + 1


class RawSystem:
    """The model alone, as published evaluations run it: the plain FIM template over the
    sample's prefix and suffix (no window, no context), greedy decoding, stopping only at the
    model's end-of-generation tokens or `max_tokens`, no post-processing. For single-line sets
    the text is cut at the first line end (HumanEval infilling) or after the first non-empty
    line (SantaCoder FIM), which is what their metrics look at; generation stops there."""

    def __init__(self, name: str, engine: LlamaEngine, *, max_tokens: int = 64,
                 max_tokens_multiline: int = 256) -> None:
        self.name = name
        self.engine = engine
        self.max_tokens = max_tokens
        self.max_tokens_multiline = max_tokens_multiline

    async def answer(self, sample: Sample) -> Answer:
        engine = self.engine
        t0 = time.perf_counter()
        prefix, suffix = sample.prefix, sample.suffix
        if sample.set_name == "humaneval-multi":
            stop, max_tokens = None, self.max_tokens_multiline
        elif sample.set_name == "humaneval-single":
            stop, max_tokens = _first_line_stop, self.max_tokens
        else:
            stop, max_tokens = _first_nonempty_line_stop, self.max_tokens
        room = engine.n_ctx - max_tokens - 1
        while True:  # too long: keep the text nearest the hole, as evaluations truncate
            prompt = engine.tokenize(build_prompt(engine.template, prefix, suffix))
            if len(prompt) <= room:
                break
            prefix, suffix = prefix[len(prefix) // 4 :], suffix[: len(suffix) * 3 // 4]
        gen = engine.generate(prompt, max_tokens=max_tokens, cancel=CancelToken(),
                              should_stop=stop)
        return Answer(gen.text, mode="raw", reason=gen.stop_reason,
                      prompt_tokens=gen.prompt_tokens, generated_tokens=gen.tokens,
                      ms=(time.perf_counter() - t0) * 1000)
