"""Device choice: CUDA when present, CPU otherwise."""

from __future__ import annotations

import functools
import platform
from pathlib import Path

import torch


def pick_device(name: str | None = None) -> torch.device:
    """Return `name` if given, else cuda when available, else cpu."""
    if name:
        dev = torch.device(name)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"device {name!r} was asked for but CUDA is not available; use 'cpu'")
        return dev
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def stacking_pays(device: str | None) -> bool:
    """Train same-shaped small models (a replicate's GANs, its classifiers) as one stack? On a GPU yes: one
    small model leaves it idle between kernel launches (16 stacked GANs 10.7x the tutorial loop, classifiers
    about 2x, on an H100); on 2 CPU cores no (0.6-0.94x: their convolutions already keep the cores busy).
    benchmarks/study_throughput.py measures it."""
    return pick_device(device).type == "cuda"


def emulated_cpu_bf16(device: str | None, cpu_bf16: bool) -> bool:
    """Does a CPU run asked for bf16 autocast (ClassifierConfig.cpu_bf16) lack the instructions for it
    (AVX512-BF16 or AMX)? Then torch emulates bf16, and a step is slower than in fp32: 0.64 s against
    0.30 s for the study's classifier on a 2-core AVX512 Xeon without them, against 0.09 s on the 2-core AMD
    EPYC with them, where bf16 is 2.3x fp32."""
    if not cpu_bf16 or pick_device(device).type != "cpu":
        return False
    cpu = getattr(torch, "cpu", None)
    checks = [getattr(cpu, n, None) for n in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    found = [f() for f in checks if callable(f)]
    return bool(found) and not any(found)  # unknown (a torch without the checks): not claimed


@functools.cache
def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine_name(device: str | None = None) -> str:
    """What a model was trained on, for its result row: the GPU's name, or the CPU's model name with the
    threads torch uses. A retrained row reproduces bit for bit only on the same kind (README, *What is not
    done*), so the row says which kind that is."""
    dev = pick_device(device)
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return f"{_cpu_name()}, {torch.get_num_threads()} threads"
