"""FBX on the studio's rig: drive the add-on's headless exporter in a separate Blender.

The backend never imports bpy. It starts `rag_gesture_addon/headless_fbx.py` once, either
in a Blender binary (`blender -b --factory-startup --python ...`) or in a Python that has the
`bpy` module, and sends it one job per finished line on stdin; a thread collects the
answers, so generation on the Ray actors goes on while Blender writes FBX files. Each file is
written to a temporary name beside its destination and renamed when Blender says it is done.
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import atomic_output

PREFIX = "RAG_GESTURE_FBX "
SCRIPT_NAME = "headless_fbx.py"


class FbxSetupError(ValueError):
    """FBX export cannot run (no Blender, no add-on, rig unusable): one sentence."""


def default_addon_dir() -> Path | None:
    """The add-on beside the backend in a source checkout (`rag_gesture_addon/`)."""
    here = Path(__file__).resolve().parents[2] / "rag_gesture_addon"
    return here if (here / SCRIPT_NAME).is_file() else None


def blender_command(blender: str | None, addon: Path | None, rig: Path,
                    armature: str | None) -> list[str]:
    """The command that runs the exporter; FbxSetupError says what is missing."""
    addon = addon or default_addon_dir()
    if addon is None or not (Path(addon) / SCRIPT_NAME).is_file():
        raise FbxSetupError("FBX export runs the Blender add-on's own code: pass --addon with "
                            "the add-on's folder (rag_gesture_addon/ in a source checkout, or "
                            "the installed extension's folder)")
    if not rig.is_file():
        raise FbxSetupError(f"the rig file {rig} does not exist")
    exe = blender or shutil.which("blender")
    if exe is None:
        raise FbxSetupError("FBX export needs Blender: pass --blender with a Blender "
                            "executable or a Python that has the bpy module")
    exe_path = shutil.which(exe) or exe
    try:
        probe = subprocess.run([exe_path, "--version"], capture_output=True, text=True,
                               timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FbxSetupError(f"cannot run {exe} ({exc})") from None
    version = (probe.stdout + probe.stderr).strip()
    script = str(Path(addon) / SCRIPT_NAME)
    extra = ["--armature", armature] if armature else []
    if version.startswith("Blender"):
        return [exe_path, "-b", "--factory-startup", "--python-exit-code", "1",
                "--python", script, "--", str(rig), *extra]
    if version.startswith("Python"):
        return [exe_path, script, str(rig), *extra]
    raise FbxSetupError(f"{exe} is neither Blender nor Python (it says {version[:60]!r})")


@dataclass
class FbxJob:
    key: Any  # the caller's handle (line id, take)
    npz: Path
    fbx: Path
    name: str


@dataclass
class FbxDone:
    key: Any
    fbx: Path
    ok: bool
    error: str | None = None
    info: dict[str, Any] = field(default_factory=dict)


class FbxExporter:
    """One headless Blender, fed jobs in order from a thread; results come back on a queue."""

    def __init__(self, command: list[str], restarts: int = 2) -> None:
        self.command = command
        self.restarts = restarts
        self.jobs: queue.Queue[FbxJob | None] = queue.Queue()
        self.results: queue.Queue[FbxDone] = queue.Queue()
        self.proc: subprocess.Popen[str] | None = None
        self.ready_info: dict[str, Any] = {}
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- the Blender process
    def _read_answer(self) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:
            if raw.startswith(PREFIX):
                return json.loads(raw[len(PREFIX):])
        code = self.proc.wait()
        raise FbxSetupError(f"Blender stopped (exit code {code}) before answering")

    def start(self) -> dict[str, Any]:
        """Start Blender and load the rig; FbxSetupError with Blender's sentence if it fails."""
        self.proc = subprocess.Popen(self.command, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, bufsize=1)
        info = self._read_answer()
        if not info.get("ready"):
            self.close()
            raise FbxSetupError(f"the rig cannot take motion: {info.get('error')}")
        self.ready_info = info
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, daemon=True)
            self._thread.start()
        return info

    def _export(self, job: FbxJob) -> FbxDone:
        assert self.proc is not None and self.proc.stdin is not None
        with atomic_output(job.fbx, fsync=True) as tmp:
            self.proc.stdin.write(json.dumps({"npz": str(job.npz), "fbx": str(tmp),
                                              "name": job.name}) + "\n")
            self.proc.stdin.flush()
            reply = self._read_answer()
            if not reply.get("ok"):
                raise RuntimeError(reply.get("error") or "Blender could not export the FBX")
        return FbxDone(job.key, job.fbx, True, info=reply)

    def _serve(self) -> None:
        while (job := self.jobs.get()) is not None:
            try:
                done = self._export(job)
            except RuntimeError as exc:
                done = FbxDone(job.key, job.fbx, False, str(exc))
            except (OSError, ValueError, FbxSetupError) as exc:  # Blender died: restart it
                done = FbxDone(job.key, job.fbx, False, f"Blender stopped while exporting "
                               f"({exc})")
                self.close()
                if self.restarts > 0:
                    self.restarts -= 1
                    try:
                        self.start()
                    except (OSError, FbxSetupError):
                        pass
            self.results.put(done)

    # ---------------------------------------------------------------- caller side
    def submit(self, job: FbxJob) -> None:
        self.jobs.put(job)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                if self.proc.stdin:
                    self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()

    def shutdown(self, wait: bool = True) -> None:
        """Stop after the queued jobs (wait) or at once."""
        if not wait and self.proc is not None:
            self.proc.kill()
        self.jobs.put(None)
        if self._thread is not None and wait:
            self._thread.join()
        self.close()
