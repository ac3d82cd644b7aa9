"""Tiny GGUF models with real tokenizers and random weights, for fast pipeline tests.

`build_tiny_model` copies every `tokenizer.*` entry of a vocabulary-only GGUF (see
`tests.support.vocab`), sets the hyper-parameters of a small network of a real architecture
(llama, qwen2 or starcoder2) and writes seeded random weights with the tensor names and shapes
llama.cpp expects. llama.cpp loads and runs the result like any model: its output is noise, but
the same under greedy sampling on every run, which is what tests of prompt building, FIM token
placement, KV-cache reuse, cancellation and stop rules need.

Two choices make the noise useful:
- the embedding rows of every non-ordinary token (control, user-defined, byte, unknown) are scaled
  down, so greedy decoding never picks one: generation runs to `max_tokens` instead of hitting an
  end-of-generation token at a random step (RMS norm makes the scale irrelevant on input);
- `rename_tokens` turns ordinary (or padding) tokens into control tokens with new texts, which
  gives a vocabulary the FIM tokens of another family (Qwen2.5-Coder's on the older qwen2
  vocabulary, Mistral's `[SUFFIX]`/`[PREFIX]` on llama-spm).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import gguf
import numpy as np

from tests.support.gguf_meta import MetaValue, read_metadata
from tests.support.vocab import vocab_path

Arch = Literal["llama", "qwen2", "starcoder2"]
Quant = Literal["Q8_0"] | None

# Token types as stored in `tokenizer.ggml.token_type` (llama.cpp's llama_token_type).
NORMAL = int(gguf.TokenType.NORMAL)
CONTROL = int(gguf.TokenType.CONTROL)

# Qwen2.5(-Coder)'s added control tokens. The qwen2 vocabulary in llama.cpp predates them and
# holds `[PADnnnnnn]` placeholders at these ids, so renaming them reproduces the real layout.
QWEN25_CODER_TOKENS: dict[int, str] = {
    151646: "<|object_ref_start|>",
    151647: "<|object_ref_end|>",
    151648: "<|box_start|>",
    151649: "<|box_end|>",
    151650: "<|quad_start|>",
    151651: "<|quad_end|>",
    151652: "<|vision_start|>",
    151653: "<|vision_end|>",
    151654: "<|vision_pad|>",
    151655: "<|image_pad|>",
    151656: "<|video_pad|>",
    151659: "<|fim_prefix|>",
    151660: "<|fim_middle|>",
    151661: "<|fim_suffix|>",
    151662: "<|fim_pad|>",
    151663: "<|repo_name|>",
    151664: "<|file_sep|>",
}

# Mistral/Codestral FIM control tokens, placed on the last (rare CJK) pieces of llama-spm.
MISTRAL_FIM_TOKENS: dict[int, str] = {
    31997: "[SUFFIX]",
    31998: "[PREFIX]",
    31999: "[MIDDLE]",
}

_NON_ORDINARY_SCALE = 0.02
# Output gain of the attention and feed-forward blocks. With unit gain the residual stream stays
# close to the input embedding, and with tied embeddings greedy decoding then repeats the last
# token forever; a large gain lets the context drive the logits, so the noise varies.
_GAIN = 30.0
_Q8_BLOCK = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType.Q8_0][0]
_ARCHS: tuple[str, ...] = ("llama", "qwen2", "starcoder2")


@dataclass(frozen=True)
class _Shape:
    n_vocab: int
    n_embd: int
    n_head: int
    n_head_kv: int
    n_ff: int

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    @property
    def n_embd_kv(self) -> int:
        return self.head_dim * self.n_head_kv


def _copy_tokenizer(
    meta: Mapping[str, MetaValue], writer: gguf.GGUFWriter, rename: Mapping[int, str]
) -> tuple[int, np.ndarray]:
    """Copy the `tokenizer.*` entries, applying `rename`; return (n_vocab, token types)."""
    tokens_meta = meta.get(gguf.Keys.Tokenizer.LIST)
    if tokens_meta is None:
        raise ValueError("vocabulary file has no tokenizer.ggml.tokens")
    tokens: list[str] = tokens_meta.as_list()
    n_vocab = len(tokens)
    types_meta = meta.get(gguf.Keys.Tokenizer.TOKEN_TYPE)
    types = (
        np.asarray(types_meta.value, dtype=np.int32)
        if types_meta is not None
        else np.full(n_vocab, NORMAL, dtype=np.int32)
    )
    if len(types) != n_vocab:
        raise ValueError("vocabulary file: token_type and tokens differ in length")

    if rename:
        index = {t: i for i, t in enumerate(tokens)}
        for tid, text in rename.items():
            if not 0 <= tid < n_vocab:
                raise ValueError(f"rename_tokens: id {tid} outside the vocabulary (0..{n_vocab})")
            if not text:
                raise ValueError(f"rename_tokens: empty text for id {tid}")
            other = index.get(text)
            if other is not None and other != tid:
                raise ValueError(f"rename_tokens: {text!r} already exists as id {other}")
        for tid, text in rename.items():
            tokens[tid] = text
            types[tid] = CONTROL

    values: dict[str, MetaValue] = {
        k: v for k, v in meta.items() if k.startswith("tokenizer.")
    }
    values[gguf.Keys.Tokenizer.LIST] = MetaValue(
        gguf.GGUFValueType.ARRAY, tokens, gguf.GGUFValueType.STRING
    )
    values[gguf.Keys.Tokenizer.TOKEN_TYPE] = MetaValue(
        gguf.GGUFValueType.ARRAY, types, gguf.GGUFValueType.INT32
    )
    for key, mv in values.items():
        val = mv.as_list() if mv.type == gguf.GGUFValueType.ARRAY else mv.value
        writer.add_key_value(key, val, mv.type, sub_type=mv.sub_type)
    return n_vocab, types


def _write_hparams(
    writer: gguf.GGUFWriter, arch: str, shape: _Shape, n_layer: int, n_ctx: int, name: str
) -> None:
    writer.add_name(name)
    writer.add_context_length(n_ctx)
    writer.add_embedding_length(shape.n_embd)
    writer.add_block_count(n_layer)
    writer.add_feed_forward_length(shape.n_ff)
    writer.add_head_count(shape.n_head)
    writer.add_head_count_kv(shape.n_head_kv)
    writer.add_rope_dimension_count(shape.head_dim)
    writer.add_rope_freq_base(10000.0 if arch == "llama" else 1000000.0)
    writer.add_vocab_size(shape.n_vocab)
    if arch == "starcoder2":
        writer.add_layer_norm_eps(1e-5)
    else:
        writer.add_layer_norm_rms_eps(1e-6)


def _tensors(
    arch: str, shape: _Shape, n_layer: int, types: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Float32 tensors by GGUF name; numpy shapes are llama.cpp's `ne` reversed."""
    d, kv, ff = shape.n_embd, shape.n_embd_kv, shape.n_ff

    def mat(rows: int, cols: int) -> np.ndarray:
        return rng.standard_normal((rows, cols), dtype=np.float32) / np.float32(np.sqrt(cols))

    def vec(n: int, scale: float = 0.02) -> np.ndarray:
        return rng.standard_normal(n, dtype=np.float32) * np.float32(scale)

    embd = rng.standard_normal((shape.n_vocab, d), dtype=np.float32)
    embd[types != NORMAL] *= np.float32(_NON_ORDINARY_SCALE)
    out: dict[str, np.ndarray] = {
        "token_embd.weight": embd,
        "output_norm.weight": np.ones(d, dtype=np.float32),
    }
    biased = arch == "starcoder2"
    if biased:
        out["output_norm.bias"] = np.zeros(d, dtype=np.float32)
    for i in range(n_layer):
        p = f"blk.{i}."
        out[p + "attn_norm.weight"] = np.ones(d, dtype=np.float32)
        out[p + "attn_q.weight"] = mat(d, d)
        out[p + "attn_k.weight"] = mat(kv, d)
        out[p + "attn_v.weight"] = mat(kv, d)
        out[p + "attn_output.weight"] = mat(d, d) * _GAIN
        out[p + "ffn_norm.weight"] = np.ones(d, dtype=np.float32)
        out[p + "ffn_up.weight"] = mat(ff, d)
        out[p + "ffn_down.weight"] = mat(d, ff) * _GAIN
        if arch != "starcoder2":  # gated (SwiGLU) feed-forward
            out[p + "ffn_gate.weight"] = mat(ff, d)
        if arch in ("qwen2", "starcoder2"):
            out[p + "attn_q.bias"] = vec(d)
            out[p + "attn_k.bias"] = vec(kv)
            out[p + "attn_v.bias"] = vec(kv)
        if biased:
            out[p + "attn_norm.bias"] = np.zeros(d, dtype=np.float32)
            out[p + "attn_output.bias"] = vec(d)
            out[p + "ffn_norm.bias"] = np.zeros(d, dtype=np.float32)
            out[p + "ffn_up.bias"] = vec(ff)
            out[p + "ffn_down.bias"] = vec(d)
    return out


def _add_tensor(writer: gguf.GGUFWriter, name: str, data: np.ndarray, quant: Quant) -> None:
    if data.ndim == 1:  # norms and biases stay float32, as in converted models
        writer.add_tensor(name, data)
    elif quant == "Q8_0" and data.shape[-1] % _Q8_BLOCK == 0:
        q8 = gguf.GGMLQuantizationType.Q8_0
        writer.add_tensor(name, gguf.quants.quantize(data, q8), raw_dtype=q8)
    else:
        writer.add_tensor(name, data.astype(np.float16))


def build_tiny_model(
    vocab: str | Path,
    out: Path,
    *,
    arch: Arch | None = None,
    n_layer: int = 2,
    n_embd: int = 64,
    n_head: int = 4,
    n_head_kv: int | None = None,
    n_ff: int | None = None,
    n_ctx: int = 2048,
    seed: int = 0,
    rename_tokens: Mapping[int, str] | None = None,
    quant: Quant = None,
) -> Path:
    """Write a complete GGUF model at `out` and return `out`.

    `vocab` is a vocabulary name from the llama-cpp-python sdist ("qwen2", "llama-spm", ...) or
    the path of a GGUF file whose tokenizer to copy. `arch=None` takes the vocabulary file's own
    architecture where supported ("qwen2", "starcoder2", "llama"), else "llama". `n_ctx` is the
    training context length written to the file. Matrices are float16, or Q8_0 with
    `quant="Q8_0"` (about half the size; rows not a multiple of 32 stay float16). The same
    arguments always give the same bytes.
    """
    if arch is not None and arch not in _ARCHS:
        raise ValueError(f"unsupported arch {arch!r}; choose one of {', '.join(_ARCHS)}")
    if quant not in (None, "Q8_0"):
        raise ValueError(f"unsupported quant {quant!r}; use None or 'Q8_0'")
    n_head_kv = n_head if n_head_kv is None else n_head_kv
    if n_layer < 1 or n_embd < 1 or n_head < 1 or n_head_kv < 1 or n_ctx < 1:
        raise ValueError("n_layer, n_embd, n_head, n_head_kv and n_ctx must be positive")
    if n_embd % n_head or n_head % n_head_kv or (n_embd // n_head) % 2:
        raise ValueError(
            "n_embd must split into an even head size over n_head, and n_head over n_head_kv"
        )
    is_file = isinstance(vocab, Path) or vocab.endswith(".gguf")
    vocab_file = Path(vocab) if is_file else vocab_path(vocab)
    meta = read_metadata(vocab_file)
    if arch is None:
        own = meta.get(gguf.Keys.General.ARCHITECTURE)
        arch = own.value if own is not None and own.value in _ARCHS else "llama"  # type: ignore[assignment]

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + f".{os.getpid()}.part")
    writer = gguf.GGUFWriter(tmp, arch)
    try:
        n_vocab, types = _copy_tokenizer(meta, writer, rename_tokens or {})
        shape = _Shape(n_vocab, n_embd, n_head, n_head_kv, n_ff or 4 * n_embd)
        _write_hparams(writer, arch, shape, n_layer, n_ctx, f"tiny-{arch}-{vocab_file.stem}")
        writer.add_file_type(
            gguf.LlamaFileType.MOSTLY_Q8_0 if quant == "Q8_0" else gguf.LlamaFileType.MOSTLY_F16
        )
        rng = np.random.default_rng(seed)
        for name, data in _tensors(arch, shape, n_layer, types, rng).items():
            _add_tensor(writer, name, data, quant)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, out)  # never leave a half-written model under the final name
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    return out


class TinyModelCache:
    """Builds tiny models into one folder, once per distinct set of arguments."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.build_seconds: dict[Path, float] = {}

    def __call__(self, vocab: str | Path, **kwargs: Any) -> Path:
        """`build_tiny_model(vocab, <cached path>, **kwargs)`, built on first request."""
        spec = json.dumps(
            {"vocab": str(vocab), **kwargs}, sort_keys=True, default=_json_default
        )
        digest = hashlib.sha256(spec.encode()).hexdigest()[:12]
        stem = Path(str(vocab)).stem.removeprefix("ggml-vocab-")
        out = self.folder / f"{stem}-{kwargs.get('arch') or 'auto'}-{digest}.gguf"
        if not out.is_file():
            start = time.perf_counter()
            build_tiny_model(vocab, out, **kwargs)
            self.build_seconds[out] = time.perf_counter() - start
        return out


def _json_default(value: object) -> object:
    if isinstance(value, Mapping):
        return sorted((str(k), v) for k, v in value.items())
    return str(value)
