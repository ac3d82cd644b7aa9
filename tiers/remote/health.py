"""Reachability of a remote provider: circuit breaker and automatic offline switch.

Pure state machines driven by an injectable clock, so their rules are tested without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


@dataclass(frozen=True)
class RemoteHealth:
    """What the router reports about a remote tier."""

    reachable: bool | None  # None until the first call (or probe) finished
    circuit: str = CLOSED  # "closed", "open" (cooling down), "half-open" (one trial call)
    offline_auto: bool = False  # switched off after repeated connection failures
    detail: str = ""  # short reason of the last failure, never a secret


class CircuitBreaker:
    """Stops calling a failing provider for a cool-down, then lets one trial call through."""

    def __init__(
        self,
        threshold: int = 3,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = max(1, threshold)
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._failures = 0
        self._open_until: float | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> str:
        if self._open_until is None:
            return CLOSED
        return OPEN if self._clock() < self._open_until else HALF_OPEN

    def allow(self) -> bool:
        """Whether a call may go out now; in half-open state only one trial at a time."""
        state = self.state
        if state == CLOSED:
            return True
        if state == HALF_OPEN and not self._trial_in_flight:
            self._trial_in_flight = True
            return True
        return False

    def release(self) -> None:
        """A call ended without telling anything about the provider (e.g. it was cancelled)."""
        self._trial_in_flight = False

    def success(self) -> None:
        self._failures = 0
        self._open_until = None
        self._trial_in_flight = False

    def failure(self, hold_s: float | None = None) -> None:
        """Count a failure; `hold_s` (a Retry-After) opens the circuit at once for that long."""
        self._trial_in_flight = False
        self._failures += 1
        if hold_s is not None and hold_s > 0:
            self._open_until = self._clock() + max(hold_s, 0.0)
        elif self._failures >= self.threshold or self._open_until is not None:
            self._open_until = self._clock() + self.cooldown_s


class OfflineSwitch:
    """Goes offline after N consecutive connection failures; the tier then probes periodically."""

    def __init__(self, after: int = 3) -> None:
        self.after = max(1, after)
        self._failures = 0
        self.offline = False

    def connect_failure(self) -> bool:
        """Count one; True when this failure switched the tier offline."""
        self._failures += 1
        if self._failures >= self.after and not self.offline:
            self.offline = True
            return True
        return False

    def connected(self) -> None:
        self._failures = 0
        self.offline = False
