"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.tiny_gguf import MISTRAL_FIM_TOKENS, QWEN25_CODER_TOKENS, TinyModelCache

# --- Tiny GGUF models (real tokenizers from the llama-cpp-python sdist, random weights) -------
# Each is built once per test session (about a second at most); without the sdist, the tests
# that use them are skipped with the reason.


@pytest.fixture(scope="session")
def tiny_model_factory(tmp_path_factory: pytest.TempPathFactory) -> TinyModelCache:
    """Build tiny models on demand: `tiny_model_factory("starcoder", arch="starcoder2")`.

    Arguments are those of `tests.support.tiny_gguf.build_tiny_model` after `out`; each distinct
    set is built once per session.
    """
    return TinyModelCache(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture(scope="session")
def tiny_qwen_model(tiny_model_factory: TinyModelCache) -> Path:
    """qwen2 architecture, qwen2 vocabulary with Qwen2.5-Coder's FIM/repository control tokens
    at their real ids (`<|fim_prefix|>` = 151659 ... `<|file_sep|>` = 151664); Q8_0, ~16 MB."""
    return tiny_model_factory(
        "qwen2", arch="qwen2", rename_tokens=QWEN25_CODER_TOKENS, quant="Q8_0"
    )


@pytest.fixture(scope="session")
def tiny_mistral_model(tiny_model_factory: TinyModelCache) -> Path:
    """llama architecture, llama-spm (SentencePiece) vocabulary with Mistral's `[SUFFIX]`,
    `[PREFIX]` and `[MIDDLE]` control tokens (ids 31997-31999); ~5 MB."""
    return tiny_model_factory("llama-spm", arch="llama", rename_tokens=MISTRAL_FIM_TOKENS)
