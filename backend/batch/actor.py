"""The work one Ray actor does: keep a Session loaded, turn one line after another into motion.

`LineWorker` is plain Python (Ray wraps it with `ray.remote` in `runner`), so it is also
usable and testable without Ray. It receives the line's audio and transcript as bytes (a
cluster node need not see the driver's files), writes them to its own temporary folder
under their original names (transcript readers go by suffix), and returns the motions to
the driver, which writes every output file. An actor therefore never leaves a file behind
when it dies: the driver decides, once, that a line is complete.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .manifest import LineSpec


@dataclass
class LineJob:
    line: LineSpec
    audio: bytes
    transcript: bytes | None = None
    bvh_scale: float | None = None  # set: the actor also formats each take as BVH text


@dataclass
class LineOutcome:
    """What an actor sends back: the takes, or a code and one sentence."""

    id: str
    motions: list[Any] = field(default_factory=list)  # backend.motion.Motion per take
    bvh: list[str] = field(default_factory=list)  # per take, when the job asked for BVH
    info: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    code: str | None = None
    seconds: float = 0.0
    worker: str = ""


class LineWorker:
    """A loaded Session that generates lines one after another."""

    def __init__(self, config: Any, threads: int | None = None) -> None:
        self.threads = threads
        self.host = socket.gethostname()
        self.error: str | None = None
        self.tmp = Path(tempfile.mkdtemp(prefix="rag-gesture-actor-"))
        try:
            import torch

            if threads:
                torch.set_num_threads(threads)
            from ..pipeline.session import Session

            self.session = Session(config)
            self.session.engine  # noqa: B018 - load now: `ready` means the models are in memory
            self.session.frontend  # noqa: B018
        except Exception as exc:  # reported by `ready`, so the driver can say it once
            from ..worker.protocol import describe_exception

            self.error = describe_exception(exc)[1]

    def ready(self) -> dict[str, Any]:
        """Where this worker runs and whether its models loaded."""
        import torch

        return {"host": self.host, "pid": os.getpid(), "error": self.error,
                "threads": torch.get_num_threads(),
                "device": getattr(getattr(self, "session", None), "device_note", "")}

    def run(self, job: LineJob) -> LineOutcome:
        from rag_gesture_shared.protocol.speech import SpeechInput

        from ..pipeline.engine import GenerateOptions
        from ..pipeline.session import RetrievalOptions
        from ..retrieval.planner import parse_cue
        from ..worker.protocol import describe_exception

        line = job.line
        t0 = time.perf_counter()
        out = LineOutcome(line.id, worker=f"{self.host}:{os.getpid()}")
        folder = Path(tempfile.mkdtemp(dir=self.tmp))
        try:
            audio = folder / line.audio.name
            audio.write_bytes(job.audio)
            transcript = None
            if line.transcript is not None and job.transcript is not None:
                transcript = folder / line.transcript.name
                transcript.write_bytes(job.transcript)
            result = self.session.generate(
                SpeechInput(audio=audio, transcript=transcript, text=line.text,
                            allow_mismatch=line.allow_mismatch),
                GenerateOptions(speaker=line.speaker, seed=line.seed, takes=line.takes,
                                steps=line.steps, fps=line.fps),
                retrieval=RetrievalOptions(line.retrieval, line.db,
                                           [parse_cue(c) for c in line.cues],
                                           line.guidance_schedule))
            out.motions, out.info = result.motions, result.info
            if job.bvh_scale is not None:  # formatting is CPU work: spread it over actors
                from ..motion.bvh import bvh_text

                out.bvh = [bvh_text(m.poses, m.trans, m.fps, scale=job.bvh_scale)
                           for m in result.motions]
        except Exception as exc:
            code, message, log = describe_exception(exc, self.session.device)
            out.code, out.error = code, message
            if log:
                out.info["traceback"] = traceback.format_exc()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        out.seconds = time.perf_counter() - t0
        return out

    def __del__(self) -> None:
        shutil.rmtree(getattr(self, "tmp", ""), ignore_errors=True)
