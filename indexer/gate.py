"""The gate before any model call: skip, a single line, or a multi-line block.

Decided from the tree-sitter node at the cursor plus the text around it. The tree of the last
text seen per document is kept, and the next call re-parses incrementally from the one changed
region, so a keystroke costs well under a millisecond even in a long file. Languages without a
grammar fall back to text rules.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

from tree_sitter import Node, Tree

from indexer.incremental import reparse
from indexer.languages import parser_for, resolve_language
from tiers.base import Mode
from tiers.settings import LocalSettings

_DEFAULTS = LocalSettings()
SINGLE_LINE_TOKENS = _DEFAULTS.max_tokens
MULTI_LINE_TOKENS = _DEFAULTS.max_tokens_multiline
# Non-closing characters right of the cursor above which a completion would have to be
# inserted into existing code rather than finish the line.
MAX_RIGHT_CHARS = 8
_CLOSERS = frozenset(")]}>\"'`;:,. \t")
_BLOCK_OPENERS = ("{", ":", "=>", " do", " then", " begin")
_LINE_COMMENT = {
    "python": ("#",), "ruby": ("#",), "shellscript": ("#",), "perl": ("#",), "r": ("#",),
    "yaml": ("#",), "toml": ("#",), "php": ("//", "#"), "sql": ("--",), "lua": ("--",),
    "haskell": ("--",),
}
_STRING_STOPS = frozenset({
    "interpolation", "template_substitution", "string_interpolation", "format_expression",
    "interpolated_string_expression_content",
})
_BODY_TYPES = frozenset({
    "block", "statement_block", "compound_statement", "class_body", "declaration_list",
    "field_declaration_list", "body_statement", "constructor_body", "interface_body",
    "enum_body", "function_body", "do_block",
})
_WORD_CHAR = re.compile(r"\w")
_DO_BLOCK = re.compile(r"\bdo(\s*\|[^|]*\|)?$")
# Ruby (and Lua, Elixir...): blocks open with a keyword line and close with `end`.
_END_LANGUAGES = frozenset({"ruby", "lua", "elixir", "crystal", "julia", ""})
_KEYWORD_BLOCK = re.compile(r"^\s*(def|class|module|if|unless|while|until|for|case|begin)\b")


@dataclass(frozen=True)
class GateDecision:
    mode: Mode
    max_tokens: int
    reason: str


def _skip(reason: str) -> GateDecision:
    return GateDecision(Mode.SKIP, 0, reason)


def _single(reason: str) -> GateDecision:
    return GateDecision(Mode.SINGLE_LINE, SINGLE_LINE_TOKENS, reason)


def _multi(reason: str) -> GateDecision:
    return GateDecision(Mode.MULTI_LINE, MULTI_LINE_TOKENS, reason)


class _TreeCache:
    """The last (source, tree) per document key, re-parsed incrementally on the next call."""

    def __init__(self, size: int = 8) -> None:
        self._items: OrderedDict[tuple[str, str], tuple[bytes, Tree]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def tree(self, key: str, language: str, src: bytes) -> Tree | None:
        parser = parser_for(language)
        if parser is None:
            return None
        with self._lock:  # one parse at a time per process: parsers are per thread anyway
            item = self._items.pop((key, language), None)
            if item is not None and item[0] == src:
                tree = item[1]
            else:
                tree = reparse(parser, item[0], item[1], src) if item else parser.parse(src)
            self._items[(key, language)] = (src, tree)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
            return tree


_cache = _TreeCache()


def decide(
    text: str,
    line: int,
    col: int,
    language_id: str,
    *,
    allow_in_comments: bool = False,
    allow_in_strings: bool = False,
    path: str = "",
    tree: Tree | None = None,
) -> GateDecision:
    """Skip, single line or multi-line for a cursor at (line, col) (0-based, code points).

    `path` keys the cached tree (and picks the grammar when the languageId is unknown); a
    caller holding an up-to-date tree of `text` may pass it as `tree`.
    """
    lines = text.split("\n")
    if not 0 <= line < len(lines) or not 0 <= col <= len(lines[line]):
        return _skip("cursor outside the text")
    current = lines[line]
    left, right = current[:col], current[col:]
    if left and right and _WORD_CHAR.match(left[-1]) and _WORD_CHAR.match(right[0]):
        return _skip("inside a word")
    significant = sum(1 for c in right if c not in _CLOSERS)
    if significant > MAX_RIGHT_CHARS:
        return _skip("code right of the cursor")

    language = resolve_language(language_id, path)
    node_info = None
    if language is not None:
        src = text.encode("utf-8", "replace")
        if tree is None:
            tree = _cache.tree(path or language_id or language, language, src)
        if tree is not None:
            chars = sum(len(x) + 1 for x in lines[:line]) + col
            if len(src) != len(text):  # not ASCII: tree-sitter counts bytes
                chars = len(text[:chars].encode("utf-8", "replace"))
            node_info = _classify(tree, chars, src)
            if not node_info and tree.root_node.has_error:
                # Mid-typing code (an unclosed quote) can parse as an error elsewhere.
                node_info = _text_classify(left, language) or node_info
    if node_info is None:
        node_info = _text_classify(left, language or language_id)

    if node_info == "comment" and not allow_in_comments:
        return _skip("in a comment")
    if node_info == "string" and not allow_in_strings:
        return _skip("in a string")
    if node_info == "empty_body" or (not left.strip() and not right.strip() and
                                     _after_block_opener(lines, line, language or language_id)):
        return _multi("empty block body")
    return _single(node_info if node_info in ("comment", "string") else "code")


def _classify(tree: Tree, offset: int, src: bytes) -> str | None:
    """"comment", "string", "empty_body", "error" or "" (plain code) at a byte offset."""
    root = tree.root_node
    candidates: list[Node] = []
    node = root.descendant_for_byte_range(offset, offset)
    if node is not None:
        candidates.append(node)
    if offset > 0:
        before = root.descendant_for_byte_range(offset - 1, offset - 1)
        if before is not None and before != node:
            candidates.append(before)
    in_error = False
    for start in candidates:
        n: Node | None = start
        depth = 0
        while n is not None and depth < 8:
            t = n.type
            if t in _STRING_STOPS:
                return "interpolation"  # code inside an f-string or a template literal
            if "comment" in t:
                closed = src[max(n.start_byte, n.end_byte - 2) : n.end_byte] == b"*/"
                if n.start_byte < offset < n.end_byte or (
                    offset == n.end_byte and not closed and n.start_byte < offset
                ):
                    return "comment"
            elif ("string" in t or t in ("char_literal", "character_literal", "heredoc_body")) \
                    and n.start_byte < offset < n.end_byte:
                return "string"
            if t == "ERROR":
                in_error = True
            n = n.parent
            depth += 1
    if in_error:
        return None  # the tree cannot be trusted here; use the text rules
    if node is not None and _is_empty_body(node, offset):
        return "empty_body"
    return ""


def _is_empty_body(node: Node, offset: int) -> bool:
    n: Node | None = node
    for _ in range(3):
        if n is None:
            return False
        if n.type in _BODY_TYPES and n.start_byte <= offset <= n.end_byte:
            return not any("comment" not in c.type for c in n.named_children)
        n = n.parent
    return False


def _text_classify(left: str, language: str) -> str:
    """Comment or string from the text left of the cursor, for languages without a grammar."""
    markers = _LINE_COMMENT.get(language, ("//", "#"))
    quote: str | None = None
    i = 0
    while i < len(left):
        c = left[i]
        if quote:
            if c == "\\":
                i += 2
                continue
            if c == quote:
                quote = None
        elif c in "\"'`":
            quote = c
        elif any(left.startswith(m, i) for m in markers):
            return "comment"
        i += 1
    return "string" if quote else ""


def _after_block_opener(lines: list[str], line: int, language: str) -> bool:
    """The previous non-blank line opens a block and nothing deeper follows the cursor."""
    prev = line - 1
    while prev >= 0 and not lines[prev].strip():
        prev -= 1
    if prev < 0:
        return False
    opener = lines[prev].rstrip()
    if not (opener.endswith(_BLOCK_OPENERS) or _DO_BLOCK.search(opener)
            or (language in _END_LANGUAGES and _KEYWORD_BLOCK.match(opener))):
        return False
    indent = len(opener) - len(opener.lstrip())
    nxt = line + 1
    while nxt < len(lines) and not lines[nxt].strip():
        nxt += 1
    if nxt >= len(lines):
        return True
    following = lines[nxt]
    return len(following) - len(following.lstrip()) <= indent
