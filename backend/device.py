"""Which torch device runs the models, and one sentence that says why.

The worker announces the sentence in its hello, `rag-gesture doctor` prints it, and a CUDA
request without a CUDA GPU falls back to the CPU instead of failing.
"""

from __future__ import annotations

DEVICE_CHOICES = ("auto", "cpu", "cuda")  # the --device option of every command


def pick_device(choice: str = "auto") -> tuple[str, str]:
    """(device, sentence): CUDA when asked or available, else CPU, saying why."""
    import torch  # here, so the command line can list DEVICE_CHOICES without loading torch

    if choice == "cpu":
        return "cpu", "CPU (as requested)"
    if torch.cuda.is_available():
        return "cuda", f"CUDA: {torch.cuda.get_device_name(0)}"
    if choice == "cuda":
        return "cpu", "CPU: CUDA was requested but this torch build sees no CUDA GPU"
    return "cpu", "CPU (no CUDA GPU visible to torch)"
