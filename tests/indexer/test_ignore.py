"""The context policy: which files may ever reach a model."""

from __future__ import annotations

import os
import threading
import time

from indexer.ignore import ContextPolicy
from indexer.privacy import AI_IGNORE_FILE

from .conftest import write_tree


def _workspace(tmp_path):
    return write_tree(tmp_path, {
        ".gitignore": "*.tmp\nlocal/\n",
        AI_IGNORE_FILE: "internal/\n*.key.py\n!internal/public.py\n",
        "src/app.py": "",
        "src/notes.tmp": "",
        "local/x.py": "",
        "internal/algo.py": "",
        "internal/public.py": "",
        "src/.env": "TOKEN=1",
        "sub/.gitignore": "private.py\n",
        "sub/private.py": "",
        "sub/open.py": "",
        "deploy/id_rsa": "",
        ".ssh/config": "",
    })


def test_policy_decisions(tmp_path):
    root = _workspace(tmp_path)
    policy = ContextPolicy(root)
    allowed = {
        "src/app.py": True,
        "src/notes.tmp": False,  # .gitignore
        "local/x.py": False,  # ignored directory
        "internal/algo.py": False,  # AI ignore file
        "internal/public.py": False,  # git rule: a file in an ignored directory stays ignored
        "src/.env": False,  # secret name
        "deploy/id_rsa": False,
        ".ssh/config": False,  # secret directory
        "sub/private.py": False,  # nested .gitignore
        "sub/open.py": True,
    }
    for rel, expected in allowed.items():
        assert policy.allows(root / rel) is expected, rel
        assert policy.allows(rel) is expected, rel  # relative paths work too


def test_extra_excludes_add_but_never_remove(tmp_path):
    root = _workspace(tmp_path)
    policy = ContextPolicy(root, extra_excludes=["src/app.py", "!.env", "!*.tmp", "*.gen.py"])
    assert not policy.allows(root / "src/app.py")
    assert not policy.allows(root / "src/.env")  # the defaults cannot be negated
    assert not policy.allows(root / "src/notes.tmp")
    assert not policy.allows(root / "x.gen.py")
    assert policy.allows(root / "sub/open.py")


def test_outside_paths_only_use_name_rules(tmp_path):
    root = _workspace(tmp_path / "ws")
    policy = ContextPolicy(root)
    assert policy.allows(tmp_path / "elsewhere.py")
    assert not policy.allows(tmp_path / "elsewhere" / ".env.production")


def test_edits_to_ignore_files_are_seen(tmp_path, monkeypatch):
    root = _workspace(tmp_path)
    policy = ContextPolicy(root)
    assert policy.allows(root / "sub/open.py")
    (root / "sub/.gitignore").write_text("private.py\nopen.py\n")
    stat = os.stat(root / "sub/.gitignore")
    os.utime(root / "sub/.gitignore", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    # The cached rules are trusted for a short while, then re-checked.
    monkeypatch.setattr(time, "monotonic", lambda real=time.monotonic: real() + 60)
    assert not policy.allows(root / "sub/open.py")


def test_concurrent_use(tmp_path):
    root = _workspace(tmp_path)
    policy = ContextPolicy(root)
    errors = []

    def worker():
        try:
            for _ in range(200):
                assert policy.allows(root / "src/app.py")
                assert not policy.allows(root / "internal/algo.py")
        except AssertionError as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
