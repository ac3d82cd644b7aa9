"""The local tier: a GGUF model in-process, owned by one worker thread.

The event loop never touches the model: every call goes through a single-thread executor, so
at most one inference runs at a time and the `Llama` object is only ever used from one thread.
A request whose cancel token is set while it waits in the queue is dropped before it starts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from models.gguf_info import read_gguf
from models.gpu import choose_gpu_layers
from models.templates import FimTemplate, Piece, Special, build_prompt
from tiers.base import (
    TRACE,
    CancelledError,
    CancelToken,
    Completion,
    CompletionRequest,
    Mode,
    TierInfo,
)
from tiers.errors import ModelLoadError, TierUnavailableError
from tiers.llama_engine import EngineConfig, Generation, LlamaEngine
from tiers.postprocess import (
    block_indent,
    current_line_prefix,
    early_stop,
    from_line_start,
    line_start_split,
    postprocess,
)
from tiers.settings import LocalSettings

log = logging.getLogger(__name__)

# The prompt window moves in steps of this many lines, so that consecutive keystrokes share
# the same first tokens and the KV cache is reused.
_WINDOW_STEP = 16


@dataclass(frozen=True)
class PromptWindow:
    prefix: str
    suffix: str
    middle: str = ""  # the last lines before the cursor, placed after the FIM middle marker


def window(
    prefix: str,
    suffix: str,
    max_prefix_lines: int,
    max_suffix_lines: int,
    middle_lines: int = 0,
) -> PromptWindow:
    """Cut the document to a window around the cursor whose start moves rarely.

    With `middle_lines`, the prefix is split at the end of a line whose number is a multiple of
    it: what follows (the line being typed and up to `middle_lines - 1` lines before it) goes
    into the middle, after everything else. Typing then only appends tokens to the prompt, and
    the suffix is evaluated again only when the split moves, once every `middle_lines` lines.
    """
    pre_lines = prefix.split("\n")
    extra = len(pre_lines) - max_prefix_lines
    if extra > 0:
        start = ((extra + _WINDOW_STEP - 1) // _WINDOW_STEP) * _WINDOW_STEP
        pre_lines = pre_lines[start:]
    suffix = "\n".join(suffix.split("\n")[:max_suffix_lines])
    if middle_lines > 0 and len(pre_lines) > 1:
        # Line numbers in the window keep their remainder: its start is a multiple of 16 lines.
        current = len(pre_lines) - 1
        split = current - current % middle_lines or current
        head = "\n".join(pre_lines[:split])
        return PromptWindow(head, suffix, "\n" + "\n".join(pre_lines[split:]))
    return PromptWindow("\n".join(pre_lines), suffix)


class LocalTier:
    """Implements `tiers.base.Tier` over a `LlamaEngine` living in its own thread."""

    name = "local"

    def __init__(
        self,
        settings: LocalSettings,
        model_path: Path | Callable[[], Path | None] | None,
        *,
        engine_factory: Callable[[EngineConfig], LlamaEngine] = LlamaEngine,
    ) -> None:
        self.settings = settings
        # A callable is resolved in the worker thread: assembling the default model from its
        # packages takes seconds and must not delay the server's start.
        self._resolve = model_path if callable(model_path) else (lambda: model_path)
        self.model_path: Path | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama")
        self._engine: LlamaEngine | None = None
        self._engine_factory = engine_factory
        self._load_error: ModelLoadError | None = None
        self._loading: Future[None] | None = None
        self.last_load_seconds: float | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start_loading(self) -> Future[None]:
        """Load the model in the worker thread (once); returns a future that never raises."""
        if self._loading is None:
            self._loading = self._executor.submit(self._load)
        return self._loading

    def _load(self) -> None:
        try:
            self.model_path = self._resolve()
        except ModelLoadError as exc:
            self._load_error = exc
            log.error("local model not available: %s", exc)
            return
        if self.model_path is None:
            self._load_error = ModelLoadError(
                "no model configured",
                user_message="No local model: install the default one with "
                "`pip install 'lsp-server[default-model]'` or set `local.model_path`.",
            )
            return
        t0 = time.perf_counter()
        try:
            self._engine = self._engine_factory(
                EngineConfig(
                    model_path=self.model_path,
                    n_ctx=self.settings.context_size,
                    n_threads=self.settings.threads,
                    n_gpu_layers=_gpu_layers(self.settings.gpu_layers, self.model_path),
                    family=self.settings.family,
                )
            )
        except ModelLoadError as exc:
            self._load_error = exc
            log.error("local model not loaded: %s", exc)
            return
        except Exception as exc:  # native code can fail in ways we cannot list
            self._load_error = ModelLoadError(
                f"loading {self.model_path} failed: {exc!r}",
                user_message=f"Could not load model {self.model_path.name}: {exc}",
            )
            log.exception("local model not loaded")
            return
        try:
            self._engine.index_vocabulary()  # for token healing, before the first keystroke
        except Exception:  # healing is an improvement, not a requirement
            log.exception("vocabulary index for token healing failed")
        self.last_load_seconds = time.perf_counter() - t0
        log.info(
            "local model %s loaded in %.1f s (template %s)",
            self.model_path.name, self.last_load_seconds, self._engine.template.family,
        )

    async def wait_ready(self) -> bool:
        await asyncio.wrap_future(self.start_loading())
        return self._engine is not None

    @property
    def load_error(self) -> ModelLoadError | None:
        return self._load_error

    @property
    def template(self) -> FimTemplate | None:
        return self._engine.template if self._engine else None

    def info(self) -> TierInfo:
        engine = self._engine
        return TierInfo(
            name=self.name,
            model=self.model_path.name if self.model_path else "",
            supports_fim=bool(engine and engine.template.supports_fim),
            max_context=self.settings.context_size,
            expected_latency_ms=300.0,
            available=engine is not None,
            detail=self._load_error.user_message if self._load_error else "",
        )

    async def aclose(self) -> None:
        engine, self._engine = self._engine, None
        if engine is not None:
            await asyncio.wrap_future(self._executor.submit(engine.close))
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- chat (edits when no remote model is configured) ----------------------------------------

    async def chat(
        self,
        messages,
        cancel: CancelToken,
        *,
        kind: str = "edit",
        max_tokens: int = 1024,
        paths=(),
    ) -> str:
        if not await self.wait_ready():
            raise TierUnavailableError(
                "no local model", user_message=self.info().detail or "No local model loaded."
            )
        engine = self._engine
        assert engine is not None
        fut = self._executor.submit(engine.chat, messages, max_tokens=max_tokens, cancel=cancel)
        try:
            return await asyncio.wrap_future(fut)
        except asyncio.CancelledError:
            cancel.cancel("task cancelled")
            raise

    # -- completion ---------------------------------------------------------------------------

    async def complete(self, request: CompletionRequest, cancel: CancelToken) -> Completion | None:
        if not await self.wait_ready():
            return None
        cancel.raise_if_cancelled()
        fut = self._executor.submit(self._complete_sync, request, cancel)
        try:
            return await asyncio.wrap_future(fut)
        except asyncio.CancelledError:
            cancel.cancel("task cancelled")  # the worker stops at its next token
            raise

    def _complete_sync(self, request: CompletionRequest, cancel: CancelToken) -> Completion | None:
        engine = self._engine
        if engine is None:
            return None
        cancel.raise_if_cancelled()  # superseded while it waited in the queue
        t0 = time.perf_counter()
        s = self.settings
        multi = request.mode == Mode.MULTI_LINE
        max_tokens = min(
            request.max_tokens, s.max_tokens_multiline if multi else s.max_tokens
        )
        budget = request.time_budget if request.time_budget is not None else s.time_budget_ms / 1000
        deadline = time.monotonic() + budget if budget else None
        split = line_start_split(request.prefix)
        gen, text = self._attempt(engine, request, split, max_tokens, cancel, deadline)
        if split and not text.strip() and gen.stop_reason in ("stop", "eog"):
            # The model went on with the previous line, or ended there: ask again with the
            # cursor line as the document has it, in the classic layout.
            first = gen
            gen, text = self._attempt(engine, request, None, max_tokens, cancel, deadline)
            gen.evaluated_tokens += first.evaluated_tokens
            gen.tokens += first.tokens
        return Completion(
            text=text,
            tier=self.name,
            model=engine.model_name,
            mean_logprob=gen.mean_logprob,
            prompt_tokens=gen.prompt_tokens,
            evaluated_tokens=gen.evaluated_tokens,
            generated_tokens=gen.tokens,
            elapsed_ms=(time.perf_counter() - t0) * 1000,
            stop_reason=gen.stop_reason,
        )

    def _attempt(
        self,
        engine: LlamaEngine,
        request: CompletionRequest,
        split: tuple[str, str] | None,
        max_tokens: int,
        cancel: CancelToken,
        deadline: float | None,
    ) -> tuple[Generation, str]:
        """One generation and its post-processed answer. With `split` (see
        `line_start_split`) the prompt ends at the last line with text and the answer is mapped
        back to the cursor; without, the prompt ends at the cursor."""
        prompt_request = replace(request, prefix=split[0]) if split else request
        typed = split[1] if split else ""
        # Only a line with text typed on it goes after the middle marker: after a complete line
        # there, models tend to go on with that line (a trailing comment) instead of the next;
        # a line of indentation alone stays in the prefix (its tokens would not heal).
        has_text = bool(current_line_prefix(request.prefix).strip())  # then `split` is None
        middle_lines = self.settings.middle_lines if has_text else 0
        # A blank cursor line joins the middle layout when it spans several lines (so that Enter
        # does not move the split); the answer is then made to start on a new line, as models
        # left at the end of a line in the middle tend to go on with that line.
        forced = ""
        if split and self.settings.middle_lines > 1:
            middle_lines, forced = self.settings.middle_lines, "\n"
        prompt, context_tokens = self._prompt_tokens(
            engine, prompt_request, max_tokens, middle_lines
        )
        width = block_indent(request.prefix)

        def at_cursor(raw: str) -> tuple[str, int] | None:
            if not split:
                return raw, 0
            mapped = from_line_start(forced + raw, typed)
            return mapped if mapped is None else (mapped[0], max(0, mapped[1] - len(forced)))

        def should_stop(raw: str) -> int | None:
            mapped = at_cursor(raw)
            if mapped is None:
                return 0  # the model went on with the previous line: nothing for the cursor
            cut = early_stop(request, mapped[0], block_width=width)
            return None if cut is None else mapped[1] + cut

        # Only a prompt ending in typed text is healed (the middle, or a suffix-first prefix);
        # a prompt ending at a control token or a line end has nothing to heal.
        healed = forced.encode()
        if has_text:
            prompt, healed = engine.heal(prompt)
        gen = engine.generate(
            prompt,
            healed=healed,
            max_tokens=max_tokens,
            cancel=cancel,
            should_stop=should_stop,
            deadline=deadline,
            shift_limit=context_tokens,
        )
        if gen.stop_reason == "cancelled":
            raise CancelledError(cancel.reason)
        mapped = at_cursor(gen.text)
        answer = postprocess(request, mapped[0]) if mapped else ""
        log.log(TRACE, "generated %r (%s), answer %r", gen.text, gen.stop_reason, answer)
        return gen, answer

    def _prompt_tokens(
        self, engine: LlamaEngine, request: CompletionRequest, max_tokens: int,
        middle_lines: int = 0,
    ) -> tuple[list[int], int]:
        """Tokens of the FIM prompt, shrunk (context first, then the window) until it fits,
        and how many of them are repository context (the part whose KV cells may be shifted)."""
        room = engine.n_ctx - max_tokens - 1
        # About 3.5 characters a token in code: start from a window that should fit.
        max_pre, max_suf = self.settings.prefix_lines, self.settings.suffix_lines
        context = list(request.context)
        while True:
            win = window(
                request.prefix, request.suffix, max_pre, max_suf,
                middle_lines if engine.template.middle_after_suffix else 0,
            )
            pieces = build_prompt(
                engine.template, win.prefix, win.suffix, context=context,
                path=request.path, language_id=request.language_id, middle=win.middle,
            )
            tokens = engine.tokenize(pieces)
            if len(tokens) <= room:
                return tokens, _context_tokens(engine, pieces)
            if context:
                context.pop()  # the most volatile chunks come last: drop them first
            elif max_pre > 8 or max_suf > 4:
                max_pre, max_suf = max(8, max_pre // 2), max(4, max_suf // 2)
            else:
                return tokens[-room:], 0


def _context_tokens(engine: LlamaEngine, pieces: list[Piece]) -> int:
    """Tokens before the FIM region (0 when the context is inlined into the prefix text)."""
    tpl = engine.template
    fim = {tpl.prefix, tpl.suffix}
    for i, piece in enumerate(pieces):
        if isinstance(piece, Special) and piece.token in fim:
            return len(engine.tokenize(pieces[:i])) if i else 0
    return 0


def _gpu_layers(requested: int, model_path: Path) -> int:
    """All layers on a GPU backend when the model fits, fewer when it does not, else none."""
    try:
        info = read_gguf(model_path)
    except ModelLoadError:
        return 0  # the load itself reports what is wrong with the file
    return choose_gpu_layers(info.data_end - info.data_offset, info.n_layers or 0, requested)
