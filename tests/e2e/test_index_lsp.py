"""The index through LSP: workspace/symbol, documentSymbol, definition across files,
incremental updates from didChange and file watchers, and `$/progress` only for clients that
support it. No model is needed (the server runs without one)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.e2e.conftest import server_env
from tests.support.raw_lsp import RawClient

NO_MODEL = {"local": {"modelPath": "/nonexistent/model.gguf"}}


def _workspace(tmp: Path) -> Path:
    ws = tmp / "ws"
    (ws / "shapes").mkdir(parents=True)
    (ws / "shapes" / "__init__.py").write_text("")
    (ws / "shapes" / "circle.py").write_text(
        "import math\n\n\nclass Circle:\n    \"\"\"A circle.\"\"\"\n\n"
        "    def __init__(self, radius):\n        self.radius = radius\n\n"
        "    def area(self):\n        return math.pi * self.radius ** 2\n"
    )
    (ws / "app.py").write_text(
        "from shapes.circle import Circle\n\n\n"
        "def main():\n    c = Circle(2)\n    print(c.area())\n"
    )
    (ws / ".gitignore").write_text("secret_stuff/\n")
    (ws / "secret_stuff").mkdir()
    (ws / "secret_stuff" / "hidden.py").write_text("def hidden_function():\n    pass\n")
    return ws


def _start(tmp: Path, capabilities: dict) -> tuple[RawClient, Path]:
    ws = _workspace(tmp)
    client = RawClient(server_env(tmp))
    rid = client.request("initialize", {
        "processId": os.getpid(), "rootUri": ws.as_uri(), "capabilities": capabilities,
        "initializationOptions": NO_MODEL})
    client.response(rid)
    client.notify("initialized", {})
    return client, ws


def _symbols(client: RawClient, query: str, timeout: float = 60) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        rid = client.request("workspace/symbol", {"query": query})
        found = client.response(rid)["result"] or []
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def test_symbols_definition_and_updates(tmp_path: Path):
    caps = {"window": {"workDoneProgress": True},
            "workspace": {"didChangeWatchedFiles": {"dynamicRegistration": True}}}
    client, ws = _start(tmp_path, caps)
    try:
        # $/progress: the client supports it, so the server creates a token and reports.
        create = client.wait_for(lambda m: m.get("method") == "window/workDoneProgress/create")
        client.send({"id": create["id"], "result": None})
        found = _symbols(client, "Circle")
        assert any(s["name"] == "Circle" and s["location"]["uri"].endswith("shapes/circle.py")
                   for s in found), found
        assert not _symbols(client, "hidden_function", timeout=1)  # gitignored
        fuzzy = _symbols(client, "ara")  # area, by subsequence
        assert any(s["name"] == "area" for s in fuzzy), fuzzy

        app = (ws / "app.py").as_uri()
        client.notify("textDocument/didOpen", {"textDocument": {
            "uri": app, "languageId": "python", "version": 1,
            "text": (ws / "app.py").read_text()}})
        rid = client.request("textDocument/definition", {
            "textDocument": {"uri": app}, "position": {"line": 4, "character": 9}})
        locations = client.response(rid)["result"]
        assert locations and locations[0]["uri"].endswith("shapes/circle.py")
        assert locations[0]["range"]["start"]["line"] == 3

        circle = (ws / "shapes" / "circle.py").as_uri()
        rid = client.request("textDocument/documentSymbol", {"textDocument": {"uri": circle}})
        tree = client.response(rid)["result"]
        (cls,) = [s for s in tree if s["name"] == "Circle"]
        assert {c["name"] for c in cls["children"]} >= {"__init__", "area"}

        # didChange: a new function is indexed from the editor's text, unsaved.
        client.notify("textDocument/didChange", {
            "textDocument": {"uri": app, "version": 2},
            "contentChanges": [{"range": {"start": {"line": 6, "character": 0},
                                          "end": {"line": 6, "character": 0}},
                                "text": "\ndef freshly_typed_helper():\n    return 1\n"}]})
        assert _symbols(client, "freshly_typed_helper")

        # A file created on disk, reported by the editor's watcher.
        (ws / "extra.py").write_text("def from_the_watcher():\n    pass\n")
        client.notify("workspace/didChangeWatchedFiles", {"changes": [
            {"uri": (ws / "extra.py").as_uri(), "type": 1}]})
        assert _symbols(client, "from_the_watcher")
        (ws / "extra.py").unlink()
        client.notify("workspace/didChangeWatchedFiles", {"changes": [
            {"uri": (ws / "extra.py").as_uri(), "type": 3}]})
        deadline = time.monotonic() + 30
        while _symbols(client, "from_the_watcher", timeout=0) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert not _symbols(client, "from_the_watcher", timeout=0)
    finally:
        client.proc.kill()


def test_no_progress_for_clients_without_support(tmp_path: Path):
    client, _ws = _start(tmp_path, {})
    try:
        assert _symbols(client, "Circle")
        seen = []
        while not client.messages.empty():
            seen.append(client.messages.get())
        methods = {m.get("method") for m in seen}
        assert "$/progress" not in methods and "window/workDoneProgress/create" not in methods
    finally:
        client.proc.kill()
