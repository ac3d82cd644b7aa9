"""The Emacs package (editors/emacs/lsp-server.el) in a real Emacs 28 + eglot, batch mode, with
the real server and the real default model: eglot starts the registered server, typing asks for
a suggestion, the overlay shows it, TAB accepts it; M-f accepts one word; moving away hides it."""

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
DRIVER = Path(__file__).with_name("emacs_driver.el")
ELPA = Path("/usr/share/emacs/site-lisp/elpa")
PREFIX = "    return math."
SOURCE = f'''import math


def area_of_circle(radius):
    """Return the area of a circle with the given radius."""
{PREFIX}
'''


def _emacs() -> str:
    found = shutil.which("emacs")
    if not found:
        pytest.skip("emacs is not installed (apt-get install emacs-nox elpa-eglot)")
    if not any(ELPA.glob("eglot-*")):
        pytest.skip("eglot is not installed (apt-get install elpa-eglot)")
    return found


def test_emacs_overlay_shows_and_accepts(tmp_path: Path):
    emacs = _emacs()
    src = tmp_path / "geometry.py"
    src.write_text(SOURCE)
    out = tmp_path / "result.json"
    env = dict(os.environ)
    env.update(
        PACKAGE_DIR=str(ROOT / "editors" / "emacs"),
        LSP_CMD=json.dumps([sys.executable, "-m", "lsp_server.cli", "--stdio"]),
        FILE=str(src), OUT=str(out), MODEL=str(default_model_path()),
        LSP_SERVER_CONFIG_DIR=str(tmp_path / "config"), HOME=str(tmp_path),
    )
    proc = subprocess.run(
        [emacs, "--batch", "-Q", "-l", str(DRIVER)],
        env=env, capture_output=True, text=True, timeout=240, cwd=tmp_path,
    )
    result = json.loads(out.read_text()) if out.exists() else {}
    assert proc.returncode == 0 and "error" not in result, (result, proc.stderr[-2000:])

    assert result["server-class"] == "lsp-server-eglot-server"  # found via eglot-server-programs
    assert result["timer-scheduled"] is True  # typing scheduled the request
    suggestion = result["after-string"]
    assert suggestion.startswith("pi") and "radius" in suggestion, suggestion
    assert result["overlay-at-point"] is True
    assert result["tab-binding"] == "lsp-server-inline-accept"
    assert result["line-before"] == PREFIX
    assert result["after-accept"] == PREFIX + suggestion.split("\n")[0]
    assert result["overlay-after-accept"] is None

    second = result["second-suggestion"]
    assert second.startswith("pi")
    assert result["after-word"] == PREFIX + "pi"
    assert result["rest-after-word"] == second[len("pi"):]
    assert result["overlay-after-move"] is None
    assert result["buffer-after-move"] == PREFIX + "pi"
