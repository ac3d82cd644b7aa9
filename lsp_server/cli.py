"""The `lsp-server` command: the language server (stdio or TCP) and its tool subcommands."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from lsp_server import __version__

SUBCOMMANDS = {
    "complete": "print the completion at a position of a file",
    "index": "build or query the workspace index",
    "models": "list, pull, verify and choose models",
    "doctor": "show what works and what does not",
}


def _setup_logging(level: str, log_file: str | None) -> None:
    handler: logging.Handler = (
        logging.FileHandler(log_file) if log_file else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper() if level != "trace" else 5)
    # pygls logs every message body at INFO: keep that for explicit debugging only.
    verbose = level in ("debug", "trace")
    logging.getLogger("pygls").setLevel(logging.DEBUG if verbose else logging.WARNING)


def _server_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="lsp-server",
        description="AI code completion language server.",
        epilog="Tool subcommands: "
        + "; ".join(f"{k}: {v}" for k, v in SUBCOMMANDS.items())
        + " (lsp-server SUBCOMMAND --help).",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--stdio", action="store_true", help="serve LSP on stdin/stdout (default)")
    mode.add_argument("--tcp", metavar="HOST:PORT", help="serve one client over TCP (debugging)")
    parser.add_argument("--version", action="version", version=f"lsp-server {__version__}")
    parser.add_argument("--log-level", default=os.environ.get("LSP_SERVER_LOG_LEVEL", "info"),
                        choices=["trace", "debug", "info", "warning", "error"])
    parser.add_argument("--log-file", help="write the log here instead of stderr")
    args = parser.parse_args(argv)
    _setup_logging(args.log_level, args.log_file)
    os.environ["LSP_SERVER_LOG_LEVEL"] = args.log_level

    from lsp_server.server import create_server

    server = create_server()
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        if not host or not port.isdigit():
            parser.error("--tcp expects HOST:PORT, e.g. 127.0.0.1:2087")
        server.start_tcp(host, int(port))
    else:
        server.start_io()
    code = 0 if server.protocol._shutdown else 1
    logging.shutdown()
    # The model's worker thread may be mid-token; the process ends now either way.
    os._exit(code)


def _complete_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="lsp-server complete",
        description="Print the completion at a position of FILE, from the server's pipeline.",
    )
    parser.add_argument("file", type=Path)
    parser.add_argument("--line", type=int, required=True, help="0-based line")
    parser.add_argument("--col", type=int, required=True, help="0-based column (characters)")
    parser.add_argument("--model", help="a GGUF file (default: the configured or default model)")
    parser.add_argument("--multi-line", action="store_true", help="ask for a whole block")
    parser.add_argument("--log-level", default="warning",
                        choices=["trace", "debug", "info", "warning", "error"])
    parser.add_argument("--json", action="store_true", help="print the result with its figures")
    args = parser.parse_args(argv)
    _setup_logging(args.log_level, None)
    from lsp_server.oneshot import complete_file

    return asyncio.run(
        complete_file(args.file, args.line, args.col, model=args.model,
                      multi_line=args.multi_line, as_json=args.json)
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        cmd, rest = argv[0], argv[1:]
        if cmd == "complete":
            return _complete_main(rest)
        if cmd == "index":
            from indexer.cli import main as index_main

            return index_main(rest)
        if cmd == "models":
            from models.cli import main as models_main

            return models_main(rest)
        if cmd == "doctor":
            from lsp_server.doctor_cmd import main as doctor_main

            return doctor_main(rest)
    return _server_main(argv)


if __name__ == "__main__":
    sys.exit(main())
