"""Where the takes of one generation go and how they are written (CLI and batch alike).

`rag-gesture generate -o NAME.npz` and `rag-gesture batch` write the same files through
this one function, so a batch line and a single run with the same seed give the same arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rag_gesture_shared.atomic_file import AtomicGroup

from .motion import Motion


def take_path(output: Path, i: int) -> Path:
    """Take 1 is `output` itself; take k > 1 is `NAME_takeK.EXT` beside it."""
    return output if i == 0 else output.with_name(f"{output.stem}_take{i + 1}{output.suffix}")


def save_takes(output: Path, motions: Sequence[Motion]) -> list[Path]:
    """Write every take as a BEAT2/AMASS .npz, all or none (OSError leaves every earlier file
    as it was); returns the paths."""
    paths = [take_path(Path(output), i) for i in range(len(motions))]
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    with AtomicGroup() as group:
        for path, motion in zip(paths, motions, strict=True):
            with group.write(path) as fh:
                motion.save_npz(fh)
    return paths
