"""`RemoteTier`: a provider behind the `Tier` interface, with deadlines, retries, a circuit
breaker, automatic offline switch, privacy filtering and prompt cancellation.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import unquote, urlparse

import httpx

from indexer.privacy import is_secret_path
from tiers.base import CancelledError, CancelToken, Completion, CompletionRequest, TierInfo
from tiers.edits import extract_code
from tiers.errors import RemoteError, TierUnavailableError
from tiers.postprocess import early_stop, postprocess
from tiers.remote.health import CircuitBreaker, OfflineSwitch, RemoteHealth
from tiers.remote.http import (
    check_status,
    make_client,
    map_transport_error,
    parse_json,
    read_capped,
    read_prefix,
    sse_events,
)
from tiers.remote.providers import Delta, HttpCall, Message, Provider, make_provider
from tiers.remote.redact import TRACE, redact, register_secret
from tiers.settings import RemoteSettings

log = logging.getLogger(__name__)

T = TypeVar("T")
_POLL_S = 0.01  # how often a running call looks at its cancel token
_RETRYABLE = frozenset({"connect", "timeout", "rate_limit", "server", "protocol"})
_NOT_REACHED = frozenset({"connect", "timeout"})

DEFAULT_BASE_URLS = {"mistral": "https://api.mistral.ai"}

_INLINE_SYSTEM = (
    "You are a code completion engine. The user shows a file with the marker <CURSOR>. "
    "Reply with only the code to insert at <CURSOR>, in one fenced code block, nothing else."
)


class PathPolicy(Protocol):
    """May this file's text be sent to a model? (`indexer.ignore.ContextPolicy` fits.)"""

    def allows(self, path: str) -> bool: ...


class SecretNamePolicy:
    """The always-on default: refuse secret-looking file names."""

    def allows(self, path: str) -> bool:
        return not is_secret_path(path)


def path_of_uri(uri: str) -> str:
    """The local path of a file: URI ("" for other schemes)."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return ""
    return unquote(parsed.path)


class RemoteTier:
    """A remote model over HTTP. `complete` returns None when the request may not be sent or
    the reply holds nothing useful, and raises `RemoteError` / `TierUnavailableError` when the
    provider cannot answer (the router then uses the local tier)."""

    def __init__(
        self,
        settings: RemoteSettings,
        *,
        policy: PathPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.policy = policy
        self._secret_names = SecretNamePolicy()
        self.config_error = ""  # why the settings cannot work; the tier is then unavailable
        try:
            self.provider: Provider = make_provider(
                settings.provider, settings.model, temperature=settings.temperature,
                family=settings.family,
            )
        except ValueError as e:
            self.config_error = str(e)
            self.provider = make_provider("openai", settings.model)
        self.base_url = settings.base_url.strip() or DEFAULT_BASE_URLS.get(self.provider.name, "")
        if self.base_url and not self.config_error:
            try:
                scheme = httpx.URL(self.base_url).scheme
            except (httpx.InvalidURL, TypeError) as e:
                scheme, self.config_error = "", f"invalid base_url: {e}"
            if scheme not in ("http", "https") and not self.config_error:
                self.config_error = f"base_url must be http:// or https://, not {self.base_url!r}"
        if self.config_error:
            log.warning("remote tier disabled: %s", self.config_error)
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self.breaker = CircuitBreaker(
            settings.circuit_failures, settings.circuit_cooldown_ms / 1000.0, clock
        )
        self._switch = OfflineSwitch(settings.offline_after)
        self._offline_setting = False
        self._reachable: bool | None = None
        self._detail = ""
        self._listeners: list[Callable[[], None]] = []
        self._probe_task: asyncio.Task[None] | None = None
        self.requests_sent = 0  # attempts that opened (or tried to open) a connection
        # The key: from settings (the user's own config), else the named environment variable.
        self._api_key = settings.api_key or (
            os.environ.get(settings.api_key_env, "") if settings.api_key_env else ""
        )
        if self._api_key:
            register_secret(self._api_key)

    def __repr__(self) -> str:  # never shows the key
        s = self.settings
        return f"RemoteTier(provider={self.provider.name!r}, base_url={self.base_url!r}, " \
               f"model={s.model!r})"

    # ------------------------------------------------------------------ state

    @property
    def configured(self) -> bool:
        return bool(self.settings.enabled and self.base_url and not self.config_error)

    @property
    def name(self) -> str:
        return f"remote:{self.provider.name}"

    def info(self) -> TierInfo:
        detail = ""
        if self.config_error:
            detail = self.config_error
        elif not self.configured:
            detail = "remote tier not configured"
        elif self._offline_setting:
            detail = "offline mode"
        elif self._switch.offline:
            detail = "offline after repeated connection failures"
        elif self.breaker.state == "open":
            detail = "circuit open after failures"
        return TierInfo(
            name=self.name,
            model=self.settings.model,
            supports_fim=self.settings.endpoint == "fim",
            max_context=32768,
            expected_latency_ms=float(self.settings.inline_timeout_ms) / 2,
            available=not detail,
            detail=detail,
        )

    def health(self) -> RemoteHealth:
        return RemoteHealth(
            reachable=self._reachable,
            circuit=self.breaker.state,
            offline_auto=self._switch.offline,
            detail=self._detail,
        )

    def add_listener(self, callback: Callable[[], None]) -> None:
        """`callback()` runs after every change of reachability, circuit or offline state."""
        self._listeners.append(callback)

    def _changed(self) -> None:
        for cb in self._listeners:
            try:
                cb()
            except Exception:
                log.exception("remote status listener failed")

    def set_offline(self, offline: bool) -> None:
        """Offline by setting: no connection of any kind (probes included) until switched back."""
        self._offline_setting = offline
        if offline and self._probe_task is not None:
            self._probe_task.cancel()
            self._probe_task = None
        elif not offline and self._switch.offline:
            self._start_probes()
        self._changed()

    def _ensure_usable(self) -> None:
        if not self.configured:
            raise TierUnavailableError(self.config_error or "remote tier not configured")
        if self._offline_setting:
            raise TierUnavailableError("offline mode")
        if self._switch.offline:
            raise TierUnavailableError("remote offline after repeated connection failures")

    def _client_now(self) -> httpx.AsyncClient:
        if self._client is None:
            s = self.settings
            self._client = make_client(
                self.base_url, self._api_key, connect_timeout=s.connect_timeout_ms / 1000.0,
                read_timeout=max(s.edit_timeout_ms, s.inline_timeout_ms) / 1000.0,
                transport=self._transport,
            )
        return self._client

    # ------------------------------------------------------------------ privacy

    def allows_path(self, path: str) -> bool:
        """Whether a file's text may be sent (secret names always refused, then the policy)."""
        if not path:
            return True
        if not self._secret_names.allows(path):
            return False
        if self.policy is None:
            return True
        try:
            return bool(self.policy.allows(path))
        except Exception:  # a policy that cannot decide refuses
            log.debug("privacy policy failed; refusing", exc_info=True)
            return False

    def allows_request(self, request: CompletionRequest) -> bool:
        return self.allows_path(path_of_uri(request.uri)) and self.allows_path(request.path)

    def _sendable(self, request: CompletionRequest) -> CompletionRequest | None:
        """The request with excluded context dropped, or None when its document is excluded."""
        if not self.allows_request(request):
            return None
        kept = tuple(c for c in request.context if self.allows_path(c.path))
        if len(kept) != len(request.context):
            log.debug("dropped %d excluded context chunks", len(request.context) - len(kept))
            request = replace(request, context=kept)
        return request

    # ------------------------------------------------------------------ outcome accounting

    def _succeeded(self) -> None:
        before = self.health()
        self.breaker.success()
        self._switch.connected()
        self._reachable, self._detail = True, ""
        if self.health() != before:
            self._changed()

    def _failed(self, err: RemoteError) -> None:
        before = self.health()
        hold = None
        if err.kind == "rate_limit" and err.retry_after:
            hold = min(err.retry_after, self.settings.max_retry_after_ms / 1000.0)
        self.breaker.failure(hold)
        self._reachable = err.kind not in _NOT_REACHED
        self._detail = err.kind
        if err.kind == "connect" and self._switch.connect_failure():
            log.info("remote model unreachable; switching to offline until a probe succeeds")
            self._start_probes()
        if self.health() != before:
            self._changed()

    # ------------------------------------------------------------------ probing

    def _start_probes(self) -> None:
        if self._offline_setting or (self._probe_task and not self._probe_task.done()):
            return
        try:
            self._probe_task = asyncio.get_running_loop().create_task(self._probe_loop())
        except RuntimeError:  # no loop (called from sync code): the next call starts it
            self._probe_task = None

    async def _probe_loop(self) -> None:
        interval = max(self.settings.probe_interval_ms / 1000.0, 0.05)
        while self._switch.offline and not self._offline_setting:
            await asyncio.sleep(interval)
            if self._offline_setting:
                return
            if await self.probe():
                self._switch.connected()
                self.breaker.success()
                self._reachable, self._detail = True, ""
                log.info("remote model reachable again")
                self._changed()
                return

    async def probe(self) -> bool:
        """A quiet reachability check: any HTTP answer counts. Never in offline mode."""
        if not self.configured or self._offline_setting:
            return False
        client = self._client_now()
        self.requests_sent += 1
        try:
            async with asyncio.timeout(self.settings.connect_timeout_ms / 1000.0 + 1.0):
                resp = await client.get(self.provider.probe_path)
                await resp.aclose()
        except (httpx.HTTPError, TimeoutError, OSError) as e:
            log.debug("remote probe failed: %s", type(e).__name__)
            return False
        return True

    # ------------------------------------------------------------------ HTTP

    def _deadline(self, kind: str) -> float:
        ms = self.settings.edit_timeout_ms if kind == "edit" else self.settings.inline_timeout_ms
        return max(ms, 1) / 1000.0

    async def _post(
        self,
        call: HttpCall,
        *,
        full: Callable[[dict[str, Any]], Delta],
        delta: Callable[[dict[str, Any]], Delta],
        early: Callable[[str], int | None] | None = None,
    ) -> tuple[str, str]:
        """(text, finish reason) of one attempt."""
        client = self._client_now()
        limit = self.settings.max_response_bytes
        stream = bool(call.body.get("stream"))
        log.debug("POST %s (%s, stream=%s)", call.path, self.provider.name, stream)
        if log.isEnabledFor(TRACE):
            log.log(TRACE, "request body %s", redact(json.dumps(call.body)))
        self.requests_sent += 1
        headers = {"Accept": "text/event-stream"} if stream else None
        try:
            async with client.stream("POST", call.path, json=call.body, headers=headers) as resp:
                if resp.status_code >= 300:
                    check_status(resp, await read_prefix(resp))
                ctype = resp.headers.get("content-type", "")
                if not stream or "text/event-stream" not in ctype:
                    d = full(parse_json(await read_capped(resp, limit)))
                    text = d.text
                    cut = early(text) if early else None
                    return (text if cut is None else text[:cut]), d.finish_reason or "stop"
                text, reason, done = "", "", False
                async for event in sse_events(resp, limit):
                    if event is None:
                        done = True
                        break
                    d = delta(event)
                    text += d.text
                    if early is not None and (cut := early(text)) is not None:
                        # Enough: end the request now (cheap on HTTP/2, one stream reset).
                        return text[:cut], "early"
                    if d.final:
                        reason, done = d.finish_reason or "stop", True
                        break
                if not done:
                    raise RemoteError("stream ended before its end marker", kind="protocol",
                                      user_message="Remote model connection broke off.")
                return text, reason or "stop"
        except (httpx.HTTPError, httpx.InvalidURL) as e:
            raise map_transport_error(e) from None

    async def _run(self, kind: str, cancel: CancelToken,
                   attempt: Callable[[], Awaitable[T]]) -> T:
        """Attempts under one overall deadline, racing the cancel token; edits retry."""
        loop = asyncio.get_running_loop()
        end = loop.time() + self._deadline(kind)
        in_flight = [False]

        async def attempts() -> T:
            tries = 1 + (max(self.settings.edit_retries, 0) if kind == "edit" else 0)
            for i in range(tries):
                self._ensure_usable()
                if not self.breaker.allow():
                    raise TierUnavailableError("remote paused after failures (circuit open)")
                in_flight[0] = True
                try:
                    result = await attempt()
                except RemoteError as e:
                    in_flight[0] = False
                    self._failed(e)
                    if i + 1 >= tries or e.kind not in _RETRYABLE:
                        raise
                    if e.retry_after is not None:
                        delay = min(e.retry_after, self.settings.max_retry_after_ms / 1000.0)
                        delay += 0.01  # land after the breaker's hold
                    else:
                        delay = self.settings.backoff_ms / 1000.0 * (2**i)
                        delay *= 0.5 + random.random() / 2
                    if loop.time() + delay >= end:
                        raise
                    log.debug("retrying %s in %.2fs after %s", kind, delay, e.kind)
                    await asyncio.sleep(delay)
                    continue
                in_flight[0] = False
                self._succeeded()
                return result
            raise AssertionError("unreachable")

        task = asyncio.create_task(attempts())
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=max(min(_POLL_S, end - loop.time()), 0))
                if task.done():
                    break
                if cancel.cancelled:
                    await self._stop(task)
                    self.breaker.release()
                    raise CancelledError(cancel.reason)
                if loop.time() >= end:
                    await self._stop(task)
                    err = RemoteError(f"{kind} request missed its deadline", kind="timeout",
                                      user_message="Remote model timed out.")
                    if in_flight[0]:
                        self._failed(err)
                    raise err
            return task.result()
        except asyncio.CancelledError:
            # The caller gave up (the router's own deadline): neutral for the breaker.
            await self._stop(task)
            self.breaker.release()
            raise
        finally:
            if not task.done():
                task.cancel()

    @staticmethod
    async def _stop(task: asyncio.Task[Any]) -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task

    # ------------------------------------------------------------------ Tier

    async def complete(self, request: CompletionRequest, cancel: CancelToken) -> Completion | None:
        self._ensure_usable()
        sendable = self._sendable(request)
        if sendable is None:
            log.debug("document excluded from remote models; not sent")
            return None
        cancel.raise_if_cancelled()
        started = time.perf_counter()
        stream = self.settings.stream
        p = self.provider

        def early(text: str) -> int | None:
            return early_stop(sendable, text)

        if self.settings.endpoint == "chat":
            messages = inline_chat_messages(sendable)
            call = p.chat_call(messages, max_tokens=sendable.max_tokens, stream=stream)
            raw, reason = await self._run(
                sendable.kind, cancel,
                lambda: self._post(call, full=p.chat_text, delta=p.chat_delta),
            )
            raw = extract_code(raw)
        else:
            call = p.fim_call(sendable, stream=stream)
            raw, reason = await self._run(
                sendable.kind, cancel,
                lambda: self._post(call, full=p.fim_text, delta=p.fim_delta, early=early),
            )
        text = postprocess(sendable, raw)
        if not text:
            return None
        return Completion(
            text=text,
            tier=self.name,
            model=self.settings.model,
            elapsed_ms=(time.perf_counter() - started) * 1000.0,
            stop_reason=reason,
        )

    async def chat(
        self,
        messages: Sequence[Message],
        cancel: CancelToken,
        *,
        kind: str = "edit",
        max_tokens: int = 1024,
        paths: Sequence[str] = (),
    ) -> str:
        """The assistant's raw reply. `paths`: the files whose text the messages carry; any
        excluded one refuses the whole call (raises TierUnavailableError, nothing is sent)."""
        self._ensure_usable()
        for path in paths:
            if not self.allows_path(path_of_uri(path) if "://" in path else path):
                raise TierUnavailableError(
                    "file excluded from remote models",
                    user_message="This file is excluded from AI models (ignore rules).",
                )
        p = self.provider
        call = p.chat_call(messages, max_tokens=max_tokens, stream=self.settings.stream)
        text, _ = await self._run(
            kind, cancel, lambda: self._post(call, full=p.chat_text, delta=p.chat_delta)
        )
        return text

    async def aclose(self) -> None:
        if self._probe_task is not None:
            self._probe_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._probe_task
            self._probe_task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def inline_chat_messages(request: CompletionRequest) -> list[Message]:
    """A chat prompt for a completion at the cursor (for servers without FIM)."""
    parts = []
    for c in request.context:
        parts.append(f"File {c.path}:\n```\n{c.text.rstrip()}\n```\n")
    name = request.path or Path(path_of_uri(request.uri)).name or "current file"
    parts.append(f"File {name} ({request.language_id or 'code'}):\n```\n"
                 f"{request.prefix}<CURSOR>{request.suffix}\n```")
    return [{"role": "system", "content": _INLINE_SYSTEM},
            {"role": "user", "content": "\n".join(parts)}]
