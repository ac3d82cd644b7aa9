"""The default local model: Qwen2.5-Coder-0.5B-Instruct Q4_K_M, assembled from its PyPI parts.

`pip install 'lsp-server[default-model]'` installs the parts; the first start joins them into
the models directory and checks the sha256; later starts only `stat` the file and its stamp.
"""

from __future__ import annotations

from pathlib import Path

from models.assemble import ensure_assembled
from models.integrity import Progress
from models.paths import models_dir
from models.registry import ModelEntry, get_entry

DEFAULT_MODEL_ID = "qwen2.5-coder-0.5b-instruct-q4_k_m"


def default_entry() -> ModelEntry:
    return get_entry(DEFAULT_MODEL_ID)


def ensure_default_model(
    *, dest_dir: Path | None = None, progress: Progress | None = None,
) -> Path | None:
    """The verified default model file, assembling it on first use.

    None when neither the file nor its PyPI parts are installed. Raises
    `tiers.errors.ModelLoadError` when the parts are incomplete or assemble to a wrong sha256.
    """
    return ensure_assembled(default_entry(), dest_dir or models_dir(), progress=progress)


def ensure_model(
    model_id: str, *, dest_dir: Path | None = None, progress: Progress | None = None,
) -> Path | None:
    """The verified file of any registry model: installed, or assembled from installed PyPI
    parts; None when neither (then `lsp-server models pull ID` gets it). Raises
    `models.registry.RegistryError` for an unknown id and ModelLoadError for bad parts."""
    return ensure_assembled(get_entry(model_id), dest_dir or models_dir(), progress=progress)
