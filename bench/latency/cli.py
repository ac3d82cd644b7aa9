"""`python -m bench.latency`: replay real typing through our server and llama-server, side by side.

Both backends run in one process tree on the same machine with the same model and threads; the
regions are interleaved (region 1 on each backend, then region 2, ...) so that background load
on the machine falls on both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.latency import report
from bench.latency.replay import (
    SessionStats,
    complete_positions,
    replay_region,
)
from bench.latency.sources import WORK_DIR, fetch, pick_positions, pick_regions
from bench.latency.stats import Summary, summarize

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
BACKENDS = ("ours", "llama-server")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__)
    p.add_argument("--mode", choices=("replay", "positions"), default="replay",
                   help="replay: simulated typing; positions: one request per position")
    p.add_argument("--files", type=int, default=3, help="number of real files (default 3)")
    p.add_argument("--lines", type=int, default=6,
                   help="replay: lines typed per file (default 6)")
    p.add_argument("--per-file", type=int, default=5,
                   help="positions: requests per file (default 5)")
    p.add_argument("--cold", action="store_true",
                   help="no untimed first request per file (before typing, or positions)")
    p.add_argument("--limit", type=int, default=0,
                   help="replay: at most this many keystrokes and acceptances per file (0: all)")
    p.add_argument("--final-wait", type=float, default=120.0, dest="final_wait",
                   help="replay: seconds to wait for the last answer of a file (default 120)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--backends", default=",".join(BACKENDS),
                   help="comma-separated: ours, llama-server (default both)")
    p.add_argument("--model", type=Path, help="GGUF model (default: the default model)")
    p.add_argument("--llama-server", type=Path, dest="llama_server",
                   help="llama-server binary (default: the one build_llama_server.sh builds)")
    p.add_argument("--build", action="store_true",
                   help="build llama-server (bench/latency/build_llama_server.sh) if missing")
    p.add_argument("--peer-chunks", type=int, default=2,
                   help="llama-server: extra-context chunks (llama.vim ring buffer)")
    p.add_argument("--peer-cache", action="store_true",
                   help="llama-server: add llama.vim's client-side result cache (its hits are "
                        "answered with no request)")
    p.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    p.add_argument("--server-cmd", default="",
                   help="our server's command (default: this Python -m lsp_server.cli)")
    return p


def _default_model() -> Path:
    from models.default_model import ensure_default_model

    return Path(ensure_default_model())


def _llama_cpp_version() -> str:
    try:
        import llama_cpp

        return str(llama_cpp.__version__)
    except ImportError:
        return "?"


def _default_llama_server() -> Path:
    return WORK_DIR / f"llama-server-build-{_llama_cpp_version()}" / "bin" / "llama-server"


def _build_llama_server() -> Path:
    script = Path(__file__).with_name("build_llama_server.sh")
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHON": sys.executable})
    if done.returncode != 0:
        raise RuntimeError(f"building llama-server failed:\n{done.stderr[-3000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def _machine() -> dict[str, Any]:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "load": os.getloadavg(),
            "python": platform.python_version(), "llama_cpp_python": _llama_cpp_version()}


def _make_backends(args: argparse.Namespace, names: list[str], model: Path) -> list[Any]:
    from bench.latency.llama_server import LlamaServer, VimConfig
    from bench.latency.lsp_client import OurServer

    logs = WORK_DIR / "logs"
    out: list[Any] = []
    for name in names:
        if name == "ours":
            cmd = shlex.split(args.server_cmd) if args.server_cmd else None
            out.append(OurServer(model, args.threads, logs / "ours.log", command=cmd))
        else:
            binary = args.llama_server or _default_llama_server()
            if not binary.is_file():
                if not args.build:
                    print(f"llama-server not found at {binary}: run "
                          "bench/latency/build_llama_server.sh (or pass --build); skipped",
                          file=sys.stderr)
                    continue
                binary = _build_llama_server()
            # Positions are single requests: a client-side cache has nothing to serve there.
            use_cache = args.peer_cache and args.mode == "replay"
            cfg = VimConfig(ring_n_chunks=args.peer_chunks, client_cache=use_cache)
            out.append(LlamaServer(binary, model, args.threads, logs / "llama-server.log",
                                   seed=args.seed, cfg=cfg))
    return out


async def _run(args: argparse.Namespace) -> int:
    names = [n.strip() for n in args.backends.split(",") if n.strip()]
    unknown = set(names) - set(BACKENDS)
    if unknown or not names:
        print(f"unknown backends: {', '.join(sorted(unknown)) or '(none)'}; "
              f"choose from {', '.join(BACKENDS)}", file=sys.stderr)
        return 2
    model = args.model or _default_model()
    if not model.is_file():
        print(f"model not found: {model}", file=sys.stderr)
        return 2
    roots = fetch()
    if args.mode == "replay":
        work = pick_regions(roots, args.files, args.lines, args.seed)
    else:
        work = pick_positions(roots, args.files, args.per_file, args.seed)
    if not work:
        print("no file fits the requested sizes", file=sys.stderr)
        return 2
    machine = _machine()
    backends = _make_backends(args, names, model)
    if not backends:
        return 2
    stats = {b.name: SessionStats() for b in backends}
    started = time.time()
    try:
        for b in backends:
            t0 = time.perf_counter()
            await b.start()
            print(f"{b.name}: ready in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        if args.mode == "replay":
            for i, region in enumerate(work):
                for b in backends:
                    t0 = time.perf_counter()
                    before = len(stats[b.name].records)
                    await replay_region(b, region, args.seed + i, stats[b.name],
                                        max_actions=args.limit or None,
                                        final_wait=args.final_wait, warm=not args.cold)
                    opened = stats[b.name].open_latencies
                    print(f"{b.name}: {region.name}: first request (untimed) "
                          f"{opened[-1] if opened else float('nan'):.1f} s, then "
                          f"{len(stats[b.name].records) - before} requests in "
                          f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
                    await asyncio.sleep(1.0)  # let background work of the last one settle
        else:
            for b in backends:
                await complete_positions(b, work, stats[b.name], warm=not args.cold)
    finally:
        for b in backends:
            await b.stop()
    summaries = []
    for b in backends:
        reported = b.log_metrics() if hasattr(b, "log_metrics") else None
        summaries.append(summarize(b.name, stats[b.name], reported))
    _write(args, work, machine, summaries, stats, time.time() - started)
    return 0


def _write(args: argparse.Namespace, work: list[Any], machine: dict[str, Any],
           summaries: list[Summary], stats: dict[str, SessionStats], seconds: float) -> None:
    stem = "latency" if args.mode == "replay" else "latency_positions"
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    command = "python -m bench.latency " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    what = (f"{len(work)} regions of {args.lines} lines typed" if args.mode == "replay"
            else f"{len(work)} positions in {args.files} files")
    plot = report.cdf_plot({n: s.records for n, s in stats.items()}, out / f"{stem}_cdf.png",
                           f"{args.mode}: {what}, {args.threads} threads, {machine['cpu']}")
    lines = [
        f"# Latency ({args.mode})",
        "",
        f"Command: `{command.strip()}`  ",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, load average at start "
        f"{machine['load'][0]:.1f}; threads {args.threads}; llama-cpp-python "
        f"{machine['llama_cpp_python']}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"run took {seconds:.0f} s.  ",
        f"Work: {what} (seed {args.seed}): {', '.join(w.name for w in work)}",
        "",
        report.table(summaries),
        "",
    ]
    ratio = report.ratios(summaries)
    if ratio:
        lines += [ratio, ""]
    opened = [f"{n} {', '.join(f'{t:.1f}' for t in st.open_latencies)} s"
              for n, st in stats.items() if st.open_latencies]
    if opened:
        lines += ["Untimed first request per file, before typing (the model reads the file): "
                  + "; ".join(opened) + ".", ""]
    if plot is not None:
        lines += [f"![latency CDF]({plot.name})", ""]
    lines += [
        "Latency: request sent → response received, answered requests only (not cancelled or "
        "superseded). Prompt tokens: evaluated per answer where the backend reports it (for "
        "ours, per model call from its debug log, untimed and cancelled calls included). "
        "KV reuse: share of prompt tokens taken from the KV cache. Cache hits: answers with no "
        "model call (result or typed-through cache). Accepted chars/100 keys: characters "
        "inserted by accepting suggestions per 100 typed keystrokes. First-line exact: "
        "non-empty suggestions shown whose first line is exactly the real next line.",
        "",
    ]
    md = "\n".join(lines)
    (out / f"{stem}.md").write_text(md, encoding="utf-8")
    raw = {
        "command": command, "machine": machine, "args": {k: str(v) for k, v in
                                                        vars(args).items()},
        "summaries": [dataclasses.asdict(s) for s in summaries],
        "records": {n: [dataclasses.asdict(r) for r in s.records] for n, s in stats.items()},
    }
    (WORK_DIR / f"{stem}.json").write_text(json.dumps(raw, indent=1), encoding="utf-8")
    print(md)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.threads < 1 or args.files < 1 or args.lines < 1 or args.per_file < 1:
        print("--threads, --files, --lines and --per-file must be positive", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_run(args))
    except KeyboardInterrupt:
        return 130
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
