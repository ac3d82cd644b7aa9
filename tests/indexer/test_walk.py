"""The workspace walk: ignore rules, defaults, and every kind of bad input."""

from __future__ import annotations

import builtins
import logging
import os

import pytest

from indexer.walk import read_source, walk

from .conftest import write_tree


def _rels(root, **kw):
    return [e.rel for e in walk(root, **kw)]


def test_gitignore_nested_and_negation(tmp_path):
    write_tree(tmp_path, {
        ".gitignore": "*.log\ngenerated/\n!keep.log\n",
        "a.py": "x = 1\n",
        "debug.log": "noise\n",
        "keep.log": "kept\n",
        "generated/out.py": "x = 2\n",
        "pkg/.gitignore": "secret_*.py\n!secret_ok.py\n",
        "pkg/secret_a.py": "x = 3\n",
        "pkg/secret_ok.py": "x = 4\n",
        "pkg/mod.py": "x = 5\n",
        "pkg/sub/deep.log": "deep\n",
    })
    assert _rels(tmp_path) == [
        ".gitignore", "a.py", "keep.log", "pkg/.gitignore", "pkg/mod.py", "pkg/secret_ok.py",
    ]


def test_git_info_exclude_is_respected(tmp_path):
    write_tree(tmp_path, {".git/info/exclude": "local.py\n", "local.py": "", "main.py": ""})
    assert _rels(tmp_path) == ["main.py"]


def test_default_directories_are_never_walked(tmp_path):
    write_tree(tmp_path, {
        "src/app.py": "",
        ".git/config": "",
        "node_modules/lib/index.js": "",
        ".venv/lib/site.py": "",
        "env3/pyvenv.cfg": "home = /usr\n",
        "env3/lib/mod.py": "",
        "src/__pycache__/app.cpython-311.pyc": b"\0\0",
        "build/lib/x.py": "",
        "dist/x.js": "",
        "target/debug/x.rs": "",
        ".mypy_cache/x.json": "",
        "pkg.egg-info/PKG-INFO": "",
    })
    assert _rels(tmp_path) == ["src/app.py"]


def test_extra_excludes(tmp_path):
    write_tree(tmp_path, {"a.py": "", "gen/b.py": "", "c_pb2.py": ""})
    assert _rels(tmp_path, extra_excludes=["gen/", "*_pb2.py"]) == ["a.py"]


def test_binary_and_oversized_files_are_skipped_and_logged(tmp_path, caplog):
    write_tree(tmp_path, {
        "ok.py": "x = 1\n",
        "blob.py": b"\x00\x01\x02binary",
        "big.py": "x = 1\n" * 2000,
    })
    seen = []
    with caplog.at_level(logging.INFO, logger="indexer.walk"):
        rels = _rels(tmp_path, max_bytes=1000, skipped=lambda r, why: seen.append((r, why)))
    assert rels == ["ok.py"]
    reasons = dict(seen)
    assert reasons["blob.py"] == "binary"
    assert reasons["big.py"].startswith("oversized")
    assert "big.py" in caplog.text and "binary" in caplog.text


def test_symlink_loop_is_survived(tmp_path):
    write_tree(tmp_path, {"a/x.py": "", "b/y.py": ""})
    (tmp_path / "a" / "loop").symlink_to(tmp_path / "a", target_is_directory=True)
    (tmp_path / "b" / "up").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "dangling.py").symlink_to(tmp_path / "missing.py")
    seen = []
    rels = _rels(tmp_path, skipped=lambda r, why: seen.append((r, why)))
    assert rels == ["a/x.py", "b/y.py"]
    skipped = dict(seen)
    assert "symlink loop" in skipped["a/loop"]
    assert "broken symlink" in skipped["dangling.py"]


def test_symlink_outside_the_workspace_is_not_followed(tmp_path):
    outside = write_tree(tmp_path / "outside", {"secret.py": "x = 1\n"})
    root = write_tree(tmp_path / "ws", {"main.py": ""})
    (root / "link").symlink_to(outside, target_is_directory=True)
    assert _rels(root) == ["main.py"]


def test_file_deleted_mid_walk(tmp_path):
    write_tree(tmp_path, {"a.py": "", "b.py": "", "c.py": ""})

    def include(rel: str) -> bool:
        if rel == "a.py":
            os.unlink(tmp_path / "b.py")  # disappears after the directory was listed
        return True

    seen = []
    rels = _rels(tmp_path, include=include, skipped=lambda r, why: seen.append((r, why)))
    assert rels == ["a.py", "c.py"]
    assert seen == [("b.py", "deleted during the walk")]


def test_directory_deleted_mid_walk(tmp_path):
    write_tree(tmp_path, {"a.py": "", "gone/x.py": "", "z/y.py": ""})

    def include(rel: str) -> bool:
        if rel == "a.py":
            os.unlink(tmp_path / "gone" / "x.py")
            os.rmdir(tmp_path / "gone")
        return True

    assert _rels(tmp_path, include=include) == ["a.py", "z/y.py"]


def test_unreadable_file_is_skipped(tmp_path, monkeypatch):
    # Root can read a chmod-000 file, so the permission error is injected instead.
    write_tree(tmp_path, {"ok.py": "x = 1\n", "locked.py": "y = 2\n"})
    real_open = builtins.open

    def fake_open(file, *args, **kwargs):
        if str(file).endswith("locked.py"):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    seen = []
    assert _rels(tmp_path, skipped=lambda r, why: seen.append((r, why))) == ["ok.py"]
    assert seen[0][0] == "locked.py" and "unreadable" in seen[0][1]
    assert read_source(tmp_path / "locked.py") == "unreadable"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and lists everything")
def test_unreadable_directory_is_skipped(tmp_path):
    write_tree(tmp_path, {"ok.py": "", "closed/x.py": ""})
    (tmp_path / "closed").chmod(0)
    try:
        assert _rels(tmp_path) == ["ok.py"]
    finally:
        (tmp_path / "closed").chmod(0o755)


def test_invalid_utf8_is_decoded_with_replacement(tmp_path):
    write_tree(tmp_path, {"latin.py": b"# caf\xe9\nname = 'x'\n"})
    assert _rels(tmp_path) == ["latin.py"]
    src = read_source(tmp_path / "latin.py")
    assert src.replaced
    assert src.data.decode("utf-8") == "# caf\ufffd\nname = 'x'\n"


def test_read_source_reasons(tmp_path):
    write_tree(tmp_path, {"big.py": "x" * 50, "bin.py": b"a\0b", "d/x.py": ""})
    assert read_source(tmp_path / "big.py", max_bytes=10) == "oversized"
    assert read_source(tmp_path / "bin.py") == "binary"
    assert read_source(tmp_path / "missing.py") == "deleted"
    assert read_source(tmp_path / "d") == "not a file"


def test_missing_root_yields_nothing(tmp_path):
    seen = []
    assert _rels(tmp_path / "nope", skipped=lambda r, why: seen.append(why)) == []
    assert seen and "unreadable root" in seen[0]
