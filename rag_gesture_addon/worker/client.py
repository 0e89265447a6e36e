"""The process boundary: start the torch worker, send JSON-lines requests, poll its events.

Plain Python (no ``bpy``), so it runs inside Blender's Python, in tests and from scripts. The
worker is ``<python> -m backend.cli [--threads N] worker <args>`` (docs/protocol.md). Its
stdout carries one JSON event per line; a reader thread parses them onto a queue and
``poll()`` drains that queue without blocking, so a modal operator's timer can call it. The
reader thread never touches Blender.

How the worker finds the backend: ``backend_root`` (a folder that holds ``backend/``, e.g. the
``backend_src`` folder shipped in the extension zip, or the repository root) is put first on
``PYTHONPATH`` and used as the working directory. Without it, the interpreter must have the
backend installed (``pip install`` of the backend source, as "Set up backend" does).

A worker that dies (crash, out of memory, killed) is noticed when its stdout closes: every
request still waiting gets an ``error`` event with code ``worker_crashed`` and a sentence a
user can read, followed by one ``exit`` event.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..core.paths import search_path
from ..shared.motion_file import write_motion_npz
from ..shared.protocol import events
from ..shared.protocol.control import CancelRequest, PingRequest, ShutdownRequest
from ..shared.protocol.envelope import ProtocolError, decode_line, encode_line
from ..shared.protocol.requests import Request

BACKEND_MODULE = "backend.cli"  # run with `<python> -m`
LOG_TAIL_CHARS = 4000


class WorkerError(RuntimeError):
    """The worker cannot be started or written to; the message is one sentence."""


@dataclass(frozen=True)
class DeviceState:
    """Where the worker runs the model, as its hello (or a later result) says."""

    device: str
    note: str
    fallback: bool  # a GPU was asked for or visible, but the CPU runs: show `note`


def device_of(fields: Mapping[str, Any]) -> DeviceState:
    return DeviceState(str(fields.get("device") or "?"), str(fields.get("device_note") or ""),
                       bool(fields.get("device_fallback")))


@dataclass
class WorkerConfig:
    """Everything that decides how the worker process is started (compared for restarts)."""

    python: str
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    backend_root: str | None = None
    threads: int | None = None

    def key(self) -> tuple:
        return (self.python, tuple(self.args), tuple(sorted(self.env.items())),
                self.backend_root, self.threads)


def worker_command(python: str, args: Sequence[str], threads: int | None = None) -> list[str]:
    """The command line: global options (``--threads``) go before the ``worker`` subcommand."""
    cmd = [python, "-m", BACKEND_MODULE]
    if threads:
        cmd += ["--threads", str(int(threads))]
    return [*cmd, "worker", *args]


def child_environment(extra: Mapping[str, str] | None = None,
                      backend_root: str | None = None,
                      threads: int | None = None) -> dict[str, str]:
    """The worker's environment: ours, minus what would make another Python misbehave."""
    env = dict(os.environ)
    # Blender (or a venv's activate script) may point these at its own Python; the backend's
    # interpreter must use its own standard library and site-packages.
    for name in ("PYTHONHOME", "PYTHONEXECUTABLE", "PYTHONSTARTUP", "__PYVENV_LAUNCHER__"):
        env.pop(name, None)
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("PYTHONIOENCODING", "utf-8")
    if threads:
        env["OMP_NUM_THREADS"] = str(int(threads))
        env["MKL_NUM_THREADS"] = str(int(threads))
    if backend_root:
        env["PYTHONPATH"] = search_path(backend_root, env.get("PYTHONPATH"))
    env.update(extra or {})
    return env


# Windows reports a crash as an NTSTATUS exit code, not a signal.
WINDOWS_CRASHES = {0xC0000005: "access violation", 0xC00000FD: "stack overflow",
                   0xC0000409: "stack buffer overrun", 0xC0000017: "out of memory",
                   0xC000012D: "out of memory (the page file is full)",
                   0xC000013A: "stopped with Ctrl+C", 0xC0000135: "a DLL was not found",
                   0xC000001D: "illegal instruction"}


def how_it_ended(returncode: int | None) -> str:
    """"was killed (SIGKILL)", "crashed (Windows status 0xC0000005: access violation)",
    "exited with code 1" or "stopped answering"."""
    if returncode is None:
        return "stopped answering"
    if returncode < 0:  # POSIX: killed by a signal
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"was killed ({name})"
    if returncode >= 0xC0000000:  # Windows: an NTSTATUS error code
        what = WINDOWS_CRASHES.get(returncode)
        return f"crashed (Windows status 0x{returncode:08X}" + (f": {what})" if what else ")")
    return f"exited with code {returncode}"


def describe_exit(returncode: int | None, log_tail: str, before_hello: bool) -> str:
    """One sentence about a worker that stopped on its own."""
    how = how_it_ended(returncode)
    reason = last_error_line(log_tail)
    if before_hello:
        hint = ("check the backend Python interpreter in the add-on preferences "
                "(Check setup shows what is missing)")
        msg = f"The gesture backend could not start: it {how}"
    else:
        hint = "the scene was not changed; press Generate again to restart it"
        msg = f"The gesture backend stopped unexpectedly: it {how}"
    if reason:
        msg += f" ({reason})"
    return f"{msg}; {hint}."


def last_error_line(log_tail: str) -> str:
    """The most telling line of a log: the last exception line, else the last line."""
    lines = [ln.strip() for ln in log_tail.splitlines() if ln.strip()]
    for ln in reversed(lines):
        head = ln.split(":", 1)[0]
        if head.endswith(("Error", "Exception")) or head in ("Killed", "Segmentation fault"):
            return ln[:200]
    return lines[-1][:200] if lines else ""


class WorkerClient:
    """One worker process and its event queue.

    ``send`` and ``poll`` are meant for one consumer at a time (the add-on runs one job at a
    time); ``poll`` returns every event, including ``hello``, ``pong`` and events about other
    requests, and the consumer picks what it needs.
    """

    def __init__(self, python: str, args: Sequence[str], env: Mapping[str, str] | None = None,
                 *, backend_root: str | None = None, threads: int | None = None,
                 start: bool = True) -> None:
        self.config = WorkerConfig(python=python, args=list(args), env=dict(env or {}),
                                   backend_root=backend_root, threads=threads)
        self.hello: dict[str, Any] | None = None
        self.device: DeviceState | None = None  # from the hello, updated by results
        self.returncode: int | None = None
        self.proc: subprocess.Popen | None = None
        self._events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._stopping = False
        self._exited = threading.Event()
        self.tempdir = Path(tempfile.mkdtemp(prefix="rag-gesture-client-"))
        self.log_path = self.tempdir / "worker.log"
        self._log = None
        self.started_at = 0.0
        if start:
            self.start()

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def from_config(cls, config: WorkerConfig, start: bool = True) -> WorkerClient:
        return cls(config.python, config.args, config.env, backend_root=config.backend_root,
                   threads=config.threads, start=start)

    @property
    def command(self) -> list[str]:
        return worker_command(self.config.python, self.config.args, self.config.threads)

    def start(self) -> None:
        """Start the process; WorkerError with a sentence when the interpreter cannot run."""
        if self.proc is not None:
            raise WorkerError("this worker client was already started")
        python = self.config.python
        if not python:
            raise WorkerError("No backend Python interpreter is set; set it in the add-on "
                              "preferences or press Set up backend.")
        if os.path.sep in python and not os.path.isfile(python):
            raise WorkerError(f"The backend Python interpreter {python} does not exist; fix "
                              "the path in the add-on preferences or press Set up backend.")
        cwd = self.config.backend_root if self.config.backend_root and os.path.isdir(
            self.config.backend_root) else None
        env = child_environment(self.config.env, self.config.backend_root, self.config.threads)
        results = self.tempdir / "results"  # the worker's result folder goes in here
        results.mkdir(mode=0o700, exist_ok=True)
        env[events.RESULTS_PARENT_ENV] = str(results)
        self._log = open(self.log_path, "wb")  # closed by the reader thread
        flags = 0
        if sys.platform == "win32":  # no console window pops up for the child
            flags = getattr(subprocess, "CREATE_NO_WINDOW", 0)
        try:
            self.proc = subprocess.Popen(self.command, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=self._log, cwd=cwd,
                                         env=env, creationflags=flags)
        except OSError as exc:
            self._log.close()
            self._exited.set()
            raise WorkerError(f"The backend Python interpreter {python} cannot be run "
                              f"({exc.strerror or exc}); fix the path in the add-on "
                              "preferences.") from None
        self.started_at = time.monotonic()
        threading.Thread(target=self._read, name="rag-gesture-worker-reader",
                         daemon=True).start()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None and not self._exited.is_set()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def wait_hello(self, timeout: float = 120.0) -> dict[str, Any]:
        """Block until ``hello`` (for scripts and tests; the add-on polls instead)."""
        deadline = time.monotonic() + timeout
        held: list[dict[str, Any]] = []
        try:
            while self.hello is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise WorkerError(f"The gesture backend did not start within {timeout:g} s.")
                try:
                    event = self._events.get(timeout=min(left, 0.2))
                except queue.Empty:
                    continue
                held.append(event)
                if event.get("type") == "exit":
                    raise WorkerError(event["message"])
        finally:
            for event in held:  # poll() still sees them
                self._events.put(event)
        return self.hello

    def check_hello(self) -> str | None:
        """None when the worker speaks our protocol, else a sentence saying what to update."""
        return events.hello_problem(self.hello)

    def stop(self, timeout: float = 3.0) -> None:
        """``shutdown``, then end of input: the worker ends itself, on every platform, with
        no signal. Only one that does not exit in time is terminated, then killed (on
        Windows both are TerminateProcess)."""
        proc = self.proc
        self._stopping = True
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(OSError, ValueError, WorkerError):
                self._write(ShutdownRequest(id="shutdown"))
            with contextlib.suppress(OSError, ValueError):
                proc.stdin.close()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
        self._cleanup()

    def kill(self) -> None:
        """Kill at once (no shutdown); the client removes the worker's result folder."""
        self._stopping = True
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._cleanup()

    def _cleanup(self) -> None:
        """Remove the client's own folder, which holds the worker's result folder too (a
        killed worker cannot clean up). A path the child reports is never removed: only
        the folder this client created."""
        if self.proc is not None:
            self._exited.wait(5)  # the reader thread closes the log and posts `exit`
        shutil.rmtree(self.tempdir, ignore_errors=True)

    # ------------------------------------------------------------------ requests

    def new_id(self, prefix: str = "req") -> str:
        return f"{prefix}-{os.getpid()}-{next(self._ids)}"

    def send(self, request: Request) -> str:
        """Write one request (given an id when it has none); returns the id."""
        if not request.id and request.type != "cancel":
            request = replace(request, id=self.new_id(request.type))
        rid = request.id
        if request.type in ("generate", "regenerate"):
            with self._lock:
                self._pending.add(rid)
        try:
            self._write(request)
        except WorkerError:
            with self._lock:
                self._pending.discard(rid)
            raise
        return rid

    def cancel(self, request_id: str) -> None:
        """Ask the worker to stop a request; a cancelled or finished one is fine to cancel."""
        if self.alive:
            with contextlib.suppress(WorkerError):
                self._write(CancelRequest(target=request_id))

    def ping(self) -> str:
        return self.send(PingRequest())

    def _write(self, request: Request) -> None:
        proc = self.proc
        if proc is None or proc.stdin is None or proc.poll() is not None:
            raise WorkerError("The gesture backend is not running.")
        try:
            line = encode_line(request.to_message())
        except ValueError as exc:  # NaN or infinity somewhere: JSON cannot carry them
            raise WorkerError(f"The request could not be sent ({exc}).") from None
        try:
            proc.stdin.write(line.encode("ascii"))
            proc.stdin.flush()
        except (OSError, ValueError):
            raise WorkerError("The gesture backend stopped accepting requests.") from None

    def poll(self) -> list[dict[str, Any]]:
        """Every event that arrived since the last call; never blocks."""
        out = []
        while True:
            try:
                out.append(self._events.get_nowait())
            except queue.Empty:
                return out

    # ------------------------------------------------------------------ files

    def private_path(self, name: str) -> Path:
        """A path in the client's private temporary folder (deleted by ``stop``)."""
        return self.tempdir / name

    def write_motion(self, name: str, poses: Any, trans: Any, expressions: Any,
                     fps: float) -> Path:
        """Write a motion (e.g. the input of a ``regenerate``) as a BEAT2 .npz in the private
        folder; the file is the client's, the worker only reads it."""
        path = self.private_path(name)
        write_motion_npz(path, poses, trans, expressions, fps)
        return path

    def log_tail(self, chars: int = LOG_TAIL_CHARS) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                size = fh.tell()
                fh.seek(max(0, size - chars))
                return fh.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    # ------------------------------------------------------------------ reader thread

    def _read(self) -> None:
        proc = self.proc
        assert proc is not None and proc.stdout is not None
        try:
            for raw in proc.stdout:
                try:
                    event = decode_line(raw)
                except ProtocolError:
                    continue  # not a protocol line; the worker keeps stdout clean
                kind = event.get("type")
                if kind == "hello":
                    self.hello = event
                    self.device = device_of(event)
                elif kind == "result" and isinstance(event.get("info"), dict) \
                        and "device" in event["info"]:
                    self.device = device_of(event["info"])  # may change at model loading
                if kind in ("result", "error") and event.get("id") is not None:
                    with self._lock:
                        self._pending.discard(event["id"])
                self._events.put(event)
        except (OSError, ValueError):
            pass
        try:
            self.returncode = proc.wait(10)
        except subprocess.TimeoutExpired:
            self.returncode = None
        with contextlib.suppress(OSError):
            self._log.close()
        clean = self._stopping or (self.returncode == 0 and self.hello is not None)
        message = "" if clean else describe_exit(self.returncode, self.log_tail(),
                                                 before_hello=self.hello is None)
        with self._lock:
            pending, self._pending = sorted(self._pending), set()
        if not clean:
            for rid in pending:
                self._events.put(events.error(rid, events.CRASHED, message))
        self._events.put(events.exit_event(self.returncode, clean, message))
        self._exited.set()


# ---------------------------------------------------------------------- the add-on's worker

_worker: WorkerClient | None = None
_last_exit: str = ""


def current_worker() -> WorkerClient | None:
    """The add-on's worker, if one was started (alive or not)."""
    return _worker


def ensure_worker(config: WorkerConfig) -> WorkerClient:
    """The running worker for `config`; (re)started when there is none, it died, or the
    configuration changed (another interpreter, weights folder, device...)."""
    global _worker
    if _worker is not None and _worker.alive and _worker.config.key() == config.key():
        return _worker
    stop_worker()
    _worker = WorkerClient.from_config(config)
    return _worker


_scratch: str | None = None


def scratch_dir() -> str:
    """A private folder for files the add-on hands to the worker that must outlive a worker
    restart (copies of packed sounds); removed by `remove_scratch` when the add-on is
    disabled."""
    global _scratch
    if _scratch is None or not os.path.isdir(_scratch):
        _scratch = tempfile.mkdtemp(prefix="rag-gesture-addon-")
    return _scratch


def remove_scratch() -> None:
    global _scratch
    if _scratch is not None:
        shutil.rmtree(_scratch, ignore_errors=True)
        _scratch = None


def stop_worker(timeout: float = 3.0) -> None:
    global _worker, _last_exit
    if _worker is not None:
        w, _worker = _worker, None
        w.stop(timeout)
        _last_exit = ""


def device_warning() -> str:
    """The worker's sentence when it runs on the CPU instead of the GPU asked for (or one it
    sees but cannot use), else ""."""
    w = _worker
    state = w.device if w is not None else None
    if state is None or not state.fallback or not state.note:
        return ""
    return state.note.rstrip(".") + "."


def worker_status() -> str:
    """One line for the panel: running (device, version), starting, stopped or crashed."""
    w = _worker
    if w is None:
        return _last_exit or "Not running (starts with the first Generate)"
    if w.alive:
        if w.hello is None:
            return "Starting..."
        h = w.hello
        return f"Running on {h.get('device', '?')}, backend {h.get('version', '?')}"
    if w.hello is None and w.returncode is None and w.proc is not None:
        return "Stopping..."
    tail = w.log_tail()
    return describe_exit(w.returncode, tail, before_hello=w.hello is None)
