"""End-to-end fixtures: the real server as a subprocess, driven over LSP by pytest-lsp."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.support.default_model import default_model_path


@pytest.fixture(scope="session")
def real_model() -> Path:
    return default_model_path()


def server_env(tmp: Path) -> dict[str, str]:
    """An environment that keeps the user's own config and cache out of the test."""
    env = dict(os.environ)
    env["LSP_SERVER_CONFIG_DIR"] = str(tmp / "config")
    env["LSP_SERVER_CACHE_DIR"] = str(tmp / "cache")
    env.pop("MISTRAL_API_KEY", None)
    env.pop("OPENAI_API_KEY", None)
    return env


SERVER_COMMAND = [sys.executable, "-m", "lsp_server.cli", "--stdio", "--log-level", "debug"]


def accept_registrations(client) -> None:
    """Answer the server's `client/registerCapability` (file watchers) as an editor does."""
    from lsprotocol import types as lsp

    @client.feature(lsp.CLIENT_REGISTER_CAPABILITY)
    def register(params: lsp.RegistrationParams) -> None:
        client.registrations = [*getattr(client, "registrations", []), *params.registrations]
