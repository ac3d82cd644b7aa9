"""`lsp-server models list|pull|info|verify|rm|use|path`."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from models.assemble import locate_parts
from models.default_model import DEFAULT_MODEL_ID
from models.download import part_path, pull
from models.gguf_info import GgufInfo, check_gguf, read_gguf
from models.gpu import GpuInfo, gpu_info
from models.hardware import available_ram
from models.integrity import remove_with_stamp, sha256_file, write_stamp
from models.paths import models_dir
from models.registry import ModelEntry, RegistryError, get_entry, load_registry
from models.user_config import ConfigError, configured_model, set_local_model
from tiers.errors import LspServerError, ModelLoadError

GB = 1e9


def _console(stderr: bool = False) -> Console:
    # Wide enough for ids and paths when piped (tests, `| less`); a terminal keeps its width.
    c = Console(stderr=stderr)
    if not c.is_terminal:
        c = Console(stderr=stderr, width=200)
    return c


@dataclass(frozen=True)
class Fit:
    ram: bool
    vram: str  # "", "all", "partial", "no"
    need_bytes: int

    def describe(self) -> str:
        ram = "RAM ok" if self.ram else f"RAM no (needs ~{self.need_bytes / GB:.1f} GB)"
        return ram + (f", VRAM {self.vram}" if self.vram else "")


def fit_for(entry: ModelEntry, *, ram: int | None, gpu: GpuInfo) -> Fit:
    """Whether `entry` fits this machine: weights + KV cache + buffers vs memory."""
    need = max(int(entry.min_ram_gb * GB), int(entry.bytes * 1.15) + (300 << 20))
    ram_ok = ram is None or need <= ram
    vram = ""
    if gpu.offload and gpu.free_vram is not None:
        free = gpu.free_vram
        vram = "all" if need <= free * 0.9 else ("partial" if free > (1 << 30) else "no")
    elif gpu.offload:
        vram = "unknown"
    return Fit(ram_ok, vram, need)


def _size(entry: ModelEntry) -> str:
    return f"{entry.size / GB:.2f} GB" if entry.size else f"~{entry.approx_size / GB:.1f} GB"


def _status(entry: ModelEntry, dest: Path) -> str:
    if (dest / entry.filename).is_file():
        return "installed"
    found, missing = locate_parts(entry)
    if found and not missing:
        return "PyPI parts (assembled on first use)"
    if found:
        return f"PyPI parts incomplete ({len(missing)} missing)"
    if part_path(dest / entry.filename).exists():
        return "partial download"
    return ""


def _default_id() -> str:
    return configured_model() or DEFAULT_MODEL_ID


def cmd_list(args: argparse.Namespace) -> int:
    out = _console()
    dest = models_dir()
    reg = load_registry()
    gpu = gpu_info()
    ram = available_ram()
    default = _default_id()
    t = Table(title=f"Models ({dest})", title_justify="left")
    for col in ("id", "params", "quant", "size", "family", "status", "fits", "suits", "sha256"):
        t.add_column(col, no_wrap=col in ("id", "size"))
    for e in reg.values():
        status = _status(e, dest)
        if args.installed and status != "installed":
            continue
        mark = "* " if e.id == default else "  "
        t.add_row(
            mark + e.id, e.params, e.quantization, _size(e), e.family,
            status or "available", fit_for(e, ram=ram, gpu=gpu).describe(),
            "/".join(e.hardware), "known" if e.sha256 else "unknown (size/GGUF check only)",
        )
    known = {e.filename for e in reg.values()}
    others = sorted(p for p in dest.glob("*.gguf") if p.name not in known) if dest.is_dir() else []
    for p in others:
        t.add_row("  " + p.name, "", "", f"{p.stat().st_size / GB:.2f} GB", "", "local file",
                  "", "", "")
    out.print(t)
    mem = f"{ram / GB:.1f} GB RAM available" if ram else "RAM unknown"
    out.print(f"* = default model ({default}).  {mem}; GPU: {gpu.describe()}")
    if any(not e.sha256 for e in reg.values()):
        out.print("sha256 'unknown': the registry has no checksum for that file yet; a download "
                  "is checked for its size and GGUF header, and its hash is recorded.")
    return 0


def cmd_pull(args: argparse.Namespace) -> int:
    entry = get_entry(args.id)
    path = pull(entry, progress=not args.quiet, offline=args.offline)
    _console().print(f"{entry.id}: {path}")
    return 0


def _info_table(info: GgufInfo) -> Table:
    t = Table(show_header=False, title=str(info.path), title_justify="left")
    t.add_column("key", style="bold")
    t.add_column("value")
    params = f"{info.parameter_count / 1e9:.2f} B" if info.parameter_count else "-"
    rows = [
        ("architecture", info.architecture or "-"),
        ("name", info.name or "-"),
        ("quantization", info.quantization or "-"),
        ("context length", str(info.context_length or "-")),
        ("layers", str(info.n_layers or "-")),
        ("parameters", params),
        ("tensors", str(info.tensor_count)),
        ("vocabulary", f"{info.vocab_size} tokens ({info.tokenizer_model or '?'})"),
        ("FIM template", info.template.family
         + ("" if info.template.supports_fim else " (no FIM tokens: prefix-only completion)")),
        ("FIM tokens found", " ".join(info.fim_tokens) or "-"),
        ("file size", f"{info.file_size:,} bytes"),
        ("GGUF version", str(info.version)),
    ]
    for k, v in rows:
        t.add_row(k, v)
    return t


def _resolve_file(arg: str) -> Path:
    p = Path(arg).expanduser()
    if p.exists() or arg.endswith(".gguf") or "/" in arg:
        return p
    try:
        return models_dir() / get_entry(arg).filename
    except RegistryError:
        return p


def cmd_info(args: argparse.Namespace) -> int:
    out = _console()
    path = _resolve_file(args.file)
    info = read_gguf(path)
    out.print(_info_table(info))
    try:
        check_gguf(path)
        out.print("[green]usable for completion[/green]")
    except ModelLoadError as e:
        out.print(f"[yellow]not usable for completion:[/yellow] {e}")
        return 1
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    out = _console()
    dest = models_dir()
    entries = [get_entry(args.id)] if args.id else list(load_registry().values())
    bad = 0
    checked = 0
    for e in entries:
        path = dest / e.filename
        if not path.is_file():
            if args.id:
                out.print(f"{e.id}: not installed ({path})")
                return 1
            continue
        checked += 1
        size = path.stat().st_size
        if e.size is not None and size != e.size:
            out.print(f"[red]{e.id}: wrong size[/red] {size:,} bytes, expected {e.size:,}: "
                      f"run `lsp-server models rm {e.id}` and pull it again")
            bad += 1
            continue
        actual = sha256_file(path)  # always re-hash: this is the explicit check
        if e.sha256 and actual != e.sha256:
            out.print(f"[red]{e.id}: sha256 mismatch[/red] {actual}, expected {e.sha256}: "
                      f"run `lsp-server models rm {e.id}` and pull it again")
            bad += 1
            continue
        try:
            read_gguf(path)
        except ModelLoadError as err:
            out.print(f"[red]{e.id}: {err}[/red]")
            bad += 1
            continue
        write_stamp(path, actual)
        how = "sha256 ok" if e.sha256 else f"GGUF ok, sha256 {actual} (no reference)"
        out.print(f"[green]{e.id}: {how}[/green]")
    if not checked:
        out.print(f"no registry models installed in {dest}")
    return 1 if bad else 0


def cmd_rm(args: argparse.Namespace) -> int:
    entry = get_entry(args.id)
    path = models_dir() / entry.filename
    had_part = part_path(path).exists()
    part_path(path).unlink(missing_ok=True)
    if not remove_with_stamp(path) and not had_part:
        _console(stderr=True).print(f"{entry.id}: not installed ({path})")
        return 1
    _console().print(f"removed {path}")
    if entry.pypi and locate_parts(entry)[0]:
        _console().print(f"(its PyPI parts are still installed; it would be re-assembled on "
                         f"use. Uninstall them with: pip uninstall "
                         f"{' '.join(p.distribution for p in entry.pypi.parts)})")
    return 0


def cmd_use(args: argparse.Namespace) -> int:
    entry = get_entry(args.id)
    cfg = set_local_model(entry.id)
    out = _console()
    out.print(f"default model: {entry.id} (written to {cfg})")
    status = _status(entry, models_dir())
    if status != "installed" and not status.startswith("PyPI parts ("):
        out.print(f"it is not installed yet: run `lsp-server models pull {entry.id}`")
    return 0


def cmd_path(args: argparse.Namespace) -> int:
    entry = get_entry(args.id)
    path = models_dir() / entry.filename
    if not path.is_file():
        _console(stderr=True).print(f"{entry.id}: not installed (it would be at {path})")
        return 1
    print(path)
    return 0


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="lsp-server models", description="Manage local models.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("list", help="installed and available models")
    p.add_argument("--installed", action="store_true", help="only installed models")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("pull", help="download (or assemble from PyPI parts) and verify a model")
    p.add_argument("id")
    p.add_argument("--offline", action="store_true", help="never connect (assembly only)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_pull)
    p = sub.add_parser("info", help="architecture, quantization, context and FIM tokens of a GGUF")
    p.add_argument("file", help="a .gguf file, or a registry id")
    p.set_defaults(func=cmd_info)
    p = sub.add_parser("verify", help="re-check the sha256 of installed models")
    p.add_argument("id", nargs="?")
    p.set_defaults(func=cmd_verify)
    p = sub.add_parser("rm", help="delete an installed model")
    p.add_argument("id")
    p.set_defaults(func=cmd_rm)
    p = sub.add_parser("use", help="make a model the default (user config [local] model)")
    p.add_argument("id")
    p.set_defaults(func=cmd_use)
    p = sub.add_parser("path", help="print an installed model's file path")
    p.add_argument("id")
    p.set_defaults(func=cmd_path)
    return ap


def main(argv: list[str]) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as e:  # --help or a usage error
        return int(e.code or 0) if isinstance(e.code, int) else 2
    try:
        return int(args.func(args))
    except (LspServerError, ConfigError) as e:
        _console(stderr=True).print(f"[red]error:[/red] {e}", highlight=False)
        return 1
    except KeyboardInterrupt:
        _console(stderr=True).print("interrupted; a download resumes where it stopped")
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
