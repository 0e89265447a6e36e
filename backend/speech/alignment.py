"""Word timings by CTC forced alignment against wav2vec2-base-960h emissions.

The emissions (log posteriors, one frame per 20 ms) come from `backend.speech.wav2vec`; this
module is the pure algorithm: normalise the transcript to the model's character vocabulary,
run a Viterbi pass over the CTC topology, and read word spans and confidences off the path.

Memory: back-pointers are two bit planes of shape (T, ceil(S/8)) with S = 2*tokens + 1
extended states, so 50,000 frames x 5,000 tokens needs ~125 MB instead of the 4 GB a float
(T, S) matrix would; the forward pass loops over frames only and is vectorised over states.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .words import Transcript, Word

FRAME_SECONDS = 0.02  # wav2vec2: one emission per 320 samples at 16 kHz
# Viterbi back-pointers are frames x labels bytes; above this, ask for timed phrases.
MAX_ALIGNMENT_CELLS = 400_000_000
PHRASE_MARGIN = 0.2  # seconds of audio on each side of a timed phrase

# Mean character posterior below which a transcript is judged not to belong to the audio.
# How it was chosen: on a matching transcript the path sits on the model's own peaks, and
# wav2vec2-960h is peaky (posteriors ~0.6-1.0 for clean speech, rarely below ~0.4 per word
# on average even for accented or noisy speech). On a wrong transcript most characters are
# forced onto frames where the model predicts something else, with posteriors ~1e-3..1e-2;
# only letters that happen to coincide score high, which pulls whole-transcript means up to
# ~0.05-0.15 at most. Uniform guessing over the 32 tokens would be 1/32 ~= 0.03. 0.2 sits
# clearly above the mismatched range and far below the matched one, so it errs towards
# accepting real but difficult recordings. It is a heuristic: recalibrate it on real
# emissions (bench) if the model or the languages change.
MISMATCH_THRESHOLD = 0.2

# The CTC vocabulary of facebook/wav2vec2-base-960h, for tests and tools that run without
# the tokenizer; the live path should use `processor.tokenizer.get_vocab()`.
W2V2_960H_VOCAB: dict[str, int] = {
    tok: i
    for i, tok in enumerate(
        ["<pad>", "<s>", "</s>", "<unk>", "|"] + list("ETAONIHSRDLUMWCFGYPBVK'XJQZ")
    )
}


class AlignmentError(ValueError):
    """The transcript cannot be aligned to these emissions (too few frames, no finite path)."""


def alignment_spans(transcript: Transcript, n_frames: int) -> list[tuple[list[Word], int, int]]:
    """(words, first frame, end frame) of each separate alignment over `n_frames` emissions:
    every phrase inside its own span (plus PHRASE_MARGIN) when all phrases are timed, else
    the whole transcript over the whole recording."""
    spans = ([(p.words, p.start, p.end) for p in transcript.phrases] if transcript.phrase_timed
             else [(transcript.words, 0.0, n_frames * FRAME_SECONDS)])
    return [(words, max(0, int((start - PHRASE_MARGIN) / FRAME_SECONDS)),
             min(n_frames, math.ceil((end + PHRASE_MARGIN) / FRAME_SECONDS)))
            for words, start, end in spans]


def too_long_to_align(transcript: Transcript, n_frames: int) -> str | None:
    """The sentence to refuse with when one alignment would need more than
    MAX_ALIGNMENT_CELLS back-pointers (known from the word count and the audio length,
    before any model runs), else None."""
    for words, a, b in alignment_spans(transcript, n_frames):
        if (b - a) * (2 * sum(len(w.text) for w in words) + 1) > MAX_ALIGNMENT_CELLS:
            return (f"the transcript is too long to align in one piece ({len(words)} words "
                    f"over {(b - a) * FRAME_SECONDS:.0f} s); give it phrase timings (SRT, "
                    "TextGrid or timed text strips)")
    return None


@dataclass(frozen=True)
class WordTiming:
    """One transcript word on the time axis (seconds). confidence None = not aligned."""

    text: str
    start: float
    end: float
    confidence: float | None

    def to_word(self) -> Word:
        """As the front end's common `Word` type."""
        return Word(self.text, self.start, self.end, self.confidence)


# ---------------------------------------------------------------------------------------------
# Transcript normalisation

_ONES = (
    "ZERO ONE TWO THREE FOUR FIVE SIX SEVEN EIGHT NINE TEN ELEVEN TWELVE THIRTEEN FOURTEEN "
    "FIFTEEN SIXTEEN SEVENTEEN EIGHTEEN NINETEEN"
).split()
_TENS = "_ _ TWENTY THIRTY FORTY FIFTY SIXTY SEVENTY EIGHTY NINETY".split()
_ORDINAL_IRREGULAR = {
    "ONE": "FIRST",
    "TWO": "SECOND",
    "THREE": "THIRD",
    "FIVE": "FIFTH",
    "EIGHT": "EIGHTH",
    "NINE": "NINTH",
    "TWELVE": "TWELFTH",
}
_APOSTROPHES = str.maketrans({c: "'" for c in "\u2018\u2019\u02bc\u0060\u00b4\u2032"})
_SYMBOLS = {"%": " PERCENT ", "&": " AND "}
# A number token: 1,000 / 3.5 / .5 / 42, optionally followed by an ordinal or plural suffix.
_NUMBER = re.compile(r"(\d{1,3}(?:,\d{3})+|\d+)?(?:\.(\d+))?(?:(ST|ND|RD|TH|'?S)(?![A-Z]))?")


def spell_integer(n: int) -> list[str]:
    """English words for 0 <= n <= 9999 (American style, no 'and'); digit by digit above."""
    if n < 0:
        return ["MINUS", *spell_integer(-n)]
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        tens, ones = divmod(n, 10)
        return [_TENS[tens]] + ([_ONES[ones]] if ones else [])
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return [_ONES[hundreds], "HUNDRED"] + (spell_integer(rest) if rest else [])
    if n < 10000:
        thousands, rest = divmod(n, 1000)
        return [_ONES[thousands], "THOUSAND"] + (spell_integer(rest) if rest else [])
    # Beyond the small speller: read the digits, which is how long codes are spoken anyway.
    return [_ONES[int(d)] for d in str(n)]


def spell_year(n: int) -> list[str]:
    """Two-digit pairs as years are said: 1990 -> NINETEEN NINETY, 1905 -> NINETEEN OH FIVE.

    Used for bare 1100..1999, where the cardinal reading ("one thousand nine hundred ...")
    is rare in speech and would put many characters the speaker never said on the path.
    """
    century, rest = divmod(n, 100)
    if rest == 0:
        return [*spell_integer(century), "HUNDRED"]
    if rest < 10:
        return [*spell_integer(century), "OH", _ONES[rest]]
    return [*spell_integer(century), *spell_integer(rest)]


def _ordinal(words: list[str]) -> list[str]:
    last = words[-1]
    if last in _ORDINAL_IRREGULAR:
        last = _ORDINAL_IRREGULAR[last]
    elif last.endswith("Y"):
        last = last[:-1] + "IETH"
    else:
        last = last + "TH"
    return [*words[:-1], last]


def _plural(words: list[str]) -> list[str]:
    last = words[-1]
    last = last[:-1] + "IES" if last.endswith("Y") else last + ("ES" if last == "SIX" else "S")
    return [*words[:-1], last]


def _spell_number(match: re.Match[str]) -> list[str]:
    integer, fraction, suffix = match.group(1), match.group(2), match.group(3)
    if integer and not fraction and "," not in integer and 1100 <= int(integer) <= 1999:
        words = spell_year(int(integer))
    else:
        words = spell_integer(int(integer.replace(",", ""))) if integer else []
    if fraction:
        words += ["POINT", *(_ONES[int(d)] for d in fraction)]
    elif suffix in ("ST", "ND", "RD", "TH"):
        words = _ordinal(words)
    elif suffix:
        words = _plural(words)
    return words


def normalize_for_ctc(word: str, vocab: dict[str, int], delimiter: str = "|") -> str:
    """Map one transcript word onto the characters the CTC vocabulary can emit.

    The acoustic model only knows uppercase letters and the apostrophe, so accents are
    stripped (NFKD), digits are spelled out (42 -> FORTY|TWO, 3.5 -> THREE|POINT|FIVE,
    21st -> TWENTY|FIRST, 1990s -> NINETEEN|NINETIES) and other punctuation is dropped.
    Multi-word spellings are joined by `delimiter` (if the vocab has it) because the model
    emits it between spoken words.
    Returns "" when nothing speakable is left (e.g. a dash); the aligner then gives the word
    a zero-length span at its neighbours' boundary.
    """
    text = unicodedata.normalize("NFKD", word.translate(_APOSTROPHES))
    text = "".join(c for c in text if not unicodedata.combining(c)).upper()
    for sym, spoken in _SYMBOLS.items():
        text = text.replace(sym, spoken)

    parts: list[str] = []
    pos = 0
    while pos < len(text):
        if text[pos].isdigit() or (
            text[pos] == "." and pos + 1 < len(text) and text[pos + 1].isdigit()
        ):
            match = _NUMBER.match(text, pos)
            if match is not None and match.end() > pos and (match.group(1) or match.group(2)):
                parts.extend(_spell_number(match))
                pos = match.end()
                continue
        parts.append(text[pos] if _speakable(text[pos], vocab) else " ")
        pos += 1

    # Hyphens, slashes, spaces and number boundaries separate spoken words.
    joined = "".join(p if len(p) == 1 else f" {p} " for p in parts)
    pieces = [p.strip("'") for p in joined.split()]
    pieces = [p for p in pieces if p]
    sep = delimiter if delimiter in vocab else ""
    return sep.join(pieces)


def _speakable(char: str, vocab: dict[str, int]) -> bool:
    return (char.isalpha() or char == "'") and char in vocab


# ---------------------------------------------------------------------------------------------
# Viterbi over the CTC topology


def ctc_forced_align(
    log_probs: np.ndarray, tokens: Sequence[int], blank: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Best CTC path of `tokens` through `log_probs` (T, V).

    Returns (labels, frame_logp), both length T: labels[t] is the index into `tokens` that
    frame t emits, -1 for blank; frame_logp[t] is log_probs[t, emitted id] on that path.
    Standard topology: optional blanks around every label, a blank required between two
    equal consecutive labels (otherwise CTC would merge them), so T must be at least
    len(tokens) + number of repeated pairs. Ties prefer staying in the current state.
    """
    lp = np.asarray(log_probs)
    if lp.ndim != 2:
        raise ValueError(f"log_probs must be (frames, vocab), got shape {lp.shape}")
    if not np.issubdtype(lp.dtype, np.floating):
        lp = lp.astype(np.float64)
    n_frames, n_vocab = lp.shape
    tok = np.asarray(tokens, dtype=np.int64).reshape(-1)
    n_tok = tok.size
    if not 0 <= blank < n_vocab:
        raise ValueError(f"blank id {blank} is outside the vocabulary of size {n_vocab}")
    if n_tok and (tok.min() < 0 or tok.max() >= n_vocab):
        raise ValueError(f"token ids must lie in [0, {n_vocab}), got {tok.min()}..{tok.max()}")
    if np.any(tok == blank):
        raise ValueError(f"the token sequence contains the blank id {blank}")
    if np.isnan(lp).any():
        raise ValueError("log_probs contains NaN")

    repeats = int(np.count_nonzero(tok[1:] == tok[:-1])) if n_tok > 1 else 0
    needed = n_tok + repeats
    if n_frames < needed:
        raise AlignmentError(
            f"The audio is too short for its transcript: CTC alignment of {n_tok} characters "
            f"({repeats} doubled letters need a blank frame between them) needs at least "
            f"{needed} frames, but the emissions have only {n_frames} "
            f"({n_frames * FRAME_SECONDS:.2f} s at {FRAME_SECONDS * 1000:.0f} ms per frame)."
        )
    if n_tok == 0:
        return np.full(n_frames, -1, dtype=np.int32), lp[:, blank].astype(np.float64)

    n_states = 2 * n_tok + 1
    ext = np.full(n_states, blank, dtype=np.int64)
    ext[1::2] = tok
    # s -> s+2 skips the blank between two labels; only allowed when the labels differ.
    skip_ok = np.zeros(n_states, dtype=bool)
    skip_ok[3::2] = tok[1:] != tok[:-1]
    skip_ok = skip_ok[2:]

    n_bytes = (n_states + 7) // 8
    moved = np.zeros((n_frames, n_bytes), dtype=np.uint8)  # came from s-1 or s-2
    skipped = np.zeros((n_frames, n_bytes), dtype=np.uint8)  # came from s-2

    alpha = np.full(n_states, -np.inf, dtype=np.float64)
    alpha[0] = lp[0, blank]
    alpha[1] = lp[0, ext[1]]
    best = np.empty_like(alpha)
    m1 = np.zeros(n_states, dtype=bool)
    m2 = np.zeros(n_states, dtype=bool)
    for t in range(1, n_frames):
        np.greater(alpha[:-1], alpha[1:], out=m1[1:])
        best[0] = alpha[0]
        np.maximum(alpha[1:], alpha[:-1], out=best[1:])
        np.greater(alpha[:-2], best[2:], out=m2[2:])
        m2[2:] &= skip_ok
        np.copyto(best[2:], alpha[:-2], where=m2[2:])
        m1 |= m2
        moved[t] = np.packbits(m1)
        skipped[t] = np.packbits(m2)
        np.add(best, lp[t, ext], out=alpha)

    end = n_states - 1 if alpha[-1] >= alpha[-2] else n_states - 2
    if not np.isfinite(alpha[end]):
        raise AlignmentError(
            "No CTC path with finite probability exists for this transcript: the emissions "
            "give some required character a probability of exactly zero."
        )

    states = np.empty(n_frames, dtype=np.int64)
    s = end
    for t in range(n_frames - 1, 0, -1):
        states[t] = s
        byte, shift = s >> 3, 7 - (s & 7)
        if (moved[t, byte] >> shift) & 1:
            s -= 2 if (skipped[t, byte] >> shift) & 1 else 1
    states[0] = s
    if s > 1:  # would mean a bug in the recursion, not bad input
        raise AssertionError(f"backtrack ended in state {s}, expected 0 or 1")

    labels = np.where(states % 2 == 1, (states - 1) // 2, -1).astype(np.int32)
    frame_logp = lp[np.arange(n_frames), ext[states]].astype(np.float64)
    return labels, frame_logp


# ---------------------------------------------------------------------------------------------
# Words on the path


def align_words(
    log_probs: np.ndarray,
    words: Sequence[str],
    vocab: dict[str, int],
    frame_seconds: float = FRAME_SECONDS,
    offset: float = 0.0,
    blank: int = 0,
    delimiter: str = "|",
) -> list[WordTiming]:
    """Time every transcript word against CTC emissions (T, V) of one stretch of audio.

    start = offset + first character frame * frame_seconds, end = offset + (last character
    frame + 1) * frame_seconds; confidence = mean posterior of the word's frames on the path,
    which is what `alignment_quality` judges a transcript by. Words with nothing speakable
    get a zero-length span at the next word's start (else the previous word's end) and
    confidence None, so the output always has one entry per input word, in order.
    """
    if delimiter not in vocab:
        raise ValueError(f"delimiter {delimiter!r} is not in the vocabulary")
    delim_id = vocab[delimiter]
    normalized = [normalize_for_ctc(w, vocab, delimiter) for w in words]

    tokens: list[int] = []
    owner: list[int] = []  # word index per token, -1 for the delimiter between words
    for i, norm in enumerate(normalized):
        if not norm:
            continue
        if tokens:
            tokens.append(delim_id)
            owner.append(-1)
        tokens.extend(vocab[c] for c in norm)
        owner.extend([i] * len(norm))

    spans: list[tuple[float, float, float] | None] = [None] * len(words)
    if tokens:
        labels, frame_logp = ctc_forced_align(log_probs, tokens, blank=blank)
        on_label = labels >= 0
        frames = np.flatnonzero(on_label)
        frame_word = np.asarray(owner, dtype=np.int64)[labels[on_label]]
        posterior = np.exp(frame_logp[on_label])
        for i in np.unique(frame_word[frame_word >= 0]):
            sel = frame_word == i
            f = frames[sel]
            spans[int(i)] = (
                offset + int(f[0]) * frame_seconds,
                offset + (int(f[-1]) + 1) * frame_seconds,
                float(posterior[sel].mean()),
            )

    # Unspeakable words: at the next timed word's start, else the previous one's end.
    upcoming: list[float | None] = [None] * len(words)
    nxt: float | None = None
    for i in range(len(words) - 1, -1, -1):
        span = spans[i]
        if span is not None:
            nxt = span[0]
        upcoming[i] = nxt
    timings: list[WordTiming] = []
    prev_end = offset
    for i, span in enumerate(spans):
        if span is not None:
            timings.append(WordTiming(words[i], *span))
            prev_end = span[1]
        else:
            at = upcoming[i] if upcoming[i] is not None else prev_end
            timings.append(WordTiming(words[i], at, at, None))
    return timings


def alignment_quality(timings: Sequence[WordTiming]) -> float:
    """Mean confidence over aligned words; 0.0 if none (nothing confirms the match).

    Compare with MISMATCH_THRESHOLD: below it the transcript is judged not to be what is
    being said in the audio (wrong file, wrong segment, another language).
    """
    scores = [t.confidence for t in timings if t.confidence is not None]
    if not scores:
        return 0.0
    value = float(np.mean(scores))
    return value if math.isfinite(value) else 0.0
