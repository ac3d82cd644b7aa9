"""`--tcp` serves a client; `--version`; and offline mode makes no connection attempt at all
during a whole LSP session with a remote configured (a socket-level guard in the server)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import server_env
from tests.support.raw_lsp import RawClient

NO_MODEL = {"local": {"modelPath": "/nonexistent/model.gguf"}}


def _frame(message: dict) -> bytes:
    body = json.dumps({"jsonrpc": "2.0", **message}).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def _read(sock: socket.socket) -> dict:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    length = int(next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length"))
                 .split(b":")[1])
    while len(rest) < length:
        rest += sock.recv(65536)
    return json.loads(rest[:length])


def test_version_prints_and_exits():
    out = subprocess.run([sys.executable, "-m", "lsp_server.cli", "--version"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("lsp-server ")


def test_tcp_serves_one_client(tmp_path: Path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "lsp_server.cli", "--tcp", f"127.0.0.1:{port}"],
        env=server_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=30)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        with sock:
            sock.sendall(_frame({"id": 1, "method": "initialize", "params": {
                "processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {},
                "initializationOptions": NO_MODEL}}))
            reply = _read(sock)
            while reply.get("id") != 1:
                reply = _read(sock)
            assert "inlineCompletionProvider" in reply["result"]["capabilities"]
            sock.sendall(_frame({"id": 2, "method": "shutdown", "params": None}))
            sock.sendall(_frame({"method": "exit", "params": None}))
        assert proc.wait(timeout=30) is not None
    finally:
        proc.kill()


GUARD = '''
import os, socket
_log = os.environ["CONNECT_LOG"]
_real = socket.socket.connect
def _guard(self, address):
    with open(_log, "a") as fh:
        fh.write(repr(address) + "\\n")
    return _real(self, address)
socket.socket.connect = _guard
socket.socket.connect_ex = lambda self, address: (_guard(self, address), 0)[1]
'''


@pytest.mark.model
def test_offline_mode_makes_no_connection_attempt_in_a_whole_session(tmp_path: Path):
    from tests.support.default_model import default_model_path

    guard_dir = tmp_path / "guard"
    guard_dir.mkdir()
    (guard_dir / "sitecustomize.py").write_text(GUARD)
    log = tmp_path / "connects.log"
    env = server_env(tmp_path)
    env["PYTHONPATH"] = os.pathsep.join([str(guard_dir), env.get("PYTHONPATH", "")])
    env["CONNECT_LOG"] = str(log)
    env["OPENAI_API_KEY"] = "sk-test-not-a-key"
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "util.py").write_text("def double(x):\n    return 2 * x\n")
    options = {
        "local": {"modelPath": str(default_model_path()), "threads": 2},
        "remote": {"enabled": True, "provider": "openai", "baseUrl": "http://127.0.0.1:9",
                   "model": "big"},
        "router": {"offline": True, "strategy": "remote-preferred"},
    }
    client = RawClient(env, cwd=tmp_path)
    try:
        client.initialize(ws, options, os.getpid())
        uri = (ws / "main.py").as_uri()
        text = "from util import double\n\n\ndef quadruple(x):\n    "
        client.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "python", "version": 1, "text": text}})
        rid = client.request("textDocument/inlineCompletion", {
            "textDocument": {"uri": uri}, "position": {"line": 4, "character": 4},
            "context": {"triggerKind": 1}})
        reply = client.response(rid, timeout=300)
        assert reply.get("error") is None
        assert reply["result"]["items"], "the local tier answers while offline"
        rid = client.request("workspace/symbol", {"query": "double"})
        assert client.response(rid).get("error") is None
        rid = client.request("shutdown", None)
        client.response(rid)
        client.notify("exit", None)
        client.proc.wait(timeout=30)
    finally:
        client.proc.kill()
    attempts = log.read_text().splitlines() if log.exists() else []
    assert attempts == [], attempts
