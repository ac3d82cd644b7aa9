"""FIM template detection on real vocabularies, and the exact prompts each family gets.

Vocabularies come from the llama-cpp-python sdist (`tests.support.vocab`); Qwen2.5-Coder and
Mistral layouts come from the tiny test models, since the sdist's qwen2 vocabulary predates
Qwen2.5's FIM tokens and no Mistral vocabulary ships there.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import gguf
import llama_cpp
import pytest

from models.templates import (
    BY_FAMILY,
    FimTemplate,
    Piece,
    Special,
    build_prompt,
    detect_template,
    detect_template_from_tokens,
    render,
)
from tests.support.gguf_meta import read_tokens
from tests.support.vocab import vocab_path
from tiers.base import ContextChunk

S = Special
PRE = "def area(r):\n    return "
SUF = "\n\nprint(area(2))\n"
CTX = (
    ContextChunk("geometry/consts.py", "PI = 3.14159\n\n\n"),
    ContextChunk("geometry/shapes.py", "class Circle:\n    radius: float\n"),
)


# --- detection on real vocabularies -----------------------------------------------------------


@pytest.mark.parametrize(
    "vocab,family",
    [
        ("starcoder", "starcoder"),
        # Refact shares StarCoder's FIM tokens (it was trained suffix-first, which the tokens
        # alone cannot tell).
        ("refact", "starcoder"),
        ("deepseek-coder", "deepseek"),
        ("llama-spm", "none"),
        # llama.cpp's qwen2 vocabulary is Qwen1.5/Qwen2's: 151646+ are [PAD] placeholders, the
        # FIM tokens arrived with Qwen2.5 (see test_tiny_qwen_layout_is_qwen).
        ("qwen2", "none"),
        ("gpt-2", "none"),
        ("llama-bpe", "none"),
        ("phi-3", "none"),
    ],
)
def test_real_vocabulary_family(vocab: str, family: str) -> None:
    assert detect_template_from_tokens(read_tokens(vocab_path(vocab))).family == family


def test_fast_reader_matches_gguf_reader() -> None:
    path = vocab_path("llama-spm")
    reference = gguf.GGUFReader(path).fields["tokenizer.ggml.tokens"].contents()
    assert read_tokens(path) == reference


def test_tiny_qwen_layout_is_qwen(tiny_qwen_model: Path) -> None:
    assert detect_template_from_tokens(read_tokens(tiny_qwen_model)).family == "qwen"


def test_tiny_mistral_layout_is_mistral(tiny_mistral_model: Path) -> None:
    assert detect_template_from_tokens(read_tokens(tiny_mistral_model)).family == "mistral"


def _has_control_token(llm: llama_cpp.Llama) -> object:
    vocab = llama_cpp.llama_model_get_vocab(llm.model)

    def has_token(text: str) -> bool:
        ids = llm.tokenize(text.encode(), add_bos=False, special=True)
        attr = llama_cpp.llama_vocab_get_attr(vocab, ids[0]) if len(ids) == 1 else 0
        return bool(attr & llama_cpp.LLAMA_TOKEN_ATTR_CONTROL)

    return has_token


@pytest.fixture(scope="module")
def qwen(tiny_qwen_model: Path) -> Iterator[llama_cpp.Llama]:
    llm = llama_cpp.Llama(model_path=str(tiny_qwen_model), n_ctx=512, verbose=False)
    yield llm
    llm.close()


@pytest.fixture(scope="module")
def mistral(tiny_mistral_model: Path) -> Iterator[llama_cpp.Llama]:
    llm = llama_cpp.Llama(model_path=str(tiny_mistral_model), n_ctx=512, verbose=False)
    yield llm
    llm.close()


def test_detection_through_loaded_model(qwen: llama_cpp.Llama, mistral: llama_cpp.Llama) -> None:
    assert detect_template(_has_control_token(qwen)).family == "qwen"  # type: ignore[arg-type]
    assert detect_template(_has_control_token(mistral)).family == "mistral"  # type: ignore[arg-type]


# --- exact prompt pieces per family -----------------------------------------------------------

PROMPT_CASES: list[tuple[str, str, str, dict, list[Piece]]] = [
    (
        "qwen", PRE, SUF, {},
        [S("<|fim_prefix|>"), PRE, S("<|fim_suffix|>"), SUF, S("<|fim_middle|>")],
    ),
    (
        "qwen", PRE, "", {},
        [S("<|fim_prefix|>"), PRE, S("<|fim_suffix|>"), S("<|fim_middle|>")],
    ),
    (
        "qwen", PRE, SUF, {"context": CTX, "path": "geometry/area.py", "repo": "shapes"},
        [
            S("<|repo_name|>"), "shapes\n",
            S("<|file_sep|>"), "geometry/consts.py\nPI = 3.14159\n",
            S("<|file_sep|>"), "geometry/shapes.py\nclass Circle:\n    radius: float\n",
            S("<|file_sep|>"), "geometry/area.py\n",
            S("<|fim_prefix|>"), PRE, S("<|fim_suffix|>"), SUF, S("<|fim_middle|>"),
        ],
    ),
    (
        "starcoder", PRE, SUF, {},
        [S("<fim_prefix>"), PRE, S("<fim_suffix>"), SUF, S("<fim_middle>")],
    ),
    (
        "starcoder", PRE, SUF, {"context": CTX[:1]},
        [
            S("<repo_name>"), "workspace\n",
            S("<file_sep>"), "geometry/consts.py\nPI = 3.14159\n",
            S("<file_sep>"), "current\n",
            S("<fim_prefix>"), PRE, S("<fim_suffix>"), SUF, S("<fim_middle>"),
        ],
    ),
    (
        "deepseek", PRE, SUF, {},
        [S("<｜fim▁begin｜>"), PRE, S("<｜fim▁hole｜>"), SUF, S("<｜fim▁end｜>")],
    ),
    (
        "deepseek", PRE, SUF,
        {"context": CTX[:1], "path": "geometry/area.py", "language_id": "python"},
        [
            S("<｜fim▁begin｜>"),
            "# Path: geometry/consts.py\nPI = 3.14159\n\n# Path: geometry/area.py\n" + PRE,
            S("<｜fim▁hole｜>"), SUF, S("<｜fim▁end｜>"),
        ],
    ),
    (
        "codellama", PRE, SUF, {},
        [S("▁<PRE>"), PRE, S("▁<SUF>"), SUF, S("▁<MID>")],
    ),
    (
        "codegemma", PRE, SUF, {},
        [S("<|fim_prefix|>"), PRE, S("<|fim_suffix|>"), SUF, S("<|fim_middle|>")],
    ),
    (
        "mistral", PRE, SUF, {},
        [S("[SUFFIX]"), SUF, S("[PREFIX]"), PRE],
    ),
    (
        "mistral", "func main() {\n\t", "\n}\n",
        {"context": CTX[1:], "path": "cmd/main.go", "language_id": "go"},
        [
            S("[SUFFIX]"), "\n}\n", S("[PREFIX]"),
            "// Path: geometry/shapes.py\nclass Circle:\n    radius: float\n\n"
            "// Path: cmd/main.go\nfunc main() {\n\t",
        ],
    ),
    ("none", PRE, SUF, {}, [PRE]),
    (
        "none", PRE, SUF, {"context": CTX[:1], "language_id": "lua"},
        ["-- Path: geometry/consts.py\nPI = 3.14159\n\n" + PRE],
    ),
]


@pytest.mark.parametrize(
    "family,prefix,suffix,kwargs,expected",
    PROMPT_CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(PROMPT_CASES)],
)
def test_build_prompt_pieces(
    family: str, prefix: str, suffix: str, kwargs: dict, expected: list[Piece]
) -> None:
    pieces = build_prompt(BY_FAMILY[family], prefix, suffix, **kwargs)
    assert pieces == expected
    assert render(pieces) == "".join(p.token if isinstance(p, Special) else p for p in expected)


# --- token placement with a real tokenizer ----------------------------------------------------


def _tokenize_pieces(llm: llama_cpp.Llama, pieces: Sequence[Piece]) -> tuple[list[int], list[int]]:
    """Token ids of the pieces (text never parsed for control tokens), and where each Special
    landed."""
    ids: list[int] = []
    where: list[int] = []
    for p in pieces:
        if isinstance(p, Special):
            (tid,) = llm.tokenize(p.token.encode(), add_bos=False, special=True)
            where.append(len(ids))
            ids.append(tid)
        else:
            ids += llm.tokenize(p.encode(), add_bos=False, special=False)
    return ids, where


def _control_ids(llm: llama_cpp.Llama, tpl: FimTemplate) -> dict[int, str]:
    out = {}
    for text in tpl.control_tokens():
        ids = llm.tokenize(text.encode(), add_bos=False, special=True)
        if len(ids) == 1:
            out[ids[0]] = text
    return out


def test_qwen_prompt_places_fim_tokens(qwen: llama_cpp.Llama) -> None:
    tpl = BY_FAMILY["qwen"]
    pieces = build_prompt(tpl, PRE, SUF, context=CTX, path="geometry/area.py", repo="shapes")
    ids, where = _tokenize_pieces(qwen, pieces)
    controls = _control_ids(qwen, tpl)
    assert set(controls) >= {151659, 151660, 151661, 151663, 151664}
    # The control tokens sit exactly where the template put Special pieces, in its order...
    assert [i for i, t in enumerate(ids) if t in controls] == where
    assert [controls[ids[i]] for i in where] == [p.token for p in pieces if isinstance(p, Special)]
    assert ids[where[-1]] == 151660 and where[-1] == len(ids) - 1  # ends on <|fim_middle|>
    # ...and tokenizing the rendered string (specials parsed) gives the same sequence.
    assert qwen.tokenize(render(pieces).encode(), add_bos=False, special=True) == ids


def test_code_that_spells_a_control_token_stays_text(qwen: llama_cpp.Llama) -> None:
    tpl = BY_FAMILY["qwen"]
    prefix = 'MARK = "<|fim_prefix|>"\n'
    ids, where = _tokenize_pieces(qwen, build_prompt(tpl, prefix, "<|fim_middle|>"))
    controls = _control_ids(qwen, tpl)
    assert [i for i, t in enumerate(ids) if t in controls] == where
    assert len(where) == 3


def test_mistral_prompt_places_fim_tokens(mistral: llama_cpp.Llama) -> None:
    tpl = BY_FAMILY["mistral"]
    pieces = build_prompt(tpl, "def area(r):\n    return ", "\n\nprint(area(2))\n")
    ids, where = _tokenize_pieces(mistral, pieces)
    assert [ids[i] for i in where] == [31997, 31998]  # [SUFFIX] first, then [PREFIX]
    assert where[0] == 0 and where[1] < len(ids) - 1
    text_ids = [t for t in ids if t not in (31997, 31998)]
    assert "print(area(2))" in mistral.detokenize(text_ids).decode()
    assert mistral.tokenize(render(pieces).encode(), add_bos=False, special=True) == ids
