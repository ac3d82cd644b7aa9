"""The tiny GGUF test models: they load in llama.cpp, generate deterministically under greedy
sampling, and carry their families' FIM control tokens as single CONTROL tokens."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

import llama_cpp
import pytest

from tests.support import vocab as vocab_mod
from tests.support.gguf_meta import read_metadata, read_tokens
from tests.support.tiny_gguf import (
    MISTRAL_FIM_TOKENS,
    QWEN25_CODER_TOKENS,
    TinyModelCache,
    build_tiny_model,
)
from tests.support.vocab import SDIST_ENV, VocabNotFoundError, find_sdist, vocab_path

PROMPT = b"def fibonacci(n):\n    if n < 2:\n        return n\n"
N_GEN = 24


def _load(path: Path, **kwargs: object) -> llama_cpp.Llama:
    return llama_cpp.Llama(model_path=str(path), n_ctx=512, verbose=False, **kwargs)


def _greedy(llm: llama_cpp.Llama, prompt: bytes, n: int = N_GEN) -> list[int]:
    tokens = llm.tokenize(prompt, add_bos=True, special=False)
    gen: Iterator[int] = llm.generate(tokens, temp=0.0, top_k=1, repeat_penalty=1.0)
    return list(islice(gen, n))


def _vocab(llm: llama_cpp.Llama) -> object:
    return llama_cpp.llama_model_get_vocab(llm.model)


def _is_control(llm: llama_cpp.Llama, token: int) -> bool:
    attr = llama_cpp.llama_vocab_get_attr(_vocab(llm), token)
    return bool(attr & llama_cpp.LLAMA_TOKEN_ATTR_CONTROL)


@pytest.fixture(scope="module")
def qwen(tiny_qwen_model: Path) -> Iterator[llama_cpp.Llama]:
    llm = _load(tiny_qwen_model)
    yield llm
    llm.close()


@pytest.fixture(scope="module")
def mistral(tiny_mistral_model: Path) -> Iterator[llama_cpp.Llama]:
    llm = _load(tiny_mistral_model)
    yield llm
    llm.close()


@pytest.mark.parametrize("fixture", ["tiny_qwen_model", "tiny_mistral_model"])
def test_greedy_generation_is_deterministic(fixture: str, request: pytest.FixtureRequest) -> None:
    path: Path = request.getfixturevalue(fixture)
    first = _load(path)
    try:
        a = _greedy(first, PROMPT)
        b = _greedy(first, PROMPT)  # same context, evaluated again
    finally:
        first.close()
    second = _load(path, n_threads=1)
    try:
        c = _greedy(second, PROMPT)
    finally:
        second.close()
    assert len(a) == N_GEN
    assert a == b == c
    assert len(set(a)) > 1, "noise should not repeat one token forever"


def test_generation_runs_to_max_tokens(qwen: llama_cpp.Llama) -> None:
    # Control and end-of-generation tokens are never picked, so completions end on max_tokens.
    out = qwen.create_completion(PROMPT.decode(), max_tokens=N_GEN, temperature=0.0)
    choice = out["choices"][0]
    assert choice["finish_reason"] == "length"
    assert out["usage"]["completion_tokens"] == N_GEN
    assert not any(_is_control(qwen, t) for t in _greedy(qwen, PROMPT))


def test_different_seeds_give_different_models(tmp_path: Path) -> None:
    small = {"n_layer": 1, "n_embd": 32}
    a = build_tiny_model("llama-spm", tmp_path / "a.gguf", seed=1, **small)
    a2 = build_tiny_model("llama-spm", tmp_path / "a2.gguf", seed=1, **small)
    b = build_tiny_model("llama-spm", tmp_path / "b.gguf", seed=2, **small)
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (a, a2, b)]
    assert digest[0] == digest[1]
    assert digest[0] != digest[2]


@pytest.mark.parametrize("text,tid", sorted((t, i) for i, t in QWEN25_CODER_TOKENS.items()))
def test_qwen_control_tokens_are_single_control_ids(
    qwen: llama_cpp.Llama, text: str, tid: int
) -> None:
    ids = qwen.tokenize(text.encode(), add_bos=False, special=True)
    assert ids == [tid]
    assert _is_control(qwen, tid)
    # As plain text (special=False) the same characters never become the control token.
    plain = qwen.tokenize(text.encode(), add_bos=False, special=False)
    assert len(plain) > 1 and tid not in plain


def test_llama_cpp_recognises_qwen_fim_layout(qwen: llama_cpp.Llama) -> None:
    # llama.cpp finds FIM tokens by text, as for the real Qwen2.5-Coder files.
    vocab = _vocab(qwen)
    assert llama_cpp.llama_vocab_fim_pre(vocab) == 151659
    assert llama_cpp.llama_vocab_fim_suf(vocab) == 151661
    assert llama_cpp.llama_vocab_fim_mid(vocab) == 151660
    assert llama_cpp.llama_vocab_fim_pad(vocab) == 151662
    assert llama_cpp.llama_vocab_fim_rep(vocab) == 151663
    assert llama_cpp.llama_vocab_fim_sep(vocab) == 151664
    for eog in (151643, 151662, 151664):  # <|endoftext|>, <|fim_pad|>, <|file_sep|>
        assert llama_cpp.llama_vocab_is_eog(vocab, eog)


@pytest.mark.parametrize("text,tid", sorted((t, i) for i, t in MISTRAL_FIM_TOKENS.items()))
def test_mistral_control_tokens_are_single_control_ids(
    mistral: llama_cpp.Llama, text: str, tid: int
) -> None:
    assert mistral.tokenize(text.encode(), add_bos=False, special=True) == [tid]
    assert _is_control(mistral, tid)


def test_mistral_keeps_sentencepiece_behaviour(mistral: llama_cpp.Llama) -> None:
    ids = mistral.tokenize(b"[SUFFIX]return x[PREFIX]def f(x):", add_bos=True, special=True)
    assert ids[0] == mistral.token_bos() == 1
    assert ids.count(31997) == 1 and ids.count(31998) == 1
    assert ids.index(31997) < ids.index(31998)
    text = mistral.detokenize([t for t in ids if t not in (1, 31997, 31998)]).decode()
    assert "return x" in text and "def f(x):" in text


def test_fixture_models_are_small_and_complete(
    tiny_qwen_model: Path, tiny_mistral_model: Path, qwen: llama_cpp.Llama
) -> None:
    for path in (tiny_qwen_model, tiny_mistral_model):
        assert path.stat().st_size < 20_000_000
    meta = read_metadata(tiny_qwen_model)
    assert meta["general.architecture"].value == "qwen2"
    assert meta["qwen2.context_length"].value == 2048
    # Every tokenizer entry of the source vocabulary survives, the renamed tokens aside.
    src = read_metadata(vocab_path("qwen2"))
    for key in ("tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.eos_token_id"):
        assert meta[key].value == src[key].value
    assert meta["tokenizer.ggml.merges"].value == src["tokenizer.ggml.merges"].value
    tokens, src_tokens = read_tokens(tiny_qwen_model), read_tokens(vocab_path("qwen2"))
    changed = {i for i, (a, b) in enumerate(zip(tokens, src_tokens, strict=True)) if a != b}
    assert changed == set(QWEN25_CODER_TOKENS)
    assert qwen.n_vocab() == len(tokens) == 151936
    assert qwen.n_ctx() == 512


@pytest.mark.parametrize(
    "vocab,arch,expected_arch,fim",
    [
        ("starcoder", None, "starcoder2", b"<fim_prefix>"),  # the vocabulary's own arch
        ("deepseek-coder", None, "llama", "<｜fim▁begin｜>".encode()),
        ("gpt-2", "qwen2", "qwen2", None),  # no FIM tokens at all
    ],
)
def test_factory_builds_other_families(
    tiny_model_factory: TinyModelCache,
    vocab: str,
    arch: str | None,
    expected_arch: str,
    fim: bytes | None,
) -> None:
    path = tiny_model_factory(vocab, arch=arch, n_layer=1, quant="Q8_0")
    assert tiny_model_factory(vocab, arch=arch, n_layer=1, quant="Q8_0") == path  # cached
    assert read_metadata(path)["general.architecture"].value == expected_arch
    llm = _load(path)
    try:
        assert _greedy(llm, PROMPT, 8) == _greedy(llm, PROMPT, 8)
        if fim is not None:
            (tid,) = llm.tokenize(fim, add_bos=False, special=True)
            assert _is_control(llm, tid)
    finally:
        llm.close()


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"arch": "gpt-neox"}, "unsupported arch"),
        ({"quant": "Q4_K"}, "unsupported quant"),
        ({"n_embd": 60, "n_head": 8}, "head size"),
        ({"n_layer": 0}, "positive"),
        ({"rename_tokens": {40000: "[X]"}}, "outside the vocabulary"),
        ({"rename_tokens": {100: "</s>"}}, "already exists"),
        ({"rename_tokens": {100: ""}}, "empty text"),
    ],
)
def test_bad_arguments_are_rejected(tmp_path: Path, kwargs: dict, match: str) -> None:
    out = tmp_path / "bad.gguf"
    with pytest.raises(ValueError, match=match):
        build_tiny_model("llama-spm", out, **kwargs)
    assert not out.exists() and not list(tmp_path.glob("*.part"))


def test_unknown_vocabulary_lists_the_available_ones() -> None:
    with pytest.raises(VocabNotFoundError, match=r"available: .*llama-spm"):
        vocab_path("no-such-vocab")
    with pytest.raises(VocabNotFoundError, match="invalid"):
        vocab_path("../escape")


def test_non_gguf_vocabulary_file_is_rejected(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a gguf file")
    with pytest.raises(ValueError, match="not a GGUF file"):
        build_tiny_model(bogus, tmp_path / "out.gguf")
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(vocab_path("llama-spm").read_bytes()[:5000])
    with pytest.raises(ValueError, match="truncated or malformed"):
        build_tiny_model(truncated, tmp_path / "out.gguf")


def test_vocab_extracted_once_from_the_configured_sdist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sdist = find_sdist()
    assert sdist is not None  # vocab_path above would have skipped otherwise
    cached = vocab_path("llama-spm")
    monkeypatch.setenv(SDIST_ENV, str(sdist))
    monkeypatch.setattr(vocab_mod, "VOCAB_CACHE", tmp_path)
    fresh = vocab_path("llama-spm")
    assert fresh.parent.parent == tmp_path
    assert fresh.read_bytes() == cached.read_bytes()
    mtime = fresh.stat().st_mtime_ns
    assert vocab_path("llama-spm") == fresh and fresh.stat().st_mtime_ns == mtime
    assert not list(fresh.parent.glob("*.part"))


def test_missing_sdist_skips_with_reason(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(SDIST_ENV, str(tmp_path / "missing.tar.gz"))
    assert find_sdist() is None
    with pytest.raises(pytest.skip.Exception, match="is not a file"):
        vocab_path("qwen2")
