"""The real default model for tests: assembled once from its PyPI parts, verified by sha256."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.default_model import ensure_default_model


def default_model_path() -> Path:
    """The verified default model, or a skip when the `default-model` extra is not installed."""
    path = ensure_default_model()
    if path is None:
        pytest.skip("the default model is not installed (pip install -e '.[default-model]')")
    return path
