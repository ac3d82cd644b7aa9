"""One file's bytes -> its definitions, imports and used identifiers (tree-sitter, table-driven).

The walk only descends into nodes that can hold definitions (modules, class-like bodies,
namespaces, export wrappers, preprocessor blocks), never into function bodies, so its cost
grows with the number of definitions rather than with the size of the tree. Used identifiers
come from a tree-sitter query, which runs in C.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from tree_sitter import Node, Query, QueryCursor, Tree

from indexer.languages import grammar, parser_for
from indexer.rules import RULES, SIGNATURE_MAX_CHARS, Rules
from indexer.symbols import FileSymbols, Import, Pos, Symbol

__all__ = [
    "FileSymbols", "Import", "Pos", "Symbol", "extract", "extract_tree", "header_language",
    "identifiers_in", "parse",
]

# Kinds: function, method, constructor, class, struct, interface, trait, enum, enum_member,
# type, module, namespace, constant, variable, field, property, macro.
CLASS_LIKE = frozenset({"class", "struct", "interface", "trait", "enum", "impl"})
SNIPPET_MAX_LINES = 10
SNIPPET_MAX_CHARS = 1200
# Deeper nesting is not entered (pathological or generated code), so recursion stays bounded.
MAX_NESTING = 50  # class-like scopes
MAX_DEPTH = 150  # any visited node


# --------------------------------------------------------------------------- engine


class _Lines:
    """Byte offsets -> code-point columns (cheap for ASCII files, the common case)."""

    __slots__ = ("_ascii", "_lines")

    def __init__(self, src: bytes) -> None:
        self._ascii = src.isascii()
        self._lines = None if self._ascii else src.split(b"\n")

    def pos(self, point: tuple[int, int]) -> Pos:
        row, col = point
        if self._ascii or self._lines is None or row >= len(self._lines):
            return (row, col)
        return (row, len(self._lines[row][:col].decode("utf-8", "replace")))


@dataclass
class _Scope:
    index: int
    name: str
    kind: str


class Extractor:
    def __init__(self, src: bytes, rules: Rules) -> None:
        self.src = src
        self.rules = rules
        self.lines = _Lines(src)
        self.defs: list[Symbol] = []
        self.imports: list[Import] = []
        self.scopes: list[_Scope] = []
        self._src_lines: list[bytes] | None = None
        self._depth = 0

    # helpers used by the rule handlers
    def text(self, node: Node | None) -> str:
        if node is None:
            return ""
        return self.src[node.start_byte : node.end_byte].decode("utf-8", "replace")

    @property
    def in_class(self) -> bool:
        return bool(self.scopes) and self.scopes[-1].kind in CLASS_LIKE

    @property
    def at_top(self) -> bool:
        return not self.scopes or self.scopes[-1].kind in ("module", "namespace")

    def visit(self, node: Node) -> None:
        if self._depth >= MAX_DEPTH:
            return  # deeper wrappers (nested ifs, namespaces) are not entered
        self._depth += 1
        try:
            handlers = self.rules.handlers
            for child in node.named_children:
                handler = handlers.get(child.type)
                if handler is not None:
                    handler(self, child)
        finally:
            self._depth -= 1

    def add(
        self,
        node: Node,
        name: Node | str | None,
        kind: str,
        *,
        body: Node | None = None,
        sig_node: Node | None = None,
        scope_name: str | None = None,
        display: str | None = None,
    ) -> int:
        """Record a definition; when `body` is given, its members are visited inside it."""
        if name is None:
            return -1
        if isinstance(name, str):
            name_text, name_node = name, node
        else:
            name_text, name_node = self.text(name), name
        name_text = (display if display is not None else name_text).strip()
        if not name_text:
            return -1
        parent = self.scopes[-1].index if self.scopes else -1
        sym = Symbol(
            name=name_text,
            kind=kind,
            start=self.lines.pos(node.start_point),
            end=self.lines.pos(node.end_point),
            name_start=self.lines.pos(name_node.start_point),
            name_end=self.lines.pos(name_node.end_point),
            scope=scope_name if scope_name is not None else ".".join(s.name for s in self.scopes),
            signature=self._signature(sig_node or node),
            doc=self.rules.doc(self, node),
            parent=parent,
        )
        index = len(self.defs)
        self.defs.append(sym)
        if body is not None and len(self.scopes) < MAX_NESTING:
            self.scopes.append(_Scope(index, name_text, "impl" if kind == "impl" else kind))
            try:
                self.visit(body)
            finally:
                self.scopes.pop()
        return index

    def in_scope(self, name: str, kind: str, body: Node) -> None:
        """Visit `body` as members of `name` without recording a symbol (Rust's impl blocks)."""
        self.scopes.append(_Scope(self.scopes[-1].index if self.scopes else -1, name, kind))
        try:
            self.visit(body)
        finally:
            self.scopes.pop()

    def _signature(self, node: Node) -> str:
        """The definition's head: its text up to the body, comments left out, on one line."""
        body = node.child_by_field_name("body")
        if body is not None and body.start_byte > node.start_byte:
            end = node.start_byte
            for child in node.children:
                if child.start_byte >= body.start_byte:
                    break
                if "comment" not in child.type:
                    end = child.end_byte
        else:
            nl = self.src.find(b"\n", node.start_byte, node.end_byte)
            end = nl if nl >= 0 else node.end_byte
        raw = self.src[node.start_byte : end].decode("utf-8", "replace")
        sig = " ".join(raw.split())
        sig = sig.rstrip("{:").rstrip()
        if len(sig) > SIGNATURE_MAX_CHARS:
            sig = sig[: SIGNATURE_MAX_CHARS - 1] + "…"
        return sig

    def source_lines(self) -> list[bytes]:
        if self._src_lines is None:
            self._src_lines = self.src.split(b"\n")
        return self._src_lines


_queries: dict[str, Query] = {}


def _identifier_query(language: str) -> Query | None:
    query = _queries.get(language)
    if query is None:
        lang = grammar(language)
        if lang is None:
            return None
        query = _queries[language] = Query(lang, RULES[language].identifier_query)
    return query


# --------------------------------------------------------------------------- snippets


def _line_slice(lines: list[bytes], start: int, end: int) -> list[str]:
    return [b.decode("utf-8", "replace").rstrip() for b in lines[start : end + 1]]


def _make_snippets(ex: Extractor) -> None:
    """Signature + short body for each definition; class-likes list their members."""
    lines = ex.source_lines()
    children: dict[int, list[int]] = {}
    for i, sym in enumerate(ex.defs):
        if sym.parent >= 0:
            children.setdefault(sym.parent, []).append(i)
    for i, sym in enumerate(ex.defs):
        first, last = sym.start[0], sym.end[0]
        if last - first + 1 <= SNIPPET_MAX_LINES:
            body = _line_slice(lines, first, last)
        elif i in children and sym.kind not in ("function", "method"):
            body = _line_slice(lines, first, min(last, first + 2))
            seen = {first, first + 1, first + 2}
            for child in children[i][:30]:
                c = ex.defs[child]
                line = c.start[0]
                if line in seen or line >= len(lines):
                    continue
                seen.add(line)
                text = lines[line].decode("utf-8", "replace").rstrip()
                body.append(text if len(text) < SIGNATURE_MAX_CHARS else text[:SIGNATURE_MAX_CHARS])
            body.append(_indent_of(body[-1] if len(body) > 1 else body[0]) + "...")
        else:
            body = _line_slice(lines, first, first + 3)
            body.append(_indent_of(body[-1]) + "...")
        # The first line starts at the definition's column; keep its real indentation.
        snippet = textwrap.dedent("\n".join(body))
        sym.snippet = snippet[:SNIPPET_MAX_CHARS]


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


# --------------------------------------------------------------------------- entry points


def parse(language: str, src: bytes, old_tree: Tree | None = None) -> Tree | None:
    parser = parser_for(language)
    if parser is None:
        return None
    return parser.parse(src, old_tree) if old_tree is not None else parser.parse(src)


def identifiers_in(
    language: str, src: bytes, tree: Tree, byte_range: tuple[int, int] | None = None
) -> frozenset[str]:
    """Identifiers used in the file, or in one byte range of it."""
    query = _identifier_query(language)
    if query is None:
        return frozenset()
    cursor = QueryCursor(query)
    if byte_range is not None:
        cursor.set_byte_range(*byte_range)
    nodes = cursor.captures(tree.root_node).get("id", ())
    return frozenset({src[n.start_byte : n.end_byte].decode("utf-8", "replace") for n in nodes})


def extract_tree(
    path: str, language: str, src: bytes, tree: Tree, identifiers: frozenset[str] | None = None
) -> FileSymbols:
    """Symbols of an already parsed file (`identifiers`, when known, skips their query)."""
    rules = RULES[language]
    ex = Extractor(src, rules)
    root = tree.root_node
    ex.visit(root)
    _make_snippets(ex)
    if identifiers is None:
        identifiers = identifiers_in(language, src, tree)
    return FileSymbols(
        path=path,
        language=language,
        definitions=ex.defs,
        imports=list(dict.fromkeys(ex.imports)),
        identifiers=identifiers,
        line_count=src.count(b"\n") + 1,
        has_errors=root.has_error,
    )


def extract(path: str, language: str, src: bytes) -> FileSymbols:
    """Parse and extract one file; an unknown language gives an empty result."""
    if language not in RULES:
        return FileSymbols(path=path, language=language, line_count=src.count(b"\n") + 1)
    tree = parse(language, src)
    if tree is None:
        return FileSymbols(path=path, language=language, line_count=src.count(b"\n") + 1)
    language, tree = header_language(path, language, src, tree)
    return extract_tree(path, language, src, tree)


def header_language(path: str, language: str, src: bytes, tree: Tree) -> tuple[str, Tree]:
    """A `.h` file is C or C++: when C cannot parse it cleanly, C++ gets a try."""
    if language != "c" or not tree.root_node.has_error or not path.lower().endswith(".h"):
        return language, tree
    cpp_tree = parse("cpp", src)
    if cpp_tree is not None and not cpp_tree.root_node.has_error:
        return "cpp", cpp_tree
    return language, tree
