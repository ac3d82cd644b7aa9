"""HTTP helpers: Retry-After parsing, SSE framing across arbitrary chunk boundaries."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from tiers.errors import RemoteError
from tiers.remote.http import parse_retry_after, sse_events


@pytest.mark.parametrize(
    ("value", "expected"),
    [("7", 7.0), ("0.5", 0.5), ("-3", 0.0), ("", None), (None, None), ("soon", None),
     (email.utils.formatdate(1000.0 + 30, usegmt=True), 30.0)],
)
def test_parse_retry_after(value, expected) -> None:
    assert parse_retry_after(value, now=1000.0) == expected


class Chunks(httpx.AsyncByteStream):
    def __init__(self, parts: list[bytes]) -> None:
        self.parts = parts

    async def __aiter__(self):
        for p in self.parts:
            yield p


async def events_of(parts: list[bytes], limit: int = 10_000) -> list:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"},
                              stream=Chunks(parts))

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    try:
        async with client.stream("GET", "http://test/") as resp:
            return [e async for e in sse_events(resp, limit)]
    finally:
        await client.aclose()


@pytest.mark.parametrize("size", [1, 3, 7, 1000])
async def test_sse_split_anywhere(size: int) -> None:
    raw = (b'data: {"a": 1}\r\n\r\n: comment\n\nevent: x\ndata: {"b":\ndata: 2}\n\n'
           b"data: [DONE]\n\n")
    parts = [raw[i:i + size] for i in range(0, len(raw), size)]
    assert await events_of(parts) == [{"a": 1}, {"b": 2}, None]


async def test_sse_limits_and_garbage() -> None:
    with pytest.raises(RemoteError) as err:
        await events_of([b"data: {}\n\n" * 100], limit=50)
    assert err.value.kind == "too_large"
    with pytest.raises(RemoteError) as err:
        await events_of([b"data: [1, 2\n\n"])
    assert err.value.kind == "protocol"
    # A last event without its blank line still counts.
    assert await events_of([b'data: {"c": 3}']) == [{"c": 3}]
