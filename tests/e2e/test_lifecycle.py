"""Process lifecycle: shutdown/exit, requests after shutdown, a closed stdin, a dead parent,
and a server without any model (it starts, says so once, and answers empty results)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import server_env
from tests.support.raw_lsp import RawClient

NO_MODEL = {"local": {"modelPath": "/nonexistent/model.gguf"}}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return server_env(tmp_path)


def _open(client: RawClient, uri: str, text: str) -> None:
    client.notify("textDocument/didOpen", {"textDocument": {
        "uri": uri, "languageId": "python", "version": 1, "text": text}})


def test_without_a_model_the_server_runs_and_tells_the_user_once(tmp_path: Path, env):
    client = RawClient(env)
    try:
        init = client.initialize(tmp_path, NO_MODEL, os.getpid())
        assert "inlineCompletionProvider" in init["result"]["capabilities"]
        shown = client.wait_for(lambda m: m.get("method") == "window/showMessage", timeout=30)
        assert "model" in shown["params"]["message"].lower()
        uri = (tmp_path / "a.py").as_uri()
        _open(client, uri, "x = ")
        for _ in range(3):
            rid = client.request("textDocument/inlineCompletion", {
                "textDocument": {"uri": uri}, "position": {"line": 0, "character": 4},
                "context": {"triggerKind": 1}})
            reply = client.response(rid)
            assert reply.get("result") in (None, {"items": []}), reply
        # Only one message for the missing model, however many requests came.
        extra = []
        while not client.messages.empty():
            extra.append(client.messages.get())
        assert not [m for m in extra if m.get("method") == "window/showMessage"]
    finally:
        client.proc.kill()


def test_shutdown_then_requests_get_an_error_and_exit_ends_the_process(tmp_path: Path, env):
    client = RawClient(env)
    client.initialize(tmp_path, NO_MODEL, os.getpid())
    rid = client.request("shutdown", None)
    assert client.response(rid).get("error") is None
    rid = client.request("textDocument/completion", {
        "textDocument": {"uri": (tmp_path / "a.py").as_uri()},
        "position": {"line": 0, "character": 0}})
    reply = client.response(rid)
    assert reply["error"]["code"] == -32600
    client.notify("exit", None)
    assert client.proc.wait(timeout=20) == 0


def test_exit_without_shutdown_ends_with_an_error_code(tmp_path: Path, env):
    client = RawClient(env)
    client.initialize(tmp_path, NO_MODEL, os.getpid())
    client.notify("exit", None)
    assert client.proc.wait(timeout=20) == 1


def test_closed_stdin_ends_the_process(tmp_path: Path, env):
    client = RawClient(env)
    client.initialize(tmp_path, NO_MODEL, os.getpid())
    assert client.proc.stdin is not None
    client.proc.stdin.close()
    assert client.proc.wait(timeout=20) is not None


def test_dead_parent_process_ends_the_server(tmp_path: Path, env):
    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    client = RawClient(env)
    try:
        client.initialize(tmp_path, NO_MODEL, parent.pid)
        parent.kill()
        parent.wait()
        assert client.proc.wait(timeout=20) is not None
    finally:
        client.proc.kill()


def test_malformed_messages_do_not_crash_the_server(tmp_path: Path, env):
    client = RawClient(env)
    try:
        client.initialize(tmp_path, NO_MODEL, os.getpid())
        rid = client.request("textDocument/inlineCompletion", {"textDocument": 42})
        assert "error" in client.response(rid)
        rid = client.request("no/such/method", {})
        assert client.response(rid)["error"]["code"] == -32601
        client.notify("textDocument/didChange", {"bogus": True})
        rid = client.request("textDocument/completion", {
            "textDocument": {"uri": "file:///never/opened.py"},
            "position": {"line": 99, "character": 99}})
        reply = client.response(rid)
        assert reply.get("error") is None and not (reply["result"] or {}).get("items")
        assert client.proc.poll() is None
    finally:
        client.proc.kill()
