"""Picks the tier for a request and escalates: local for ghost text, remote for blocks.

Rules (strategy "auto"):
- a multi-line request goes to the remote when one is usable; the local tier is started as a
  hedge after `hedge_ms` and answers if the remote fails or misses `remote_wait_ms`;
- any other request goes to the local tier; an empty or unconfident answer (mean token
  log-probability below `min_mean_logprob`) escalates to the remote within what is left of the
  deadline, and the local answer is kept if the remote does not do better.
"local-only" never calls the remote; "remote-preferred" treats every request like a multi-line one.

Hedging rather than strictly sequential fallback: starting the local tier only after the remote
timed out would make the user wait for both; starting it at once would spend a CPU-bound local
generation on every request the remote answers quickly. A short head start keeps both costs low.

Status goes to `on_status` only when it changes, and `RouterStatus.notify` is set once when an
outage begins and once when it ends, so the editor shows one message per outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from tiers.base import (
    CancelledError,
    CancelToken,
    Completion,
    CompletionRequest,
    Mode,
    Tier,
    TierInfo,
)
from tiers.errors import LspServerError, RemoteError, TierUnavailableError
from tiers.remote.health import CLOSED, RemoteHealth
from tiers.settings import RouterSettings

log = logging.getLogger(__name__)

STRATEGIES = ("local-only", "auto", "remote-preferred")
_OUTAGE_STATES = frozenset({"unreachable", "circuit-open", "offline-auto"})
_CANCEL_POLL_S = 0.01


@dataclass(frozen=True)
class RouterStatus:
    """What the editor may show: which tier answered, and whether the remote can be reached."""

    strategy: str
    last_tier: str = ""  # "local", "remote:<provider>", "" before the first answer
    model: str = ""  # model of the last answer
    remote_configured: bool = False
    remote_reachable: bool | None = None  # None: not tried yet (or not configured)
    offline: bool = False
    offline_reason: str = ""  # "setting", "auto" (after repeated connection failures), ""
    circuit: str = CLOSED  # "closed", "open", "half-open"
    # One of "disabled", "unknown", "ok", "unreachable", "circuit-open", "offline",
    # "offline-auto": a single word for a status bar.
    remote_state: str = "disabled"
    message: str = ""  # a short sentence describing remote_state, safe to show
    # An outage: the remote is paused (circuit open) or offline after connection failures; a
    # single failed call is not one (a slow server that sometimes times out does not flap).
    outage: bool = False
    notify: bool = False  # True on the one status that starts or ends an outage

    def to_dict(self) -> dict[str, object]:
        return {
            "strategy": self.strategy,
            "lastTier": self.last_tier,
            "model": self.model,
            "remoteConfigured": self.remote_configured,
            "remoteReachable": self.remote_reachable,
            "offline": self.offline,
            "offlineReason": self.offline_reason,
            "circuit": self.circuit,
            "remoteState": self.remote_state,
            "message": self.message,
            "outage": self.outage,
        }


def _confident(c: Completion | None, threshold: float) -> bool:
    if c is None or not c.text.strip():
        return False
    return c.mean_logprob is None or c.mean_logprob >= threshold


def _useful(c: Completion | None) -> bool:
    return c is not None and bool(c.text.strip())


async def _link(parent: CancelToken, children: tuple[CancelToken, ...]) -> None:
    """Propagate a cancel of `parent` to `children` (tokens are polled, not awaited)."""
    while not parent.cancelled:
        await asyncio.sleep(_CANCEL_POLL_S)
    for ch in children:
        ch.cancel(parent.reason)


def _retrieve(task: asyncio.Task[object]) -> None:
    # A hedge we stopped waiting for may still fail; consume its outcome quietly.
    if not task.cancelled() and task.exception() is not None:
        log.debug("abandoned tier call ended with %r", task.exception())


class Router:
    """The one `complete` entry point the server calls; a `Tier` itself (info/complete/aclose)."""

    def __init__(
        self,
        local: Tier | None,
        remote: Tier | None,
        settings: RouterSettings,
        *,
        on_status: Callable[[RouterStatus], None] | None = None,
    ) -> None:
        if settings.strategy not in STRATEGIES:
            log.warning("unknown strategy %r, using 'auto'", settings.strategy)
            settings.strategy = "auto"
        self.local = local
        self.remote = remote
        self.settings = settings
        self._on_status = on_status
        self._last_tier = ""
        self._last_model = ""
        self._reachable: bool | None = None  # for remote tiers without health()
        self._last_error = ""
        self._background: set[asyncio.Task[object]] = set()
        set_offline = getattr(remote, "set_offline", None)
        if callable(set_offline):
            set_offline(settings.offline)
        self._status = self._compute(notify=False)
        listen = getattr(remote, "add_listener", None)
        if callable(listen):
            listen(self.refresh_status)

    # ------------------------------------------------------------------ status

    def status(self) -> RouterStatus:
        return self._status

    def set_offline(self, offline: bool) -> None:
        """Switch the offline setting (a command or a configuration change)."""
        self.settings.offline = offline
        set_offline = getattr(self.remote, "set_offline", None)
        if callable(set_offline):
            set_offline(offline)  # the remote also stops its probes
        self.refresh_status()

    def set_strategy(self, strategy: str) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; expected one of {STRATEGIES}")
        self.settings.strategy = strategy
        self.refresh_status()

    def _health(self) -> RemoteHealth | None:
        fn = getattr(self.remote, "health", None)
        if callable(fn):
            try:
                h = fn()
            except Exception:  # a broken health() must not break completion
                log.exception("remote health() failed")
                return None
            return h if isinstance(h, RemoteHealth) else None
        return None

    def _compute(self, *, notify: bool) -> RouterStatus:
        s = self.settings
        configured = self.remote is not None and s.strategy != "local-only"
        health = self._health() if configured else None
        reachable = (health.reachable if health else self._reachable) if configured else None
        circuit = health.circuit if health else CLOSED
        offline_auto = bool(health and health.offline_auto)
        detail = (health.detail if health else self._last_error) or ""
        if not configured:
            state = "disabled"
            msg = "Remote model not configured; using the local model." if self.remote is None \
                else "Local-only mode; the remote model is not used."
        elif s.offline:
            state, msg = "offline", "Offline mode: nothing is sent anywhere; using the local model."
        elif offline_auto:
            state = "offline-auto"
            msg = "Remote model unreachable; offline until it answers again. Using the local model."
        elif circuit != CLOSED:
            state = "circuit-open"
            msg = "Remote model failing; paused for a while. Using the local model."
        elif reachable is False:
            state, msg = "unreachable", "Remote model unreachable; using the local model."
        elif reachable:
            state, msg = "ok", "Remote model reachable."
        else:
            state, msg = "unknown", "Remote model configured."
        # Without health() (a plain Tier), a failed call is all we know: count it as an outage.
        outage = state in ("circuit-open", "offline-auto") or (
            state == "unreachable" and health is None
        )
        if detail and state in _OUTAGE_STATES:
            msg = f"{msg} ({detail})"
        if s.offline:
            offline_reason = "setting"
        elif offline_auto:
            offline_reason = "auto"
        else:
            offline_reason = ""
        return RouterStatus(
            strategy=s.strategy,
            last_tier=self._last_tier,
            model=self._last_model,
            remote_configured=configured,
            remote_reachable=reachable,
            offline=bool(offline_reason),
            offline_reason=offline_reason,
            circuit=circuit,
            remote_state=state,
            message=msg,
            outage=outage,
            notify=False,
        )

    def refresh_status(self) -> None:
        """Recompute the status and report it if it changed (also called by the remote tier)."""
        new = self._compute(notify=False)
        old = self._status
        if replace(new, message="") == replace(old, message="", notify=False):
            return
        was_out, is_out = old.outage, new.outage
        notify = (is_out and not was_out) or (was_out and new.remote_state == "ok")
        if was_out and is_out:
            # Same outage, another shade of it: keep the first message so nothing is re-shown.
            new = replace(new, message=old.message)
        elif was_out and new.remote_state == "ok":
            new = replace(new, message="Remote model reachable again.")
        new = replace(new, notify=notify)
        self._status = new
        if self._on_status is not None:
            try:
                self._on_status(new)
            except Exception:
                log.exception("status callback failed")

    # ------------------------------------------------------------------ tier protocol

    def info(self) -> TierInfo:
        """Facts of the tier that answers an ordinary request (the local one when present)."""
        tier = self.local if self.local is not None else self.remote
        if tier is None:
            return TierInfo("router", "", False, 0, 0.0, available=False, detail="no tier")
        return tier.info()

    def _remote_usable(self) -> bool:
        s = self.settings
        if self.remote is None or s.offline or s.strategy == "local-only":
            return False
        try:
            return self.remote.info().available
        except Exception:
            log.exception("remote info() failed")
            return False

    async def complete(self, request: CompletionRequest, cancel: CancelToken) -> Completion | None:
        if request.mode == Mode.SKIP:
            return None
        cancel.raise_if_cancelled()
        try:
            result = await self._route(request, cancel)
        finally:
            if cancel.cancelled:
                self.refresh_status()
        cancel.raise_if_cancelled()
        if result is not None:
            self._last_tier, self._last_model = result.tier, result.model
        self.refresh_status()
        return result

    async def _route(self, request: CompletionRequest, cancel: CancelToken) -> Completion | None:
        if not self._remote_usable():
            return await self._call_local(request, cancel)
        remote_first = self.settings.strategy == "remote-preferred" or (
            request.mode == Mode.MULTI_LINE
        )
        if remote_first:
            return await self._hedged(request, cancel)
        loop = asyncio.get_running_loop()
        started = loop.time()
        local = await self._call_local(request, cancel)
        if _confident(local, self.settings.min_mean_logprob):
            return local
        cancel.raise_if_cancelled()
        deadline = self._deadline(request)
        if deadline is not None:
            # Escalation gets what is left of the deadline, not a fresh one.
            deadline = max(deadline - (loop.time() - started), 0.0)
            if deadline == 0.0:
                return local
        remote = await self._call_remote(request, cancel, deadline)
        return remote if _useful(remote) else local

    def _deadline(self, request: CompletionRequest) -> float | None:
        if request.kind != "inline":
            return None  # edits: the remote tier enforces its own, longer deadline
        wait = self.settings.remote_wait_ms / 1000.0
        if request.time_budget is not None:
            wait = min(wait, request.time_budget)
        return max(wait, 0.0)

    async def _call_local(
        self, request: CompletionRequest, cancel: CancelToken
    ) -> Completion | None:
        if self.local is None:
            return None
        try:
            return await self.local.complete(request, cancel)
        except CancelledError:
            raise
        except LspServerError as e:
            log.warning("local tier failed: %s", e)
            return None
        except Exception:  # a bug or a native failure in the tier: contained, logged
            log.exception("local tier crashed")
            return None

    async def _call_remote(
        self, request: CompletionRequest, cancel: CancelToken, deadline: float | None
    ) -> Completion | None:
        """The remote's answer, or None on any failure; never waits past `deadline`."""
        assert self.remote is not None
        token = CancelToken()  # ours to set on timeout without touching the caller's
        linker = asyncio.create_task(_link(cancel, (token,)))
        try:
            async with asyncio.timeout(deadline):
                result = await self.remote.complete(request, token)
        except CancelledError:
            if cancel.cancelled:
                raise
            return None
        except TimeoutError:
            self._note_remote(False, "timeout")
            return None
        except TierUnavailableError as e:
            log.debug("remote unavailable: %s", e)
            return None
        except RemoteError as e:
            self._note_remote(False, e.kind)
            log.info("remote tier failed (%s): %s", e.kind, e.user_message)
            return None
        except LspServerError as e:
            log.info("remote tier failed: %s", e.user_message)
            return None
        except Exception:
            log.exception("remote tier crashed")
            self._note_remote(False, "error")
            return None
        finally:
            token.cancel("done")
            linker.cancel()
        self._note_remote(True, "")
        return result

    def _note_remote(self, ok: bool, detail: str) -> None:
        self._reachable = ok
        self._last_error = detail

    async def _hedged(self, request: CompletionRequest, cancel: CancelToken) -> Completion | None:
        loop = asyncio.get_running_loop()
        deadline = self._deadline(request)
        end = None if deadline is None else loop.time() + deadline
        l_cancel = CancelToken()
        linker = asyncio.create_task(_link(cancel, (l_cancel,)))
        remote_task = asyncio.create_task(self._call_remote(request, cancel, deadline))
        local_task: asyncio.Task[Completion | None] | None = None
        try:
            hedge = self.settings.hedge_ms / 1000.0
            if end is not None:
                hedge = min(hedge, max(end - loop.time(), 0.0))
            await asyncio.wait(
                {remote_task, linker}, timeout=hedge, return_when=asyncio.FIRST_COMPLETED
            )
            cancel.raise_if_cancelled()
            if remote_task.done() and _useful(remote_task.result()):
                return remote_task.result()
            if self.local is not None:
                local_task = asyncio.create_task(self._call_local(request, l_cancel))
            if not remote_task.done():
                await asyncio.wait({remote_task, linker}, return_when=asyncio.FIRST_COMPLETED)
                cancel.raise_if_cancelled()
            remote = remote_task.result()
            if _useful(remote):
                if local_task is not None and not local_task.done():
                    l_cancel.cancel("remote answered")
                    local_task.add_done_callback(_retrieve)
                    self._background.add(local_task)
                    local_task.add_done_callback(self._background.discard)
                    local_task = None
                return remote
            if local_task is None:
                return None
            await asyncio.wait({local_task, linker}, return_when=asyncio.FIRST_COMPLETED)
            cancel.raise_if_cancelled()
            return local_task.result()
        finally:
            linker.cancel()
            for t in (remote_task, local_task):
                if t is not None and not t.done():
                    l_cancel.cancel(cancel.reason or "abandoned")
                    t.cancel()
                    t.add_done_callback(_retrieve)
                    self._background.add(t)
                    t.add_done_callback(self._background.discard)
            with contextlib.suppress(asyncio.CancelledError):
                await linker

    async def aclose(self) -> None:
        """Stop abandoned calls and close both tiers."""
        for t in list(self._background):
            t.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        for tier in (self.remote, self.local):
            if tier is not None:
                try:
                    await tier.aclose()
                except Exception:
                    log.exception("closing a tier failed")
