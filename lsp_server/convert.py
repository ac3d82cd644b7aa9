"""Conversions between lsprotocol types and the core's plain types."""

from __future__ import annotations

from lsprotocol import types as lsp

from lsp_server.documents import Change, Snapshot
from lsp_server.positions import LineIndex
from tiers.base import Completion


def change_from_lsp(event: lsp.TextDocumentContentChangeEvent) -> Change:
    rng = getattr(event, "range", None)
    if rng is None:
        return Change(event.text)
    return Change(
        event.text,
        (rng.start.line, rng.start.character),
        (rng.end.line, rng.end.character),
    )


def position(index: LineIndex, offset: int, encoding: str) -> lsp.Position:
    line, character = index.position(offset, encoding)
    return lsp.Position(line=line, character=character)


def word_start(snap: Snapshot) -> int:
    """Offset where the identifier ending at the cursor starts (the classic item's range)."""
    i = snap.offset
    text = snap.text
    while i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_"):
        i -= 1
    return i


def inline_items(
    snap: Snapshot, completion: Completion, encoding: str
) -> list[lsp.InlineCompletionItem]:
    idx = LineIndex.of(snap.text)
    here = position(idx, snap.offset, encoding)
    return [
        lsp.InlineCompletionItem(
            insert_text=completion.text,
            range=lsp.Range(start=here, end=here),
        )
    ]


def completion_items(
    snap: Snapshot, completion: Completion, encoding: str, *, markdown: bool = False
) -> list[lsp.CompletionItem]:
    """One item whose edit replaces the word being typed with that word plus the suggestion,
    so clients that filter by the typed prefix keep it."""
    idx = LineIndex.of(snap.text)
    start = word_start(snap)
    typed = snap.text[start : snap.offset]
    new_text = typed + completion.text
    first_line = next((ln for ln in new_text.split("\n") if ln.strip()), new_text).strip()
    label = first_line if len(first_line) <= 60 else first_line[:57] + "..."
    return [
        lsp.CompletionItem(
            label=label,
            kind=lsp.CompletionItemKind.Text,
            detail="AI suggestion",
            documentation=lsp.MarkupContent(
                kind=lsp.MarkupKind.Markdown, value=f"```{snap.language_id}\n{new_text}\n```"
            ) if markdown else new_text,
            filter_text=new_text,
            sort_text="0000",
            preselect=True,
            insert_text_format=lsp.InsertTextFormat.PlainText,
            text_edit=lsp.TextEdit(
                range=lsp.Range(
                    start=position(idx, start, encoding), end=position(idx, snap.offset, encoding)
                ),
                new_text=new_text,
            ),
        )
    ]
