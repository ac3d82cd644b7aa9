"""Checksums, verification stamps, and the lock + temp-file + rename dance of installing a file.

A model file is only ever written under a temporary name in its final directory and renamed
into place after its sha256 matched, so no partial or unverified file appears under the final
name. After a verified install a sidecar `NAME.sha256` stamp records the hash with the file's
size and mtime, so later starts check the stamp (a `stat`) instead of re-hashing gigabytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import filelock

from tiers.errors import ModelLoadError

log = logging.getLogger(__name__)

CHUNK = 4 << 20
LOCK_TIMEOUT_S = 30 * 60  # another process may be downloading gigabytes under the same lock

Progress = Callable[[int, int], None]  # (bytes done, bytes total; 0 = unknown)


def sha256_file(path: Path, *, progress: Progress | None = None) -> str:
    h = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
    return h.hexdigest()


def stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def write_stamp(path: Path, sha256: str) -> None:
    """`sha256sum`-compatible first line; the second ties the stamp to this very file."""
    st = path.stat()
    text = f"{sha256}  {path.name}\n# size={st.st_size} mtime_ns={st.st_mtime_ns}\n"
    tmp = stamp_path(path).with_name(stamp_path(path).name + f".{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, stamp_path(path))


def read_stamp(path: Path) -> tuple[str, int, int] | None:
    """(sha256, size, mtime_ns) from the stamp, or None when absent or unreadable."""
    try:
        lines = stamp_path(path).read_text(encoding="utf-8").splitlines()
        sha = lines[0].split()[0].lower()
        fields = dict(kv.split("=", 1) for kv in lines[1].lstrip("# ").split())
        return sha, int(fields["size"]), int(fields["mtime_ns"])
    except (OSError, IndexError, ValueError, KeyError, UnicodeDecodeError):
        return None


def is_stamped(path: Path, sha256: str, size: int | None = None) -> bool:
    """Whether `path` was verified against `sha256` and is unchanged since (no hashing)."""
    try:
        st = path.stat()
    except OSError:
        return False
    stamp = read_stamp(path)
    if stamp is None or (size is not None and st.st_size != size):
        return False
    return stamp == (sha256.lower(), st.st_size, st.st_mtime_ns)


def verify_file(
    path: Path,
    sha256: str | None,
    size: int | None,
    *,
    progress: Progress | None = None,
) -> bool:
    """Whether `path` has the expected size and hash; hashes at most once per file version.

    With no known sha256, only the size is checked (when known).
    """
    try:
        st = path.stat()
    except OSError:
        return False
    if size is not None and st.st_size != size:
        return False
    if not sha256:
        return True
    if is_stamped(path, sha256, size):
        return True
    actual = sha256_file(path, progress=progress)
    if actual != sha256.lower():
        return False
    with contextlib.suppress(OSError):  # a read-only models dir still verifies, just slower
        write_stamp(path, actual)
    return True


def remove_with_stamp(path: Path) -> bool:
    """Delete a model file and its stamp; whether the model file existed."""
    existed = path.exists()
    for p in (path, stamp_path(path)):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
    return existed


@contextlib.contextmanager
def install_lock(
    dest_dir: Path, filename: str, *, timeout: float = LOCK_TIMEOUT_S,
) -> Iterator[None]:
    """One writer per model file across processes (two servers starting at once)."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(dest_dir / f".{filename}.lock"))
    try:
        lock.acquire(timeout=timeout)
    except filelock.Timeout:
        raise ModelLoadError(
            f"{dest_dir / filename}: another process has held the install lock for "
            f"{timeout:.0f} s; if none is running, delete {dest_dir / ('.' + filename + '.lock')}",
        ) from None
    try:
        yield
    finally:
        lock.release()


def remove_stale_temps(dest_dir: Path, filename: str) -> None:
    """Temp files of earlier runs that died mid-write (call under `install_lock`)."""
    for p in dest_dir.glob(f".{filename}.*.tmp"):
        with contextlib.suppress(OSError):
            p.unlink()


def new_temp(dest_dir: Path, filename: str) -> Path:
    """A fresh, exclusively created temp file beside the final name (same filesystem)."""
    fd, name = tempfile.mkstemp(dir=dest_dir, prefix=f".{filename}.", suffix=".tmp")
    try:
        if os.name == "posix":  # mkstemp makes 0600; a model file is ordinary data
            os.fchmod(fd, 0o644)
    finally:
        os.close(fd)
    return Path(name)


def ensure_disk_space(dest_dir: Path, needed: int, what: str) -> None:
    try:
        free = shutil.disk_usage(dest_dir).free
    except OSError:
        return
    if free < needed:
        raise ModelLoadError(
            f"{what}: needs {needed / 1e9:.2f} GB in {dest_dir} but only {free / 1e9:.2f} GB is "
            "free; free some space or set LSP_SERVER_MODELS_DIR to a larger disk",
        )


def fsync_file(path: Path) -> None:
    with path.open("rb+") as f:
        os.fsync(f.fileno())


def commit(tmp: Path, final: Path, sha256: str | None) -> Path:
    """Rename a verified temp file into place (atomic on one filesystem) and stamp it."""
    fsync_file(tmp)
    os.replace(tmp, final)
    if os.name == "posix":  # make the rename itself durable
        with contextlib.suppress(OSError):
            fd = os.open(final.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    if sha256:
        write_stamp(final, sha256)
    else:
        with contextlib.suppress(FileNotFoundError):
            stamp_path(final).unlink()
    return final
