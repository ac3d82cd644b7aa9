"""Request and response shapes of each provider, checked by loopback servers that validate the
requests the way the APIs document them (Mistral: extra fields are rejected with 422)."""

from __future__ import annotations

import json

import pytest

from tests.remote.loopback import chat_body, chat_chunk, send_json, sse, start_sse
from tiers.base import CancelToken, CompletionRequest, ContextChunk, Mode
from tiers.remote import RemoteTier
from tiers.settings import RemoteSettings

KEY = "mk-test-0123456789"

# https://docs.mistral.ai/api/ : FIM and chat completion request bodies.
MISTRAL_FIM_FIELDS = {
    "model": str, "prompt": str, "suffix": str, "temperature": (int, float),
    "top_p": (int, float), "max_tokens": int, "min_tokens": int, "stream": bool,
    "stop": (str, list), "random_seed": int,
}
MISTRAL_CHAT_FIELDS = {
    "model": str, "messages": list, "temperature": (int, float), "top_p": (int, float),
    "max_tokens": int, "stream": bool, "stop": (str, list), "random_seed": int,
    "response_format": dict, "safe_prompt": bool, "presence_penalty": (int, float),
    "frequency_penalty": (int, float), "n": int,
}


def mistral_problems(path: str, headers: dict[str, str], body: dict) -> list[str]:
    problems = []
    if headers.get("authorization") != f"Bearer {KEY}":
        problems.append("missing or wrong bearer key")
    if not headers.get("content-type", "").startswith("application/json"):
        problems.append("content-type is not JSON")
    fields = MISTRAL_FIM_FIELDS if path == "/v1/fim/completions" else MISTRAL_CHAT_FIELDS
    required = ("model", "prompt") if path == "/v1/fim/completions" else ("model", "messages")
    for name in required:
        if name not in body:
            problems.append(f"missing {name}")
    for name, value in body.items():
        if name not in fields:
            problems.append(f"extra field {name}")
        elif not isinstance(value, fields[name]) or isinstance(value, bool) != (
            fields[name] is bool
        ):
            problems.append(f"bad type for {name}")
    if "temperature" in body and not 0 <= body["temperature"] <= 1.5:
        problems.append("temperature out of range")
    for m in body.get("messages", []):
        if m.get("role") not in ("system", "user", "assistant", "tool") or not isinstance(
            m.get("content"), str
        ):
            problems.append(f"bad message {m}")
    return problems


def mistral_handler(answer: str):
    async def handle(rec, writer):
        if rec.path not in ("/v1/fim/completions", "/v1/chat/completions") or rec.method != "POST":
            await send_json(writer, {"detail": "not found"}, 404)
            return
        body = rec.json
        problems = mistral_problems(rec.path, rec.headers, body)
        if problems:
            await send_json(writer, {"object": "error", "message": problems}, 422)
            return
        if body.get("stream"):
            await start_sse(writer)
            for i in range(0, len(answer), 5):
                await sse(writer, chat_chunk(answer[i:i + 5]))
            await sse(writer, chat_chunk("", "stop"))
            await sse(writer, "[DONE]")
            writer.close()
        else:
            await send_json(writer, chat_body(answer, body["model"]))
    return handle


def request(**kw) -> CompletionRequest:
    base = dict(uri="file:///ws/src/calc.py", version=3, prefix="def add(a, b):\n    ",
                suffix="\n\nprint(add(1, 2))\n", language_id="python", path="src/calc.py")
    base.update(kw)
    return CompletionRequest(**base)


@pytest.mark.parametrize("stream", [True, False])
async def test_mistral_fim_request_and_reply(loopback, stream: bool) -> None:
    srv = await loopback(mistral_handler("return a + b\n"))
    tier = RemoteTier(RemoteSettings(enabled=True, provider="mistral", base_url=srv.url,
                                     model="codestral-latest", api_key=KEY, stream=stream))
    ctx = (ContextChunk("src/util.py", "def helper():\n    return 1\n", "definition"),)
    try:
        got = await tier.complete(request(context=ctx), CancelToken())
    finally:
        await tier.aclose()
    assert got is not None and got.text == "return a + b"
    assert got.tier == "remote:mistral" and got.model == "codestral-latest"
    (rec,) = srv.requests
    body = rec.json
    assert rec.path == "/v1/fim/completions"
    assert body["suffix"] == "\n\nprint(add(1, 2))\n"
    assert body["stream"] is stream
    # Repository context goes into the prompt as path comments, the document's path last.
    assert body["prompt"].startswith("# Path: src/util.py\ndef helper():")
    assert body["prompt"].endswith("# Path: src/calc.py\ndef add(a, b):\n    ")


async def test_mistral_chat_request_and_reply(loopback) -> None:
    srv = await loopback(mistral_handler("Here:\n```python\nreturn a + b\n```"))
    tier = RemoteTier(RemoteSettings(enabled=True, provider="mistral", base_url=srv.url,
                                     model="codestral-latest", api_key=KEY, endpoint="chat"))
    try:
        got = await tier.complete(request(mode=Mode.MULTI_LINE), CancelToken())
        reply = await tier.chat([{"role": "user", "content": "hi"}], CancelToken())
    finally:
        await tier.aclose()
    assert got is not None and got.text == "return a + b"
    assert reply.startswith("Here:")
    assert [r.path for r in srv.requests] == ["/v1/chat/completions"] * 2
    first = srv.requests[0].json
    assert first["messages"][0]["role"] == "system"
    assert "<CURSOR>" in first["messages"][1]["content"]


async def test_mistral_rejection_is_an_error_not_a_completion(loopback) -> None:
    srv = await loopback(mistral_handler("x"))
    tier = RemoteTier(RemoteSettings(enabled=True, provider="mistral", base_url=srv.url,
                                     model="codestral-latest", api_key="wrong-key-123"))
    from tiers.errors import RemoteError

    try:
        with pytest.raises(RemoteError) as err:
            await tier.complete(request(), CancelToken())
    finally:
        await tier.aclose()
    assert err.value.kind == "client"
    assert "wrong-key-123" not in str(err.value)


def openai_handler(answer: str, seen: list[dict]):
    async def handle(rec, writer):
        body = rec.json
        seen.append(body)
        if body.get("stream"):
            await start_sse(writer)
            for i in range(0, len(answer), 4):
                await sse(writer, {"object": "text_completion",
                                   "choices": [{"index": 0, "text": answer[i:i + 4],
                                                "finish_reason": None}]})
            await sse(writer, {"choices": [{"index": 0, "text": "", "finish_reason": "stop"}]})
            await sse(writer, "[DONE]")
            writer.close()
        else:
            await send_json(writer, {"object": "text_completion",
                                     "choices": [{"index": 0, "text": answer,
                                                  "finish_reason": "stop"}]})
    return handle


@pytest.mark.parametrize("family", ["qwen", ""])
async def test_openai_completions_suffix_or_rendered_template(loopback, family: str) -> None:
    seen: list[dict] = []
    srv = await loopback(openai_handler("return a + b\n", seen))
    tier = RemoteTier(RemoteSettings(enabled=True, provider="openai", base_url=srv.url,
                                     model="coder", family=family))
    try:
        got = await tier.complete(request(), CancelToken())
    finally:
        await tier.aclose()
    assert got is not None and got.text == "return a + b"
    assert srv.requests[0].path == "/v1/completions"
    assert "authorization" not in srv.requests[0].headers  # no key configured, none sent
    body = seen[0]
    if family:
        assert body["prompt"] == ("<|fim_prefix|>def add(a, b):\n    <|fim_suffix|>"
                                  "\n\nprint(add(1, 2))\n<|fim_middle|>")
        assert "suffix" not in body and "<|endoftext|>" in body["stop"]
    else:
        assert body["prompt"] == "def add(a, b):\n    "
        assert body["suffix"] == "\n\nprint(add(1, 2))\n"


async def test_llamacpp_infill_shape(loopback) -> None:
    async def handle(rec, writer):
        body = rec.json
        assert rec.path == "/infill"
        assert set(body) >= {"input_prefix", "input_suffix", "input_extra", "n_predict",
                             "cache_prompt"}
        await start_sse(writer)
        for piece in ("return ", "a + b", "\n"):
            await sse(writer, {"content": piece, "stop": False})
        await sse(writer, {"content": "", "stop": True})
        writer.close()

    srv = await loopback(handle)
    tier = RemoteTier(RemoteSettings(enabled=True, provider="llamacpp", base_url=srv.url))
    ctx = (ContextChunk("src/util.py", "def helper(): ...\n"),)
    try:
        got = await tier.complete(request(context=ctx), CancelToken())
    finally:
        await tier.aclose()
    assert got is not None and got.text == "return a + b"
    body = srv.requests[0].json
    assert body["input_extra"] == [{"filename": "src/util.py", "text": "def helper(): ...\n"}]
    assert body["cache_prompt"] is True and body["n_predict"] == 64
    assert json.dumps(body)  # plain JSON, nothing exotic
