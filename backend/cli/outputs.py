"""Where `rag-gesture generate` writes: the take files, checked before any model loads.

`-o line.npz` with three takes writes line.npz, line_take2.npz and line_take3.npz. Before
the work starts: the name must be a `.npz` file (not a folder), its folder must exist or be
creatable and writable, no take file may exist unless `--force` says to replace it, and the
disk must have room for the takes. After the work the takes are written together
(`AtomicGroup`): either all of them replace what was there, or none.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from rag_gesture_shared.skeleton import NUM_EXPRESSIONS, NUM_JOINTS

from ..motion.motion import Motion
from ..motion.takes import save_takes, take_path

# float32 poses + trans + expressions per frame, and the zip / betas overhead per file
BYTES_PER_FRAME = 4 * (3 * NUM_JOINTS + 3 + NUM_EXPRESSIONS)
BYTES_PER_FILE = 8192
SPARE_BYTES = 16 * 1024**2  # leave the disk this much, not zero


class OutputError(ValueError):
    """The output cannot be written; one sentence naming the path and what to do."""


def _existing_folder(path: Path) -> Path:
    """The nearest ancestor of `path` that exists; OutputError if it is not a folder."""
    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise OutputError(f"cannot write {path}: {folder} is a file, not a folder")
    return folder


def _probe_writable(folder: Path, path: Path, option: str = "-o") -> None:
    """Create and delete a file in `folder`: exact where permission bits are not (ACLs,
    read-only mounts, Windows)."""
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".rag-gesture-probe-")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: the folder {folder} is not writable "
                          f"({exc.strerror or exc}); choose another {option}") from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)


def check_writable_folder(folder: Path, option: str) -> None:
    """OutputError unless `folder` is (or can be created as) a writable folder."""
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{option} {folder} is a file, not a folder")
    target = folder / "x"  # the folder itself may still have to be created
    _probe_writable(_existing_folder(target), folder, option)


def check_output(output: Path, takes: int, frames: int, force: bool) -> list[str]:
    """OutputError unless the takes can be written; notes (files that will be replaced, an
    earlier run's extra takes) otherwise. `frames` per take, for the free-space check."""
    if output.is_dir():
        raise OutputError(f"-o {output} is a folder; give a file name inside it, e.g. "
                          f"{output / 'line.npz'}")
    if output.suffix.lower() != ".npz":
        raise OutputError(f"the output must be a .npz file (BEAT2/AMASS layout), not {output}")
    folder = _existing_folder(output)
    paths = [take_path(output, i) for i in range(takes)]
    for p in paths:
        if p.is_dir():
            raise OutputError(f"cannot write take {paths.index(p) + 1} to {p}: it is a folder")
    existing = [p for p in paths if p.exists()]
    if existing and not force:
        what = (f"{existing[0]} already exists; pass --force to replace it" if len(existing) == 1
                else f"{existing[0]} and {len(existing) - 1} more take file(s) already exist; "
                "pass --force to replace them")
        raise OutputError(f"{what}, or choose another -o")
    _probe_writable(folder, output)
    need = takes * (frames * BYTES_PER_FRAME + BYTES_PER_FILE)
    free = shutil.disk_usage(folder).free
    if free < need + SPARE_BYTES:
        raise OutputError(f"not enough free space in {folder} for {takes} take(s): about "
                          f"{need / 1e6:.1f} MB are needed and {free / 1e6:.1f} MB are free")
    notes = [f"replacing {p}" for p in existing]
    extra = take_path(output, takes)
    if extra.exists():
        notes.append(f"{extra.name} (and any later take files) are from an earlier run with "
                     "more takes; they are left as they are")
    return notes


def write_takes(output: Path, motions: list[Motion]) -> list[Path]:
    """All takes or none (OutputError with one sentence; earlier files stay as they were)."""
    try:
        return save_takes(output, motions)
    except OSError as exc:
        raise OutputError(f"cannot write {output}: {exc.strerror or exc}; no take file was "
                          "changed") from None
