"""A rich progress bar behind the plain `(done, total)` callback the model functions take."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from models.integrity import Progress as ProgressFn


@contextlib.contextmanager
def progress_bar(description: str, *, console: Console | None = None) -> Iterator[ProgressFn]:
    """Yields a callback that draws a transfer bar on stderr (static lines when not a tty)."""
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
        transient=False,
    )
    with bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total or None)

        yield update
