"""The in-process llama.cpp model: tokenization, KV-cache reuse and a token-by-token decode loop.

A `LlamaEngine` is not thread-safe (neither is `llama_cpp.Llama`): exactly one worker thread
owns it (see `tiers.local`). Sampling is greedy straight from the logits: completions want the
most likely text, and skipping llama.cpp's sampler chain over a 150k-token vocabulary saves
most of the per-token overhead of the Python binding.
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.gguf_info import check_gguf
from models.gpu import gpu_info
from models.templates import FimTemplate, Piece, Special, detect_template, template_for
from tiers.base import CancelledError, CancelToken
from tiers.errors import ModelLoadError

log = logging.getLogger(__name__)

# Prompt tokens evaluated between two checks of the cancel token (about 0.1-0.5 s on a CPU).
_CANCEL_SLICE = 64

# A second sequence holds a reused chunk of the KV cache while tokens are inserted before it.
_STAGING_SEQ = 1


@contextlib.contextmanager
def _two_sequences():
    """Make `llama_cpp.Llama` create its context with two sequences in one unified KV cache.

    The binding does not expose `n_seq_max`; it reads the defaults from this function while
    constructing, in the calling thread (the model's worker thread, once per load).
    """
    import llama_cpp.llama_cpp as capi

    original = capi.llama_context_default_params

    def patched():
        params = original()
        params.n_seq_max = 2
        params.kv_unified = True
        return params

    capi.llama_context_default_params = patched
    try:
        yield
    finally:
        capi.llama_context_default_params = original


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
        self._sorted_pieces: tuple[list[bytes], np.ndarray] | None = None
        # Tokens whose KV cells the cache holds, by position; the first `_prompt_len` of them
        # are the last prompt, the rest were generated after it.
        self._cached: list[int] = []
        self._prompt_len = 0
        self.min_shift_reuse = 32  # shorter matching tails are cheaper to re-evaluate
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
        vram = (gpu_info().free_vram or 0) if config.n_gpu_layers else 0
        check_gguf(path, context_size=config.n_ctx, vram_bytes=vram)
        threads = config.n_threads or _default_threads()
        try:
            with _two_sequences():
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

    def index_vocabulary(self) -> None:
        """The vocabulary's pieces in byte order (once), so that the tokens sharing a prefix
        form one range (about a second for a 150k-token vocabulary)."""
        if self._sorted_pieces is not None:
            return
        import llama_cpp

        is_control = llama_cpp.llama_vocab_is_control
        pairs = sorted(
            (piece, t) for t in range(self._n_vocab)
            if (piece := self._piece(t)) and not is_control(self._vocab, t)
        )
        self._sorted_pieces = ([p for p, _ in pairs],
                               np.fromiter((t for _, t in pairs), dtype=np.int64))

    def tokens_starting_with(self, prefix: bytes) -> np.ndarray:
        """Ids of the tokens whose text starts with `prefix` (control tokens excluded)."""
        import bisect

        self.index_vocabulary()
        assert self._sorted_pieces is not None
        pieces, ids = self._sorted_pieces
        lo = bisect.bisect_left(pieces, prefix)
        hi = bisect.bisect_left(pieces, prefix + b"\xff" * 8, lo)
        return ids[lo:hi]

    def heal(self, prompt: list[int]) -> tuple[list[int], bytes]:
        """Token healing: drop the prompt's last token when it is text, returning the shorter
        prompt and that token's bytes, which the answer must start with. A prompt cut mid-word
        or after a space ends in a token that the model would rarely have put there itself
        (" return" + " " instead of " return" + " math"); letting the model choose the last
        token again, among those that start with the same text, avoids the bias."""
        if len(prompt) < 2:
            return prompt, b""
        import llama_cpp

        last = prompt[-1]
        if llama_cpp.llama_vocab_is_control(self._vocab, last) or last in self._stop_ids:
            return prompt, b""
        piece = self._piece(last)  # a text token: its own piece is among the candidates
        return (prompt[:-1], piece) if piece else (prompt, b"")

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode(), add_bos=False, special=False))

    @property
    def n_ctx(self) -> int:
        return self._llm.n_ctx()

    # -- generation ---------------------------------------------------------------------------

    def _decode(
        self, tokens: Sequence[int], start: int, cancel: CancelToken | None = None
    ) -> int:
        """Evaluate `tokens` at positions start, start+1, ... (logits for the last one).

        With a cancel token, the prompt goes in slices so that a superseded request frees the
        model within one slice; returns how many tokens were evaluated.
        """
        llm = self._llm
        step = min(llm.n_batch, _CANCEL_SLICE) if cancel is not None else llm.n_batch
        for i in range(0, len(tokens), step):  # nothing to do for no tokens
            if cancel is not None and cancel.cancelled:
                return i
            chunk = tokens[i : i + step]
            llm._batch.set_batch(batch=chunk, n_past=start + i, logits_all=False)
            llm._ctx.decode(llm._batch)
        return len(tokens)

    def _prepare(
        self, prompt: Sequence[int], cancel: CancelToken | None = None, shift_limit: int = 0
    ) -> int:
        """Bring the KV cache to exactly `prompt`, evaluating as little as possible.

        Keeps the longest common prefix with what the cache holds. Then, when the change lies
        in the first `shift_limit` tokens (the repository context: a chunk was added, dropped
        or changed) and the rest of the prompt matches the end of the previous one, that rest
        is kept and shifted to its new positions (llama.cpp's sequence remove / add) instead
        of being evaluated again, as llama-server's `--cache-reuse` does. The shifted cells keep
        attention computed over the previous context, so a change next to the cursor (in the
        FIM region) is never shifted over: the text right after an edit must see the edit.
        Returns the number of tokens evaluated.
        """
        ctx = self._llm._ctx
        old, old_len = self._cached, self._prompt_len
        n = len(prompt)
        common = 0
        limit = min(len(old), n - 1)  # the last token is always evaluated: it gives the logits
        while common < limit and old[common] == prompt[common]:
            common += 1
        tail = 0
        if old_len > common + 1:
            max_tail = min(old_len - 1 - common, n - 1 - common)
            while tail < max_tail and old[old_len - 2 - tail] == prompt[n - 2 - tail]:
                tail += 1
        if tail >= self.min_shift_reuse and n - 1 - tail <= shift_limit:
            old_start, new_start = old_len - 1 - tail, n - 1 - tail
            ctx.kv_cache_seq_rm(0, common, old_start)
            ctx.kv_cache_seq_rm(0, old_len - 1, -1)
            # llama.cpp only appends to a sequence (positions must stay consecutive), so the
            # kept chunk waits in sequence 1 while the changed tokens are appended before it.
            ctx.kv_cache_seq_cp(0, _STAGING_SEQ, old_start, old_len - 1)
            ctx.kv_cache_seq_rm(0, old_start, old_len - 1)
            if new_start != old_start:
                ctx.kv_cache_seq_shift(_STAGING_SEQ, old_start, old_len - 1, new_start - old_start)
            self._decode(prompt[common:new_start], common)
            ctx.kv_cache_seq_cp(_STAGING_SEQ, 0, new_start, n - 1)
            ctx.kv_cache_seq_rm(_STAGING_SEQ, -1, -1)
            self._decode(prompt[n - 1 :], n - 1)
            evaluated = new_start - common + 1
        else:
            ctx.kv_cache_seq_rm(0, common, -1)
            done = self._decode(prompt[common:], common, cancel)
            if done < n - common:  # cancelled: keep what was evaluated for the next request
                self._cached = list(prompt[: common + done])
                self._prompt_len = common + done
                raise CancelledError(cancel.reason if cancel else "cancelled")
            evaluated = n - common
        self._cached = list(prompt)
        self._prompt_len = n
        return evaluated

    def reset_cache(self) -> None:
        self._llm._ctx.kv_cache_seq_rm(0, 0, -1)
        self._cached, self._prompt_len = [], 0

    def generate(
        self,
        prompt: Sequence[int],
        *,
        max_tokens: int,
        cancel: CancelToken,
        should_stop: Callable[[str], int | None] | None = None,
        deadline: float | None = None,
        finish_line_after_deadline: bool = True,
        shift_limit: int = 0,
        healed: bytes = b"",
    ) -> Generation:
        """Greedy decoding of up to `max_tokens` after `prompt`, checking `cancel` per token.

        With `healed` (see `heal`), the first token is chosen among those starting with these
        bytes, and the returned text leaves them out.

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
        try:
            evaluated = self._prepare(prompt, cancel, shift_limit)
        except CancelledError:
            return Generation("", 0, len(prompt), 0, None, "cancelled",
                              (time.perf_counter() - t0) * 1000)
        except Exception:
            self.reset_cache()  # a failed decode leaves the cache in an unknown state
            raise
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        text = ""
        logprob_sum = 0.0
        n_gen = 0
        reason = "length"
        overdue_from: int | None = None
        overdue_tokens = 0
        ctx = llm._ctx.ctx
        while n_gen < max_tokens:
            if cancel.cancelled:
                reason = "cancelled"
                break
            logits = np.ctypeslib.as_array(
                llama_cpp.llama_get_logits_ith(ctx, -1), shape=(self._n_vocab,)
            )
            if healed and n_gen == 0:
                allowed = self.tokens_starting_with(healed)
                masked = np.full_like(logits, -np.inf)
                masked[allowed] = logits[allowed]
                logits = masked
            token = int(np.argmax(logits))
            top = float(logits[token])
            logprob_sum += -float(np.log(np.exp(logits - top).sum()))
            n_gen += 1
            if llama_cpp.llama_vocab_is_eog(self._vocab, token) or token in self._stop_ids:
                reason = "eog"
                break
            piece = self._piece(token)
            if healed and n_gen == 1:
                piece = piece[len(healed):]  # the text already in the document
            text += decoder.decode(piece)
            if should_stop is not None and (cut := should_stop(text)) is not None:
                text = text[:cut]
                reason = "stop"
                break
            if deadline is not None and time.monotonic() > deadline:
                # Past the budget, finish the line being written, then stop.
                if overdue_from is None:
                    overdue_from, overdue_tokens = len(text), n_gen
                nl = text.find("\n", overdue_from)
                line_done = nl >= 0 and bool(text[:nl].strip())
                # A line that does not end soon is not worth waiting for either.
                if not finish_line_after_deadline or line_done or n_gen - overdue_tokens >= 16:
                    text = text[:nl] if line_done else text
                    reason = "budget"
                    break
            if n_gen >= max_tokens:
                break
            self._decode([token], len(self._cached))
            self._cached.append(token)
        text += decoder.decode(b"", final=True)
        return Generation(
            text=text,
            tokens=n_gen,
            prompt_tokens=len(prompt),
            evaluated_tokens=evaluated,
            mean_logprob=(logprob_sum / n_gen) if n_gen else None,
            stop_reason=reason,
            elapsed_ms=(time.perf_counter() - t0) * 1000,
        )

    def chat(
        self, messages: Sequence[dict[str, str]], *, max_tokens: int, cancel: CancelToken
    ) -> str:
        """A chat reply with the model's own chat template (for edits without a remote)."""
        llm = self._llm
        # The binding's own prompt cache knows nothing of ours: start it from an empty cache.
        self.reset_cache()
        llm.n_tokens = 0
        parts: list[str] = []
        try:
            for chunk in llm.create_chat_completion(
                messages=list(messages), max_tokens=max_tokens, temperature=0.0, stream=True
            ):
                if cancel.cancelled:
                    break
                delta = chunk["choices"][0].get("delta", {})
                parts.append(delta.get("content") or "")
                # Edits ask for one fenced code block: what follows its end is not needed.
                if "".join(parts).count("```") >= 2:
                    break
        finally:
            self.reset_cache()
            llm.n_tokens = 0
        cancel.raise_if_cancelled()
        return "".join(parts)

    def close(self) -> None:
        self._llm.close()


def _default_threads() -> int:
    import os

    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 2)
    # Beyond ~8 threads, token generation on the CPU gets no faster (memory bound).
    return max(1, min(8, n))
