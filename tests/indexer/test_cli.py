"""`lsp-server index PATH [--query NAME] [--db PATH]`."""

from __future__ import annotations

from indexer.cli import main

from .conftest import write_tree


def test_index_and_query(tmp_path, capsys):
    root = write_tree(tmp_path / "ws", {
        "a.py": "def parse_config(path):\n    return path\n\n\nclass ConfigError(Exception):\n"
                "    pass\n",
        "b.rs": "pub fn parse_config() {}\n",
        "blob.py": b"\0\0",
    })
    db = tmp_path / "idx.sqlite3"
    assert main([str(root), "--db", str(db), "--query", "parse_config"]) == 0
    out = capsys.readouterr().out
    assert "python" in out and "rust" in out
    assert "parsed 2" in out and "binary: 1" in out
    assert "a.py:1:5 function parse_config" in out
    assert "b.rs:1:8 function parse_config" in out
    assert db.exists()
    # A second run updates: nothing to parse.
    assert main([str(root), "--db", str(db), "--query", "CE"]) == 0
    out = capsys.readouterr().out
    assert "parsed 0, unchanged 2" in out
    assert "a.py:5:7 class ConfigError" in out


def test_bad_path(tmp_path, capsys):
    assert main([str(tmp_path / "missing")]) == 2
    assert "not a directory" in capsys.readouterr().out


def test_unusable_database_path(tmp_path, capsys):
    root = write_tree(tmp_path / "ws", {"a.py": "x = 1\n"})
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main([str(root), "--db", str(blocker / "sub" / "idx.sqlite3")]) == 1
    assert "cannot open the index database" in capsys.readouterr().out
