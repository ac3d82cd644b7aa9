"""Running untrusted benchmark code (a completion inserted into a program, plus its tests).

Each program runs in its own process: Python in isolated mode (`-I`: no environment variables,
no user site, not the script's folder on the path), an empty environment, a fresh temporary
working directory, resource limits (CPU time, address space, file size, open files, no core
files), a wall-clock timeout that kills the whole process group, and no network: a new network
namespace (`unshare -n`, whose only interface is a loopback that is down) where the system
allows it, and in every case the socket modules made unimportable before the program starts.
This keeps a wrong completion from harming the machine by accident; it is not a defence
against code written to escape.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

# Put first in every program: the network modules cannot be imported after it.
NETWORK_GUARD = (
    "import sys as _sys\n"
    "_sys.modules.update(dict.fromkeys(('socket', '_socket', 'ssl', '_ssl', 'select',"
    " 'selectors', 'asyncio'), None))\n"
    "del _sys\n"
)
_OUTPUT_TAIL = 2000


@dataclass(frozen=True)
class RunResult:
    status: str  # "passed", "failed" (non-zero exit), "timeout", "error" (could not run)
    returncode: int | None
    output: str  # the end of stdout and stderr, for reading failures

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@functools.cache
def network_namespace_command() -> tuple[str, ...]:
    """The command prefix that runs a program without network, or () when none works here."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return ()
    for flags in ("-n", "-rn"):  # -r: as an unprivileged user, through a user namespace
        try:
            probe = subprocess.run(
                [unshare, flags, "true"], capture_output=True, timeout=10, check=False
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if probe.returncode == 0:
            return (unshare, flags)
    return ()


def _limits(cpu_seconds: int, memory_bytes: int, file_bytes: int):
    import resource

    def apply() -> None:  # runs in the child between fork and exec
        for limit, value in (
            (resource.RLIMIT_CPU, cpu_seconds),
            (resource.RLIMIT_AS, memory_bytes),
            (resource.RLIMIT_FSIZE, file_bytes),
            (resource.RLIMIT_NOFILE, 64),
            (resource.RLIMIT_CORE, 0),
        ):
            resource.setrlimit(limit, (value, value))

    return apply


def run_program(
    code: str,
    *,
    timeout: float = 10.0,
    memory_mb: int = 1024,
    file_mb: int = 16,
    network_guard: bool = True,
) -> RunResult:
    """Run `code` as a Python program in the sandbox; passed means it exited with status 0."""
    source = (NETWORK_GUARD if network_guard else "") + code
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as tmp:
        program = Path(tmp) / "program.py"
        program.write_text(source, encoding="utf-8")
        cmd = [*network_namespace_command(), sys.executable, "-I", "-B", str(program)]
        try:
            proc = subprocess.Popen(
                cmd,
                cwd=tmp,
                env={},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_limits(int(timeout) + 1, memory_mb << 20, file_mb << 20),
            )
        except OSError as exc:
            return RunResult("error", None, f"could not start the program: {exc}")
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            out, _ = proc.communicate()
            return RunResult("timeout", None, _tail(out))
        finally:
            if proc.poll() is None:
                _kill_group(proc)
                proc.wait()
    status = "passed" if proc.returncode == 0 else "failed"
    return RunResult(status, proc.returncode, _tail(out))


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _tail(out: bytes | None) -> str:
    return (out or b"")[-_OUTPUT_TAIL:].decode("utf-8", "replace")
