"""A disk that fills up mid-write: every file opened for writing fails after a byte budget.

`disk_full(monkeypatch, after=N)` wraps `open` (builtins and io, which also covers
`os.fdopen` and `Path.write_text`) so that writes succeed until N bytes in total have been
written, then write what still fits and raise `OSError(ENOSPC)`, as a full disk does. Tests
use it to check that a writer leaves the previous file intact and no fragment behind.
"""

from __future__ import annotations

import builtins
import errno
import gc
import io
import os
from pathlib import Path
from typing import Any


class _FillingFile:
    """A file object whose writes draw on a shared byte budget."""

    def __init__(self, fh: Any, budget: list[int]) -> None:
        self._fh = fh
        self._budget = budget

    def write(self, data: Any) -> int:
        n = len(data)
        if n > self._budget[0]:
            fits = max(self._budget[0], 0)
            if fits:
                self._fh.write(data[:fits])
            self._budget[0] = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self._budget[0] -= n
        return self._fh.write(data)

    def __enter__(self) -> _FillingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()

    def __iter__(self):
        return iter(self._fh)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)


def disk_full(monkeypatch: Any, after: int) -> list[int]:
    """Make every file opened for writing fail once `after` bytes have been written."""
    budget = [after]
    real_open = io.open

    def filling_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        fh = real_open(file, mode, *args, **kwargs)
        writing = any(c in mode for c in "wax+")
        return _FillingFile(fh, budget) if writing else fh

    monkeypatch.setattr(builtins, "open", filling_open)
    monkeypatch.setattr(io, "open", filling_open)
    return budget


def collect_failed_writers() -> None:
    """Run the garbage collector now, so that a file object a failed write left behind
    (np.savez straight into a file leaves its ZipFile) complains inside this test."""
    gc.collect()


def folder_files(folder: str | os.PathLike[str]) -> set[str]:
    """Names of the files (hidden ones included) directly in `folder`."""
    return {p.name for p in Path(folder).iterdir() if p.is_file()}
