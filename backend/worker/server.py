"""The worker loop: JSON lines in on stdin, events out on stdout, one Session for its life.

Threads: a reader thread owns stdin. It answers `ping` and handles `cancel`, `shutdown` and
end-of-file at once (so a long request can be stopped while it runs) and queues `generate`
and `regenerate`; the main thread runs queued requests in order, because torch work belongs
on one thread and the models stay loaded in one Session. Every stdout line is written under
one lock and flushed, and `sys.stdout` points at stderr meanwhile, so nothing but protocol
lines can reach the client's parser.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import IO, Any

from rag_gesture_shared.protocol import events as E
from rag_gesture_shared.protocol.envelope import (
    ProtocolError,
    decode_line,
    encode_line,
    message_id,
)

from .. import __version__
from ..motion.motion import Motion
from ..pipeline.regenerate import RegenerateOptions
from ..pipeline.session import Session, SessionConfig, check_request
from ..progress import Cancelled, check
from ..weights import locate
from . import protocol as P

# Overall fraction band of each pipeline stage; unknown stages hold the current fraction.
STAGE_BANDS: dict[str, tuple[float, float]] = {
    E.LOADING_STAGE: (0.0, 0.1),
    "audio features": (0.1, 0.3),
    "word timing": (0.3, 0.32),
    "word features": (0.32, 0.4),
    "generating": (0.4, 0.97),
    "saving": (0.97, 1.0),
}
MIN_STEP = 0.005  # smaller progress increments are not sent (keeps the pipe quiet)


class _Progress:
    """Maps (stage, stage fraction) to one non-decreasing overall fraction per request."""

    def __init__(self, worker: _Worker, request_id: str) -> None:
        self.worker = worker
        self.id = request_id
        self.stage: str | None = None
        self.value = 0.0
        self.sent = -1.0

    def __call__(self, stage: str, fraction: float) -> None:
        band = STAGE_BANDS.get(stage)
        value = self.value
        if band is not None:
            lo, hi = band
            value = lo + (hi - lo) * min(1.0, max(0.0, float(fraction)))
        self.value = max(self.value, value)
        if (stage != self.stage or self.value - self.sent >= MIN_STEP
                or (self.value >= 1.0 > self.sent)):
            self.stage, self.sent = stage, self.value
            self.worker.emit(E.progress(self.id, stage, self.value), scoped=True)


class _Worker:
    def __init__(self, config: SessionConfig, stdin: IO[Any], stdout: IO[Any],
                 hard_exit_after: float | None) -> None:
        self.config = config
        self.stdin = stdin
        self.out = stdout
        self.binary_out = isinstance(stdout, io.RawIOBase | io.BufferedIOBase)
        self.hard_exit_after = hard_exit_after
        self.session = Session(config)
        self.loaded = False
        self.cond = threading.Condition(threading.RLock())
        self.pending: deque[P.Request] = deque()
        self.current: P.Request | None = None
        self.stop = threading.Event()  # the running request's cancel flag
        self.closing = False  # EOF, shutdown or a dead pipe: no new work, no request events
        self.shutdown_id: str | None = None
        self.shutdown = False
        self.finished = False
        self.timer: threading.Timer | None = None
        self.seq = 0
        self.root = Path(tempfile.mkdtemp(prefix="rag-gesture-worker-",  # mode 0700
                                          dir=results_parent()))

    # ----- output ----------------------------------------------------------------------
    def emit(self, event: dict[str, Any], scoped: bool = False) -> bool:
        """Write one line; `scoped` events (about a request) are dropped once closing."""
        line = encode_line(event)
        with self.cond:
            if scoped and self.closing:
                return False
            try:
                self.out.write(line.encode("ascii") if self.binary_out else line)
                self.out.flush()
            except (OSError, ValueError):  # the parent is gone: stop as on end-of-file
                self.close(shutdown=False)
                return False
        return True

    # ----- reader thread ----------------------------------------------------------------
    def read_loop(self) -> None:
        while True:
            try:
                line = self.stdin.readline()
            except (OSError, ValueError):
                line = b""
            if not line:
                self.close(shutdown=False)
                return
            if not line.strip():
                continue
            self.handle_line(line)
            if self.closing:
                return

    def handle_line(self, line: str | bytes) -> None:
        msg: dict[str, Any] = {}
        try:
            msg = decode_line(line)
            req = P.parse_request(msg)
        except ProtocolError as exc:
            self.emit(E.error(message_id(msg), exc.code, exc.message))
            return
        if req.type == "ping":
            self.emit(E.pong(req.id))
        elif req.type == "cancel":
            assert req.target is not None
            self.cancel(req.target)
        elif req.type == "shutdown":
            self.close(shutdown=True, request_id=req.id)
        else:
            with self.cond:
                busy = [r.id for r in self.pending] + ([self.current.id] if self.current else [])
                if req.id in busy:
                    self.emit(E.error(req.id, "bad_request", f"the id '{req.id}' is already "
                                      "used by a queued or running request"))
                    return
                self.pending.append(req)
                self.cond.notify_all()

    def cancel(self, target: str) -> None:
        """Stop the running request, or drop a queued one; unknown or finished ids: nothing."""
        with self.cond:
            if self.current is not None and self.current.id == target:
                self.stop.set()
                return
            for req in self.pending:
                if req.id == target:
                    self.pending.remove(req)
                    self.emit(E.error(target, "cancelled", "the request was cancelled"),
                              scoped=True)
                    return

    def close(self, shutdown: bool, request_id: str | None = None) -> None:
        """End of input, `shutdown` or a dead pipe: cancel everything and let main() exit."""
        with self.cond:
            if self.closing:
                return
            self.closing = True
            self.shutdown, self.shutdown_id = shutdown, request_id
            self.pending.clear()
            self.stop.set()
            self.cond.notify_all()
            if self.hard_exit_after is not None:
                self.timer = threading.Timer(self.hard_exit_after, self.hard_exit)
                self.timer.daemon = True
                self.timer.start()

    def hard_exit(self) -> None:
        """Last resort when a stage does not notice the cancel in time (e.g. model loading)."""
        with self.cond:
            if self.finished:
                return
            self.finished = True
            if self.shutdown:
                with contextlib.suppress(OSError, ValueError):
                    line = encode_line(E.bye(self.shutdown_id))
                    self.out.write(line.encode("ascii") if self.binary_out else line)
                    self.out.flush()
        shutil.rmtree(self.root, ignore_errors=True)
        print("rag-gesture worker: a stage did not stop in time; exiting", file=sys.stderr)
        sys.stderr.flush()
        os._exit(0)

    # ----- main thread ------------------------------------------------------------------
    def run(self) -> int:
        try:
            import torch

            self.emit(E.hello(__version__, torch.__version__, self.session.device,
                              self.session.device_note, os.getpid(), self.weights_path(),
                              str(self.root), self.session.device_fallback))
            threading.Thread(target=self.read_loop, name="rag-gesture-stdin",
                             daemon=True).start()
            while True:
                with self.cond:
                    while not self.pending and not self.closing:
                        self.cond.wait()
                    if self.closing:
                        break
                    req = self.pending.popleft()
                    self.current, self.stop = req, threading.Event()
                    stop = self.stop
                try:
                    self.serve_request(req, stop)
                finally:
                    with self.cond:
                        self.current = None
            with self.cond:
                if self.shutdown and not self.finished:
                    self.emit(E.bye(self.shutdown_id))
                self.finished = True
            return 0
        finally:
            with self.cond:
                self.finished = True
                if self.timer is not None:
                    self.timer.cancel()
            shutil.rmtree(self.root, ignore_errors=True)

    def weights_path(self) -> str | None:
        """The checkpoint the first request will load, if one is found (cheap: no loading)."""
        if self.config.checkpoint:
            return str(Path(self.config.checkpoint).expanduser().resolve())
        found = locate(self.config.weights)
        return str(found.checkpoint.resolve()) if found else None

    def serve_request(self, req: P.Request, stop: threading.Event) -> None:
        assert req.id is not None and req.speech is not None and req.options is not None
        t0 = time.perf_counter()
        progress = _Progress(self, req.id)
        folder: Path | None = None
        try:
            check(stop.is_set, "the request")
            # every check that needs no model first: a typo should not wait for the models
            check_request(req.speech, req.retrieval)
            motion = self.load_motion(req) if req.type == "regenerate" else None
            if not self.loaded:  # once per worker: the models stay loaded afterwards
                progress(E.LOADING_STAGE, 0.0)
                _ = self.session.engine
                _ = self.session.frontend
                self.loaded = True
                progress(E.LOADING_STAGE, 1.0)
            check(stop.is_set, "the request")
            if req.type == "generate":
                res = self.session.generate(req.speech, req.options, progress, stop.is_set,
                                            retrieval=req.retrieval)
            else:
                assert isinstance(req.options, RegenerateOptions)
                assert motion is not None
                res = self.session.regenerate(req.speech, motion, req.start, req.end,
                                              req.options, progress, stop.is_set)
            check(stop.is_set, "the request")
            progress("saving", 0.0)
            self.seq += 1
            folder = self.root / f"{self.seq:05d}"
            folder.mkdir(mode=0o700)
            files = []
            for i, motion_out in enumerate(res.motions):
                path = folder / f"take_{i + 1}.npz"
                motion_out.save_npz(path)
                files.append(str(path.resolve()))
            first = res.motions[0]
            info = {**res.info, "fps": first.fps, "frames": first.num_frames,
                    "device": self.session.device,  # may differ from the hello's after a
                    "device_note": self.session.device_note,  # fallback at model loading
                    "device_fallback": self.session.device_fallback,
                    "seconds": round(time.perf_counter() - t0, 3)}
            progress("saving", 1.0)
            with self.cond:  # cancel wins until the result line is out
                check(stop.is_set, "the request")
                self.emit(E.result(req.id, files, info), scoped=True)
        except Exception as exc:
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
            code, message, log = P.describe_exception(exc, self.session.device)
            if log or not isinstance(exc, ProtocolError | Cancelled):
                print(f"rag-gesture worker: request '{req.id}' failed with {code}: {message}",
                      file=sys.stderr)
            if log:
                print(P.format_traceback(exc), file=sys.stderr)
            if code == "out_of_memory":
                self.free_cuda()
            self.emit(E.error(req.id, code, message), scoped=True)

    @staticmethod
    def load_motion(req: P.Request) -> Motion:
        assert req.motion is not None
        if not req.motion.is_file():
            raise ProtocolError("bad_motion", f"the motion file {req.motion} does not exist")
        motion = Motion.load_npz(req.motion)
        if req.end > motion.num_frames:
            raise ProtocolError("bad_request", f"regenerate request '{req.id}': the range "
                                  f"[{req.start}, {req.end}) is not inside the motion's "
                                  f"{motion.num_frames} frames")
        return motion

    @staticmethod
    def free_cuda() -> None:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def results_parent() -> str | None:
    """Where the private result folder goes: inside the client's folder when it names one
    (E.RESULTS_PARENT_ENV), else the system's temporary folder."""
    parent = os.environ.get(E.RESULTS_PARENT_ENV)
    return parent if parent and os.path.isdir(parent) else None


def serve(config: SessionConfig, stdin: IO[Any], stdout: IO[Any],
          hard_exit_after: float | None = None) -> int:
    """Serve the protocol until end of input or `shutdown`; returns the exit code (0).

    `stdin` may be text or binary (binary lets a line of bad UTF-8 get a `bad_message`
    instead of killing the reader). `hard_exit_after` (seconds, command line only) ends the
    process with os._exit if, after EOF or shutdown, the running stage ignores the cancel.
    """
    worker = _Worker(config, stdin, stdout, hard_exit_after)
    with contextlib.redirect_stdout(sys.stderr):
        return worker.run()
