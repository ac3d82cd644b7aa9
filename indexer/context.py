"""Repository context for a completion prompt, within a token budget.

Four sources: definitions (signature and short body) of the names used near the cursor and of
the imported names, from other files; the enclosing scope when it starts far above the cursor;
the most similar window of lines from recently edited or open files (token Jaccard over
sliding windows, as Copilot does); and, when the cursor follows `module.` or `Class.` of an
import, an outline of that module's or class's members. Chunks are ordered so that what changes
least comes first: definitions (sorted by path), then the scope, the snippets and the outline,
so a model's KV cache can reuse the longest prefix across keystrokes. Files the context policy
excludes never contribute.
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
import threading
from collections import Counter, OrderedDict
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
OUTLINE_PRIORITY = -1.0  # the members of what the cursor is a member of: needed right now
OUTLINE_SHARE = 2  # an outline takes at most 1/OUTLINE_SHARE of the budget
OUTLINE_SIGNATURE_CHARS = 160
_CLASS_KINDS = frozenset({"class", "struct", "interface", "trait", "enum", "type", "namespace",
                          "module"})


@dataclass
class _Imports:
    names: dict[str, tuple[str, list[str]]]  # local name -> (name where defined, module paths)
    modules: dict[str, list[str]]  # local name -> paths of the module its members come from
    namespaces: dict[str, list[str]]  # local names bound to a whole module -> its paths
    star: bool  # a star import brings names the file does not spell out


def _imports(symbols: FileSymbols | None, rel: str) -> _Imports:
    out = _Imports({}, {}, {}, False)
    if symbols is None:
        return out
    language = symbols.language
    for imp in symbols.imports:
        suffixes = resolve.module_paths(language, rel, imp)
        if imp.name == "*":
            out.star = True
        if imp.name in ("", "*", "default"):
            local = imp.alias or (imp.module.strip(".") if imp.name == "" else "")
            if local and (imp.alias or "." not in local):
                out.modules[local] = suffixes
                if imp.name != "default":
                    out.namespaces[local] = suffixes
        else:
            local = imp.alias or imp.name
            out.names[local] = (imp.name, suffixes)
            out.modules.setdefault(local, suffixes)  # `from pkg import module`
            sub = resolve.submodule_paths(language, rel, imp)
            if sub:
                out.namespaces.setdefault(local, sub)
    return out


def _wanted_names(
    near: dict[str, tuple[float, str]], symbols: FileSymbols | None, imports: _Imports,
    text: str,
) -> dict[str, _Wanted]:
    """What to look up: imported names (where their module is), and other free names.
    The file's `text` tells imported names not used yet."""
    local = {s.name for s in symbols.definitions} if symbols else set()
    language = symbols.language if symbols else ""
    wanted: dict[str, _Wanted] = {}
    for name, (distance, qualifier) in near.items():
        if qualifier and qualifier in imports.modules:
            wanted[name] = _Wanted(name, distance, imports.modules[qualifier])
        elif name in imports.names:
            target, suffixes = imports.names[name]
            wanted[name] = _Wanted(target, distance, suffixes)
        elif not qualifier and name not in local and (
            language not in _EXPLICIT_IMPORTS or imports.star
        ):
            wanted[name] = _Wanted(name, distance + 10.0, None)
        # An attribute of something else (`self.x`, `obj.method`): its type is unknown.
    for name, (target, suffixes) in imports.names.items():
        if name not in wanted:
            # Seen once: in the import itself (a substring count errs towards "used").
            unused = text.count(name) <= 1
            priority = UNUSED_IMPORT_PRIORITY if unused else FAR_IMPORT_PRIORITY
            wanted[name] = _Wanted(target, priority, suffixes)
    return wanted


_MEMBER_AT_CURSOR = re.compile(r"([A-Za-z_$][\w$]*)\s*(?:\.|::)\s*([A-Za-z_$][\w$]*)?$")
_SUBWORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
# Where what follows `module.` must be a type: a base class, isinstance's second argument, an
# exception, a return annotation.
_TYPE_EXPECTED = re.compile(
    r"(\bclass\s+\w+\s*\([^)]*|\b(?:isinstance|issubclass)\s*\(.*,\s*\(?[^,]*"
    r"|\b(?:except|raise)\b[^:]*|->\s*)$"
)


def _subwords(name: str) -> set[str]:
    """Lower-case parts of an identifier, cut to 6 letters (a crude stem: `validator` and
    `validate` meet)."""
    return {w.lower()[:6] for w in _SUBWORD.findall(name) if len(w) > 1}


@dataclass
class _Outline:
    piece: _Piece
    covered: str  # the class the outline shows ("" for a module)
    imported_as: str  # what other files import to use these members (module or class name)
    anchor: int  # the column right after the dot: the context depends on nothing after it


def _member_outline(
    index: WorkspaceIndex, rel: str, imports: _Imports, text: str, lines: list[str],
    line: int, col: int, allowed: Callable[[str], bool], cap_tokens: int,
) -> _Outline | None:
    """When the cursor follows `module.` or `Class.` (an import from another file): an outline
    of that module's or class's members, those that fit, ranked by what the code around the
    cursor suggests."""
    before = lines[line][max(0, col - 200) : col]  # bounded: minified files have long lines
    m = _MEMBER_AT_CURSOR.search(before)
    if m is None:
        return None
    # What follows the dot is left out on purpose: the context must not change while the user
    # types the member's name, or the model's KV cache would be lost on every keystroke.
    qualifier, anchor = m.group(1), col - len(m.group(2) or "")
    header, members, path, covered = "", [], "", ""
    for candidate in index.module_files(imports.namespaces.get(qualifier, [])):
        if candidate != rel and allowed(candidate):
            path = candidate
            members = [s for s in index.indexed_symbols(candidate) if s.parent < 0]
            break
    if not path and qualifier in imports.names:
        target, suffixes = imports.names[qualifier]
        classes = [s for s in index.lookup([target])
                   if s.kind in _CLASS_KINDS and s.path != rel and allowed(s.path)
                   and resolve.path_matches(s.path, suffixes)]
        if classes:
            cls = min(classes, key=lambda s: (s.parent >= 0, s.path, s.start))
            path, header, covered = cls.path, cls.signature, cls.name
            members = [s for s in index.indexed_symbols(cls.path) if s.parent == cls.idx]
    if not members:
        return None
    words: set[str] = set()
    for i in range(max(0, line - 5), line + 1):
        for ident in _idents(lines[i][:anchor] if i == line else lines[i]):
            words |= _subwords(ident)
    wants_type = bool(_TYPE_EXPECTED.search(before[: m.start()]))
    # Members the file uses already (on other lines: the cursor's must not change the answer).
    start = sum(len(ln) + 1 for ln in lines[:line])
    end = start + len(lines[line])
    shown = {u.group(1) for u in re.finditer(rf"\b{re.escape(qualifier)}\s*\.\s*(\w+)", text)
             if not start <= u.start() <= end}
    # How often the other members' signatures name a member (base classes, parameter types):
    # the module's own idea of what is central.
    mentions = Counter(_idents(" ".join(s.signature for s in members)))

    def rank(sym: IndexedSymbol) -> tuple:
        name = sym.name
        return (
            name in shown,  # the model sees this one in the file already
            wants_type and sym.kind not in _CLASS_KINDS,
            -len(_subwords(name) & words),
            name.startswith("__") and name.endswith("__"),
            name.startswith("_"),
            -mentions[name],
            sym.idx,
        )

    indent = "    " if header else ""
    chosen: list[IndexedSymbol] = []
    used = estimate_tokens(header) + 8
    for sym in sorted(members, key=rank):
        cost = estimate_tokens(sym.signature[:OUTLINE_SIGNATURE_CHARS]) + 1
        if used + cost > cap_tokens:
            break
        chosen.append(sym)
        used += cost
    if not chosen:
        return None
    body = [indent + s.signature[:OUTLINE_SIGNATURE_CHARS]
            for s in sorted(chosen, key=lambda s: s.idx)]
    outline = "\n".join([header, *body] if header else body)
    stem = posixpath.splitext(path)[0]
    module = posixpath.basename(posixpath.dirname(stem) if stem.endswith("/__init__") else stem)
    return _Outline(_Piece(path, outline, "outline", -1, OUTLINE_PRIORITY), covered,
                    covered or module, anchor)


def _definition_pieces(
    index: WorkspaceIndex,
    rel: str,
    symbols: FileSymbols | None,
    text: str,
    lines: list[str],
    line: int,
    col: int,
    allowed: Callable[[str], bool],
    imports: _Imports,
    outline: _Outline | None,
) -> list[_Piece]:
    pieces: list[_Piece] = [outline.piece] if outline else []
    covered = outline.covered if outline else ""
    wanted = _wanted_names(_names_near(lines, line, col), symbols, imports, text)
    if not wanted:
        return pieces
    by_name: dict[str, list[IndexedSymbol]] = {}
    for sym in index.lookup({w.target for w in wanted.values()}):
        if sym.path != rel:
            by_name.setdefault(sym.name, []).append(sym)
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
            if sym.name == covered and sym.kind in _CLASS_KINDS:
                continue  # the outline shows this class already
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
        tokens = _tokens_of(lines[start : start + size])
        if tokens:
            out.append((start, tokens))
    return out


def _tokens_of(lines: Sequence[str]) -> set[str]:
    """The identifiers of some lines, as a set (what windows are compared by)."""
    return set(_idents("\n".join(lines)))


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def _snippet_pieces(
    rel: str, lines: list[str], line: int, recent: Sequence[tuple[str, str]],
    rel_of: Callable[[str], str], allowed: Callable[[str], bool],
) -> list[_Piece]:
    """The best window of each file by token Jaccard with the lines above the cursor."""
    query = _tokens_of(lines[max(0, line - SNIPPET_WINDOW + 1) : line + 1])
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
            score = _jaccard(query, tokens)
            if best is None or score > best[0]:
                best = (score, start)
        if best is not None and best[0] >= SNIPPET_MIN_SCORE:
            text = "\n".join(other_lines[best[1] : best[1] + SNIPPET_WINDOW]).strip("\n")
            found.append((best[0], other_rel, best[1], text))
    found.sort(key=lambda f: (-f[0], f[1]))
    return [_Piece(r, t, "snippet", start, 200.0 - score)
            for score, r, start, t in found[:MAX_SNIPPETS]]


USAGE_FILES = 6  # files that show a use, at most, for examples of a module's use
USAGE_CANDIDATES = 16  # files read, at most, looking for them
USES_PER_FILE = 8  # windows scored per file (each ends at a use)


def _usage_pieces(
    index: WorkspaceIndex, rel: str, lines: list[str], line: int, outline: _Outline,
    allowed: Callable[[str], bool],
) -> list[_Piece]:
    """How other files that import `name` use it: of the windows ending at a use, the one most
    like the code above the cursor (token Jaccard), per file, files in the same folder first.
    What a project does elsewhere with a module is the best hint of what this line does."""
    name = outline.imported_as
    use = re.compile(rf"\b{re.escape(name)}\s*\.\s*[A-Za-z_]")
    query = _tokens_of([*lines[max(0, line - SNIPPET_WINDOW + 1) : line],
                           lines[line][: outline.anchor]])
    if not query:
        return []
    here = os.path.dirname(rel)
    candidates = sorted(index.files_importing(name),
                        key=lambda p: (os.path.dirname(p) != here, p))[:USAGE_CANDIDATES]
    found: list[tuple[float, str, int, str]] = []
    for path in candidates:
        if len(found) >= USAGE_FILES:
            break
        if path == rel or not allowed(path):
            continue
        other = index.text_of(path) or ""
        other_lines: list[str] | None = None
        best: tuple[float, int, int] | None = None
        end, counted = 0, 0  # the line of the use, and where its count stopped
        for k, m in enumerate(use.finditer(other)):
            if k >= USES_PER_FILE:
                break
            if other_lines is None:
                other_lines = other.split("\n")
            end += other.count("\n", counted, m.start())
            counted = m.start()
            first = max(0, end - SNIPPET_WINDOW + 1)
            score = _jaccard(query, _tokens_of(other_lines[first : end + 1]))
            if best is None or score > best[0]:
                best = (score, first, end)
        if best is not None and other_lines is not None:
            score, first, end = best
            found.append((score, path, first, "\n".join(other_lines[first : end + 1])))
    found.sort(key=lambda f: (-f[0], f[1]))
    return [_Piece(p, text, "usage", first, 200.0 - score)
            for score, p, first, text in found[:MAX_SNIPPETS]]


_member_cache: OrderedDict[tuple, tuple[_Outline | None, list[_Piece]]] = OrderedDict()
_member_lock = threading.Lock()


def _member_context(
    index: WorkspaceIndex, rel: str, imports: _Imports, text: str, lines: list[str],
    line: int, col: int, allowed: Callable[[str], bool], cap_tokens: int,
) -> tuple[_Outline | None, list[_Piece]]:
    """The outline and other files' uses for a cursor after `module.`, computed once per
    document state up to the dot: typing the member's name asks again on every keystroke and
    gets the same answer (other files changing meanwhile show at the next edit elsewhere)."""
    m = _MEMBER_AT_CURSOR.search(lines[line][max(0, col - 200) : col])
    if m is None:
        return None, []
    anchor = col - len(m.group(2) or "")
    start = sum(len(ln) + 1 for ln in lines[:line])
    key = (str(index.root), rel, line, lines[line][:anchor], hash(text[:start]),
           hash(text[start + len(lines[line]) :]), cap_tokens)
    with _member_lock:
        hit = _member_cache.get(key)
        if hit is not None:
            _member_cache.move_to_end(key)
    if hit is not None:  # the context policy may have changed since: ask it again
        outline, usages = hit
        if outline is None or not allowed(outline.piece.path):
            return None, []
        return outline, [u for u in usages if allowed(u.path)]
    outline = _member_outline(index, rel, imports, text, lines, line, col, allowed, cap_tokens)
    usages = _usage_pieces(index, rel, lines, line, outline, allowed) if outline else []
    with _member_lock:
        _member_cache[key] = (outline, usages)
        while len(_member_cache) > 16:
            _member_cache.popitem(last=False)
    return outline, usages


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

    definitions: list[_Piece] = []
    usages: list[_Piece] = []
    if index is not None:
        imports = _imports(symbols, rel)
        outline, usages = _member_context(index, rel, imports, text, lines, line, col,
                                          allowed, budget_tokens // OUTLINE_SHARE)
        definitions = _definition_pieces(index, rel, symbols, text, lines, line, col, allowed,
                                         imports, outline)
    scope = _scope_piece(symbols, rel, lines, line, col)
    snippets = _snippet_pieces(rel, lines, line, recent, rel_of, allowed)
    recent_paths = {p.path for p in snippets}
    snippets = sorted([*snippets, *(u for u in usages if u.path not in recent_paths)],
                      key=lambda p: p.priority)[:MAX_SNIPPETS]

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
            if used + cost > limit and piece.kind in ("snippet", "usage"):
                piece = _tail_within(piece, limit - used - 8)
                cost = estimate_tokens(piece.text) + 8 if piece else cost
            if piece is None or used + cost > limit:
                continue
            chosen.append(piece)
            seen_text.add(key)
            used += cost
    return _ordered_chunks(chosen)


MIN_SNIPPET_LINES = 3


def _tail_within(piece: _Piece, tokens: int) -> _Piece | None:
    """A snippet cut to its last lines (those nearest what matched) that fit `tokens`."""
    lines = piece.text.split("\n")
    while lines and estimate_tokens("\n".join(lines)) > tokens:
        lines.pop(0)
    if len(lines) < MIN_SNIPPET_LINES:
        return None
    return _Piece(piece.path, "\n".join(lines), piece.kind, piece.line, piece.priority)


def _ordered_chunks(pieces: list[_Piece]) -> list[ContextChunk]:
    """Definitions grouped per file (sorted by path), then scope, snippets, the outline of
    what the cursor is a member of and other files' uses of it: these change with the cursor,
    and a small model heeds best what sits right before the code."""
    order = {"definition": 0, "scope": 1, "snippet": 2, "outline": 3, "usage": 4}
    grouped: dict[tuple[int, str], list[_Piece]] = {}
    for piece in pieces:
        grouped.setdefault((order[piece.kind], piece.path), []).append(piece)
    chunks = []
    for (rank, path), group in sorted(grouped.items()):
        group.sort(key=lambda p: p.line)
        kind = next(k for k, v in order.items() if v == rank)
        chunks.append(ContextChunk(path=path, text="\n\n".join(p.text for p in group), kind=kind))
    return chunks
