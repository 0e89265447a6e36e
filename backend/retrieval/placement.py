"""Where a retrieved clip goes in the query window's latent canvas (spec §5.7, RG:595-759).

Units: the query and retrieved spans come in seconds (window-relative); motion frames are at
`fps` (15) and one latent token covers `frames_per_token` (15) frames, so with the defaults a
token is one second and the 10-token part canvas is the 10-s window. The arithmetic is the
reference's, including its float-to-int truncations:

1. Query frames qs = int(max(0, q_start)·fps), qe = int(min(W, q_end)·fps) with W the window
   length in seconds; mid = (qs + qe) // 2; mid_lat = mid // frames_per_token.
2. Retrieved span padded around the stroke: gesture_type / llm labels longer than 0.9 s get
   [start − 0.2, end + 0.1] (BEAT labels are long), everything else [start − 0.666,
   end + 0.333]; clamped to [0, W]; rs/re = int(·fps). Skip if rs == re. If re is the window's
   frame count, re −= 1 and rs = max(0, rs − 1). Latent range [rs // fpt, re // fpt + 1).
3. Target [a, b) of the same length L around mid_lat: L = 1 -> [mid, mid+1); L = 2 ->
   [mid, mid+2); odd L >= 3 -> [mid − L//2 − 1, mid + L//2); even L >= 4 -> [mid − L/2,
   mid + L/2). a < 0 -> [0, L); b > latent_len -> shifted left to end at latent_len.
4. Overlap with the previous insertion of the same window (ending at prev_end): a = prev_end,
   b = a + L; if that runs past latent_len it is cropped (b = latent_len, L = b − a, skipped
   when L <= 0) and the retrieved range keeps its first L tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

LATENT_LEN = 10  # tokens per body part in one window
FPS = 15  # motion frames per second
FRAMES_PER_TOKEN = 15  # motion frames per latent token (VAE frame_chunk_size)
LONG_LABEL_S = 0.9  # gesture labels longer than this get the short padding
SHORT_PAD = (0.2, 0.1)  # (before, after) seconds for long gesture labels
STROKE_PAD = (0.666, 0.333)  # (before, after) seconds otherwise


class Placement(NamedTuple):
    """Latent-token ranges: retrieved [retr_start, retr_end) -> query [query_start, query_end)."""

    retr_start: int
    retr_end: int
    query_start: int
    query_end: int


def place(
    query_start: float,
    query_end: float,
    retr_start: float,
    retr_end: float,
    *,
    method: str,
    prev_end: int = -1,
    latent_len: int = LATENT_LEN,
    fps: float = FPS,
    frames_per_token: int = FRAMES_PER_TOKEN,
) -> Placement | None:
    """Placement of one retrieved clip, or None when the reference would skip it.

    `method` is "discourse", "gesture_type" or "llm" (only the padding rule depends on it);
    `prev_end` is the query_end of the previous placement in this window (-1 for none).
    Also skipped: query_start > query_end (as RG), and an empty retrieved latent range (the
    reference stops in a debugger there).
    """
    if method not in ("discourse", "gesture_type", "llm"):
        raise ValueError(f"unknown retrieval method {method!r}")
    if query_start > query_end:
        return None
    n_frames = latent_len * frames_per_token
    window_s = n_frames / fps

    qs = int(max(0, query_start) * fps)
    qe = int(min(window_s, query_end) * fps)
    mid_lat = ((qs + qe) // 2) // frames_per_token

    before, after = STROKE_PAD
    if method in ("gesture_type", "llm") and (retr_end - retr_start) > LONG_LABEL_S:
        before, after = SHORT_PAD
    rs = int(max(0, retr_start - before) * fps)
    re_ = int(min(window_s, retr_end + after) * fps)
    if rs == re_:
        return None
    if re_ == n_frames:
        re_ = n_frames - 1
        rs = max(0, rs - 1)
    rl0 = rs // frames_per_token
    rl1 = re_ // frames_per_token + 1
    length = rl1 - rl0
    if length <= 0:
        return None

    half = length // 2
    if length == 1:
        a, b = mid_lat, mid_lat + 1
    elif length == 2:
        a, b = mid_lat, mid_lat + 2
    elif length % 2 == 1:
        a, b = mid_lat - half - 1, mid_lat + half
    else:
        a, b = mid_lat - half, mid_lat + half
    if a < 0:
        a, b = 0, length
    if b > latent_len:
        a -= b - latent_len
        b = latent_len

    if a < prev_end:
        a = prev_end
        b = a + length
        if b > latent_len:
            b = latent_len
            length = b - a
            if length <= 0:
                return None
            rl1 = rl0 + length
    return Placement(rl0, rl1, a, b)


def place_all(
    spans: Sequence[tuple[float, float, float, float]],
    *,
    method: str,
    latent_len: int = LATENT_LEN,
    fps: float = FPS,
    frames_per_token: int = FRAMES_PER_TOKEN,
) -> list[Placement | None]:
    """Place (query_start, query_end, retr_start, retr_end) spans in order, one window.

    Each placement's query_end becomes the next one's `prev_end`; skipped ones leave it as is.
    """
    out: list[Placement | None] = []
    prev_end = -1
    for q0, q1, r0, r1 in spans:
        p = place(
            q0,
            q1,
            r0,
            r1,
            method=method,
            prev_end=prev_end,
            latent_len=latent_len,
            fps=fps,
            frames_per_token=frames_per_token,
        )
        if p is not None:
            prev_end = p.query_end
        out.append(p)
    return out
