"""The completion pipeline, from a document snapshot to a suggestion: gate, context, tier.

Plain Python (no LSP types), shared by the language server, `lsp-server complete` and the
benchmarks, so that all of them measure the same thing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from lsp_server.config import Config
from lsp_server.documents import Snapshot
from tiers.base import CancelledError, CancelToken, Completion, CompletionRequest, Mode
from tiers.completion_cache import CompletionCache, request_key
from tiers.postprocess import current_line_suffix, initial_mode

log = logging.getLogger(__name__)

_CLOSERS = set(")]}\"'`;,:")


@dataclass(frozen=True)
class Decision:
    mode: Mode
    max_tokens: int
    reason: str


def text_gate(prefix: str, suffix: str, cfg: Config) -> Decision:
    """Skip where a suggestion is useless; otherwise single or multi-line, from the text alone."""
    rest = current_line_suffix(suffix)
    if prefix and (prefix[-1].isalnum() or prefix[-1] == "_") and (
        rest[:1].isalnum() or rest[:1] == "_"
    ):
        return Decision(Mode.SKIP, 0, "inside a word")
    meaningful = [c for c in rest.strip() if c not in _CLOSERS]
    if len(meaningful) > cfg.completion.max_chars_right:
        return Decision(Mode.SKIP, 0, "text right of the cursor")
    mode = initial_mode(prefix, suffix)
    if mode == Mode.MULTI_LINE:
        return Decision(mode, cfg.local.max_tokens_multiline, "empty block")
    return Decision(mode, cfg.local.max_tokens, "line")


class CompletionPipeline:
    """Turns snapshots into completions through the router (or any `Tier`)."""

    def __init__(self, config: Config, tier, *, gate=None, context=None) -> None:
        self.config = config
        self.tier = tier  # tiers.router.Router, or a single tier
        self._gate = gate  # callable(snapshot, path) -> Decision; text_gate when None
        self._context = context  # callable(snapshot, path, budget) -> Sequence[ContextChunk]
        self.cache = CompletionCache()
        self.speculation_enabled = True
        self._speculation: tuple[int, CancelToken, asyncio.Future[None]] | None = None

    def decide(self, snap: Snapshot, path: str) -> Decision:
        if self._gate is not None:
            try:
                return self._gate(snap, path)
            except Exception:  # a parser failure must not cost the user the completion
                log.exception("gate failed; using the text rules")
        return text_gate(snap.prefix, snap.suffix, self.config)

    def request_for(
        self, snap: Snapshot, path: str = "", *, kind: str = "inline", force: bool = False
    ) -> CompletionRequest | None:
        """The request to send to a tier, or None when the gate says not to ask."""
        decision = self.decide(snap, path)
        if decision.mode == Mode.SKIP:
            if not force:
                log.debug("no completion: %s", decision.reason)
                return None
            decision = Decision(Mode.SINGLE_LINE, self.config.local.max_tokens, "forced")
        context: Sequence = ()
        if self._context is not None and self.config.context.budget_tokens > 0:
            try:
                context = tuple(self._context(snap, path, self.config.context.budget_tokens))
            except Exception:
                log.exception("context retrieval failed; completing without it")
        return CompletionRequest(
            uri=snap.uri,
            version=snap.version,
            prefix=snap.prefix,
            suffix=snap.suffix,
            language_id=snap.language_id,
            path=path,
            mode=decision.mode,
            max_tokens=decision.max_tokens,
            context=tuple(context),
            time_budget=self.config.local.time_budget_ms / 1000 or None,
            kind=kind,
        )

    async def complete(
        self, snap: Snapshot, cancel: CancelToken, path: str = "", *, force: bool = False
    ) -> Completion | None:
        request = await self.prepare(snap, path, force=force)
        if request is None:
            return None
        return await self.complete_request(request, cancel)

    async def prepare(
        self, snap: Snapshot, path: str = "", *, force: bool = False
    ) -> CompletionRequest | None:
        """`request_for`, off the event loop when it parses or queries the index."""
        if self._gate is None and self._context is None:
            return self.request_for(snap, path, force=force)
        return await asyncio.to_thread(self.request_for, snap, path, force=force)

    async def complete_request(
        self, request: CompletionRequest, cancel: CancelToken
    ) -> Completion | None:
        """The answer from the cache, from a speculation already computing it, or a tier."""
        hit = self.cache.get(request)
        if hit is not None:
            return hit
        key = request_key(request)
        spec = self._speculation
        if spec is not None and spec[0] == key and not spec[2].done():
            # The user accepted the suggestion whose follow-up is being computed: join it.
            with contextlib.suppress(CancelledError, asyncio.CancelledError):
                await asyncio.shield(spec[2])
            hit = self.cache.get(request)
            if hit is not None:
                return hit
        else:
            self.cancel_speculation()
        result = await self.tier.complete(request, cancel)
        if result is None or not result.text.strip():
            return None
        self.cache.put(request, result)
        return result

    def cancel_speculation(self) -> None:
        if self._speculation is not None:
            self._speculation[1].cancel("a newer request")
            self._speculation = None

    def speculate(self, snap: Snapshot, shown: Completion, path: str = "") -> None:
        """Compute, in the background, the suggestion for the state where `shown` is accepted.

        Its result lands in the cache; any newer request for another state cancels it.
        """
        if not self.speculation_enabled:
            return
        text = snap.prefix + shown.text
        accepted = Snapshot(snap.uri, snap.language_id, snap.version, text + snap.suffix, len(text))
        request = self.request_for(accepted, path) if self._gate is None else None
        if self._gate is None and (request is None or self.cache.get(request) is not None):
            return
        self.cancel_speculation()
        token = CancelToken()
        task = asyncio.ensure_future(self._speculate(accepted, path, request, token))
        # Until its request is known (the gate runs in a thread), nothing can join it.
        self._speculation = (request_key(request) if request else -1, token, task)

    async def _speculate(
        self, snap: Snapshot, path: str, request: CompletionRequest | None, cancel: CancelToken
    ) -> None:
        try:
            if request is None:
                request = await self.prepare(snap, path)
                if request is None or cancel.cancelled or self.cache.get(request) is not None:
                    return
                if self._speculation is not None and self._speculation[1] is cancel:
                    self._speculation = (request_key(request), cancel, self._speculation[2])
            result = await self.tier.complete(request, cancel)
        except (CancelledError, asyncio.CancelledError):
            return
        except Exception:
            log.debug("speculation failed", exc_info=True)
            return
        if result is not None and result.text.strip() and not cancel.cancelled:
            self.cache.put(request, result)
