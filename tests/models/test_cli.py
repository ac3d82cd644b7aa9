"""`lsp-server models ...` end to end through `models.cli.main`."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

import pytest

from models.cli import main
from models.default_model import DEFAULT_MODEL_ID, default_entry
from models.gguf_info import read_gguf
from models.paths import config_file, models_dir
from models.registry import get_entry
from models.user_config import configured_model, set_local_model
from tests.models.ggufs import write_gguf
from tests.support.vocab import vocab_path


def _install(entry_id: str) -> Path:
    """Place a (small, stand-in) file under a registry entry's name."""
    entry = get_entry(entry_id)
    models_dir().mkdir(parents=True, exist_ok=True)
    return write_gguf(models_dir() / entry.filename)


def test_list_shows_available_and_installed(capsys):
    _install("starcoder2-3b-q4_k_m")
    write_gguf(models_dir() / "my-own.gguf")
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "codestral-22b-v0.1-q4_k_m" in out and "codegemma-2b-q4_k_m" in out
    assert "installed" in out and "my-own.gguf" in out
    assert f"* {DEFAULT_MODEL_ID}" in out
    assert "unknown (size/GGUF check only)" in out
    assert "RAM" in out


@pytest.mark.parametrize(
    ("vocab", "family"),
    [("deepseek-coder", "deepseek"), ("starcoder", "starcoder"), ("llama-spm", "none")],
)
def test_info_detects_the_template_of_real_vocabularies(capsys, vocab, family):
    path = vocab_path(vocab)
    rc = main(["info", str(path)])
    out = capsys.readouterr().out
    assert f"FIM template     │ {family}" in out
    assert rc == 1 and "vocabulary-only" in out  # shown, but flagged as unusable


def test_info_on_a_tiny_model(capsys, tiny_mistral_model):
    assert main(["info", str(tiny_mistral_model)]) == 0
    out = capsys.readouterr().out
    assert "FIM template     │ mistral" in out and "[SUFFIX]" in out
    assert "usable for completion" in out


def test_info_bad_file(tmp_path, capsys):
    bad = tmp_path / "junk.gguf"
    bad.write_bytes(b"not a model at all, just text" * 4)
    assert main(["info", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "junk.gguf" in err and "not a GGUF" in err


def test_verify_path_rm(capsys):
    path = _install("starcoder2-3b-q4_k_m")  # no sha256 in the registry: GGUF check only
    assert main(["verify", "starcoder2-3b-q4_k_m"]) == 0
    assert "GGUF ok" in capsys.readouterr().out
    assert main(["path", "starcoder2-3b-q4_k_m"]) == 0
    assert capsys.readouterr().out.strip() == str(path)
    assert main(["rm", "starcoder2-3b-q4_k_m"]) == 0
    assert not path.exists()
    assert main(["path", "starcoder2-3b-q4_k_m"]) == 1
    assert main(["rm", "starcoder2-3b-q4_k_m"]) == 1


def test_verify_detects_a_corrupt_default_model(capsys):
    entry = default_entry()
    models_dir().mkdir(parents=True)
    # Right size, wrong bytes: only the hash can tell.
    with (models_dir() / entry.filename).open("wb") as f:
        f.truncate(entry.size or 0)
    assert main(["verify"]) == 1
    assert "sha256 mismatch" in capsys.readouterr().out


def test_use_writes_the_config_and_keeps_the_rest(capsys):
    cfg = config_file()
    cfg.parent.mkdir(parents=True)
    cfg.write_text('# my settings\n[local]\nthreads = 4  # laptop\nmodel_path = "/x.gguf"\n\n'
                   '[remote]\nprovider = "mistral"\n')
    assert main(["use", "codegemma-2b-q4_k_m"]) == 0
    data = tomllib.loads(cfg.read_text())
    assert data["local"] == {"threads": 4, "model": "codegemma-2b-q4_k_m"}
    assert data["remote"] == {"provider": "mistral"}
    assert "# my settings" in cfg.read_text()
    assert configured_model() == "codegemma-2b-q4_k_m"
    assert main(["use", "qwen2.5-coder-3b-instruct-q4_k_m"]) == 0
    assert configured_model() == "qwen2.5-coder-3b-instruct-q4_k_m"
    assert "not installed yet" in capsys.readouterr().out


def test_use_without_config_and_with_odd_values(tmp_path):
    p = set_local_model('we"ird\\id', tmp_path / "c.toml")
    assert tomllib.loads(p.read_text())["local"]["model"] == 'we"ird\\id'


def test_use_unknown_id_and_broken_config(capsys):
    assert main(["use", "nope"]) == 1
    assert "unknown model id" in capsys.readouterr().err
    cfg = config_file()
    cfg.parent.mkdir(parents=True)
    cfg.write_text("[local\n")
    assert main(["use", "codegemma-2b-q4_k_m"]) == 1
    assert "cannot read the config file" in capsys.readouterr().err


def test_pull_offline_names_the_fix(capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["pull", "codegemma-2b-q4_k_m"]) == 1
    assert "offline" in capsys.readouterr().err


def test_pull_through_cli_from_loopback(capsys, monkeypatch, tmp_path):
    from tests.models.http_server import serve

    data = write_gguf(tmp_path / "src.gguf").read_bytes()
    entry = get_entry("deepseek-coder-1.3b-base-q4_k_m")
    url_path = f"/{entry.hub_repo}/resolve/main/{entry.hub_file}"
    with serve({url_path: data}) as srv:
        monkeypatch.setenv("HF_ENDPOINT", srv.base_url)
        assert main(["pull", entry.id, "--quiet"]) == 0
    path = models_dir() / entry.filename
    assert hashlib.sha256(path.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
    assert read_gguf(path).architecture == "llama"


def test_usage_errors_return_nonzero(capsys):
    assert main([]) == 2
    assert main(["frobnicate"]) == 2
    assert main(["--help"]) == 0


def test_fit_uses_ram_and_vram():
    from models.cli import fit_for
    from models.gpu import GpuDevice, GpuInfo

    small = get_entry("qwen2.5-coder-0.5b-instruct-q4_k_m")
    big = get_entry("codestral-22b-v0.1-q8_0")
    cpu = GpuInfo("0.3.36", False, "none")
    assert fit_for(small, ram=8 << 30, gpu=cpu).describe() == "RAM ok"
    assert fit_for(big, ram=8 << 30, gpu=cpu).describe().startswith("RAM no (needs ~")
    gpu = GpuInfo("0.3.36", True, "cuda", (GpuDevice("G", 12 << 30, 16 << 30),))
    assert fit_for(small, ram=None, gpu=gpu).vram == "all"
    assert fit_for(big, ram=None, gpu=gpu).vram == "partial"
    assert fit_for(small, ram=None, gpu=GpuInfo("0.3.36", True, "metal")).vram == "unknown"
