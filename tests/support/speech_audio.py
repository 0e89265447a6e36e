"""Real speech for tests, spoken by espeak-ng (Debian package `espeak-ng`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ESPEAK = shutil.which("espeak-ng")


def speak(text: str, path: Path, speed: int = 160) -> Path:
    """Write `text` as a 22,050 Hz mono WAV; fails (not skips) without espeak-ng."""
    assert ESPEAK, "espeak-ng is needed for the speech tests: apt-get install espeak-ng"
    subprocess.run([ESPEAK, "-s", str(speed), "-w", str(path), text], check=True,
                   capture_output=True)
    return path
