"""The `[local]` keys of the user's config file that `lsp-server models use` sets.

The file is edited line by line rather than re-serialized, so the user's comments and layout
survive; the result is re-parsed to make sure it says what was meant.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

from models.paths import config_file
from tiers.errors import LspServerError

_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\s*(#.*)?$")
_ARRAY_HEADER = re.compile(r"^\s*\[\[")


class ConfigError(LspServerError):
    """The user config file cannot be read or updated."""


def read_user_config(path: Path | None = None) -> dict[str, Any]:
    """The parsed config file ({} when there is none)."""
    p = path or config_file()
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{p}: cannot read the config file: {e}") from e


def configured_model(path: Path | None = None) -> str:
    """`[local] model` (a registry id), or "" when unset or unreadable."""
    try:
        local = read_user_config(path).get("local", {})
    except ConfigError:
        return ""
    value = local.get("model", "") if isinstance(local, dict) else ""
    return value if isinstance(value, str) else ""


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped) + '"'


def _edit(text: str, key: str, value: str, drop: tuple[str, ...]) -> str:
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines)
                  if (m := _HEADER.match(ln)) and not _ARRAY_HEADER.match(ln)
                  and m.group(1).strip("\"'") == "local"), None)
    new_line = f"{key} = {_toml_string(value)}"
    if start is None:
        if lines and lines[-1].strip():
            lines.append("")
        lines += ["[local]", new_line]
        return "\n".join(lines) + "\n"
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")),
               len(lines))
    key_re = re.compile(rf"^\s*{re.escape(key)}\s*=")
    drop_re = [re.compile(rf"^\s*{re.escape(d)}\s*=") for d in drop]
    replaced = False
    out = lines[: start + 1]
    for ln in lines[start + 1:end]:
        if key_re.match(ln):
            if not replaced:
                out.append(new_line)
                replaced = True
        elif any(r.match(ln) for r in drop_re):
            out.append("# " + ln.lstrip() + "  # replaced by `lsp-server models use`")
        else:
            out.append(ln)
    if not replaced:
        out.insert(start + 1, new_line)
    out += lines[end:]
    return "\n".join(out) + "\n"


def set_local_model(model_id: str, path: Path | None = None) -> Path:
    """Record `model_id` as `[local] model`; a `model_path` there is commented out (it would
    take precedence). Returns the config file's path."""
    p = path or config_file()
    try:
        text = p.read_text(encoding="utf-8") if p.exists() else ""
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: cannot read the config file: {e}") from e
    if text:
        read_user_config(p)  # refuse to edit a file that is already broken
    new = _edit(text, "model", model_id, drop=("model_path",))
    try:
        parsed = tomllib.loads(new)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: could not update [local] model automatically ({e}); "
                          f'add `model = "{model_id}"` under [local] by hand') from e
    local = parsed.get("local", {})
    if not isinstance(local, dict) or local.get("model") != model_id or local.get("model_path"):
        raise ConfigError(f"{p}: could not update [local] model automatically; "
                          f'add `model = "{model_id}"` under [local] by hand')
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + f".{os.getpid()}.tmp")
    tmp.write_text(new, encoding="utf-8")
    os.replace(tmp, p)
    return p
