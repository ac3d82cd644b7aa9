"""The workspace index inside the server: background build with `$/progress`, incremental
updates from documents and file watchers, and the LSP features served from it
(workspace/symbol, documentSymbol, definition), plus the gate and context for the pipeline.

Parsing and SQLite work run on one indexing thread; the event loop only hands work over.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types as lsp
from pygls.uris import from_fs_path, to_fs_path

from indexer.context import gather_context
from indexer.gate import decide
from indexer.workspace import DocumentSymbol, WorkspaceIndex
from lsp_server.documents import Snapshot
from lsp_server.pipeline import Decision
from lsp_server.positions import LineIndex
from tiers.base import ContextChunk

if TYPE_CHECKING:
    from lsp_server.server import CompletionServer

log = logging.getLogger(__name__)

_KINDS = {
    "function": lsp.SymbolKind.Function, "method": lsp.SymbolKind.Method,
    "class": lsp.SymbolKind.Class, "struct": lsp.SymbolKind.Struct,
    "interface": lsp.SymbolKind.Interface, "enum": lsp.SymbolKind.Enum,
    "constant": lsp.SymbolKind.Constant, "variable": lsp.SymbolKind.Variable,
    "module": lsp.SymbolKind.Module, "namespace": lsp.SymbolKind.Namespace,
    "trait": lsp.SymbolKind.Interface, "type": lsp.SymbolKind.TypeParameter,
    "field": lsp.SymbolKind.Field, "property": lsp.SymbolKind.Property,
    "constructor": lsp.SymbolKind.Constructor,
}
_RECENT = 8  # open or recently edited documents used for similar-snippet context


def _kind(name: str) -> lsp.SymbolKind:
    return _KINDS.get(name, lsp.SymbolKind.Variable)


class IndexService:
    def __init__(self, server: CompletionServer, root: Path) -> None:
        self.server = server
        self.root = root
        self.index: WorkspaceIndex | None = None
        self.ready = threading.Event()
        # Writes (the build, updates) run in order on one thread; reads on another, so that
        # queries are answered while the first build runs (WorkspaceIndex is thread-safe).
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="index")
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="index-read")
        self._cancel = threading.Event()
        self._pending: dict[str, str] = {}  # path -> latest text not yet indexed
        self._pending_lock = threading.Lock()
        self._recent: dict[str, str] = {}  # path -> text, most recently touched last

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, exclude: list[str], with_progress: bool) -> None:
        loop = asyncio.get_running_loop()
        self.server.background(self._build(loop, exclude, with_progress))

    async def _build(self, loop: asyncio.AbstractEventLoop, exclude: list[str], progress_ui: bool):
        token = "lsp-server/index"
        report = None
        if progress_ui:
            try:
                await self.server.work_done_progress.create_async(token)
                self.server.work_done_progress.begin(
                    token, lsp.WorkDoneProgressBegin(title="Indexing", percentage=0,
                                                     cancellable=False))
                last = [0.0, -1]

                def report(done: int, total: int) -> None:
                    pct = int(100 * done / total) if total else 100
                    now = time.monotonic()
                    if pct != last[1] and (now - last[0] > 0.2 or pct == 100):
                        last[0], last[1] = now, pct
                        loop.call_soon_threadsafe(
                            self.server.work_done_progress.report, token,
                            lsp.WorkDoneProgressReport(message=f"{done}/{total} files",
                                                       percentage=pct))
            except Exception as exc:  # a client that refuses the token gets no progress
                log.info("no progress reporting: %s", exc)
                progress_ui = False
        try:
            stats = await loop.run_in_executor(self._thread, self._open_and_build, exclude, report)
            message = (f"{stats.files} files, {stats.symbols} symbols" if stats else "unavailable")
        except Exception as exc:
            log.exception("indexing failed")
            message = f"failed: {exc}"
        finally:
            self.ready.set()
        if progress_ui:
            self.server.work_done_progress.end(token, lsp.WorkDoneProgressEnd(message=message))
        log.info("index: %s", message)

    def _open_and_build(self, exclude: list[str], report):
        self.index = WorkspaceIndex(self.root, extra_excludes=exclude)
        return self.index.build(progress=report, cancel=self._cancel)

    async def aclose(self) -> None:
        self._cancel.set()
        index = self.index
        if index is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, index.close)
        self._thread.shutdown(wait=False, cancel_futures=True)
        self._reader.shutdown(wait=False, cancel_futures=True)

    # -- document updates (called from notifications: hand over and return) -------------------

    def _path(self, uri: str) -> Path | None:
        path = to_fs_path(uri) if uri.startswith("file:") else None
        return Path(path) if path else None

    def document_changed(self, uri: str, text: str) -> None:
        path = self._path(uri)
        if path is None:
            return
        key = str(path)
        self._recent.pop(key, None)
        self._recent[key] = text
        while len(self._recent) > _RECENT:
            self._recent.pop(next(iter(self._recent)))
        with self._pending_lock:
            queued = key in self._pending
            self._pending[key] = text
        if not queued:  # one job per document: it indexes whatever text is newest then
            self._thread.submit(self._index_pending, key)

    def _index_pending(self, key: str) -> None:
        with self._pending_lock:
            text = self._pending.pop(key, None)
        if text is None or self.index is None:
            return
        try:
            self.index.update_text(Path(key), text)
        except Exception:
            log.exception("indexing %s failed", key)

    def document_closed(self, uri: str) -> None:
        path = self._path(uri)
        if path is not None:
            self._run(lambda ix: ix.close_document(path))  # it re-indexes from disk

    def files_changed(self, changes: list[lsp.FileEvent]) -> None:
        for change in changes:
            path = self._path(change.uri)
            if path is None:
                continue
            if change.type == lsp.FileChangeType.Deleted:
                self._run(lambda ix, p=path: ix.remove_file(p))
            else:
                self._run(lambda ix, p=path: ix.update_file(p))

    def _run(self, fn) -> None:
        def job() -> None:
            if self.index is None:
                return
            try:
                fn(self.index)
            except Exception:
                log.exception("index update failed")

        self._thread.submit(job)

    async def query(self, fn, default):
        """Run a read on the indexing thread (SQLite and parsing never touch the loop)."""
        if self.index is None:
            return default
        index = self.index
        return await asyncio.get_running_loop().run_in_executor(self._reader, fn, index)

    # -- the pipeline's gate and context (called off the event loop) --------------------------

    def gate(self, snap: Snapshot, path: str) -> Decision:
        line, col = snap.line_col
        cfg = self.server.config.completion
        d = decide(snap.text, line, col, snap.language_id, path=path or snap.uri,
                   allow_in_comments=cfg.allow_in_comments, allow_in_strings=cfg.allow_in_strings)
        limit = (self.server.config.local.max_tokens_multiline if d.mode.value == "multi"
                 else self.server.config.local.max_tokens)
        return Decision(d.mode, min(d.max_tokens, limit) if d.max_tokens else limit, d.reason)

    def context(self, snap: Snapshot, path: str, budget: int) -> list[ContextChunk]:
        if not self.ready.is_set() or self.index is None:
            return []  # completions never wait for the index
        line, col = snap.line_col
        me = self._path(snap.uri)
        recent = [(p, t) for p, t in self._recent.items() if me is None or p != str(me)]
        return gather_context(self.index, str(me or path), snap.text, line, col,
                              budget_tokens=budget, recent=recent[-_RECENT:])


# -- LSP conversions -------------------------------------------------------------------------


def _text_of(server: CompletionServer, path: Path) -> str:
    doc = server.docs.get(from_fs_path(str(path)) or "")
    if doc is not None:
        return doc.text
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _range(index: LineIndex, start: tuple[int, int], end: tuple[int, int], enc: str) -> lsp.Range:
    def pos(p: tuple[int, int]) -> lsp.Position:
        line = min(p[0], index.line_count - 1)
        offset = index.starts[line] + min(p[1], len(index.line_text(line)))
        ln, ch = index.position(offset, enc)
        return lsp.Position(line=ln, character=ch)

    return lsp.Range(start=pos(start), end=pos(end))


def _doc_symbol(sym: DocumentSymbol, index: LineIndex, enc: str) -> lsp.DocumentSymbol:
    rng = _range(index, sym.start, sym.end, enc)
    sel = _range(index, sym.name_start, sym.name_end, enc)
    return lsp.DocumentSymbol(
        name=sym.name or "<anonymous>", kind=_kind(sym.kind), range=rng, selection_range=sel,
        detail=sym.detail or None,
        children=[_doc_symbol(c, index, enc) for c in sym.children] or None,
    )


def register(server: CompletionServer) -> None:
    @server.feature(lsp.WORKSPACE_SYMBOL)
    async def workspace_symbol(ls: Any, params: lsp.WorkspaceSymbolParams):
        service = ls.index_service
        if service is None:
            return []
        found = await service.query(lambda ix: ix.workspace_symbols(params.query, 200), [])
        enc = ls.docs.encoding
        out = []
        for sym in found:
            path = service.root / sym.path
            idx = LineIndex.of(_text_of(ls, path)) if enc != "utf-32" else None
            rng = (_range(idx, sym.name_start, sym.name_end, enc) if idx else lsp.Range(
                start=lsp.Position(line=sym.name_start[0], character=sym.name_start[1]),
                end=lsp.Position(line=sym.name_end[0], character=sym.name_end[1])))
            out.append(lsp.SymbolInformation(
                name=sym.name, kind=_kind(sym.kind), container_name=sym.scope or None,
                location=lsp.Location(uri=from_fs_path(str(path)) or path.as_uri(), range=rng)))
        return out

    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    async def document_symbol(ls: Any, params: lsp.DocumentSymbolParams):
        service = ls.index_service
        path = service._path(params.text_document.uri) if service else None
        if service is None or path is None:
            return []
        symbols = await service.query(lambda ix: ix.document_symbols(path), [])
        index = LineIndex.of(_text_of(ls, path))
        return [_doc_symbol(s, index, ls.docs.encoding) for s in symbols]

    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    async def definition(ls: Any, params: lsp.DefinitionParams):
        service = ls.index_service
        uri = params.text_document.uri
        path = service._path(uri) if service else None
        snap = ls.docs.snapshot(uri, params.position.line, params.position.character)
        if service is None or path is None or snap is None:
            return None
        line, col = snap.line_col
        found = await service.query(lambda ix: ix.definition(path, line, col), [])
        out = []
        for loc in found:
            idx = LineIndex.of(_text_of(ls, loc.path))
            out.append(lsp.Location(uri=from_fs_path(str(loc.path)) or loc.path.as_uri(),
                                    range=_range(idx, loc.start, loc.end, ls.docs.encoding)))
        return out or None

    @server.feature(lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(ls: Any, params: lsp.DidChangeWatchedFilesParams) -> None:
        if ls.index_service is not None:
            ls.index_service.files_changed(params.changes)


async def watch_files(server: CompletionServer) -> None:
    """Ask the client to report file changes (when it can register watchers dynamically)."""
    caps = server.client_capabilities.workspace
    watched = caps.did_change_watched_files if caps else None
    if not (watched and watched.dynamic_registration):
        return
    try:
        await server.client_register_capability_async(lsp.RegistrationParams(registrations=[
            lsp.Registration(
                id="lsp-server-watch", method=lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                register_options=lsp.DidChangeWatchedFilesRegistrationOptions(
                    watchers=[lsp.FileSystemWatcher(glob_pattern="**/*")]),
            )
        ]))
    except Exception as exc:
        log.info("file watching not registered: %s", exc)
