"""Multi-line edits as diffs: code actions and `workspace/executeCommand`, applied with
`workspace/applyEdit` as minimal TextEdits, only to the requesting document, only at the
version they were computed for, and only inside the range they were asked for."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from lsprotocol import types as lsp

from lsp_server.positions import LineIndex, PositionError
from tiers.base import CancelledError, CancelToken
from tiers.edits import (
    EditProposal,
    EditRejected,
    EditTarget,
    Span,
    complete_block,
    edit_selection,
    fix_diagnostic,
    validate,
)
from tiers.errors import LspServerError

if TYPE_CHECKING:
    from lsp_server.server import CompletionServer

log = logging.getLogger(__name__)

COMPLETE_BLOCK = "lspServer.completeBlock"
EDIT_SELECTION = "lspServer.editSelection"
FIX_DIAGNOSTIC = "lspServer.fixDiagnostic"
COMMANDS = (COMPLETE_BLOCK, EDIT_SELECTION, FIX_DIAGNOSTIC)


def _get(obj: Any, key: str) -> Any:
    """A field of an argument that arrives as a dict (JSON) or an lsprotocol object."""
    if isinstance(obj, dict):
        return obj.get(key)
    return getattr(obj, key, None)


def _position(obj: Any) -> tuple[int, int]:
    line, character = _get(obj, "line"), _get(obj, "character")
    if not isinstance(line, int) or not isinstance(character, int):
        raise EditRejected(f"not a position: {obj!r}", user_message="Invalid position argument.")
    return line, character


class EditCommands:
    def __init__(self, server: CompletionServer) -> None:
        self.server = server

    # -- argument conversion --------------------------------------------------------------

    def _target(self, uri: Any) -> tuple[EditTarget, LineIndex]:
        if not isinstance(uri, str):
            raise EditRejected(f"not a document uri: {uri!r}", user_message="Invalid document.")
        doc = self.server.docs.get(uri)
        if doc is None or not doc.in_sync:
            raise EditRejected(f"{uri} is not open", user_message="The document is not open.")
        target = EditTarget(uri, doc.version, doc.text, doc.language_id, self.server.relpath(uri))
        return target, LineIndex.of(doc.text)

    def _col(self, index: LineIndex, pos: tuple[int, int]) -> tuple[int, int]:
        """LSP position (negotiated encoding) -> (line, code-point column)."""
        try:
            offset = index.offset(pos[0], pos[1], self.server.docs.encoding)
        except PositionError as exc:
            raise EditRejected(
                str(exc), user_message="The position is outside the document."
            ) from exc
        return index.line_col(offset)

    def _span(self, index: LineIndex, rng: Any) -> Span:
        start = self._col(index, _position(_get(rng, "start")))
        end = self._col(index, _position(_get(rng, "end")))
        return Span(start[0], start[1], end[0], end[1])

    def _model(self):
        """The chat model for edits: the remote tier when usable, else the local model."""
        router = self.server.router
        remote = getattr(router, "remote", None) if router else None
        if remote is not None and not self.server.config.router.offline:
            return remote
        if self.server.local is not None:
            return self.server.local
        raise EditRejected("no model", user_message="No model is available for edits.")

    # -- commands ---------------------------------------------------------------------------

    async def run(self, name: str, args: list[Any]) -> Any:
        cancel = CancelToken()
        try:
            proposal = await self._propose(name, args, cancel)
            return await self._apply(proposal)
        except (CancelledError, EditRejected, LspServerError) as exc:
            message = getattr(exc, "user_message", str(exc))
            log.warning("%s: %s", name, exc)
            self.server.window_show_message(
                lsp.ShowMessageParams(
                    type=lsp.MessageType.Warning, message=f"lsp-server: {message}"
                )
            )
            return {"applied": False, "reason": message}

    async def _propose(self, name: str, args: list[Any], cancel: CancelToken) -> EditProposal:
        if not args:
            raise EditRejected(f"{name} needs arguments", user_message="Missing arguments.")
        target, index = self._target(args[0])
        model = self._model()
        if name == COMPLETE_BLOCK:
            line, _ = self._col(index, _position(args[1])) if len(args) > 1 else (0, 0)
            return await complete_block(model, target, line, cancel)
        if name == EDIT_SELECTION:
            if len(args) < 3 or not isinstance(args[2], str):
                raise EditRejected(
                    "no instruction", user_message="Edit selection needs an instruction."
                )
            return await edit_selection(model, target, self._span(index, args[1]), args[2], cancel)
        if name == FIX_DIAGNOSTIC:
            diag = args[1] if len(args) > 1 else None
            message = _get(diag, "message")
            if not isinstance(message, str):
                raise EditRejected("no diagnostic", user_message="Fix needs a diagnostic.")
            span = self._span(index, _get(diag, "range"))
            return await fix_diagnostic(model, target, span, message, cancel)
        raise EditRejected(f"unknown command {name}", user_message=f"Unknown command {name}.")

    async def _apply(self, proposal: EditProposal) -> dict[str, Any]:
        doc = self.server.docs.get(proposal.uri)
        if doc is None:
            raise EditRejected("the document was closed", user_message="The document was closed.")
        # The document may have changed while the model worked: validate against it now.
        edits = validate(proposal, proposal.uri, doc.version, doc.text, proposal.region)
        if not edits:
            return {"applied": False, "reason": "the model proposed no change"}
        index = LineIndex.of(doc.text)
        enc = self.server.docs.encoding
        text_edits = []
        for e in edits:
            start = index.starts[e.start_line] + e.start_col
            end = (
                index.starts[e.end_line] + e.end_col
                if e.end_line < index.line_count
                else len(doc.text)
            )
            s_line, s_char = index.position(start, enc)
            e_line, e_char = index.position(end, enc)
            text_edits.append(
                lsp.TextEdit(
                    range=lsp.Range(
                        start=lsp.Position(line=s_line, character=s_char),
                        end=lsp.Position(line=e_line, character=e_char),
                    ),
                    new_text=e.new_text,
                )
            )
        edit = lsp.WorkspaceEdit(
            document_changes=[
                lsp.TextDocumentEdit(
                    text_document=lsp.OptionalVersionedTextDocumentIdentifier(
                        uri=doc.uri, version=doc.version
                    ),
                    edits=text_edits,
                )
            ]
        )
        result = await self.server.workspace_apply_edit_async(
            lsp.ApplyWorkspaceEditParams(edit=edit, label=proposal.title or "lsp-server edit")
        )
        return {"applied": bool(result and result.applied), "edits": len(text_edits)}

    # -- code actions -------------------------------------------------------------------------

    def code_actions(self, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        uri = params.text_document.uri
        if self.server.docs.get(uri) is None:
            return []
        actions = [
            lsp.CodeAction(
                title="Complete this block (AI)",
                kind=lsp.CodeActionKind.RefactorRewrite,
                command=lsp.Command(
                    title="Complete this block",
                    command=COMPLETE_BLOCK,
                    arguments=[uri, params.range.start],
                ),
            )
        ]
        for diag in params.context.diagnostics or []:
            actions.append(
                lsp.CodeAction(
                    title=f"Fix with AI: {diag.message[:60]}",
                    kind=lsp.CodeActionKind.QuickFix,
                    diagnostics=[diag],
                    command=lsp.Command(
                        title="Fix this diagnostic", command=FIX_DIAGNOSTIC, arguments=[uri, diag]
                    ),
                )
            )
        return actions


def register(server: CompletionServer) -> EditCommands:
    commands = EditCommands(server)

    def command_handler(name: str):
        async def handler(ls: Any, *args: Any) -> Any:
            # pygls spreads Command.arguments as positional parameters.
            return await commands.run(name, list(args))

        return handler

    for name in COMMANDS:
        server.command(name)(command_handler(name))

    @server.feature(
        lsp.TEXT_DOCUMENT_CODE_ACTION,
        lsp.CodeActionOptions(
            code_action_kinds=[lsp.CodeActionKind.QuickFix, lsp.CodeActionKind.RefactorRewrite]
        ),
    )
    def code_action(ls: Any, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        return commands.code_actions(params)

    return commands
