"""FBX on the studio's rig: drive the add-on's headless exporter in a separate Blender.

The backend never imports bpy. It starts `rag_gesture_addon/scene/headless_fbx.py` once, either
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

from rag_gesture_shared.atomic_file import atomic_path

PREFIX = "RAG_GESTURE_FBX "
SCRIPT_NAME = "scene/headless_fbx.py"  # inside the add-on folder


class FbxSetupError(ValueError):
    """FBX export cannot run (no Blender, no add-on, rig unusable): one sentence."""


def default_addon_dir() -> Path | None:
    """The add-on that came with this backend: `rag_gesture_addon/` beside `backend/` in a
    source checkout, or the extension folder around `backend_src/` in an installed one."""
    top = Path(__file__).resolve().parents[2]
    for here in (top / "rag_gesture_addon", top.parent):
        if (here / SCRIPT_NAME).is_file():
            return here
    return None


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


class _Blender:
    """One headless Blender with the rig loaded, answering one job at a time."""

    def __init__(self, command: list[str]) -> None:
        self.command = command
        self.proc: subprocess.Popen[str] | None = None

    def _read_answer(self) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:
            if raw.startswith(PREFIX):
                return json.loads(raw[len(PREFIX):])
        code = self.proc.wait()
        raise FbxSetupError(f"Blender stopped (exit code {code}) before answering")

    def start(self) -> dict[str, Any]:
        """Start Blender and load the rig; FbxSetupError with Blender's sentence if it fails."""
        # Own session: a Ctrl-C in the terminal reaches the batch, which stops Blender itself.
        self.proc = subprocess.Popen(self.command, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, bufsize=1, start_new_session=True)
        info = self._read_answer()
        if not info.get("ready"):
            self.close()
            raise FbxSetupError(f"the rig cannot take motion: {info.get('error')}")
        return info

    def export(self, job: FbxJob) -> FbxDone:
        """RuntimeError: Blender could not export (it goes on); OSError/FbxSetupError: it died."""
        assert self.proc is not None and self.proc.stdin is not None
        with atomic_path(job.fbx) as tmp:
            self.proc.stdin.write(json.dumps({"npz": str(job.npz), "fbx": str(tmp),
                                              "name": job.name}) + "\n")
            self.proc.stdin.flush()
            reply = self._read_answer()
            if not reply.get("ok"):
                raise RuntimeError(reply.get("error") or "Blender could not export the FBX")
        return FbxDone(job.key, job.fbx, True, info=reply)

    def close(self, kill: bool = False) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        if kill:
            self.proc.kill()
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


class FbxExporter:
    """`processes` headless Blenders fed from one job queue; results come back on a queue.

    A Blender that dies is restarted (at most `restarts` times in all); its job fails with
    one sentence and the rest go on.
    """

    def __init__(self, command: list[str], processes: int = 1, restarts: int = 2) -> None:
        self.command = command
        self.restarts = restarts
        self.jobs: queue.Queue[FbxJob | None] = queue.Queue()
        self.results: queue.Queue[FbxDone] = queue.Queue()
        self.blenders = [_Blender(command) for _ in range(max(1, processes))]
        self.ready_info: dict[str, Any] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._stopping = False

    def start(self) -> dict[str, Any]:
        """Start every Blender (FbxSetupError if the rig cannot take motion)."""
        try:
            for b in self.blenders:
                self.ready_info = b.start()
        except BaseException:
            for b in self.blenders:
                b.close(kill=True)
            raise
        for b in self.blenders:
            t = threading.Thread(target=self._serve, args=(b,), daemon=True)
            t.start()
            self._threads.append(t)
        return self.ready_info

    def _restart(self, blender: _Blender) -> None:
        blender.close(kill=True)
        with self._lock:
            if self.restarts <= 0 or self._stopping:
                return
            self.restarts -= 1
        try:
            blender.start()
        except (OSError, FbxSetupError):
            pass

    def _serve(self, blender: _Blender) -> None:
        while (job := self.jobs.get()) is not None:
            try:
                done = blender.export(job)
            except RuntimeError as exc:
                done = FbxDone(job.key, job.fbx, False, str(exc))
            except (OSError, ValueError, FbxSetupError) as exc:
                done = FbxDone(job.key, job.fbx, False, f"Blender stopped while exporting "
                               f"({exc})")
                self._restart(blender)
            self.results.put(done)

    def submit(self, job: FbxJob) -> None:
        self.jobs.put(job)

    def shutdown(self, wait: bool = True) -> None:
        """Stop after the queued jobs (wait) or at once (kill Blender; temp files go)."""
        if not wait:
            self._stopping = True
            for b in self.blenders:
                b.close(kill=True)
        for _ in self._threads:
            self.jobs.put(None)
        for t in self._threads:
            t.join(timeout=None if wait else 10)
        for b in self.blenders:
            b.close()
