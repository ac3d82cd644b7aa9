"""The one small interface every model backend implements, and the plain types it speaks.

Nothing here knows about LSP or JSON: the server converts an LSP request into a
`CompletionRequest` snapshot before its first await, and a `Completion` back into LSP items.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

TRACE = 5  # below DEBUG: prompts, answers and request bodies are logged at this level
logging.addLevelName(TRACE, "TRACE")


class Mode(StrEnum):
    """What the gate decided to ask the model for."""

    SKIP = "skip"
    SINGLE_LINE = "single"
    MULTI_LINE = "multi"


@dataclass(frozen=True)
class ContextChunk:
    """A piece of repository context (another file's definitions, a similar snippet)."""

    path: str  # workspace-relative path, used in the family's file header
    text: str
    kind: str = "snippet"  # "definition", "scope", "snippet", "outline", "usage"


@dataclass(frozen=True)
class CompletionRequest:
    """An immutable snapshot of everything a tier needs; taken before the first await."""

    uri: str
    version: int
    prefix: str  # the document's text before the cursor
    suffix: str  # the document's text after the cursor
    language_id: str = ""
    path: str = ""  # workspace-relative path of the document ("" if unknown)
    mode: Mode = Mode.SINGLE_LINE
    max_tokens: int = 64
    context: tuple[ContextChunk, ...] = ()
    # Seconds the whole request may take; a tier stops at the next line end after it.
    time_budget: float | None = None
    # "inline" (as-you-type ghost text) or "edit" (an explicit command): deadlines differ.
    kind: str = "inline"


@dataclass
class Completion:
    """What a tier produced, after shared post-processing."""

    text: str
    tier: str  # "local" or "remote:<provider>"
    model: str = ""
    mean_logprob: float | None = None
    prompt_tokens: int = 0  # tokens in the prompt
    evaluated_tokens: int = 0  # prompt tokens actually evaluated (the rest came from the KV cache)
    generated_tokens: int = 0
    elapsed_ms: float = 0.0
    cached: bool = False  # answered from a cache without calling a model
    stop_reason: str = ""  # "stop", "length", "budget", "cancelled", "line", "block"
    extra: dict[str, object] = field(default_factory=dict)


class CancelledError(Exception):
    """Raised by a tier when its cancel token was set before it finished."""


class CancelToken:
    """Set by a newer keystroke, a newer document version or `$/cancelRequest`.

    Thread-safe: the event loop sets it, the model worker thread polls it between tokens.
    """

    __slots__ = ("_event", "reason")

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def cancel(self, reason: str = "cancelled") -> None:
        if not self._event.is_set():
            self.reason = reason
            self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise CancelledError(self.reason)


@dataclass(frozen=True)
class TierInfo:
    """Capability facts the router uses to choose a tier."""

    name: str
    model: str
    supports_fim: bool
    max_context: int
    expected_latency_ms: float
    available: bool = True
    detail: str = ""  # why it is unavailable, for status and doctor


@runtime_checkable
class Tier(Protocol):
    """A model backend. `complete` returns None when it has nothing useful to say."""

    def info(self) -> TierInfo: ...

    async def complete(self, request: CompletionRequest, cancel: CancelToken) -> Completion | None:
        ...

    async def aclose(self) -> None: ...
