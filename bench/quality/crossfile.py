"""Cross-file completion sets, built from pinned PyPI source distributions.

Two ways to cut a line that uses a name defined in another module of the same project:

- `crossfile-py` (line start): the first line of a file that uses a name imported from the
  project (`from .models import Request` ... `Request(...)` later). The line is emptied up to
  its indentation and the cursor put there; the reference is the line's text. Guessing what the
  line is about is most of the difficulty, which no context supplies.
- `crossfile-py-api` (at the API, as CrossCodeEval cuts its samples): the first use in a file of
  a member of an imported project class or module (`util.scale(...)`, `Color.RED`) whose name
  the code above does not show. The cursor goes right after the dot; the reference is the
  rest of the line. Only the other file says which members exist.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.quality.data import DataError, Sample

# Pinned, pure-Python projects whose modules import from one another.
PROJECTS: tuple[tuple[str, str], ...] = (
    ("requests", "2.32.3"),
    ("click", "8.1.7"),
    ("marshmallow", "3.21.3"),
    ("httpx", "0.27.2"),
    ("jinja2", "3.1.4"),
    ("werkzeug", "3.0.3"),
    ("rich", "13.7.1"),
    ("docutils", "0.21.2"),
    ("alembic", "1.13.2"),
)
SET_NAME = "crossfile-py"  # cursor at the start of the line
API_SET_NAME = "crossfile-py-api"  # cursor at the cross-file member
SET_NAMES = (SET_NAME, API_SET_NAME)
MAX_API_SAMPLES_PER_FILE = 3  # spread the set over files
MIN_LINE_CHARS = 8
_SKIP_PARTS = {"docs", "doc", "examples", "build", ".tox"}


def fetch(work: Path, projects=PROJECTS) -> list[Path]:
    """Download (once) and unpack each sdist; the unpacked project folders."""
    sdists, src = work / "sdists", work / "src"
    sdists.mkdir(parents=True, exist_ok=True)
    src.mkdir(parents=True, exist_ok=True)
    roots = []
    for name, version in projects:
        root = src / f"{name}-{version}"
        if not root.is_dir():
            archive = _download(name, version, sdists)
            with tarfile.open(archive) as tar:
                tar.extractall(src, filter="data")
            unpacked = [p for p in src.iterdir() if p.name.lower() == root.name.lower()]
            if not unpacked:
                raise DataError(f"{archive.name} did not unpack to {root.name}/")
            if unpacked[0] != root:
                unpacked[0].rename(root)
        roots.append(root)
    return roots


def _download(name: str, version: str, dest: Path) -> Path:
    def found() -> list[Path]:
        return [p for p in dest.glob("*.tar.gz")
                if p.name.lower().startswith(f"{name.lower()}-{version}.")]

    if not found():
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
               "--no-binary", ":all:", f"{name}=={version}", "-d", str(dest)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not found():
            raise DataError(f"pip download {name}=={version} failed: {proc.stderr.strip()}")
    return found()[0]


@dataclass(frozen=True)
class _Module:
    name: str  # dotted
    path: Path
    tree: ast.Module
    top_names: frozenset[str]
    classes: dict[str, frozenset[str]]  # top-level class -> names its body defines


def _module_name(rel: Path) -> str:
    parts = list(rel.with_suffix("").parts)
    if parts and parts[0] == "src":
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _top_names(body: list[ast.stmt]) -> frozenset[str]:
    names: set[str] = set()
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return frozenset(names)


def _classes(tree: ast.Module) -> dict[str, frozenset[str]]:
    return {node.name: _top_names(node.body) for node in tree.body
            if isinstance(node, ast.ClassDef)}


def _modules(root: Path) -> dict[str, _Module]:
    mods: dict[str, _Module] = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if _SKIP_PARTS & set(rel.parts) or rel.name in ("setup.py", "conftest.py"):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        name = _module_name(rel)
        mods[name] = _Module(name, path, tree, _top_names(tree.body), _classes(tree))
    return mods


def _resolve(mod: _Module, node: ast.ImportFrom) -> str | None:
    if node.level:
        base = mod.name.split(".")
        is_pkg = mod.path.name == "__init__.py"
        base = base if is_pkg else base[:-1]
        base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
        return ".".join([*base, node.module] if node.module else base)
    return node.module


def _imported(mod: _Module, mods: dict[str, _Module]) -> dict[str, tuple[str, bool, str]]:
    """Local name -> (defining module, is_module, name there) for names imported from the
    project."""
    out: dict[str, tuple[str, bool, str]] = {}
    for node in mod.tree.body:
        if not isinstance(node, ast.ImportFrom):
            continue
        target = _resolve(mod, node)
        if not target or target == mod.name:
            continue
        for alias in node.names:
            local = alias.asname or alias.name
            sub = f"{target}.{alias.name}"
            if sub in mods and sub != mod.name:
                out[local] = (sub, True, alias.name)
            elif (target in mods and alias.name in mods[target].top_names
                  and alias.name not in mod.top_names):
                out[local] = (target, False, alias.name)
    return out


def _first_uses(mod: _Module, imported: dict[str, tuple[str, bool, str]], mods
                ) -> dict[str, int]:
    """Line (1-based) of the first use of each imported name outside import statements."""
    first: dict[str, int] = {}
    for node in ast.walk(mod.tree):
        name = None
        if isinstance(node, ast.Name) and node.id in imported and not imported[node.id][1]:
            name = node.id
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
              and node.value.id in imported and imported[node.value.id][1]):
            target = mods[imported[node.value.id][0]]
            if node.attr in target.top_names:
                name = node.value.id
        if name is not None and (name not in first or node.lineno < first[name]):
            first[name] = node.lineno
    return first


def samples_for(root: Path) -> Iterator[Sample]:
    """The samples of one unpacked project, in (file, line) order."""
    mods = _modules(root)
    for mod in sorted(mods.values(), key=lambda m: m.path):
        imported = _imported(mod, mods)
        if not imported:
            continue
        text = mod.path.read_text(encoding="utf-8")
        lines = text.split("\n")
        seen: set[int] = set()
        for _name, lineno in sorted(_first_uses(mod, imported, mods).items(),
                                    key=lambda kv: kv[1]):
            if lineno in seen or lineno < 1 or lineno > len(lines):
                continue
            seen.add(lineno)
            line = lines[lineno - 1]
            body = line.strip()
            if len(body) < MIN_LINE_CHARS or body.startswith(("#", "import ", "from ")):
                continue
            indent = line[: len(line) - len(line.lstrip())]
            prefix = "\n".join(lines[: lineno - 1]) + ("\n" if lineno > 1 else "") + indent
            suffix = "\n" + "\n".join(lines[lineno:])
            rel = mod.path.relative_to(root).as_posix()
            yield Sample(SET_NAME, f"{root.name}/{rel}:{lineno}", "python", rel, prefix,
                         suffix, body, prefix, suffix, root=str(root))


def _members(imported: dict[str, tuple[str, bool, str]], mods: dict[str, _Module]
             ) -> dict[str, frozenset[str]]:
    """Local name -> the members another file defines for it (a module's top-level names, a
    class's body names)."""
    out: dict[str, frozenset[str]] = {}
    for local, (target, is_module, name) in imported.items():
        mod = mods[target]
        if is_module:
            out[local] = mod.top_names
        elif name in mod.classes:
            out[local] = mod.classes[name]
    return out


def api_samples_for(root: Path) -> Iterator[Sample]:
    """Samples cut at the first use of another file's member (see the module docstring)."""
    mods = _modules(root)
    for mod in sorted(mods.values(), key=lambda m: m.path):
        members = _members(_imported(mod, mods), mods)
        if not members:
            continue
        text = mod.path.read_text(encoding="utf-8")
        lines = text.split("\n")
        uses: dict[str, tuple[int, int]] = {}  # name -> its first (line, byte column)
        for node in ast.walk(mod.tree):
            name = node.id if isinstance(node, ast.Name) else (
                node.attr if isinstance(node, ast.Attribute) else None)
            if name is not None:
                at = (node.lineno, node.end_col_offset or 0)
                uses[name] = min(uses.get(name, at), at)
        found: list[tuple[int, int, str]] = []  # (line, column in characters, member)
        for node in ast.walk(mod.tree):
            if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.attr in members.get(node.value.id, ())):
                continue
            if uses[node.attr] != (node.lineno, node.end_col_offset):
                continue  # the code above the cursor already shows the name
            if node.end_lineno != node.lineno:
                continue
            raw = lines[node.lineno - 1].encode("utf-8")
            col = len(raw[: node.end_col_offset].decode("utf-8")) - len(node.attr)
            found.append((node.lineno, col, node.attr))
        for lineno, col, _attr in sorted(found)[:MAX_API_SAMPLES_PER_FILE]:
            line = lines[lineno - 1]
            if line[:col].rstrip()[-1:] != ".":
                continue
            prefix = "\n".join(lines[: lineno - 1]) + ("\n" if lineno > 1 else "") + line[:col]
            suffix = "\n" + "\n".join(lines[lineno:])
            reference = line[col:].rstrip()
            rel = mod.path.relative_to(root).as_posix()
            yield Sample(API_SET_NAME, f"{root.name}/{rel}:{lineno}:{col}", "python", rel,
                         prefix, suffix, reference, prefix, suffix, root=str(root))


def build_set(work: Path, name: str = SET_NAME) -> list[Sample]:
    """Every sample of one cross-file set over the pinned projects (downloading the sdists on
    first use)."""
    if name not in SET_NAMES:
        raise DataError(f"unknown cross-file set {name!r}")
    make = samples_for if name == SET_NAME else api_samples_for
    out: list[Sample] = []
    for root in fetch(work):
        out.extend(make(root))
    return out
