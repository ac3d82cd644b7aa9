"""Fill-in-the-middle prompt templates per model family, and family detection from a vocabulary.

A prompt is a list of pieces: plain text (tokenized as text, so code that happens to contain
`<|fim_prefix|>` can never inject a control token) and `Special` markers (mapped to the
vocabulary's own token id). `render` joins them into one string for HTTP providers that take a
raw prompt.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from tiers.base import ContextChunk


@dataclass(frozen=True)
class Special:
    """A control token, by its text in the vocabulary."""

    token: str


Piece = str | Special


@dataclass(frozen=True)
class FimTemplate:
    family: str
    prefix: str | None  # FIM control tokens; None for prefix-only continuation
    suffix: str | None
    middle: str | None
    suffix_first: bool = False  # Mistral/Codestral: [SUFFIX]…[PREFIX]…
    stop: tuple[str, ...] = ()  # control tokens that end a completion
    # Repository-level format: "qwen" (<|repo_name|>/<|file_sep|>), "starcoder", or "comment"
    # (a path comment per chunk in the prefix).
    repo_format: str = "comment"
    file_sep: str | None = None
    repo_name: str | None = None
    # Tokens whose presence identifies the family (all must be present).
    markers: tuple[str, ...] = ()
    # Tokens whose presence rules the family out (CodeGemma shares Qwen's FIM tokens).
    excludes: tuple[str, ...] = ()

    @property
    def supports_fim(self) -> bool:
        return self.prefix is not None

    @property
    def middle_after_suffix(self) -> bool:
        """Text can follow the middle marker, after the suffix (prefix-suffix-middle order)."""
        return self.supports_fim and not self.suffix_first and self.middle is not None

    def control_tokens(self) -> tuple[str, ...]:
        toks = [self.prefix, self.suffix, self.middle, self.file_sep, self.repo_name, *self.stop]
        return tuple(dict.fromkeys(t for t in toks if t))


QWEN = FimTemplate(
    family="qwen",
    prefix="<|fim_prefix|>",
    suffix="<|fim_suffix|>",
    middle="<|fim_middle|>",
    stop=("<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|repo_name|>", "<|im_end|>",
          "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),
    repo_format="qwen",
    file_sep="<|file_sep|>",
    repo_name="<|repo_name|>",
    markers=("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),
    excludes=("<|file_separator|>",),
)
CODEGEMMA = FimTemplate(
    family="codegemma",
    prefix="<|fim_prefix|>",
    suffix="<|fim_suffix|>",
    middle="<|fim_middle|>",
    stop=("<|file_separator|>", "<end_of_turn>", "<eos>", "<|fim_prefix|>", "<|fim_suffix|>",
          "<|fim_middle|>"),
    markers=("<|fim_prefix|>", "<|fim_middle|>", "<|file_separator|>"),
)
STARCODER = FimTemplate(
    family="starcoder",
    prefix="<fim_prefix>",
    suffix="<fim_suffix>",
    middle="<fim_middle>",
    stop=("<|endoftext|>", "<file_sep>", "<fim_prefix>", "<fim_suffix>", "<fim_middle>",
          "<repo_name>", "<filename>"),
    repo_format="starcoder",
    file_sep="<file_sep>",
    repo_name="<repo_name>",
    markers=("<fim_prefix>", "<fim_suffix>", "<fim_middle>"),
)
DEEPSEEK = FimTemplate(
    family="deepseek",
    prefix="<｜fim▁begin｜>",
    suffix="<｜fim▁hole｜>",
    middle="<｜fim▁end｜>",
    stop=("<｜end▁of▁sentence｜>", "<|EOT|>", "<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"),
    markers=("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"),
)
# CodeLlama's SentencePiece vocabulary stores its FIM tokens with a leading "▁".
CODELLAMA = FimTemplate(
    family="codellama",
    prefix="▁<PRE>",
    suffix="▁<SUF>",
    middle="▁<MID>",
    stop=("▁<EOT>", "</s>"),
    markers=("▁<PRE>", "▁<SUF>", "▁<MID>"),
)
MISTRAL = FimTemplate(
    family="mistral",
    prefix="[PREFIX]",
    suffix="[SUFFIX]",
    middle=None,
    suffix_first=True,
    stop=("</s>", "[PREFIX]", "[SUFFIX]", "[MIDDLE]"),
    markers=("[SUFFIX]", "[PREFIX]"),
)
PREFIX_ONLY = FimTemplate(family="none", prefix=None, suffix=None, middle=None)

# Detection order matters: the most specific marker sets first.
TEMPLATES: tuple[FimTemplate, ...] = (MISTRAL, DEEPSEEK, CODELLAMA, STARCODER, CODEGEMMA, QWEN)
BY_FAMILY: dict[str, FimTemplate] = {t.family: t for t in (*TEMPLATES, PREFIX_ONLY)}
FAMILY_ALIASES = {
    "codestral": "mistral",
    "qwen2": "qwen",
    "qwen2.5-coder": "qwen",
    "starcoder2": "starcoder",
    "deepseek-coder": "deepseek",
    "gemma": "codegemma",
    "llama": "codellama",
    "prefix": "none",
    "prefix-only": "none",
}


def template_for(family: str) -> FimTemplate:
    """The template for an explicit family name (an override); raises KeyError if unknown."""
    key = family.strip().lower()
    return BY_FAMILY[FAMILY_ALIASES.get(key, key)]


def detect_template(has_token: Callable[[str], bool]) -> FimTemplate:
    """Pick the family from the vocabulary's own control tokens.

    `has_token(text)` says whether the vocabulary holds a token with exactly that text.
    """
    for tpl in TEMPLATES:
        if all(has_token(m) for m in tpl.markers) and not any(has_token(x) for x in tpl.excludes):
            return tpl
    return PREFIX_ONLY


def detect_template_from_tokens(tokens: Iterable[str]) -> FimTemplate:
    vocab = set(tokens)
    return detect_template(vocab.__contains__)


_LINE_COMMENT = {
    "python": "#", "ruby": "#", "shellscript": "#", "sh": "#", "bash": "#", "perl": "#",
    "r": "#", "yaml": "#", "toml": "#", "makefile": "#", "dockerfile": "#", "elixir": "#",
    "lua": "--", "sql": "--", "haskell": "--", "ada": "--",
    "lisp": ";", "clojure": ";", "scheme": ";", "emacs-lisp": ";",
    "vim": '"', "erlang": "%", "latex": "%", "matlab": "%",
}


def line_comment(language_id: str) -> str:
    """The line-comment leader for a language (C-style `//` where unknown)."""
    return _LINE_COMMENT.get(language_id.lower(), "//")


def _comment_context(chunks: Sequence[ContextChunk], path: str, language_id: str) -> str:
    """Codestral-style repository context: each chunk under a path comment, in the prefix."""
    if not chunks:
        return ""
    c = line_comment(language_id)
    parts = [f"{c} Path: {ch.path}\n{ch.text.rstrip()}\n\n" for ch in chunks]
    if path:
        parts.append(f"{c} Path: {path}\n")
    return "".join(parts)


def build_prompt(
    tpl: FimTemplate,
    prefix: str,
    suffix: str,
    *,
    context: Sequence[ContextChunk] = (),
    path: str = "",
    language_id: str = "",
    repo: str = "",
    middle: str = "",
) -> list[Piece]:
    """The prompt pieces for one completion, with what changes least first.

    Repository context comes first (it changes least), then the FIM pieces in the family's
    order. Prefix-only models get the context and the prefix. `middle` is text right before the
    cursor that goes after the middle marker (families with `middle_after_suffix`); for the
    others it is joined back to the prefix.
    """
    if middle and not tpl.middle_after_suffix:
        prefix, middle = prefix + middle, ""
    pieces: list[Piece] = []
    inline_ctx = ""
    if context and tpl.repo_format in ("qwen", "starcoder") and tpl.file_sep:
        if tpl.repo_name:
            pieces += [Special(tpl.repo_name), f"{repo or 'workspace'}\n"]
        for ch in context:
            pieces += [Special(tpl.file_sep), f"{ch.path}\n{ch.text.rstrip()}\n"]
        pieces += [Special(tpl.file_sep), f"{path or 'current'}\n"]
    else:
        inline_ctx = _comment_context(context, path, language_id)

    if not tpl.supports_fim:
        pieces.append(inline_ctx + prefix)
    elif tpl.suffix_first:
        pieces += [Special(tpl.suffix), suffix, Special(tpl.prefix), inline_ctx + prefix]
    else:
        pieces += [Special(tpl.prefix), inline_ctx + prefix, Special(tpl.suffix), suffix]
        if tpl.middle:
            pieces += [Special(tpl.middle), middle]
    return [p for p in pieces if not (isinstance(p, str) and p == "")]


def render(pieces: Iterable[Piece]) -> str:
    """The prompt as one string (for raw-prompt HTTP endpoints)."""
    return "".join(p.token if isinstance(p, Special) else p for p in pieces)
