"""Indexing benchmark on real projects from pinned PyPI source distributions.

    python bench/index/run.py                 # django + a combined >5,000-file workspace
    python bench/index/run.py --projects django==5.1.4 --workers 2

For each workspace: cold index time and peak RSS (the indexing process and its pool workers),
warm restart time (a new process, nothing changed), and the latency of re-indexing one edited
file (from disk, as after a save; and from the editor's text, as after a keystroke), p50/p95.
Each cold and warm run happens in a fresh process so that memory and caches are its own.
Downloads go to bench/.work (git-ignored); nothing is fetched when the sources are there.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
WORK = REPO / "bench" / ".work"
DEFAULT_PROJECTS = ["django==5.1.4"]
COMBINED = ["django==5.1.4", "sympy==1.13.3", "networkx==3.4.2", "sqlalchemy==2.0.36"]

sys.path.insert(0, str(REPO))


def fetch(spec: str) -> Path:
    """Download and unpack one pinned sdist; returns its source directory."""
    name, _, version = spec.partition("==")
    dest = WORK / "src" / f"{name}-{version}"
    if dest.is_dir():
        return dest
    sdists = WORK / "sdists"
    sdists.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
         "--no-build-isolation", "-d", str(sdists), spec],
        check=True, stdout=subprocess.DEVNULL,
    )
    archive = next(p for p in sdists.iterdir()
                   if p.name.lower().startswith(f"{name.lower()}-{version}") and
                   p.name.endswith((".tar.gz", ".tgz")))
    tmp = Path(tempfile.mkdtemp(dir=WORK))
    with tarfile.open(archive) as tar:
        tar.extractall(tmp, filter="data")
    (inner,) = list(tmp.iterdir())
    dest.parent.mkdir(parents=True, exist_ok=True)
    inner.rename(dest)
    shutil.rmtree(tmp)
    return dest


def combined_workspace(specs: list[str]) -> Path:
    dest = WORK / "src" / ("combined-" + "-".join(s.split("==")[0] for s in specs))
    if not dest.is_dir():
        tmp = Path(tempfile.mkdtemp(dir=WORK))
        for spec in specs:  # copies: the walk never follows links out of a workspace
            shutil.copytree(fetch(spec), tmp / spec.split("==")[0])
        tmp.rename(dest)
    return dest


class TreeSampler(threading.Thread):
    """Peak RSS (sum over this process and all its descendants: the pool workers live under
    a forkserver, so RUSAGE_CHILDREN misses them) and their CPU time, from /proc."""

    def __init__(self, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peak_rss = 0
        self.cpu: dict[int, float] = {}
        self._stop_event = threading.Event()
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._tick = os.sysconf("SC_CLK_TCK")

    def _sample(self) -> None:
        parents: dict[int, int] = {}
        stats: dict[int, list[str]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry)] = int(fields[1])
            stats[int(entry)] = fields
        tree = {os.getpid()}
        changed = True
        while changed:
            changed = False
            for pid, ppid in parents.items():
                if ppid in tree and pid not in tree:
                    tree.add(pid)
                    changed = True
        rss = 0
        for pid in tree:
            fields = stats.get(pid)
            if fields is None:
                continue
            rss += int(fields[21]) * self._page
            cpu = (int(fields[11]) + int(fields[12])) / self._tick
            self.cpu[pid] = max(self.cpu.get(pid, 0.0), cpu)
        self.peak_rss = max(self.peak_rss, rss)

    def run(self) -> None:
        while not self._stop_event.is_set():
            self._sample()
            self._stop_event.wait(self.interval)

    def stop(self) -> tuple[float, float]:
        """(peak RSS in MB, CPU seconds of the tree)."""
        self._stop_event.set()
        self.join()
        self._sample()
        return self.peak_rss / 1e6, sum(self.cpu.values())


def _child(mode: str, root: str, db: str, workers: int) -> dict:
    from indexer.workspace import WorkspaceIndex

    sampler = TreeSampler()
    sampler.start()
    started = time.perf_counter()
    index = WorkspaceIndex(Path(root), db_path=Path(db), workers=workers)
    stats = index.build()
    elapsed = time.perf_counter() - started
    peak_mb, cpu_seconds = sampler.stop()
    out = {
        "mode": mode, "seconds": elapsed, "cpu_seconds": cpu_seconds, "peak_rss_mb": peak_mb,
        "files": stats.files, "parsed": stats.parsed,
        "symbols": stats.symbols, "db_mb": stats.db_bytes / 1e6,
        "per_language": stats.files_per_language, "skipped": stats.skipped_reasons,
    }
    if mode == "edit":
        out.update(_edit_latencies(index))
    index.close()
    return out


def _edit_latencies(index, samples: int = 60) -> dict:
    """Re-index one edited file: from disk (save) and from the editor's text (keystroke)."""
    rng = random.Random(7)
    paths = [p for p in index.store.paths() if p.endswith(".py")]
    chosen = rng.sample(paths, min(samples, len(paths)))
    disk, typed, disk_cpu, typed_cpu = [], [], [], []
    for rel in chosen:
        path = index.abs(rel)
        original = path.read_bytes()
        try:
            path.write_bytes(original + b"\n# edited\n")
            t, c = time.perf_counter(), time.thread_time()
            index.update_file(path)
            disk.append(time.perf_counter() - t)
            disk_cpu.append(time.thread_time() - c)
        finally:
            path.write_bytes(original)
            index.update_file(path)
        text = original.decode("utf-8", "replace")
        index.update_text(path, text)
        for ch in "x = 1\n":
            text += ch
            t, c = time.perf_counter(), time.thread_time()
            index.update_text(path, text)
            typed.append(time.perf_counter() - t)
            typed_cpu.append(time.thread_time() - c)
        index.close_document(path)

    def pct(values: list[float], q: float) -> float:
        return statistics.quantiles(values, n=100)[int(q) - 1] * 1000 if len(values) > 1 else 0

    return {"save_p50_ms": pct(disk, 50), "save_p95_ms": pct(disk, 95),
            "type_p50_ms": pct(typed, 50), "type_p95_ms": pct(typed, 95),
            "save_cpu_p50_ms": pct(disk_cpu, 50), "save_cpu_p95_ms": pct(disk_cpu, 95),
            "type_cpu_p50_ms": pct(typed_cpu, 50), "type_cpu_p95_ms": pct(typed_cpu, 95)}


def _run_child(mode: str, root: Path, db: Path, workers: int) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, str(root), str(db), str(workers)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench(name: str, root: Path, workers: int) -> dict:
    db = WORK / "db" / f"{name}.sqlite3"
    db.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    cold = _run_child("cold", root, db, workers)
    warm = _run_child("warm", root, db, workers)
    edit = _run_child("edit", root, db, workers)
    return {"name": name, "cold": cold, "warm": warm, "edit": edit}


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        mode, root, db, workers = argv[1:5]
        print(json.dumps(_child(mode, root, db, int(workers))))
        return 0
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--projects", nargs="*", default=DEFAULT_PROJECTS)
    p.add_argument("--combined", nargs="*", default=COMBINED,
                   help="sdists indexed together as one workspace (empty: skip)")
    p.add_argument("--workers", type=int, default=2, help="index worker processes")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)

    workspaces = [(spec, fetch(spec)) for spec in args.projects]
    if args.combined:
        workspaces.append(("+".join(s.split("==")[0] for s in args.combined),
                           combined_workspace(args.combined)))
    results = [bench(name, root, args.workers) for name, root in workspaces]

    load = os.getloadavg()[0]
    print(f"workers={args.workers}, cpus={os.cpu_count()}, load average {load:.1f}, "
          f"python {sys.version.split()[0]}")
    print("cold/warm: wall seconds, CPU seconds of the process tree, peak RSS of the tree;")
    print("save: re-index one edited file from disk; type: one keystroke in an open document;")
    print("latencies are wall (CPU) milliseconds, p50 / p95.")
    header = (f"{'workspace':<34} {'files':>6} {'symbols':>8} {'cold s':>7} {'files/s':>8} "
              f"{'cpu s':>6} {'files/cpu-s':>11} {'peak MB':>8} {'warm s':>7} {'db MB':>6}")
    print(header)
    print("-" * len(header))
    for r in results:
        c, w = r["cold"], r["warm"]
        print(f"{r['name']:<34} {c['files']:>6} {c['symbols']:>8} {c['seconds']:>7.2f} "
              f"{c['parsed'] / c['seconds']:>8.0f} {c['cpu_seconds']:>6.1f} "
              f"{c['parsed'] / max(c['cpu_seconds'], 1e-9):>11.0f} {c['peak_rss_mb']:>8.0f} "
              f"{w['seconds']:>7.2f} {c['db_mb']:>6.1f}")
    print()
    for r in results:
        e = r["edit"]
        print(f"{r['name']:<34} save {e['save_p50_ms']:.1f} ({e['save_cpu_p50_ms']:.1f}) / "
              f"{e['save_p95_ms']:.1f} ({e['save_cpu_p95_ms']:.1f}) ms;  "
              f"type {e['type_p50_ms']:.1f} ({e['type_cpu_p50_ms']:.1f}) / "
              f"{e['type_p95_ms']:.1f} ({e['type_cpu_p95_ms']:.1f}) ms")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
