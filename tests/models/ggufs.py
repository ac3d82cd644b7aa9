"""Small GGUF files written with the `gguf` package, for header and validation tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import gguf
import numpy as np


def write_gguf(
    path: Path,
    *,
    arch: str = "llama",
    tokens: Sequence[str] = ("<unk>", "<s>", "</s>", "a", "b", "c", "d", "e"),
    tensors: bool = True,
    n_embd: int = 32,
    n_layer: int = 1,
    model_type: str | None = None,
) -> Path:
    """A llama-shaped GGUF with a toy vocabulary (`tensors=False`: vocabulary only)."""
    w = gguf.GGUFWriter(path, arch)
    w.add_name(f"test-{arch}")
    if model_type:
        w.add_type(model_type)
    w.add_context_length(256)
    w.add_block_count(n_layer)
    w.add_embedding_length(n_embd)
    w.add_head_count(4)
    w.add_head_count_kv(4)
    w.add_feed_forward_length(n_embd * 2)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("llama")
    w.add_token_list(list(tokens))
    w.add_token_types([gguf.TokenType.NORMAL] * len(tokens))
    if tensors:
        rng = np.random.default_rng(0)
        n_vocab = len(tokens)
        w.add_tensor("token_embd.weight", rng.random((n_vocab, n_embd), dtype=np.float32))
        for i in range(n_layer):
            w.add_tensor(f"blk.{i}.attn_q.weight", rng.random((n_embd, n_embd), dtype=np.float32))
        w.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
