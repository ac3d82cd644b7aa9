"""Every remote fault: the local tier answers within the deadline, the user gets one message,
and the failing provider is not hammered."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from tests.remote.conftest import FixedLocalTier, free_port
from tests.remote.loopback import send, send_json, sse, start_sse
from tiers.base import CancelledError, CancelToken, CompletionRequest, Mode
from tiers.errors import RemoteError
from tiers.remote import RemoteTier
from tiers.router import Router, RouterStatus
from tiers.settings import RemoteSettings, RouterSettings

INLINE_MS = 300
WAIT_MS = 500
KEYSTROKES = 6


def chunk(text: str) -> dict:
    return {"choices": [{"index": 0, "text": text, "finish_reason": None}]}


async def drip(rec, writer):
    await start_sse(writer)
    for ch in 'data: {"choices": [{"index": 0, "text": "x' * 1000:
        writer.write(ch.encode())
        await writer.drain()
        await asyncio.sleep(0.05)


async def stall(rec, writer):
    await start_sse(writer)
    await sse(writer, chunk("return "))
    await asyncio.sleep(3600)


async def rate_limited(rec, writer):
    await send_json(writer, {"error": "slow down"}, 429, {"retry-after": "30"})


async def server_error(rec, writer):
    await send_json(writer, {"error": "boom"}, 500)


async def invalid_json(rec, writer):
    await send(writer, 200, b'{"choices": [ this is not json')


async def cut_stream(rec, writer):
    await start_sse(writer)
    await sse(writer, chunk("def f():\n"))
    await sse(writer, chunk("    return"))
    writer.close()  # no finish_reason, no [DONE]


async def oversized(rec, writer):
    await send_json(writer, {"choices": [{"index": 0, "text": "x" * 50_000,
                                          "finish_reason": "stop"}]})


async def garbage_event(rec, writer):
    await start_sse(writer)
    await sse(writer, "{not json")
    writer.close()


FAULTS = {
    "drip": drip,
    "stall": stall,
    "rate_limit": rate_limited,
    "server_error": server_error,
    "invalid_json": invalid_json,
    "cut_stream": cut_stream,
    "oversized": oversized,
    "garbage_event": garbage_event,
}


def settings(url: str) -> RemoteSettings:
    return RemoteSettings(enabled=True, provider="openai", base_url=url, model="m",
                          inline_timeout_ms=INLINE_MS, max_response_bytes=20_000,
                          connect_timeout_ms=300, circuit_failures=3, offline_after=3,
                          probe_interval_ms=60_000)


def multi_line(i: int) -> CompletionRequest:
    return CompletionRequest(uri="file:///ws/a.py", version=i, prefix="def f():\n    ",
                             suffix="\n", language_id="python", path="a.py",
                             mode=Mode.MULTI_LINE)


async def type_keystrokes(router: Router) -> list[float]:
    elapsed = []
    for i in range(KEYSTROKES):
        t0 = time.perf_counter()
        got = await router.complete(multi_line(i), CancelToken())
        elapsed.append(time.perf_counter() - t0)
        assert got is not None and got.text == "local_answer()" and got.tier == "local"
    return elapsed


async def run_outage(remote: RemoteTier) -> tuple[list[RouterStatus], list[float]]:
    statuses: list[RouterStatus] = []
    router = Router(FixedLocalTier(), remote,
                    RouterSettings(hedge_ms=50, remote_wait_ms=WAIT_MS),
                    on_status=statuses.append)
    try:
        elapsed = await type_keystrokes(router)
    finally:
        await router.aclose()
    return statuses, elapsed


def assert_one_message(statuses: list[RouterStatus]) -> None:
    notices = [s for s in statuses if s.notify]
    assert len(notices) == 1, statuses
    assert notices[0].remote_state in ("unreachable", "circuit-open", "offline-auto")
    assert notices[0].message


@pytest.mark.parametrize("fault", sorted(FAULTS))
async def test_fault_falls_back_to_local_once(loopback, fault: str) -> None:
    srv = await loopback(FAULTS[fault])
    remote = RemoteTier(settings(srv.url))
    statuses, elapsed = await run_outage(remote)
    assert max(elapsed) < WAIT_MS / 1000 + 0.25, elapsed
    assert_one_message(statuses)
    # No retry storm: inline calls are never retried and the breaker stops after a few.
    limit = 1 if fault == "rate_limit" else 3
    assert 1 <= len(srv.requests) <= limit, len(srv.requests)
    assert remote.health().circuit == "open"


async def test_connection_refused_goes_offline(loopback) -> None:
    remote = RemoteTier(settings(f"http://127.0.0.1:{free_port()}"))
    statuses, elapsed = await run_outage(remote)
    assert max(elapsed) < WAIT_MS / 1000 + 0.25
    assert_one_message(statuses)
    assert remote.requests_sent == 3  # offline after three refusals, nothing after
    assert statuses[-1].offline and statuses[-1].offline_reason == "auto"


async def test_dns_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo
    looked_up: list[str] = []

    def no_dns(host, *args, **kwargs):
        if host in ("remote.example", b"remote.example"):
            looked_up.append(str(host))
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    remote = RemoteTier(settings("http://remote.example:8080"))
    statuses, _ = await run_outage(remote)
    assert_one_message(statuses)
    assert 1 <= len(looked_up) <= 3


async def test_recovery_is_one_more_message(loopback) -> None:
    """Refused three times -> offline; the quiet probe finds the server -> one recovery notice."""
    port = free_port()
    s = settings(f"http://127.0.0.1:{port}")
    s.probe_interval_ms = 100
    statuses: list[RouterStatus] = []
    remote = RemoteTier(s)
    router = Router(FixedLocalTier(), remote,
                    RouterSettings(hedge_ms=50, remote_wait_ms=WAIT_MS), on_status=statuses.append)
    try:
        await type_keystrokes(router)
        assert router.status().remote_state == "offline-auto"

        async def ok(rec, writer):
            answer = {"choices": [{"index": 0, "text": "remote()", "finish_reason": "stop"}]}
            await send_json(writer, {"data": []} if rec.method == "GET" else answer)

        srv = await loopback(ok, port=port)
        for _ in range(50):
            if router.status().remote_state == "ok":
                break
            await asyncio.sleep(0.05)
        assert router.status().remote_state == "ok"
        assert srv.requests[0].method == "GET"  # the probe, not a completion
        got = await router.complete(multi_line(99), CancelToken())
        assert got is not None and got.text == "remote()"
    finally:
        await router.aclose()
    notices = [st for st in statuses if st.notify]
    assert len(notices) == 2
    assert notices[0].remote_state in ("unreachable", "offline-auto")
    assert notices[1].remote_state == "ok"
    assert notices[1].message == "Remote model reachable again."


# ------------------------------------------------------------------ edits: retries


def edit_settings(url: str) -> RemoteSettings:
    s = settings(url)
    s.edit_timeout_ms, s.backoff_ms, s.edit_retries = 5000, 20, 2
    return s


def chat_ok(content: str) -> dict:
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop"}]}


async def test_edit_honours_retry_after(loopback) -> None:
    async def handle(rec, writer):
        if len(srv.requests) == 1:
            await send_json(writer, {"error": "slow"}, 429, {"retry-after": "0.3"})
        else:
            await send_json(writer, chat_ok("done"))

    srv = await loopback(handle)
    remote = RemoteTier(edit_settings(srv.url))
    t0 = time.perf_counter()
    try:
        reply = await remote.chat([{"role": "user", "content": "x"}], CancelToken())
    finally:
        await remote.aclose()
    assert reply == "done" and len(srv.requests) == 2
    assert time.perf_counter() - t0 >= 0.3


async def test_edit_retries_5xx_with_backoff_then_gives_up(loopback) -> None:
    srv = await loopback(server_error)
    remote = RemoteTier(edit_settings(srv.url))
    try:
        with pytest.raises(RemoteError) as err:
            await remote.chat([{"role": "user", "content": "x"}], CancelToken())
    finally:
        await remote.aclose()
    assert err.value.kind == "server"
    assert len(srv.requests) == 3  # one try and two retries, bounded


async def test_inline_is_never_retried(loopback) -> None:
    srv = await loopback(server_error)
    remote = RemoteTier(edit_settings(srv.url))
    try:
        with pytest.raises(RemoteError):
            await remote.complete(multi_line(1), CancelToken())
    finally:
        await remote.aclose()
    assert len(srv.requests) == 1


async def test_cancel_stops_the_http_call_promptly(loopback) -> None:
    srv = await loopback(stall)
    s = settings(srv.url)
    s.inline_timeout_ms = 10_000
    remote = RemoteTier(s)
    cancel = CancelToken()
    asyncio.get_running_loop().call_later(0.1, cancel.cancel, "newer keystroke")
    t0 = time.perf_counter()
    try:
        with pytest.raises(CancelledError):
            await remote.complete(multi_line(1), cancel)
    finally:
        await remote.aclose()
    assert time.perf_counter() - t0 < 0.3
    assert remote.health().circuit == "closed"  # a cancel says nothing about the provider


async def test_one_failure_is_not_an_outage_and_circuit_recovers(loopback) -> None:
    """A lone failure shows in the status but is no message; an open circuit lets one trial
    through after its cool-down, and its success is the one recovery message."""
    failing = [1]

    async def handle(rec, writer):
        if failing[0] > 0:
            failing[0] -= 1
            await send_json(writer, {"error": "boom"}, 500)
        else:
            await send_json(writer, {"choices": [{"index": 0, "text": "remote()",
                                                  "finish_reason": "stop"}]})

    srv = await loopback(handle)
    s = settings(srv.url)
    s.circuit_cooldown_ms = 150
    statuses: list[RouterStatus] = []
    router = Router(FixedLocalTier(), RemoteTier(s),
                    RouterSettings(hedge_ms=50, remote_wait_ms=WAIT_MS), on_status=statuses.append)
    try:
        assert (await router.complete(multi_line(1), CancelToken())).tier == "local"
        assert router.status().circuit == "closed" and not router.status().outage
        assert (await router.complete(multi_line(2), CancelToken())).text == "remote()"
        assert not any(st.notify for st in statuses)
        failing[0] = 3
        for i in range(5):
            assert (await router.complete(multi_line(3 + i), CancelToken())).tier == "local"
        assert len(srv.requests) == 2 + 3  # the open circuit stopped the calls
        await asyncio.sleep(0.2)
        assert (await router.complete(multi_line(9), CancelToken())).text == "remote()"
    finally:
        await router.aclose()
    assert [(st.remote_state, st.notify) for st in statuses if st.notify] == [
        ("circuit-open", True), ("ok", True)]


async def test_large_error_page_is_still_a_server_error(loopback) -> None:
    async def big_502(rec, writer):
        await send(writer, 502, b"<html>" + b"x" * 100_000, content_type="text/html")

    srv = await loopback(big_502)
    remote = RemoteTier(settings(srv.url))
    try:
        with pytest.raises(RemoteError) as err:
            await remote.complete(multi_line(1), CancelToken())
    finally:
        await remote.aclose()
    assert err.value.kind == "server" and "502" in err.value.user_message
