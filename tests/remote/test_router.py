"""Routing and escalation rules, with stand-in tiers (timing and outcomes under our control)."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.remote.conftest import FixedLocalTier
from tiers.base import CancelledError, CancelToken, Completion, CompletionRequest, Mode, TierInfo
from tiers.errors import RemoteError
from tiers.remote.health import CircuitBreaker, OfflineSwitch
from tiers.router import Router, RouterStatus
from tiers.settings import RouterSettings


class ScriptedRemote:
    def __init__(self, text: str = "remote_block()", delay: float = 0.0,
                 error: Exception | None = None) -> None:
        self.text, self.delay, self.error = text, delay, error
        self.calls = 0
        self.cancelled = 0

    def info(self) -> TierInfo:
        return TierInfo("remote:test", "big", True, 32000, 500.0)

    async def complete(self, request: CompletionRequest, cancel: CancelToken) -> Completion | None:
        self.calls += 1
        try:
            await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if self.error is not None:
            raise self.error
        return Completion(self.text, "remote:test", model="big")

    async def aclose(self) -> None:
        return None


def req(mode: Mode = Mode.SINGLE_LINE, **kw) -> CompletionRequest:
    return CompletionRequest("file:///ws/a.py", 1, "x = ", "\n", "python", "a.py", mode, **kw)


async def route(local, remote, request, **settings) -> tuple[Completion | None, Router]:
    router = Router(local, remote, RouterSettings(**settings))
    try:
        return await router.complete(request, CancelToken()), router
    finally:
        await router.aclose()


async def test_local_only_delegates() -> None:
    local = FixedLocalTier()
    got, router = await route(local, None, req(Mode.MULTI_LINE))
    assert got is not None and got.tier == "local"
    assert router.status().remote_state == "disabled" and router.status().last_tier == "local"


async def test_multi_line_goes_remote_and_local_is_not_needed() -> None:
    local, remote = FixedLocalTier(), ScriptedRemote(delay=0.01)
    got, _ = await route(local, remote, req(Mode.MULTI_LINE), hedge_ms=200)
    assert got is not None and got.text == "remote_block()"
    assert local.calls == 0  # the remote answered within its head start


async def test_slow_remote_loses_to_local_at_the_deadline() -> None:
    local, remote = FixedLocalTier(delay=0.05), ScriptedRemote(delay=5)
    t0 = time.perf_counter()
    got, _ = await route(local, remote, req(Mode.MULTI_LINE), hedge_ms=20, remote_wait_ms=300)
    assert got is not None and got.tier == "local"
    assert 0.3 <= time.perf_counter() - t0 < 0.5
    assert remote.cancelled == 1


async def test_remote_failure_falls_back_at_once() -> None:
    local = FixedLocalTier()
    remote = ScriptedRemote(error=RemoteError("refused", kind="connect"))
    t0 = time.perf_counter()
    got, router = await route(local, remote, req(Mode.MULTI_LINE), remote_wait_ms=2000)
    assert got is not None and got.tier == "local" and time.perf_counter() - t0 < 0.2
    assert router.status().remote_reachable is False


async def test_confident_single_line_stays_local() -> None:
    local, remote = FixedLocalTier(mean_logprob=-0.2), ScriptedRemote()
    got, _ = await route(local, remote, req())
    assert got is not None and got.tier == "local" and remote.calls == 0


@pytest.mark.parametrize(("text", "logprob"), [("", None), ("   ", -0.1), ("maybe()", -4.0)])
async def test_empty_or_unconfident_local_escalates(text: str, logprob: float | None) -> None:
    local, remote = FixedLocalTier(text=text, mean_logprob=logprob), ScriptedRemote()
    got, _ = await route(local, remote, req(), min_mean_logprob=-1.5)
    assert got is not None and got.tier == "remote:test" and remote.calls == 1


async def test_unconfident_local_kept_when_remote_fails() -> None:
    local = FixedLocalTier(text="maybe()", mean_logprob=-4.0)
    remote = ScriptedRemote(error=RemoteError("boom", kind="server"))
    got, _ = await route(local, remote, req())
    assert got is not None and got.text == "maybe()"


async def test_local_only_strategy_never_calls_remote() -> None:
    local, remote = FixedLocalTier(text="", mean_logprob=None), ScriptedRemote()
    got, router = await route(local, remote, req(Mode.MULTI_LINE), strategy="local-only")
    assert got is not None and remote.calls == 0
    assert router.status().remote_state == "disabled"


async def test_remote_preferred_sends_single_lines_too() -> None:
    local, remote = FixedLocalTier(), ScriptedRemote()
    got, _ = await route(local, remote, req(), strategy="remote-preferred")
    assert got is not None and got.tier == "remote:test"


async def test_cancel_ends_the_request_promptly() -> None:
    router = Router(FixedLocalTier(delay=5), ScriptedRemote(delay=5),
                    RouterSettings(hedge_ms=10, remote_wait_ms=5000))
    cancel = CancelToken()
    asyncio.get_running_loop().call_later(0.05, cancel.cancel, "newer keystroke")
    t0 = time.perf_counter()
    with pytest.raises(CancelledError):
        await router.complete(req(Mode.MULTI_LINE), cancel)
    assert time.perf_counter() - t0 < 0.2
    await router.aclose()


async def test_status_is_reported_on_change_only() -> None:
    statuses: list[RouterStatus] = []
    remote = ScriptedRemote(error=RemoteError("refused", kind="connect"))
    router = Router(FixedLocalTier(), remote, RouterSettings(), on_status=statuses.append)
    for _ in range(5):
        await router.complete(req(Mode.MULTI_LINE), CancelToken())
    remote.error = None
    await router.complete(req(Mode.MULTI_LINE), CancelToken())
    await router.aclose()
    assert [s.notify for s in statuses] == [True, True]
    assert [s.remote_state for s in statuses] == ["unreachable", "ok"]
    assert statuses[1].last_tier == "remote:test"
    assert statuses[0].to_dict()["remoteReachable"] is False
    router.set_offline(True)
    assert router.status().offline and not router.status().notify


def test_circuit_breaker_rules() -> None:
    now = [0.0]
    b = CircuitBreaker(threshold=2, cooldown_s=10, clock=lambda: now[0])
    assert b.allow()
    b.failure()
    assert b.state == "closed"
    b.failure()
    assert b.state == "open" and not b.allow()
    now[0] = 10.0
    assert b.state == "half-open" and b.allow() and not b.allow()  # one trial at a time
    b.failure()
    assert b.state == "open"
    now[0] = 20.0
    assert b.allow()
    b.success()
    assert b.state == "closed" and b.allow()
    b.failure(hold_s=3)  # Retry-After opens at once
    assert b.state == "open"
    now[0] = 23.0
    assert b.state == "half-open"


def test_offline_switch() -> None:
    s = OfflineSwitch(after=2)
    assert not s.connect_failure() and not s.offline
    assert s.connect_failure() and s.offline
    assert not s.connect_failure()  # already offline: switching is reported once
    s.connected()
    assert not s.offline
