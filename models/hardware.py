"""How much memory this machine has: enough to say whether a model fits, without extra packages."""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from pathlib import Path


def _meminfo(key: str) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return None


def _windows_memory() -> tuple[int, int] | None:
    class MemoryStatusEx(ctypes.Structure):
        _fields_ = [
            ("dwLength", ctypes.c_ulong), ("dwMemoryLoad", ctypes.c_ulong),
            ("ullTotalPhys", ctypes.c_ulonglong), ("ullAvailPhys", ctypes.c_ulonglong),
            ("ullTotalPageFile", ctypes.c_ulonglong), ("ullAvailPageFile", ctypes.c_ulonglong),
            ("ullTotalVirtual", ctypes.c_ulonglong), ("ullAvailVirtual", ctypes.c_ulonglong),
            ("ullAvailExtendedVirtual", ctypes.c_ulonglong),
        ]

    stat = MemoryStatusEx()
    stat.dwLength = ctypes.sizeof(MemoryStatusEx)
    try:
        ok = ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(stat))  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return None
    return (stat.ullTotalPhys, stat.ullAvailPhys) if ok else None


def total_ram() -> int | None:
    """Physical memory in bytes, or None when it cannot be told."""
    if sys.platform == "win32":
        mem = _windows_memory()
        return mem[0] if mem else None
    with contextlib.suppress(ValueError, OSError, AttributeError):
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return None


def available_ram() -> int | None:
    """Memory a new model could use now, in bytes (Linux: MemAvailable; elsewhere: total)."""
    if sys.platform == "win32":
        mem = _windows_memory()
        return mem[1] if mem else None
    avail = _meminfo("MemAvailable")
    return avail if avail is not None else total_ram()
