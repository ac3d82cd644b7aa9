"""HTTP plumbing shared by the providers: one client, bounded reads, SSE, error mapping."""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from tiers.errors import RemoteError

try:  # HTTP/2 where the server offers it (ALPN over TLS); plain HTTP stays on HTTP/1.1
    import h2  # noqa: F401

    HTTP2 = True
except ImportError:  # pragma: no cover - h2 is a dependency through httpx[http2]
    HTTP2 = False

USER_AGENT = "lsp-server"


def make_client(
    base_url: str,
    api_key: str,
    *,
    connect_timeout: float = 5.0,
    read_timeout: float = 30.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """One pooled client per provider; the key lives only in its headers (redacted in repr)."""
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return httpx.AsyncClient(
        base_url=base_url.rstrip("/"),
        headers=headers,
        http2=HTTP2 and transport is None,
        transport=transport,
        # Per-phase limits; the caller also puts one overall deadline around each call.
        timeout=httpx.Timeout(connect=connect_timeout, read=read_timeout, write=10.0, pool=5.0),
        limits=httpx.Limits(max_connections=8, max_keepalive_connections=4, keepalive_expiry=60),
        follow_redirects=False,
        trust_env=False,  # proxies from the environment would see the prompts; be explicit
    )


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def map_transport_error(exc: httpx.HTTPError | httpx.InvalidURL) -> RemoteError:
    """An httpx failure as a RemoteError whose kind drives retries, the breaker and offline."""
    name = type(exc).__name__
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return RemoteError(f"cannot connect: {name}", kind="connect",
                           user_message="Remote model unreachable (connection failed).")
    if isinstance(exc, httpx.TimeoutException):
        return RemoteError(f"timed out: {name}", kind="timeout",
                           user_message="Remote model timed out.")
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return RemoteError(f"connection broken: {name}", kind="protocol",
                           user_message="Remote model connection broke off.")
    return RemoteError(f"HTTP failure: {name}", kind="protocol",
                       user_message="Remote model request failed.")


def check_status(response: httpx.Response, body: bytes = b"") -> None:
    """Raise a RemoteError for a non-2xx status (with Retry-After for 429/503)."""
    code = response.status_code
    if 200 <= code < 300:
        return
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    snippet = body[:200].decode("utf-8", "replace")
    if code == 429:
        raise RemoteError(f"rate limited (429): {snippet}", kind="rate_limit",
                          retry_after=retry_after,
                          user_message="Remote model rate limit reached.")
    if code >= 500:
        raise RemoteError(f"server error {code}: {snippet}", kind="server",
                          retry_after=retry_after,
                          user_message=f"Remote model server error ({code}).")
    if code in (401, 403):
        raise RemoteError(f"not authorised ({code})", kind="auth",
                          user_message="Remote model refused the API key.")
    raise RemoteError(f"HTTP {code}: {snippet}", kind="client",
                      user_message=f"Remote model rejected the request ({code}).")


def _too_large(limit: int) -> RemoteError:
    return RemoteError(f"response larger than {limit} bytes", kind="too_large",
                       user_message="Remote model response too large.")


async def read_capped(response: httpx.Response, limit: int) -> bytes:
    """The whole body, refusing more than `limit` bytes (checked before buffering all of it)."""
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.aiter_bytes():
        total += len(chunk)
        if total > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_prefix(response: httpx.Response, limit: int = 4096) -> bytes:
    """At most `limit` bytes of the body (for error messages); the rest is not read."""
    data = b""
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) >= limit:
            break
    return data[:limit]


def parse_json(body: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise RemoteError(f"invalid JSON in response: {e}", kind="protocol",
                          user_message="Remote model sent an invalid response.") from None
    if not isinstance(obj, dict):
        raise RemoteError("response is not a JSON object", kind="protocol",
                          user_message="Remote model sent an invalid response.")
    return obj


async def sse_events(response: httpx.Response, limit: int) -> AsyncIterator[dict[str, Any] | None]:
    """Server-sent events as JSON objects; None for the `[DONE]` sentinel.

    Counts every byte against `limit`; a malformed event raises a protocol RemoteError.
    """
    total = 0
    buffer = ""
    data_lines: list[str] = []
    async for chunk in response.aiter_text():
        total += len(chunk.encode("utf-8"))
        if total > limit:
            raise _too_large(limit)
        buffer += chunk
        while True:
            nl = buffer.find("\n")
            if nl < 0:
                break
            line, buffer = buffer[:nl].rstrip("\r"), buffer[nl + 1 :]
            if line.startswith("data:"):
                data_lines.append(line[5:].lstrip(" "))
            elif line == "" and data_lines:
                data = "\n".join(data_lines)
                data_lines = []
                if data.strip() == "[DONE]":
                    yield None
                    return
                yield parse_json(data.encode("utf-8"))
            # other fields (event:, id:, retry:, comments) carry nothing we need
    tail = buffer.rstrip("\r")
    if tail.startswith("data:"):
        data_lines.append(tail[5:].lstrip(" "))
    if data_lines:  # a last event without its blank line
        data = "\n".join(data_lines)
        if data.strip() == "[DONE]":
            yield None
            return
        yield parse_json(data.encode("utf-8"))
