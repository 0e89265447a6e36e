"""Device choice: Automatic = CUDA, else MPS, else CPU; every choice that cannot be honoured
falls back to the CPU with one sentence. CUDA and MPS are stood in for by fakes of the few
torch calls `pick_device` makes (this machine has no GPU)."""

from __future__ import annotations

import types
import warnings

import pytest
import torch

from backend.device import DeviceChoice, is_device_failure, pick_device
from backend.pipeline.session import Session, SessionConfig


class FakeCuda:
    def __init__(self, available: bool = True, warn: str = "", kernel_error: str = "") -> None:
        self.available, self.warn, self.kernel_error = available, warn, kernel_error
        self.emptied = 0

    def is_available(self) -> bool:
        if self.warn:
            warnings.warn(self.warn, UserWarning, stacklevel=2)
        return self.available

    def get_device_name(self, index: int) -> str:
        return "NVIDIA Fake 4090"

    def empty_cache(self) -> None:
        self.emptied += 1


class FakeMps:
    def __init__(self, built: bool = True, available: bool = True) -> None:
        self.built, self.available = built, available

    def is_built(self) -> bool:
        return self.built

    def is_available(self) -> bool:
        return self.available


def fake_torch(cuda: FakeCuda | None = None, mps: FakeMps | None = None,
               ones_error: dict[str, str] | None = None) -> types.SimpleNamespace:
    """The parts of torch pick_device touches; `ones_error[device]` makes the probe kernel
    on that device fail with that message."""
    ones_error = ones_error or {}
    matmul = types.SimpleNamespace(fp32_precision="none")
    cudnn = types.SimpleNamespace(fp32_precision="none")

    def ones(n: int, device: str = "cpu") -> torch.Tensor:
        if device in ones_error:
            raise RuntimeError(ones_error[device])
        return torch.ones(n)

    return types.SimpleNamespace(
        cuda=cuda or FakeCuda(available=False), ones=ones,
        backends=types.SimpleNamespace(mps=mps or FakeMps(built=False, available=False),
                                       cuda=types.SimpleNamespace(matmul=matmul),
                                       cudnn=cudnn))


def test_cpu_when_asked_or_nothing_else():
    assert pick_device("cpu", fake_torch(FakeCuda())) == DeviceChoice(
        "cpu", "CPU (as requested)", False)
    assert pick_device("auto", fake_torch()) == DeviceChoice(
        "cpu", "CPU (no CUDA or MPS GPU visible to torch)", False)


def test_automatic_prefers_cuda_then_mps():
    t = fake_torch(FakeCuda(), FakeMps())
    assert pick_device("auto", t) == DeviceChoice("cuda", "CUDA: NVIDIA Fake 4090", False)
    # TF32 is off: float32 stays float32 on the GPU (see backend/device.py)
    assert t.backends.cuda.matmul.fp32_precision == "ieee"
    assert t.backends.cudnn.fp32_precision == "ieee"
    assert pick_device("auto", fake_torch(mps=FakeMps())) == DeviceChoice(
        "mps", "Apple MPS (Metal GPU)", False)
    assert pick_device("mps", fake_torch(FakeCuda(), FakeMps())).device == "mps"


@pytest.mark.parametrize("choice, torch_, note", [
    ("cuda", fake_torch(), "CPU: CUDA was requested but this torch build sees no CUDA GPU"),
    ("mps", fake_torch(), "CPU: Apple's MPS was requested but this torch build has no MPS "
                          "support"),
    ("mps", fake_torch(mps=FakeMps(available=False)),
     "CPU: Apple's MPS was requested but this Mac has no usable Metal GPU (MPS needs macOS "
     "12.3 or later)"),
])
def test_an_explicit_choice_that_cannot_be_honoured_falls_back_with_one_sentence(
        choice, torch_, note):
    got = pick_device(choice, torch_)
    assert got == DeviceChoice("cpu", note, True)
    assert "\n" not in got.note and ". " not in got.note


@pytest.mark.parametrize("cuda, ones_error, reason", [
    (FakeCuda(), {"cuda": "CUDA error: no kernel image is available for execution on the "
                          "device\nCUDA kernel errors might be asynchronously reported"},
     "this torch build has no kernels for this GPU; install a torch build made for it"),
    (FakeCuda(), {"cuda": "CUDA out of memory. Tried to allocate 2.00 MiB (GPU 0; 7.79 GiB "
                          "total capacity; 7.60 GiB already allocated)"},
     "it ran out of memory while starting; close other programs that use the GPU"),
    (FakeCuda(available=False, warn="CUDA initialization: The NVIDIA driver on your system "
              "is too old (found version 11040). Please update your GPU driver by "
              "downloading and installing a new version."), {},
     "CUDA initialization: The NVIDIA driver on your system is too old (found version 11040)"),
])
@pytest.mark.parametrize("choice", ["auto", "cuda"])
def test_a_visible_but_unusable_gpu_falls_back_to_the_cpu(cuda, ones_error, reason, choice):
    got = pick_device(choice, fake_torch(cuda, ones_error=ones_error))
    assert got.device == "cpu" and got.fallback
    lead = "a CUDA GPU is visible but" if choice == "auto" else "CUDA was requested but"
    assert got.note == f"CPU: {lead} it cannot be used ({reason})"
    assert "\n" not in got.note


def test_device_failures_are_told_from_other_errors():
    assert is_device_failure(RuntimeError("CUDA out of memory. Tried to allocate 20 MiB"))
    assert is_device_failure(RuntimeError("MPS backend out of memory"))
    assert is_device_failure(type("OutOfMemoryError", (RuntimeError,), {})("x"))
    assert not is_device_failure(RuntimeError("size mismatch for denoiser.out.weight"))
    assert not is_device_failure(ValueError("CUDA"))


def test_session_falls_back_when_the_gpu_cannot_load_the_model(monkeypatch, official_checkpoint):
    """The probe passed, then the model did not fit: the session loads on the CPU and its
    note (hello, result info) says why, instead of failing every request."""
    import backend.pipeline.session as session_mod

    monkeypatch.setattr(session_mod, "pick_device",
                        lambda choice: DeviceChoice("cuda", "CUDA: NVIDIA Fake", False))
    real = session_mod.load_official
    devices = []

    def load(ckpt, root=None, device="cpu"):
        devices.append(device)
        if device == "cuda":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.50 GiB")
        return real(ckpt, root=root, device=device)

    monkeypatch.setattr(session_mod, "load_official", load)
    s = Session(SessionConfig(checkpoint=official_checkpoint, device="cuda"))
    assert (s.device, s.device_fallback) == ("cuda", False)
    engine = s.engine
    assert devices == ["cuda", "cpu"] and engine.device == "cpu"
    assert (s.device, s.device_fallback) == ("cpu", True)
    assert s.device_note == ("CPU: the CUDA GPU could not load the model (it ran out of "
                             "memory while starting; close other programs that use the GPU)")


def test_session_does_not_hide_other_load_errors(monkeypatch, official_checkpoint):
    import backend.pipeline.session as session_mod

    monkeypatch.setattr(session_mod, "pick_device",
                        lambda choice: DeviceChoice("cuda", "CUDA: NVIDIA Fake", False))

    def load(ckpt, root=None, device="cpu"):
        raise RuntimeError("Error(s) in loading state_dict: size mismatch")

    monkeypatch.setattr(session_mod, "load_official", load)
    with pytest.raises(RuntimeError, match="size mismatch"):
        _ = Session(SessionConfig(checkpoint=official_checkpoint, device="cuda")).engine
