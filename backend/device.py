"""Which torch device runs the models, and one sentence that says why.

*Automatic* takes CUDA, else Apple's MPS, else the CPU. An explicit choice that cannot be
honoured, and a GPU that torch sees but cannot use (no kernel image for the card, a driver
too old for this torch, out of memory while starting), fall back to the CPU: the worker
announces the sentence in its hello (``device_fallback`` true), `rag-gesture doctor` prints
it, and requests run on the CPU instead of failing one after another.

Float32 stays IEEE float32 on CUDA: TF32 matmuls and convolutions are turned off. The
denoiser's matrices have 43-86 rows, where TF32 gains little, and TF32's 10-bit mantissa
(~1e-3 relative) would put GPU results far outside the float32 noise floor of the CPU run
that bench/gpu.py compares them with.
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")  # the --device option of every command


class DeviceChoice(NamedTuple):
    device: str  # "cuda", "mps" or "cpu"
    note: str  # one sentence (without the final full stop) that says why
    fallback: bool  # a GPU was asked for or visible but the CPU runs instead


def pick_device(choice: str = "auto", torch: Any = None) -> DeviceChoice:
    """The device for `choice` ("auto", "cpu", "cuda", "mps"), tried with a small operation
    so that a GPU that cannot run falls back here and not in the middle of a request.
    `torch` is the module (a stand-in in tests); loaded here so that the command line can
    list DEVICE_CHOICES without importing torch."""
    if torch is None:
        import torch
    if choice not in DEVICE_CHOICES:
        raise ValueError(f"unknown device {choice!r}; choose one of {', '.join(DEVICE_CHOICES)}")
    if choice == "cpu":
        return DeviceChoice("cpu", "CPU (as requested)", False)
    cuda_problem = None
    if choice in ("auto", "cuda"):
        found, cuda_problem = _try_cuda(torch)
        if found is not None:
            return found
    mps_problem = None
    if choice in ("auto", "mps"):
        found, mps_problem = _try_mps(torch)
        if found is not None:
            return found
    if choice == "cuda":
        return DeviceChoice("cpu", f"CPU: CUDA was requested but {cuda_problem}", True)
    if choice == "mps":
        return DeviceChoice("cpu", f"CPU: Apple's MPS was requested but {mps_problem}", True)
    if cuda_problem and not cuda_problem.startswith("this torch"):  # a GPU torch cannot use
        return DeviceChoice("cpu", f"CPU: a CUDA GPU is visible but {cuda_problem}", True)
    return DeviceChoice("cpu", "CPU (no CUDA or MPS GPU visible to torch)", False)


def _try_cuda(torch: Any) -> tuple[DeviceChoice | None, str | None]:
    """(choice, None) when CUDA works, else (None, why not) as a clause."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        available = torch.cuda.is_available()
    if not available:
        told = [str(w.message) for w in caught]
        driver = next((t for t in told if "driver" in t.lower()), None)
        if driver:  # torch sees the card but refuses it, e.g. a driver too old for this build
            return None, "it cannot be used (" + _first_sentence(driver) + ")"
        return None, "this torch build sees no CUDA GPU"
    try:
        name = torch.cuda.get_device_name(0)
        probe = torch.ones(8, device="cuda")
        float((probe * 2).sum().item())  # runs a kernel: "no kernel image" shows here
    except Exception as exc:  # noqa: BLE001 - any failure means: use the CPU and say why
        release_cuda(torch)
        return None, "it cannot be used (" + describe_device_error(exc) + ")"
    use_ieee_float32(torch)
    return DeviceChoice("cuda", f"CUDA: {name}", False), None


def _try_mps(torch: Any) -> tuple[DeviceChoice | None, str | None]:
    mps = getattr(torch.backends, "mps", None)
    if mps is None or not mps.is_built():
        return None, "this torch build has no MPS support"
    if not mps.is_available():
        return None, "this Mac has no usable Metal GPU (MPS needs macOS 12.3 or later)"
    try:
        float((torch.ones(8, device="mps") * 2).sum().item())
    except Exception as exc:  # noqa: BLE001
        return None, "it cannot be used (" + describe_device_error(exc) + ")"
    return DeviceChoice("mps", "Apple MPS (Metal GPU)", False), None


def use_ieee_float32(torch: Any) -> None:
    """No TF32 on CUDA (see the module docstring). torch 2.9+ spells it fp32_precision; the
    legacy allow_tf32 flags are neither set nor read (mixing the two is an error)."""
    matmul = getattr(getattr(torch.backends, "cuda", None), "matmul", None)
    cudnn = getattr(torch.backends, "cudnn", None)
    if matmul is not None and hasattr(matmul, "fp32_precision"):
        matmul.fp32_precision = "ieee"
    if cudnn is not None and hasattr(cudnn, "fp32_precision"):
        cudnn.fp32_precision = "ieee"


def describe_device_error(exc: BaseException) -> str:
    """A short reason from a CUDA/MPS start-up error: what a user can look up and act on."""
    text = " ".join(str(exc).split())
    low = text.lower()
    if "no kernel image" in low:
        return "this torch build has no kernels for this GPU; install a torch build made " \
               "for it"
    if "out of memory" in low:
        return "it ran out of memory while starting; close other programs that use the GPU"
    if "driver" in low and ("too old" in low or "insufficient" in low):
        return "the GPU driver is too old for this torch build; update the driver"
    return _first_sentence(text) or type(exc).__name__


def is_device_failure(exc: BaseException) -> bool:
    """True for errors that mean the GPU itself cannot run the model (out of memory, CUDA or
    MPS errors), as opposed to a problem with the inputs or the weights."""
    if type(exc).__name__ in ("OutOfMemoryError", "AcceleratorError"):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and any(
        key in text for key in ("CUDA", "cuda", "CUBLAS", "cuDNN", "MPS", "out of memory"))


def release_cuda(torch: Any) -> None:
    """Give back what a failed CUDA start took (ignored when CUDA is not usable at all)."""
    try:
        torch.cuda.empty_cache()
    except Exception:  # noqa: BLE001
        pass


def _first_sentence(text: str) -> str:
    text = " ".join(text.split())
    for end in (". ", "; "):
        if end in text:
            text = text.split(end, 1)[0]
    return text.rstrip(".")[:200]
