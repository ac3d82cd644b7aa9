"""The retrieval benchmark's measurement on a small project (no model, no network)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from bench.quality import crossfile
from bench.retrieval import run as retrieval


def test_the_member_a_line_needs_is_found_in_the_outline(tmp_path: Path) -> None:
    pkg = tmp_path / "proj-1.0" / "proj"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "shapes.py").write_text(textwrap.dedent("""\
        def area(r):
            return r * r


        def perimeter(r):
            return 2 * r
    """))
    (pkg / "draw.py").write_text(textwrap.dedent("""\
        from . import shapes


        def paint(r):
            return shapes.perimeter(r)
    """))
    samples = list(crossfile.api_samples_for(tmp_path / "proj-1.0"))
    assert [s.reference for s in samples] == ["perimeter(r)"]
    result = retrieval.measure_samples(samples, 512, tmp_path / "index")
    assert result["n"] == 1 and result["recall"]["any"] == 100.0
    assert result["recall"]["outline"] == 100.0 and result["recall"]["usage"] == 0.0
    assert 0 < result["p50"] <= result["p95"]
    table = retrieval.markdown([{"set": "x", **result}], "cmd")
    assert "| x | 1 | 512 | 100.0 | 100.0 | 0.0 |" in table
