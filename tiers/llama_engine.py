"""The in-process llama.cpp model: tokenization, KV-cache reuse and a token-by-token decode loop.

A `LlamaEngine` is not thread-safe (neither is `llama_cpp.Llama`): exactly one worker thread
owns it (see `tiers.local`). Sampling is greedy straight from the logits: completions want the
most likely text, and skipping llama.cpp's sampler chain over a 150k-token vocabulary saves
most of the per-token overhead of the Python binding.
"""

from __future__ import annotations

import codecs
import ctypes
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.templates import FimTemplate, Piece, Special, detect_template, template_for
from tiers.base import CancelToken
from tiers.errors import ModelLoadError

log = logging.getLogger(__name__)


@dataclass
class Generation:
    text: str
    tokens: int
    prompt_tokens: int
    evaluated_tokens: int
    mean_logprob: float | None
    stop_reason: str  # "eog", "length", "stop", "budget", "cancelled", "context"
    elapsed_ms: float


@dataclass(frozen=True)
class EngineConfig:
    model_path: Path
    n_ctx: int = 4096
    n_threads: int = 0
    n_gpu_layers: int = 0
    family: str = ""  # override of the detected FIM family
    n_batch: int = 512


class LlamaEngine:
    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self._llm = self._load(config)
        self._vocab = self._llm._model.vocab
        self._n_vocab = self._llm.n_vocab()
        self._special_ids: dict[str, int | None] = {}
        self._pieces: dict[int, bytes] = {}
        self.template = self._choose_template(config.family)
        self._stop_ids = {
            i for t in self.template.stop if (i := self.special_id(t)) is not None
        } | {i for t in self.template.control_tokens() if (i := self.special_id(t)) is not None}
        self.add_bos = bool(self._llm._model.add_bos_token())
        self.model_name = config.model_path.name

    @staticmethod
    def _load(config: EngineConfig):  # -> llama_cpp.Llama
        import llama_cpp

        path = config.model_path
        if not path.is_file():
            raise ModelLoadError(
                f"model file not found: {path}",
                user_message=f"Model file not found: {path}. Set `local.model_path` or run "
                "`lsp-server models pull`.",
            )
        try:
            from models.gguf_info import check_gguf
        except ImportError:  # model management not installed: llama.cpp still checks the file
            check_gguf = None
        if check_gguf is not None:
            check_gguf(path)
        threads = config.n_threads or _default_threads()
        try:
            return llama_cpp.Llama(
                model_path=str(path),
                n_ctx=config.n_ctx,
                n_batch=config.n_batch,
                n_threads=threads,
                n_threads_batch=threads,
                n_gpu_layers=config.n_gpu_layers,
                logits_all=False,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(
                f"llama.cpp could not load {path}: {exc}",
                user_message=f"Could not load model {path.name}: the file is not a usable GGUF "
                "model (truncated, corrupt or unsupported). Run `lsp-server models verify`.",
            ) from exc

    # -- vocabulary ---------------------------------------------------------------------------

    def special_id(self, text: str) -> int | None:
        """The id of the control token spelled `text`, or None if the vocabulary lacks it."""
        if text not in self._special_ids:
            ids = self._llm.tokenize(text.encode(), add_bos=False, special=True)
            found = None
            if len(ids) == 1:
                piece = self._llm._model.token_get_text(ids[0])
                if piece == text:
                    found = ids[0]
            self._special_ids[text] = found
        return self._special_ids[text]

    def _choose_template(self, family: str) -> FimTemplate:
        if family:
            try:
                return template_for(family)
            except KeyError:
                log.warning("unknown FIM family %r; detecting it from the vocabulary", family)
        return detect_template(lambda t: self.special_id(t) is not None)

    def tokenize(self, pieces: Sequence[Piece]) -> list[int]:
        """Text pieces as text (no control tokens can be injected), markers as their ids."""
        tokens: list[int] = [self._llm.token_bos()] if self.add_bos else []
        for piece in pieces:
            if isinstance(piece, Special):
                tid = self.special_id(piece.token)
                if tid is None:
                    raise ModelLoadError(f"the vocabulary has no token {piece.token!r}")
                tokens.append(tid)
            elif piece:
                tokens.extend(self._llm.tokenize(piece.encode(), add_bos=False, special=False))
        return tokens

    def _piece(self, token: int) -> bytes:
        """The bytes of one token (cached: the same few thousand tokens recur)."""
        piece = self._pieces.get(token)
        if piece is None:
            import llama_cpp

            buf = ctypes.create_string_buffer(64)
            n = llama_cpp.llama_token_to_piece(self._vocab, token, buf, len(buf), 0, False)
            if n < 0:  # a longer piece than the buffer: ask again with the size it needs
                buf = ctypes.create_string_buffer(-n)
                n = llama_cpp.llama_token_to_piece(self._vocab, token, buf, len(buf), 0, False)
            piece = buf.raw[: max(n, 0)]
            self._pieces[token] = piece
        return piece

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode(), add_bos=False, special=False))

    @property
    def n_ctx(self) -> int:
        return self._llm.n_ctx()

    # -- generation ---------------------------------------------------------------------------

    def _reuse_prefix(self, tokens: Sequence[int]) -> int:
        """Keep the longest common prefix of the KV cache; return the tokens still to evaluate."""
        llm = self._llm
        cached = llm.input_ids[: llm.n_tokens]
        n = min(len(cached), len(tokens))
        if n:
            diff = np.nonzero(cached[:n] != np.asarray(tokens[:n], dtype=cached.dtype))[0]
            common = int(diff[0]) if len(diff) else n
        else:
            common = 0
        # The last prompt token is always evaluated: its logits start the generation.
        common = min(common, len(tokens) - 1)
        llm.n_tokens = common
        return common

    def generate(
        self,
        prompt: Sequence[int],
        *,
        max_tokens: int,
        cancel: CancelToken,
        should_stop: Callable[[str], int | None] | None = None,
        deadline: float | None = None,
        finish_line_after_deadline: bool = True,
    ) -> Generation:
        """Greedy decoding of up to `max_tokens` after `prompt`, checking `cancel` per token.

        `should_stop(text)` returns a length to cut the text at when generation must end (a
        shared stop rule); past `deadline` (a `time.monotonic()` value) generation ends at the
        next line end.
        """
        import llama_cpp

        llm = self._llm
        t0 = time.perf_counter()
        room = self.n_ctx - max_tokens - 1
        if len(prompt) > room:
            raise ValueError(f"prompt of {len(prompt)} tokens does not fit the context ({room})")
        cancel.raise_if_cancelled()
        reused = self._reuse_prefix(prompt)
        to_eval = list(prompt[reused:])
        llm.eval(to_eval)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        text = ""
        logprob_sum = 0.0
        n_gen = 0
        reason = "length"
        overdue_from: int | None = None
        ctx = llm._ctx.ctx
        while n_gen < max_tokens:
            if cancel.cancelled:
                reason = "cancelled"
                break
            logits = np.ctypeslib.as_array(
                llama_cpp.llama_get_logits_ith(ctx, -1), shape=(self._n_vocab,)
            )
            token = int(np.argmax(logits))
            top = float(logits[token])
            logprob_sum += -float(np.log(np.exp(logits - top).sum()))
            n_gen += 1
            if llama_cpp.llama_vocab_is_eog(self._vocab, token) or token in self._stop_ids:
                reason = "eog"
                break
            text += decoder.decode(self._piece(token))
            if should_stop is not None and (cut := should_stop(text)) is not None:
                text = text[:cut]
                reason = "stop"
                break
            if deadline is not None and time.monotonic() > deadline:
                # Past the budget, finish the line being written, then stop.
                if overdue_from is None:
                    overdue_from = len(text)
                nl = text.find("\n", overdue_from)
                if not finish_line_after_deadline or (nl >= 0 and text[:nl].strip()):
                    text = text[:nl] if nl >= 0 else text
                    reason = "budget"
                    break
            if n_gen >= max_tokens:
                break
            llm.eval([token])
        text += decoder.decode(b"", final=True)
        return Generation(
            text=text,
            tokens=n_gen,
            prompt_tokens=len(prompt),
            evaluated_tokens=len(to_eval),
            mean_logprob=(logprob_sum / n_gen) if n_gen else None,
            stop_reason=reason,
            elapsed_ms=(time.perf_counter() - t0) * 1000,
        )

    def close(self) -> None:
        self._llm.close()


def _default_threads() -> int:
    import os

    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 2)
    # Beyond ~8 threads, token generation on the CPU gets no faster (memory bound).
    return max(1, min(8, n))
