"""`lsp-server complete`: one completion at a position of a file, through the server's pipeline."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lsp_server.config import build_config
from lsp_server.documents import Snapshot
from lsp_server.model_choice import resolver_for
from lsp_server.pipeline import CompletionPipeline
from lsp_server.positions import UTF32, LineIndex, PositionError
from tiers.base import CancelToken, Mode
from tiers.local import LocalTier
from tiers.router import Router

_LANGUAGE_IDS = {
    ".py": "python", ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript",
    ".ts": "typescript", ".tsx": "typescriptreact", ".jsx": "javascriptreact", ".go": "go",
    ".rs": "rust", ".java": "java", ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp",
    ".hpp": "cpp", ".cs": "csharp", ".rb": "ruby", ".php": "php", ".lua": "lua",
    ".sh": "shellscript",
}


def language_id_for(path: Path) -> str:
    return _LANGUAGE_IDS.get(path.suffix.lower(), path.suffix.lstrip(".").lower())


async def complete_file(
    file: Path, line: int, col: int, *, model: str | None = None,
    multi_line: bool = False, as_json: bool = False,
) -> int:
    try:
        text = file.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        print(f"lsp-server complete: cannot read {file}: {exc}", file=sys.stderr)
        return 2
    try:
        offset = LineIndex.of(text).offset(line, col, UTF32)
    except PositionError as exc:
        print(f"lsp-server complete: {exc}", file=sys.stderr)
        return 2
    overrides = {"local": {"model_path": str(Path(model).resolve())}} if model else None
    config, _ = build_config(("command line", overrides))
    local = LocalTier(config.local, resolver_for(config))
    router = Router(local, None, config.router)
    pipeline = CompletionPipeline(config, router)
    snap = Snapshot(file.resolve().as_uri(), language_id_for(file), 0, text, offset)
    try:
        if not await local.wait_ready():
            err = local.load_error
            why = err.user_message if err else "no model"
            print(f"lsp-server complete: {why}", file=sys.stderr)
            return 3
        request = pipeline.request_for(snap, file.name, force=True)
        assert request is not None  # forced requests are never skipped
        if multi_line:
            from dataclasses import replace

            request = replace(request, mode=Mode.MULTI_LINE,
                              max_tokens=config.local.max_tokens_multiline)
        result = await router.complete(request, CancelToken())
    finally:
        await router.aclose()
        await local.aclose()
    if as_json:
        print(json.dumps({
            "text": result.text if result else "",
            "tier": result.tier if result else "",
            "model": result.model if result else "",
            "mode": request.mode.value,
            "prompt_tokens": result.prompt_tokens if result else 0,
            "generated_tokens": result.generated_tokens if result else 0,
            "elapsed_ms": round(result.elapsed_ms, 1) if result else 0,
        }))
        return 0 if result and result.text else 1
    if result is None or not result.text:
        print("lsp-server complete: no suggestion at this position", file=sys.stderr)
        return 1
    sys.stdout.write(result.text + "\n")
    return 0
