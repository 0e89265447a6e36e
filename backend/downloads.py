"""Resumable downloads of Hugging Face Hub files, with progress, speed and cancel.

huggingface_hub 2.4 resumes a file only within one call: a file cut off when the process
ends (a cancel from Blender, a closed laptop, a network gone for minutes) is deleted and
fetched again from its first byte. For weights of a few GB that is a poor deal, so the
bytes are fetched here from the Hub's resolve URLs at a fixed commit:

* every file goes to ``<destination>.<etag[:12]>.part`` beside its destination, appended
  to with ``Range: bytes=N-`` after an interruption (in this run or a later one), checked
  against its size and hash (sha256 for LFS files, the git blob sha1 otherwise: what the
  Hub's ETag is), and renamed into place only then;
* a dropped connection is resumed a few times within the run; an HTTP error stops the run
  with the partial file kept;
* `Meter` totals bytes done / bytes to fetch over all files and a speed over the last few
  seconds, for a progress line in a terminal or a progress bar in Blender;
* `should_stop()` is checked between chunks; `Cancelled` leaves the partial file for the
  next run.

huggingface_hub still lists the repositories, answers the metadata requests (proxies,
tokens, endpoint) and links files into its cache (`backend.weights`).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rag_gesture_shared.atomic_file import place_finished
from rag_gesture_shared.protocol.download import DownloadUpdate

from .progress import Cancelled, StopFn

CHUNK = 1 << 20  # bytes per read when hashing a file on disk
RETRIES = 5  # dropped connections resumed within one run (per file)


class DownloadError(RuntimeError):
    """A file could not be fetched or did not verify; the message is one clause."""


@dataclass(frozen=True)
class RemoteFile:
    """One file of a repository at a fixed commit and where it goes."""

    repo: str
    path: str  # inside the repository
    url: str  # the resolve URL at the commit
    size: int
    etag: str  # sha256 hex (LFS) or git blob sha1 hex; "" when the Hub gave none
    dest: Path

    @property
    def partial(self) -> Path:
        tag = re.sub(r"[^0-9A-Za-z]", "", self.etag)[:12] or "noetag"
        return self.dest.with_name(f"{self.dest.name}.{tag}.part")

    def done(self) -> bool:
        return self.dest.is_file() and self.dest.stat().st_size == self.size

    def have(self) -> int:
        """Bytes already on disk (finished, or kept from an interrupted run)."""
        if self.done():
            return self.size
        try:
            return min(self.partial.stat().st_size, self.size)
        except OSError:
            return 0


Report = DownloadUpdate  # what a progress callback gets: totals over every file
ReportFn = Callable[[Report], None]


class Meter:
    """Bytes done over all files and the recent speed; reports at most every `every` s."""

    def __init__(self, files: Sequence[RemoteFile], report: ReportFn | None = None,
                 every: float = 0.25, window: float = 3.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total = sum(f.size for f in files)
        self.done = sum(f.have() for f in files)
        self.files, self.files_done = len(files), sum(f.done() for f in files)
        self.report, self.every, self.window, self.clock = report, every, window, clock
        self.file = ""
        self._samples: deque[tuple[float, int]] = deque([(clock(), self.done)])
        self._last = float("-inf")

    @property
    def speed(self) -> float:
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0

    def add(self, n: int) -> None:
        self.done += n
        now = self.clock()
        self._samples.append((now, self.done))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self.window:
            self._samples.popleft()
        if now - self._last >= self.every:
            self.emit()

    def restart(self, lost: int) -> None:
        """`lost` bytes of a partial file turned out unusable and are fetched again."""
        self.done -= lost
        self._samples.append((self.clock(), self.done))

    def start(self, f: RemoteFile) -> None:
        self.file = f.path
        self.emit()

    def finish(self) -> None:
        self.files_done += 1
        self.emit()

    def emit(self) -> None:
        self._last = self.clock()
        if self.report is not None:
            self.report(Report(self.done, self.total, self.speed, self.file, self.files_done,
                               self.files))


def _hasher(etag: str) -> tuple[object, str] | None:
    """(hash object, kind) that the etag names: sha256 (64 hex) or git blob sha1 (40 hex)."""
    if re.fullmatch(r"[0-9a-f]{64}", etag):
        return hashlib.sha256(), "sha256"
    if re.fullmatch(r"[0-9a-f]{40}", etag):
        return hashlib.sha1(), "git"
    return None


def _digest(path: Path, f: RemoteFile) -> str | None:
    """The file's hash in the etag's kind (None when the etag names no hash)."""
    found = _hasher(f.etag)
    if found is None:
        return None
    h, kind = found
    if kind == "git":
        h.update(b"blob %d\0" % f.size)  # type: ignore[attr-defined]
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            h.update(block)  # type: ignore[attr-defined]
    return h.hexdigest()  # type: ignore[attr-defined]


def fetch(files: Sequence[RemoteFile], report: ReportFn | None = None,
          should_stop: StopFn | None = None, meter: Meter | None = None) -> None:
    """Fetch every file not yet complete; resumable, verified, cancellable (see module)."""
    meter = meter or Meter(files, report)
    meter.emit()
    for f in files:
        if f.done():
            continue
        meter.start(f)
        fetch_one(f, meter, should_stop)
        meter.finish()
    meter.file = ""
    meter.emit()


def fetch_one(f: RemoteFile, meter: Meter, should_stop: StopFn | None = None) -> None:
    import httpx2
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    f.dest.parent.mkdir(parents=True, exist_ok=True)
    for stale in f.dest.parent.glob(f"{f.dest.name}.*.part"):
        if stale != f.partial:  # an older version of the file
            stale.unlink(missing_ok=True)
    have = f.have()
    if f.partial.exists() and f.partial.stat().st_size > f.size:  # not this file's bytes
        meter.restart(have)
        f.partial.unlink()
        have = 0
    failures = 0
    while have < f.size:
        if should_stop is not None and should_stop():
            raise Cancelled(f"the download of {f.path} was cancelled")
        headers = build_hf_headers()
        if have:
            headers["Range"] = f"bytes={have}-"
        before = have
        try:
            with get_session().stream("GET", f.url, headers=headers, follow_redirects=True,
                                      timeout=30.0) as response:
                if response.status_code == 416:  # the partial claims more than exists
                    response.read()
                    meter.restart(have)
                    f.partial.unlink(missing_ok=True)
                    have = 0
                    continue
                if response.status_code >= 400:
                    response.read()  # the error's text, for hf_raise_for_status
                    hf_raise_for_status(response)
                if have and response.status_code == 200:  # the server ignored the Range
                    meter.restart(have)
                    have = 0
                with open(f.partial, "ab" if have else "wb") as fh:
                    for chunk in response.iter_bytes():  # as it arrives: a cut keeps it
                        fh.write(chunk)
                        have += len(chunk)
                        meter.add(len(chunk))
                        if should_stop is not None and should_stop():
                            fh.flush()
                            raise Cancelled(f"the download of {f.path} was cancelled")
        except httpx2.TransportError as exc:
            failures = 0 if have > before else failures + 1  # progress resets the count
            if failures > RETRIES:
                raise DownloadError(f"the connection kept failing while fetching {f.path} "
                                    f"({type(exc).__name__})") from exc
            time.sleep(min(8.0, 0.5 * 2 ** failures))
    _verify_and_place(f)


def _verify_and_place(f: RemoteFile) -> None:
    size = f.partial.stat().st_size
    if size != f.size:
        raise DownloadError(f"{f.path} arrived with {size} bytes instead of {f.size}")
    digest = _digest(f.partial, f)
    if digest is not None and digest != f.etag:
        f.partial.unlink(missing_ok=True)  # bad bytes are never resumed from
        raise DownloadError(f"{f.path} arrived damaged (its hash does not match the Hub's); "
                            "it was deleted and will be fetched again")
    place_finished(f.partial, f.dest)  # flushed, then renamed (shared.atomic_file)

