"""Stop rules and post-processing shared by every tier.

`early_stop` is applied while tokens stream in (so no tier generates what would be thrown
away); `postprocess` is applied once to the final text.
"""

from __future__ import annotations

from tiers.base import CompletionRequest, Mode

_OPEN = {"(": ")", "[": "]", "{": "}"}
_CLOSE = {v: k for k, v in _OPEN.items()}
_BLOCK_OPENERS = (":", "{", "(", "[", "=>", "->", " do", " then", " else", "begin")


def _indent_width(line: str) -> int:
    expanded = line.expandtabs(4)
    return len(expanded) - len(expanded.lstrip(" "))


def current_line_prefix(prefix: str) -> str:
    return prefix[prefix.rfind("\n") + 1 :]


def current_line_suffix(suffix: str) -> str:
    nl = suffix.find("\n")
    return suffix if nl < 0 else suffix[:nl]


def _prev_nonblank_line(prefix: str) -> str:
    lines = prefix.split("\n")[:-1]
    for line in reversed(lines):
        if line.strip():
            return line
    return ""


def _next_nonblank_line(suffix: str) -> str | None:
    for line in suffix.split("\n")[1:]:
        if line.strip():
            return line
    return None


def initial_mode(prefix: str, suffix: str) -> Mode:
    """A text-only first guess at single vs multi-line (the tree-sitter gate refines it).

    Multi-line when the cursor sits on an empty line that opens a block whose body is empty:
    the previous line ends with a block opener and nothing indented deeper follows.
    """
    line_before = current_line_prefix(prefix)
    if line_before.strip() or current_line_suffix(suffix).strip():
        return Mode.SINGLE_LINE
    prev = _prev_nonblank_line(prefix).rstrip()
    if not prev.endswith(_BLOCK_OPENERS):
        return Mode.SINGLE_LINE
    nxt = _next_nonblank_line(suffix)
    if nxt is None or _indent_width(nxt) <= _indent_width(prev):
        return Mode.MULTI_LINE
    return Mode.SINGLE_LINE


def block_indent(prefix: str) -> int:
    """Indentation of the block the cursor is in: a generated line indented less ends it."""
    line_before = current_line_prefix(prefix)
    if line_before.strip():
        return _indent_width(line_before)
    prev = _prev_nonblank_line(prefix)
    width = _indent_width(line_before) if line_before else _indent_width(prev)
    if prev.rstrip().endswith(_BLOCK_OPENERS):
        width = max(width, _indent_width(prev) + 1)
    return width


def early_stop(
    request: CompletionRequest, text: str, *, block_width: int | None = None
) -> int | None:
    """While streaming: the length to keep if generation should stop now, else None.

    Single line: stop at the first line end once the line has content (a leading line end is
    allowed, so a finished line can be followed by the next one). Multi-line: stop at the
    first non-empty line indented less than the block, or at two blank lines.
    """
    if request.mode == Mode.SINGLE_LINE:
        start = len(text) - len(text.lstrip("\n"))
        nl = text.find("\n", start)
        return nl if nl >= 0 else None
    width = block_indent(request.prefix) if block_width is None else block_width
    lines = text.split("\n")
    # The last element may be a line still being generated: judge complete lines only.
    pos = 0
    for i, line in enumerate(lines[:-1]):
        if i > 0 and line.strip() and _indent_width(line) < width:
            # A line that only closes the block (`}`, `]);`) ends it and belongs to it; the
            # suffix-overlap step drops it when the document already has it.
            if line.strip()[0] in _CLOSE and not line.strip().strip(")]};,"):
                return pos + len(line)
            return max(pos - 1, 0)
        pos += len(line) + 1
    if "\n\n\n" in text:
        return text.index("\n\n\n")
    return None


def _trim_suffix_overlap(text: str, suffix: str) -> str:
    """Drop the end of the completion that the suffix already contains."""
    line_rest = current_line_suffix(suffix).rstrip()
    if "\n" not in text.rstrip("\n") and line_rest:
        # Single line: the longest tail of the completion that starts the rest of the line.
        for k in range(min(len(text), len(line_rest)), 0, -1):
            if text.endswith(line_rest[:k]):
                return text[:-k]
        return text
    # Multi-line: trailing completion lines that repeat the suffix's first lines.
    comp_lines = text.rstrip("\n").split("\n")
    suf_lines = [ln for ln in suffix.split("\n") if ln.strip()][: len(comp_lines)]
    for k in range(min(len(comp_lines), len(suf_lines)), 0, -1):
        # Indentation counts: `  }` closing an inner block is not the `}` that follows it.
        tail = [ln.rstrip() for ln in comp_lines[-k:]]
        if tail == [ln.rstrip() for ln in suf_lines[:k]]:
            return "\n".join(comp_lines[:-k])
    return text


BRACKET_SCAN_LINES = 200  # how far back unclosed brackets are looked for


def _scan_brackets(text: str, stack: list[str], comment: str | None) -> int | None:
    """Push and pop `text`'s brackets on `stack`, skipping string literals (triple-quoted ones
    across lines) and line comments; the index of the first closing bracket that closes
    nothing, or None."""
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "\"'`":
            triple = text[i : i + 3]
            if triple in ('"""', "'''"):
                end = text.find(triple, i + 3)
                i = n if end < 0 else end + 3
                continue
            j = i + 1
            while j < n and text[j] != ch and (text[j] != "\n" or ch == "`"):
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            continue
        if comment is not None and text.startswith(comment, i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if ch in _OPEN:
            stack.append(ch)
        elif ch in _CLOSE:
            if not stack or stack[-1] != _CLOSE[ch]:
                return i
            stack.pop()
        i += 1
    return None


def _comment_leader(language_id: str) -> str | None:
    lang = language_id.lower()
    return next((c for c, langs in _COMMENT_LEADERS.items() if lang in langs), None)


def _open_brackets(prefix: str, language_id: str = "",
                   max_lines: int = BRACKET_SCAN_LINES) -> list[str]:
    """Unclosed brackets in the last lines of the prefix."""
    stack: list[str] = []
    cut = len(prefix)
    for _ in range(max_lines):
        cut = prefix.rfind("\n", 0, cut)
        if cut < 0:
            break
    head, tail = (prefix[:cut], prefix[cut:]) if cut > 0 else ("", prefix)
    for quote in ('"""', "'''"):
        if head.count(quote) % 2:  # the window starts inside a triple-quoted string
            end = tail.find(quote)
            tail = tail[end + 3 :] if end >= 0 else ""
    comment = _comment_leader(language_id)
    start = 0
    while (stray := _scan_brackets(tail[start:], stack, comment)) is not None:
        start += stray + 1  # a stray closer (the window began inside a bracket): skip it
    return stack


def _trim_unbalanced(text: str, prefix: str, language_id: str = "") -> str:
    """Cut the completion before a closing bracket that closes nothing."""
    stack = _open_brackets(prefix, language_id)
    stray = _scan_brackets(text, stack, _comment_leader(language_id))
    return text if stray is None else text[:stray]


_COMMENT_LEADERS = {"#": ("python", "ruby", "shellscript", "perl", "r", "yaml", "toml"),
                    "//": ("javascript", "typescript", "javascriptreact", "typescriptreact",
                           "java", "c", "cpp", "csharp", "go", "rust", "php", "kotlin",
                           "swift", "scala", "dart")}


def _drop_trailing_comment(line: str, language_id: str) -> str:
    """Drop a comment the model appended after code on a single line (an Instruct model's
    narration: `x = []  # Initialize an empty list`); the code is the suggestion."""
    leader = _comment_leader(language_id)
    if leader is None:
        return line
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote and line[i - 1] != "\\":
                quote = ""
        elif ch in "\"'`":
            quote = ch
        elif line.startswith(leader, i) and line[:i].strip() and line[i - 1] in " \t":
            return line[:i].rstrip()
    return line


def _repeats_previous_line(text: str, prefix: str) -> bool:
    """A single-line answer that only repeats the line above is noise."""
    line = (current_line_prefix(prefix) + text).strip()
    prev = _prev_nonblank_line(prefix).strip() if current_line_prefix(prefix) else ""
    if not prev:
        lines = [ln for ln in prefix.split("\n")[:-1] if ln.strip()]
        prev = lines[-1].strip() if lines else ""
    return "\n" not in text.strip("\n") and len(line) > 3 and line == prev


def _drop_repeated_first_line(text: str, prefix: str) -> str:
    """A block whose first line repeats the line above the cursor (a model looping on what it
    just read) starts at its second line instead."""
    first, sep, rest = text.partition("\n")
    if not sep or not rest.strip() or not _repeats_previous_line(first, prefix):
        return text
    indent = current_line_prefix(prefix)
    if indent.strip():
        return text  # text typed on the line: the first line is not a whole line
    return rest[len(indent):] if rest.startswith(indent) else rest.lstrip(" \t")


def postprocess(request: CompletionRequest, raw: str) -> str:
    """The final suggestion for `raw` model output, or "" when nothing useful remains."""
    text = raw.replace("\r\n", "\n")
    cut = early_stop(request, text + "\n")  # the last line is complete: judge it too
    if cut is not None:
        text = text[:cut]
    # A leading line end only makes sense where the current line is already finished.
    if current_line_suffix(request.suffix).strip():
        text = text.split("\n", 1)[0]
    text = text.rstrip()
    if request.mode == Mode.MULTI_LINE:
        text = text.rstrip("\n")
    text = _trim_suffix_overlap(text, request.suffix)
    text = _trim_unbalanced(text, request.prefix, request.language_id)
    if "\n" not in text:
        text = _drop_trailing_comment(text, request.language_id)
    text = text.rstrip()
    text = _drop_repeated_first_line(text, request.prefix)
    if not text.strip() or _repeats_previous_line(text, request.prefix):
        return ""
    # Text typed after a blank cursor line keeps its indentation from the model.
    return text


def line_start_split(prefix: str) -> tuple[str, str] | None:
    """For a cursor on a line that holds only indentation: (prompt prefix, typed), where the
    prompt prefix ends at the end of the last line with text and `typed` is what follows it in
    the document (line breaks, blank lines, the cursor line's indentation). Models are trained
    to write the line break themselves; a prompt ending in a bare line break makes them skip to
    a later line. None for any other cursor, or when no line with text comes before it."""
    line = current_line_prefix(prefix)
    if line.strip() or "\n" not in prefix:
        return None
    cut = len(prefix) - len(line) - 1  # the line break ending the previous line
    while True:
        start = prefix.rfind("\n", 0, cut) + 1
        if prefix[start:cut].strip():
            break
        if start == 0:
            return None
        cut = start - 1  # a blank line: end at the one before it
    if prefix[cut - 1] == "\r":
        cut -= 1
    return prefix[:cut], prefix[cut:]


def from_line_start(raw: str, typed: str) -> tuple[str, int] | None:
    """Map an answer generated after the last line with text back to the cursor.

    Returns (answer at the cursor, raw characters consumed before it); ("", 0) while the model
    is still writing line breaks and indentation; None when it did something else (went on
    writing the previous line), which has no place at the cursor. Blank lines the model writes
    before its first code line are dropped: the cursor is already on a fresh line.
    """
    if not raw:
        return "", 0
    if not raw.startswith(("\n", "\r\n")):
        return None
    ws = len(raw) - len(raw.lstrip(" \t\r\n"))
    if ws == len(raw):
        return "", 0  # still writing the line breaks and indentation
    start = raw.rfind("\n", 0, ws) + 1
    lead = raw[start:ws]
    indent = typed[typed.rfind("\n") + 1 :]
    if lead.startswith(indent):
        return raw[start + len(indent) :], start + len(indent)
    # Indented differently: the cursor's indentation stays; the code starts at the cursor.
    return raw[ws:], ws
