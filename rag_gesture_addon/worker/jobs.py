"""Job controllers the modal operators drive: plain Python, testable without timers.

A job owns one request to the worker. The operator's ``modal()`` calls ``step()`` on every
TIMER event; ``step()`` never blocks: it drains the client's events, updates the progress
(stage, fraction), and when the result arrives loads the motion files and calls ``on_done``
(the keyframe writer) exactly once, in that same call, so the write happens inside the
operator and becomes one undo step. ``cancel()`` ends the job at once; the worker is told to
stop and whatever it still sends for that request is thrown away. Every failure ends the job
with one sentence in ``state.message``; ``on_done`` is then never called, so the scene is
untouched.

``CommandJob`` runs shell-free commands one after the other (backend set-up, ``doctor``)
with the same ``step()`` interface.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..shared.motion_file import read_motion_npz
from ..shared.protocol.download import DownloadUpdate
from ..shared.protocol.events import CRASHED
from ..shared.protocol.generate import GenerateRequest
from ..shared.protocol.regenerate import RegenerateRequest
from .client import WorkerClient, WorkerError

STARTING, RUNNING, DONE, CANCELLED, FAILED = "starting", "running", "done", "cancelled", "failed"
FINISHED = (DONE, CANCELLED, FAILED)


@dataclass
class JobState:
    status: str = STARTING
    stage: str = "starting the backend"
    fraction: float = 0.0
    message: str = ""

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


def sentence(text: str) -> str:
    """A message as one sentence: capital first letter, one full stop at the end."""
    text = " ".join(str(text).split())
    if not text:
        return "Something went wrong."
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def error_sentence(event: Mapping[str, Any]) -> str:
    """The user's sentence for a worker ``error`` event."""
    code = event.get("code")
    message = str(event.get("message") or "")
    if code == "transcript_mismatch":
        message = message.rstrip(". ") + (", or tick 'Ignore transcript mismatch' in the "
                                           "Gesture panel")
    elif code == "missing_weights":
        message = without_terminal(message)
        if "preferences" not in message:
            message = message.rstrip(". ") + " (the weights folder is set in the add-on " \
                "preferences)"
    return sentence(message or f"the gesture backend reported an error ({code})")


DOWNLOAD_HINT = "press Download Weights in the add-on preferences"
_TERMINAL_ADVICE = re.compile(
    r"[;,]?\s*(?:fetch them with|run|re-run) `rag-gesture download[^`]*`.*$")


def without_terminal(message: str) -> str:
    """The backend's advice to type `rag-gesture download` in a terminal, as what to press
    in Blender instead (the add-on's animators never need a terminal)."""
    cut = _TERMINAL_ADVICE.sub("", message)
    if cut == message:
        return message
    return cut.rstrip(" .;,") + "; " + DOWNLOAD_HINT


MotionDict = dict[str, Any]  # read_motion_npz: poses (N,55,3), trans, expressions, fps, ...
Writer = Callable[[list[MotionDict], dict[str, Any]], None]


def remove_result_files(files: Sequence[str]) -> None:
    """Delete a result's files and their request folder (the client may, per protocol)."""
    folders = set()
    for f in files:
        with contextlib.suppress(OSError):
            os.remove(f)
        folders.add(os.path.dirname(f))
    for d in folders:
        with contextlib.suppress(OSError):
            os.rmdir(d)


class GenerateJob:
    """One generate or regenerate request, from sending it to writing its result.

    The job gives `request` its id. `on_done(motions, info)` receives one motion dict per
    take (`read_motion_npz`), in take order.
    """

    def __init__(self, client: WorkerClient, request: GenerateRequest | RegenerateRequest,
                 on_done: Writer, *, start_timeout: float = 180.0, idle_timeout: float = 900.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.request_id = client.new_id(request.type)
        self.request = replace(request, id=self.request_id)
        self.on_done = on_done
        self.start_timeout = start_timeout
        self.idle_timeout = idle_timeout
        self.clock = clock
        self.state = JobState()
        self.sent = False
        self.motions: list[MotionDict] = []
        self.info: dict[str, Any] = {}
        self.files: list[str] = []
        self.warnings: list[str] = []
        self.crashed = False
        self._created = clock()
        self._last_event = self._created

    @property
    def kind(self) -> str:
        return self.request.type

    # ------------------------------------------------------------------ driving

    def step(self) -> JobState:
        """Advance without blocking; returns the state (``finished`` once it is over)."""
        if self.state.finished:
            return self.state
        try:
            self._step()
        except Exception as exc:  # never leave the operator with a traceback
            self._fail(f"the gesture job failed unexpectedly ({type(exc).__name__}: {exc})")
        return self.state

    def cancel(self) -> JobState:
        """Stop now: the scene stays as it is; the worker drops the request."""
        if not self.state.finished:
            if self.sent:
                self.client.cancel(self.request_id)
            self.state.status = CANCELLED
            self.state.message = "Cancelled; the scene was not changed."
        return self.state

    def _step(self) -> None:
        now = self.clock()
        result: dict[str, Any] | None = None
        for event in self.client.poll():
            kind = event.get("type")
            if kind == "exit" and not event.get("clean", True) and not self.sent:
                return self._fail(event.get("message") or "the gesture backend stopped")
            if event.get("id") != self.request_id:
                if kind == "result":  # an orphan (a cancelled request's late result)
                    remove_result_files(event.get("files") or [])
                continue
            self._last_event = now
            if kind == "progress":
                self.state.status = RUNNING
                self.state.stage = str(event.get("stage") or self.state.stage)
                with contextlib.suppress(TypeError, ValueError):
                    self.state.fraction = max(self.state.fraction,
                                              min(1.0, float(event.get("fraction", 0.0))))
            elif kind == "error":
                return self._fail(error_sentence(event), crashed=event.get("code") == CRASHED)
            elif kind == "result":
                result = event
        if result is not None:
            return self._finish(result)
        if not self.sent:
            self._send_when_ready(now)
        elif not self.client.alive and self.client.returncode is not None:
            # the reader thread posts the crash as an error event; wait for it briefly
            if now - self._last_event > 5.0:
                self._fail("the gesture backend stopped unexpectedly")
        elif now - self._last_event > self.idle_timeout:
            self.client.cancel(self.request_id)
            self._fail(f"the gesture backend sent nothing for {self.idle_timeout:.0f} s, so "
                       "the request was stopped")

    def _send_when_ready(self, now: float) -> None:
        if self.client.hello is None:
            if self.client.proc is not None and self.client.proc.poll() is not None:
                return  # the `exit` event with the reason arrives with the next poll
            if now - self._created > self.start_timeout:
                self._fail(f"the gesture backend did not start within {self.start_timeout:.0f} "
                           "s; its log is in " + str(self.client.log_path))
            return
        problem = self.client.check_hello()
        if problem:
            return self._fail(problem)
        try:
            self.client.send(self.request)
        except WorkerError as exc:
            return self._fail(str(exc))
        self.sent = True
        self.state.status = RUNNING
        self.state.stage = "sent"
        self._last_event = now

    def _finish(self, event: Mapping[str, Any]) -> None:
        self.files = [str(f) for f in event.get("files") or []]
        self.info = dict(event.get("info") or {})
        self.warnings = [str(w) for w in self.info.get("warnings") or []]
        try:
            self.motions = [read_motion_npz(f) for f in self.files]
        except Exception as exc:
            return self._fail(f"the backend's motion file could not be read ({exc})")
        finally:
            remove_result_files(self.files)
        if not self.motions:
            return self._fail("the gesture backend returned no motion")
        self.state.stage = "writing keyframes"
        self.state.fraction = 1.0
        try:
            self.on_done(self.motions, self.info)
        except Exception as exc:
            return self._fail(f"the motion could not be written to the armature ({exc})")
        self.state.status = DONE
        self.state.stage = "done"
        self.state.message = ""

    def _fail(self, message: str, crashed: bool = False) -> None:
        self.state.status = FAILED
        self.state.message = sentence(message)
        self.crashed = crashed


# ---------------------------------------------------------------------- active job registry

# One running job per slot: "generate" (Generate / Regenerate range) and "setup" (Set up
# backend / Check setup), so set-up can run next to a generation but never twice.
GENERATE, SETUP = "generate", "setup"
_active: dict[str, Any] = {}


def active_job(slot: str = GENERATE) -> Any:
    """The unfinished job of `slot` (a GenerateJob or CommandJob), else None."""
    job = _active.get(slot)
    return job if job is not None and not job.state.finished else None


def set_active(job: Any, slot: str = GENERATE) -> None:
    if job is None:
        _active.pop(slot, None)
    else:
        _active[slot] = job


def request_cancel(slot: str | None = None) -> bool:
    """Cancel the running job of `slot`, or of every slot (the Cancel button); True when
    there was one."""
    running = [active_job(s) for s in ((slot,) if slot else tuple(_active))]
    for job in running:
        if job is not None:
            job.cancel()
    return any(job is not None for job in running)


# ---------------------------------------------------------------------- commands


@dataclass
class CommandJob:
    """Commands run one after another without a shell; output lines are collected.

    Used for "Set up backend" (venv + pip), "Check setup" (``rag-gesture doctor``) and
    "Download Weights" (`DownloadJob`). A reader thread per command only puts raw lines on a
    queue; ``step()``, on the thread that drives the job (the modal operator's timer, i.e.
    Blender's main thread), moves them into ``lines``, so the UI never reads a list another
    thread is writing. `check_last=False` lets the last command fail without failing the
    job (a check whose verdict is read from its output).
    """

    commands: list[list[str]]
    env: dict[str, str] | None = None
    cwd: str | None = None
    timeout: float = 3600.0
    check_last: bool = True
    state: JobState = field(default_factory=lambda: JobState(stage="starting"))
    lines: list[str] = field(default_factory=list)
    returncode: int | None = None
    _index: int = -1
    _proc: subprocess.Popen | None = None
    _thread: threading.Thread | None = None
    _queue: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    _started: float = 0.0

    def step(self) -> JobState:
        if self.state.finished:
            return self.state
        self._drain()
        if self._proc is None or self._proc.poll() is not None:
            if self._proc is not None:
                if self._thread is not None:
                    self._thread.join(5)
                self._drain()
                self.returncode = self._proc.returncode
                last = self._index == len(self.commands) - 1
                if self.returncode != 0 and (self.check_last or not last):
                    return self._end(FAILED, self.failure(self.commands[self._index],
                                                          self.returncode))
            self._index += 1
            if self._index >= len(self.commands):
                return self._end(DONE, "")
            self._start(self.commands[self._index])
        elif time.monotonic() - self._started > self.timeout:
            self._proc.kill()
            return self._end(FAILED, f"'{shown(self.commands[self._index])}' took longer than "
                             f"{self.timeout:.0f} s")
        self.state.fraction = max(0, self._index) / max(1, len(self.commands))
        return self.state

    def failure(self, cmd: list[str], returncode: int) -> str:
        """The sentence for a failed command: its own last "error:" line when it printed one
        (pip's "ERROR: ...", the backend's "error: ..."), else the command and exit code."""
        started = max((i for i, ln in enumerate(self.lines) if ln.startswith("$ ")), default=0)
        said = [ln.split(":", 1)[1].strip() for ln in self.lines[started:]
                if ln.lower().startswith("error:") and ln.split(":", 1)[1].strip()]
        if said:
            return said[-1]
        return f"'{shown(cmd)}' failed with exit code {returncode}"

    def on_line(self, line: str) -> bool:
        """A subclass's look at each output line (main thread); True keeps it out of
        ``lines`` (e.g. a progress update that is shown, not logged)."""
        return False

    def _drain(self) -> None:
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                break
            if not self.on_line(line):
                self.lines.append(line)
        del self.lines[:-400]

    def run(self, poll: float = 0.1) -> JobState:
        """Run to the end, blocking (background mode and tests)."""
        while not self.step().finished:
            time.sleep(poll)
        return self.state

    def cancel(self) -> JobState:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()  # TerminateProcess on Windows: no POSIX signal needed
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(5)
        self._drain()
        return self._end(CANCELLED, "cancelled")

    def _start(self, cmd: list[str]) -> None:
        self.lines.append("$ " + shown(cmd))
        flags = getattr(subprocess, "CREATE_NO_WINDOW", 0) if sys.platform == "win32" else 0
        self.state.status = RUNNING
        self.state.stage = shown(cmd)
        self._started = time.monotonic()
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **(self.env or {})}
        env.pop("PYTHONHOME", None)
        try:
            self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, cwd=self.cwd, env=env,
                                          creationflags=flags)
        except OSError as exc:
            self._proc = None
            self._end(FAILED, f"'{cmd[0]}' cannot be run ({exc.strerror or exc})")
            return
        self._thread = threading.Thread(target=self._pump, args=(self._proc,), daemon=True)
        self._thread.start()

    def _pump(self, proc: subprocess.Popen) -> None:
        """Reader thread: raw lines onto the queue, nothing else."""
        assert proc.stdout is not None
        for raw in proc.stdout:
            self._queue.put(raw.decode("utf-8", errors="replace").rstrip())

    def _end(self, status: str, message: str) -> JobState:
        self.state.status = status
        self.state.message = sentence(message) if message else ""
        self.state.fraction = 1.0 if status == DONE else self.state.fraction
        return self.state


class DownloadJob(CommandJob):
    """"Download Weights": ``rag-gesture download --progress json`` (resumable: a cancel or
    a lost connection keeps what arrived, and the next run goes on from there), then
    ``rag-gesture doctor`` as the verdict (`check_last=False`: its findings are the result).
    The progress lines become the job's stage ("312 MB of 1.2 GB (26%), 8.3 MB/s") and
    fraction instead of log lines."""

    def __init__(self, download: list[str], doctor: list[str], **kwargs: Any) -> None:
        super().__init__([download, doctor], check_last=False, **kwargs)
        self.update: DownloadUpdate | None = None

    def on_line(self, line: str) -> bool:
        update = DownloadUpdate.from_line(line)
        if update is None:
            return False
        self.update = update
        return True

    def step(self) -> JobState:
        state = super().step()
        if not state.finished and self._index == 0 and self.update is not None:
            state.stage = "downloading: " + self.update.describe()
            state.fraction = self.update.fraction
        elif not state.finished and self._index == 1:
            state.stage = "checking the setup"
            state.fraction = 1.0
        return state

    @property
    def downloaded(self) -> bool:
        """The download command itself ended well (the doctor may still have findings)."""
        return self._index >= 1 and not (self.state.status == FAILED and self._index == 0)

    @property
    def doctor_lines(self) -> list[str]:
        """The doctor's output (after its "$ " line)."""
        marks = [i for i, ln in enumerate(self.lines) if ln.startswith("$ ")]
        return self.lines[marks[1] + 1:] if len(marks) > 1 else []


def shown(cmd: Sequence[str]) -> str:
    """A command as a user would type it (quoted where needed)."""
    import shlex

    if sys.platform == "win32":
        return subprocess.list2cmdline(list(cmd))
    return shlex.join(cmd)
