"""Where models, indexes and config live (platformdirs, so each OS gets its usual place)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "lsp-server"


def cache_dir() -> Path:
    """Root of the user cache; `LSP_SERVER_CACHE_DIR` overrides it (tests, CI, portable setups)."""
    override = os.environ.get("LSP_SERVER_CACHE_DIR")
    return Path(override) if override else Path(platformdirs.user_cache_dir(APP))


def models_dir() -> Path:
    override = os.environ.get("LSP_SERVER_MODELS_DIR")
    return Path(override) if override else cache_dir() / "models"


def index_dir() -> Path:
    return cache_dir() / "index"


def config_dir() -> Path:
    override = os.environ.get("LSP_SERVER_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir(APP))


def config_file() -> Path:
    return config_dir() / "config.toml"
