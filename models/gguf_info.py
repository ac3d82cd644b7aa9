"""Read a GGUF's header and metadata without loading the model, and check it can be loaded.

A small reader of the GGUF layout (magic, version, key/values, tensor infos) over an mmap: it
touches only the header pages, so it is fast on multi-gigabyte files, and it bounds-checks
every length so a corrupt header gives a clear error instead of a crash inside llama.cpp.
(`gguf.GGUFReader` builds numpy views of every field and takes ~10 s on a 150k-token
vocabulary; only its type tables are used here.)
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, LlamaFileType

from models.hardware import available_ram
from models.templates import FimTemplate, detect_template_from_tokens
from tiers.errors import ModelLoadError

MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32
_MAX_COUNT = 1 << 24  # tensors or key/values: far above any real model

# Architectures llama.cpp loads that are not causal text generators: vision/audio encoders,
# projectors, and encoder-only embedding models (no LM head to complete code with).
NON_TEXT_ARCHITECTURES = frozenset({
    "clip", "mmproj", "whisper", "wavtokenizer-dec", "bert", "nomic-bert", "nomic-bert-moe",
    "jina-bert-v2", "jina-bert-v3", "neo-bert", "modern-bert", "t5encoder", "eurobert",
})
NON_MODEL_TYPES = frozenset({"adapter", "mmproj", "imatrix"})

_SCALARS: dict[int, tuple[str, int]] = {
    0: ("B", 1), 1: ("b", 1), 2: ("H", 2), 3: ("h", 2), 4: ("I", 4), 5: ("i", 4),
    6: ("f", 4), 7: ("?", 1), 10: ("Q", 8), 11: ("q", 8), 12: ("d", 8),
}
_STRING, _ARRAY = 8, 9
_QUANT_SIZES = {int(k): v for k, v in GGML_QUANT_SIZES.items()}
# Array values kept in full (token texts); other arrays are skipped and only counted.
_KEEP_ARRAYS = frozenset({"tokenizer.ggml.tokens", "tokenizer.ggml.token_type"})


class _Corrupt(Exception):
    pass


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    ggml_type: int
    offset: int  # from the start of the data section
    n_bytes: int

    @property
    def n_elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass(frozen=True)
class GgufInfo:
    path: Path
    file_size: int
    version: int
    architecture: str
    name: str
    model_type: str  # general.type: "model", "adapter", "mmproj", or "" when absent
    file_type: int | None
    quantization: str  # "Q4_K_M", "F16", ... from general.file_type ("" when absent)
    context_length: int | None
    n_layers: int | None
    embedding_length: int | None
    head_count: int | None
    head_count_kv: int | None
    parameter_count: int  # summed over the tensors
    tensor_count: int
    vocab_size: int
    tokenizer_model: str
    template: FimTemplate  # detected from the vocabulary's own control tokens
    fim_tokens: tuple[str, ...]  # the template's control tokens present in the vocabulary
    data_offset: int
    data_end: int  # where the last tensor's data ends
    metadata: dict[str, Any] = field(repr=False)  # scalar key/values; arrays as their length
    tensors: tuple[TensorInfo, ...] = field(repr=False, default=())

    @property
    def has_lm_head(self) -> bool:
        # Tied embeddings: token_embd doubles as the output matrix.
        names = {t.name for t in self.tensors}
        return "output.weight" in names or "token_embd.weight" in names

    def kv_cache_bytes(self, context_size: int) -> int:
        """An f16 KV cache of `context_size` tokens (0 when the shape keys are missing)."""
        if not (self.n_layers and self.embedding_length and self.head_count):
            return 0
        kv_heads = self.head_count_kv or self.head_count
        head_dim = self.embedding_length // self.head_count
        return 2 * 2 * self.n_layers * context_size * kv_heads * head_dim

    def memory_needed(self, context_size: int = 4096) -> int:
        """Weights + KV cache + compute buffers, roughly what llama.cpp allocates."""
        compute = 256 << 20
        return self.data_end - self.data_offset + self.kv_cache_bytes(context_size) + compute


class _Cursor:
    def __init__(self, buf: mmap.mmap | bytes, endian: str) -> None:
        self.buf = buf
        self.pos = 0
        self.end = len(buf)
        self.e = endian

    def need(self, n: int) -> None:
        if n < 0 or self.pos + n > self.end:
            raise _Corrupt(f"field at byte {self.pos} runs past the end of the file")

    def scalar(self, fmt: str, size: int) -> Any:
        self.need(size)
        (v,) = struct.unpack_from(self.e + fmt, self.buf, self.pos)
        self.pos += size
        return v

    def u32(self) -> int:
        return self.scalar("I", 4)

    def u64(self) -> int:
        return self.scalar("Q", 8)

    def string(self) -> str:
        n = self.u64()
        self.need(n)
        raw = self.buf[self.pos:self.pos + n]
        self.pos += n
        return raw.decode("utf-8", errors="replace")

    def skip_string(self) -> None:
        n = self.u64()
        self.need(n)
        self.pos += n

    def value(self, vtype: int, keep: bool) -> Any:
        if vtype in _SCALARS:
            return self.scalar(*_SCALARS[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            itype = self.u32()
            count = self.u64()
            if count > self.end - self.pos:  # every item takes at least one byte
                raise _Corrupt(f"array of {count} items at byte {self.pos} exceeds the file")
            if itype == _STRING:
                if keep:
                    return [self.string() for _ in range(count)]
                for _ in range(count):
                    self.skip_string()
                return count
            if itype in _SCALARS:
                fmt, size = _SCALARS[itype]
                self.need(size * count)
                if keep:
                    vals = list(struct.unpack_from(f"{self.e}{count}{fmt}", self.buf, self.pos))
                    self.pos += size * count
                    return vals
                self.pos += size * count
                return count
            if itype == _ARRAY:  # nested arrays: not used by text models; skip item by item
                return [self.value(_ARRAY, False) for _ in range(count)]
            raise _Corrupt(f"unknown array item type {itype}")
        raise _Corrupt(f"unknown value type {vtype} at byte {self.pos}")


def _quant_name(file_type: int | None) -> str:
    if file_type is None:
        return ""
    try:
        return LlamaFileType(file_type).name.removeprefix("MOSTLY_").removeprefix("ALL_")
    except ValueError:
        return f"type {file_type}"


def _tensor_bytes(shape: tuple[int, ...], ggml_type: int, name: str) -> int:
    if ggml_type not in _QUANT_SIZES:
        raise _Corrupt(f"tensor {name!r} has an unknown data type {ggml_type}")
    block, type_size = _QUANT_SIZES[ggml_type]
    n = 1
    for d in shape:
        n *= d
    if n % block:
        raise _Corrupt(f"tensor {name!r}: {n} elements is not a whole number of "
                       f"{GGMLQuantizationType(ggml_type).name} blocks")
    return n // block * type_size


def _parse(buf: mmap.mmap | bytes, path: Path, file_size: int) -> GgufInfo:
    if bytes(buf[:4]) != MAGIC:
        raise ModelLoadError(
            f"{path}: not a GGUF file (it starts with {bytes(buf[:4])!r}, not b'GGUF'); "
            "llama.cpp needs a .gguf model: download one (`lsp-server models pull ID`) or "
            "convert the model with llama.cpp's convert_hf_to_gguf.py",
        )
    (version,) = struct.unpack_from("<I", buf, 4)
    endian = "<"
    if version & 0xFFFF == 0:  # written on a big-endian machine
        endian, version = ">", struct.unpack_from(">I", buf, 4)[0]
    if version not in (2, 3):
        raise ModelLoadError(
            f"{path}: GGUF version {version} is not supported (2 and 3 are); "
            "re-download or re-convert the model with a current llama.cpp",
        )
    cur = _Cursor(buf, endian)
    cur.pos = 8
    try:
        n_tensors, n_kv = cur.u64(), cur.u64()
        if n_tensors > _MAX_COUNT or n_kv > _MAX_COUNT:
            raise _Corrupt(f"implausible counts ({n_tensors} tensors, {n_kv} key/values)")
        meta: dict[str, Any] = {}
        tokens: list[str] = []
        for _ in range(n_kv):
            key = cur.string()
            vtype = cur.u32()
            val = cur.value(vtype, keep=key in _KEEP_ARRAYS)
            if key == "tokenizer.ggml.tokens" and isinstance(val, list):
                tokens = val
                val = len(val)
            elif isinstance(val, list):
                val = len(val)
            meta[key] = val
        tensors: list[TensorInfo] = []
        for _ in range(n_tensors):
            name = cur.string()
            n_dims = cur.u32()
            if n_dims > 8:
                raise _Corrupt(f"tensor {name!r} has {n_dims} dimensions")
            shape = tuple(cur.u64() for _ in range(n_dims))
            ggml_type = cur.u32()
            offset = cur.u64()
            tensors.append(TensorInfo(name, shape, ggml_type, offset,
                                      _tensor_bytes(shape, ggml_type, name)))
    except _Corrupt as e:
        raise ModelLoadError(
            f"{path}: corrupt GGUF header ({e}); the file is damaged or incomplete: "
            "download it again (`lsp-server models pull ID`)",
        ) from None

    alignment = meta.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        alignment = DEFAULT_ALIGNMENT
    data_offset = (cur.pos + alignment - 1) // alignment * alignment
    # Without tensors the writer may omit the padding before the (empty) data section.
    data_end = max((data_offset + t.offset + t.n_bytes for t in tensors), default=cur.pos)
    if data_end > file_size:
        raise ModelLoadError(
            f"{path}: truncated: its tensors need {data_end:,} bytes but the file has "
            f"{file_size:,} ({100 * file_size / data_end:.0f}%); an interrupted download or "
            "copy? Download it again (`lsp-server models pull ID`)",
        )

    arch = str(meta.get("general.architecture", ""))

    def arch_int(key: str) -> int | None:
        v = meta.get(f"{arch}.{key}")
        return int(v) if isinstance(v, int | float) and not isinstance(v, bool) else None

    tpl = detect_template_from_tokens(tokens)
    vocab = set(tokens)
    ftype = meta.get("general.file_type")
    return GgufInfo(
        path=path,
        file_size=file_size,
        version=version,
        architecture=arch,
        name=str(meta.get("general.name", "")),
        model_type=str(meta.get("general.type", "")),
        file_type=ftype if isinstance(ftype, int) else None,
        quantization=_quant_name(ftype if isinstance(ftype, int) else None),
        context_length=arch_int("context_length"),
        n_layers=arch_int("block_count"),
        embedding_length=arch_int("embedding_length"),
        head_count=arch_int("attention.head_count"),
        head_count_kv=arch_int("attention.head_count_kv"),
        parameter_count=sum(t.n_elements for t in tensors),
        tensor_count=len(tensors),
        vocab_size=len(tokens) or int(meta.get(f"{arch}.vocab_size", 0) or 0),
        tokenizer_model=str(meta.get("tokenizer.ggml.model", "")),
        template=tpl,
        fim_tokens=tuple(t for t in tpl.control_tokens() if t in vocab),
        data_offset=data_offset,
        data_end=data_end,
        metadata=meta,
        tensors=tuple(tensors),
    )


def read_gguf(path: str | Path) -> GgufInfo:
    """Header, metadata and tensor table of a GGUF file (no tensor data is read).

    Raises ModelLoadError for a missing file, a file that is not GGUF, a corrupt header, or a
    truncated file; it does not judge whether the model suits completion (`check_gguf` does).
    """
    p = Path(path)
    try:
        with p.open("rb") as f:
            size = p.stat().st_size
            if size < 24:
                raise ModelLoadError(
                    f"{p}: not a GGUF file ({size} bytes, too short for a GGUF header); "
                    "download the model again (`lsp-server models pull ID`)",
                )
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                return _parse(mm, p, size)
    except FileNotFoundError:
        raise ModelLoadError(
            f"{p}: model file not found; check `model_path` in the configuration or run "
            "`lsp-server models list`",
        ) from None
    except IsADirectoryError:
        raise ModelLoadError(f"{p}: is a directory, not a .gguf model file") from None
    except PermissionError:
        raise ModelLoadError(f"{p}: cannot read the model file (permission denied)") from None
    except OSError as e:
        raise ModelLoadError(f"{p}: cannot read the model file ({e.strerror or e})") from None


def check_gguf(
    path: str | Path,
    *,
    context_size: int = 4096,
    available_bytes: int | None = None,
    vram_bytes: int = 0,
) -> GgufInfo:
    """`read_gguf`, then whether it is a text model that fits in memory.

    `available_bytes` defaults to the RAM available now; `vram_bytes` is free GPU memory when
    layers will be offloaded (it adds to what can hold the model). Raises ModelLoadError naming
    the file and the fix.
    """
    info = read_gguf(path)
    p = info.path
    if info.model_type in NON_MODEL_TYPES:
        raise ModelLoadError(
            f"{p}: a GGUF of type {info.model_type!r}, not a model; point `model_path` at the "
            "base model's .gguf file",
        )
    if info.tensor_count == 0:
        raise ModelLoadError(
            f"{p}: a vocabulary-only GGUF (no weights): it cannot generate text; point "
            "`model_path` at a full model, e.g. `lsp-server models pull ID`",
        )
    if info.architecture.lower() in NON_TEXT_ARCHITECTURES or not info.has_lm_head:
        what = info.architecture or "unknown"
        raise ModelLoadError(
            f"{p}: not a text-generation model (architecture {what!r}: an encoder, embedding or "
            "vision/audio model); code completion needs a causal language model such as "
            "Qwen2.5-Coder (`lsp-server models list`)",
        )
    if info.vocab_size == 0:
        raise ModelLoadError(
            f"{p}: the GGUF has no tokenizer vocabulary; re-convert it with llama.cpp's "
            "convert_hf_to_gguf.py",
        )
    avail = available_ram() if available_bytes is None else available_bytes
    if avail is not None:
        need = info.memory_needed(context_size)
        have = avail + max(vram_bytes, 0)
        if need > have:
            where = "RAM + VRAM" if vram_bytes > 0 else "RAM"
            raise ModelLoadError(
                f"{p}: too large for this machine: needs about {need / 1e9:.1f} GB with a "
                f"{context_size}-token context, {have / 1e9:.1f} GB of {where} is available; "
                "choose a smaller model or quantization (`lsp-server models list` shows what "
                "fits) or lower `context_size`",
            )
    return info
