"""GGUF inspection: real vocabularies give the right FIM family; each bad file a clear error."""

from __future__ import annotations

import struct

import pytest

from models.gguf_info import check_gguf, read_gguf
from tests.models.ggufs import write_gguf
from tests.support.vocab import vocab_path
from tiers.errors import ModelLoadError


@pytest.mark.parametrize(
    ("vocab", "family", "fim"),
    [
        ("deepseek-coder", "deepseek", "<｜fim▁hole｜>"),
        ("starcoder", "starcoder", "<fim_suffix>"),
        ("refact", "starcoder", "<fim_middle>"),
        ("llama-spm", "none", None),  # plain Llama: no FIM tokens
        ("qwen2", "none", None),  # the qwen2 vocabulary predates Qwen2.5's FIM tokens
        ("gpt-2", "none", None),
    ],
)
def test_family_from_real_vocabularies(vocab, family, fim):
    info = read_gguf(vocab_path(vocab))
    assert info.template.family == family
    assert info.tensor_count == 0 and info.vocab_size > 30000
    if fim:
        assert fim in info.fim_tokens
    else:
        assert info.fim_tokens == ()


def test_tiny_models_detect_qwen_and_mistral(tiny_qwen_model, tiny_mistral_model):
    qwen = check_gguf(tiny_qwen_model)
    assert (qwen.architecture, qwen.template.family, qwen.quantization) == ("qwen2", "qwen", "Q8_0")
    assert {"<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|file_sep|>"} <= set(
        qwen.fim_tokens
    )
    mistral = check_gguf(tiny_mistral_model)
    assert mistral.template.family == "mistral"
    assert mistral.template.suffix_first
    assert {"[SUFFIX]", "[PREFIX]"} <= set(mistral.fim_tokens)
    assert mistral.n_layers == 2 and mistral.context_length == 2048
    assert mistral.parameter_count > 0


def test_header_reading_skips_tensor_data(tmp_path):
    path = write_gguf(tmp_path / "m.gguf", n_embd=64, n_layer=3)
    info = read_gguf(path)
    assert info.architecture == "llama" and info.name == "test-llama"
    assert info.tensor_count == 5
    assert info.parameter_count == 8 * 64 + 3 * 64 * 64 + 64
    assert info.data_end == info.file_size
    assert info.metadata["llama.context_length"] == 256


def test_bad_magic(tmp_path):
    path = write_gguf(tmp_path / "bad-magic.gguf")
    raw = bytearray(path.read_bytes())
    raw[:4] = b"PK\x03\x04"
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelLoadError, match=r"bad-magic\.gguf: not a GGUF file"):
        check_gguf(path)


@pytest.mark.parametrize("keep", [0.5, 0.95])
def test_truncated(tmp_path, keep):
    path = write_gguf(tmp_path / "cut.gguf", n_embd=64)
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * keep)])
    with pytest.raises(ModelLoadError, match=r"cut\.gguf: truncated") as exc:
        check_gguf(path)
    assert "download it again" in str(exc.value).lower()


def test_truncated_inside_header(tmp_path):
    path = write_gguf(tmp_path / "cut-header.gguf")
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(ModelLoadError, match=r"cut-header\.gguf: corrupt GGUF header"):
        check_gguf(path)


def test_corrupt_header_length(tmp_path):
    path = write_gguf(tmp_path / "corrupt.gguf")
    raw = bytearray(path.read_bytes())
    raw[24:32] = struct.pack("<Q", 1 << 60)  # the first key's length
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelLoadError, match=r"corrupt\.gguf: corrupt GGUF header"):
        check_gguf(path)


def test_tiny_or_empty_file(tmp_path):
    path = tmp_path / "empty.gguf"
    path.write_bytes(b"")
    with pytest.raises(ModelLoadError, match=r"empty\.gguf: not a GGUF file"):
        check_gguf(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ModelLoadError, match=r"nope\.gguf: model file not found"):
        check_gguf(tmp_path / "nope.gguf")
    with pytest.raises(ModelLoadError, match="is a directory"):
        check_gguf(tmp_path)


def test_vocab_only_is_not_a_text_model(tmp_path):
    path = write_gguf(tmp_path / "vocab-only.gguf", tensors=False)
    with pytest.raises(ModelLoadError, match=r"vocab-only\.gguf: a vocabulary-only GGUF"):
        check_gguf(path)
    real = vocab_path("starcoder")
    with pytest.raises(ModelLoadError, match=f"{real.name}: a vocabulary-only"):
        check_gguf(real)


@pytest.mark.parametrize("arch", ["clip", "bert", "whisper"])
def test_non_text_architecture(tmp_path, arch):
    path = write_gguf(tmp_path / f"{arch}.gguf", arch=arch)
    with pytest.raises(ModelLoadError, match=rf"{arch}\.gguf: not a text-generation model"):
        check_gguf(path)


def test_adapter_is_not_a_model(tmp_path):
    path = write_gguf(tmp_path / "lora.gguf", model_type="adapter")
    with pytest.raises(ModelLoadError, match=r"lora\.gguf: a GGUF of type 'adapter'"):
        check_gguf(path)


def test_too_large_for_memory(tmp_path):
    path = write_gguf(tmp_path / "big.gguf")
    with pytest.raises(ModelLoadError, match=r"big\.gguf: too large for this machine") as exc:
        check_gguf(path, available_bytes=10_000_000)
    assert "of RAM is available" in str(exc.value)
    # Free VRAM counts when layers go to the GPU.
    assert check_gguf(path, available_bytes=10_000_000, vram_bytes=8 << 30).tensor_count == 3
    with pytest.raises(ModelLoadError, match=r"RAM \+ VRAM"):
        check_gguf(path, available_bytes=1_000, vram_bytes=1_000)


def test_kv_cache_counts_toward_memory(tmp_path):
    info = check_gguf(write_gguf(tmp_path / "m.gguf", n_embd=64, n_layer=2))
    assert info.kv_cache_bytes(4096) == 2 * 2 * 2 * 4096 * 4 * 16
    assert info.memory_needed(8192) > info.memory_needed(4096)


def test_read_is_fast_on_a_big_vocabulary():
    import time

    path = vocab_path("qwen2")  # 151,936 tokens and as many merges
    start = time.perf_counter()
    info = read_gguf(path)
    assert info.vocab_size == 151936
    assert time.perf_counter() - start < 3.0
