"""Atomic file output: write a temporary file in the destination's folder, then rename.

A reader (a game engine's importer, a resumed batch, Blender) sees either the previous file
or the complete new one, never a half-written file, even when the writer is killed: the
temporary name starts with a dot and ends in `.part`, so it is easy to recognise and clean.
Torch-free and bpy-free, so every layer (and the add-on's headless export) can use it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

PART_SUFFIX = ".part"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_output(path: str | os.PathLike[str], fsync: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside `path`; when the block succeeds it replaces `path`.

    On any exception (KeyboardInterrupt included) the temporary file is removed and `path`
    is left as it was. The file gets the usual permissions (mkstemp would leave it 0600).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=PART_SUFFIX)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        if fsync:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            tmp.unlink()
        raise


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def leftover_parts(folder: str | os.PathLike[str]) -> list[Path]:
    """Temporary files an interrupted writer left under `folder` (recursively)."""
    return sorted(p for p in Path(folder).rglob(f".*{PART_SUFFIX}") if p.is_file())
