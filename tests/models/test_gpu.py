"""GPU backend detection and the choice of offloaded layers."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from models.gpu import GpuDevice, GpuInfo, choose_gpu_layers, detect_gpu, nvidia_devices

GiB = 1 << 30
CUDA_8G = GpuInfo("0.3.36", True, "cuda", (GpuDevice("Test GPU", 8 * GiB, 12 * GiB),))


def test_detect_reports_this_build():
    info = detect_gpu()
    import llama_cpp

    assert info.llama_cpp_version == llama_cpp.__version__
    assert info.offload == bool(llama_cpp.llama_supports_gpu_offload())
    assert info.describe()
    if not info.offload:
        assert info.backend == "none"
        assert choose_gpu_layers(GiB, 24, -1, gpu=info) == 0


def test_all_layers_when_it_fits():
    assert choose_gpu_layers(2 * GiB, 28, -1, gpu=CUDA_8G) == -1


def test_fewer_layers_when_it_does_not_fit():
    layers = choose_gpu_layers(14 * GiB, 56, -1, gpu=CUDA_8G)
    # usable = 8 GiB - 10 % headroom = 7.2 GiB; 56 * 7.2 / 14 = 28.8
    assert layers == 28


def test_kv_cache_counts():
    assert choose_gpu_layers(6 * GiB, 32, -1, gpu=CUDA_8G) == -1
    assert 0 < choose_gpu_layers(6 * GiB, 32, -1, gpu=CUDA_8G, extra_bytes=2 * GiB) < 32


def test_explicit_and_cpu_requests_and_no_backend():
    assert choose_gpu_layers(100 * GiB, 80, 10, gpu=CUDA_8G) == 10
    assert choose_gpu_layers(GiB, 24, 0, gpu=CUDA_8G) == 0
    cpu = GpuInfo("0.3.36", False, "none")
    assert choose_gpu_layers(GiB, 24, -1, gpu=cpu) == 0
    assert choose_gpu_layers(GiB, 24, 12, gpu=cpu) == 0


def test_unknown_free_memory_offloads_all():
    metal = GpuInfo("0.3.36", True, "metal")
    assert choose_gpu_layers(4 * GiB, 32, -1, gpu=metal) == -1


def test_no_room_at_all_gives_zero():
    tiny = GpuInfo("0.3.36", True, "cuda", (GpuDevice("Small", 256 << 20, GiB),))
    assert choose_gpu_layers(GiB, 24, -1, gpu=tiny) == 0


@pytest.mark.skipif(os.name != "posix", reason="uses a shell script as a stand-in nvidia-smi")
def test_nvidia_smi_output_is_parsed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # A stand-in nvidia-smi answering as the real one does with these flags.
    exe = tmp_path / "nvidia-smi"
    exe.write_text(
        "#!/bin/sh\necho 'NVIDIA H100 80GB HBM3, 80000, 81559'\necho 'Odd, [N/A], [N/A]'\n"
    )
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    devs = nvidia_devices()
    assert devs[0] == GpuDevice("NVIDIA H100 80GB HBM3", 80000 << 20, 81559 << 20)
    assert devs[1] == GpuDevice("Odd", None, None)
