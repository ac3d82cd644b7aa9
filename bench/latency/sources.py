"""Real source files to type: pinned PyPI source distributions, downloaded and extracted once.

Nobody on this project wrote these files, so the model has no advantage from having seen our
own code. Regions are picked with a seeded RNG, so a run is repeatable.
"""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

WORK_DIR = Path(__file__).resolve().parents[1] / ".work"


@dataclass(frozen=True)
class Sdist:
    name: str
    version: str
    sha256: str

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.version}.tar.gz"


# Pinned by version and content hash: the same bytes on every machine.
SDISTS: tuple[Sdist, ...] = (
    Sdist("requests", "2.32.3",
          "55365417734eb18255590a9ff9eb97e9e1da868d4ccd6402399eaf68af20a760"),
    Sdist("click", "8.1.7",
          "ca9853ad459e787e2192211578cc907e7594e294c7ccc834310722b41b9ca6de"),
    Sdist("attrs", "24.2.0",
          "5cfb1b9148b5b086569baec03f20d7b6bf3bcacc9a42bebf87ffaaca362f6346"),
)


@dataclass(frozen=True)
class Region:
    """A window of whole lines of a real file that the simulated user types.

    The document the user starts from is `before + "\\n" + after`: the file without the region's
    lines, the cursor on an empty line where they were. `target` has no final newline: that one is
    already in the document.
    """

    name: str  # "<package>/<path inside the sdist>:<first line>"
    path: Path
    text: str  # the whole file
    start: int  # offset of the region's first character in `text`
    end: int  # offset just after the region's last newline

    @property
    def target(self) -> str:
        return self.text[self.start:self.end - 1]

    @property
    def before(self) -> str:
        return self.text[:self.start]

    @property
    def after(self) -> str:
        return self.text[self.end:]

    def document(self, typed: str = "") -> str:
        """The document once `typed` (a prefix of `target`, or any text) has been typed."""
        return self.before + typed + "\n" + self.after


class SourceError(RuntimeError):
    pass


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(sdists: tuple[Sdist, ...] = SDISTS, work: Path = WORK_DIR) -> list[Path]:
    """Download (once) and extract the pinned sdists; return their extracted roots."""
    sdist_dir = work / "sdists"
    src_dir = work / "src"
    sdist_dir.mkdir(parents=True, exist_ok=True)
    src_dir.mkdir(parents=True, exist_ok=True)
    missing = [s for s in sdists if not (sdist_dir / s.filename).is_file()]
    if missing:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               "--disable-pip-version-check", "-d", str(sdist_dir),
               *(f"{s.name}=={s.version}" for s in missing)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SourceError(f"pip download failed:\n{done.stderr.strip()[-2000:]}")
    roots = []
    for s in sdists:
        archive = sdist_dir / s.filename
        if not archive.is_file():
            raise SourceError(f"{archive} was not downloaded")
        got = _sha256(archive)
        if got != s.sha256:
            raise SourceError(f"{archive}: sha256 {got}, expected {s.sha256}")
        root = src_dir / f"{s.name}-{s.version}"
        if not root.is_dir():
            with tarfile.open(archive) as tar:
                tar.extractall(src_dir, filter="data")
        roots.append(root)
    return roots


def python_files(root: Path, min_lines: int = 80) -> list[Path]:
    """The library's own modules (no tests, docs or packaging), long enough to hold a region."""
    skip = {"tests", "test", "docs", "doc", "examples", "bench", "benchmarks"}
    out = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if skip & set(rel.parts[:-1]) or path.name in {"setup.py", "conftest.py"}:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if text.count("\n") >= min_lines:
            out.append(path)
    return out


def pick_region(path: Path, text: str, rng: random.Random, lines: int, label: str) -> Region | None:
    """A window of `lines` lines that starts on a line with code, away from the file's edges."""
    all_lines = text.splitlines(keepends=True)
    if not text.endswith("\n") or len(all_lines) < lines + 40:
        return None
    first, last = 20, len(all_lines) - lines - 10
    candidates = [
        i for i in range(first, last)
        if all_lines[i].strip() and not all_lines[i].lstrip().startswith(("#", '"', "'", "@"))
        and sum(1 for ln in all_lines[i:i + lines] if ln.strip()) >= lines * 2 // 3
    ]
    if not candidates:
        return None
    i = rng.choice(candidates)
    start = sum(len(ln) for ln in all_lines[:i])
    end = start + sum(len(ln) for ln in all_lines[i:i + lines])
    return Region(name=f"{label}:{i + 1}", path=path, text=text, start=start, end=end)


def pick_regions(roots: list[Path], files: int, lines: int, seed: int) -> list[Region]:
    """`files` regions of `lines` lines from distinct files, taken in turn from each sdist."""
    rng = random.Random(seed)
    pools = []
    for root in roots:
        paths = python_files(root)
        rng.shuffle(paths)
        pools.append((root, paths))
    regions: list[Region] = []
    while len(regions) < files and any(paths for _, paths in pools):
        for root, paths in pools:
            if len(regions) >= files or not paths:
                continue
            path = paths.pop()
            text = path.read_text(encoding="utf-8")
            label = f"{root.name}/{path.relative_to(root).as_posix()}"
            region = pick_region(path, text, rng, lines, label)
            if region is not None:
                regions.append(region)
    return regions


@dataclass(frozen=True)
class Position:
    """One completion request in a real file: the user is writing `line`, up to `col`."""

    name: str
    text: str  # the document: the file with the rest of the line after the cursor removed
    offset: int  # the cursor
    truth: str  # what really comes after the cursor on that line


def pick_positions(roots: list[Path], files: int, per_file: int, seed: int) -> list[Position]:
    """`per_file` cursor positions in each of `files` files: mid-line, after some code."""
    rng = random.Random(seed)
    paths = [(root, p) for root in roots for p in python_files(root)]
    rng.shuffle(paths)
    out: list[Position] = []
    for root, path in paths[:files]:
        label = f"{root.name}/{path.relative_to(root).as_posix()}"
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines(keepends=True)
        starts = [0]
        for ln in lines:
            starts.append(starts[-1] + len(ln))
        usable = [i for i in range(10, len(lines))
                  if len(lines[i].strip()) >= 12 and not lines[i].lstrip().startswith("#")]
        for i in sorted(rng.sample(usable, min(per_file, len(usable)))):
            body = lines[i].rstrip("\r\n")
            indent = len(body) - len(body.lstrip())
            col = rng.randint(indent + 2, max(indent + 2, len(body) - 4))
            offset = starts[i] + col
            truth = body[col:]
            doc = text[:offset] + text[starts[i] + len(body):]
            out.append(Position(f"{label}:{i + 1}:{col}", doc, offset, truth))
    return out
