"""Repository context for a completion prompt, within a token budget.

Three sources: definitions (signature and short body) of the names used near the cursor and of
the imported names, from other files; the enclosing scope when it starts far above the cursor;
and the most similar window of lines from recently edited or open files (token Jaccard over
sliding windows, as Copilot does). Chunks are ordered so that what changes least comes first:
definitions (sorted by path), then the scope, then the snippets, so a model's KV cache can
reuse the longest prefix across keystrokes. Files the context policy excludes never contribute.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from indexer import resolve
from indexer.extract import FileSymbols, Symbol, extract
from indexer.ignore import ContextPolicy
from indexer.languages import language_for_path
from indexer.privacy import is_secret_path
from indexer.store import IndexedSymbol
from indexer.workspace import WorkspaceIndex
from tiers.base import ContextChunk

log = logging.getLogger(__name__)

NEAR_LINES_ABOVE = 20  # names used this far above the cursor count as "near"
NEAR_LINES_BELOW = 3
SCOPE_WINDOW_LINES = 40  # an enclosing scope starting further above is shown as context
SNIPPET_WINDOW = 20  # lines per similar-snippet window (query and candidates)
SNIPPET_MIN_SCORE = 0.15
MAX_SNIPPETS = 3
MAX_DEFS_PER_NAME = 2
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_COMMON = frozenset({
    "self", "this", "cls", "super", "None", "True", "False", "null", "nil", "true", "false",
    "undefined", "return", "def", "class", "if", "else", "elif", "for", "while", "in", "is",
    "not", "and", "or", "import", "from", "as", "with", "try", "except", "finally", "raise",
    "pass", "break", "continue", "lambda", "yield", "async", "await", "function", "const",
    "let", "var", "new", "delete", "typeof", "instanceof", "void", "static", "public",
    "private", "protected", "final", "int", "float", "double", "char", "bool", "string",
    "str", "list", "dict", "set", "tuple", "object", "len", "print", "range", "type",
    "func", "go", "package", "struct", "impl", "fn", "pub", "mut", "use", "mod", "match",
    "enum", "trait", "where", "end", "do", "then", "begin", "module", "require",
})


def estimate_tokens(text: str) -> int:
    """About 3.5 characters per token for code (cheap; no tokenizer needed)."""
    return (len(text) * 2 + 6) // 7


@dataclass
class _Piece:
    path: str
    text: str
    kind: str
    line: int  # for ordering inside one file
    priority: float  # lower is more important


def _idents(text: str) -> list[str]:
    return _IDENT.findall(text)


def _current_symbols(
    index: WorkspaceIndex | None, rel: str, path: str, text: str
) -> FileSymbols | None:
    language = language_for_path(path)
    if language is None:
        return None
    if index is not None:
        open_symbols = index.file_symbols(rel)
        doc_text = index.text_of(rel) if open_symbols is not None else None
        if open_symbols is not None and doc_text == text:
            return open_symbols
    try:
        return extract(rel, language, text.encode("utf-8", "replace"))
    except (ValueError, RuntimeError, RecursionError) as exc:
        log.debug("cannot parse %s for context: %s", rel, exc)
        return None


def _names_near(lines: list[str], line: int, col: int) -> dict[str, tuple[float, str]]:
    """Names used around the cursor -> (distance, qualifier), the current line's prefix being
    closest; the qualifier is the name before a dot (`mod` in `mod.func`), or ""."""
    names: dict[str, tuple[float, str]] = {}
    first = max(0, line - NEAR_LINES_ABOVE)
    last = min(len(lines) - 1, line + NEAR_LINES_BELOW)
    for i in range(first, last + 1):
        text = lines[i][:col] if i == line else lines[i]
        distance = float(abs(line - i)) + (0.5 if i > line else 0.0)
        previous: re.Match[str] | None = None
        for m in _IDENT.finditer(text):
            name = m.group(0)
            qualifier = ""
            if text[: m.start()].rstrip().endswith("."):
                # An attribute: of a known name (`mod.func`), or of an expression (".").
                between = text[previous.end() : m.start()] if previous is not None else ""
                qualifier = previous.group(0) if previous and between.strip() == "." else "."
            previous = m
            if len(name) < 2 or name in _COMMON:
                continue
            if name not in names or distance < names[name][0]:
                names[name] = (distance, qualifier)
    return names


# Languages where a name from another file is always imported: other free names are
# builtins or locals, not worth a lookup (unless a star import brings unknown names).
_EXPLICIT_IMPORTS = frozenset({"python", "javascript", "typescript", "tsx"})


@dataclass
class _Wanted:
    target: str  # the name as defined
    priority: float
    suffixes: list[str] | None  # where it must be defined (an import), None: anywhere


# Priorities (lower first) of imported names not used near the cursor: one imported but not
# used anywhere yet is likely what the next lines are about to use.
UNUSED_IMPORT_PRIORITY = 30.0
FAR_IMPORT_PRIORITY = 100.0


def _wanted_names(
    near: dict[str, tuple[float, str]], symbols: FileSymbols | None, rel: str, text: str,
) -> dict[str, _Wanted]:
    """What to look up: imported names (where their module is), and other free names.
    The file's `text` tells imported names not used yet."""
    local = {s.name for s in symbols.definitions} if symbols else set()
    language = symbols.language if symbols else ""
    imported: dict[str, tuple[str, list[str]]] = {}  # local name -> (defined name, module)
    modules: dict[str, list[str]] = {}  # local name of an imported module -> its paths
    for imp in symbols.imports if symbols else ():
        suffixes = resolve.module_paths(language, rel, imp)
        if imp.name in ("", "*", "default"):
            if imp.alias:
                modules[imp.alias] = suffixes
            elif imp.name == "" and "." not in imp.module.strip("."):
                modules[imp.module.strip(".")] = suffixes
        else:
            local_name = imp.alias or imp.name
            imported[local_name] = (imp.name, suffixes)
            modules.setdefault(local_name, suffixes)  # `from pkg import module`
    star_import = any(imp.name == "*" for imp in symbols.imports) if symbols else False
    wanted: dict[str, _Wanted] = {}
    for name, (distance, qualifier) in near.items():
        if qualifier and qualifier in modules:
            wanted[name] = _Wanted(name, distance, modules[qualifier])
        elif name in imported:
            target, suffixes = imported[name]
            wanted[name] = _Wanted(target, distance, suffixes)
        elif not qualifier and name not in local and (
            language not in _EXPLICIT_IMPORTS or star_import
        ):
            wanted[name] = _Wanted(name, distance + 10.0, None)
        # An attribute of something else (`self.x`, `obj.method`): its type is unknown.
    for name, (target, suffixes) in imported.items():
        if name not in wanted:
            # Seen once: in the import itself (a substring count errs towards "used").
            unused = text.count(name) <= 1
            priority = UNUSED_IMPORT_PRIORITY if unused else FAR_IMPORT_PRIORITY
            wanted[name] = _Wanted(target, priority, suffixes)
    return wanted


def _definition_pieces(
    index: WorkspaceIndex,
    rel: str,
    symbols: FileSymbols | None,
    text: str,
    lines: list[str],
    line: int,
    col: int,
    allowed: Callable[[str], bool],
) -> list[_Piece]:
    wanted = _wanted_names(_names_near(lines, line, col), symbols, rel, text)
    if not wanted:
        return []
    by_name: dict[str, list[IndexedSymbol]] = {}
    for sym in index.lookup({w.target for w in wanted.values()}):
        if sym.path != rel:
            by_name.setdefault(sym.name, []).append(sym)
    pieces: list[_Piece] = []
    here = os.path.dirname(rel)
    for want in sorted(wanted.values(), key=lambda w: (w.priority, w.target)):
        candidates = by_name.pop(want.target, [])
        if want.suffixes is not None:
            chosen = [s for s in candidates if resolve.path_matches(s.path, want.suffixes)]
        else:
            # A free name (same package, a header, a global): only unambiguous top-level
            # definitions are worth the budget.
            chosen = [s for s in candidates if s.parent < 0]
            if len({s.path for s in chosen}) > MAX_DEFS_PER_NAME:
                continue
        chosen = sorted(
            chosen,
            key=lambda s: (s.parent >= 0, os.path.dirname(s.path) != here, s.path, s.start),
        )[:MAX_DEFS_PER_NAME]
        for sym in chosen:
            if allowed(sym.path):
                pieces.append(_Piece(sym.path, sym.snippet or sym.signature, "definition",
                                     sym.start[0], want.priority))
    return pieces


def _scope_piece(symbols: FileSymbols | None, rel: str, lines: list[str], line: int,
                 col: int) -> _Piece | None:
    if symbols is None:
        return None
    chain = [s for s in symbols.definitions
             if s.kind not in ("variable", "constant", "field") and _encloses(s, lines, line, col)]
    chain.sort(key=lambda s: s.start)
    if not chain or chain[-1].start[0] >= line - SCOPE_WINDOW_LINES:
        return None
    heads = [lines[s.start[0]].rstrip() for s in chain if s.start[0] < len(lines)]
    return _Piece(rel, "\n".join(heads), "scope", chain[0].start[0], 50.0)


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip())


def _encloses(sym: Symbol, lines: list[str], line: int, col: int) -> bool:
    """The definition contains the cursor, or the cursor sits on the blank lines after its
    last statement, indented deeper than its header (typing the next statement)."""
    if sym.start > (line, col):
        return False
    if (line, col) <= sym.end:
        return True
    end_line = sym.end[0]
    if sym.start[0] >= len(lines) or lines[line][:col].strip():
        return False
    if any(lines[i].strip() for i in range(end_line + 1, line)):
        return False
    return col > _indent(lines[sym.start[0]])


_Windows = tuple[str, list[str], list[tuple[int, set[str]]]]
_window_cache: OrderedDict[tuple[int, int], _Windows] = OrderedDict()
_window_lock = threading.Lock()


def _file_windows(text: str) -> tuple[list[str], list[tuple[int, set[str]]]]:
    """Lines and token windows of a recent file, cached: the same files come back on every
    keystroke (a str caches its hash, so the key costs nothing the second time)."""
    key = (hash(text), len(text))
    with _window_lock:
        hit = _window_cache.get(key)
        if hit is not None and (hit[0] is text or hit[0] == text):
            _window_cache.move_to_end(key)
            return hit[1], hit[2]
    lines = text.split("\n")
    windows = _windows(lines, SNIPPET_WINDOW)
    with _window_lock:
        _window_cache[key] = (text, lines, windows)
        while len(_window_cache) > 32:
            _window_cache.popitem(last=False)
    return lines, windows


def _windows(lines: list[str], size: int) -> list[tuple[int, set[str]]]:
    step = max(1, size // 2)
    out = []
    for start in range(0, max(1, len(lines) - size + step), step):
        tokens = set(_idents("\n".join(lines[start : start + size])))
        if tokens:
            out.append((start, tokens))
    return out


def _snippet_pieces(
    rel: str, lines: list[str], line: int, recent: Sequence[tuple[str, str]],
    rel_of: Callable[[str], str], allowed: Callable[[str], bool],
) -> list[_Piece]:
    query = set(_idents("\n".join(lines[max(0, line - SNIPPET_WINDOW + 1) : line + 1])))
    if not query:
        return []
    found: list[tuple[float, str, int, str]] = []
    for other_path, other_text in recent:
        other_rel = rel_of(other_path)
        if other_rel == rel or not allowed(other_rel):
            continue
        other_lines, windows = _file_windows(other_text)
        best: tuple[float, int] | None = None
        for start, tokens in windows:
            score = len(query & tokens) / len(query | tokens)
            if best is None or score > best[0]:
                best = (score, start)
        if best is not None and best[0] >= SNIPPET_MIN_SCORE:
            text = "\n".join(other_lines[best[1] : best[1] + SNIPPET_WINDOW]).strip("\n")
            found.append((best[0], other_rel, best[1], text))
    found.sort(key=lambda f: (-f[0], f[1]))
    return [_Piece(r, t, "snippet", start, 200.0 - score)
            for score, r, start, t in found[:MAX_SNIPPETS]]


def gather_context(
    index: WorkspaceIndex | None,
    path: str,
    text: str,
    line: int,
    col: int,
    *,
    budget_tokens: int = 1024,
    recent: Sequence[tuple[str, str]] = (),
    policy: ContextPolicy | None = None,
) -> list[ContextChunk]:
    """Context chunks for a cursor, most stable first; never from excluded files."""
    if budget_tokens <= 0:
        return []
    if policy is None and index is not None:
        policy = index.context_policy()

    def rel_of(p: str) -> str:
        if index is not None:
            r = index.rel(p)
            if r is not None:
                return r
        elif policy is not None:
            r = policy.relative(p)
            if r is not None:
                return r
        return Path(p).as_posix()

    decisions: dict[str, bool] = {}

    def allowed(r: str) -> bool:
        decision = decisions.get(r)
        if decision is None:
            if is_secret_path(r):
                decision = False
            elif policy is None:
                decision = True
            else:
                abs_path = index.abs(r) if index is not None and not os.path.isabs(r) else Path(r)
                decision = policy.allows(abs_path)
            decisions[r] = decision
        return decision

    rel = rel_of(path)
    lines = text.split("\n")
    line = max(0, min(line, len(lines) - 1))
    col = max(0, min(col, len(lines[line])))
    symbols = _current_symbols(index, rel, path, text)

    definitions = (
        _definition_pieces(index, rel, symbols, text, lines, line, col, allowed)
        if index is not None else []
    )
    scope = _scope_piece(symbols, rel, lines, line, col)
    snippets = _snippet_pieces(rel, lines, line, recent, rel_of, allowed)

    # Spend the budget by importance: definitions, then scope, then snippets; snippets keep a
    # share when there are any, since they are what the user just looked at.
    chosen: list[_Piece] = []
    used = 0
    snippet_share = budget_tokens // 3 if snippets else 0
    seen_text: set[tuple[str, str]] = set()
    for group, limit in (
        (sorted(definitions, key=lambda p: (p.priority, p.path, p.line)),
         budget_tokens - snippet_share),
        ([scope] if scope else [], budget_tokens - snippet_share),
        (snippets, budget_tokens),
    ):
        for piece in group:
            key = (piece.path, piece.text)
            if key in seen_text:
                continue
            cost = estimate_tokens(piece.text) + 8  # the file header the template adds
            if used + cost > limit:
                continue
            chosen.append(piece)
            seen_text.add(key)
            used += cost
    return _ordered_chunks(chosen)


def _ordered_chunks(pieces: list[_Piece]) -> list[ContextChunk]:
    """Definitions grouped per file (sorted by path), then scope, then snippets."""
    order = {"definition": 0, "scope": 1, "snippet": 2}
    grouped: dict[tuple[int, str], list[_Piece]] = {}
    for piece in pieces:
        grouped.setdefault((order[piece.kind], piece.path), []).append(piece)
    chunks = []
    for (rank, path), group in sorted(grouped.items()):
        group.sort(key=lambda p: p.line)
        kind = next(k for k, v in order.items() if v == rank)
        chunks.append(ContextChunk(path=path, text="\n\n".join(p.text for p in group), kind=kind))
    return chunks
