"""Fixtures of the remote tier tests: loopback servers and a stand-in local tier."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable

import pytest

from tests.remote.loopback import Handler, LoopbackServer
from tiers.base import CancelToken, Completion, CompletionRequest, TierInfo


class FixedLocalTier:
    """A local tier that answers a fixed text after `delay` seconds (a stand-in for faults)."""

    def __init__(self, text: str = "local_answer()", delay: float = 0.0,
                 mean_logprob: float | None = -0.1) -> None:
        self.text, self.delay, self.mean_logprob = text, delay, mean_logprob
        self.calls = 0

    def info(self) -> TierInfo:
        return TierInfo("local", "fixed", True, 2048, 10.0)

    async def complete(self, request: CompletionRequest, cancel: CancelToken) -> Completion | None:
        self.calls += 1
        await asyncio.sleep(self.delay)
        cancel.raise_if_cancelled()
        return Completion(self.text, "local", model="fixed", mean_logprob=self.mean_logprob)

    async def aclose(self) -> None:
        return None


@pytest.fixture
async def loopback() -> AsyncIterator[Callable[..., object]]:
    """`await loopback(handler, port=0)` starts a server; all are stopped after the test."""
    servers: list[LoopbackServer] = []

    async def start(handler: Handler, port: int = 0) -> LoopbackServer:
        srv = await LoopbackServer(handler, port=port).start()
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        await srv.stop()


def free_port() -> int:
    """A loopback port with nothing listening (connections to it are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
