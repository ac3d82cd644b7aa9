"""Per-document scheduling: the newest request wins, and debounce adapts to the typing rate."""

from __future__ import annotations

import time

from tiers.base import CancelToken


class LatestWins:
    """One live request per key (a document): starting a new one cancels the previous one."""

    def __init__(self) -> None:
        self._live: dict[str, CancelToken] = {}

    def begin(self, key: str) -> CancelToken:
        prev = self._live.get(key)
        if prev is not None:
            prev.cancel("superseded")
        token = CancelToken()
        self._live[key] = token
        return token

    def end(self, key: str, token: CancelToken) -> None:
        if self._live.get(key) is token:
            del self._live[key]

    def cancel(self, key: str, reason: str) -> None:
        token = self._live.get(key)
        if token is not None:
            token.cancel(reason)

    def cancel_all(self, reason: str) -> None:
        for token in list(self._live.values()):
            token.cancel(reason)


class TypingRate:
    """Exponentially weighted interval between a document's edits."""

    # Pauses longer than this are not typing: they reset the estimate instead of skewing it.
    PAUSE = 1.0

    def __init__(self, alpha: float = 0.3) -> None:
        self.alpha = alpha
        self._last: dict[str, float] = {}
        self._interval: dict[str, float] = {}

    def edited(self, key: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        last = self._last.get(key)
        self._last[key] = now
        if last is None:
            return
        gap = now - last
        if gap > self.PAUSE:
            self._interval.pop(key, None)
            return
        prev = self._interval.get(key)
        self._interval[key] = gap if prev is None else prev + self.alpha * (gap - prev)

    def debounce(self, key: str, fixed_ms: int, max_ms: int, now: float | None = None) -> float:
        """Seconds to wait before starting a request for `key`.

        While the user types steadily, the next key is expected within about one interval:
        wait most of it (a request started now would be superseded anyway). After a pause,
        or when typing is slow, start at once.
        """
        if fixed_ms >= 0:
            return fixed_ms / 1000
        interval = self._interval.get(key)
        last = self._last.get(key)
        if interval is None or last is None:
            return 0.0
        now = time.monotonic() if now is None else now
        remaining = 0.8 * interval - (now - last)
        return max(0.0, min(remaining, max_ms / 1000))

    def forget(self, key: str) -> None:
        self._last.pop(key, None)
        self._interval.pop(key, None)


class LoopMonitor:
    """Measures how late the event loop wakes up: the worst stall any handler caused."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.worst_ms = 0.0
        self.recent_worst_ms = 0.0  # since the last `take_recent`

    async def run(self) -> None:
        import asyncio

        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.interval)
            late = (time.perf_counter() - before - self.interval) * 1000
            self.worst_ms = max(self.worst_ms, late)
            self.recent_worst_ms = max(self.recent_worst_ms, late)

    def take_recent(self) -> float:
        worst, self.recent_worst_ms = self.recent_worst_ms, 0.0
        return worst
