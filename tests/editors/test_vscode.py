"""The VS Code extension (editors/vscode, packaged .vsix) in VS Code 1.100 through code-server and
headless Chromium, with the real server and the real default model: the extension activates, the
ghost text from the server is shown and committed into the document, the status bar shows the
model, and the enable/disable commands change what the server does (and "complete this block"
applies its edit when the server offers that command).

A small driver extension (tests/editors/vscode_driver) runs inside the editor and writes what it
saw to a JSON file. Needs `editors/ci-install.sh` (code-server, Chromium, the .vsix)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.default_model import default_model_path

pytestmark = [pytest.mark.model, pytest.mark.editor, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
VSIX = ROOT / "editors" / "vscode" / "lsp-server.vsix"
VSCE = ROOT / "editors" / "vscode" / "node_modules" / ".bin" / "vsce"
DRIVER = Path(__file__).with_name("vscode_driver")
CODE_SERVER = ROOT / ".cache" / "editors" / "code-server" / "node_modules" / ".bin" / "code-server"
PREFIX = "    return math."
SOURCE = f'''import math


def area_of_circle(radius):
    """Return the area of a circle with the given radius."""
{PREFIX}
'''
BLOCK_SOURCE = '''def fibonacci(n):
    """Return the n-th Fibonacci number (fibonacci(0) == 0, fibonacci(1) == 1)."""
    pass
'''
INSTALL_HINT = "run editors/ci-install.sh"


def _tool(path: Path, name: str) -> str:
    found = str(path) if path.exists() else shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed ({INSTALL_HINT})")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _process(args: list[str], log: Path, **kw) -> Iterator[subprocess.Popen]:
    """A process in its own group, ended with everything it started."""
    with log.open("w") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, **kw)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _wait_port(port: int, proc: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"code-server exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.2)
    raise AssertionError("code-server did not listen in time")


def _package_driver(dest: Path) -> Path:
    work = dest / "driver"
    shutil.copytree(DRIVER, work)
    vsix = dest / "driver.vsix"
    subprocess.run(
        [str(VSCE), "package", "--allow-missing-repository", "--skip-license", "-o", str(vsix)],
        cwd=work, check=True, capture_output=True, text=True, timeout=120,
    )
    return vsix


def test_vscode_extension_ghost_text_and_commands(tmp_path: Path):
    code_server = _tool(CODE_SERVER, "code-server")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip(f"chromium is not installed ({INSTALL_HINT})")
    if not VSIX.exists() or not VSCE.exists():
        pytest.skip(f"the extension is not packaged ({INSTALL_HINT})")
    model = default_model_path()

    folder = tmp_path / "project"
    folder.mkdir()
    src = folder / "geometry.py"
    src.write_text(SOURCE)
    block = folder / "fib.py"
    block.write_text(BLOCK_SOURCE)
    user_data = tmp_path / "user-data"
    # Machine-scoped settings (which program to run, which model file) live in code-server's
    # machine settings: VS Code ignores them in the user settings of a remote window.
    (user_data / "Machine").mkdir(parents=True)
    (user_data / "Machine" / "settings.json").write_text(json.dumps({
        "lspServer.server.pythonPath": sys.executable,
        "lspServer.local.modelPath": str(model),
    }))
    (user_data / "User").mkdir(parents=True)
    (user_data / "User" / "settings.json").write_text(json.dumps({
        "lspServer.local.threads": 2,
        "workbench.startupEditor": "none",
        "security.workspace.trust.enabled": False,
        "extensions.autoCheckUpdates": False,
        "extensions.autoUpdate": False,
        "telemetry.telemetryLevel": "off",
        "editor.inlineSuggest.enabled": True,
    }))
    extensions = tmp_path / "extensions"
    base = [code_server, "--user-data-dir", str(user_data), "--extensions-dir", str(extensions)]
    driver_vsix = _package_driver(tmp_path)
    subprocess.run(
        [*base, "--install-extension", str(VSIX), "--install-extension", str(driver_vsix)],
        check=True, capture_output=True, text=True, timeout=120,
    )

    out = tmp_path / "result.json"
    env = dict(os.environ)
    env.update(DRIVER_OUT=str(out), DRIVER_FILE=str(src), DRIVER_BLOCK_FILE=str(block),
               DRIVER_BLOCK_LINE="0",
               LSP_SERVER_CONFIG_DIR=str(tmp_path / "config"))
    port = _free_port()
    started = time.monotonic()
    with _process(
        [*base, "--auth", "none", "--bind-addr", f"127.0.0.1:{port}",
         "--disable-workspace-trust", "--disable-telemetry", "--disable-update-check",
         str(folder)],
        tmp_path / "code-server.log", env=env,
    ) as server:
        _wait_port(port, server, 30)
        with _process(
            [chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--disable-dev-shm-usage", "--disable-background-networking", "--no-first-run",
             f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1280,900",
             f"http://127.0.0.1:{port}/?folder={folder}"],
            tmp_path / "chromium.log",
        ):
            deadline = time.monotonic() + 300
            while not out.exists() and time.monotonic() < deadline:
                time.sleep(0.5)
    elapsed = time.monotonic() - started
    assert out.exists(), (
        "the driver wrote nothing; code-server log:\n"
        + (tmp_path / "code-server.log").read_text()[-3000:]
    )
    result = json.loads(out.read_text())
    assert "error" not in result, result

    # The packaged extension activated and its server loaded the model.
    assert result["found"] and result["activated"]
    assert result["status"]["localModel"] == model.name
    assert "AI" in result["statusBar"]

    # Ghost text from the server, committed into the document by the editor.
    suggestion = result["lastInline"][0]
    assert suggestion.startswith("pi") and "radius" in suggestion, suggestion
    expected = SOURCE.replace(PREFIX + "\n", PREFIX + suggestion + "\n", 1)
    assert result["afterCommit"] == expected, result
    assert result["statusAfter"].get("lastTier"), result["statusAfter"]

    # The commands change the setting, and the server follows it.
    assert result["settingAfterDisable"] is False
    assert "off" in result["statusBarDisabled"]
    assert result["serverWhileDisabled"] == ["(none)"]
    assert result["settingAfterEnable"] is True
    assert result["serverWhileEnabled"][0].startswith("pi")
    # Complete this block: the server's edit arrives through workspace/applyEdit.
    if "lspServer.completeBlock" in result["serverCommands"]:
        assert "completeBlockError" not in result, result["completeBlockError"]
        assert result["completeBlockReturned"]["applied"] is True, result["completeBlockReturned"]
        assert result["completeBlockChanged"] is True
        after = result["afterCompleteBlock"]
        assert after.startswith("def fibonacci(n):") and "return" in after, after
    print(f"VS Code run: {elapsed:.1f}s; steps {result['steps']}")
