"""Ignore rules: nested .gitignore files, the AI ignore file, secrets, and fixed defaults.

`IgnoreTree` answers "is this path ignored" the way git does (the deepest ignore file with a
matching pattern decides; an ignored directory hides everything below it). `ContextPolicy`
adds the privacy rules and is what every tier asks before a file's text may reach a model.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

import pathspec

from indexer.privacy import AI_IGNORE_FILE, is_secret_path

log = logging.getLogger(__name__)

# Directories never walked: VCS data, dependencies, virtual environments, caches, build output.
DEFAULT_EXCLUDED_DIRS: frozenset[str] = frozenset({
    ".git", ".hg", ".svn", ".bzr", "node_modules", "bower_components", "jspm_packages",
    ".venv", "venv", ".virtualenv", "virtualenv", "__pycache__", ".mypy_cache",
    ".pytest_cache", ".ruff_cache", ".tox", ".nox", ".hypothesis", ".eggs", ".gradle",
    ".idea", ".next", ".nuxt", ".svelte-kit", ".parcel-cache", ".turbo", ".cache",
    ".terraform", "build", "dist", "target", "out", "site-packages", ".pixi", ".direnv",
})
# Directories whose files are never context, whatever the ignore files say.
SECRET_DIRS: frozenset[str] = frozenset({".ssh", ".gnupg", ".aws", ".kube", ".docker"})

GITIGNORE = ".gitignore"
_SPEC_TTL_S = 2.0  # how long a compiled ignore file is trusted before its mtime is checked


def is_default_excluded_dir(name: str) -> bool:
    return name in DEFAULT_EXCLUDED_DIRS or name.endswith(".egg-info")


def _read_patterns(path: Path) -> list[str] | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read().splitlines()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("cannot read ignore file %s: %s", path, exc)
        return None


def compile_patterns(lines: Iterable[str]) -> pathspec.GitIgnoreSpec | None:
    lines = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        return None
    try:
        return pathspec.GitIgnoreSpec.from_lines(lines)
    except (ValueError, TypeError) as exc:  # a malformed pattern must not stop the index
        log.warning("ignoring malformed ignore patterns: %s", exc)
        return None


class _CachedSpec:
    __slots__ = ("checked", "mtimes", "spec")

    def __init__(self, spec: pathspec.GitIgnoreSpec | None, mtimes: tuple, checked: float):
        self.spec = spec
        self.mtimes = mtimes
        self.checked = checked


class IgnoreTree:
    """The ignore files under `root`, compiled on first use and cached per directory.

    `names` are the ignore files read in each directory (.gitignore, and the AI ignore file for
    the context policy). With `ttl` set, a cached directory re-checks its files' mtimes at most
    once per `ttl` seconds, so edits to ignore files are seen by a long-running server.
    """

    def __init__(self, root: Path, names: Sequence[str] = (GITIGNORE,), ttl: float | None = None):
        self.root = root
        self.names = tuple(names)
        self.ttl = ttl
        self._specs: dict[str, _CachedSpec] = {}
        self._chains: dict[str, tuple[tuple[int, pathspec.GitIgnoreSpec], ...]] = {}
        self._lock = threading.Lock()
        self._info_exclude = self._load_info_exclude() if GITIGNORE in self.names else None

    def _load_info_exclude(self) -> pathspec.GitIgnoreSpec | None:
        lines = _read_patterns(self.root / ".git" / "info" / "exclude")
        return compile_patterns(lines) if lines else None

    def _mtimes(self, directory: Path) -> tuple:
        out = []
        for name in self.names:
            try:
                out.append(os.stat(directory / name).st_mtime_ns)
            except OSError:
                out.append(None)
        return tuple(out)

    def spec_for(self, rel_dir: str) -> pathspec.GitIgnoreSpec | None:
        """The combined patterns of the ignore files in one directory ("" is the root)."""
        now = time.monotonic()
        cached = self._specs.get(rel_dir)
        if cached is not None and (self.ttl is None or now - cached.checked < self.ttl):
            return cached.spec
        directory = self.root / rel_dir if rel_dir else self.root
        mtimes = self._mtimes(directory)
        if cached is not None and cached.mtimes == mtimes:
            cached.checked = now
            return cached.spec
        lines: list[str] = []
        for name, mtime in zip(self.names, mtimes, strict=True):
            if mtime is not None:
                lines.extend(_read_patterns(directory / name) or ())
        spec = compile_patterns(lines)
        with self._lock:
            self._specs[rel_dir] = _CachedSpec(spec, mtimes, now)
        return spec

    def _chain(self, rel_dir: str) -> tuple[tuple[int, pathspec.GitIgnoreSpec], ...]:
        """(prefix length, spec) of the ignore files from `rel_dir` up to the root, deepest
        first. Cached per directory when ignore files are never re-checked (a walk)."""
        if self.ttl is None:
            chain = self._chains.get(rel_dir)
            if chain is not None:
                return chain
        parent = rel_dir.rpartition("/")[0] if rel_dir else None
        own = self.spec_for(rel_dir)
        chain = ((len(rel_dir) + 1 if rel_dir else 0, own),) if own is not None else ()
        if parent is not None:
            chain += self._chain(parent)
        if self.ttl is None:
            self._chains[rel_dir] = chain
        return chain

    def _decide(self, rel: str, is_dir: bool) -> bool | None:
        """Whether the ignore files of `rel`'s ancestors ignore it (None: no pattern matched)."""
        candidate = rel + "/" if is_dir else rel
        # The deepest directory's file is checked first; its verdict wins.
        for cut, spec in self._chain(rel.rpartition("/")[0]):
            result = spec.check_file(candidate[cut:]).include
            if result is not None:
                return result
        if self._info_exclude is not None:
            result = self._info_exclude.check_file(candidate).include
            if result is not None:
                return result
        return None

    def ignored_entry(self, rel: str, is_dir: bool) -> bool:
        """For a walk that never enters ignored directories: only the entry itself is checked."""
        return bool(self._decide(rel, is_dir))

    def ignored(self, rel: str) -> bool:
        """For any path: ignored itself or below an ignored directory (git's rule)."""
        parts = rel.split("/")
        for i in range(1, len(parts)):
            if self._decide("/".join(parts[:i]), True):
                return True
        return bool(self._decide(rel, False))


class ContextPolicy:
    """May this file's text be used as context or sent to a model?

    False for files matched by .gitignore, by the AI ignore file (gitignore syntax, nested files
    too), by the secret-name defaults, by `extra_excludes` (gitignore syntax), or lying under a
    secret directory such as `.ssh`. The defaults cannot be turned off. Cheap and thread-safe:
    compiled ignore files are cached and re-checked at most every two seconds.
    """

    def __init__(self, root: Path, extra_excludes: Sequence[str] = ()) -> None:
        self.root = Path(os.path.abspath(root))
        self._tree = IgnoreTree(self.root, (GITIGNORE, AI_IGNORE_FILE), ttl=_SPEC_TTL_S)
        self._extra = compile_patterns(extra_excludes)
        self._extra_names = tuple(p for p in extra_excludes if "/" not in p.strip("/"))

    def relative(self, path: str | os.PathLike[str]) -> str | None:
        """The workspace-relative posix path, or None when the path is outside the root."""
        p = Path(path)
        if not p.is_absolute():
            p = self.root / p
        try:
            rel = Path(os.path.normpath(p)).relative_to(self.root)
        except ValueError:
            return None
        return rel.as_posix()

    def allows(self, path: str | os.PathLike[str]) -> bool:
        p = PurePosixPath(Path(path).as_posix())
        if is_secret_path(p, self._extra_names):
            return False
        if any(part in SECRET_DIRS for part in p.parts):
            return False
        rel = self.relative(path)
        if rel is None:
            return True  # outside the workspace: only the name rules apply
        if rel in ("", "."):
            return False
        if self._extra is not None and self._extra.match_file(rel):
            return False
        try:
            return not self._tree.ignored(rel)
        except (ValueError, TypeError) as exc:  # a malformed path: refuse rather than leak
            log.debug("context policy refused %s: %s", rel, exc)
            return False
