"""A scriptable HTTP/1.1 server on loopback for request-shape checks and fault injection.

Plain asyncio sockets, so a test can drip bytes, stall, cut a stream or send garbage exactly.
Each request is parsed, recorded, and handed to the test's handler with the raw writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


Handler = Callable[[Recorded, asyncio.StreamWriter], Awaitable[None]]

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            422: "Unprocessable Entity", 429: "Too Many Requests", 500: "Internal Server Error",
            502: "Bad Gateway", 503: "Service Unavailable"}


async def send(writer: asyncio.StreamWriter, status: int, body: bytes,
               headers: dict[str, str] | None = None, content_type: str = "application/json",
               ) -> None:
    head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'X')}", f"content-type: {content_type}",
            f"content-length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    await writer.drain()


async def send_json(writer: asyncio.StreamWriter, obj: Any, status: int = 200,
                    headers: dict[str, str] | None = None) -> None:
    await send(writer, status, json.dumps(obj).encode(), headers)


async def start_sse(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                 b"cache-control: no-cache\r\nconnection: close\r\n\r\n")
    await writer.drain()


async def sse(writer: asyncio.StreamWriter, obj: Any) -> None:
    data = obj if isinstance(obj, str) else json.dumps(obj)
    writer.write(f"data: {data}\n\n".encode())
    await writer.drain()


def chat_body(content: str, model: str = "m") -> dict[str, Any]:
    return {"id": "x", "object": "chat.completion", "model": model, "created": 0,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def chat_chunk(content: str, finish: str | None = None) -> dict[str, Any]:
    return {"id": "x", "object": "chat.completion.chunk", "model": "m", "created": 0,
            "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}]}


@dataclass
class LoopbackServer:
    handler: Handler
    port: int = 0
    requests: list[Recorded] = field(default_factory=list)
    connections: int = 0
    _server: asyncio.base_events.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    async def start(self) -> LoopbackServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for t in list(self._tasks):
                t.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                method, path, _ = line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while (h := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    k, _, v = h.decode().partition(":")
                    headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                rec = Recorded(method, path, headers, body)
                self.requests.append(rec)
                await self.handler(rec, writer)
                if writer.is_closing():
                    return
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            return
        finally:
            self._tasks.discard(task)
            with contextlib.suppress(Exception):
                writer.close()
