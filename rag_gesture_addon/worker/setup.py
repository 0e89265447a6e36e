"""Installing and checking the backend: the commands "Set up backend" and "Check setup" run.

Plain Python (no bpy): the preferences show these commands before they run, and
`jobs.CommandJob` runs them.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from ..shared.requirements import TORCH_REQUIREMENT
from .client import BACKEND_MODULE
from .jobs import sentence


def venv_python(venv: str | os.PathLike[str]) -> str:
    """The interpreter inside a venv folder."""
    if sys.platform == "win32":
        return str(Path(venv) / "Scripts" / "python.exe")
    return str(Path(venv) / "bin" / "python")


def setup_commands(base_python: str, venv: str, backend_source: str,
                   torch_spec: str = TORCH_REQUIREMENT, torch_index: str = "",
                   editable: bool = False) -> list[list[str]]:
    """The exact commands "Set up backend" runs (shown to the user before they run)."""
    py = venv_python(venv)
    cmds = []
    if not os.path.isfile(py):
        cmds.append([base_python, "-m", "venv", venv])
    torch = [py, "-m", "pip", "install", torch_spec]
    if torch_index:
        torch += ["--index-url", torch_index]
    cmds.append(torch)
    cmds.append([py, "-m", "pip", "install", *(["-e"] if editable else []), backend_source])
    return cmds


@functools.lru_cache(maxsize=1)
def find_base_python() -> str:
    """A Python 3.11 to create the backend venv with: python3.11 on PATH, else our own."""
    for name in ("python3.11", "python3", "python"):
        found = shutil.which(name)
        if found and _is_py311(found):
            return found
    return sys.executable


def _is_py311(python: str) -> bool:
    try:
        out = subprocess.run([python, "-c", "import sys; print(sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.stdout.strip() == "(3, 11)"


def doctor_command(python: str, worker_args: Sequence[str]) -> list[str]:
    """`rag-gesture doctor` with the worker's own options (weights, device, speech models,
    SMPL-X file, downloads), so its verdict is about exactly what the worker will load."""
    return [python, "-m", BACKEND_MODULE, "doctor", *worker_args]


def doctor_findings(lines: Sequence[str], returncode: int | None) -> list[str]:
    """The doctor's output as plain sentences: what is missing and what to do."""
    out: list[str] = []
    text = "\n".join(lines)
    if "No module named 'backend'" in text or "No module named backend" in text:
        return ["The backend is not installed in this interpreter: press Set up backend."]
    if "No module named 'torch'" in text and "MISSING" not in text:
        return ["PyTorch is not installed in this interpreter: press Set up backend."]
    for ln in lines:
        s = ln.strip()
        if "MISSING" in s:
            out.append(f"Missing Python package: {s.split()[0]} (press Set up backend).")
        elif s.startswith("device:"):
            out.append("Device: " + s[len("device:"):].strip() + ".")
        elif s.startswith("No RAG-Gesture weights found"):
            out.append("The RAG-Gesture weights are missing: set the weights folder, or run "
                       "`rag-gesture download` with the backend interpreter.")
        elif s.startswith(("problem:", "warning:", "cannot load:")):
            out.append(sentence(s.split(":", 1)[1].strip()))
        elif s.startswith("weights:"):
            out.append("Weights: " + s[len("weights:"):].strip())
    if returncode == 0:
        out.append("All good: the backend is ready.")
    elif not out:
        tail = [ln for ln in lines if ln.strip()][-1:] or ["no output"]
        out.append(sentence(f"the check failed ({tail[0].strip()})"))
    return out
