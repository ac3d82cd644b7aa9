"""Edits through LSP with the real local model answering as the chat model (no remote
configured): code actions offer them, executeCommand applies them with workspace/applyEdit,
and an edit computed for an older version of the document is not applied."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from tests.e2e.conftest import SERVER_COMMAND, accept_registrations, server_env
from tests.support.default_model import default_model_path

pytestmark = [pytest.mark.model, pytest.mark.asyncio(loop_scope="module")]

_TMP = Path(tempfile.mkdtemp(prefix="lsp-edits-"))
SOURCE = (
    'def is_even(n: int) -> bool:\n    """Return True when n is even."""\n    pass\n'
    "\n\nprint(is_even(4))\n"
)


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=SERVER_COMMAND, server_env=server_env(_TMP)),
    scope="module",
)
async def client(lsp_client: LanguageClient):
    accept_registrations(lsp_client)
    applied: list[lsp.ApplyWorkspaceEditParams] = []

    @lsp_client.feature(lsp.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: lsp.ApplyWorkspaceEditParams) -> lsp.ApplyWorkspaceEditResult:
        applied.append(params)
        return lsp.ApplyWorkspaceEditResult(applied=True)

    lsp_client.applied = applied

    # lsprotocol decodes a CodeAction that carries a command as a bare Command: decide by shape.
    converter = lsp_client.protocol._converter

    def action_or_command(obj, _type):
        if isinstance(obj.get("command"), str):
            return converter.structure(obj, lsp.Command)
        return converter.structure(obj, lsp.CodeAction)

    converter.register_structure_hook(lsp.Command | lsp.CodeAction, action_or_command)
    ws = _TMP / "ws"
    ws.mkdir(exist_ok=True)
    await lsp_client.initialize_session(
        lsp.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=ws.as_uri(),
            initialization_options={
                "local": {"modelPath": str(default_model_path()), "threads": 2}
            },
        )
    )
    lsp_client.ws = ws
    yield
    await lsp_client.shutdown_session()


def _open(client: LanguageClient, name: str) -> str:
    uri = (client.ws / name).as_uri()
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(
            text_document=lsp.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=SOURCE
            )
        )
    )
    return uri


async def test_code_actions_offer_block_completion_and_diagnostic_fix(client: LanguageClient):
    uri = _open(client, "actions.py")
    diag = lsp.Diagnostic(
        range=lsp.Range(
            start=lsp.Position(line=2, character=4), end=lsp.Position(line=2, character=8)
        ),
        message="function body is a placeholder",
    )
    actions = await client.text_document_code_action_async(
        lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            range=lsp.Range(
                start=lsp.Position(line=2, character=4), end=lsp.Position(line=2, character=4)
            ),
            context=lsp.CodeActionContext(diagnostics=[diag]),
        )
    )
    commands = {a.command.command for a in actions if isinstance(a, lsp.CodeAction) and a.command}
    commands |= {a.command for a in actions if isinstance(a, lsp.Command)}
    assert {"lspServer.completeBlock", "lspServer.fixDiagnostic"} <= commands


async def test_complete_block_applies_a_minimal_edit_inside_the_block(client: LanguageClient):
    uri = _open(client, "block.py")
    before = len(client.applied)
    result = await client.workspace_execute_command_async(
        lsp.ExecuteCommandParams(
            command="lspServer.completeBlock", arguments=[uri, {"line": 2, "character": 4}]
        )
    )
    assert result["applied"] is True, result
    params = client.applied[before]
    (change,) = params.edit.document_changes
    assert change.text_document.uri == uri and change.text_document.version == 1
    for edit in change.edits:
        # Inside the function: never the line after it, never the print at the end.
        assert edit.range.start.line >= 0 and edit.range.end.line <= 3, edit
    new_text = "".join(e.new_text for e in change.edits)
    assert "%" in new_text or "even" in new_text.lower(), new_text


async def test_an_edit_for_an_older_version_is_not_applied(client: LanguageClient):
    uri = _open(client, "stale.py")
    before = len(client.applied)
    pending = asyncio.ensure_future(
        client.workspace_execute_command_async(
            lsp.ExecuteCommandParams(
                command="lspServer.completeBlock", arguments=[uri, {"line": 2, "character": 4}]
            )
        )
    )
    await asyncio.sleep(0.3)
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                lsp.TextDocumentContentChangePartial(
                    range=lsp.Range(
                        start=lsp.Position(line=5, character=0),
                        end=lsp.Position(line=5, character=0),
                    ),
                    text="# changed meanwhile\n",
                )
            ],
        )
    )
    result = await asyncio.wait_for(pending, timeout=300)
    assert result["applied"] is False
    assert len(client.applied) == before
