"""A simulated user types real code and asks for an inline completion on every keystroke.

The typing schedule is seeded (same keystrokes, same delays for the same seed), so two backends
replay the same session. Like VS Code, every edit asks for a suggestion and cancels the request
still in flight. At each next action the user looks at the suggestion on screen: when it is
exactly what they were about to type (at least its first line), they accept it as one edit.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from bench.latency.sources import Position, Region

IDENT = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


# -- typing schedule --------------------------------------------------------------------------


@dataclass(frozen=True)
class Keystroke:
    start: int  # offset in the typed text
    text: str  # one character, or Enter with the indentation an editor inserts after it
    delay: float  # seconds after the previous action

    @property
    def end(self) -> int:
        return self.start + len(self.text)


def typing_schedule(
    target: str,
    seed: int,
    burst: tuple[float, float] = (0.05, 0.15),
    pause: tuple[float, float] = (0.3, 1.5),
    word_pause: float = 0.25,
) -> list[Keystroke]:
    """Keystrokes that type `target`: bursts inside words, pauses at line and word starts."""
    rng = random.Random(seed)
    out: list[Keystroke] = []
    i = 0
    while i < len(target):
        j = i + 1
        if target[i] == "\n":  # the editor auto-indents: Enter brings the indentation
            while j < len(target) and target[j] in " \t":
                j += 1
        prev = target[i - 1] if i else "\n"
        line_start = prev == "\n" or bool(out and out[-1].text.startswith("\n"))
        word_start = target[i] in IDENT and prev not in IDENT
        if line_start or (word_start and rng.random() < word_pause):
            delay = rng.uniform(*pause)
        else:
            delay = rng.uniform(*burst)
        out.append(Keystroke(i, target[i:j], round(delay, 4)))
        i = j
    return out


def next_keystroke(schedule: list[Keystroke], typed: int) -> Keystroke:
    """The keystroke that types the character at offset `typed` (cut when `typed` is inside it,
    as after accepting a suggestion that ended within an indentation)."""
    i = bisect.bisect_right(schedule, typed, key=lambda k: k.start) - 1
    ks = schedule[max(i, 0)]
    if ks.start == typed:
        return ks
    return Keystroke(typed, ks.text[typed - ks.start:], ks.delay)


# -- what the user does with a suggestion -----------------------------------------------------


def accepted_part(suggestion: str, truth: str) -> str:
    """What the user accepts of `suggestion` when `truth` is what they were about to type.

    All of it when it is exactly the text that comes next; else its leading whole lines that
    are (a line counts only when `truth` ends that line there too); else nothing.
    """
    if not suggestion.strip():
        return ""
    if truth.startswith(suggestion):
        return suggestion
    lines = suggestion.split("\n")
    accepted = ""
    for k in range(1, len(lines)):
        head = "\n".join(lines[:k])
        if truth.startswith(head) and (len(truth) == len(head) or truth[len(head)] == "\n"):
            accepted = head
        else:
            break
    return accepted if accepted.strip() else ""


def _first_line(text: str) -> tuple[int, str]:
    rest = text.lstrip("\n")
    return len(text) - len(rest), rest.split("\n", 1)[0].rstrip()


def first_line_match(suggestion: str, truth: str) -> bool:
    """The suggestion's first line is exactly the rest of the line (or the next line, when the
    suggestion starts with a newline) that really comes next."""
    return bool(suggestion.strip()) and _first_line(suggestion) == _first_line(truth)


# -- backends ---------------------------------------------------------------------------------


@dataclass
class Answer:
    status: str  # "answered" | "cancelled" | "error" | "skipped"
    text: str = ""  # the suggestion, as text to insert at the cursor
    prompt_tokens: int | None = None  # prompt tokens evaluated for this answer, when known
    cached_tokens: int | None = None  # prompt tokens taken from the KV cache, when known
    cache_hit: bool | None = None  # answered from a result cache, without the model
    detail: str = ""


class Pending(Protocol):
    async def result(self) -> Answer: ...

    def cancel(self) -> None: ...


class Backend(Protocol):
    name: str

    async def open(self, uri: str, text: str) -> None: ...

    async def insert(self, uri: str, offset: int, text: str, document: str) -> None:
        """`text` was inserted at `offset`; `document` is the whole text after the edit."""

    def complete(self, uri: str, offset: int) -> Pending: ...

    async def close(self, uri: str) -> None: ...


# -- records ----------------------------------------------------------------------------------


@dataclass
class RequestRecord:
    backend: str
    source: str
    seq: int
    after: str  # "key", "accept", "open" or "position"
    sent: float
    latency: float | None = None
    status: str = "pending"  # answered | late | cancelled | error | skipped | unfinished
    suggestion: str | None = None
    first_line_match: bool | None = None
    prompt_tokens: int | None = None
    cached_tokens: int | None = None
    cache_hit: bool | None = None
    superseded: bool = False


@dataclass
class SessionStats:
    keystrokes: int = 0
    accepted_chars: int = 0
    acceptances: int = 0
    typed_chars: int = 0
    open_latencies: list[float] = field(default_factory=list)  # untimed first requests
    records: list[RequestRecord] = field(default_factory=list)


# -- the replay -------------------------------------------------------------------------------


async def _track(
    pending: Pending, rec: RequestRecord, truth: str, clock: Callable[[], float],
    on_answer: Callable[[RequestRecord, str], None],
) -> None:
    answer = await pending.result()
    rec.latency = clock() - rec.sent
    rec.prompt_tokens, rec.cached_tokens = answer.prompt_tokens, answer.cached_tokens
    rec.cache_hit = answer.cache_hit
    if answer.status == "answered":
        rec.status = "late" if rec.superseded else "answered"
        rec.suggestion = answer.text
        rec.first_line_match = first_line_match(answer.text, truth)
        if not rec.superseded:
            on_answer(rec, answer.text)
    else:
        rec.status = answer.status


async def replay_region(
    backend: Backend,
    region: Region,
    seed: int,
    stats: SessionStats,
    clock: Callable[[], float] = time.perf_counter,
    final_wait: float = 60.0,
    max_actions: int | None = None,
    speed: float = 1.0,
    warm: bool = True,
) -> None:
    """Type `region` into `backend` as the simulated user would; append to `stats`.

    `max_actions` stops the session after that many keystrokes and acceptances; `speed` > 1
    types faster than the schedule says (for tests). With `warm`, the user first waits for the
    answer to the request made when the cursor landed (untimed: the cost of reading the file
    is not a keystroke's)."""
    uri = region.path.as_uri()
    target = region.target
    schedule = typing_schedule(target, seed)
    typed = 0
    shown: list[str | None] = [None]  # the suggestion on screen for the current text
    inflight: tuple[Pending, RequestRecord, asyncio.Task[None]] | None = None
    tasks: list[asyncio.Task[None]] = []

    def on_answer(rec: RequestRecord, text: str) -> None:
        shown[0] = text

    await backend.open(uri, region.document())
    prepare = getattr(backend, "prepare", None)
    if prepare is not None:  # untimed set-up a client does on opening a file
        await prepare(uri, len(region.before))
    if warm:  # the cursor lands on the empty line: the editor asks, the user reads the answer
        t0 = clock()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(backend.complete(uri, len(region.before)).result(), final_wait)
        stats.open_latencies.append(clock() - t0)
    next_at = clock()
    actions = 0
    while typed < len(target) and (max_actions is None or actions < max_actions):
        actions += 1
        ks = next_keystroke(schedule, typed)
        next_at += ks.delay / speed
        await asyncio.sleep(max(0.0, next_at - clock()))
        accept = accepted_part(shown[0], target[typed:]) if shown[0] else ""
        edit = accept or ks.text
        if accept:
            stats.acceptances += 1
            stats.accepted_chars += len(accept)
        else:
            stats.keystrokes += 1
            stats.typed_chars += len(edit)
        if inflight is not None and inflight[1].status == "pending":
            inflight[1].superseded = True
            inflight[0].cancel()
        shown[0] = None
        cursor = len(region.before) + typed
        typed += len(edit)
        document = region.document(target[:typed])
        await backend.insert(uri, cursor, edit, document)
        rec = RequestRecord(backend.name, region.name, len(stats.records),
                            "accept" if accept else "key", clock())
        stats.records.append(rec)
        pending = backend.complete(uri, cursor + len(edit))
        truth = region.text[region.start + typed:]  # what really follows, typed or not yet
        task = asyncio.ensure_future(_track(pending, rec, truth, clock, on_answer))
        tasks.append(task)
        inflight = (pending, rec, task)
    # The user stops typing: the last request may still be answered.
    if tasks:
        done, _ = await asyncio.wait(tasks, timeout=final_wait)
        for task in tasks:
            if task not in done:
                task.cancel()
        for rec in stats.records:
            if rec.status == "pending":
                rec.status = "unfinished"
    await backend.close(uri)


async def complete_positions(
    backend: Backend, positions: list[Position], stats: SessionStats,
    clock: Callable[[], float] = time.perf_counter, timeout: float = 300.0, warm: bool = True,
) -> None:
    """One request per position, each awaited: request-to-response time without typing.

    With `warm`, an untimed request at the end of each file comes first, as in an editor where
    the file has been open a while (the model has seen it); without, the first request in each
    file pays for reading it."""
    seen: set[str] = set()
    for n, pos in enumerate(positions):
        file = pos.name.split(":")[0]
        uri = f"file:///bench/positions/{n}/{file}"
        if warm and file not in seen:
            await backend.open(uri, pos.text)
            with contextlib.suppress(TimeoutError):  # at the end of the file: no cache hit later
                await asyncio.wait_for(backend.complete(uri, len(pos.text)).result(), timeout)
            await backend.close(uri)
        seen.add(file)
        await backend.open(uri, pos.text)
        prepare = getattr(backend, "prepare", None)
        if prepare is not None:
            await prepare(uri, pos.offset)
        rec = RequestRecord(backend.name, pos.name, len(stats.records), "position", clock())
        stats.records.append(rec)
        task = asyncio.ensure_future(
            _track(backend.complete(uri, pos.offset), rec, pos.truth, clock, lambda r, t: None)
        )
        try:
            await asyncio.wait_for(task, timeout)
        except TimeoutError:
            rec.status = "unfinished"
        await backend.close(uri)
