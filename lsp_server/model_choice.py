"""Which GGUF file the local tier loads: an explicit path, a registry id, or the default model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lsp_server.config import Config
from models.default_model import ensure_default_model, ensure_model
from tiers.errors import LspServerError, ModelLoadError


def resolve_model(config: Config) -> Path | None:
    """The model file to load; None when there is none at all (the server still runs)."""
    local = config.local
    if local.model_path:
        return Path(local.model_path).expanduser()
    if local.model:
        try:
            path = ensure_model(local.model)
        except ModelLoadError:
            raise
        except LspServerError as exc:
            raise ModelLoadError(str(exc), user_message=exc.user_message) from exc
        if path is None:
            raise ModelLoadError(
                f"model {local.model} is not installed",
                user_message=f"Model {local.model} is not installed: run "
                f"`lsp-server models pull {local.model}`.",
            )
        return path
    return ensure_default_model()


def resolver_for(config: Config) -> Callable[[], Path | None]:
    """A resolver to run in the model's worker thread (assembly takes seconds)."""
    return lambda: resolve_model(config)
