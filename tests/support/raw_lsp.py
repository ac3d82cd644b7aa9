"""A minimal JSON-RPC/LSP client over a subprocess's pipes, for lifecycle tests that need
control over the raw stream (closing stdin, killing the parent, messages after shutdown)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from queue import Empty, Queue
from typing import Any

SERVER = [sys.executable, "-m", "lsp_server.cli", "--stdio"]


class RawClient:
    def __init__(self, env: dict[str, str], cwd: Path | None = None) -> None:
        self.proc = subprocess.Popen(
            SERVER, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env, cwd=cwd,
        )
        self.messages: Queue[dict[str, Any]] = Queue()
        self._next = 0
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        self.stderr: list[str] = []

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line.decode(errors="replace"))

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    return
                line = line.strip()
                if not line:
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if length is None:
                return
            self.messages.put(json.loads(out.read(length)))

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def request(self, method: str, params: Any) -> int:
        self._next += 1
        self.send({"id": self._next, "method": method, "params": params})
        return self._next

    def notify(self, method: str, params: Any) -> None:
        self.send({"method": method, "params": params})

    def wait_for(self, predicate, timeout: float = 60.0) -> dict[str, Any]:
        """The first message satisfying `predicate` (others are kept in `seen`)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no matching message")
            try:
                msg = self.messages.get(timeout=left)
            except Empty as exc:
                raise TimeoutError("no matching message") from exc
            if predicate(msg):
                return msg

    def response(self, msg_id: int, timeout: float = 60.0) -> dict[str, Any]:
        return self.wait_for(lambda m: m.get("id") == msg_id and "method" not in m, timeout)

    def initialize(self, root: Path, options: dict[str, Any], process_id: int | None) -> dict:
        rid = self.request("initialize", {
            "processId": process_id,
            "rootUri": root.as_uri(),
            "capabilities": {"window": {"showMessage": {}}},
            "initializationOptions": options,
        })
        result = self.response(rid)
        self.notify("initialized", {})
        return result
