"""The completion pipeline as the language server assembles it, for the benchmarks to drive.

`make_pipeline` is the one place that decides what "the pipeline" is: the gate, the context
retrieval and the tier, wired into `lsp_server.pipeline.CompletionPipeline` exactly as the
server wires them. When the server's assembly changes, change it here too (or point it at the
server's own factory) so the numbers keep measuring what users get.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lsp_server.config import Config, build_config
from lsp_server.documents import Snapshot
from lsp_server.pipeline import CompletionPipeline
from tiers.base import ContextChunk

# Never read the user's own config file: results must not depend on who runs them.
_NO_USER_FILE = Path("/nonexistent/lsp-server-bench/config.toml")
GATES = ("tree-sitter", "text")


def bench_config(
    model_path: Path | None = None, overrides: Mapping[str, Any] | None = None
) -> Config:
    """The default configuration, with the model file and without the per-request time budget
    (on a slow CPU the budget would cut answers short and measure the machine, not quality)."""
    local: dict[str, Any] = {"timeBudgetMs": 0}
    if model_path is not None:
        local["modelPath"] = str(model_path)
    config, warnings = build_config(
        ("benchmark", {"local": local}), ("benchmark overrides", overrides),
        user_file=_NO_USER_FILE,
    )
    if warnings:
        raise ValueError("; ".join(warnings))
    return config


def tree_sitter_gate(config: Config) -> Callable[[Snapshot, str], Any]:
    """The tree-sitter gate as a pipeline `gate` callable."""
    from indexer.gate import decide

    def gate(snap: Snapshot, path: str):
        line, col = snap.line_col
        return decide(
            snap.text, line, col, snap.language_id,
            allow_in_comments=config.completion.allow_in_comments,
            allow_in_strings=config.completion.allow_in_strings,
            path=path,
        )

    return gate


def index_context(index) -> Callable[[Snapshot, str, int], Sequence[ContextChunk]]:
    """Retrieval from a `indexer.workspace.WorkspaceIndex` as a pipeline `context` callable."""
    from indexer.context import gather_context

    def context(snap: Snapshot, path: str, budget: int) -> Sequence[ContextChunk]:
        line, col = snap.line_col
        return gather_context(index, path, snap.text, line, col, budget_tokens=budget)

    return context


def make_pipeline(
    config: Config, tier, index=None, *, gate: str = "tree-sitter"
) -> CompletionPipeline:
    """The pipeline over `tier` (a router or a single tier); with the index's context when an
    index is given; `gate` is "tree-sitter" (indexer.gate) or "text" (the pipeline's own
    text rules)."""
    if gate not in GATES:
        raise ValueError(f"unknown gate {gate!r}; expected one of {', '.join(GATES)}")
    return CompletionPipeline(
        config,
        tier,
        gate=tree_sitter_gate(config) if gate == "tree-sitter" else None,
        context=index_context(index) if index is not None else None,
    )
