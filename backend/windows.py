"""The 10-s window layout shared by the speech features and the generation pipeline (spec §6).

Motion runs at 15 fps in windows of 150 frames that start every 135 frames, so consecutive
windows share 15 frames (one latent token). Audio for a window is the 160,000 samples
starting at int(start_frame / 15 * 16000).

Deviation: the official long-form loop starts a new window while `start < length`, which can
add a window made of nothing but the 15-frame overlap; we start one only while the previous
window does not reach the end.
"""

from __future__ import annotations

import math

FPS = 15
WINDOW = 150
STRIDE = 135
OVERLAP = WINDOW - STRIDE
AUDIO_RATE = 16_000
WINDOW_SECONDS = WINDOW / FPS


def frames_for_duration(seconds: float) -> int:
    """Motion frames (15 fps) needed to cover `seconds` of audio."""
    return max(1, math.ceil(round(seconds * FPS, 6)))


def window_starts(num_frames: int) -> list[int]:
    """Start frames of the windows covering `num_frames` frames."""
    starts = [0]
    while starts[-1] + WINDOW < num_frames:
        starts.append(starts[-1] + STRIDE)
    return starts


def audio_span(start_frame: int) -> tuple[int, int]:
    """Sample range [a, a+160000) of the window starting at `start_frame`."""
    a = int(start_frame / FPS * AUDIO_RATE)
    return a, a + int(WINDOW_SECONDS * AUDIO_RATE)
