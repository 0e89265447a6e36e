"""Installing, feeding and checking the backend: the commands "Set up backend", "Download
Weights" and "Check setup" run.

Plain Python (no bpy): the preferences show these commands before they run, and
`jobs.CommandJob` / `jobs.DownloadJob` run them. Paths in them come from `paths`.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence

from ..core.paths import pip_source, venv_python
from ..shared.requirements import PYTHON_VERSIONS, TORCH_REQUIREMENT
from .client import BACKEND_MODULE
from .jobs import sentence, without_terminal

__all__ = ["venv_python"]  # re-exported: the preferences find the made interpreter here


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
    cmds.append([py, "-m", "pip", "install", *(["-e"] if editable else []),
                 pip_source(backend_source)])
    return cmds


def base_python_candidates() -> list[str]:
    """Where a Python for the backend's venv may be: Blender's own first (always there, and
    a supported version: 3.11 in Blender 4.2-5.0, 3.13 in 5.1+), then the PATH's."""
    names = [f"python{a}.{b}" for a, b in reversed(PYTHON_VERSIONS)] + ["python3", "python"]
    found = [shutil.which(n) for n in names]
    return [sys.executable, *(f for f in found if f)]


def pick_base_python(candidates: Sequence[str],
                     probe: Callable[[str], tuple[int, int] | None]) -> str | None:
    """The first candidate whose `probe` (its version, None when it cannot run or has no
    venv module) is a supported version."""
    seen = set()
    for cand in candidates:
        if cand in seen:
            continue
        seen.add(cand)
        if probe(cand) in PYTHON_VERSIONS:
            return cand
    return None


@functools.lru_cache(maxsize=1)
def find_base_python() -> str:
    """The Python "Set up backend" makes the venv with (see `base_python_candidates`);
    Blender's own when nothing answers, so the command shown is never empty."""
    return pick_base_python(base_python_candidates(), python_version) or sys.executable


def python_version(python: str) -> tuple[int, int] | None:
    """(major, minor) of an interpreter that can make a venv, else None. A pyenv shim of a
    version that is not selected fails here, as it would when making the venv."""
    code = "import sys, venv, ensurepip; print(*sys.version_info[:2])"
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = out.stdout.split()
    if out.returncode != 0 or len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1])


def download_command(python: str, weights: str = "") -> list[str]:
    """"Download Weights": the weights (into `weights`, else the backend's default folder)
    and the speech models, with progress lines the add-on reads."""
    cmd = [python, "-m", BACKEND_MODULE, "download", "--progress", "json"]
    return cmd + (["--weights", weights] if weights else [])


def doctor_command(python: str, worker_args: Sequence[str]) -> list[str]:
    """`rag-gesture doctor` with the worker's own options (weights, device, speech models,
    SMPL-X file, downloads), so its verdict is about exactly what the worker will load."""
    return [python, "-m", BACKEND_MODULE, "doctor", *worker_args]


READY = "All good: the backend is ready."  # the verdict of a clean check


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
            out.append("The RAG-Gesture weights are missing: press Download Weights, or set "
                       "the Weights Folder to where they are.")
        elif s.startswith(("problem:", "warning:", "cannot load:")):
            out.append(sentence(without_terminal(s.split(":", 1)[1].strip())))
        elif s.startswith("weights:"):
            out.append("Weights: " + s[len("weights:"):].strip())
    if returncode == 0:
        out.append(READY)
    elif not out:
        tail = [ln for ln in lines if ln.strip()][-1:] or ["no output"]
        out.append(sentence(f"the check failed ({tail[0].strip()})"))
    return out
