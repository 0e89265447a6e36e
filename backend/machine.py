"""One line about the machine, for reports and benchmark figures (float32 results and
timings depend on it): CPU model, the kernel set torch dispatches to, AVX-512 or not,
threads and load."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch


def cpu_model() -> str:
    """The CPU's marketing name (Linux /proc/cpuinfo), else what the platform reports."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith(("model name", "hardware")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def has_avx512() -> bool | None:
    """Whether the CPU has AVX-512F (None when it cannot be told, e.g. not Linux x86)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return None
    flags = next((ln for ln in text.splitlines() if ln.startswith("flags")), None)
    return None if flags is None else "avx512f" in flags.split()


def describe() -> str:
    """e.g. `AMD EPYC, no AVX-512, torch 2.13.0+cpu kernels AVX2, 2 threads, load 0.31 0.40`."""
    avx = {True: "AVX-512", False: "no AVX-512", None: "AVX-512 unknown"}[has_avx512()]
    forced = os.environ.get("ATEN_CPU_CAPABILITY")
    kernels = torch.backends.cpu.get_cpu_capability()
    if forced:
        kernels += f" (ATEN_CPU_CAPABILITY={forced})"
    threads = torch.get_num_threads()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (f"{cpu_model()}, {avx}, torch {torch.__version__} kernels {kernels}, "
            f"{threads} thread{'s' if threads != 1 else ''}, load {load}")
