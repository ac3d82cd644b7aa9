"""Edits as minimal text edits, confined to the requesting document, version and range."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.remote.loopback import chat_body, send_json
from tiers.base import CancelToken
from tiers.edits import (
    EditProposal,
    EditRejected,
    EditTarget,
    Span,
    TextEdit,
    apply_edits,
    block_region,
    complete_block,
    edit_selection,
    fix_diagnostic,
    minimal_edits,
    parse_reply,
    proposal_from_reply,
    validate,
)
from tiers.remote import RemoteTier
from tiers.settings import RemoteSettings

DOC = (
    "import os\n"
    "\n"
    "def area(w, h):\n"
    "    pass\n"
    "\n"
    "def main():\n"
    "    print(area(2, 3))\n"
)
URI = "file:///ws/src/geo.py"
TARGET = EditTarget(URI, 7, DOC, "python", "src/geo.py")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab \n\r\té😀", max_size=30), st.text(alphabet="ab \n\r\té😀", max_size=30))
def test_minimal_edits_reproduce_the_new_text(old: str, new: str) -> None:
    edits = minimal_edits(old, new)
    assert apply_edits(old, edits) == new
    assert (edits == []) == (old == new)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("a = 1\nb = 2\n", "a = 1\nb = 3\n", [TextEdit(1, 4, 1, 5, "3")]),
        ("x\n", "x\ny\n", [TextEdit(1, 0, 1, 0, "y\n")]),
        ("def f():\n    pass\n", "def f():\n    return 1\n", [TextEdit(1, 4, 1, 8, "return 1")]),
        ("a\r\nb\r\n", "a\r\nc\r\n", [TextEdit(1, 0, 1, 1, "c")]),
        ("😀x\n", "😀y\n", [TextEdit(0, 1, 0, 2, "y")]),  # columns count code points
    ],
)
def test_minimal_edits_are_trimmed_to_the_change(old, new, expected) -> None:
    assert minimal_edits(old, new) == expected


def test_block_region_finds_the_function_at_the_cursor() -> None:
    assert block_region(DOC, 3) == Span(2, 0, 4, 0)
    assert block_region("int f() {\n  return 0;\n}\nint y;\n", 1) == Span(0, 0, 3, 0)


def test_parse_reply_variants() -> None:
    assert parse_reply("Sure!\n```python\nx = 1\n```\nHope it helps").code == "x = 1\n"
    assert parse_reply("```py path=src/other.py\nx\n```").path == "src/other.py"
    assert parse_reply("File: `lib/b.py`\n```python\nx\n```").path == "lib/b.py"
    assert parse_reply("```\ncut off by max tokens").code == "cut off by max tokens"
    assert parse_reply("x = 2").code == "x = 2"


REGION = Span(2, 0, 4, 0)


def test_validate_accepts_edits_in_range() -> None:
    edits = (TextEdit(3, 4, 3, 8, "return w * h"),)
    got = validate(EditProposal(URI, 7, edits), URI, 7, DOC, REGION)
    assert apply_edits(DOC, got).count("return w * h") == 1


@pytest.mark.parametrize(
    ("proposal", "why"),
    [
        (EditProposal("file:///ws/src/other.py", 7, (TextEdit(3, 4, 3, 8, "x"),)),
         "not the requesting"),
        (EditProposal(URI, 6, (TextEdit(3, 4, 3, 8, "x"),)), "version"),
        (EditProposal(URI, 7, (TextEdit(0, 0, 0, 9, "import sys"),)), "outside"),
        (EditProposal(URI, 7, (TextEdit(3, 0, 5, 3, "x"),)), "outside"),
        (EditProposal(URI, 7, (TextEdit(3, 40, 3, 41, "x"),)), "past the end"),
        (EditProposal(URI, 7, (TextEdit(3, 0, 3, 6, "a"), TextEdit(3, 2, 3, 8, "b"))),
         "overlap"),
    ],
)
def test_validate_rejects(proposal: EditProposal, why: str) -> None:
    with pytest.raises(EditRejected, match=why):
        validate(proposal, URI, 7, DOC, REGION)


def test_reply_naming_another_file_is_rejected() -> None:
    reply = "```python path=src/other.py\ndef area(w, h):\n    return w * h\n```"
    with pytest.raises(EditRejected, match="targets"):
        proposal_from_reply(TARGET, REGION, reply)


def test_whole_file_reply_touching_outside_the_region_is_rejected() -> None:
    changed = DOC.replace("import os", "import sys").replace("    pass", "    return w * h")
    with pytest.raises(EditRejected, match="outside"):
        proposal_from_reply(TARGET, REGION, f"```python\n{changed}```")


def test_whole_file_reply_changing_only_the_region_is_kept() -> None:
    changed = DOC.replace("    pass", "    return w * h")
    p = proposal_from_reply(TARGET, REGION, f"```python\n{changed}```")
    assert p.edits == (TextEdit(3, 4, 3, 8, "return w * h"),)


def chat_server(reply: str, seen: list[dict]):
    async def handle(rec, writer):
        seen.append(rec.json)
        await send_json(writer, chat_body(reply))
    return handle


async def run_op(loopback, reply: str, op):
    seen: list[dict] = []
    srv = await loopback(chat_server(reply, seen))
    tier = RemoteTier(RemoteSettings(enabled=True, provider="openai", base_url=srv.url,
                                     model="m", stream=False))
    try:
        return await op(tier), seen
    finally:
        await tier.aclose()


async def test_complete_block_end_to_end(loopback) -> None:
    reply = "```python\ndef area(w, h):\n    return w * h\n```"
    p, seen = await run_op(loopback, reply, lambda t: complete_block(t, TARGET, 3, CancelToken()))
    assert p.uri == URI and p.version == 7 and p.region == REGION
    assert apply_edits(DOC, p.edits) == DOC.replace("    pass", "    return w * h")
    user = seen[0]["messages"][1]["content"]
    assert "lines 3-4" in user and "def area(w, h):\n    pass\n" in user


async def test_edit_selection_end_to_end(loopback) -> None:
    reply = "```python\ndef main():\n    print(area(4, 5))\n```"
    sel = Span(5, 0, 7, 0)
    p, seen = await run_op(loopback, reply, lambda t: edit_selection(
        t, TARGET, sel, "use 4 and 5", CancelToken()))
    assert apply_edits(DOC, p.edits).endswith("print(area(4, 5))\n")
    assert "Task: use 4 and 5" in seen[0]["messages"][1]["content"]
    with pytest.raises(EditRejected):
        await edit_selection(None, TARGET, sel, "  ", CancelToken())  # type: ignore[arg-type]


async def test_fix_diagnostic_end_to_end(loopback) -> None:
    reply = "```python\n\ndef area(w, h):\n    return w * h\n\ndef main():\n```"
    diag = Span(3, 4, 3, 8)
    p, seen = await run_op(loopback, reply, lambda t: fix_diagnostic(
        t, TARGET, diag, "function returns None", CancelToken(), context_lines=2))
    assert apply_edits(DOC, p.edits) == DOC.replace("    pass", "    return w * h")
    assert "function returns None" in seen[0]["messages"][1]["content"]
