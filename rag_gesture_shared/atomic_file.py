"""Writing a file so that it is either the old file or the complete new one, never a fragment.

Every file the project writes (motion .npz, bone-map presets, gesture-database arrays, the
DDIM inversion store, copies of packed sounds) goes through `atomic_write`: the bytes go to a
hidden temporary file in the target's own folder (a rename is only atomic within one file
system), which is flushed to disk and then renamed over the target. A failure at any point
(disk full, Ctrl-C, a bug in the writer) removes the temporary file and leaves the previous
file exactly as it was.

The temporary file is created with mode 0o666 filtered by the umask, like any new file, and
takes the existing file's permission bits when it replaces one, so an atomic write does not
change who can read the result.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

TEMP_SUFFIX = ".tmp"


def temp_path_for(path: str | os.PathLike[str]) -> Path:
    """A fresh hidden name beside `path`: `.NAME.<random>.tmp` (no file is created)."""
    p = Path(path)
    return p.with_name(f".{p.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def _create_temp(path: Path) -> tuple[int, Path]:
    """Open a new temporary file beside `path` (O_EXCL: never an existing file)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = temp_path_for(path)
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"cannot create a temporary file beside {path}")


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX; Windows has no directory handles for this)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def commit(tmp: str | os.PathLike[str], path: str | os.PathLike[str],
           durable: bool = True) -> None:
    """Rename the finished temporary file `tmp` over `path` (keeping `path`'s permissions)."""
    tmp, path = Path(tmp), Path(path)
    with contextlib.suppress(OSError):
        os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
    os.replace(tmp, path)
    if durable:
        _fsync_folder(path.parent)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb", *, encoding: str | None = None,
                 newline: str | None = None, durable: bool = True) -> Iterator[IO[Any]]:
    """Open a temporary file beside `path`; when the block ends normally it replaces `path`.

    `mode` is "wb" or "w" (text, with `encoding` and `newline` as for `open`). `durable`
    fsyncs the data before the rename (and the folder after it), so a power cut cannot leave
    an empty file under the new name; caches that are cheap to rebuild may skip it. If the
    block raises (including KeyboardInterrupt), the temporary file is removed and `path` is
    untouched.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write writes whole files: mode 'wb' or 'w', not {mode!r}")
    path = Path(path)
    fd, tmp = _create_temp(path)
    try:
        with open(fd, mode, encoding=encoding, newline=newline) as fh:
            yield fh
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        commit(tmp, path, durable)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise

