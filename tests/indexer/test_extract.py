"""Data-driven extraction: each sample source and the symbols expected from it."""

from __future__ import annotations

import json

import pytest

from indexer.extract import extract
from indexer.languages import SUPPORTED, language_for_id, language_for_path, parser_for

from .conftest import DATA

SAMPLES = sorted(p for p in DATA.glob("*.*") if p.is_file())


def _render(fs):
    return {
        "definitions": [
            f"{s.kind} {s.scope + '.' if s.scope else ''}{s.name} "
            f"{s.name_start[0] + 1}:{s.name_start[1] + 1}"
            for s in fs.definitions
        ],
        "imports": [f"{i.module}|{i.name}|{i.alias}" for i in fs.imports],
        "docs": {s.name: s.doc for s in fs.definitions if s.doc},
    }


def test_every_language_has_a_sample():
    covered = {language_for_path(p) for p in SAMPLES}
    assert covered == set(SUPPORTED)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_symbols_match_expected(sample):
    expected = json.loads((DATA / "expected" / f"{sample.name}.json").read_text())
    fs = extract(sample.name, language_for_path(sample), sample.read_bytes())
    assert not fs.has_errors
    assert _render(fs) == expected


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_ranges_signatures_and_identifiers(sample):
    src = sample.read_bytes()
    fs = extract(sample.name, language_for_path(sample), src)
    lines = src.decode().split("\n")
    assert fs.definitions
    for sym in fs.definitions:
        # The selection range is the name itself, inside the full range.
        line, col = sym.name_start
        assert lines[line][col : sym.name_end[1]].lstrip("$") == sym.name or "::" in lines[line]
        assert sym.start <= sym.name_start <= sym.name_end <= sym.end
        assert sym.signature and "\n" not in sym.signature
        assert sym.snippet
        if sym.parent >= 0:
            parent = fs.definitions[sym.parent]
            assert parent.start <= sym.start and sym.end <= parent.end
    names = {s.name for s in fs.definitions}
    assert names & fs.identifiers  # definitions' names are identifiers of the file


def test_python_details():
    src = (DATA / "sample.py").read_bytes()
    fs = extract("sample.py", "python", src)
    by_name = {s.name: s for s in fs.definitions}
    assert by_name["top"].signature == "def top(a, b=2)"
    assert by_name["area"].signature == "def area(self) -> float"
    assert by_name["name"].signature == "def name(self)"  # the comment is not part of it
    assert by_name["fetch"].signature == "async def fetch(url)"
    shape = by_name["Shape"]
    # A class's snippet lists its members' signatures.
    assert "def area(self) -> float:" in shape.snippet
    assert {"helper", "decorator", "Base", "local"} <= fs.identifiers
    assert fs.line_count == src.count(b"\n") + 1


def test_columns_are_code_points_not_bytes():
    src = 'ÿé = "ü"\ndef naïve(x):\n    return x\n\nclass Größe:\n    pass\n'.encode()
    fs = extract("u.py", "python", src)
    by_name = {s.name: s for s in fs.definitions}
    assert by_name["naïve"].name_start == (1, 4)
    assert by_name["naïve"].name_end == (1, 9)
    assert by_name["Größe"].name_end == (4, 11)


def test_broken_source_still_yields_what_it_can():
    src = b"def ok(a):\n    return a\n\ndef broken(:\n    pass\n\nclass Fine:\n    pass\n"
    fs = extract("b.py", "python", src)
    assert fs.has_errors
    names = [s.name for s in fs.definitions]
    assert "ok" in names and "Fine" in names


def test_empty_and_unknown_inputs():
    assert extract("e.py", "python", b"").definitions == []
    unknown = extract("x.zig", "zig", b"const x = 1;")
    assert unknown.definitions == [] and unknown.language == "zig"


def test_language_mapping():
    assert language_for_path("a/b.tsx") == "tsx"
    assert language_for_path("x.H") == "c"
    assert language_for_path("Rakefile") == "ruby"
    assert language_for_path("notes.txt") is None
    assert language_for_id("typescriptreact") == "tsx"
    assert language_for_id("") is None
    for language in SUPPORTED:
        assert parser_for(language) is not None
    assert parser_for("cobol") is None


def test_pathological_nesting_degrades_instead_of_failing():
    src = "".join(" " * i + f"class C{i}:\n" for i in range(1200)) + " " * 1200 + "pass\n"
    fs = extract("deep.py", "python", src.encode())
    assert 0 < len(fs.definitions) < 1200
    deep_ifs = "".join(" " * i + "if x:\n" for i in range(1500)) + " " * 1500 + "y = 1\n"
    assert extract("ifs.py", "python", deep_ifs.encode()).line_count == 1502
    namespaces = "namespace a {\n" * 2000 + "int f() { return 1; }\n" + "}\n" * 2000
    assert extract("ns.cpp", "cpp", namespaces.encode()).definitions


def test_cpp_header_and_trailing_comments():
    src = (
        b"#pragma once\n#include <vector>\n\n"
        b"// A batch.\nstruct batch {\n"
        b"    bool empty() const { return n == 0; }\n"
        b"    int n;     // number of items\n"
        b"    int cap;\n"
        b"};\n"
    )
    fs = extract("batch.h", "c", src)
    assert fs.language == "cpp" and not fs.has_errors
    by_name = {s.name: s for s in fs.definitions}
    assert by_name["batch"].doc == "A batch."
    assert by_name["empty"].kind == "method"
    assert by_name["cap"].doc == ""  # the comment ending the line above belongs to `n`


def test_definitions_inside_syntax_errors_are_found():
    src = b"def ok():\n    return [1,\n\nclass Later:\n    def m(self):\n        pass\n"
    fs = extract("e.py", "python", src)
    assert fs.has_errors
    assert {"ok", "Later"} <= {s.name for s in fs.definitions}
