"""The on-disk index: one SQLite database (WAL) per workspace.

Each file's rows are replaced in one transaction, so a crash leaves either the old or the new
version of a file, never a mix. A database that is not one, fails `PRAGMA quick_check`, or
carries another schema version is deleted and rebuilt on open. One connection serves all
threads behind a lock; every operation is short (one file's rows, or one query).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from indexer.extract import FileSymbols, Import, Pos
from models import paths

log = logging.getLogger(__name__)

SCHEMA_VERSION = 4

_SCHEMA = """
CREATE TABLE files(
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    language TEXT NOT NULL,
    hash INTEGER NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    lines INTEGER NOT NULL,
    has_errors INTEGER NOT NULL,
    nsymbols INTEGER NOT NULL,
    imports TEXT NOT NULL,
    identifiers TEXT NOT NULL
);
CREATE TABLE symbols(
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    parent INTEGER NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    sl INTEGER, sc INTEGER, el INTEGER, ec INTEGER,
    nsl INTEGER, nsc INTEGER, nel INTEGER, nec INTEGER,
    scope TEXT NOT NULL,
    signature TEXT NOT NULL,
    doc TEXT NOT NULL,
    snippet TEXT NOT NULL
);
CREATE INDEX symbols_name ON symbols(name);
CREATE INDEX symbols_file ON symbols(file_id);
"""

_SYMBOL_COLUMNS = (
    "f.path, f.language, s.idx, s.parent, s.name, s.kind, s.sl, s.sc, s.el, s.ec, "
    "s.nsl, s.nsc, s.nel, s.nec, s.scope, s.signature, s.doc, s.snippet"
)


class _Rebuild(Exception):
    pass


@dataclass(frozen=True, slots=True)
class IndexedSymbol:
    path: str  # workspace-relative
    language: str
    idx: int  # position in its file's definitions
    parent: int  # idx of the enclosing definition, -1 at top level
    name: str
    kind: str
    start: Pos
    end: Pos
    name_start: Pos
    name_end: Pos
    scope: str
    signature: str
    doc: str
    snippet: str

    @classmethod
    def from_row(cls, row: tuple) -> IndexedSymbol:
        return cls(
            row[0], row[1], row[2], row[3], row[4], row[5], (row[6], row[7]), (row[8], row[9]),
            (row[10], row[11]), (row[12], row[13]), row[14], row[15], row[16], row[17],
        )

    @property
    def qualified_name(self) -> str:
        return f"{self.scope}.{self.name}" if self.scope else self.name


@dataclass(frozen=True, slots=True)
class FileRecord:
    path: str
    language: str
    hash: int
    size: int
    mtime_ns: int
    lines: int
    imports: tuple[Import, ...]
    identifiers: frozenset[str]


def _signed(digest: int) -> int:
    """xxh3_64 is unsigned; SQLite integers are signed 64-bit."""
    return digest - (1 << 64) if digest >= (1 << 63) else digest


def _unsigned(value: int) -> int:
    return value + (1 << 64) if value < 0 else value


def default_db_path(root: Path) -> Path:
    key = hashlib.sha256(os.path.abspath(root).encode("utf-8", "surrogateescape")).hexdigest()
    return paths.index_dir() / f"{Path(root).name or 'root'}-{key[:16]}.sqlite3"


class Store:
    def __init__(self, db_path: Path) -> None:
        self.path = Path(db_path)
        self._lock = threading.RLock()
        self.rebuilt_reason = ""  # why the last open discarded an existing database
        self._conn = self._open()

    # ------------------------------------------------------------------ opening

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(2):
            conn: sqlite3.Connection | None = None
            try:
                conn = sqlite3.connect(
                    self.path, check_same_thread=False, isolation_level=None, timeout=10
                )
                self._check_or_create(conn)
                return conn
            except (sqlite3.DatabaseError, _Rebuild) as exc:
                if conn is not None:
                    conn.close()
                if attempt:
                    raise
                self.rebuilt_reason = str(exc) or type(exc).__name__
                log.warning("index database %s discarded (%s); rebuilding", self.path, exc)
                self._delete_files()
        raise AssertionError("unreachable")

    def _check_or_create(self, conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("PRAGMA cache_size=-16000")  # 16 MB
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if version == 0 and not tables:
            # One transaction: a crash here leaves an empty database, rebuilt on the next open.
            conn.executescript(
                f"BEGIN IMMEDIATE;\n{_SCHEMA}\nPRAGMA user_version={SCHEMA_VERSION};\nCOMMIT;"
            )
            return
        if version != SCHEMA_VERSION:
            raise _Rebuild(f"schema version {version}, expected {SCHEMA_VERSION}")
        if not {"files", "symbols"} <= tables:
            raise _Rebuild("tables missing")
        result = conn.execute("PRAGMA quick_check").fetchone()[0]
        if result != "ok":
            raise _Rebuild(f"quick_check: {result}")

    def _delete_files(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                os.unlink(f"{self.path}{suffix}")
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("cannot delete %s%s: %s", self.path, suffix, exc)

    def close(self) -> None:
        with self._lock:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("PRAGMA optimize")
            self._conn.close()

    # ------------------------------------------------------------------ writing

    def put_file(self, symbols: FileSymbols, digest: int, size: int, mtime_ns: int) -> None:
        """Replace one file's rows in one transaction."""
        self.put_files([(symbols, digest, size, mtime_ns)])

    def put_files(self, batch: Sequence[tuple[FileSymbols, int, int, int]]) -> None:
        """Replace several files' rows in one transaction (all or none of them land)."""
        if not batch:
            return
        prepared = [
            (
                fs,
                (fs.language, _signed(digest), size, mtime_ns, fs.line_count,
                 int(fs.has_errors), len(fs.definitions),
                 json.dumps([[i.module, i.name, i.alias] for i in fs.imports]),
                 " ".join(sorted(fs.identifiers))),
            )
            for fs, digest, size, mtime_ns in batch
        ]
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                for fs, values in prepared:
                    row = conn.execute("SELECT id FROM files WHERE path=?", (fs.path,)).fetchone()
                    if row is None:
                        file_id = conn.execute(
                            "INSERT INTO files(language, hash, size, mtime_ns, lines, has_errors,"
                            " nsymbols, imports, identifiers, path)"
                            " VALUES (?,?,?,?,?,?,?,?,?,?)",
                            (*values, fs.path),
                        ).lastrowid
                    else:
                        file_id = row[0]
                        conn.execute("DELETE FROM symbols WHERE file_id=?", (file_id,))
                        conn.execute(
                            "UPDATE files SET language=?, hash=?, size=?, mtime_ns=?, lines=?,"
                            " has_errors=?, nsymbols=?, imports=?, identifiers=? WHERE id=?",
                            (*values, file_id),
                        )
                    conn.executemany(
                        "INSERT INTO symbols(file_id, idx, parent, name, kind, sl, sc, el, ec,"
                        " nsl, nsc, nel, nec, scope, signature, doc, snippet)"
                        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        [
                            (file_id, i, s.parent, s.name, s.kind, *s.start, *s.end,
                             *s.name_start, *s.name_end, s.scope, s.signature, s.doc, s.snippet)
                            for i, s in enumerate(fs.definitions)
                        ],
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def touch_file(self, path: str, size: int, mtime_ns: int) -> None:
        with self._lock:
            self._conn.execute(
                "UPDATE files SET size=?, mtime_ns=? WHERE path=?", (size, mtime_ns, path)
            )

    def remove_files(self, rel_paths: Iterable[str]) -> int:
        removed = 0
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                for rel in rel_paths:
                    row = conn.execute("SELECT id FROM files WHERE path=?", (rel,)).fetchone()
                    if row is None:
                        continue
                    conn.execute("DELETE FROM symbols WHERE file_id=?", (row[0],))
                    conn.execute("DELETE FROM files WHERE id=?", (row[0],))
                    removed += 1
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return removed

    # ------------------------------------------------------------------ reading

    def file_states(self) -> dict[str, tuple[int, int, int]]:
        """path -> (hash, size, mtime_ns) for every indexed file."""
        with self._lock:
            rows = self._conn.execute("SELECT path, hash, size, mtime_ns FROM files").fetchall()
        return {r[0]: (_unsigned(r[1]), r[2], r[3]) for r in rows}

    def file_record(self, path: str) -> FileRecord | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT path, language, hash, size, mtime_ns, lines, imports, identifiers"
                " FROM files WHERE path=?",
                (path,),
            ).fetchone()
        if row is None:
            return None
        imports = tuple(Import(*i) for i in json.loads(row[6]))
        return FileRecord(row[0], row[1], _unsigned(row[2]), row[3], row[4], row[5], imports,
                          frozenset(row[7].split()))

    def paths(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._conn.execute("SELECT path FROM files ORDER BY path")]

    def paths_ending(self, tail: str, limit: int = 20) -> list[str]:
        """Paths equal to `tail` or ending with "/" + `tail` (LIKE narrows, exact case checks)."""
        escaped = "".join("\\" + c if c in "%_\\" else c for c in tail)
        with self._lock:
            rows = self._conn.execute(
                "SELECT path FROM files WHERE path = ? OR path LIKE ? ESCAPE '\\'"
                " ORDER BY path LIMIT ?",
                (tail, "%/" + escaped, limit * 4),
            ).fetchall()
        return [r[0] for r in rows if r[0] == tail or r[0].endswith("/" + tail)][:limit]

    def paths_importing(self, name: str, limit: int) -> list[str]:
        """Files with an import that names `name` (as the imported name or the last part of a
        module path); a narrowing by text, callers check what they need."""
        escaped = "".join("\\" + c if c in "%_\\" else c for c in name)
        with self._lock:
            rows = self._conn.execute(
                "SELECT path FROM files WHERE imports LIKE ? ESCAPE '\\'"
                " OR imports LIKE ? ESCAPE '\\' LIMIT ?",
                (f'%"{escaped}"%', f'%.{escaped}"%', limit),
            ).fetchall()
        return [r[0] for r in rows]

    def file_symbols(self, path: str) -> list[IndexedSymbol]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_SYMBOL_COLUMNS} FROM symbols s JOIN files f ON s.file_id=f.id"
                " WHERE f.path=? ORDER BY s.idx",
                (path,),
            ).fetchall()
        return [IndexedSymbol.from_row(r) for r in rows]

    def symbols_named(self, names: Iterable[str]) -> list[IndexedSymbol]:
        names = list(dict.fromkeys(names))
        out: list[IndexedSymbol] = []
        with self._lock:
            for start in range(0, len(names), 500):
                chunk = names[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    f"SELECT {_SYMBOL_COLUMNS} FROM symbols s JOIN files f ON s.file_id=f.id"
                    f" WHERE s.name IN ({marks}) ORDER BY f.path, s.idx",
                    chunk,
                ).fetchall()
                out.extend(IndexedSymbol.from_row(r) for r in rows)
        return out

    def names_like(self, pattern: str, limit: int) -> list[str]:
        """Distinct symbol names matching a LIKE pattern (ASCII case-insensitive)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT DISTINCT name FROM symbols WHERE name LIKE ? ESCAPE '\\' LIMIT ?",
                (pattern, limit),
            ).fetchall()
        return [r[0] for r in rows]

    def symbols_like(self, pattern: str, limit: int) -> list[IndexedSymbol]:
        """Symbols whose name matches a LIKE pattern (ASCII case-insensitive)."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_SYMBOL_COLUMNS} FROM symbols s JOIN files f ON s.file_id=f.id"
                " WHERE s.name LIKE ? ESCAPE '\\' LIMIT ?",
                (pattern, limit),
            ).fetchall()
        return [IndexedSymbol.from_row(r) for r in rows]

    def first_symbols(self, limit: int) -> list[IndexedSymbol]:
        """Symbols in name order (for an empty workspace-symbol query)."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_SYMBOL_COLUMNS} FROM symbols s JOIN files f ON s.file_id=f.id"
                " ORDER BY s.name, f.path, s.idx LIMIT ?",
                (limit,),
            ).fetchall()
        return [IndexedSymbol.from_row(r) for r in rows]

    def counts(self) -> tuple[dict[str, int], dict[str, int]]:
        """(files per language, symbols per language)."""
        with self._lock:
            files = dict(self._conn.execute(
                "SELECT language, COUNT(*) FROM files GROUP BY language").fetchall())
            symbols = dict(self._conn.execute(
                "SELECT language, SUM(nsymbols) FROM files GROUP BY language").fetchall())
        return files, symbols

    def size_bytes(self) -> int:
        total = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(OSError):
                total += os.path.getsize(f"{self.path}{suffix}")
        return total
