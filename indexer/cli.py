"""`lsp-server index PATH [--query NAME] [--db PATH]`: build or update an index, show it."""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from indexer.workspace import IndexStats, WorkspaceIndex


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lsp-server index",
        description="Build or update the workspace index and print its statistics.",
    )
    p.add_argument("path", type=Path, help="workspace root")
    p.add_argument("--query", metavar="NAME", help="print the symbols matching NAME (fuzzy)")
    p.add_argument("--db", type=Path, metavar="PATH", help="database file (default: user cache)")
    p.add_argument("--limit", type=int, default=50, help="most symbols printed by --query")
    p.add_argument("--exclude", action="append", default=[], metavar="PATTERN",
                   help="extra gitignore-style pattern to leave out (repeatable)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("-v", "--verbose", action="store_true", help="log skipped files")
    return p


def _print_stats(console: Console, stats: IndexStats) -> None:
    table = Table(title="Index", show_header=True)
    table.add_column("language")
    table.add_column("files", justify="right")
    table.add_column("symbols", justify="right")
    for lang in sorted(set(stats.files_per_language) | set(stats.symbols_per_language)):
        table.add_row(lang, str(stats.files_per_language.get(lang, 0)),
                      str(stats.symbols_per_language.get(lang, 0)))
    table.add_row("total", str(stats.files), str(stats.symbols), style="bold")
    console.print(table)
    rate = stats.parsed / stats.seconds if stats.seconds > 0 else 0.0
    console.print(
        f"parsed {stats.parsed}, unchanged {stats.unchanged}, removed {stats.removed}, "
        f"skipped {stats.skipped} in {stats.seconds:.2f} s ({rate:.0f} files/s); "
        f"database {stats.db_bytes / 1e6:.1f} MB"
    )
    if stats.skipped_reasons:
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(stats.skipped_reasons.items()))
        console.print(f"skipped: {reasons}")
    if stats.rebuilt_reason:
        console.print(f"[yellow]the previous database was rebuilt: {stats.rebuilt_reason}")
    if stats.cancelled:
        console.print("[yellow]cancelled: the index is partial")


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    console = Console(stderr=False)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    root = args.path
    if not root.is_dir():
        console.print(f"[red]not a directory: {root}")
        return 2
    try:
        index = WorkspaceIndex(root, db_path=args.db, extra_excludes=args.exclude)
    except (OSError, sqlite3.Error) as exc:
        console.print(f"[red]cannot open the index database: {exc}")
        return 1
    try:
        if args.no_progress or not console.is_terminal:
            stats = index.build()
        else:
            with Progress(
                TextColumn("indexing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=console, transient=True,
            ) as bar:
                task = bar.add_task("index", total=None)

                def progress(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                stats = index.build(progress=progress)
        _print_stats(console, stats)
        if args.query is not None:
            for sym in index.workspace_symbols(args.query, limit=args.limit):
                line, col = sym.name_start
                name = sym.qualified_name
                console.print(f"{sym.path}:{line + 1}:{col + 1} {sym.kind} {name}",
                              markup=False, highlight=False)
    except KeyboardInterrupt:
        return 130
    finally:
        index.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
