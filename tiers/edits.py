"""Multi-line edits as minimal text edits: complete a block, edit a selection, fix a diagnostic.

Pure except for the one chat call per operation. Positions are 0-based lines and code-point
columns. Every model reply is confined to a region of the requesting document at the version
it was computed for; `validate` re-checks that when the edit is about to be applied.
"""

from __future__ import annotations

import bisect
import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Protocol

from tiers.base import CancelToken
from tiers.errors import LspServerError

Message = dict[str, str]


class EditRejected(LspServerError):
    """A model's edit that may not be applied (another file, a stale version, out of range)."""


@dataclass(frozen=True)
class TextEdit:
    start_line: int
    start_col: int
    end_line: int
    end_col: int
    new_text: str

    @property
    def start(self) -> tuple[int, int]:
        return (self.start_line, self.start_col)

    @property
    def end(self) -> tuple[int, int]:
        return (self.end_line, self.end_col)


@dataclass(frozen=True)
class Span:
    """A range of a document, end exclusive."""

    start_line: int
    start_col: int
    end_line: int
    end_col: int

    @property
    def start(self) -> tuple[int, int]:
        return (self.start_line, self.start_col)

    @property
    def end(self) -> tuple[int, int]:
        return (self.end_line, self.end_col)


@dataclass(frozen=True)
class EditTarget:
    """A snapshot of the requesting document."""

    uri: str
    version: int
    text: str
    language_id: str = ""
    path: str = ""  # workspace-relative path, for privacy rules and the prompt


@dataclass(frozen=True)
class EditProposal:
    uri: str
    version: int
    edits: tuple[TextEdit, ...]
    region: Span | None = None  # the range the edit was confined to
    title: str = ""


class ChatModel(Protocol):
    """What an edit needs from a tier (`RemoteTier.chat` fits)."""

    async def chat(
        self,
        messages: Sequence[Message],
        cancel: CancelToken,
        *,
        kind: str = "edit",
        max_tokens: int = 1024,
        paths: Sequence[str] = (),
    ) -> str: ...


# ---------------------------------------------------------------------- positions and diffs


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def split_lines_keepends(text: str) -> list[str]:
    """Lines with their breaks, splitting only where LSP does (\n, \r\n, \r)."""
    out: list[str] = []
    pos = 0
    for m in _LINE_BREAK.finditer(text):
        out.append(text[pos:m.end()])
        pos = m.end()
    if pos < len(text):
        out.append(text[pos:])
    return out


def _line_starts(text: str) -> list[int]:
    """Offset of every line start; a text ending with a line break has an empty last line."""
    return [0, *(m.end() for m in _LINE_BREAK.finditer(text))]


def _position(starts: list[int], offset: int) -> tuple[int, int]:
    line = bisect.bisect_right(starts, offset) - 1
    return line, offset - starts[line]


def offset_of(text: str, line: int, col: int) -> int:
    """Offset of a (line, col) position; raises EditRejected when it is outside `text`."""
    starts = _line_starts(text)
    if line < 0 or col < 0 or line >= len(starts):
        raise EditRejected(f"position {line}:{col} is outside the document")
    end = starts[line + 1] if line + 1 < len(starts) else len(text)
    body = _LINE_BREAK.sub("", text[starts[line]:end])
    if col > len(body):
        raise EditRejected(f"position {line}:{col} is past the end of line {line}")
    return starts[line] + col


def minimal_edits(old: str, new: str) -> list[TextEdit]:
    """Edits turning `old` into `new`: a line diff, each hunk trimmed to its changed span."""
    if old == new:
        return []
    a = split_lines_keepends(old)
    b = split_lines_keepends(new)
    starts = _line_starts(old)
    line_off = [0]
    for line in a:
        line_off.append(line_off[-1] + len(line))
    edits: list[TextEdit] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        o_start, o_end = line_off[i1], line_off[i2]
        old_seg, new_seg = old[o_start:o_end], "".join(b[j1:j2])
        p = 0
        limit = min(len(old_seg), len(new_seg))
        while p < limit and old_seg[p] == new_seg[p]:
            p += 1
        s = 0
        while s < limit - p and old_seg[-1 - s] == new_seg[-1 - s]:
            s += 1
        # Never split a \r\n: no position exists between its two characters.
        if 0 < o_start + p < len(old) and old[o_start + p - 1] == "\r" and old[o_start + p] == "\n":
            p -= 1
        if 0 < o_end - s < len(old) and old[o_end - s - 1] == "\r" and old[o_end - s] == "\n":
            s -= 1
        sl, sc = _position(starts, o_start + p)
        el, ec = _position(starts, o_end - s)
        edits.append(TextEdit(sl, sc, el, ec, new_seg[p:len(new_seg) - s]))
    return edits


def apply_edits(text: str, edits: Sequence[TextEdit]) -> str:
    """`text` with non-overlapping `edits` applied (all positions refer to the original)."""
    out = text
    for e in sorted(edits, key=lambda e: e.start, reverse=True):
        a, b = offset_of(text, *e.start), offset_of(text, *e.end)
        out = out[:a] + e.new_text + out[b:]
    return out


def validate(
    proposal: EditProposal, uri: str, version: int, text: str, allowed_range: Span
) -> list[TextEdit]:
    """The proposal's edits when they may be applied to `uri` at `version`; else EditRejected."""
    if proposal.uri != uri:
        raise EditRejected(
            f"edit targets {proposal.uri}, not the requesting document {uri}",
            user_message="The model's edit targets another file; not applied.",
        )
    if proposal.version != version:
        raise EditRejected(
            f"edit computed for version {proposal.version}, document is at {version}",
            user_message="The document changed while the edit was computed; not applied.",
        )
    edits = sorted(proposal.edits, key=lambda e: (e.start, e.end))
    prev_end = (-1, -1)
    for e in edits:
        offset_of(text, *e.start)  # inside the document
        offset_of(text, *e.end)
        if e.end < e.start:
            raise EditRejected(f"edit range {e.start}-{e.end} is reversed")
        if e.start < allowed_range.start or e.end > allowed_range.end:
            raise EditRejected(
                f"edit {e.start}-{e.end} outside the allowed range "
                f"{allowed_range.start}-{allowed_range.end}",
                user_message="The model's edit reaches outside the selected code; not applied.",
            )
        if e.start < prev_end:
            raise EditRejected("edits overlap")
        prev_end = e.end
    return edits


# ---------------------------------------------------------------------- replies

_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})([^\n`]*)\n", re.MULTILINE)
_PATH_IN_INFO = re.compile(r"(?:^|\s)(?:path|file(?:name)?)\s*[=:]\s*(\S+)|(?:^|\s)(\S+\.\w+)$")


@dataclass(frozen=True)
class CodeReply:
    code: str
    path: str = ""  # a file the reply names (fence info string or a "File:" line), if any


def parse_reply(reply: str) -> CodeReply:
    """The code of a chat reply: the first fenced block (an unterminated one runs to the end),
    or the whole reply when it has no fence."""
    m = _FENCE.search(reply)
    if m is None:
        return CodeReply(reply.strip("\n"))
    fence, info = m.group(1), m.group(2).strip()
    body_start = m.end()
    close = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", re.MULTILINE)
    c = close.search(reply, body_start)
    code = reply[body_start:c.start()] if c else reply[body_start:]
    path = ""
    pm = _PATH_IN_INFO.search(info)
    if pm:
        path = pm.group(1) or pm.group(2) or ""
    if not path:
        before = reply[:m.start()].strip().splitlines()
        if before:
            fm = re.match(r"^\W*(?:file|path)\W*\s*[:=]?\s*`?([^\s`]+)`?", before[-1], re.I)
            if fm:
                path = fm.group(1)
    return CodeReply(code.rstrip("\n") + ("\n" if code.endswith("\n") else ""), path)


def extract_code(reply: str) -> str:
    return parse_reply(reply).code


def _same_file(named: str, target: EditTarget) -> bool:
    if not named:
        return True
    mine = PurePosixPath(target.path or target.uri.rsplit("/", 1)[-1])
    other = PurePosixPath(named.strip("`'\"").removeprefix("./"))
    if other.name != mine.name:
        return False
    # "a/b.py" vs "b.py": the shorter must be a tail of the longer
    o, m = other.parts, mine.parts
    n = min(len(o), len(m))
    return o[-n:] == m[-n:]


# ---------------------------------------------------------------------- regions


def _indent(line: str) -> int:
    return len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip(" "))


_OPENERS = (":", "{", "(", "[", "=>", " do", " then", "begin")


def block_region(text: str, line: int) -> Span:
    """The lines of the block at `line`: from its header (the nearest line above that opens a
    block, indented less than the cursor's line) to the last line indented deeper, plus a
    closing bracket line at the header's indentation."""
    lines = text.split("\n")
    if not lines:
        return Span(0, 0, 0, 0)
    line = min(max(line, 0), len(lines) - 1)
    cur = lines[line]
    cur_indent = _indent(cur) if cur.strip() else None
    header = line
    for i in range(line, -1, -1):
        s = lines[i].rstrip()
        if not s.strip():
            continue
        if s.endswith(_OPENERS) and (cur_indent is None or _indent(s) < cur_indent or i == line):
            header = i
            break
    h_indent = _indent(lines[header])
    end = header
    for j in range(header + 1, len(lines)):
        s = lines[j]
        if not s.strip():
            continue
        if _indent(s) > h_indent:
            end = j
            continue
        if s.strip()[0] in ")]}" or s.strip().startswith("end"):
            end = j
        break
    end = max(end, line)
    return line_span(text, header, end)


def line_span(text: str, first: int, last: int) -> Span:
    """Whole lines first..last, ending at the start of the line after (or the text's end)."""
    lines = text.split("\n")
    last = min(max(last, first), len(lines) - 1)
    if last + 1 < len(lines):
        return Span(first, 0, last + 1, 0)
    return Span(first, 0, last, len(lines[last]))


def _slice(text: str, span: Span) -> str:
    return text[offset_of(text, *span.start):offset_of(text, *span.end)]


# ---------------------------------------------------------------------- operations

_SYSTEM = (
    "You are a careful programmer editing one file. Reply with only the new code for the "
    "marked region, in one fenced code block, nothing before or after it. Keep the region's "
    "indentation and everything that needs no change."
)
_WINDOW = 120  # lines of the file shown around the region


def _messages(target: EditTarget, region: Span, old_region: str, instruction: str) -> list[Message]:
    lines = target.text.split("\n")
    lo = max(region.start_line - _WINDOW, 0)
    hi = min(region.end_line + _WINDOW, len(lines))
    view = "\n".join(lines[lo:hi])
    lang = target.language_id or ""
    name = target.path or target.uri.rsplit("/", 1)[-1]
    first, last = region.start_line + 1, max(region.end_line, region.start_line + 1)
    user = (
        f"File {name} (lines {lo + 1}-{hi}):\n```{lang}\n{view}\n```\n\n"
        f"The region to rewrite is lines {first}-{last}:\n```{lang}\n{old_region}```\n\n"
        f"Task: {instruction}\n"
        f"Reply with the complete new text of lines {first}-{last} only, in one fenced code block."
    )
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]


def proposal_from_reply(
    target: EditTarget, region: Span, reply: str, *, title: str = ""
) -> EditProposal:
    """Turn a model reply into edits confined to `region`; EditRejected when it cannot be."""
    parsed = parse_reply(reply)
    if not _same_file(parsed.path, target):
        raise EditRejected(
            f"reply targets {parsed.path!r}, not {target.path or target.uri}",
            user_message="The model's edit targets another file; not applied.",
        )
    if not parsed.code.strip():
        raise EditRejected("the model replied without code", user_message="The model gave no code.")
    old_region = _slice(target.text, region)
    new = parsed.code
    if old_region.endswith("\n") and not new.endswith("\n"):
        new += "\n"
    elif not old_region.endswith("\n") and new.endswith("\n"):
        new = new[:-1]
    doc_lines = target.text.count("\n") + 1
    region_lines = old_region.count("\n") + 1
    outside = doc_lines - region_lines
    if outside > 0 and new.count("\n") + 1 >= region_lines + max(outside // 2, 1) + 1:
        # The model sent the whole file back: diff it all, and keep it only if nothing
        # outside the region changed (validate below rejects it otherwise).
        whole = parsed.code
        if target.text.endswith("\n") and not whole.endswith("\n"):
            whole += "\n"
        edits = minimal_edits(target.text, whole)
    else:
        base_line = region.start_line
        edits = [
            TextEdit(e.start_line + base_line, e.start_col, e.end_line + base_line, e.end_col,
                     e.new_text)
            for e in minimal_edits(old_region, new)
        ]
    proposal = EditProposal(target.uri, target.version, tuple(edits), region, title)
    validate(proposal, target.uri, target.version, target.text, region)
    return proposal


async def _run(model: ChatModel, target: EditTarget, region: Span, instruction: str,
               cancel: CancelToken, title: str, max_tokens: int) -> EditProposal:
    old_region = _slice(target.text, region)
    messages = _messages(target, region, old_region, instruction)
    reply = await model.chat(
        messages, cancel, kind="edit", max_tokens=max_tokens, paths=(target.path or target.uri,)
    )
    return proposal_from_reply(target, region, reply, title=title)


async def complete_block(
    model: ChatModel, target: EditTarget, line: int, cancel: CancelToken, *, max_tokens: int = 1024
) -> EditProposal:
    """Complete (write) the body of the function or block at `line`."""
    region = block_region(target.text, line)
    return await _run(model, target, region,
                      "Complete the body of this block. Keep its first line unchanged; "
                      "replace placeholders such as `pass`, `...` or TODO comments.",
                      cancel, "Complete this block", max_tokens)


async def edit_selection(
    model: ChatModel, target: EditTarget, selection: Span, instruction: str,
    cancel: CancelToken, *, max_tokens: int = 1024,
) -> EditProposal:
    """Rewrite the selected lines following `instruction`."""
    if not instruction.strip():
        raise EditRejected("an edit needs an instruction", user_message="No instruction given.")
    end_line = selection.end_line
    if selection.end_col == 0 and end_line > selection.start_line:
        end_line -= 1  # a selection ending at a line start does not include that line
    region = line_span(target.text, selection.start_line, end_line)
    return await _run(model, target, region, instruction.strip(), cancel,
                      f"Edit selection: {instruction.strip()}", max_tokens)


async def fix_diagnostic(
    model: ChatModel, target: EditTarget, diagnostic_range: Span, message: str,
    cancel: CancelToken, *, context_lines: int = 3, max_tokens: int = 1024,
) -> EditProposal:
    """Fix the problem a diagnostic reports, touching only lines near it."""
    first = max(diagnostic_range.start_line - context_lines, 0)
    last = diagnostic_range.end_line + context_lines
    region = line_span(target.text, first, last)
    line = diagnostic_range.start_line + 1
    return await _run(model, target, region,
                      f"Fix this problem reported at line {line}: {message.strip()}",
                      cancel, f"Fix: {message.strip()[:60]}", max_tokens)
