"""Which GGUF file the local tier loads: an explicit path, a registry id, or the default model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lsp_server.config import Config
from models.default_model import ensure_default_model
from models.paths import models_dir
from models.registry import get_entry
from tiers.errors import LspServerError, ModelLoadError


def resolve_model(config: Config) -> Path | None:
    """The model file to load; None when there is none at all (the server still runs)."""
    local = config.local
    if local.model_path:
        return Path(local.model_path).expanduser()
    if local.model:
        try:
            entry = get_entry(local.model)
        except LspServerError as exc:
            raise ModelLoadError(str(exc), user_message=exc.user_message) from exc
        path = models_dir() / entry.filename
        if not path.is_file():
            raise ModelLoadError(
                f"model {local.model} is not installed ({path})",
                user_message=f"Model {local.model} is not installed: run "
                f"`lsp-server models pull {local.model}`.",
            )
        return path
    return ensure_default_model()


def resolver_for(config: Config) -> Callable[[], Path | None]:
    """A resolver to run in the model's worker thread (assembly takes seconds)."""
    return lambda: resolve_model(config)
