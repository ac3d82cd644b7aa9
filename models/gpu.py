"""GPU offload: whether the installed llama-cpp-python can use a GPU, how much memory is free,
and how many layers to offload."""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache

log = logging.getLogger(__name__)

_BACKENDS = (("CUDA", "cuda"), ("Metal", "metal"), ("HIP", "rocm"), ("ROCm", "rocm"),
             ("Vulkan", "vulkan"), ("SYCL", "sycl"), ("OpenCL", "opencl"), ("MUSA", "musa"))
MIN_HEADROOM = 512 << 20  # CUDA context, compute buffers, the desktop's own use


@dataclass(frozen=True)
class GpuDevice:
    name: str
    free_bytes: int | None
    total_bytes: int | None


@dataclass(frozen=True)
class GpuInfo:
    llama_cpp_version: str | None  # None: llama-cpp-python is not importable
    offload: bool  # llama_supports_gpu_offload()
    backend: str  # "cuda", "metal", "vulkan", ..., "none"
    devices: tuple[GpuDevice, ...] = ()
    error: str = ""  # why llama_cpp could not be inspected

    @property
    def free_vram(self) -> int | None:
        """Free memory of the first device (llama.cpp's main GPU), None when unknown."""
        return self.devices[0].free_bytes if self.devices else None

    def describe(self) -> str:
        if self.llama_cpp_version is None:
            return f"llama-cpp-python not available ({self.error})"
        if not self.offload:
            return "CPU only (this llama-cpp-python build has no GPU backend)"
        devs = ", ".join(
            d.name + (f" ({d.free_bytes / 2**30:.1f} GiB free of {d.total_bytes / 2**30:.1f})"
                      if d.free_bytes is not None and d.total_bytes else "")
            for d in self.devices
        )
        return f"{self.backend} offload" + (f": {devs}" if devs else " (free memory unknown)")


def _backend_from_system_info(info: str) -> str:
    for marker, name in _BACKENDS:
        if marker.lower() in info.lower():
            return name
    return "unknown"


def nvidia_devices(timeout_s: float = 3.0) -> tuple[GpuDevice, ...]:
    """NVIDIA GPUs and their free memory from `nvidia-smi` (empty when absent or failing)."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return ()
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name,memory.free,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=timeout_s, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as e:
        log.debug("nvidia-smi failed: %s", e)
        return ()
    devices = []
    for line in out.splitlines():
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != 3:
            continue
        try:
            devices.append(GpuDevice(fields[0], int(fields[1]) << 20, int(fields[2]) << 20))
        except ValueError:  # "[N/A]" on some boards
            devices.append(GpuDevice(fields[0], None, None))
    return tuple(devices)


def detect_gpu() -> GpuInfo:
    """What this process's llama-cpp-python can offload to (not cached: see `gpu_info`)."""
    try:
        import llama_cpp
    except (ImportError, OSError) as e:  # OSError: the shared library failed to load
        return GpuInfo(None, False, "none", error=str(e))
    version = getattr(llama_cpp, "__version__", "?")
    try:
        offload = bool(llama_cpp.llama_supports_gpu_offload())
        sysinfo = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
    except (AttributeError, OSError) as e:
        return GpuInfo(version, False, "none", error=str(e))
    if not offload:
        return GpuInfo(version, False, "none")
    backend = _backend_from_system_info(sysinfo)
    devices = nvidia_devices() if backend in ("cuda", "unknown") else ()
    return GpuInfo(version, True, backend, devices)


@cache
def gpu_info() -> GpuInfo:
    """`detect_gpu()`, once per process."""
    return detect_gpu()


def choose_gpu_layers(
    model_bytes: int,
    n_layers: int,
    requested: int,
    *,
    gpu: GpuInfo | None = None,
    extra_bytes: int = 0,
) -> int:
    """`n_gpu_layers` for llama.cpp.

    `requested` is the setting: -1 = automatic, 0 = CPU only, N > 0 = exactly N layers.
    Automatic gives -1 (all layers) when the model plus `extra_bytes` (KV cache) fits in free
    VRAM with headroom, or when free VRAM is unknown (Metal's unified memory); otherwise the
    share of layers that fits; 0 without a GPU backend.
    """
    gpu = gpu if gpu is not None else gpu_info()
    if not gpu.offload or requested == 0:
        return 0
    if requested > 0:
        return requested
    free = gpu.free_vram
    if free is None or n_layers <= 0:
        return -1
    usable = free - max(MIN_HEADROOM, free // 10)
    need = model_bytes + extra_bytes
    if need <= usable:
        return -1
    if usable <= 0 or need <= 0:
        return 0
    return max(0, min(n_layers - 1, n_layers * usable // need))
