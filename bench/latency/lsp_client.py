"""Our server as a bench backend: a small asyncio LSP client over the subprocess's stdio.

Hand-written JSON-RPC framing keeps the client's own overhead out of the figures (a request
costs one write and one read on the event loop). Capabilities are those of VS Code: utf-16
positions, inline completion, incremental sync.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from bench.latency.replay import Answer

REQUEST_CANCELLED = -32800
CONTENT_MODIFIED = -32801


def utf16_position(text: str, offset: int) -> dict[str, int]:
    """The LSP position (utf-16 columns) of a str offset."""
    line = text.count("\n", 0, offset)
    start = text.rfind("\n", 0, offset) + 1
    col = len(text[start:offset].encode("utf-16-le")) // 2
    return {"line": line, "character": col}


def utf16_offset(text: str, pos: dict[str, int]) -> int:
    """The str offset of an LSP position (utf-16 columns), clamped to the line."""
    start = 0
    for _ in range(pos["line"]):
        nl = text.find("\n", start)
        if nl < 0:
            return len(text)
        start = nl + 1
    end = text.find("\n", start)
    line = text[start:] if end < 0 else text[start:end]
    units = pos["character"]
    for i, ch in enumerate(line):
        if units <= 0:
            return start + i
        units -= 2 if ord(ch) > 0xFFFF else 1
    return start + len(line)


class RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class LspConnection:
    """JSON-RPC 2.0 over a subprocess's stdin/stdout with LSP's Content-Length framing."""

    def __init__(self, proc: asyncio.subprocess.Process,
                 on_notification: Callable[[str, Any], None]) -> None:
        self.proc = proc
        self._next_id = 0
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._on_notification = on_notification
        self._reader = asyncio.ensure_future(self._read_loop())

    def _write(self, message: dict[str, Any]) -> None:
        body = json.dumps(message, ensure_ascii=False).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    def notify(self, method: str, params: Any) -> None:
        self._write({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method: str, params: Any) -> tuple[int, asyncio.Future[Any]]:
        self._next_id += 1
        rid = self._next_id
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = fut
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())  # none left unread
        self._write({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        return rid, fut

    async def call(self, method: str, params: Any, timeout: float = 120.0) -> Any:
        _, fut = self.request(method, params)
        return await asyncio.wait_for(fut, timeout)

    async def _read_loop(self) -> None:
        reader = self.proc.stdout
        assert reader is not None
        try:
            while True:
                length = None
                while True:
                    line = await reader.readline()
                    if not line:
                        raise EOFError
                    line = line.strip()
                    if not line:
                        break
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                if length is None:
                    continue
                self._dispatch(json.loads(await reader.readexactly(length)))
        except (EOFError, asyncio.IncompleteReadError):
            pass
        finally:
            for fut in self._waiting.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("the server closed its output"))

    def _dispatch(self, msg: dict[str, Any]) -> None:
        if "method" in msg and "id" in msg:  # a request from the server: answer null
            self._write({"jsonrpc": "2.0", "id": msg["id"], "result": None})
        elif "method" in msg:
            self._on_notification(msg["method"], msg.get("params"))
        else:
            fut = self._waiting.pop(msg.get("id"), None)
            if fut is None or fut.done():
                return
            if "error" in msg:
                err = msg["error"] or {}
                fut.set_exception(RpcError(err.get("code", 0), err.get("message", "")))
            else:
                fut.set_result(msg.get("result"))

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


# Figures the server may report per completion, in a metrics notification or its debug log.
_FIELD = re.compile(r"""["']?(evaluated|promptTokens|prompt_tokens|cached|evaluated_tokens)"""
                    r"""["']?\s*[=:]\s*["']?(true|false|True|False|\d+)""")


def metrics_from_text(line: str) -> dict[str, int | bool]:
    """`evaluated`, `promptTokens` and `cached` figures found in one log line (or none)."""
    out: dict[str, int | bool] = {}
    for key, value in _FIELD.findall(line):
        key = {"prompt_tokens": "promptTokens", "evaluated_tokens": "evaluated"}.get(key, key)
        out[key] = value.lower() == "true" if value.lower() in ("true", "false") else int(value)
    return out


class _LspPending:
    def __init__(self, backend: OurServer, rid: int, fut: asyncio.Future[Any],
                 document: str, offset: int) -> None:
        self._backend, self._rid, self._fut = backend, rid, fut
        self._document, self._offset = document, offset

    def cancel(self) -> None:
        if not self._fut.done():
            self._backend.conn.notify("$/cancelRequest", {"id": self._rid})

    async def result(self) -> Answer:
        try:
            got = await asyncio.wait_for(asyncio.shield(self._fut), 120)
        except RpcError as exc:
            if exc.code in (REQUEST_CANCELLED, CONTENT_MODIFIED):
                return Answer("cancelled", detail=str(exc))
            return Answer("error", detail=str(exc))
        except (TimeoutError, ConnectionError) as exc:
            return Answer("error", detail=repr(exc))
        items = (got or {}).get("items", []) if isinstance(got, dict) else (got or [])
        if not items:
            return Answer("answered", "")
        return Answer("answered", self._relative(items[0]))

    def _relative(self, item: dict[str, Any]) -> str:
        """The item's text as what it inserts at the cursor (its range may start before it)."""
        text = item.get("insertText", "")
        if isinstance(text, dict):  # a snippet
            text = text.get("value", "")
        rng = item.get("range")
        if rng:
            start = utf16_offset(self._document, rng["start"])
            already = self._document[start:self._offset]
            if start < self._offset and text.startswith(already):
                text = text[len(already):]
        return text


class OurServer:
    """`lsp-server --stdio` with the given model and threads, speaking to one simulated editor."""

    name = "ours"

    def __init__(self, model: Path, threads: int, log_file: Path,
                 command: list[str] | None = None, extra_options: dict[str, Any] | None = None):
        self.model, self.threads, self.log_file = model, threads, log_file
        self.command = command or [sys.executable, "-m", "lsp_server.cli"]
        self.extra_options = extra_options or {}
        self.notifications: list[tuple[str, Any]] = []
        self.metrics: list[dict[str, int | bool]] = []
        self._docs: dict[str, tuple[int, str]] = {}
        self._proc: asyncio.subprocess.Process | None = None
        self._stderr: IO[bytes]
        self.conn: LspConnection

    def _on_notification(self, method: str, params: Any) -> None:
        self.notifications.append((method, params))
        if "metric" in method.lower() and isinstance(params, dict):
            found = metrics_from_text(json.dumps(params))
            if found:
                self.metrics.append(found)

    async def start(self, ready_timeout: float = 300.0) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.unlink(missing_ok=True)
        self._stderr = self.log_file.with_suffix(".stderr").open("wb")
        cmd = [*self.command, "--stdio", "--log-level", "debug", "--log-file", str(self.log_file)]
        self._proc = await asyncio.create_subprocess_exec(
            *cmd, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=self._stderr,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            limit=16 * 1024 * 1024,
        )
        self.conn = LspConnection(self._proc, self._on_notification)
        options = {"local": {"modelPath": str(self.model), "threads": self.threads},
                   "completion": {"debounceMs": -1}}
        for key, value in self.extra_options.items():
            options.setdefault(key, {}).update(value)
        await self.conn.call("initialize", {
            "processId": os.getpid(),
            "clientInfo": {"name": "bench-latency"},
            "rootUri": None,
            "capabilities": {
                "general": {"positionEncodings": ["utf-16"]},
                "textDocument": {
                    "synchronization": {"dynamicRegistration": False},
                    "inlineCompletion": {"dynamicRegistration": False},
                },
                "window": {"workDoneProgress": False},
            },
            "initializationOptions": options,
        })
        self.conn.notify("initialized", {})
        await self._wait_until_loaded(ready_timeout)

    async def _wait_until_loaded(self, timeout: float) -> None:
        """Answer one throwaway request so that the model is loaded before the clock runs."""
        uri = "file:///bench/warmup.py"
        await self.open(uri, "def add(a, b):\n    return ")
        answer = await self.complete(uri, len("def add(a, b):\n    return ")).result()
        await self.close(uri)
        status = [p for m, p in self.notifications if m == "lspServer/status" and p]
        error = status[-1].get("localError") if status else ""
        if error or answer.status == "error":
            raise RuntimeError(f"our server has no working model: {error or answer.detail}")

    async def open(self, uri: str, text: str) -> None:
        self._docs[uri] = (1, text)
        self.conn.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "python", "version": 1, "text": text}})

    async def insert(self, uri: str, offset: int, text: str, document: str) -> None:
        version, before = self._docs[uri]
        pos = utf16_position(before, offset)
        self._docs[uri] = (version + 1, document)
        self.conn.notify("textDocument/didChange", {
            "textDocument": {"uri": uri, "version": version + 1},
            "contentChanges": [{"range": {"start": pos, "end": pos}, "text": text}],
        })

    def complete(self, uri: str, offset: int) -> _LspPending:
        _, document = self._docs[uri]
        rid, fut = self.conn.request("textDocument/inlineCompletion", {
            "textDocument": {"uri": uri},
            "position": utf16_position(document, offset),
            "context": {"triggerKind": 2},  # automatic, as while typing
        })
        return _LspPending(self, rid, fut, document, offset)

    async def close(self, uri: str) -> None:
        self._docs.pop(uri, None)
        self.conn.notify("textDocument/didClose", {"textDocument": {"uri": uri}})

    def log_metrics(self) -> list[dict[str, int | bool]]:
        """Per-completion figures from the debug log (and metrics notifications), if any."""
        found = list(self.metrics)
        try:
            lines = self.log_file.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return found
        for line in lines:
            if "warmup.py" in line:  # the bench's own start-up request
                continue
            got = metrics_from_text(line)
            if "evaluated" in got or "cached" in got:
                found.append(got)
        return found

    async def stop(self) -> None:
        if self._proc is None:
            return
        try:
            await self.conn.call("shutdown", None, timeout=20)
            self.conn.notify("exit", None)
            await asyncio.wait_for(self._proc.wait(), 20)
        except (TimeoutError, ConnectionError, RpcError):
            if self._proc.returncode is None:
                self._proc.kill()
                await self._proc.wait()
        await self.conn.close()
        self._stderr.close()
