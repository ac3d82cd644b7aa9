"""Offline mode makes no connection attempt at all; excluded and secret files are never sent;
the API key never reaches a log line."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path

import pytest

from indexer.ignore import ContextPolicy
from tests.remote.conftest import FixedLocalTier
from tests.remote.loopback import chat_body, send_json
from tiers.base import CancelToken, CompletionRequest, ContextChunk, Mode
from tiers.edits import EditTarget, complete_block
from tiers.errors import TierUnavailableError
from tiers.remote import RemoteTier
from tiers.router import Router, RouterStatus
from tiers.settings import RemoteSettings, RouterSettings

KEY = "sk-live-NEVER-LOG-THIS-0042"


@pytest.fixture
async def connect_guard(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Record every outgoing connection attempt, at the socket and at the event-loop level."""
    attempts: list[object] = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    loop_cls = type(asyncio.get_running_loop())
    real_create, real_sock_connect = loop_cls.create_connection, loop_cls.sock_connect

    def connect(self, address):
        attempts.append(address)
        return real_connect(self, address)

    def connect_ex(self, address):
        attempts.append(address)
        return real_connect_ex(self, address)

    async def create_connection(self, *args, **kwargs):
        attempts.append(args[1:3])
        return await real_create(self, *args, **kwargs)

    async def sock_connect(self, sock, address):
        attempts.append(address)
        return await real_sock_connect(self, sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(loop_cls, "create_connection", create_connection)
    monkeypatch.setattr(loop_cls, "sock_connect", sock_connect)
    return attempts


def remote_settings(url: str, **kw) -> RemoteSettings:
    return RemoteSettings(enabled=True, provider="openai", base_url=url, model="m",
                          api_key=KEY, inline_timeout_ms=500, **kw)


def req(i: int, mode: Mode = Mode.MULTI_LINE, **kw) -> CompletionRequest:
    base = dict(uri="file:///ws/a.py", version=i, prefix="def f():\n    ", suffix="\n",
                language_id="python", path="a.py", mode=mode)
    base.update(kw)
    return CompletionRequest(**base)


async def test_guard_sees_connections(loopback, connect_guard) -> None:
    """The guard itself works: an online remote call is recorded."""
    async def ok(rec, writer):
        await send_json(writer, {"choices": [{"index": 0, "text": "x()", "finish_reason": "stop"}]})

    srv = await loopback(ok)
    remote = RemoteTier(remote_settings(srv.url))
    try:
        await remote.complete(req(1), CancelToken())
    finally:
        await remote.aclose()
    assert connect_guard


async def test_offline_setting_makes_zero_connection_attempts(loopback, connect_guard) -> None:
    async def ok(rec, writer):
        await send_json(writer, chat_body("never"))

    srv = await loopback(ok)
    connect_guard.clear()
    statuses: list[RouterStatus] = []
    remote = RemoteTier(remote_settings(srv.url))
    router = Router(FixedLocalTier(mean_logprob=-9.0), remote,
                    RouterSettings(offline=True, strategy="remote-preferred"),
                    on_status=statuses.append)
    try:
        for i in range(5):
            for mode in (Mode.MULTI_LINE, Mode.SINGLE_LINE):
                got = await router.complete(req(i, mode), CancelToken())
                assert got is not None and got.tier == "local"
        with pytest.raises(TierUnavailableError):
            await complete_block(remote, EditTarget("file:///ws/a.py", 1, "def f():\n    pass\n",
                                                    "python", "a.py"), 1, CancelToken())
        assert not await remote.probe()
        await asyncio.sleep(0.05)
    finally:
        await router.aclose()
    assert connect_guard == []
    assert srv.connections == 0 and srv.requests == []
    status = router.status()
    assert status.offline and status.offline_reason == "setting"
    assert status.remote_state == "offline" and status.last_tier == "local"
    assert not any(s.notify for s in statuses)


def make_workspace(root: Path) -> dict[str, str]:
    """Files with canary strings that must never leave the machine."""
    canaries = {}
    files = {
        ".env": "API_TOKEN=CANARY_DOTENV_7731",
        "deploy/server.pem": "-----BEGIN PRIVATE KEY----- CANARY_PEM_1181",
        "build/generated.py": "GENERATED = 'CANARY_GITIGNORED_5520'",
        "private/notes.py": "NOTE = 'CANARY_AIIGNORE_9043'",
        "config/credentials.json": '{"token": "CANARY_CREDS_3377"}',
    }
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        canaries[rel] = text.split("CANARY_")[1].split("'")[0].split('"')[0]
    (root / ".gitignore").write_text("build/\n")
    (root / ".aiignore").write_text("private/\n")
    (root / "src").mkdir()
    (root / "src" / "main.py").write_text("def main():\n    pass\n")
    return {rel: "CANARY_" + c for rel, c in canaries.items()}


async def test_excluded_files_never_sent_nor_logged(
    loopback, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    canaries = make_workspace(tmp_path)
    bodies: list[bytes] = []

    async def record(rec, writer):
        bodies.append(rec.body + repr(rec.headers).encode())
        if rec.path == "/v1/chat/completions":
            await send_json(writer, chat_body("```python\ndef main():\n    return 0\n```"))
        else:
            await send_json(writer, {"choices": [{"index": 0, "text": "return 0",
                                                  "finish_reason": "stop"}]})

    srv = await loopback(record)
    policy = ContextPolicy(tmp_path)
    remote = RemoteTier(remote_settings(srv.url), policy=policy)
    router = Router(FixedLocalTier(), remote, RouterSettings(hedge_ms=10))
    caplog.set_level(1)  # everything, TRACE included, from every logger
    try:
        # A document that is itself excluded: nothing is sent, the local tier answers.
        for rel, canary in canaries.items():
            doc = req(1, uri=(tmp_path / rel).as_uri(), path=rel, prefix=f"x = '{canary}'\n")
            got = await router.complete(doc, CancelToken())
            assert got is not None and got.tier == "local"
            with pytest.raises(TierUnavailableError):
                await complete_block(remote, EditTarget(doc.uri, 1, doc.prefix, "python", rel),
                                     0, CancelToken())
        assert bodies == []
        # An allowed document: excluded context chunks are dropped, allowed ones kept.
        ctx = tuple(ContextChunk(rel, f"SECRET = '{c}'\n") for rel, c in canaries.items())
        ctx += (ContextChunk("src/util.py", "def helper(): return 'ALLOWED_CHUNK'\n"),)
        main = req(2, uri=(tmp_path / "src/main.py").as_uri(), path="src/main.py", context=ctx)
        got = await router.complete(main, CancelToken())
        assert got is not None and got.tier == "remote:openai"
        await complete_block(remote, EditTarget(main.uri, 2, "def main():\n    pass\n",
                                                "python", "src/main.py"), 1, CancelToken())
    finally:
        await router.aclose()
    assert len(bodies) == 2 and b"ALLOWED_CHUNK" in bodies[0]
    assert f"Bearer {KEY}".encode() in bodies[0]  # the key is sent to the provider...
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "request body" in logged  # TRACE logging was really on
    for canary in canaries.values():
        assert all(canary.encode() not in b for b in bodies), canary
        assert canary not in logged, canary
    assert KEY not in logged  # ...and never logged
    assert KEY not in repr(remote) and KEY not in repr(remote.settings)


def test_key_is_redacted_in_any_log_line(caplog: pytest.LogCaptureFixture) -> None:
    RemoteTier(remote_settings("http://127.0.0.1:9"))
    caplog.set_level(logging.DEBUG)
    logging.getLogger("somewhere.else").debug("header Authorization: Bearer %s", KEY)
    assert KEY not in caplog.text and "Bearer ***" in caplog.text


async def test_key_from_environment_is_sent_and_redacted(
    loopback, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    env_key = "sk-from-env-5566778899"
    monkeypatch.setenv("TEST_REMOTE_KEY", env_key)

    async def ok(rec, writer):
        await send_json(writer, {"choices": [{"index": 0, "text": "x()", "finish_reason": "stop"}]})

    srv = await loopback(ok)
    caplog.set_level(1)
    s = RemoteSettings(enabled=True, provider="openai", base_url=srv.url, model="m",
                       api_key_env="TEST_REMOTE_KEY")
    remote = RemoteTier(s)
    try:
        await remote.complete(req(1), CancelToken())
        logging.getLogger("x").warning("oops %s", env_key)
    finally:
        await remote.aclose()
    assert srv.requests[0].headers["authorization"] == f"Bearer {env_key}"
    assert env_key not in caplog.text and env_key not in repr(remote)


@pytest.mark.parametrize("kw", [{"provider": "nope"}, {"base_url": "ftp://host"}])
async def test_bad_settings_make_the_tier_unavailable_not_a_crash(kw) -> None:
    settings = {"enabled": True, "base_url": "http://127.0.0.1:9", **kw}
    remote = RemoteTier(RemoteSettings(**settings))
    assert not remote.info().available and remote.info().detail
    router = Router(FixedLocalTier(), remote, RouterSettings())
    got = await router.complete(req(1), CancelToken())
    await router.aclose()
    assert got is not None and got.tier == "local"
