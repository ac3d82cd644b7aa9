"""The one owner of open documents' text. Notifications mutate it on the event loop; requests
copy a `Snapshot` before their first await.

A document that may have diverged from the editor's copy (an edit outside its text, a version
going backwards, an incremental edit for a document never opened) is marked out of sync and
is not served until the editor sends its full text again (didOpen or a full-text didChange).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property

from lsp_server.positions import LineIndex, PositionError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Change:
    """One content change: a range in the negotiated encoding, or None for the full text."""

    text: str
    start: tuple[int, int] | None = None  # (line, character)
    end: tuple[int, int] | None = None


@dataclass
class Document:
    uri: str
    language_id: str
    version: int
    text: str
    in_sync: bool = True
    _index: LineIndex | None = field(default=None, repr=False)

    @property
    def lines(self) -> LineIndex:
        if self._index is None or self._index.text is not self.text:
            self._index = LineIndex.of(self.text)
        return self._index


@dataclass(frozen=True)
class Snapshot:
    """An immutable copy of a document at one version, with the cursor as a string offset."""

    uri: str
    language_id: str
    version: int
    text: str
    offset: int

    @property
    def prefix(self) -> str:
        return self.text[: self.offset]

    @property
    def suffix(self) -> str:
        return self.text[self.offset :]

    @cached_property
    def line_col(self) -> tuple[int, int]:
        # Read by the gate and by retrieval for every request: index the text once.
        return LineIndex.of(self.text).line_col(self.offset)


class DocumentStore:
    def __init__(self, encoding: str = "utf-16") -> None:
        self.encoding = encoding
        self._docs: dict[str, Document] = {}

    def __contains__(self, uri: str) -> bool:
        return uri in self._docs

    def get(self, uri: str) -> Document | None:
        return self._docs.get(uri)

    def uris(self) -> list[str]:
        return list(self._docs)

    def open(self, uri: str, language_id: str, version: int, text: str) -> Document:
        doc = Document(uri, language_id, version, text)
        self._docs[uri] = doc
        return doc

    def close(self, uri: str) -> None:
        self._docs.pop(uri, None)

    def change(self, uri: str, version: int | None, changes: list[Change]) -> Document | None:
        """Apply didChange content changes in order. Never raises on bad input."""
        doc = self._docs.get(uri)
        if doc is None:
            full = [c for c in changes if c.start is None]
            if not full:
                log.warning("didChange for %s, which was never opened: ignored", uri)
                return None
            # A full-text change carries everything needed to start tracking the document.
            doc = self.open(uri, "", version or 0, full[-1].text)
            changes = changes[changes.index(full[-1]) + 1 :]
        elif version is not None and version <= doc.version:
            log.warning(
                "didChange for %s goes from version %d to %d: marked out of sync",
                uri, doc.version, version,
            )
            doc.in_sync = False
        for change in changes:
            self._apply(doc, change)
        if version is not None:
            doc.version = version
        return doc

    def _apply(self, doc: Document, change: Change) -> None:
        if change.start is None or change.end is None:
            doc.text = change.text
            doc.in_sync = True
            return
        if not doc.in_sync:
            return  # its text is unknown: wait for the full text
        idx = doc.lines
        try:
            start = idx.offset(*change.start, self.encoding)
            end = idx.offset(*change.end, self.encoding)
        except PositionError as exc:
            log.warning("edit outside %s (%s): marked out of sync", doc.uri, exc)
            doc.in_sync = False
            return
        if end < start:
            log.warning("edit with reversed range in %s: marked out of sync", doc.uri)
            doc.in_sync = False
            return
        doc.text = doc.text[:start] + change.text + doc.text[end:]

    def snapshot(self, uri: str, line: int, character: int) -> Snapshot | None:
        """A snapshot at an LSP position, or None when the document cannot be served."""
        doc = self._docs.get(uri)
        if doc is None or not doc.in_sync:
            return None
        try:
            offset = doc.lines.offset(line, character, self.encoding)
        except PositionError:
            return None
        return Snapshot(doc.uri, doc.language_id, doc.version, doc.text, offset)
