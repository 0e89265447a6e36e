"""CTC forced alignment on constructed emissions whose best path is known by construction."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from backend.speech.alignment import (
    MISMATCH_THRESHOLD,
    W2V2_960H_VOCAB,
    AlignmentError,
    WordTiming,
    align_words,
    alignment_quality,
    ctc_forced_align,
    normalize_for_ctc,
    spell_integer,
)

VOCAB = W2V2_960H_VOCAB
P_HIGH = 0.9


def emissions(frames: str, p_high: float = P_HIGH) -> np.ndarray:
    """(T, 32) log posteriors: frame t puts p_high on frames[t] ('-' = blank), rest spread."""
    n_vocab = len(VOCAB)
    probs = np.full((len(frames), n_vocab), (1.0 - p_high) / (n_vocab - 1))
    for t, ch in enumerate(frames):
        probs[t, VOCAB["<pad>"] if ch == "-" else VOCAB[ch]] = p_high
    return np.log(probs).astype(np.float32)


def path_string(labels: np.ndarray, text: str) -> str:
    """The path as characters of the token string ('-' for blank), for readable asserts."""
    return "".join("-" if i < 0 else text[i] for i in labels)


def ids(text: str) -> list[int]:
    return [VOCAB[c] for c in text]


def collapse(frame_ids: list[int], blank: int = 0) -> list[int]:
    out: list[int] = []
    prev = None
    for i in frame_ids:
        if i != prev and i != blank:
            out.append(i)
        prev = i
    return out


# ---------------------------------------------------------------------------------------------
# normalisation


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("hello", "HELLO"),
        ("Hello,", "HELLO"),
        ("café", "CAFE"),
        ("naïve", "NAIVE"),
        ("don't", "DON'T"),
        ("don\u2019t", "DON'T"),
        ("'quoted'", "QUOTED"),
        ("42", "FORTY|TWO"),
        ("3.5", "THREE|POINT|FIVE"),
        ("0", "ZERO"),
        ("115", "ONE|HUNDRED|FIFTEEN"),
        ("1,000", "ONE|THOUSAND"),
        ("9999", "NINE|THOUSAND|NINE|HUNDRED|NINETY|NINE"),
        ("1990s", "NINETEEN|NINETIES"),
        ("21st", "TWENTY|FIRST"),
        ("12th", "TWELFTH"),
        ("well-known", "WELL|KNOWN"),
        ("50%", "FIFTY|PERCENT"),
        ("—", ""),
        ("...", ""),
        ("", ""),
    ],
)
def test_normalize_for_ctc(word: str, expected: str) -> None:
    assert normalize_for_ctc(word, VOCAB) == expected


def test_normalized_characters_are_all_in_vocab() -> None:
    for word in ["Zürich", "l'été", "straße", "A+B=C", "#1", "x²", "Ωmega"]:
        assert all(c in VOCAB for c in normalize_for_ctc(word, VOCAB)), word


def test_spell_integer() -> None:
    assert spell_integer(13) == ["THIRTEEN"]
    assert spell_integer(40) == ["FORTY"]
    assert spell_integer(101) == ["ONE", "HUNDRED", "ONE"]
    assert spell_integer(2024) == ["TWO", "THOUSAND", "TWENTY", "FOUR"]
    assert spell_integer(12345) == ["ONE", "TWO", "THREE", "FOUR", "FIVE"]  # digit by digit


# ---------------------------------------------------------------------------------------------
# Viterbi


def test_path_follows_constructed_emissions() -> None:
    frames = "---HHI---|YOU--"
    labels, frame_logp = ctc_forced_align(emissions(frames), ids("HI|YOU"))
    assert path_string(labels, "HI|YOU") == frames
    assert labels.dtype == np.int32
    np.testing.assert_allclose(np.exp(frame_logp), P_HIGH, rtol=1e-5)


def test_repeated_letter_gets_a_blank_between() -> None:
    # The emissions say L on three frames with no blank; CTC must still split LL with one.
    frames = "-HELLLO-"
    labels, _ = ctc_forced_align(emissions(frames), ids("HELLO"))
    first_l = np.flatnonzero(labels == 2)
    second_l = np.flatnonzero(labels == 3)
    assert first_l.size and second_l.size
    between = labels[first_l[-1] + 1 : second_l[0]]
    assert between.size >= 1 and np.all(between == -1)
    assert collapse([0 if i < 0 else ids("HELLO")[i] for i in labels]) == ids("HELLO")


def test_minimum_length_with_repeat_is_feasible() -> None:
    labels, _ = ctc_forced_align(emissions("HEL-LO"), ids("HELLO"))
    assert path_string(labels, "HELLO") == "HEL-LO"


def test_too_short_raises_readable_error() -> None:
    with pytest.raises(AlignmentError) as info:
        ctc_forced_align(emissions("HELLO"), ids("HELLO"))
    message = str(info.value)
    assert "too short" in message and "at least 6 frames" in message and "only 5" in message
    assert isinstance(info.value, ValueError)
    with pytest.raises(AlignmentError):
        align_words(emissions("HI"), ["hello"], VOCAB)


def test_empty_tokens_is_all_blank() -> None:
    lp = emissions("---")
    labels, frame_logp = ctc_forced_align(lp, [])
    assert labels.tolist() == [-1, -1, -1]
    np.testing.assert_allclose(frame_logp, lp[:, 0])


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="blank"):
        ctc_forced_align(emissions("-AB-"), [VOCAB["A"], 0])
    with pytest.raises(ValueError, match="frames, vocab"):
        ctc_forced_align(np.zeros(5), [5])
    lp = emissions("-AB-")
    lp[:, VOCAB["B"]] = -np.inf
    with pytest.raises(AlignmentError, match="finite"):
        ctc_forced_align(lp, ids("AB"))


def _brute_force_best(lp: np.ndarray, tokens: list[int]) -> float:
    """Max score over every frame labelling that collapses to `tokens` (the CTC definition)."""
    alphabet = sorted({0, *tokens})
    best = -math.inf
    for seq in itertools.product(alphabet, repeat=lp.shape[0]):
        if collapse(list(seq)) == tokens:
            best = max(best, float(sum(lp[t, s] for t, s in enumerate(seq))))
    return best


@pytest.mark.parametrize("tokens", [[1, 2], [1, 1], [2, 1, 2], [3, 3, 3], [1, 2, 2], [3, 1]])
@pytest.mark.parametrize("n_frames", [3, 4, 5, 7])
def test_viterbi_matches_brute_force(tokens: list[int], n_frames: int) -> None:
    rng = np.random.default_rng(1000 * n_frames + sum(tokens) * 7 + len(tokens))
    needed = len(tokens) + sum(a == b for a, b in itertools.pairwise(tokens))
    for _ in range(5):
        logits = rng.standard_normal((n_frames, 4)) * 2.0
        lp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        if n_frames < needed:
            with pytest.raises(AlignmentError):
                ctc_forced_align(lp, tokens)
            continue
        labels, frame_logp = ctc_forced_align(lp, tokens)
        frame_ids = [0 if i < 0 else tokens[i] for i in labels]
        assert collapse(frame_ids) == tokens
        # labels index the token *position*, so a repeat must change index only across a blank
        assert all(b in (a, a + 1, -1) or a == -1 for a, b in itertools.pairwise(labels))
        np.testing.assert_allclose(frame_logp, lp[np.arange(n_frames), frame_ids])
        assert frame_logp.sum() == pytest.approx(_brute_force_best(lp, tokens), abs=1e-9)


def test_random_400_tokens_visits_every_token() -> None:
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((3000, 32)).astype(np.float32)
    lp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    tokens = rng.integers(1, 32, 400).tolist()
    labels, _ = ctc_forced_align(lp, tokens)
    assert np.array_equal(np.unique(labels[labels >= 0]), np.arange(400))


# ---------------------------------------------------------------------------------------------
# words


def test_word_times_exact_with_offset() -> None:
    frames = "---HHI---|YOU--"
    timings = align_words(emissions(frames), ["Hi", "you!"], VOCAB, offset=1.5)
    assert [t.text for t in timings] == ["Hi", "you!"]
    hi, you = timings
    assert hi.start == pytest.approx(1.5 + 3 * 0.02)
    assert hi.end == pytest.approx(1.5 + 6 * 0.02)
    assert you.start == pytest.approx(1.5 + 10 * 0.02)
    assert you.end == pytest.approx(1.5 + 13 * 0.02)
    assert hi.confidence == pytest.approx(P_HIGH, rel=1e-5)
    assert you.confidence == pytest.approx(P_HIGH, rel=1e-5)
    assert alignment_quality(timings) == pytest.approx(P_HIGH, rel=1e-5)
    word = hi.to_word()
    assert (word.text, word.start, word.end, word.confidence) == (
        hi.text,
        hi.start,
        hi.end,
        hi.confidence,
    )


def test_frame_seconds_parameter() -> None:
    (w,) = align_words(emissions("--AB--"), ["ab"], VOCAB, frame_seconds=0.04)
    assert (w.start, w.end) == pytest.approx((0.08, 0.16))


def test_apostrophe_digits_accents() -> None:
    frames = "-DON'T-|-FORTY|TWO--|CAFE-"
    timings = align_words(emissions(frames), ["don't", "42", "café"], VOCAB)
    dont, forty_two, cafe = timings
    assert (dont.start, dont.end) == pytest.approx((1 * 0.02, 6 * 0.02))
    assert (forty_two.start, forty_two.end) == pytest.approx((9 * 0.02, 18 * 0.02))
    assert (cafe.start, cafe.end) == pytest.approx((21 * 0.02, 25 * 0.02))
    for t in timings:
        assert t.confidence == pytest.approx(P_HIGH, rel=1e-5)


def test_double_letter_word_timing() -> None:
    frames = "--HELLLO--|-WORLD-"
    hello, world = align_words(emissions(frames), ["Hello", "world"], VOCAB)
    assert (hello.start, hello.end) == pytest.approx((2 * 0.02, 8 * 0.02))
    assert (world.start, world.end) == pytest.approx((12 * 0.02, 17 * 0.02))
    # one L frame had to become a blank; blanks are not character frames, so no penalty
    assert hello.confidence == pytest.approx(P_HIGH, rel=1e-5)


def test_unspeakable_words_take_neighbour_times() -> None:
    frames = "--HELLO-|-WORLD-"
    lp = emissions(frames)
    hello, dash, world = align_words(lp, ["hello", "—", "world"], VOCAB, offset=2.0)
    assert dash.confidence is None
    assert dash.start == dash.end == world.start
    assert world.start == pytest.approx(2.0 + 10 * 0.02)

    lead, hello2 = align_words(lp[:8], ["...", "hello"], VOCAB)
    assert lead.start == lead.end == hello2.start
    hello3, tail = align_words(lp[:8], ["hello", "!"], VOCAB)
    assert tail.start == tail.end == hello3.end

    (only,) = align_words(lp, ["—"], VOCAB, offset=3.0)
    assert (only.start, only.end, only.confidence) == (3.0, 3.0, None)
    assert alignment_quality([only]) == 0.0
    assert align_words(lp, [], VOCAB) == []


def test_quality_separates_matching_from_mismatched_transcript() -> None:
    frames = "--HH-E-LL-L-OO--|--WW-O-RR-L-DD---"
    lp = emissions(frames)
    matched = align_words(lp, ["Hello", "world"], VOCAB)
    wrong = align_words(lp, ["Goodbye", "moon"], VOCAB)
    good_q, bad_q = alignment_quality(matched), alignment_quality(wrong)
    print(f"\nquality matched={good_q:.3f} mismatched={bad_q:.3f}")
    assert good_q > 0.85 > MISMATCH_THRESHOLD
    assert bad_q < MISMATCH_THRESHOLD
    assert all(isinstance(t, WordTiming) for t in wrong)
