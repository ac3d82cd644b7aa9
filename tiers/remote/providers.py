"""Request and response shapes of each remote API; no I/O here.

- Mistral: FIM `POST /v1/fim/completions` (prompt + suffix), chat `POST /v1/chat/completions`.
- OpenAI-compatible (vLLM, llama.cpp / llama-cpp-python servers, hosted APIs):
  `/v1/completions` with `suffix`, or a FIM prompt rendered with a known family's template
  (servers whose `suffix` support is missing or broken), and `/v1/chat/completions`.
- llama.cpp server: `POST /infill` (input_prefix, input_suffix, input_extra, n_predict).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from models.templates import PREFIX_ONLY, FimTemplate, build_prompt, render, template_for
from tiers.base import CompletionRequest
from tiers.errors import RemoteError

Message = dict[str, str]


@dataclass(frozen=True)
class HttpCall:
    path: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Delta:
    """One piece of a reply: text, and whether the server said it is the last."""

    text: str
    final: bool = False
    finish_reason: str = ""


def _bad(what: str) -> RemoteError:
    return RemoteError(f"unexpected response shape: {what}", kind="protocol",
                       user_message="Remote model sent an invalid response.")


def _choice(obj: dict[str, Any]) -> dict[str, Any]:
    choices = obj.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        if isinstance(choices, list) and not choices:
            return {}
        raise _bad("no choices")
    return choices[0]


def _text(value: object, what: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # content parts ([{"type": "text", "text": ...}])
        return "".join(p.get("text", "") for p in value if isinstance(p, dict))
    raise _bad(what)


def _finish(choice: dict[str, Any]) -> str:
    reason = choice.get("finish_reason")
    return reason if isinstance(reason, str) else ""


class Provider(ABC):
    """Base: OpenAI-style chat, shared by every provider; each subclass speaks its own FIM."""

    name = "openai"
    chat_path = "/v1/chat/completions"
    probe_path = "/v1/models"

    def __init__(self, model: str, *, temperature: float = 0.0, family: str = "") -> None:
        self.model = model
        self.temperature = temperature
        self.template: FimTemplate | None = template_for(family) if family else None

    # ---- FIM
    @abstractmethod
    def fim_call(self, req: CompletionRequest, *, stream: bool) -> HttpCall: ...

    @abstractmethod
    def fim_delta(self, event: dict[str, Any]) -> Delta: ...

    @abstractmethod
    def fim_text(self, obj: dict[str, Any]) -> Delta: ...

    # ---- chat
    def chat_call(self, messages: Sequence[Message], *, max_tokens: int, stream: bool) -> HttpCall:
        body: dict[str, Any] = {
            "messages": [dict(m) for m in messages],
            "max_tokens": max_tokens,
            "temperature": self.temperature,
            "stream": stream,
        }
        if self.model:
            body["model"] = self.model
        return HttpCall(self.chat_path, body)

    def chat_delta(self, event: dict[str, Any]) -> Delta:
        choice = _choice(event)
        delta = choice.get("delta") or {}
        if not isinstance(delta, dict):
            raise _bad("delta")
        reason = _finish(choice)
        return Delta(_text(delta.get("content"), "delta.content"), bool(reason), reason)

    def chat_text(self, obj: dict[str, Any]) -> Delta:
        choice = _choice(obj)
        msg = choice.get("message") or {}
        if not isinstance(msg, dict):
            raise _bad("message")
        return Delta(_text(msg.get("content"), "message.content"), True, _finish(choice))


def _comment_prompt(req: CompletionRequest) -> str:
    """Prefix with repository context as path comments (Codestral's recommended form)."""
    return render(build_prompt(PREFIX_ONLY, req.prefix, "", context=req.context, path=req.path,
                               language_id=req.language_id))


class MistralProvider(Provider):
    name = "mistral"
    fim_path = "/v1/fim/completions"

    def fim_call(self, req: CompletionRequest, *, stream: bool) -> HttpCall:
        body: dict[str, Any] = {
            "model": self.model or "codestral-latest",
            "prompt": _comment_prompt(req),
            "suffix": req.suffix,
            "max_tokens": req.max_tokens,
            "temperature": self.temperature,
            "stream": stream,
        }
        return HttpCall(self.fim_path, body)

    # FIM replies use the chat completion shape.
    def fim_delta(self, event: dict[str, Any]) -> Delta:
        return self.chat_delta(event)

    def fim_text(self, obj: dict[str, Any]) -> Delta:
        return self.chat_text(obj)


class OpenAIProvider(Provider):
    name = "openai"
    completions_path = "/v1/completions"

    def fim_call(self, req: CompletionRequest, *, stream: bool) -> HttpCall:
        body: dict[str, Any] = {
            "max_tokens": req.max_tokens,
            "temperature": self.temperature,
            "stream": stream,
        }
        if self.model:
            body["model"] = self.model
        tpl = self.template
        if tpl is not None and tpl.supports_fim:
            body["prompt"] = render(build_prompt(
                tpl, req.prefix, req.suffix, context=req.context, path=req.path,
                language_id=req.language_id,
            ))
            if tpl.stop:
                body["stop"] = list(tpl.stop[:4])  # OpenAI accepts at most four
        else:
            body["prompt"] = _comment_prompt(req)
            body["suffix"] = req.suffix
        return HttpCall(self.completions_path, body)

    def fim_delta(self, event: dict[str, Any]) -> Delta:
        choice = _choice(event)
        reason = _finish(choice)
        return Delta(_text(choice.get("text"), "text"), bool(reason), reason)

    def fim_text(self, obj: dict[str, Any]) -> Delta:
        choice = _choice(obj)
        return Delta(_text(choice.get("text"), "text"), True, _finish(choice))


class LlamaCppProvider(Provider):
    name = "llamacpp"
    infill_path = "/infill"
    probe_path = "/health"

    def fim_call(self, req: CompletionRequest, *, stream: bool) -> HttpCall:
        body: dict[str, Any] = {
            "input_prefix": req.prefix,
            "input_suffix": req.suffix,
            "input_extra": [{"filename": c.path, "text": c.text} for c in req.context],
            "n_predict": req.max_tokens,
            "temperature": self.temperature,
            "cache_prompt": True,  # keeps the server's KV cache across keystrokes
            "stream": stream,
        }
        return HttpCall(self.infill_path, body)

    def fim_delta(self, event: dict[str, Any]) -> Delta:
        stop = bool(event.get("stop"))
        reason = "stop" if stop else ""
        if stop and event.get("stopped_limit"):
            reason = "length"
        return Delta(_text(event.get("content"), "content"), stop, reason)

    def fim_text(self, obj: dict[str, Any]) -> Delta:
        if "content" not in obj:
            raise _bad("no content")
        return Delta(_text(obj.get("content"), "content"), True,
                     "length" if obj.get("stopped_limit") else "stop")


PROVIDERS: dict[str, type[Provider]] = {
    "mistral": MistralProvider,
    "openai": OpenAIProvider,
    "llamacpp": LlamaCppProvider,
}


def make_provider(name: str, model: str, *, temperature: float = 0.0, family: str = "") -> Provider:
    """The provider for a settings name; raises ValueError for an unknown one."""
    key = name.strip().lower().replace("-", "").replace("_", "")
    aliases = {"codestral": "mistral", "openaicompatible": "openai", "vllm": "openai",
               "llama.cpp": "llamacpp", "llamaserver": "llamacpp"}
    key = aliases.get(key, key)
    if key not in PROVIDERS:
        raise ValueError(f"unknown remote provider {name!r}; expected one of {sorted(PROVIDERS)}")
    try:
        return PROVIDERS[key](model, temperature=temperature, family=family)
    except KeyError:
        raise ValueError(f"unknown FIM family {family!r} for the remote provider") from None
