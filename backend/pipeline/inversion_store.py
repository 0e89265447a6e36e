"""Inverted trajectories of database windows, kept on disk beside the gesture database.

A window's DDIM inversion is conditioned only on the window itself (its latent, words,
recording and speaker; spec §4.6, §5.8), never on the query, so it can be reused by every
later process: only the first use of a window pays for its inversion. Files are
`<db folder>/inversions/<key>.npy`, float32, one per (window, schedule, guidance, weights...)
key (see `insertion.trajectory_key`), written atomically and read with `allow_pickle=False`.
Beside them, `<key>.npz` holds a window's materials (its latent and its word and audio
features, retrieved.ClipFactory), so a later process needs neither the VAE encode nor BERT
nor wav2vec2 for it either.

The folder is a cache, never a source of truth: an unreadable or mismatched file is logged,
deleted when possible and recomputed; a read-only folder is used for reading only (one
warning). Its size is capped (`RAG_GESTURE_INVERSION_STORE_GB`, default 2 GB) by deleting the
least recently used files; a hit refreshes the file's modification time.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from pathlib import Path

import numpy as np
import torch

from rag_gesture_shared.atomic_file import atomic_write

log = logging.getLogger(__name__)

STORE_DIR = "inversions"
SIZE_ENV = "RAG_GESTURE_INVERSION_STORE_GB"
DEFAULT_MAX_BYTES = 2 * 1024**3
STALE_TEMP_SECONDS = 3600.0  # temp files older than this were left by a crashed writer
FINGERPRINT_SAMPLES = 4096


def default_max_bytes() -> int:
    """The size cap: `RAG_GESTURE_INVERSION_STORE_GB` (a number of GB) or 2 GB."""
    value = os.environ.get(SIZE_ENV)
    if not value:
        return DEFAULT_MAX_BYTES
    try:
        return max(0, int(float(value) * 1024**3))
    except ValueError:
        log.warning("%s=%r is not a number of GB; using 2 GB", SIZE_ENV, value)
        return DEFAULT_MAX_BYTES


def model_fingerprint(model: torch.nn.Module) -> str:
    """Hash of every parameter's and buffer's name, shape, dtype and an even sample of values.

    Another checkpoint (retrained or fine-tuned) changes essentially every weight, so a
    sample of each tensor tells models apart; hashing all bytes of the released model would
    take about a second per process for no practical gain.
    """
    h = hashlib.sha256()
    with torch.no_grad():
        for name, t in [*model.named_parameters(), *model.named_buffers()]:
            flat = t.detach().reshape(-1)
            step = max(1, flat.numel() // FINGERPRINT_SAMPLES)
            sample = torch.cat([flat[::step], flat[-1:]]).to("cpu", torch.float64)
            h.update(f"{name}|{tuple(t.shape)}|{t.dtype};".encode())
            h.update(sample.numpy().tobytes())
    return h.hexdigest()


class InversionStore:
    """A folder of `<key>.npy` float32 arrays with a byte cap and LRU eviction."""

    def __init__(self, folder: str | os.PathLike[str], max_bytes: int | None = None) -> None:
        self.folder = Path(folder)
        self.max_bytes = default_max_bytes() if max_bytes is None else max_bytes
        self.writable = True  # turned off at the first failed write (read-only folder)

    def path(self, key: str, suffix: str = ".npy") -> Path:
        return self.folder / f"{key}{suffix}"

    def has(self, key: str, suffix: str = ".npy") -> bool:
        return self.path(key, suffix).is_file()

    def load(self, key: str, shape: tuple[int, ...]) -> np.ndarray | None:
        """The stored array, or None when absent, unreadable or not `shape` float32."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            arr = np.load(path, allow_pickle=False)
            ok = arr.dtype == np.float32 and arr.shape == shape and np.isfinite(arr).all()
        except (OSError, ValueError, EOFError) as exc:
            log.warning("ignoring unreadable stored inversion %s (%s); recomputing", path, exc)
            self._discard(path)
            return None
        if not ok:
            log.warning(
                "ignoring stored inversion %s: %s %s, expected %s float32; recomputing",
                path,
                arr.shape,
                arr.dtype,
                shape,
            )
            self._discard(path)
            return None
        try:
            os.utime(path)  # most recently used
        except OSError:
            pass
        return arr

    def save(self, key: str, array: np.ndarray) -> None:
        """Write atomically (temp file + rename), then evict down to the cap."""
        self._write(key, ".npy", lambda f: np.save(f, np.ascontiguousarray(array, np.float32),
                                                   allow_pickle=False))

    def save_arrays(self, key: str, arrays: dict[str, np.ndarray]) -> None:
        """Several named arrays as `<key>.npz` (atomically), then evict down to the cap."""
        self._write(key, ".npz", lambda f: np.savez(f, **arrays))

    def load_arrays(self, key: str, shapes: dict[str, tuple[int, ...]]
                    ) -> dict[str, np.ndarray] | None:
        """The arrays of `<key>.npz`, or None when absent, unreadable or not of `shapes`."""
        path = self.path(key, ".npz")
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                out = {k: np.array(data[k]) for k in shapes}
            ok = all(out[k].shape == tuple(shape) for k, shape in shapes.items())
        except (OSError, ValueError, EOFError, KeyError) as exc:
            log.warning("ignoring unreadable stored materials %s (%s); recomputing", path, exc)
            self._discard(path)
            return None
        if not ok:
            log.warning("ignoring stored materials %s: unexpected shapes; recomputing", path)
            self._discard(path)
            return None
        try:
            os.utime(path)
        except OSError:
            pass
        return out

    def _write(self, key: str, suffix: str, write) -> None:
        if not self.writable:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            # a cache: no fsync, a file lost to a power cut is recomputed
            with atomic_write(self.path(key, suffix), durable=False) as f:
                write(f)
        except OSError as exc:
            self.writable = False
            log.warning(
                "cannot write DDIM inversions to %s (%s); they are kept in memory only",
                self.folder,
                exc,
            )
            return
        self.evict()

    def evict(self) -> None:
        """Delete least recently used files until the folder is within `max_bytes`."""
        now = time.time()
        files = []
        for entry in os.scandir(self.folder):
            try:
                st = entry.stat()
            except OSError:
                continue
            if entry.name.endswith(".tmp"):
                if now - st.st_mtime > STALE_TEMP_SECONDS:
                    self._discard(Path(entry.path))
            elif entry.name.endswith((".npy", ".npz")):
                files.append((st.st_mtime, st.st_size, entry.path))
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files):
            if total <= self.max_bytes:
                break
            self._discard(Path(path))
            total -= size

    def size(self) -> int:
        """Bytes of stored arrays (trajectories and materials)."""
        if not self.folder.is_dir():
            return 0
        return sum(p.stat().st_size for p in self.folder.iterdir()
                   if p.suffix in (".npy", ".npz"))

    @staticmethod
    def _discard(path: Path) -> None:
        try:
            path.unlink()
        except OSError:
            pass
