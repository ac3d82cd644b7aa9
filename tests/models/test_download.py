"""`models pull` against a loopback HTTP server: resume, checksum, atomic rename, offline."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from models.download import part_path, pull
from models.integrity import is_stamped
from models.registry import ModelEntry, get_entry
from tests.models.ggufs import write_gguf
from tests.models.http_server import Faults, serve
from tiers.errors import ModelLoadError


@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    # A valid GGUF of ~70 KB: big enough to cut mid-way, small enough to be instant.
    path = tmp_path_factory.mktemp("gguf") / "m.gguf"
    return write_gguf(path, n_embd=128, n_layer=2, tokens=[f"t{i}" for i in range(64)]).read_bytes()


def entry_for(data: bytes, *, sha: str | None = "auto", size: int | None = -1) -> ModelEntry:
    base = get_entry("starcoder2-3b-q4_k_m")
    return dataclasses.replace(
        base,
        id="test-model",
        hub_repo="test-org/Test-GGUF",
        hub_file="test-model.gguf",
        filename="test-model.gguf",
        sha256=hashlib.sha256(data).hexdigest() if sha == "auto" else sha,
        size=len(data) if size == -1 else size,
        pypi=None,
    )


URL_PATH = "/test-org/Test-GGUF/resolve/main/test-model.gguf"


def no_sleep(_s: float) -> None:
    pass


def test_pull_downloads_verifies_and_stamps(model_bytes, tmp_path, monkeypatch):
    entry = entry_for(model_bytes)
    with serve({URL_PATH: model_bytes}) as srv:
        monkeypatch.setenv("HF_ENDPOINT", srv.base_url)
        path = pull(entry, tmp_path / "m", progress=False)
        assert srv.requests == [(URL_PATH, None)]
        # Installed and verified: a second pull makes no request.
        assert pull(entry, tmp_path / "m", progress=False) == path
        assert len(srv.requests) == 1
    assert path == tmp_path / "m" / "test-model.gguf"
    assert path.read_bytes() == model_bytes
    assert is_stamped(path, entry.sha256 or "", len(model_bytes))
    assert not part_path(path).exists()


def test_resume_after_cut_uses_range_and_never_exposes_final_name(
    model_bytes, tmp_path, monkeypatch,
):
    entry = entry_for(model_bytes)
    final = tmp_path / "m" / entry.filename
    seen: list[tuple[int, bool]] = []

    def progress(done: int, total: int) -> None:
        seen.append((done, final.exists()))

    cut = len(model_bytes) // 3
    with serve({URL_PATH: model_bytes}, Faults(cut_after=cut, cuts=2)) as srv:
        monkeypatch.setenv("HF_ENDPOINT", srv.base_url)
        path = pull(entry, tmp_path / "m", progress=progress, sleep=no_sleep)
    assert path.read_bytes() == model_bytes
    # First request whole, then two ranged resumes, each from where the last one stopped.
    assert srv.requests == [
        (URL_PATH, None), (URL_PATH, f"bytes={cut}-"), (URL_PATH, f"bytes={2 * cut}-"),
    ]
    assert seen and not any(exists for _, exists in seen)
    assert seen[-1][0] == len(model_bytes)


def test_interrupted_download_leaves_only_part_then_resumes(model_bytes, tmp_path, monkeypatch):
    entry = entry_for(model_bytes)
    dest = tmp_path / "m"
    cut = len(model_bytes) // 2
    with serve({URL_PATH: model_bytes}, Faults(cut_after=cut, cuts=1)) as srv:
        monkeypatch.setenv("HF_ENDPOINT", srv.base_url)
        with pytest.raises(ModelLoadError, match=r"test-model\.gguf.*failed after 0 retries"):
            pull(entry, dest, progress=False, retries=0, sleep=no_sleep)
    assert not (dest / entry.filename).exists()
    assert part_path(dest / entry.filename).stat().st_size == cut
    # A later run resumes from the .part file.
    with serve({URL_PATH: model_bytes}) as srv:
        monkeypatch.setenv("HF_ENDPOINT", srv.base_url)
        path = pull(entry, dest, progress=False)
        assert srv.requests == [(URL_PATH, f"bytes={cut}-")]
    assert path.read_bytes() == model_bytes


def test_server_ignoring_range_restarts_from_zero(model_bytes, tmp_path, monkeypatch):
    entry = entry_for(model_bytes)
    faults = Faults(cut_after=1000, cuts=1, ignore_range=True)
    with serve({URL_PATH: model_bytes}, faults) as srv:
        monkeypatch.setenv("HF_ENDPOINT", srv.base_url)
        path = pull(entry, tmp_path / "m", progress=False, sleep=no_sleep)
    assert path.read_bytes() == model_bytes
    assert len(srv.requests) == 2


def test_checksum_mismatch_is_rejected_and_nothing_installed(model_bytes, tmp_path, monkeypatch):
    tampered = bytearray(model_bytes)
    tampered[-1] ^= 0xFF
    entry = entry_for(model_bytes)  # expects the original hash
    dest = tmp_path / "m"
    with serve({URL_PATH: bytes(tampered)}) as srv:
        monkeypatch.setenv("HF_ENDPOINT", srv.base_url)
        with pytest.raises(ModelLoadError, match=r"test-model\.gguf: checksum mismatch"):
            pull(entry, dest, progress=False)
    assert not (dest / entry.filename).exists()
    assert not part_path(dest / entry.filename).exists()


def test_unknown_sha_still_rejects_a_non_gguf_body(tmp_path, monkeypatch):
    html = b"<html>rate limited</html>" * 10
    entry = entry_for(html, sha=None, size=None)
    with serve({URL_PATH: html}) as srv:
        monkeypatch.setenv("HF_ENDPOINT", srv.base_url)
        with pytest.raises(ModelLoadError, match="not a usable GGUF"):
            pull(entry, tmp_path / "m", progress=False)
    assert not (tmp_path / "m" / entry.filename).exists()


def test_retries_give_up_when_no_byte_arrives(model_bytes, tmp_path, monkeypatch):
    entry = entry_for(model_bytes)
    delays: list[float] = []
    with serve({URL_PATH: model_bytes}, Faults(cut_after=0, cuts=10)) as srv:
        monkeypatch.setenv("HF_ENDPOINT", srv.base_url)
        with pytest.raises(ModelLoadError, match="failed after 3 retries"):
            pull(entry, tmp_path / "m", progress=False, retries=3, sleep=delays.append)
        assert len(srv.requests) == 4
    assert delays == [1.0, 2.0, 4.0]


def test_transient_statuses_are_retried_with_backoff(model_bytes, tmp_path, monkeypatch):
    entry = entry_for(model_bytes)
    delays: list[float] = []
    with serve({URL_PATH: model_bytes}, Faults(statuses=[503, 429])) as srv:
        monkeypatch.setenv("HF_ENDPOINT", srv.base_url)
        path = pull(entry, tmp_path / "m", progress=False, backoff_s=0.5, sleep=delays.append)
    assert path.read_bytes() == model_bytes
    assert delays == [0.5, 1.0]


@pytest.mark.parametrize(("status", "hint"), [(404, "not found"), (401, "HF_TOKEN")])
def test_client_errors_fail_fast_with_a_hint(model_bytes, tmp_path, monkeypatch, status, hint):
    entry = entry_for(model_bytes)
    with serve({URL_PATH: model_bytes}, Faults(statuses=[status])) as srv:
        monkeypatch.setenv("HF_ENDPOINT", srv.base_url)
        with pytest.raises(ModelLoadError, match=hint):
            pull(entry, tmp_path / "m", progress=False, sleep=no_sleep)
        assert len(srv.requests) == 1


def test_size_disagreeing_with_registry_is_rejected(model_bytes, tmp_path, monkeypatch):
    entry = entry_for(model_bytes, size=len(model_bytes) + 10)
    with serve({URL_PATH: model_bytes}) as srv:
        monkeypatch.setenv("HF_ENDPOINT", srv.base_url)
        with pytest.raises(ModelLoadError, match="registry expects"):
            pull(entry, tmp_path / "m", progress=False)


@pytest.mark.parametrize("how", ["env", "argument"])
def test_offline_makes_no_connection(model_bytes, tmp_path, monkeypatch, how):
    entry = entry_for(model_bytes)
    with serve({URL_PATH: model_bytes}) as srv:
        monkeypatch.setenv("HF_ENDPOINT", srv.base_url)
        if how == "env":
            monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        with pytest.raises(ModelLoadError, match="offline"):
            pull(entry, tmp_path / "m", progress=False, offline=how == "argument")
        assert srv.requests == []


def test_offline_still_returns_an_installed_model(model_bytes, tmp_path, monkeypatch):
    entry = entry_for(model_bytes)
    dest = tmp_path / "m"
    dest.mkdir()
    (dest / entry.filename).write_bytes(model_bytes)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert pull(entry, dest, progress=False) == dest / entry.filename


def test_url_uses_hf_endpoint(monkeypatch):
    entry = get_entry("qwen2.5-coder-0.5b-instruct-q4_k_m")
    assert entry.url().startswith("https://huggingface.co/Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF/")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9/")
    assert entry.url() == (
        "http://127.0.0.1:9/Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF/resolve/main/"
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
    )


def test_rich_progress_bar_runs(model_bytes, tmp_path, monkeypatch, capsys):
    entry = entry_for(model_bytes)
    with serve({URL_PATH: model_bytes}) as srv:
        monkeypatch.setenv("HF_ENDPOINT", srv.base_url)
        pull(entry, tmp_path / "m", progress=True)
    assert "downloading test-model" in capsys.readouterr().err
