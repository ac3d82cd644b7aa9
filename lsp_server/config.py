"""Typed configuration: dataclasses with defaults, filled from (in increasing priority) the user
config file, `initializationOptions` and `workspace/configuration`.

Every value is checked against its field's type; a bad one produces a warning and keeps the
previous value, never an exception. Secrets (`remote.api_key`) are only taken from the user's
own config file or the environment, never from the editor or workspace.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from models.paths import config_file
from tiers.settings import LocalSettings, RemoteSettings, RouterSettings

log = logging.getLogger(__name__)

SECTION = "lspServer"  # the workspace/configuration section and the VS Code settings prefix


@dataclass
class CompletionSettings:
    enabled: bool = True
    inline: bool = True  # answer textDocument/inlineCompletion
    classic: bool = True  # answer textDocument/completion with one AI item
    debounce_ms: int = -1  # -1 = adaptive (from the typing rate), otherwise fixed
    max_debounce_ms: int = 250
    allow_in_comments: bool = False
    allow_in_strings: bool = True
    max_chars_right: int = 12  # skip when more non-closing text than this is right of the cursor


@dataclass
class ContextSettings:
    index: bool = True  # index the workspace and use it for context
    budget_tokens: int = 512
    exclude: list[str] = field(default_factory=list)  # extra gitignore-style patterns


@dataclass
class Config:
    completion: CompletionSettings = field(default_factory=CompletionSettings)
    local: LocalSettings = field(default_factory=LocalSettings)
    remote: RemoteSettings = field(default_factory=RemoteSettings)
    router: RouterSettings = field(default_factory=RouterSettings)
    context: ContextSettings = field(default_factory=ContextSettings)
    log_level: str = "info"


# Keys that only the user's own config file (or the environment) may set.
_USER_ONLY = {("remote", "api_key"), ("remote", "api_key_env")}
_LOG_LEVELS = {"trace", "debug", "info", "warning", "error"}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _coerce(value: Any, typ: Any, where: str, warnings: list[str]) -> tuple[bool, Any]:
    """Check/convert a value to a field type; (False, None) with a warning when it cannot."""
    if typ is bool:
        if isinstance(value, bool):
            return True, value
    elif typ is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return True, value
        if isinstance(value, float) and value.is_integer():
            return True, int(value)
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            return True, int(value)
    elif typ is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return True, float(value)
    elif typ is str:
        if isinstance(value, str):
            return True, value
    elif typ == list[str] and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return True, list(value)
    warnings.append(f"{where}: invalid value {value!r} (expected {getattr(typ, '__name__', typ)})")
    return False, None


def _merge(target: Any, data: Mapping[str, Any], path: str, source: str, warnings: list[str]):
    hints = get_type_hints(type(target))
    names = {f.name for f in dataclasses.fields(target)}
    for raw_key, value in data.items():
        key = _snake(str(raw_key))
        where = f"{path}{key}" if path else key
        if key not in names:
            warnings.append(f"{where}: unknown setting (from {source})")
            continue
        current = getattr(target, key)
        if dataclasses.is_dataclass(current):
            if isinstance(value, Mapping):
                _merge(current, value, f"{where}.", source, warnings)
            else:
                warnings.append(f"{where}: expected a table of settings, got {value!r}")
            continue
        if source != "user config file" and (path.rstrip("."), key) in _USER_ONLY:
            warnings.append(f"{where}: ignored from {source}; set it in {config_file()}")
            continue
        ok, coerced = _coerce(value, hints[key], where, warnings)
        if ok:
            setattr(target, key, coerced)


def _validate(cfg: Config, warnings: list[str]) -> None:
    """Range checks that types cannot express; a bad value goes back to its default."""
    defaults = Config()
    checks = [
        ("local", "threads", lambda v: 0 <= v <= 256),
        ("local", "context_size", lambda v: 256 <= v <= 131072),
        ("local", "max_tokens", lambda v: 1 <= v <= 4096),
        ("local", "max_tokens_multiline", lambda v: 1 <= v <= 4096),
        ("local", "gpu_layers", lambda v: v >= -1),
        ("local", "time_budget_ms", lambda v: 0 <= v <= 60000),
        ("local", "prefix_lines", lambda v: 1 <= v <= 10000),
        ("local", "suffix_lines", lambda v: 0 <= v <= 10000),
        ("local", "middle_lines", lambda v: 0 <= v <= 1000),
        ("completion", "debounce_ms", lambda v: -1 <= v <= 5000),
        ("completion", "max_debounce_ms", lambda v: 0 <= v <= 5000),
        ("context", "budget_tokens", lambda v: 0 <= v <= 32768),
        ("router", "strategy", lambda v: v in ("local-only", "auto", "remote-preferred")),
        ("remote", "provider", lambda v: v in ("mistral", "openai", "llamacpp")),
        ("remote", "endpoint", lambda v: v in ("fim", "chat")),
        ("remote", "inline_timeout_ms", lambda v: 50 <= v <= 60000),
        ("remote", "edit_timeout_ms", lambda v: 100 <= v <= 600000),
    ]
    for section, key, ok in checks:
        obj = getattr(cfg, section)
        if not ok(getattr(obj, key)):
            default = getattr(getattr(defaults, section), key)
            value = getattr(obj, key)
            warnings.append(f"{section}.{key}: {value!r} is out of range; using {default!r}")
            setattr(obj, key, default)
    if cfg.log_level.lower() not in _LOG_LEVELS:
        warnings.append(f"log_level: {cfg.log_level!r} is not one of {sorted(_LOG_LEVELS)}")
        cfg.log_level = "info"


def read_user_file(path: Path | None = None) -> tuple[dict[str, Any], list[str]]:
    """The user config file as a dict (empty when absent), and any warning about it."""
    path = path or config_file()
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh), []
    except FileNotFoundError:
        return {}, []
    except (OSError, tomllib.TOMLDecodeError) as exc:
        return {}, [f"{path}: not read ({exc}); using defaults"]


def build_config(
    *layers: tuple[str, Mapping[str, Any] | None],
    user_file: Path | None = None,
) -> tuple[Config, list[str]]:
    """Defaults, then the user file, then each (source, settings) layer in order."""
    cfg = Config()
    data, warnings = read_user_file(user_file)
    if data:
        _merge(cfg, _unwrap(data), "", "user config file", warnings)
    for source, layer in layers:
        if layer:
            if isinstance(layer, Mapping):
                _merge(cfg, _unwrap(layer), "", source, warnings)
            else:
                kind = type(layer).__name__
                warnings.append(f"{source}: expected an object of settings, got {kind}")
    _resolve_secrets(cfg)
    _validate(cfg, warnings)
    for w in warnings:
        log.warning("config: %s", w)
    return cfg, warnings


def _unwrap(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """Accept settings at top level or under the `lspServer` section."""
    inner = data.get(SECTION)
    return inner if isinstance(inner, Mapping) else data


def _resolve_secrets(cfg: Config) -> None:
    env = cfg.remote.api_key_env or _default_key_env(cfg.remote.provider)
    if not cfg.remote.api_key and env:
        cfg.remote.api_key = os.environ.get(env, "")


def _default_key_env(provider: str) -> str:
    return {"mistral": "MISTRAL_API_KEY", "openai": "OPENAI_API_KEY"}.get(provider, "")
