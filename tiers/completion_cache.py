"""A bounded cache of completions, keyed by an xxhash of what determines the prompt.

Besides exact hits it answers *typed-through* requests: when the user types characters that
match the suggestion on screen, the rest of that suggestion is still the answer, without a
model call.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace

import xxhash

from tiers.base import Completion, CompletionRequest

# Only the text near the cursor determines a prompt (the tiers cut a window around it), and
# hashing a bounded slice keeps the per-keystroke cost flat on large files.
_PREFIX_CHARS = 16_384
_SUFFIX_CHARS = 4_096
# How many recent suggestions with the same suffix are tried for a typed-through answer.
_TYPED_CANDIDATES = 8


def _h(text: str) -> int:
    return xxhash.xxh3_64_intdigest(text.encode("utf-8", "surrogatepass"))


def request_key(request: CompletionRequest) -> int:
    h = xxhash.xxh3_64()
    for part in (
        request.prefix[-_PREFIX_CHARS:], "\x00", request.suffix[:_SUFFIX_CHARS], "\x00",
        request.mode.value, "\x00", request.path, "\x00",
        *(f"{c.path}\x01{c.text}\x02" for c in request.context),
    ):
        h.update(part.encode("utf-8", "surrogatepass"))
    return h.intdigest()


@dataclass(frozen=True)
class _Entry:
    prefix_len: int
    prefix_hash: int
    completion: Completion


class CompletionCache:
    def __init__(self, capacity: int = 512) -> None:
        self.capacity = capacity
        self._exact: OrderedDict[int, Completion] = OrderedDict()
        # suffix hash -> recent suggestions made with that suffix, newest last
        self._by_suffix: OrderedDict[int, list[_Entry]] = OrderedDict()
        self.hits = 0
        self.typed_through = 0
        self.misses = 0

    def get(self, request: CompletionRequest) -> Completion | None:
        key = request_key(request)
        found = self._exact.get(key)
        if found is not None:
            self._exact.move_to_end(key)
            self.hits += 1
            return replace(found, cached=True, elapsed_ms=0.0)
        rest = self._typed_through(request)
        if rest is not None:
            self.typed_through += 1
            return rest
        self.misses += 1
        return None

    def _typed_through(self, request: CompletionRequest) -> Completion | None:
        entries = self._by_suffix.get(_h(request.suffix[:_SUFFIX_CHARS]))
        if not entries:
            return None
        prefix = request.prefix
        for entry in reversed(entries[-_TYPED_CANDIDATES:]):
            typed_len = len(prefix) - entry.prefix_len
            text = entry.completion.text
            if not 0 < typed_len < len(text):
                continue
            typed = prefix[entry.prefix_len :]
            if not text.startswith(typed):
                continue
            start = max(0, entry.prefix_len - _PREFIX_CHARS)
            if _h(prefix[start : entry.prefix_len]) != entry.prefix_hash:
                continue
            rest = text[typed_len:]
            if not rest.strip():
                return None
            return replace(entry.completion, text=rest, cached=True, elapsed_ms=0.0)
        return None

    def put(self, request: CompletionRequest, completion: Completion) -> None:
        if not completion.text.strip():
            return
        key = request_key(request)
        self._exact[key] = completion
        self._exact.move_to_end(key)
        while len(self._exact) > self.capacity:
            self._exact.popitem(last=False)
        skey = _h(request.suffix[:_SUFFIX_CHARS])
        start = max(0, len(request.prefix) - _PREFIX_CHARS)
        entry = _Entry(len(request.prefix), _h(request.prefix[start:]), completion)
        bucket = self._by_suffix.setdefault(skey, [])
        bucket.append(entry)
        del bucket[:-_TYPED_CANDIDATES]
        self._by_suffix.move_to_end(skey)
        while len(self._by_suffix) > self.capacity:
            self._by_suffix.popitem(last=False)

    def clear(self) -> None:
        self._exact.clear()
        self._by_suffix.clear()
