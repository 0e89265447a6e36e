"""Writing a file so that it is either the old file or the complete new one, never a fragment.

Every file the project writes (motion .npz, bone-map presets, gesture-database arrays, the
DDIM inversion store, copies of packed sounds) goes through `atomic_write`, or `AtomicGroup`
for files that belong together (the takes of one generation, the windows of one clip): the
bytes go to a hidden temporary file in the target's own folder (a rename is only atomic
within one file system), which is flushed to disk and then renamed over the target. A failure
at any point (disk full, Ctrl-C, a bug in the writer) removes the temporary file and leaves
the previous file exactly as it was. Downloaded weights are the one exception to "removes the
temporary file": their partial file is kept so the next run resumes it, and `place_finished`
puts it in place the same way once it is complete and verified.

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


def _create_temp(path: Path) -> tuple[int, Path]:
    """Open a new hidden file `.NAME.<random>.tmp` beside `path` (O_EXCL: never an existing
    file; mode 0o666 less the umask, as for any new file)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
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


def _commit(tmp: Path, path: Path) -> None:
    """Rename the finished temporary file `tmp` over `path` (keeping `path`'s permissions)."""
    with contextlib.suppress(OSError):
        os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
    os.replace(tmp, path)


class AtomicGroup:
    """Files that replace their targets together when the `with` block ends normally.

    Each `write(path)` goes to its own temporary file beside `path`; nothing is renamed until
    every file is complete, so a failure half-way through (the third take of three, one
    window of a clip) leaves every earlier file as it was and removes every temporary file.
    `durable` fsyncs each file before the renames and each folder after them, so a power cut
    cannot leave an empty file under a new name; caches that are cheap to rebuild skip it.
    """

    def __init__(self, durable: bool = True) -> None:
        self.durable = durable
        self._staged: list[tuple[Path, Path]] = []

    @contextlib.contextmanager
    def write(self, path: str | os.PathLike[str], mode: str = "wb", *,
              encoding: str | None = None, newline: str | None = None) -> Iterator[IO[Any]]:
        """An open temporary file that becomes `path`; `mode` "wb", or "w" for text."""
        if mode not in ("wb", "w"):
            raise ValueError(f"atomic writes are whole files: mode 'wb' or 'w', not {mode!r}")
        fd, tmp = _create_temp(Path(path))
        try:
            with open(fd, mode, encoding=encoding, newline=newline) as fh:
                yield fh
                fh.flush()
                if self.durable:
                    os.fsync(fh.fileno())
        except BaseException:  # even if the caller goes on, this file is never renamed
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self._staged.append((tmp, Path(path)))

    def __enter__(self) -> AtomicGroup:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        staged, self._staged = self._staged, []
        try:
            if exc_type is None:
                for i, (tmp, path) in enumerate(staged):
                    _commit(tmp, path)
                    staged[i] = (path, path)  # renamed: nothing left to remove
                if self.durable:
                    for folder in dict.fromkeys(path.parent for _, path in staged):
                        _fsync_folder(folder)
        finally:
            for tmp, path in staged:
                if tmp != path:
                    with contextlib.suppress(OSError):
                        os.unlink(tmp)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb", *, encoding: str | None = None,
                 newline: str | None = None, durable: bool = True) -> Iterator[IO[Any]]:
    """Open a temporary file beside `path`; when the block ends normally it replaces `path`.

    `mode` is "wb" or "w" (text, with `encoding` and `newline` as for `open`); `durable` as
    for `AtomicGroup`. If the block raises (KeyboardInterrupt included), the temporary file is
    removed and `path` is untouched.
    """
    with AtomicGroup(durable) as group, group.write(path, mode, encoding=encoding,
                                                   newline=newline) as fh:
        yield fh


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, durable: bool = True) -> Iterator[Path]:
    """A temporary path beside `path` for writers that need a file name, not a file object
    (another process, such as a headless Blender exporting FBX); it replaces `path` when the
    block ends normally, and is removed otherwise. The folder is created when missing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temp(path)
    os.close(fd)
    try:
        yield tmp
        place_finished(tmp, path, durable=durable)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def place_finished(finished: str | os.PathLike[str], path: str | os.PathLike[str], *,
                   durable: bool = True) -> None:
    """Rename a complete file written beside `path` over `path` (flushed to disk first when
    `durable`, keeping `path`'s permissions). For writers whose unfinished file must outlive
    a failure, such as a resumable download's partial file; the others use `atomic_write` or
    `atomic_path`, which remove theirs."""
    finished, path = Path(finished), Path(path)
    if durable:
        fd = os.open(finished, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    _commit(finished, path)
    if durable:
        _fsync_folder(path.parent)


def write_text(path: str | os.PathLike[str], text: str, *, durable: bool = True) -> None:
    """`text` (UTF-8) as the whole of `path`, atomically; the folder is created when missing."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "w", encoding="utf-8", newline="", durable=durable) as fh:
        fh.write(text)


def leftover_temp_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Temporary files an interrupted writer left under `folder` (recursively)."""
    return sorted(p for p in Path(folder).rglob(f".*{TEMP_SUFFIX}") if p.is_file())
