"""Real vocabulary-only GGUF files taken from the llama-cpp-python source distribution.

The sdist vendors llama.cpp, whose `models/ggml-vocab-<name>.gguf` files hold the tokenizers of
real model families (qwen2, llama-spm, starcoder, deepseek-coder, ...) without any weights.
Tests use them to check family detection against real token lists and to build tiny models
(`tests.support.tiny_gguf`). A requested file is extracted once into `.cache/vocab/`.

Where the sdist comes from, first match wins:
1. the `LSP_SERVER_LLAMA_SDIST` environment variable (path to the `.tar.gz`);
2. `.cache/sdist/llama_cpp_python-*.tar.gz` under the project root (CI downloads it there);
3. `/tmp/dl/llama_cpp_python-*.tar.gz`.
Without one, `vocab_path` skips the calling test with the reason.
"""

from __future__ import annotations

import os
import re
import tarfile
import tempfile
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SDIST_ENV = "LSP_SERVER_LLAMA_SDIST"
SDIST_GLOB = "llama_cpp_python-*.tar.gz"
SDIST_DIRS = (PROJECT_ROOT / ".cache" / "sdist", Path("/tmp/dl"))
VOCAB_CACHE = PROJECT_ROOT / ".cache" / "vocab"

_MEMBER_RE = re.compile(r"^[^/]+/vendor/llama\.cpp/models/ggml-vocab-([A-Za-z0-9_.-]+)\.gguf$")
_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


class VocabNotFoundError(LookupError):
    """The sdist holds no vocabulary of that name."""


def _version_key(path: Path) -> tuple[int, ...]:
    nums = re.findall(r"\d+", path.name)
    return tuple(int(n) for n in nums)


def find_sdist() -> Path | None:
    """The llama-cpp-python sdist to read vocabularies from, or None if there is none."""
    env = os.environ.get(SDIST_ENV, "").strip()
    if env:
        path = Path(env).expanduser()
        return path if path.is_file() else None
    for folder in SDIST_DIRS:
        found = sorted(folder.glob(SDIST_GLOB), key=_version_key) if folder.is_dir() else []
        if found:
            return found[-1]  # newest version when several were downloaded
    return None


def _require_sdist() -> Path:
    sdist = find_sdist()
    if sdist is None:
        env = os.environ.get(SDIST_ENV, "").strip()
        where = f"{SDIST_ENV}={env!r} is not a file" if env else (
            f"set {SDIST_ENV}, or run `pip download --no-deps --no-binary :all: "
            f"llama-cpp-python==<version> -d .cache/sdist`"
        )
        pytest.skip(f"no llama-cpp-python sdist for vocabulary files ({where})")
    return sdist


def vocab_path(name: str) -> Path:
    """The path of `ggml-vocab-<name>.gguf`, extracted from the sdist on first use.

    Skips the calling test when no sdist is available; raises VocabNotFoundError for a name the
    sdist does not hold.
    """
    if not _NAME_RE.match(name):
        raise VocabNotFoundError(f"invalid vocabulary name {name!r}")
    sdist = _require_sdist()
    # One folder per sdist so that a new llama-cpp-python version re-extracts.
    folder = VOCAB_CACHE / sdist.name.removesuffix(".tar.gz")
    target = folder / f"ggml-vocab-{name}.gguf"
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    seen: list[str] = []
    with tarfile.open(sdist, "r:gz") as tar:
        for member in tar:
            match = _MEMBER_RE.match(member.name)
            if not match:
                continue
            if match.group(1) != name or not member.isfile():
                seen.append(match.group(1))
                continue
            src = tar.extractfile(member)
            if src is None:
                break
            # Write beside the target and rename, so parallel test processes never see a
            # half-written file.
            fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
            try:
                with os.fdopen(fd, "wb") as dst, src:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
                os.chmod(tmp, 0o644)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            return target
    raise VocabNotFoundError(
        f"{sdist.name} has no ggml-vocab-{name}.gguf; available: {', '.join(sorted(seen))}"
    )
