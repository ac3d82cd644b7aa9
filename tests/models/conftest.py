"""Every models test gets its own cache, models and config folders, and no hub settings."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LSP_SERVER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LSP_SERVER_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("LSP_SERVER_CONFIG_DIR", str(tmp_path / "config"))
    for var in ("HF_HUB_OFFLINE", "HF_ENDPOINT", "HF_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path
