"""What a batch tells its user: the JSON-lines report, the progress bar, the actor states.

The report gets one row per manifest line as soon as the line is settled (done, skipped,
failed, cancelled), so a crash or Ctrl-C leaves every finished line on record. Each row is
written with a single `write` and flushed. The previous run's report is kept beside it as
`report.previous.jsonl`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from rag_gesture_shared.atomic_file import write_text


class Report:
    """Append-only JSON lines: id, status, seconds, outputs, warnings, error."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.previous: Path | None = None
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            self.previous = path.with_name(f"{path.stem}.previous{path.suffix}")
            os.replace(path, self.previous)
        self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 - open for the whole run
        self.counts: dict[str, int] = {}

    def row(self, line_id: str, status: str, seconds: float = 0.0,
            outputs: list[str] | None = None, warnings: list[str] | None = None,
            error: str | None = None, **extra: Any) -> None:
        data = {"id": line_id, "status": status, "seconds": round(seconds, 3),
                "outputs": outputs or [], "warnings": warnings or []}
        if error is not None:
            data["error"] = error
        data.update({k: v for k, v in extra.items() if v is not None})
        self._fh.write(json.dumps(data) + "\n")
        self._fh.flush()
        self.counts[status] = self.counts.get(status, 0) + 1

    def close(self) -> None:
        self._fh.close()


def read_report(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


@dataclass
class ActorState:
    """One actor as the driver sees it (for the status file and the per-actor table)."""

    name: str
    state: str = "starting"  # starting / idle / busy / dead / failed
    line: str | None = None
    since: float = field(default_factory=time.time)
    host: str = ""
    lines_done: int = 0
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.state, "line": self.line,
                "seconds": round(time.time() - self.since, 1), "host": self.host,
                "lines_done": self.lines_done, "note": self.note}


def write_status(path: Path, counts: dict[str, int], total: int,
                 actors: list[ActorState]) -> None:
    """`OUT/.rag-gesture-batch/status.json`: where the batch is (watch it from another shell)."""
    write_text(path, json.dumps({"time": time.time(), "total": total, "counts": counts,
                                        "actors": [a.as_dict() for a in actors]}, indent=1))


def actor_table(actors: list[ActorState]) -> str:
    rows = [f"  {a.name:28s} {a.state:8s} {a.line or '-':24s} {time.time() - a.since:7.1f} s  "
            f"{a.lines_done:5d} lines  {a.host} {a.note}".rstrip() for a in actors]
    return "actors:\n" + "\n".join(rows)


class BatchProgress:
    """One line: lines settled / total, failures, rate and ETA; redrawn at most 4 times a
    second on a terminal, every 10 s (a plain line) when stderr is a log file."""

    def __init__(self, total: int, stream: TextIO | None = None, enabled: bool = True,
                 width: int = 24) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.width = width
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.perf_counter()
        self.last = 0.0
        self.work_start: float | None = None  # when the first generated line came back
        self.generated = 0
        self.drawn = False

    def text(self, done: int, failed: int, skipped: int, todo: int) -> str:
        settled = done + failed + skipped
        frac = settled / self.total if self.total else 1.0
        bar = "#" * int(self.width * frac) + "." * (self.width - int(self.width * frac))
        eta = "--"
        if self.work_start is not None and self.generated > 0 and todo > 0:
            rate = self.generated / max(time.perf_counter() - self.work_start, 1e-6)
            eta = _duration(todo / rate) if rate > 0 else "--"
        elif todo == 0:
            eta = "0s"
        return (f"lines [{bar}] {settled}/{self.total}  done {done}  failed {failed}  "
                f"skipped {skipped}  ETA {eta}  ({_duration(time.perf_counter() - self.start)})")

    def update(self, done: int, failed: int, skipped: int, todo: int,
               force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self.last < (0.25 if self.tty else 10.0):
            return
        self.last = now
        text = self.text(done, failed, skipped, todo)
        self.stream.write(f"\r{text}\x1b[K" if self.tty else text + "\n")
        self.stream.flush()
        self.drawn = True

    def message(self, text: str) -> None:
        """A line of its own above the bar (the bar is redrawn on the next update)."""
        if self.tty and self.drawn:
            self.stream.write("\r\x1b[K")
        self.stream.write(text + "\n")
        self.stream.flush()
        self.last = 0.0

    def close(self) -> None:
        if self.enabled and self.tty and self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"
