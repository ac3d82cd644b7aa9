"""A whole LSP session against the real server and the real default model, once with the
captured capabilities of each editor: initialize, open, type, inline completion, completion,
cancel, shutdown."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from tests.e2e.conftest import SERVER_COMMAND, accept_registrations, server_env
from tests.support.default_model import default_model_path

pytestmark = [pytest.mark.model, pytest.mark.asyncio(loop_scope="module")]

CLIENTS = ["visual-studio-code", "neovim@v0.11.0", "emacs"]

SOURCE = (
    "import math\n\n\ndef area_of_circle(radius):\n"
    '    """Return the area of a circle with the given radius."""\n'
    "    return \n"  # the cursor goes after this space
)


def _workspace(tmp: Path) -> Path:
    ws = tmp / "ws"
    ws.mkdir(parents=True, exist_ok=True)
    (ws / "geometry.py").write_text(SOURCE)
    return ws


_TMP = Path(__import__("tempfile").mkdtemp(prefix="lsp-e2e-"))


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=SERVER_COMMAND, server_env=server_env(_TMP)),
    params=CLIENTS,
    scope="module",
)
async def client(request, lsp_client: LanguageClient):
    accept_registrations(lsp_client)
    ws = _workspace(_TMP)
    params = lsp.InitializeParams(
        capabilities=client_capabilities(request.param),
        root_uri=ws.as_uri(),
        workspace_folders=[lsp.WorkspaceFolder(uri=ws.as_uri(), name="ws")],
        initialization_options={
            "local": {"modelPath": str(default_model_path()), "threads": 2},
            "completion": {"debounceMs": 0},
        },
    )
    lsp_client.init_result = await lsp_client.initialize_session(params)
    lsp_client.workspace_root = ws
    yield
    await lsp_client.shutdown_session()


def _encoding(client: LanguageClient) -> str:
    return str(client.init_result.capabilities.position_encoding or "utf-16")


def _open(client: LanguageClient, name: str, text: str, version: int = 1) -> str:
    uri = (client.workspace_root / name).as_uri()
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(
            text_document=lsp.TextDocumentItem(
                uri=uri, language_id="python", version=version, text=text
            )
        )
    )
    return uri


def _end_of(text: str) -> lsp.Position:
    lines = text.split("\n")
    return lsp.Position(line=len(lines) - 1, character=len(lines[-1]))


async def test_capabilities(client: LanguageClient):
    caps = client.init_result.capabilities
    assert caps.inline_completion_provider
    assert caps.completion_provider is not None
    sync = caps.text_document_sync
    assert sync.change == lsp.TextDocumentSyncKind.Incremental
    offered = (
        client.capabilities.general.position_encodings if client.capabilities.general else None
    )
    if offered:
        assert caps.position_encoding == offered[0]
    else:
        assert caps.position_encoding in (None, lsp.PositionEncodingKind.Utf16)


async def test_inline_completion_continues_code(client: LanguageClient):
    uri = _open(client, "geometry.py", SOURCE)
    pos = lsp.Position(line=5, character=11)
    result = await client.text_document_inline_completion_async(
        lsp.InlineCompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            position=pos,
            context=lsp.InlineCompletionContext(
                trigger_kind=lsp.InlineCompletionTriggerKind.Automatic
            ),
        )
    )
    items = result.items if isinstance(result, lsp.InlineCompletionList) else result
    assert items, "no inline completion"
    text = items[0].insert_text
    text = text if isinstance(text, str) else text.value
    assert "radius" in text and "pi" in text, text
    assert "\n" not in text
    assert items[0].range.start == pos and items[0].range.end == pos


async def test_typing_then_completion_item(client: LanguageClient):
    # Non-ASCII before the cursor, so the range is only right in the negotiated encoding.
    text = (
        'import math\n\n\ndef area_of_circle(radius):\n    """Circle area 📐."""\n'
        '    s = "📐"; return math.'
    )
    uri = _open(client, "typed.py", text[: -len("math.")])
    # Type "math." as an incremental change at the end of the last line.
    enc = _encoding(client)
    last = text.split("\n")[-1][: -len("math.")]
    col = {"utf-8": len(last.encode()), "utf-16": len(last.encode("utf-16-le")) // 2}.get(
        enc, len(last)
    )
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                lsp.TextDocumentContentChangePartial(
                    range=lsp.Range(
                        start=lsp.Position(line=5, character=col),
                        end=lsp.Position(line=5, character=col),
                    ),
                    text="math.",
                )
            ],
        )
    )
    cursor = lsp.Position(line=5, character=col + 5)
    result = await client.text_document_completion_async(
        lsp.CompletionParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=cursor)
    )
    assert isinstance(result, lsp.CompletionList) and result.items
    item = result.items[0]
    edit = item.text_edit
    assert isinstance(edit, lsp.TextEdit)
    # The edit replaces the word typed so far ("math" is not a word ending at the cursor,
    # the cursor follows "."), so it starts and ends at the cursor.
    assert edit.range.end == cursor
    assert edit.range.start == cursor
    assert edit.new_text.strip(), item
    assert item.filter_text == edit.new_text


async def test_completion_range_covers_partial_word(client: LanguageClient):
    text = "import math\n\n\ndef area(radius):\n    return math.pi * rad"
    uri = _open(client, "word.py", text)
    cursor = _end_of(text)
    result = await client.text_document_completion_async(
        lsp.CompletionParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=cursor)
    )
    assert result.items, "no completion item"
    edit = result.items[0].text_edit
    assert edit.range.start == lsp.Position(line=4, character=cursor.character - 3)
    assert edit.range.end == cursor
    assert edit.new_text.startswith("rad")


async def test_superseded_and_cancelled_requests_get_one_answer_each(client: LanguageClient):
    # A long document that was never evaluated: the first request takes a while.
    body = "".join(
        f"def function_number_{i}(value):\n    return value * {i}\n\n\n" for i in range(60)
    )
    text = body + "def function_number_60(value):\n    return "
    uri = _open(client, "long.py", text)
    params = lsp.InlineCompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri),
        position=_end_of(text),
        context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Automatic),
    )
    first = asyncio.ensure_future(client.text_document_inline_completion_async(params))
    await asyncio.sleep(0.05)
    second = asyncio.ensure_future(client.text_document_inline_completion_async(params))
    results = await asyncio.gather(first, second, return_exceptions=True)
    assert isinstance(results[0], JsonRpcException), results[0]
    assert results[0].code == -32800  # RequestCancelled: superseded by the second request
    assert not isinstance(results[1], BaseException), results[1]

    # $/cancelRequest from the client: the answer is RequestCancelled, and only one answer.
    text2 = text.replace("value * ", "value + ")
    uri2 = _open(client, "long2.py", text2)
    params2 = lsp.InlineCompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri2),
        position=_end_of(text2),
        context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Automatic),
    )
    msg_id = "cancel-me"
    fut = asyncio.ensure_future(
        client.protocol.send_request_async(
            lsp.TEXT_DOCUMENT_INLINE_COMPLETION, params2, msg_id=msg_id
        )
    )
    await asyncio.sleep(0.2)
    client.protocol.notify(lsp.CANCEL_REQUEST, lsp.CancelParams(id=msg_id))
    with pytest.raises(JsonRpcException) as exc:
        await asyncio.wait_for(fut, timeout=30)
    assert exc.value.code == -32800


async def test_bad_input_is_survived(client: LanguageClient):
    unknown = (client.workspace_root / "never-opened.py").as_uri()
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=unknown, version=3),
            content_changes=[
                lsp.TextDocumentContentChangePartial(
                    range=lsp.Range(
                        start=lsp.Position(line=0, character=0),
                        end=lsp.Position(line=0, character=0),
                    ),
                    text="x",
                )
            ],
        )
    )
    result = await client.text_document_inline_completion_async(
        lsp.InlineCompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=unknown),
            position=lsp.Position(line=0, character=1),
            context=lsp.InlineCompletionContext(
                trigger_kind=lsp.InlineCompletionTriggerKind.Invoked
            ),
        )
    )
    assert result is None or not result.items
    # An edit far outside the text: the document is not served until it is resynced.
    uri = _open(client, "outside.py", "x = 1\n")
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                lsp.TextDocumentContentChangePartial(
                    range=lsp.Range(
                        start=lsp.Position(line=40, character=0),
                        end=lsp.Position(line=41, character=0),
                    ),
                    text="y",
                )
            ],
        )
    )
    result = await client.text_document_completion_async(
        lsp.CompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            position=lsp.Position(line=1, character=0),
        )
    )
    assert result is None or not result.items
    # A full-text change resyncs it.
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=3),
            content_changes=[
                lsp.TextDocumentContentChangeWholeDocument(
                    text="import math\n\n\ndef area(radius):\n    return math."
                )
            ],
        )
    )
    result = await client.text_document_inline_completion_async(
        lsp.InlineCompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            position=lsp.Position(line=4, character=16),
            context=lsp.InlineCompletionContext(
                trigger_kind=lsp.InlineCompletionTriggerKind.Invoked
            ),
        )
    )
    assert result is not None and result.items
