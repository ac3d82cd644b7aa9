"""Walk a workspace: ignore files and defaults respected, bad inputs skipped and logged.

Every problem (a symlink loop, an unreadable directory or file, a file deleted mid-walk,
binary or oversized content, invalid UTF-8) is logged with its reason and skipped; none stops
the walk.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from indexer.ignore import IgnoreTree, compile_patterns, is_default_excluded_dir

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 1_000_000
SNIFF_BYTES = 8192


class Cancel(Protocol):
    """A threading.Event, or anything else that says when to stop."""

    def is_set(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class WalkEntry:
    path: Path  # absolute
    rel: str  # workspace-relative, posix separators
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class Source:
    """A file's content ready to parse."""

    data: bytes  # valid UTF-8 (invalid sequences replaced)
    digest: int  # xxh3_64 of the bytes on disk
    size: int
    replaced: bool  # invalid UTF-8 was replaced


class SkipReason(str):
    """Why a file was not indexed (a str, for logs and statistics)."""


def is_binary(head: bytes) -> bool:
    return b"\0" in head


def read_source(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Source | SkipReason:
    """Read a file for indexing, or say why it cannot be (never raises for I/O problems)."""
    import xxhash  # imported here so the walk alone does not need it

    try:
        with open(path, "rb") as fh:
            raw = fh.read(max_bytes + 1)
    except FileNotFoundError:
        return SkipReason("deleted")
    except IsADirectoryError:
        return SkipReason("not a file")
    except PermissionError:
        return SkipReason("unreadable")
    except OSError as exc:
        return SkipReason(f"unreadable: {exc.strerror or exc}")
    if len(raw) > max_bytes:
        return SkipReason("oversized")
    if is_binary(raw[:SNIFF_BYTES]):
        return SkipReason("binary")
    digest = xxhash.xxh3_64_intdigest(raw)
    try:
        raw.decode("utf-8")
        return Source(raw, digest, len(raw), False)
    except UnicodeDecodeError:
        data = raw.decode("utf-8", "replace").encode("utf-8")
        return Source(data, digest, len(raw), True)


def walk(
    root: Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    extra_excludes: Sequence[str] = (),
    include: Callable[[str], bool] | None = None,
    sniff_binary: bool = True,
    cancel: Cancel | None = None,
    skipped: Callable[[str, str], None] | None = None,
) -> Iterator[WalkEntry]:
    """Yield the workspace's files, sorted per directory.

    `include(rel)` filters by name before any I/O on the file (e.g. known languages only).
    `skipped(rel, reason)` is told about every file or directory left out for a problem.
    """
    root = Path(os.path.abspath(root))
    tree = IgnoreTree(root)
    extra = compile_patterns(extra_excludes)

    def skip(rel: str, reason: str) -> None:
        log.info("skipped %s: %s", rel or ".", reason)
        if skipped is not None:
            skipped(rel, reason)

    try:
        root_stat = os.stat(root)
    except OSError as exc:
        skip("", f"unreadable root: {exc.strerror or exc}")
        return
    visited: set[tuple[int, int]] = {(root_stat.st_dev, root_stat.st_ino)}
    stack: list[tuple[Path, str]] = [(root, "")]
    while stack:
        if cancel is not None and cancel.is_set():
            return
        directory, rel_dir = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except FileNotFoundError:
            skip(rel_dir, "deleted during the walk")
            continue
        except OSError as exc:
            skip(rel_dir, f"unreadable directory: {exc.strerror or exc}")
            continue
        if rel_dir and any(e.name == "pyvenv.cfg" for e in entries):
            log.debug("skipped %s: virtual environment", rel_dir)
            continue
        subdirs: list[tuple[Path, str]] = []
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            try:
                is_dir = entry.is_dir()  # follows symlinks
                is_link = entry.is_symlink()
            except OSError as exc:
                skip(rel, f"cannot stat: {exc.strerror or exc}")
                continue
            if is_dir:
                if is_default_excluded_dir(entry.name):
                    continue
                if tree.ignored_entry(rel, True) or (
                    extra is not None and extra.match_file(rel + "/")
                ):
                    continue
                try:
                    st = entry.stat()
                except OSError as exc:
                    skip(rel, f"cannot stat: {exc.strerror or exc}")
                    continue
                key = (st.st_dev, st.st_ino)
                if key in visited:
                    skip(rel, "symlink loop or directory seen already")
                    continue
                if is_link and not _inside(root, Path(entry.path)):
                    skip(rel, "symlink to outside the workspace")
                    continue
                visited.add(key)
                subdirs.append((Path(entry.path), rel))
                continue
            if include is not None and not include(rel):
                continue
            if tree.ignored_entry(rel, False) or (extra is not None and extra.match_file(rel)):
                continue
            try:
                st = entry.stat()
            except FileNotFoundError:
                skip(rel, "deleted during the walk" if not is_link else "broken symlink")
                continue
            except OSError as exc:
                skip(rel, f"cannot stat: {exc.strerror or exc}")
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            if st.st_size > max_bytes:
                skip(rel, f"oversized ({st.st_size} bytes)")
                continue
            if is_link and not _inside(root, Path(entry.path)):
                skip(rel, "symlink to outside the workspace")
                continue
            if sniff_binary:
                reason = _sniff(Path(entry.path))
                if reason:
                    skip(rel, reason)
                    continue
            yield WalkEntry(Path(entry.path), rel, st.st_size, st.st_mtime_ns)
        # Popped from the end: reversed keeps the overall order alphabetical.
        stack.extend(reversed(subdirs))


def _sniff(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except FileNotFoundError:
        return "deleted during the walk"
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"
    if is_binary(head):
        return "binary"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the sniff boundary
            log.info("invalid UTF-8 in %s (decoded with replacement)", path)
    return ""


def _inside(root: Path, path: Path) -> bool:
    try:
        Path(os.path.realpath(path)).relative_to(os.path.realpath(root))
        return True
    except ValueError:
        return False
