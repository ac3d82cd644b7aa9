"""Models shipped on PyPI in parts: assembly, verification stamps, a wrong part detected."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import threading
import uuid
from pathlib import Path

import pytest

import models.integrity
from models.assemble import ensure_assembled, find_part, parts_installed
from models.default_model import DEFAULT_MODEL_ID, default_entry, ensure_default_model
from models.download import pull
from models.gguf_info import check_gguf
from models.integrity import is_stamped, stamp_path
from models.registry import ModelEntry, PartRef, PypiParts, get_entry
from tests.models.ggufs import write_gguf
from tiers.errors import ModelLoadError

N_PARTS = 3


def _fake_parts(site: Path, data: bytes, prefix: str, n: int = N_PARTS) -> PypiParts:
    """Installed-looking part packages `<prefix>_partN/data/partNN.bin` under `site`."""
    step = -(-len(data) // n)
    refs = []
    for i in range(1, n + 1):
        pkg = site / f"{prefix}_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(data[(i - 1) * step:i * step])
        refs.append(PartRef(f"{prefix}-part{i}", f"{prefix}_part{i}", f"data/part{i:02d}.bin"))
    return PypiParts(version="1.0", parts=tuple(refs))


@pytest.fixture
def model_data(tmp_path: Path) -> bytes:
    return write_gguf(tmp_path / "src.gguf", n_embd=64).read_bytes()


@pytest.fixture
def parted(tmp_path: Path, model_data: bytes, monkeypatch: pytest.MonkeyPatch):
    """(entry, site folder) with the parts installed on sys.path under a unique name."""
    site = tmp_path / "site"
    prefix = "fakemodel_" + uuid.uuid4().hex[:8]
    pypi = _fake_parts(site, model_data, prefix)
    monkeypatch.syspath_prepend(str(site))
    entry = dataclasses.replace(
        get_entry(DEFAULT_MODEL_ID),
        id="fake-model",
        filename="fake-model.gguf",
        size=len(model_data),
        sha256=hashlib.sha256(model_data).hexdigest(),
        pypi=pypi,
    )
    return entry, site


def test_assembles_verifies_and_stamps(parted, model_data, tmp_path):
    entry, _ = parted
    assert parts_installed(entry)
    dest = tmp_path / "models"
    path = ensure_assembled(entry, dest)
    assert path == dest / "fake-model.gguf"
    assert path.read_bytes() == model_data
    assert is_stamped(path, entry.sha256 or "", entry.size)
    check_gguf(path)
    assert sorted(p.name for p in dest.iterdir()) == [
        ".fake-model.gguf.lock", "fake-model.gguf", "fake-model.gguf.sha256",
    ]


def test_later_starts_use_the_stamp_not_the_hash(parted, tmp_path, monkeypatch):
    entry, _ = parted
    path = ensure_assembled(entry, tmp_path / "models")

    def no_hashing(*_a, **_k):
        raise AssertionError("re-hashed a stamped file")

    monkeypatch.setattr(models.integrity, "sha256_file", no_hashing)
    assert ensure_assembled(entry, tmp_path / "models") == path


def test_changed_file_is_rebuilt(parted, model_data, tmp_path):
    entry, _ = parted
    path = ensure_assembled(entry, tmp_path / "models")
    assert path is not None
    with path.open("r+b") as f:  # same size, one byte flipped, newer mtime
        f.seek(100)
        f.write(bytes([model_data[100] ^ 1]))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert ensure_assembled(entry, tmp_path / "models") == path
    assert path.read_bytes() == model_data


def test_wrong_part_is_detected_and_nothing_installed(parted, tmp_path):
    entry, site = parted
    assert entry.pypi is not None
    bad = site / entry.pypi.parts[1].module / "data" / "part02.bin"
    raw = bytearray(bad.read_bytes())
    raw[0] ^= 0xFF
    bad.write_bytes(bytes(raw))
    dest = tmp_path / "models"
    with pytest.raises(ModelLoadError, match=r"fake-model\.gguf: assembled .* sha256") as exc:
        ensure_assembled(entry, dest)
    assert "reinstall" in str(exc.value)
    assert not (dest / "fake-model.gguf").exists()
    assert not list(dest.glob("*.tmp"))


def test_truncated_part_is_detected_before_writing(parted, tmp_path):
    entry, site = parted
    assert entry.pypi is not None
    bad = site / entry.pypi.parts[0].module / "data" / "part01.bin"
    bad.write_bytes(bad.read_bytes()[:-7])
    with pytest.raises(ModelLoadError, match="add up to"):
        ensure_assembled(entry, tmp_path / "models")
    assert not (tmp_path / "models").exists()


def test_missing_part_names_the_package(parted, tmp_path):
    entry, site = parted
    assert entry.pypi is not None
    missing = entry.pypi.parts[2]
    (site / missing.module / "__init__.py").unlink()
    (site / missing.module / "data" / "part03.bin").unlink()
    (site / missing.module / "data").rmdir()
    (site / missing.module).rmdir()
    assert find_part(missing) is None
    with pytest.raises(ModelLoadError, match=missing.distribution):
        ensure_assembled(entry, tmp_path / "models")


def test_not_installed_gives_none(tmp_path):
    entry = dataclasses.replace(
        default_entry(),
        pypi=PypiParts("1.0", (PartRef("nope-part1", "nope_" + uuid.uuid4().hex, "x.bin"),)),
    )
    assert ensure_assembled(entry, tmp_path / "models") is None


def test_pull_assembles_from_parts_without_network(parted, model_data, tmp_path, monkeypatch):
    entry, _ = parted
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens: must not be used
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = pull(entry, tmp_path / "models", progress=False)
    assert path.read_bytes() == model_data


def test_concurrent_starts_assemble_once(parted, model_data, tmp_path):
    entry, _ = parted
    dest = tmp_path / "models"
    results: list[Path | None] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            results.append(ensure_assembled(entry, dest))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results == [dest / "fake-model.gguf"] * 4
    assert (dest / "fake-model.gguf").read_bytes() == model_data
    assert not list(dest.glob("*.tmp"))


@pytest.mark.model
def test_real_default_model_assembles(tmp_path):
    entry: ModelEntry = default_entry()
    if not parts_installed(entry):
        pytest.skip("default-model parts not installed (pip install 'lsp-server[default-model]')")
    path = ensure_default_model(dest_dir=tmp_path)
    assert path is not None and path.stat().st_size == 491_400_064
    assert stamp_path(path).read_text().split()[0] == entry.sha256
    info = check_gguf(path)
    assert (info.architecture, info.quantization) == ("qwen2", "Q4_K_M")
    assert info.template.family == "qwen"
    assert info.context_length == 32768
    assert ensure_default_model(dest_dir=tmp_path) == path


def test_ensure_model_by_id(tmp_path):
    from models.default_model import ensure_model
    from models.registry import RegistryError

    entry = get_entry("starcoder2-3b-q4_k_m")  # no PyPI parts, no sha256
    assert ensure_model(entry.id, dest_dir=tmp_path) is None
    write_gguf(tmp_path / entry.filename)
    assert ensure_model(entry.id, dest_dir=tmp_path) == tmp_path / entry.filename
    with pytest.raises(RegistryError):
        ensure_model("no-such-model", dest_dir=tmp_path)
