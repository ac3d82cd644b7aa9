"""The language server: LSP handlers over the document store, the pipeline and the tiers."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp
from pygls.capabilities import ServerCapabilitiesBuilder
from pygls.exceptions import JsonRpcContentModified, JsonRpcException, JsonRpcRequestCancelled
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method
from pygls.uris import to_fs_path

from indexer.ignore import ContextPolicy
from lsp_server import __version__
from lsp_server.config import SECTION, Config, build_config
from lsp_server.convert import change_from_lsp, completion_items, inline_items
from lsp_server.documents import DocumentStore, Snapshot
from lsp_server.edit_commands import register as register_edit_commands
from lsp_server.index_features import IndexService, watch_files
from lsp_server.index_features import register as register_index_features
from lsp_server.pipeline import CompletionPipeline
from lsp_server.scheduling import LatestWins, LoopMonitor, TypingRate
from tiers.base import CancelledError, Completion
from tiers.local import LocalTier
from tiers.remote import RemoteTier
from tiers.router import Router, RouterStatus

log = logging.getLogger(__name__)

STATUS_NOTIFICATION = "lspServer/status"
_INVALID_REQUEST = -32600


class _Answered:
    """A message already answered while decoding it; pygls ignores it (no `jsonrpc` match)."""

    jsonrpc = ""


class Protocol(LanguageServerProtocol):
    """pygls's protocol, with the document store as the only owner of document text, and an
    error (not silence) for requests that arrive after `shutdown`."""

    def handle_message(self, message: Any) -> None:
        method = getattr(message, "method", None)
        if self._shutdown and method and method != lsp.EXIT and hasattr(message, "id"):
            self._send_response(
                message.id,
                error=lsp.ResponseError(
                    code=_INVALID_REQUEST, message=f"{method}: the server is shutting down"
                ),
            )
            return
        super().handle_message(message)

    def structure_message(self, data: Any) -> Any:
        # pygls drops a request whose params do not decode; the client must still get an answer.
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if isinstance(data, dict) and "id" in data and "method" in data:
                self._send_response(data["id"], error=exc.to_response_error())
                return _Answered()
            raise

    def _user(self, method: str, params: Any):
        if (handler := self.fm.features.get(method)) is not None:
            yield handler, (params,), None

    @lsp_method(lsp.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: lsp.DidOpenTextDocumentParams):
        yield from self._user(lsp.TEXT_DOCUMENT_DID_OPEN, params)

    @lsp_method(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: lsp.DidChangeTextDocumentParams):
        yield from self._user(lsp.TEXT_DOCUMENT_DID_CHANGE, params)

    @lsp_method(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: lsp.DidCloseTextDocumentParams):
        yield from self._user(lsp.TEXT_DOCUMENT_DID_CLOSE, params)


class CompletionServer(LanguageServer):
    def __init__(self, *, model_resolver: Callable[[Config], Callable[[], Path | None]]):
        super().__init__("lsp-server", __version__, protocol_cls=Protocol, max_workers=2)
        self.docs = DocumentStore()
        self.config = Config()
        self.scheduler = LatestWins()
        self.typing = TypingRate()
        self.root: Path | None = None
        self.local: LocalTier | None = None
        self.router: Router | None = None
        self.pipeline: CompletionPipeline | None = None
        self._model_resolver = model_resolver
        self._told: set[str] = set()
        self._last: dict[str, tuple[int, int, Completion]] = {}
        self._watchdog: asyncio.Task[None] | None = None
        self.supports_configuration = False
        self.markdown_docs = False  # the client renders Markdown in completion documentation
        self._init_options: Any = None
        self._tasks: set[asyncio.Future[Any]] = set()
        self.index_service: IndexService | None = None
        self.loop_monitor = LoopMonitor()
        self._event_loop: asyncio.AbstractEventLoop | None = None

    # -- out-of-band messages -----------------------------------------------------------------

    def report_server_error(self, error: Exception, source: Any) -> None:
        # Logged, not shown: a pop-up per keystroke would be worse than the error.
        log.error("server error (%s): %s", getattr(source, "__name__", source), error)

    def tell_once(self, key: str, message: str, kind=lsp.MessageType.Warning) -> None:
        """Show a message once per server lifetime (and always log it)."""
        log.warning("%s", message)
        if key in self._told:
            return
        self._told.add(key)
        self.window_show_message(lsp.ShowMessageParams(type=kind, message=f"lsp-server: {message}"))

    def send_status(self, status: RouterStatus | None = None) -> None:
        status = status or (self.router.status() if self.router else None)
        local = self.local
        payload: dict[str, Any] = {
            "version": __version__,
            "localModel": local.model_path.name if local and local.model_path else "",
            "localReady": bool(local and local.info().available),
            "localError": local.load_error.user_message if local and local.load_error else "",
        }
        if status is not None:
            payload.update(status.to_dict())
            if status.notify and status.message:
                key = f"remote:{status.remote_state}"
                self.tell_once(key, status.message, lsp.MessageType.Info)
                self._told.discard(f"remote:{status.remote_state}")
        self.protocol.notify(STATUS_NOTIFICATION, payload)

    # -- configuration and tiers --------------------------------------------------------------

    def apply_config(self, config: Config) -> None:
        old = self.config
        self.config = config
        # The command line's --log-level is a floor: settings may ask for more detail, not less.
        floor = _level(os.environ.get("LSP_SERVER_LOG_LEVEL", "info"))
        logging.getLogger().setLevel(min(floor, _level(config.log_level)))
        if self.local is None or old.local != config.local:
            self._start_local()
        if self.router is None or old.router != config.router or old.remote != config.remote:
            self._start_router()
        else:
            self.make_pipeline()  # the pipeline reads completion and context settings

    def _start_local(self) -> None:
        previous = self.local
        self.local = LocalTier(self.config.local, self._model_resolver(self.config))
        if self.config.local.enabled:
            self.local.start_loading().add_done_callback(self._local_loaded)
        if previous is not None:
            self.background(previous.aclose())
        if self.router is not None:
            self._start_router()

    def _local_loaded(self, _fut: Any) -> None:
        local = self.local
        if local is None:
            return
        error = local.load_error
        loop = self._loop
        if loop is None:
            return
        if error is not None:
            loop.call_soon_threadsafe(self.tell_once, "model", error.user_message)
        loop.call_soon_threadsafe(self.send_status)

    def _start_router(self) -> None:
        previous = self.router
        local = self.local if self.config.local.enabled else None
        remote = _make_remote(self.config, self.root)
        self.router = Router(local, remote, self.config.router, on_status=self._on_router_status)
        self.make_pipeline()
        # The old router's local tier lives on in the new one; only its remote tier is done.
        if previous is not None and previous.remote is not None:
            self.background(previous.remote.aclose())

    def make_pipeline(self) -> None:
        service = self.index_service
        self.pipeline = CompletionPipeline(
            self.config, self.router,
            gate=service.gate if service else None,
            context=service.context if service and self.config.context.index else None,
        )

    def background(self, coro: Any) -> None:
        """Run a coroutine without awaiting it, keeping a reference until it ends."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_router_status(self, status: RouterStatus) -> None:
        self.send_status(status)

    @property
    def _loop(self) -> asyncio.AbstractEventLoop | None:
        try:
            return asyncio.get_running_loop()
        except RuntimeError:
            return self._event_loop

    # -- documents ----------------------------------------------------------------------------

    def relpath(self, uri: str) -> str:
        path = to_fs_path(uri) if uri.startswith("file:") else None
        if not path:
            return ""
        if self.root is not None:
            try:
                return Path(path).resolve().relative_to(self.root).as_posix()
            except ValueError:
                pass
        return Path(path).name

    # -- completion ---------------------------------------------------------------------------

    async def serve(
        self, uri: str, pos: lsp.Position, kind: str
    ) -> tuple[Snapshot, Completion] | None:
        """One completion for the document at `pos` (with the snapshot it is for), or None;
        raises the LSP error to send."""
        cfg = self.config.completion
        if not cfg.enabled or self.pipeline is None:
            return None
        snap = self.docs.snapshot(uri, pos.line, pos.character)  # before any await
        if snap is None:
            log.debug("no completion for %s: unknown or out-of-sync document", uri)
            return None
        last = self._last.get(uri)
        if last is not None and last[:2] == (snap.version, snap.offset):
            return snap, last[2]  # the other kind of request just computed this very answer
        token = self.scheduler.begin(f"{kind}:{uri}")
        started = time.perf_counter()
        try:
            delay = self.typing.debounce(uri, cfg.debounce_ms, cfg.max_debounce_ms)
            if delay:
                await asyncio.sleep(delay)
            token.raise_if_cancelled()
            result = await self.pipeline.complete(snap, token, self.relpath(uri))
            token.raise_if_cancelled()
        except CancelledError as exc:
            raise JsonRpcRequestCancelled(f"request cancelled ({exc})") from None
        except asyncio.CancelledError:
            token.cancel("cancelled by the client")
            raise
        finally:
            self.scheduler.end(f"{kind}:{uri}", token)
        self._check_current(snap)
        if result is not None:
            self._last[uri] = (snap.version, snap.offset, result)
            if kind == "inline":
                self.pipeline.speculate(snap, result, self.relpath(uri))
        if log.isEnabledFor(logging.DEBUG):
            metrics = _metrics(kind, uri, result, started)
            metrics["loopStallMs"] = round(self.loop_monitor.take_recent(), 1)
            log.debug("metrics %s", json.dumps(metrics))
        return (snap, result) if result is not None else None

    def _check_current(self, snap: Snapshot) -> None:
        doc = self.docs.get(snap.uri)
        if doc is None or not doc.in_sync or doc.version != snap.version:
            raise JsonRpcContentModified("the document changed while the completion was computed")


def _metrics(kind: str, uri: str, result: Completion | None, started: float) -> dict[str, Any]:
    """One line per answered request, for benchmarks and debugging."""
    return {
        "kind": kind,
        "uri": uri,
        "ms": round((time.perf_counter() - started) * 1000, 1),
        "tier": result.tier if result else "",
        "cached": bool(result and result.cached),
        "promptTokens": result.prompt_tokens if result else 0,
        "evaluated": result.evaluated_tokens if result and not result.cached else 0,
        "generated": result.generated_tokens if result and not result.cached else 0,
        "chars": len(result.text) if result else 0,
    }


def _level(name: str) -> int:
    return {"trace": 5, "debug": logging.DEBUG, "info": logging.INFO,
            "warning": logging.WARNING, "error": logging.ERROR}.get(name.lower(), logging.INFO)


def _make_remote(config: Config, root: Path | None) -> RemoteTier | None:
    """The remote tier when one is configured and enabled, else None."""
    if not config.remote.enabled or not config.remote.base_url:
        return None
    policy = ContextPolicy(root, config.context.exclude) if root is not None else None
    return RemoteTier(config.remote, policy=policy)


def create_server(
    model_resolver: Callable[[Config], Callable[[], Path | None]] | None = None,
) -> CompletionServer:
    from lsp_server.model_choice import resolver_for

    server = CompletionServer(model_resolver=model_resolver or resolver_for)
    register_edit_commands(server)
    register_index_features(server)

    @server.feature(lsp.INITIALIZE)
    def initialize(ls: CompletionServer, params: lsp.InitializeParams) -> None:
        encoding = ServerCapabilitiesBuilder.choose_position_encoding(params.capabilities)
        ls.docs.encoding = getattr(encoding, "value", encoding)
        ls._init_options = params.initialization_options
        ls._event_loop = asyncio.get_running_loop()
        ls.root = _root_of(params)
        caps = params.capabilities.workspace
        ls.supports_configuration = bool(caps and caps.configuration)
        text_caps = params.capabilities.text_document
        item_caps = text_caps.completion if text_caps else None
        formats = (item_caps.completion_item.documentation_format or []
                   if item_caps and item_caps.completion_item else [])
        ls.markdown_docs = lsp.MarkupKind.Markdown in formats
        config, _ = build_config(("initializationOptions", params.initialization_options))
        ls.apply_config(config)
        if params.process_id:
            ls._watchdog = asyncio.ensure_future(_watch_parent(params.process_id))
        ls.background(ls.loop_monitor.run())
        log.info("initialized: root=%s encoding=%s", ls.root, ls.docs.encoding)

    @server.feature(lsp.INITIALIZED)
    async def initialized(ls: CompletionServer, params: lsp.InitializedParams) -> None:
        await _pull_configuration(ls, None)
        ls.send_status()
        if ls.root is not None and ls.config.context.index:
            window = ls.client_capabilities.window
            ls.index_service = IndexService(ls, ls.root)
            ls.index_service.start(ls.config.context.exclude,
                                   with_progress=bool(window and window.work_done_progress))
            ls.make_pipeline()  # the pipeline now takes its gate and context from the index
            for uri in ls.docs.uris():
                doc = ls.docs.get(uri)
                if doc is not None:
                    ls.index_service.document_changed(uri, doc.text)
            await watch_files(ls)

    @server.feature(lsp.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(
        ls: CompletionServer, params: lsp.DidChangeConfigurationParams
    ) -> None:
        await _pull_configuration(ls, params.settings)

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: CompletionServer, params: lsp.DidOpenTextDocumentParams) -> None:
        doc = params.text_document
        ls.docs.open(doc.uri, doc.language_id, doc.version, doc.text)
        if ls.index_service is not None:
            ls.index_service.document_changed(doc.uri, doc.text)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: CompletionServer, params: lsp.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        changes = [change_from_lsp(c) for c in params.content_changes]
        doc = ls.docs.change(uri, params.text_document.version, changes)
        ls.typing.edited(uri)
        if doc is not None and doc.in_sync and ls.index_service is not None:
            ls.index_service.document_changed(uri, doc.text)
        # A request still computing for the old text is superseded by this edit.
        ls.scheduler.cancel(f"inline:{uri}", "document changed")
        ls.scheduler.cancel(f"classic:{uri}", "document changed")

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: CompletionServer, params: lsp.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.docs.close(uri)
        ls.typing.forget(uri)
        if ls.index_service is not None:
            ls.index_service.document_closed(uri)
        ls._last.pop(uri, None)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: CompletionServer, params: lsp.DidSaveTextDocumentParams) -> None:
        if params.text is not None:
            doc = ls.docs.get(params.text_document.uri)
            if doc is not None and doc.text != params.text:
                log.warning("didSave text differs from ours for %s: resynced", doc.uri)
                doc.text = params.text
                doc.in_sync = True

    @server.feature(
        lsp.TEXT_DOCUMENT_INLINE_COMPLETION, lsp.InlineCompletionOptions()
    )
    async def inline_completion(
        ls: CompletionServer, params: lsp.InlineCompletionParams
    ) -> lsp.InlineCompletionList | None:
        if not ls.config.completion.inline:
            return None
        answer = await ls.serve(params.text_document.uri, params.position, "inline")
        if answer is None:
            return lsp.InlineCompletionList(items=[])
        return lsp.InlineCompletionList(items=inline_items(*answer, ls.docs.encoding))

    @server.feature(
        lsp.TEXT_DOCUMENT_COMPLETION,
        lsp.CompletionOptions(trigger_characters=[".", "(", "[", ",", " ", "\n"]),
    )
    async def completion(
        ls: CompletionServer, params: lsp.CompletionParams
    ) -> lsp.CompletionList | None:
        if not ls.config.completion.classic:
            return None
        answer = await ls.serve(params.text_document.uri, params.position, "classic")
        if answer is None:
            return lsp.CompletionList(is_incomplete=True, items=[])
        items = completion_items(*answer, ls.docs.encoding, markdown=ls.markdown_docs)
        return lsp.CompletionList(is_incomplete=True, items=items)

    @server.feature(lsp.SHUTDOWN)
    async def shutdown(ls: CompletionServer, params: Any) -> None:
        log.info("worst event-loop stall: %.1f ms", ls.loop_monitor.worst_ms)
        ls.scheduler.cancel_all("shutdown")
        if ls.pipeline is not None:
            ls.pipeline.cancel_speculation()
        if ls.router is not None:
            await ls.router.aclose()
        if ls.local is not None:
            await ls.local.aclose()
        if ls.index_service is not None:
            await ls.index_service.aclose()
        if ls._watchdog is not None:
            ls._watchdog.cancel()

    return server


def _root_of(params: lsp.InitializeParams) -> Path | None:
    uri = None
    if params.workspace_folders:
        uri = params.workspace_folders[0].uri
    elif params.root_uri:
        uri = params.root_uri
    if uri:
        path = to_fs_path(uri)
        if path:
            return Path(path).resolve()
    if params.root_path:
        return Path(params.root_path).resolve()
    return None


async def _pull_configuration(ls: CompletionServer, pushed: Any) -> None:
    """Settings from workspace/configuration when the client supports it, else pushed ones."""
    settings = pushed
    if ls.supports_configuration:
        try:
            got = await asyncio.wait_for(
                ls.workspace_configuration_async(
                    lsp.ConfigurationParams(items=[lsp.ConfigurationItem(section=SECTION)])
                ),
                timeout=5,
            )
            if got and got[0]:
                settings = got[0]
        except Exception as exc:  # a client that fails this request keeps the current settings
            log.info("workspace/configuration failed: %s", exc)
    if settings is None:
        return
    if isinstance(settings, dict) and SECTION in settings:
        settings = settings[SECTION]
    config, _ = build_config(
        ("initializationOptions", ls._init_options), ("workspace settings", settings)
    )
    ls.apply_config(config)


async def _watch_parent(pid: int) -> None:
    """End the server when the editor that started it is gone (it may never send exit)."""
    while True:
        await asyncio.sleep(3)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            log.warning("parent process %d is gone: exiting", pid)
            logging.shutdown()
            os._exit(1)
        except PermissionError:
            pass  # it exists, owned by someone else
