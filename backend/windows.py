"""The 10-s window layout shared by the speech features and the generation pipeline (spec §6).

Motion runs at 15 fps in windows of 150 frames that start every 135 frames, so consecutive
windows share 15 frames (one latent token). Audio for a window is the 160,000 samples
starting at int(start_frame / 15 * 16000).

Deviations (fixes): the official long-form loop starts a new window while `start < length`,
which can add a window made of nothing but the 15-frame overlap, and pads the last window
with up to 135 frames of zero conditions. We start a window only while the previous one does
not reach the end, and pull the last window back (on the 15-frame token grid) so that it ends
less than 15 frames past the end; its extra overlap with the previous window is carried over
as held latent tokens, so the padding the model sees is under one token.
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
    """Start frames of the windows covering `num_frames` frames (all multiples of 15)."""
    starts = [0]
    while starts[-1] + WINDOW < num_frames:
        nxt = starts[-1] + STRIDE
        if nxt + WINDOW >= num_frames:  # last window: end as close to the end as possible
            aligned = math.ceil((num_frames - WINDOW) / OVERLAP) * OVERLAP
            nxt = min(nxt, max(starts[-1] + OVERLAP, aligned))
        starts.append(nxt)
    return starts


def overlap_tokens(prev_start: int, start: int) -> int:
    """Latent tokens (15 frames each) shared by a window and the one before it."""
    return (prev_start + WINDOW - start) // OVERLAP


def audio_span(start_frame: int) -> tuple[int, int]:
    """Sample range [a, a+160000) of the window starting at `start_frame`."""
    a = int(start_frame / FPS * AUDIO_RATE)
    return a, a + int(WINDOW_SECONDS * AUDIO_RATE)
