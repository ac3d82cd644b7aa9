"""llama.cpp's `llama-server` `/infill` as a bench backend, driven the way llama.vim drives it.

Request settings are llama.vim's defaults (autoload/llama.vim): 256 prefix lines, 64 suffix
lines, n_predict 128, t_max_predict_ms 250 for a first (non-speculative) request, n_indent of the
current line, top_k 40 / top_p 0.90 with the infill sampler, cache_prompt, and extra-context
chunks (`input_extra`, llama.vim's ring buffer: here chunks of the same file outside the local
window, sent once before typing so that they sit in the KV cache). The server runs with one
slot and `--cache-reuse 256`. Optionally (`client_cache`), the client keeps llama.vim's own cache
of answers and shows one when the user has typed through the start of it, without a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.latency.replay import Answer


@dataclass(frozen=True)
class VimConfig:
    n_prefix: int = 256
    n_suffix: int = 64
    n_predict: int = 128
    t_max_prompt_ms: int = 500
    t_max_predict_ms: int = 250  # llama.vim's value for the first request at a position
    max_line_suffix: int = 8
    ring_n_chunks: int = 2
    ring_chunk_size: int = 64
    client_cache: bool = False
    max_cache_keys: int = 250


@dataclass(frozen=True)
class LocalContext:
    prefix: str
    middle: str
    suffix: str
    indent: int
    line_prefix: str
    line_suffix: str
    blank_line: bool


def local_context(document: str, offset: int, cfg: VimConfig) -> LocalContext:
    """llama.vim's `s:fim_ctx_local`: whole lines around the cursor, the current line split."""
    lines = document.split("\n")
    y = document.count("\n", 0, offset)
    x = offset - (document.rfind("\n", 0, offset) + 1)
    cur = lines[y]
    line_prefix, line_suffix = cur[:x], cur[x:]
    blank = not cur.strip()
    indent = 0 if blank else len(cur) - len(cur.lstrip())
    middle = "" if blank else line_prefix
    before = lines[max(0, y - cfg.n_prefix):y]
    after = lines[y + 1:y + 1 + cfg.n_suffix]
    return LocalContext(
        prefix="\n".join(before) + "\n",
        middle=middle,
        suffix=("" if blank else line_suffix) + "\n" + "\n".join(after) + "\n",
        indent=indent,
        line_prefix=line_prefix,
        line_suffix=line_suffix,
        blank_line=blank,
    )


def extra_chunks(document: str, offset: int, cfg: VimConfig, seed: int) -> list[dict[str, Any]]:
    """Ring-buffer chunks as llama.vim picks them on a first request: one from above the prefix
    window, one from below the suffix window (half a chunk size each), more alternating."""
    lines = document.split("\n")
    y = document.count("\n", 0, offset)
    half = cfg.ring_chunk_size // 2
    rng = random.Random(seed)
    spans = [(0, max(0, y - cfg.n_prefix)), (min(len(lines), y + cfg.n_suffix), len(lines))]
    chunks: list[dict[str, Any]] = []
    for i in range(cfg.ring_n_chunks * 4):
        if len(chunks) >= cfg.ring_n_chunks:
            break
        lo, hi = spans[i % 2]
        if hi - lo < 3:
            continue
        start = rng.randint(lo, max(lo, hi - half))
        text = "\n".join(lines[start:start + half]) + "\n"
        if all(c["text"] != text for c in chunks):
            chunks.append({"text": text, "time": 0, "filename": "bench.py"})
    return chunks


def shown_text(content: str, ctx: LocalContext) -> str:
    """llama.vim's rendering of an answer as the text inserted at the cursor."""
    parts = content.split("\n")
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()
    if ctx.blank_line:  # the request left the line's whitespace out: trim what is typed
        lead = min(len(parts[0]) - len(parts[0].lstrip()), len(ctx.line_prefix))
        parts[0] = parts[0][lead:]
    return "\n".join(parts)


class _ClientCache:
    """llama.vim's result cache: exact context, or a context up to 128 characters back whose
    answer starts with what was typed since."""

    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys
        self.data: dict[tuple[str, str], str] = {}

    def put(self, ctx: LocalContext, content: str) -> None:
        if len(self.data) >= self.max_keys:
            self.data.pop(next(iter(self.data)))
        self.data[(ctx.prefix + ctx.middle, ctx.suffix)] = content

    def get(self, ctx: LocalContext) -> str | None:
        pm = ctx.prefix + ctx.middle
        hit = self.data.get((pm, ctx.suffix))
        if hit is not None:
            return hit
        best: str | None = None
        for i in range(1, min(128, len(pm)) + 1):
            content = self.data.get((pm[:-i], ctx.suffix))
            if content is None or not content.startswith(pm[-i:]):
                continue
            rest = content[i:]
            if rest and (best is None or len(rest) > len(best)):
                best = rest
        return best


class _HttpPending:
    def __init__(self, task: asyncio.Task[Answer] | None, answer: Answer | None = None) -> None:
        self._task, self._answer = task, answer

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()  # closes the connection; llama-server then drops the task

    async def result(self) -> Answer:
        if self._task is None:
            assert self._answer is not None
            return self._answer
        try:
            return await self._task
        except asyncio.CancelledError:
            return Answer("cancelled")
        except httpx.HTTPError as exc:
            return Answer("error", detail=repr(exc))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    """A `llama-server` process with llama.vim's server flags, and llama.vim's requests to it."""

    name = "llama-server"

    def __init__(self, binary: Path, model: Path, threads: int, log_file: Path,
                 seed: int = 0, cfg: VimConfig | None = None, ctx_size: int = 8192) -> None:
        self.binary, self.model, self.threads = binary, model, threads
        self.log_file, self.seed, self.ctx_size = log_file, seed, ctx_size
        self.cfg = cfg or VimConfig()
        self.port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None
        self._client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}",
                                         timeout=httpx.Timeout(120.0))
        self._docs: dict[str, str] = {}
        self._cache = _ClientCache(self.cfg.max_cache_keys)
        self._extra: dict[str, list[dict[str, Any]]] = {}

    async def start(self, ready_timeout: float = 300.0) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        cmd = [str(self.binary), "-m", str(self.model), "--host", "127.0.0.1",
               "--port", str(self.port), "-t", str(self.threads), "-tb", str(self.threads),
               "-np", "1", "--cache-reuse", "256", "-c", str(self.ctx_size),
               "-b", "1024", "-ub", "512", "--no-webui"]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                      stdout=self.log_file.open("wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"llama-server exited ({self._proc.returncode}); "
                                   f"see {self.log_file}")
            with contextlib.suppress(httpx.HTTPError):
                if (await self._client.get("/health")).status_code == 200:
                    return
            await asyncio.sleep(0.5)
        raise RuntimeError(f"llama-server not ready after {ready_timeout:.0f} s")

    async def open(self, uri: str, text: str) -> None:
        self._docs[uri] = text
        self._extra.pop(uri, None)

    async def insert(self, uri: str, offset: int, text: str, document: str) -> None:
        self._docs[uri] = document

    def _body(self, ctx: LocalContext, extra: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "input_prefix": ctx.prefix, "input_suffix": ctx.suffix, "input_extra": extra,
            "prompt": ctx.middle, "n_predict": self.cfg.n_predict, "stop": [],
            "n_indent": ctx.indent, "top_k": 40, "top_p": 0.90, "stream": False,
            "samplers": ["top_k", "top_p", "infill"], "cache_prompt": True,
            "t_max_prompt_ms": self.cfg.t_max_prompt_ms,
            "t_max_predict_ms": self.cfg.t_max_predict_ms, "seed": self.seed,
            "response_fields": ["content", "timings/prompt_n", "timings/cache_n",
                                "timings/predicted_n", "tokens_cached", "truncated"],
        }

    async def _prime(self, uri: str, offset: int) -> list[dict[str, Any]]:
        """llama.vim's ring update: send the extra context alone so that it is cached."""
        extra = self._extra.get(uri)
        if extra is None:
            extra = extra_chunks(self._docs[uri], offset, self.cfg, self.seed)
            self._extra[uri] = extra
            if extra:
                await self._client.post("/infill", json={
                    "input_prefix": "", "input_suffix": "", "input_extra": extra, "prompt": "",
                    "n_predict": 0, "temperature": 0.0, "samplers": [], "cache_prompt": True,
                    "t_max_prompt_ms": 1, "t_max_predict_ms": 1, "response_fields": [""],
                })
        return extra

    async def prepare(self, uri: str, offset: int) -> None:
        """Untimed: what llama.vim does on entering the buffer, before the user types."""
        await self._prime(uri, offset)

    def complete(self, uri: str, offset: int) -> _HttpPending:
        document = self._docs[uri]
        ctx = local_context(document, offset, self.cfg)
        if len(ctx.line_suffix) > self.cfg.max_line_suffix:
            return _HttpPending(None, Answer("skipped", detail="text right of the cursor"))
        if self.cfg.client_cache:
            cached = self._cache.get(ctx)
            if cached is not None:
                return _HttpPending(None, Answer("answered", shown_text(cached, ctx),
                                                 prompt_tokens=0, cache_hit=True))
        return _HttpPending(asyncio.ensure_future(self._request(uri, offset, ctx)))

    async def _request(self, uri: str, offset: int, ctx: LocalContext) -> Answer:
        extra = await self._prime(uri, offset)
        resp = await self._client.post("/infill", json=self._body(ctx, extra))
        if resp.status_code != 200:
            return Answer("error", detail=f"HTTP {resp.status_code}: {resp.text[:200]}")
        data = resp.json()
        content = data.get("content", "")
        if self.cfg.client_cache:
            self._cache.put(ctx, content)
        return Answer("answered", shown_text(content, ctx),
                      prompt_tokens=data.get("timings/prompt_n"),
                      cached_tokens=data.get("timings/cache_n", data.get("tokens_cached")),
                      cache_hit=False)

    async def close(self, uri: str) -> None:
        self._docs.pop(uri, None)

    async def stop(self) -> None:
        await self._client.aclose()
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                await asyncio.to_thread(self._proc.wait, 20)
            except subprocess.TimeoutExpired:
                self._proc.kill()
