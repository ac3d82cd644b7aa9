"""`lsp-server doctor`: each check reports, none raises, remote probing stays on loopback."""

from __future__ import annotations

import dataclasses

import pytest

from models.doctor import collect, exit_code, print_checks, render
from models.paths import index_dir
from tests.models.ggufs import write_gguf
from tests.models.http_server import serve
from tiers.settings import LocalSettings, RemoteSettings, RouterSettings


def by_name(checks):
    return {c.name: c for c in checks}


def test_local_model_file_and_template(tmp_path, tiny_qwen_model):
    checks = by_name(collect(LocalSettings(model_path=str(tiny_qwen_model)), RemoteSettings(),
                             RouterSettings()))
    assert checks["python"].status == "ok"
    assert checks["llama-cpp-python"].status == "ok"
    assert checks["model"].status == "ok" and str(tiny_qwen_model) in checks["model"].detail
    assert checks["template"].detail.startswith("qwen")
    assert checks["remote"].detail.startswith("not configured")


def test_bad_model_file_fails_with_its_name(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"nope" * 10)
    checks = collect(LocalSettings(model_path=str(bad)), RemoteSettings(), RouterSettings())
    model = by_name(checks)["model"]
    assert model.status == "fail" and "broken.gguf" in model.detail
    assert exit_code(checks) == 1


def test_family_override_and_prefix_only(tmp_path):
    plain = write_gguf(tmp_path / "plain.gguf")
    checks = by_name(collect(LocalSettings(model_path=str(plain)), RemoteSettings(),
                             RouterSettings()))
    assert checks["template"].status == "warn"
    checks = by_name(collect(LocalSettings(model_path=str(plain), family="codestral"),
                             RemoteSettings(), RouterSettings()))
    assert checks["template"].detail.startswith("mistral")


def test_default_model_not_installed_says_how(monkeypatch):
    import models.doctor as doctor

    monkeypatch.setattr(doctor, "locate_parts", lambda e: ([], list(e.pypi.parts)))
    model = by_name(collect(LocalSettings(), RemoteSettings(), RouterSettings()))["model"]
    assert model.status == "fail" and "pip install" in model.detail


def test_index_size_is_reported():
    index_dir().mkdir(parents=True)
    (index_dir() / "a.db").write_bytes(b"x" * 2_000_000)
    checks = by_name(collect(LocalSettings(enabled=False), RemoteSettings(), RouterSettings()))
    assert "2.0 MB in 1 files" in checks["index"].detail
    assert checks["model"].detail == "local tier disabled"


REMOTE = RemoteSettings(enabled=True, provider="openai", base_url="", api_key_env="TEST_KEY_VAR")


def test_remote_reachable_on_loopback(monkeypatch):
    monkeypatch.setenv("TEST_KEY_VAR", "secret-value")
    with serve({"/v1": b"{}"}) as srv:
        remote = dataclasses.replace(REMOTE, base_url=srv.base_url + "/v1")
        checks = collect(LocalSettings(enabled=False), remote, RouterSettings())
        assert len(srv.requests) == 1
    c = by_name(checks)
    assert c["remote"].status == "ok" and "HTTP 200" in c["remote"].detail
    assert "remote key" not in c
    assert "secret-value" not in render(checks)


def test_remote_unreachable_and_missing_key(monkeypatch):
    monkeypatch.delenv("TEST_KEY_VAR", raising=False)
    remote = dataclasses.replace(REMOTE, base_url="http://127.0.0.1:9/v1")
    c = by_name(collect(LocalSettings(enabled=False), remote, RouterSettings()))
    assert c["remote"].status == "fail" and "unreachable" in c["remote"].detail
    assert c["remote key"].status == "warn"


def test_offline_skips_the_remote():
    with serve({}) as srv:
        remote = dataclasses.replace(REMOTE, base_url=srv.base_url)
        c = by_name(collect(LocalSettings(enabled=False), remote, RouterSettings(offline=True)))
        assert srv.requests == []
    assert "offline" in c["remote"].detail


def test_render_and_rich_output(capsys):
    checks = collect(LocalSettings(enabled=False), RemoteSettings(), RouterSettings())
    text = render(checks)
    assert text.count("\n") == len(checks) - 1
    assert "[  ok] python" in text
    print_checks(checks)
    assert "editors" in capsys.readouterr().out


@pytest.mark.model
def test_default_model_check(tmp_path):
    from models.assemble import parts_installed
    from models.default_model import default_entry, ensure_default_model

    if not parts_installed(default_entry()):
        pytest.skip("default-model parts not installed")
    ensure_default_model()
    model = by_name(collect(LocalSettings(), RemoteSettings(), RouterSettings()))["model"]
    assert model.status == "ok" and "sha256 verified" in model.detail
