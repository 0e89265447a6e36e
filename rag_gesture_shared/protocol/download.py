"""The progress lines of `rag-gesture download --progress json`, and how they read.

The Blender add-on's *Download Weights* button runs the backend's download command and
reads these lines from its output (they are not worker messages: the download runs as its
own process, before any worker can load weights). The backend writes them with
`DownloadUpdate.to_line`, the add-on reads them with `DownloadUpdate.from_line`, and both
show `describe()`, so the terminal and the preferences say the same thing.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

DOWNLOAD_TYPE = "download"


@dataclass(frozen=True)
class DownloadUpdate:
    done: int  # bytes on disk, including those kept from an earlier, interrupted run
    total: int  # bytes of every file the download fetches
    speed: float  # bytes per second over the last few seconds
    file: str  # the file being fetched ("" when none)
    files_done: int
    files: int

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total > 0 else 1.0

    def to_line(self) -> str:
        return json.dumps({"type": DOWNLOAD_TYPE, **asdict(self)})

    @classmethod
    def from_line(cls, line: str) -> DownloadUpdate | None:
        """The update a line carries, or None for any other line (log text, bad JSON)."""
        line = line.strip()
        if not line.startswith("{"):
            return None
        try:
            data = json.loads(line)
            if not isinstance(data, dict) or data.get("type") != DOWNLOAD_TYPE:
                return None
            return cls(int(data["done"]), int(data["total"]), float(data["speed"]),
                       str(data.get("file") or ""), int(data["files_done"]),
                       int(data["files"]))
        except (ValueError, KeyError, TypeError):
            return None

    def describe(self) -> str:
        """'312 MB of 1.2 GB (26%), 8.3 MB/s'."""
        text = (f"{human_bytes(self.done)} of {human_bytes(self.total)} "
                f"({100 * self.fraction:.0f}%)")
        return f"{text}, {human_bytes(self.speed)}/s" if self.speed > 0 else text


def human_bytes(n: float) -> str:
    """Decimal units, as download sizes are usually quoted: 1.2 GB, 312 MB, 4.0 kB, 12 B."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}" if n < 100 * size else f"{n / size:.0f} {unit}"
    return f"{int(n)} B"
