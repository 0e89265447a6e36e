"""Per-word prosodic prominence from audio, in the shape of BEAT2's Wavelet-Prosody-Toolkit files.

RAG-Gesture's retrieval keys on word prominence. BEAT2 ships `.prom` files made by the Wavelet
Prosody Toolkit (Suni et al. 2017), which combines F0, energy and duration. New recordings have
no such file and the toolkit's dependencies (pyreaper, pycwt) are not available here, so this
module computes a light-weight stand-in from the same three cues:

* energy   - mean frame level (dB RMS, 25 ms windows every 10 ms) over the word;
* pitch    - highest F0 in the word, in semitones relative to the utterance's median F0
             (0 when the word has no voiced frame);
* duration - seconds per letter, a cheap proxy for lengthening of stressed words.

Each cue is turned into a robust z-score across the utterance, the z-scores are combined with
`WEIGHTS`, and the result is shifted into the `.prom` range (see `combine_cues`). The numbers are
comparable in scale to the toolkit's (non-negative, mostly 0..~3) but are not the same estimator.

Speed: the signal is framed once with stride tricks, levels and a YIN-style F0 are computed for
all frames in vectorised numpy (FFT cross-correlation, chunked to bound memory), and only the
cheap per-word reductions loop over words. One minute of 16 kHz audio takes well under 0.5 s.

`read_prom` / `write_prom` handle the tab-separated `.prom` format:
`basename  start  end  word  prominence  boundary`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag_gesture_shared.atomic_file import atomic_write

from .words import Word

# --- frame analysis -------------------------------------------------------------------------
HOP_S = 0.010  # frame step: 10 ms, the usual prosody rate
WIN_S = 0.025  # energy window: 25 ms
F0_MIN = 50.0  # pitch search range (Hz): covers low male to high female/child speech
F0_MAX = 500.0
# YIN cumulative-mean-normalised difference must dip below this for a frame to count as voiced.
# 0.15 is in the range de Cheveigne & Kawahara recommend; white noise sits near 1.0.
VOICING_THRESHOLD = 0.15
# Dynamic range kept below the loudest frame: quieter frames are clamped to it (keeps digital
# silence finite) and count as silence.
DYNAMIC_RANGE_DB = 60.0
# Absolute level below which a frame is silence whatever the peak (all-zero / dither-only audio).
ABS_SILENCE_DB = -90.0
# Voiced frames must also be within this many dB of the peak: F0 of breath noise is meaningless.
VOICED_RANGE_DB = 40.0
# F0 is median-smoothed over this many frames so one octave jump cannot become a word's maximum.
F0_MEDIAN_FRAMES = 5
# Frames per FFT batch in the pitch tracker: bounds memory at high sample rates.
_FFT_BATCH_ELEMENTS = 1 << 21

# --- cue combination ------------------------------------------------------------------------
# Weights for (energy, pitch, duration) z-scores. Energy and F0 are the main acoustic
# correlates of prominence in English; duration is noisier here (letters, not phones), so it
# counts half as much.
WEIGHTS = (0.4, 0.4, 0.2)
# Smallest spread used to scale each cue, in the cue's own unit. Without a floor, an utterance
# of near-identical words (or a single word) would divide by ~0 and blow tiny differences up.
# Roughly one just-noticeable difference: 1 dB, 1 semitone, 10 ms per letter.
SCALE_FLOORS = (1.0, 1.0, 0.010)
Z_CLIP = 3.0  # one extreme word cannot dominate the scale of the output
# Offset added to the weighted z-score: the utterance's median word maps to 1, words about one
# weighted unit below the median reach 0 (the toolkit's "not prominent").
PROM_OFFSET = 1.0

_MAD_TO_SD = 1.4826  # MAD of a normal distribution * this = its standard deviation


@dataclass(frozen=True)
class FrameTrack:
    """Frame-level analysis of one signal. Frame i is centred at i * hop_s seconds."""

    hop_s: float
    level_db: np.ndarray  # (n,) RMS level in dB, clamped to peak - DYNAMIC_RANGE_DB
    audible: np.ndarray  # (n,) bool, frame above the silence threshold
    f0: np.ndarray  # (n,) Hz, NaN where unvoiced

    @property
    def times(self) -> np.ndarray:
        return np.arange(len(self.level_db)) * self.hop_s


@dataclass(frozen=True)
class WordCues:
    """Raw per-word cues (one entry per timed word) before normalisation."""

    energy_db: np.ndarray
    pitch_st: np.ndarray
    sec_per_char: np.ndarray
    audible: np.ndarray  # bool: any frame of the word above the silence threshold


# ============================================================================ framing


def _frames(padded: np.ndarray, pad: int, length: int, hop: int, n: int) -> np.ndarray:
    """(n, length) read-only view; row i is centred on original sample i * hop.

    `padded` is the signal with `pad` zeros in front (and enough behind). A view, not a copy:
    the windows overlap, so copying would multiply memory by length / hop.
    """
    start = pad - length // 2
    windows = np.lib.stride_tricks.sliding_window_view(padded, length)
    return windows[start : start + (n - 1) * hop + 1 : hop]


def _fast_len(n: int) -> int:
    """Smallest 5-smooth integer >= n: FFT sizes pocketfft handles quickly."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


# ============================================================================ energy


def _levels_db(frames: np.ndarray) -> np.ndarray:
    """Unclamped RMS level per frame in dB (re full scale 1.0); -inf-safe via a tiny floor."""
    rms = np.sqrt(np.mean(np.square(frames), axis=1))
    return 20.0 * np.log10(np.maximum(rms, 1e-12))


# ============================================================================ pitch


def _cmndf(frames: np.ndarray, w: int, tau_max: int) -> np.ndarray:
    """YIN cumulative-mean-normalised difference d'(tau), tau = 0..tau_max, for each frame.

    d(tau) = sum_{j<w} (x_j - x_{j+tau})^2 = e(0) + e(tau) - 2 c(tau), with the cross term c by
    FFT and the energies e by cumulative sums: O(L log L) per frame instead of O(w * tau_max).
    The FFT needs no extra zero-padding for tau >= 0: j + tau < w + tau_max = L never wraps.
    """
    n_fft = _fast_len(frames.shape[1])
    spec_head = np.fft.rfft(frames[:, :w], n_fft)
    spec_full = np.fft.rfft(frames, n_fft)
    cross = np.fft.irfft(np.conj(spec_head) * spec_full, n_fft)[:, : tau_max + 1]
    csum = np.concatenate(
        [np.zeros((len(frames), 1)), np.cumsum(np.square(frames), axis=1)], axis=1
    )
    energy = csum[:, w : w + tau_max + 1] - csum[:, : tau_max + 1]
    diff = np.maximum(energy[:, :1] + energy - 2.0 * cross, 0.0)
    diff[:, 0] = 0.0
    running = np.cumsum(diff[:, 1:], axis=1)
    taus = np.arange(1, tau_max + 1)
    out = np.ones_like(diff)
    np.divide(diff[:, 1:] * taus, running, out=out[:, 1:], where=running > 0)
    return out


def _pick_period(
    cmndf: np.ndarray, tau_min: int, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """YIN's absolute-threshold rule, vectorised: (period in samples, voiced) per frame.

    The first lag where d' falls below the threshold is followed downhill to its local minimum
    (taking the first dip, not the global one, avoids sub-harmonic octave errors), then refined
    by parabolic interpolation for sub-sample accuracy.
    """
    seg = cmndf[:, tau_min:]
    below = seg[:, :-1] < threshold
    voiced = below.any(axis=1)
    first = np.argmax(below, axis=1)
    rising = seg[:, 1:] >= seg[:, :-1]  # k is a local minimum if seg[k+1] >= seg[k]
    cand = rising & (np.arange(rising.shape[1]) >= first[:, None])
    k = np.where(cand.any(axis=1), np.argmax(cand, axis=1), rising.shape[1] - 1)
    k = np.clip(k, 1, seg.shape[1] - 2)  # room for the parabola's neighbours
    rows = np.arange(len(seg))
    y0, y1, y2 = seg[rows, k - 1], seg[rows, k], seg[rows, k + 1]
    curv = y0 - 2.0 * y1 + y2
    shift = np.zeros_like(y1)
    np.divide(0.5 * (y0 - y2), curv, out=shift, where=curv > 1e-12)
    period = tau_min + k + np.clip(shift, -0.5, 0.5)
    return period, voiced


def _nan_median_filter(x: np.ndarray, size: int) -> np.ndarray:
    """Running median over `size` frames ignoring NaNs (NaN where a window has no value).

    Hand-rolled because np.nanmedian warns on all-NaN windows and scipy is not a dependency.
    """
    half = size // 2
    padded = np.pad(x, half, constant_values=np.nan)
    win = np.sort(np.lib.stride_tricks.sliding_window_view(padded, size), axis=1)  # NaN last
    count = np.sum(~np.isnan(win), axis=1)
    rows = np.arange(len(x))
    lo = win[rows, np.maximum(count - 1, 0) // 2]
    hi = win[rows, count // 2]
    return np.where(count > 0, 0.5 * (lo + hi), np.nan)


def _track_f0(
    padded: np.ndarray, pad: int, sample_rate: int, hop: int, n: int, gate: np.ndarray
) -> np.ndarray:
    """F0 (Hz, NaN = unvoiced) for every frame; only frames where `gate` is True are analysed.

    The YIN integration window is WIN_S long and each analysis frame adds the longest lag
    (1 / F0_MIN), so the lowest F0 still gets a full period of overlap.
    """
    w = max(2, int(round(WIN_S * sample_rate)))
    tau_min = max(2, int(sample_rate / F0_MAX) - 1)  # -1: the parabola needs a left neighbour
    tau_max = max(tau_min + 3, int(np.ceil(sample_rate / F0_MIN)) + 1)
    frames = _frames(padded, pad, w + tau_max, hop, n)
    f0 = np.full(n, np.nan)
    idx = np.flatnonzero(gate)
    batch = max(1, _FFT_BATCH_ELEMENTS // _fast_len(w + tau_max))
    for lo in range(0, len(idx), batch):
        sel = idx[lo : lo + batch]
        period, voiced = _pick_period(_cmndf(frames[sel], w, tau_max), tau_min, VOICING_THRESHOLD)
        hz = sample_rate / period
        ok = voiced & (hz >= F0_MIN * 0.97) & (hz <= F0_MAX * 1.03)
        f0[sel[ok]] = hz[ok]
    smooth = _nan_median_filter(f0, F0_MEDIAN_FRAMES)
    return np.where(np.isnan(f0), np.nan, smooth)


def analyse_frames(samples: np.ndarray, sample_rate: int) -> FrameTrack:
    """Level, silence mask and F0 for 10-ms frames over the whole signal, in one vectorised pass."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"expected mono samples (1-D), got shape {x.shape}")
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    hop = max(1, int(round(HOP_S * sample_rate)))
    hop_s = hop / sample_rate
    if len(x) == 0:
        empty = np.zeros(0)
        return FrameTrack(hop_s, empty, empty.astype(bool), empty)
    x = x - x.mean()  # a DC offset would read as energy in silence
    n = 1 + (len(x) - 1) // hop
    win = max(1, int(round(WIN_S * sample_rate)))
    longest = win + int(np.ceil(sample_rate / F0_MIN)) + 1 + max(2, int(sample_rate / F0_MAX))
    pad = longest // 2 + 1
    padded = np.pad(x, (pad, longest + 1))

    raw_db = _levels_db(_frames(padded, pad, win, hop, n))
    peak = float(raw_db.max())
    floor = peak - DYNAMIC_RANGE_DB
    audible = (raw_db > floor) & (raw_db > ABS_SILENCE_DB)
    level_db = np.maximum(raw_db, floor)
    gate = audible & (raw_db > peak - VOICED_RANGE_DB)
    f0 = _track_f0(padded, pad, sample_rate, hop, n, gate)
    return FrameTrack(hop_s, level_db, audible, f0)


# ============================================================================ per word


def _letters(text: str) -> int:
    """Letter count (min 1): punctuation and digits do not lengthen a spoken word."""
    return max(1, sum(ch.isalpha() for ch in text))


def _word_span(track: FrameTrack, start: float, end: float) -> slice:
    """Frames centred inside [start, end); the nearest frame if the word is shorter than a hop."""
    n = len(track.level_db)
    i0 = int(np.ceil(start / track.hop_s - 1e-9))
    i1 = int(np.ceil(end / track.hop_s - 1e-9))
    i0, i1 = max(i0, 0), min(i1, n)
    if i1 <= i0:
        i = int(np.clip(round(0.5 * (start + end) / track.hop_s), 0, n - 1))
        return slice(i, i + 1)
    return slice(i0, i1)


def word_cues(track: FrameTrack, words: list[Word]) -> WordCues:
    """Raw energy / pitch / duration cues for the timed words, in input order."""
    timed = [w for w in words if w.timed]
    voiced = track.f0[~np.isnan(track.f0)]
    ref_f0 = float(np.median(voiced)) if voiced.size else None
    cues = np.zeros((len(timed), 3))
    audible = np.zeros(len(timed), dtype=bool)
    if len(track.level_db) == 0:
        return WordCues(cues[:, 0], cues[:, 1], cues[:, 2], audible)
    for k, w in enumerate(timed):
        span = _word_span(track, w.start, w.end)
        cues[k, 0] = track.level_db[span].mean()
        f0 = track.f0[span]
        if ref_f0 is not None and not np.isnan(f0).all():
            cues[k, 1] = 12.0 * np.log2(np.nanmax(f0) / ref_f0)
        cues[k, 2] = max(0.0, w.end - w.start) / _letters(w.text)
        audible[k] = track.audible[span].any()
    return WordCues(cues[:, 0], cues[:, 1], cues[:, 2], audible)


def _robust_z(values: np.ndarray, floor: float) -> np.ndarray:
    """(v - median) / max(1.4826 * MAD, floor), clipped to +-Z_CLIP.

    Median/MAD rather than mean/std: the few prominent words are exactly the outliers, and they
    should not set the scale against which they are measured.
    """
    if values.size == 0:
        return values.copy()
    med = np.median(values)
    scale = max(_MAD_TO_SD * float(np.median(np.abs(values - med))), floor)
    return np.clip((values - med) / scale, -Z_CLIP, Z_CLIP)


def combine_cues(cues: WordCues) -> np.ndarray:
    """Prominence per word: max(0, sum_i WEIGHTS[i] * z_i + PROM_OFFSET); silent words get 0.

    Statistics come from audible words only, so pauses mislabelled as words neither get a
    value nor distort everyone else's.
    """
    prom = np.zeros(len(cues.audible))
    live = cues.audible
    if not live.any():
        return prom
    raw = (cues.energy_db, cues.pitch_st, cues.sec_per_char)
    combined = sum(
        wt * _robust_z(c[live], fl) for wt, c, fl in zip(WEIGHTS, raw, SCALE_FLOORS, strict=True)
    )
    prom[live] = np.maximum(0.0, combined + PROM_OFFSET)
    return prom


def word_prominence(
    samples: np.ndarray, sample_rate: int, words: list[Word]
) -> list[tuple[str, float, float, float]]:
    """(word, start, end, prominence) for every timed word, in input order; untimed are skipped."""
    timed = [w for w in words if w.timed]
    if not timed:
        return []
    track = analyse_frames(samples, sample_rate)
    prom = combine_cues(word_cues(track, timed))
    return [
        (w.text, float(w.start), float(w.end), float(p)) for w, p in zip(timed, prom, strict=True)
    ]


# ============================================================================ .prom files


def _parse_prom_line(fields: list[str]) -> tuple[str, float, float, float]:
    """basename, start, end, word, prominence[, boundary] -> (word, start, end, prominence)."""
    if len(fields) not in (5, 6):
        raise ValueError(f"expected 5 or 6 columns, got {len(fields)}")
    start, end, prom = float(fields[1]), float(fields[2]), float(fields[4])
    if len(fields) == 6:
        float(fields[5])  # boundary: validated, not used
    if not all(np.isfinite((start, end, prom))):
        raise ValueError("non-finite number")
    return fields[3], start, end, prom


def _split(line: str) -> list[str]:
    """Tab-separated as written by the toolkit; whitespace-separated files are accepted too."""
    return line.split("\t") if "\t" in line else line.split()


def _is_header(fields: list[str]) -> bool:
    """A first line whose time columns are not numbers (e.g. 'file start end word prom ...')."""
    try:
        float(fields[1])
        float(fields[2])
    except (IndexError, ValueError):
        return len(fields) >= 5
    return False


def read_prom(path: str | Path) -> list[tuple[str, float, float, float]]:
    """Rows (word, start, end, prominence) of a `.prom` file; the boundary column is ignored.

    Raises ValueError naming the file and 1-based line number of the first malformed line.
    """
    path = Path(path)
    rows: list[tuple[str, float, float, float]] = []
    seen_data = False
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        fields = [f.strip() for f in _split(line.rstrip("\r\n"))]
        if not seen_data and _is_header(fields):
            seen_data = True
            continue
        seen_data = True
        try:
            rows.append(_parse_prom_line(fields))
        except ValueError as err:
            raise ValueError(f"{path}:{lineno}: malformed .prom line {line!r}: {err}") from None
    return rows


def write_prom(
    path: str | Path, rows: list[tuple[str, float, float, float]], basename: str
) -> None:
    """Write rows (word, start, end, prominence) as a tab-separated `.prom` file, boundary 0.0."""
    if any(ch in basename for ch in "\t\r\n"):
        raise ValueError(f"basename may not contain tabs or newlines: {basename!r}")
    lines = []
    for word, start, end, prom in rows:
        if not word or any(ch in word for ch in "\t\r\n"):
            raise ValueError(f"word must be non-empty without tabs or newlines: {word!r}")
        lines.append(f"{basename}\t{start:.3f}\t{end:.3f}\t{word}\t{prom:.3f}\t0.000\n")
    with atomic_write(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("".join(lines))
