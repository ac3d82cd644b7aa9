"""The workspace index: persistence, incremental updates, symbol queries."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from indexer import workspace as workspace_mod
from indexer.extract import extract
from indexer.incremental import Edit, apply_edits
from indexer.languages import parser_for
from indexer.store import SCHEMA_VERSION
from indexer.workspace import WorkspaceIndex, match_score

from .conftest import write_tree

PROJECT = {
    "pkg/__init__.py": "",
    "pkg/geometry.py": (
        "PI = 3.14159\n\n\n"
        "def area_of_circle(radius: float) -> float:\n"
        '    """Area of a circle."""\n'
        "    return PI * radius * radius\n\n\n"
        "class Shape:\n"
        "    def perimeter(self) -> float:\n"
        "        raise NotImplementedError\n"
    ),
    "pkg/other.py": "def area_of_circle(r):\n    return 0\n",
    "app.py": (
        "from pkg.geometry import area_of_circle, Shape\n\n\n"
        "def main():\n"
        "    return area_of_circle(2.0)\n"
    ),
    "web/app.ts": "export function renderPage(title: string): string {\n  return title;\n}\n",
    "README.md": "# not indexed\n",
}


@pytest.fixture
def project(tmp_path):
    return write_tree(tmp_path / "ws", PROJECT)


@pytest.fixture
def index(project):
    idx = WorkspaceIndex(project)
    yield idx
    idx.close()


def test_build_indexes_known_languages(index):
    stats = index.build()
    assert stats.files == 5 and stats.parsed == 5
    assert stats.files_per_language == {"python": 4, "typescript": 1}
    assert stats.symbols_per_language["python"] == 6
    assert stats.db_bytes > 0
    assert index.store.path.parent.name == "index"


def test_restart_reparses_nothing_unchanged(project):
    with WorkspaceIndex(project) as first:
        first.build()
    with WorkspaceIndex(project) as second:
        stats = second.build()
        assert second.parse_count == 0
        assert stats.parsed == 0 and stats.unchanged == 5 and stats.files == 5
        assert [s.name for s in second.workspace_symbols("area_of_circle")][:1] == [
            "area_of_circle"]


def test_changed_deleted_and_new_files(project):
    with WorkspaceIndex(project) as first:
        first.build()
    (project / "pkg/other.py").write_text("def changed():\n    pass\n")
    (project / "web/app.ts").unlink()
    (project / "new.go").write_text("package main\n\nfunc Hello() {}\n")
    with WorkspaceIndex(project) as second:
        stats = second.build()
        assert second.parse_count == 2
        assert stats.removed == 1 and stats.files == 5
        names = {s.name for s in second.workspace_symbols("", limit=100)}
        assert {"changed", "Hello"} <= names and "renderPage" not in names


def test_touched_but_identical_file_is_not_reparsed(project):
    with WorkspaceIndex(project) as first:
        first.build()
    path = project / "app.py"
    path.write_text(path.read_text())  # new mtime, same content
    with WorkspaceIndex(project) as second:
        stats = second.build()
        assert second.parse_count == 0 and stats.unchanged == 5


def _db_path(project):
    with WorkspaceIndex(project) as idx:
        idx.build()
        return idx.store.path


def test_corrupted_database_is_rebuilt(project):
    db = _db_path(project)
    db.write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    with WorkspaceIndex(project) as idx:
        assert idx.store.rebuilt_reason
        stats = idx.build()
        assert stats.parsed == 5 and stats.files == 5


def test_truncated_database_is_rebuilt(project):
    db = _db_path(project)
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2 + 100])
    with WorkspaceIndex(project) as idx:
        stats = idx.build()
        assert stats.files == 5
        assert len(idx.workspace_symbols("Shape")) >= 1


def test_old_schema_is_rebuilt(project):
    db = _db_path(project)
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION - 1}")
    conn.commit()
    conn.close()
    with WorkspaceIndex(project) as idx:
        assert "schema version" in idx.store.rebuilt_reason
        assert idx.build().parsed == 5


def test_skipped_files_are_counted(project):
    (project / "blob.py").write_bytes(b"\0\0\0")
    (project / "huge.py").write_text("x = 1\n" * 400_000)
    with WorkspaceIndex(project) as idx:
        stats = idx.build()
        assert stats.skipped_reasons == {"binary": 1, "oversized": 1}
        assert stats.files == 5


def test_progress_and_cancel(project):
    calls = []
    with WorkspaceIndex(project) as idx:
        idx.build(progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (0, 5) and calls[-1] == (5, 5)
    cancel = threading.Event()
    cancel.set()
    with WorkspaceIndex(project, db_path=project.parent / "other.db") as idx:
        stats = idx.build(cancel=cancel)
        assert stats.cancelled and stats.parsed == 0


def test_process_pool_build(project, monkeypatch):
    for i in range(12):
        (project / f"gen/m{i}.py").parent.mkdir(exist_ok=True)
        (project / f"gen/m{i}.py").write_text(f"def f{i}():\n    return {i}\n")
    monkeypatch.setattr(workspace_mod, "POOL_THRESHOLD", 4)
    with WorkspaceIndex(project, workers=2) as idx:
        stats = idx.build()
        assert stats.parsed == 17 and stats.files == 17
        assert idx.workspace_symbols("f11")[0].name == "f11"


def test_update_text_and_close_document(index, project):
    index.build()
    path = project / "app.py"
    text = path.read_text() + "\n\ndef added_later():\n    pass\n"
    assert index.update_text(path, text)
    assert [s.name for s in index.workspace_symbols("added_later")] == ["added_later"]
    # A build while the document is open keeps the editor's version.
    index.build()
    assert index.workspace_symbols("added_later")
    index.close_document(path)
    assert not index.workspace_symbols("added_later")


def test_incremental_edits_equal_a_fresh_parse(index, project):
    path = project / "pkg/geometry.py"
    text = path.read_text()
    index.update_text(path, text)
    edits = [
        Edit((3, 4), (3, 18), "circle_area"),  # rename the function
        Edit((5, 0), (5, 0), "    # squared\n"),  # insert a line
        Edit((9, 6), (9, 11), "Figure"),  # class Shape -> Figure, after the insertion
    ]
    lines = text.split("\n")
    lines[3] = lines[3].replace("area_of_circle", "circle_area")
    lines.insert(5, "    # squared")
    lines[9] = lines[9].replace("Shape", "Figure")
    expected = "\n".join(lines)
    assert apply_edits(text, edits, None) == expected
    before = index.parse_count
    assert index.update_text(path, expected, edits)
    assert index.parse_count == before + 1
    language, tree = index.open_tree(path)
    fresh = parser_for(language).parse(expected.encode())
    assert str(tree.root_node) == str(fresh.root_node)
    names = [s.name for s in index.document_symbols(path)]
    assert names == [s.name for s in extract("g.py", "python", expected.encode()).definitions
                     if s.parent < 0]
    assert "circle_area" in names and "Figure" in names


def test_edits_that_do_not_match_fall_back_to_a_full_parse(index, project):
    path = project / "app.py"
    index.update_text(path, "x = 1\n")
    # The edit claims a different result than the text sent: the text wins.
    index.update_text(path, "def real():\n    pass\n", [Edit((0, 0), (0, 1), "y")])
    assert [s.name for s in index.document_symbols(path)] == ["real"]
    _, tree = index.open_tree(path)
    assert not tree.root_node.has_error


def test_keystrokes_without_edit_ranges_parse_incrementally(index, project):
    path = project / "app.py"
    text = path.read_text()
    index.update_text(path, text)
    for i, ch in enumerate("def typed_fn():\n    pass\n"):
        text = text + ch
        index.update_text(path, text)
        _, tree = index.open_tree(path)
        assert str(tree.root_node) == str(parser_for("python").parse(text.encode()).root_node), i
    assert index.workspace_symbols("typed_fn")


def test_identifiers_of_an_open_document(index, project):
    path = project / "app.py"
    text = path.read_text()
    index.update_text(path, text)
    text += "\nvalue = brand_new_name + 1\n"
    index.update_text(path, text)
    assert "brand_new_name" in index.file_symbols("app.py").identifiers
    assert "brand_new_name" in index.file_record("app.py").identifiers
    index.close_document(path)  # back to the disk's text: exact again
    assert "brand_new_name" not in index.file_record("app.py").identifiers
    assert "area_of_circle" in index.file_record("app.py").identifiers


def test_document_symbols_are_hierarchical(index, project):
    index.build()
    roots = index.document_symbols(project / "pkg/geometry.py")
    assert [(s.name, s.kind) for s in roots] == [
        ("PI", "constant"), ("area_of_circle", "function"), ("Shape", "class")]
    shape = roots[2]
    assert [(c.name, c.kind) for c in shape.children] == [("perimeter", "method")]
    assert shape.children[0].detail == "def perimeter(self) -> float"


def test_definition_prefers_same_file_then_imports(index, project):
    index.build()
    app = project / "app.py"
    locs = index.definition(app, 4, 14)  # `area_of_circle(` inside main()
    assert [(loc.path, loc.start) for loc in locs] == [(project / "pkg/geometry.py", (3, 4))]
    other = project / "pkg/other.py"
    locs = index.definition(other, 0, 6)
    assert [loc.path for loc in locs] == [other]
    assert index.definition(app, 1, 0) == []  # an empty line
    assert index.definition(project / "missing.py", 0, 0) == []


def test_remove_and_rename(index, project):
    index.build()
    index.remove_file(project / "web/app.ts")
    assert not index.workspace_symbols("renderPage")
    (project / "pkg/geometry.py").rename(project / "pkg/geom.py")
    index.rename_file(project / "pkg/geometry.py", project / "pkg/geom.py")
    assert {s.path for s in index.workspace_symbols("Shape")} == {"pkg/geom.py"}


def test_update_file_ignores_what_a_build_would(index, project):
    (project / ".gitignore").write_text("ignored.py\n")
    (project / "ignored.py").write_text("def hidden():\n    pass\n")
    assert not index.update_file(project / "ignored.py")
    assert not index.workspace_symbols("hidden")
    assert not index.update_file(project / "node_modules/x.js")


@pytest.mark.parametrize(
    ("query", "better", "worse"),
    [
        ("parse", "parse", "parse_args"),  # exact > prefix
        ("parse", "parse_args", "reparse"),  # prefix > substring
        ("gfd", "get_field_data", "configured"),  # word starts > subsequence
        ("WS", "WorkspaceSymbol", "Wrappers"),
        ("pa", "Parser", "apa"),  # prefix ignoring case > substring
    ],
)
def test_fuzzy_ranking(query, better, worse):
    assert match_score(query, better) is not None
    worse_score = match_score(query, worse)
    assert worse_score is None or match_score(query, better) < worse_score


def test_workspace_symbols_ranking_and_limit(index):
    index.build()
    names = [s.name for s in index.workspace_symbols("aoc")]
    assert names[:2] == ["area_of_circle", "area_of_circle"]
    assert len(index.workspace_symbols("", limit=3)) == 3
    assert index.workspace_symbols("zzzzqqq") == []
    assert index.workspace_symbols("%_") == []  # LIKE wildcards are escaped
    # Short queries: prefixes when they fill the answer, else any match.
    assert index.workspace_symbols("P", limit=1)[0].name == "PI"
    assert "area_of_circle" in {s.name for s in index.workspace_symbols("ci")}


def test_close_stops_a_running_build(project):
    for i in range(30):
        (project / f"many/m{i}.py").parent.mkdir(exist_ok=True)
        (project / f"many/m{i}.py").write_text(f"def f{i}():\n    return {i}\n")
    idx = WorkspaceIndex(project, workers=1)
    started = threading.Event()
    results = []

    def progress(done, total):
        started.set()

    def run():
        results.append(idx.build(progress=progress))

    thread = threading.Thread(target=run)
    thread.start()
    started.wait(10)
    idx.close()
    thread.join(10)
    assert not thread.is_alive()
    assert results and results[0].files <= 35
    with pytest.raises(RuntimeError):
        idx.build()


def test_a_file_that_breaks_extraction_is_contained(index, project, monkeypatch):
    index.build()

    def explode(*args, **kwargs):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(workspace_mod, "extract_tree", explode)
    monkeypatch.setattr(workspace_mod, "extract", explode)
    path = project / "app.py"
    assert index.update_text(path, "def x():\n    pass\n") is False
    (project / "pkg/other.py").write_text("def changed():\n    pass\n")
    assert index.update_file(project / "pkg/other.py") is False
    stats = index.build()  # in-process jobs hit the same failure: counted, not raised
    assert stats.skipped_reasons.get("parse failed: maximum recursion depth exceeded") == 1
    assert index.workspace_symbols("Shape")  # the rest is still served


def test_module_files_follow_an_imports_path_suffixes(tmp_path):
    from indexer import resolve
    from indexer.symbols import Import

    root = write_tree(tmp_path / "ws", {
        "src/pkg/util.py": "def f():\n    pass\n",
        "src/pkg/sub/__init__.py": "X = 1\n",
        "other/my_util.py": "def g():\n    pass\n",  # ends with "util.py", not "/util.py"
        "src/pkg/core.py": "from . import util\nfrom .util import f\n",
    })
    with WorkspaceIndex(root) as idx:
        idx.build()
        module = Import(".", "util")
        assert resolve.submodule_paths("python", "src/pkg/core.py", module) == [
            "/src/pkg/util.py", "/src/pkg/util/__init__.py"]
        assert idx.module_files(resolve.submodule_paths("python", "src/pkg/core.py", module)) \
            == ["src/pkg/util.py"]
        assert idx.module_files(["pkg/sub/__init__.py", "util.py"]) == [
            "src/pkg/sub/__init__.py", "src/pkg/util.py"]
        assert idx.module_files(["/pkg/util.py", "100%_util.py"]) == []  # exact; LIKE-safe
        assert [s.name for s in idx.indexed_symbols("src/pkg/util.py")] == ["f"]
        # `from . import util` and `from .util import f` both name util; my_util is no match.
        assert idx.files_importing("util") == ["src/pkg/core.py"]
        assert idx.files_importing("my_util") == [] and idx.files_importing("u%") == []
