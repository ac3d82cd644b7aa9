"""The workspace index: build from disk, follow open documents, answer symbol queries.

`build` walks the workspace and re-parses only files whose content hash changed (size and
mtime unchanged count as unchanged, as in git), in a process pool when there is much to
parse. Open documents are indexed from their in-memory text, each keeping its tree-sitter
tree so an edit re-parses incrementally; a build never overwrites an open document's rows.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import xxhash
from tree_sitter import Tree

from indexer import resolve
from indexer.extract import (
    FileSymbols,
    Pos,
    extract,
    extract_tree,
    header_language,
    identifiers_in,
)
from indexer.ignore import ContextPolicy
from indexer.incremental import Edit, apply_edits, changed_region, reparse
from indexer.languages import language_for_path, parser_for
from indexer.store import FileRecord, IndexedSymbol, Store, default_db_path
from indexer.walk import DEFAULT_MAX_BYTES, Cancel, SkipReason, Source, WalkEntry, read_source, walk

log = logging.getLogger(__name__)

__all__ = ["DocumentSymbol", "Edit", "IndexStats", "Location", "WorkspaceIndex"]

# What extraction can raise on a pathological file (deep nesting, a grammar error).
_EXTRACT_ERRORS = (ValueError, RuntimeError, RecursionError, MemoryError)
POOL_THRESHOLD = 200  # fewer files than this parse faster in-process than a pool starts
_WORD = re.compile(r"\w+")


@dataclass
class IndexStats:
    files: int = 0  # files in the index after the build
    parsed: int = 0  # files parsed by this build
    unchanged: int = 0
    removed: int = 0
    skipped: int = 0
    skipped_reasons: dict[str, int] = field(default_factory=dict)
    files_per_language: dict[str, int] = field(default_factory=dict)
    symbols_per_language: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    db_bytes: int = 0
    cancelled: bool = False
    rebuilt_reason: str = ""  # why an existing database was discarded on open

    @property
    def symbols(self) -> int:
        return sum(self.symbols_per_language.values())


@dataclass(frozen=True, slots=True)
class Location:
    path: Path  # absolute
    start: Pos
    end: Pos


@dataclass
class DocumentSymbol:
    name: str
    kind: str
    start: Pos
    end: Pos
    name_start: Pos
    name_end: Pos
    detail: str = ""  # the signature
    children: list[DocumentSymbol] = field(default_factory=list)


@dataclass
class _OpenDoc:
    language: str
    text: str
    src: bytes
    tree: Tree
    symbols: FileSymbols


class _AnyEvent:
    """Set when any of the events is set (a caller's cancel, or the index closing)."""

    def __init__(self, *events: threading.Event | None) -> None:
        self._events = [e for e in events if e is not None]

    def is_set(self) -> bool:
        return any(e.is_set() for e in self._events)


@dataclass(frozen=True, slots=True)
class _Parsed:
    symbols: FileSymbols
    digest: int
    size: int


def _index_one(job: tuple[str, str, str, int, int | None]) -> tuple[str, _Parsed | str | int]:
    """Read, hash and parse one file (runs in a pool worker). Unchanged content -> its size."""
    abs_path, rel, language, max_bytes, known = job
    src = read_source(Path(abs_path), max_bytes)
    if isinstance(src, SkipReason):
        return rel, str(src)
    if src.replaced:
        log.info("invalid UTF-8 in %s: decoded with replacement", rel)
    if known is not None and src.digest == known:
        return rel, src.size
    try:
        symbols = extract(rel, language, src.data)
    except _EXTRACT_ERRORS as exc:  # a grammar failing on a file
        return rel, f"parse failed: {exc}"
    return rel, _Parsed(symbols, src.digest, src.size)


def _pool_context() -> multiprocessing.context.BaseContext:
    # Never plain fork: the server has threads, and a forked lock can deadlock the child.
    method = "forkserver" if sys.platform.startswith("linux") else "spawn"
    return multiprocessing.get_context(method)


def default_workers() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


class WorkspaceIndex:
    def __init__(
        self,
        root: Path,
        *,
        db_path: Path | None = None,
        extra_excludes: Sequence[str] = (),
        max_file_bytes: int = DEFAULT_MAX_BYTES,
        workers: int | None = None,
    ) -> None:
        self.root = Path(os.path.abspath(root))
        self.extra_excludes = tuple(extra_excludes)
        self.max_file_bytes = max_file_bytes
        self.workers = workers if workers is not None else default_workers()
        self.store = Store(db_path or default_db_path(self.root))
        self.parse_count = 0  # files parsed since creation (tests and statistics)
        self._open: dict[str, _OpenDoc] = {}
        self._docs_lock = threading.RLock()
        self._build_lock = threading.Lock()
        self._policy: ContextPolicy | None = None
        self._closing = threading.Event()

    # ------------------------------------------------------------------ paths

    def rel(self, path: str | os.PathLike[str]) -> str | None:
        """Workspace-relative posix path, or None outside the workspace."""
        p = Path(path)
        if not p.is_absolute():
            p = self.root / p
        try:
            return Path(os.path.normpath(p)).relative_to(self.root).as_posix()
        except ValueError:
            return None

    def abs(self, rel: str) -> Path:
        return self.root / rel

    def context_policy(self) -> ContextPolicy:
        """The policy for this workspace (one instance: its compiled rules are cached)."""
        if self._policy is None:
            self._policy = ContextPolicy(self.root, self.extra_excludes)
        return self._policy

    # ------------------------------------------------------------------ building

    def build(
        self,
        progress: Callable[[int, int], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> IndexStats:
        """Bring the index up to date with the disk; only changed files are parsed.

        `progress(done, total)` is called after each file (callers throttle what they show);
        `cancel` stops it at the next file, keeping what was written (`stats.cancelled`).
        """
        with self._build_lock:
            if self._closing.is_set():
                raise RuntimeError("the index is closed")
            return self._build(progress, _AnyEvent(cancel, self._closing))

    def _build(
        self, progress: Callable[[int, int], None] | None, cancel: _AnyEvent
    ) -> IndexStats:
        started = time.perf_counter()
        stats = IndexStats(rebuilt_reason=self.store.rebuilt_reason)
        reasons: Counter[str] = Counter()
        states = self.store.file_states()
        seen: set[str] = set()
        jobs: list[tuple[str, str, str, int, int | None]] = []
        entries: dict[str, WalkEntry] = {}

        def on_skip(rel: str, reason: str) -> None:
            reasons[reason.split(" (")[0]] += 1

        for entry in walk(
            self.root,
            max_bytes=self.max_file_bytes,
            extra_excludes=self.extra_excludes,
            include=lambda rel: language_for_path(rel) is not None,
            sniff_binary=False,
            cancel=cancel,
            skipped=on_skip,
        ):
            seen.add(entry.rel)
            with self._docs_lock:
                if entry.rel in self._open:
                    continue
            state = states.get(entry.rel)
            if state is not None and state[1] == entry.size and state[2] == entry.mtime_ns:
                stats.unchanged += 1
                continue
            entries[entry.rel] = entry
            language = language_for_path(entry.rel) or ""
            jobs.append((str(entry.path), entry.rel, language, self.max_file_bytes,
                         state[0] if state else None))
        if cancel is not None and cancel.is_set():
            stats.cancelled = True
        else:
            total = len(jobs)
            if progress is not None:
                progress(0, total)
            pending: list[tuple[FileSymbols, int, int, int]] = []
            flushed = time.monotonic()
            for done, (rel, result) in enumerate(self._run_jobs(jobs, cancel), 1):
                entry = entries[rel]
                if isinstance(result, str):
                    reasons[result] += 1
                    log.info("skipped %s: %s", rel, result)
                    seen.discard(rel)
                elif isinstance(result, int):
                    self.store.touch_file(rel, result, entry.mtime_ns)
                    stats.unchanged += 1
                else:
                    pending.append((result.symbols, result.digest, result.size, entry.mtime_ns))
                    stats.parsed += 1
                    self.parse_count += 1
                    if len(pending) >= 64 or time.monotonic() - flushed > 0.25:
                        self._flush(pending)
                        flushed = time.monotonic()
                if progress is not None:
                    progress(done, total)
                if cancel is not None and cancel.is_set():
                    stats.cancelled = True
                    break
            self._flush(pending)
        if not stats.cancelled:
            with self._docs_lock:
                gone = [p for p in states if p not in seen and p not in self._open]
            stats.removed = self.store.remove_files(gone)
        stats.skipped = sum(reasons.values())
        stats.skipped_reasons = dict(reasons)
        self._fill_counts(stats)
        stats.seconds = time.perf_counter() - started
        return stats

    def _flush(self, pending: list[tuple[FileSymbols, int, int, int]]) -> None:
        """Write parsed files in one transaction; open documents keep their in-memory rows."""
        with self._docs_lock:
            batch = [item for item in pending if item[0].path not in self._open]
            self.store.put_files(batch)
        pending.clear()

    def _run_jobs(
        self, jobs: list[tuple[str, str, str, int, int | None]], cancel: Cancel | None
    ) -> Iterator[tuple[str, _Parsed | str | int]]:
        to_parse = sum(1 for j in jobs if j[4] is None)
        if self.workers <= 1 or to_parse < POOL_THRESHOLD:
            for job in jobs:
                if cancel is not None and cancel.is_set():
                    return
                yield _index_one(job)
            return
        try:
            executor = ProcessPoolExecutor(self.workers, mp_context=_pool_context())
        except (OSError, ValueError) as exc:
            log.warning("process pool unavailable (%s); parsing in-process", exc)
            yield from (_index_one(job) for job in jobs)
            return
        done = 0
        try:
            chunk = max(1, min(32, len(jobs) // (self.workers * 8)))
            for result in executor.map(_index_one, jobs, chunksize=chunk):
                done += 1
                yield result
        except (BrokenProcessPool, OSError, pickle.PicklingError) as exc:
            # A worker died (a grammar crashing on a file, memory): finish in-process.
            log.warning("index worker failed (%s); parsing the rest in-process", exc)
            for job in jobs[done:]:
                if cancel is not None and cancel.is_set():
                    return
                yield _index_one(job)
        finally:
            executor.shutdown(wait=cancel is None or not cancel.is_set(), cancel_futures=True)

    def _fill_counts(self, stats: IndexStats) -> None:
        files, symbols = self.store.counts()
        stats.files_per_language = dict(sorted(files.items()))
        stats.symbols_per_language = dict(sorted(symbols.items()))
        stats.files = sum(files.values())
        stats.db_bytes = self.store.size_bytes()

    def stats(self) -> IndexStats:
        stats = IndexStats(rebuilt_reason=self.store.rebuilt_reason)
        self._fill_counts(stats)
        return stats

    # ------------------------------------------------------------------ documents

    def update_text(self, path: Path, text: str, edits: Sequence[Edit] | None = None) -> bool:
        """Index an open document's in-memory text; edits (if known) make the parse incremental.

        Returns False when the file is outside the workspace or has no grammar.
        """
        rel = self.rel(path)
        language = language_for_path(path)
        if rel is None or language is None:
            return False
        src = text.encode("utf-8", "replace")
        with self._docs_lock:
            doc = self._open.get(rel)
        if doc is not None and language == "c":
            language = doc.language  # a header found to be C++ stays C++ while open
        parser = parser_for(language)
        if parser is None:
            return False
        tree: Tree | None = None
        if doc is not None and doc.language == language:
            if edits:
                old_tree = doc.tree.copy()
                applied = apply_edits(doc.text, edits, old_tree)
                if applied == text:
                    tree = parser.parse(src, old_tree)
                else:
                    log.debug("edits for %s did not reproduce its text; full parse", rel)
            if tree is None:
                tree = reparse(parser, doc.src, doc.tree, src)
        else:
            language, tree = header_language(rel, language, src, parser.parse(src))
        identifiers = None
        if doc is not None and doc.language == language:
            # While a document is open its identifiers only grow: the changed lines are added
            # (cheap on every keystroke); the exact set is recomputed when it is closed.
            region = changed_region(doc.src, src)
            if region is None:
                identifiers = doc.symbols.identifiers
            elif region[2] - region[0] < 4096:
                lo = src.rfind(b"\n", 0, region[0]) + 1
                hi = src.find(b"\n", region[2])
                hi = len(src) if hi < 0 else hi
                identifiers = doc.symbols.identifiers | identifiers_in(
                    language, src, tree, (lo, hi))
        try:
            symbols = extract_tree(rel, language, src, tree, identifiers)
        except _EXTRACT_ERRORS as exc:  # a pathological file: keep serving the rest
            log.warning("cannot index %s: %s", rel, exc)
            return False
        self.parse_count += 1
        with self._docs_lock:
            self._open[rel] = _OpenDoc(language, text, src, tree, symbols)
            # mtime 0: the next build compares the disk's content hash with this text's.
            self.store.put_file(symbols, xxhash.xxh3_64_intdigest(src), len(src), 0)
        return True

    def open_tree(self, path: Path) -> tuple[str, Tree] | None:
        """(language, tree) of an open document, for callers that look at the cursor's node."""
        rel = self.rel(path)
        with self._docs_lock:
            doc = self._open.get(rel) if rel else None
            return (doc.language, doc.tree) if doc else None

    def close_document(self, path: Path) -> None:
        """Forget the in-memory text; the index goes back to the file on disk."""
        rel = self.rel(path)
        with self._docs_lock:
            if rel is None or self._open.pop(rel, None) is None:
                return
        self._update_from_disk(path, force=True)

    def update_file(self, path: Path) -> bool:
        """Re-index one file from disk (saved, created or changed outside the editor)."""
        return self._update_from_disk(path, force=False)

    def _update_from_disk(self, path: Path, *, force: bool) -> bool:
        rel = self.rel(path)
        language = language_for_path(path)
        if rel is None or language is None:
            return False
        with self._docs_lock:
            if rel in self._open:
                return False  # the editor's text is the truth while it is open
        if not self._walkable(rel):
            self.store.remove_files([rel])
            return False
        try:
            st = os.stat(self.abs(rel))
        except OSError:
            self.store.remove_files([rel])
            return False
        src = read_source(self.abs(rel), self.max_file_bytes)
        if isinstance(src, SkipReason):
            log.info("skipped %s: %s", rel, src)
            self.store.remove_files([rel])
            return False
        record = self.store.file_record(rel)
        if record is not None and record.hash == src.digest and not force:
            self.store.touch_file(rel, src.size, st.st_mtime_ns)
            return True
        return self._put_source(rel, language, src, st.st_mtime_ns)

    def _put_source(self, rel: str, language: str, src: Source, mtime_ns: int) -> bool:
        try:
            symbols = extract(rel, language, src.data)
        except _EXTRACT_ERRORS as exc:
            log.warning("cannot index %s: %s", rel, exc)
            return False
        self.parse_count += 1
        with self._docs_lock:
            if rel not in self._open:
                self.store.put_file(symbols, src.digest, src.size, mtime_ns)
        return True

    def _walkable(self, rel: str) -> bool:
        """Would a build index this path (ignore files, defaults, extra excludes)?"""
        from indexer.ignore import IgnoreTree, compile_patterns, is_default_excluded_dir

        parts = rel.split("/")
        if any(is_default_excluded_dir(p) for p in parts[:-1]):
            return False
        extra = compile_patterns(self.extra_excludes)
        if extra is not None and extra.match_file(rel):
            return False
        return not IgnoreTree(self.root).ignored(rel)

    def remove_file(self, path: Path) -> None:
        rel = self.rel(path)
        if rel is not None:
            with self._docs_lock:
                if rel in self._open:
                    return
            self.store.remove_files([rel])

    def rename_file(self, old: Path, new: Path) -> None:
        old_rel = self.rel(old)
        with self._docs_lock:
            doc = self._open.pop(old_rel, None) if old_rel else None
        if old_rel is not None:
            self.store.remove_files([old_rel])
        if doc is not None:
            self.update_text(new, doc.text)
        else:
            self.update_file(new)

    # ------------------------------------------------------------------ queries

    def lookup(self, names: Iterable[str]) -> list[IndexedSymbol]:
        return self.store.symbols_named(names)

    def module_files(self, suffixes: Sequence[str], limit: int = 4) -> list[str]:
        """Indexed files an import's path suffixes (`resolve.module_paths`) point at."""
        out: list[str] = []
        for suffix in suffixes:
            if suffix.startswith("/"):
                found = [suffix[1:]] if self.store.file_record(suffix[1:]) else []
            else:
                found = self.store.paths_ending(suffix, limit)
            out.extend(p for p in found if p not in out)
            if len(out) >= limit:
                break
        return out[:limit]

    def files_importing(self, name: str, limit: int = 200) -> list[str]:
        """Indexed files whose imports name `name` (a module's last part or an imported name)."""
        return self.store.paths_importing(name, limit)

    def indexed_symbols(self, rel: str) -> list[IndexedSymbol]:
        """The definitions of one file as the database has them, in file order."""
        return self.store.file_symbols(rel)

    def file_record(self, rel: str) -> FileRecord | None:
        return self.store.file_record(rel)

    def file_symbols(self, rel: str) -> FileSymbols | None:
        """The freshest symbols of an open document (None when it is not open)."""
        with self._docs_lock:
            doc = self._open.get(rel)
            return doc.symbols if doc else None

    def workspace_symbols(self, query: str, limit: int = 100) -> list[IndexedSymbol]:
        """Fuzzy search: exact > prefix > word starts (camelCase, snake_case) > subsequence."""
        query = query.strip()
        if limit <= 0:
            return []
        if not query:
            return self.store.first_symbols(limit)
        # Rank distinct names first (cheap), then fetch the symbols of the best ones.
        names: list[str] = []
        if len(query) <= 2:
            # Very short queries match most names: prefixes first, and only those when they
            # are enough to fill the answer.
            escaped = "".join("\\" + c if c in "%_\\" else c for c in query)
            names = self.store.names_like(escaped + "%", 50_000)
            if len(names) < limit:
                names = []
        if not names:
            names = self.store.names_like(_like_pattern(query), 50_000)
        ranked = []
        for name in names:
            score = match_score(query, name)
            if score is not None:
                ranked.append((score, len(name), name))
        ranked.sort()
        out: list[IndexedSymbol] = []
        start = 0
        while len(out) < limit and start < len(ranked):
            batch = [name for _, _, name in ranked[start : start + limit]]
            order = {name: i for i, name in enumerate(batch)}
            found = self.store.symbols_named(batch)
            found.sort(key=lambda s: (order[s.name], _KIND_RANK.get(s.kind, 9), s.path, s.start))
            out.extend(found)
            start += limit
        return out[:limit]

    def document_symbols(self, path: Path) -> list[DocumentSymbol]:
        """The file's definitions as a tree: classes contain their methods."""
        rel = self.rel(path)
        if rel is None:
            return []
        open_symbols = self.file_symbols(rel)
        if open_symbols is not None:
            flat = [(s.name, s.kind, s.start, s.end, s.name_start, s.name_end, s.signature,
                     s.parent) for s in open_symbols.definitions]
        else:
            flat = [(s.name, s.kind, s.start, s.end, s.name_start, s.name_end, s.signature,
                     s.parent) for s in self.store.file_symbols(rel)]
        nodes = [DocumentSymbol(n, k, st, en, ns, ne, sig) for n, k, st, en, ns, ne, sig, _ in flat]
        roots: list[DocumentSymbol] = []
        for node, item in zip(nodes, flat, strict=True):
            parent = item[7]
            if 0 <= parent < len(nodes):
                nodes[parent].children.append(node)
            else:
                roots.append(node)
        return roots

    def text_of(self, rel: str) -> str | None:
        with self._docs_lock:
            doc = self._open.get(rel)
            if doc is not None:
                return doc.text
        src = read_source(self.abs(rel), self.max_file_bytes)
        return None if isinstance(src, SkipReason) else src.data.decode("utf-8", "replace")

    def definition(self, path: Path, line: int, col: int) -> list[Location]:
        """Definitions of the identifier at the cursor: same file first, then imported modules,
        then anywhere in the workspace."""
        rel = self.rel(path)
        if rel is None:
            return []
        text = self.text_of(rel)
        if text is None:
            return []
        lines = text.split("\n")
        if not 0 <= line < len(lines):
            return []
        name = word_at(lines[line], col)
        if not name:
            return []
        return [
            Location(self.abs(s.path), s.name_start, s.name_end)
            for s in self.resolve_name(rel, name)
        ]

    def resolve_name(self, rel: str, name: str, limit: int = 20) -> list[IndexedSymbol]:
        """The definitions `name` most likely refers to, as seen from file `rel`."""
        candidates = self.lookup([name])
        if not candidates:
            return []
        same = [s for s in candidates if s.path == rel]
        if same:
            return same[:limit]
        imported = self.imported_from(rel, name, candidates)
        if imported:
            return imported[:limit]
        return candidates[:limit]

    def imported_from(
        self, rel: str, name: str, candidates: list[IndexedSymbol]
    ) -> list[IndexedSymbol]:
        """Candidates defined in modules that `rel` imports (the name itself, or its module)."""
        imports, language = self._imports_of(rel)
        if not imports:
            return []
        direct = [i for i in imports if name in (i.name, i.alias)]
        suffixes: list[str] = []
        for imp in direct or imports:
            suffixes.extend(resolve.module_paths(language, rel, imp))
        if not suffixes:
            return []
        return [s for s in candidates if resolve.path_matches(s.path, suffixes)]

    def _imports_of(self, rel: str) -> tuple[list, str]:
        symbols = self.file_symbols(rel)
        if symbols is not None:
            return symbols.imports, symbols.language
        record = self.store.file_record(rel)
        if record is None:
            return [], ""
        return list(record.imports), record.language

    def close(self) -> None:
        """Stop a running build (at its next file) and close the database."""
        self._closing.set()
        with self._build_lock:
            self.store.close()

    def __enter__(self) -> WorkspaceIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------- fuzzy matching

_KIND_RANK = {"class": 0, "struct": 0, "interface": 0, "trait": 0, "enum": 0, "type": 1,
              "function": 1, "method": 2, "constructor": 2, "module": 3, "namespace": 3,
              "constant": 4, "macro": 4, "property": 5, "field": 5, "variable": 6}
_WORD_SPLIT = re.compile(r"[A-Z]+(?=[A-Z][a-z0-9])|[A-Z]?[a-z0-9]+|[A-Z]+|\d+")


def _like_pattern(query: str) -> str:
    """A LIKE pattern matching the query's characters in order (a subsequence)."""
    out = ["%"]
    for ch in query:
        out.append("\\" + ch if ch in "%_\\" else ch)
        out.append("%")
    return "".join(out)


def _words(name: str) -> list[str]:
    return [w.lower() for w in _WORD_SPLIT.findall(name)]


def _word_starts_match(query: str, words: list[str]) -> bool:
    """Can `query` be spelled by taking a (possibly empty) prefix of each word, in order?"""
    q = query.replace("_", "")
    if not q:
        return False
    starts = [w[0] for w in words]
    if q[0] not in starts:
        return False  # the common case: rejected without the search below
    if len(q) == 1:
        return True
    memo: dict[tuple[int, int], bool] = {}

    def go(qi: int, wi: int) -> bool:
        if qi == len(q):
            return True
        if wi == len(words):
            return False
        key = (qi, wi)
        if key in memo:
            return memo[key]
        word = words[wi]
        ok = False
        n = 0
        while n < len(word) and qi + n < len(q) and word[n] == q[qi + n]:
            n += 1
            if go(qi + n, wi + 1):
                ok = True
                break
        if not ok:
            ok = go(qi, wi + 1)
        memo[key] = ok
        return ok

    return go(0, 0)


def _is_subsequence(query: str, name: str) -> bool:
    it = iter(name)
    return all(ch in it for ch in query)


def match_score(query: str, name: str) -> int | None:
    """0 exact, 1 exact ignoring case, 2 prefix, 3 prefix ignoring case, 4 word starts,
    5 substring, 6 subsequence; None when the query does not match."""
    if name == query:
        return 0
    lq, ln = query.lower(), name.lower()
    if ln == lq:
        return 1
    if name.startswith(query):
        return 2
    if ln.startswith(lq):
        return 3
    if _word_starts_match(lq, _words(name)):
        return 4
    if lq in ln:
        return 5
    if _is_subsequence(lq, ln):
        return 6
    return None


def word_at(line: str, col: int) -> str:
    """The identifier under (or just left of) column `col`."""
    for m in _WORD.finditer(line):
        if m.start() <= col <= m.end():
            return m.group(0) if not m.group(0).isdigit() else ""
    return ""
