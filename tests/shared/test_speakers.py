"""BEAT2 English speakers: official idmapping (spec §1.8) and user-facing resolution."""

from __future__ import annotations

from pathlib import Path, PureWindowsPath

import pytest

from rag_gesture_shared.speakers import (
    DEFAULT_SPEAKER,
    SPEAKERS,
    Speaker,
    resolve_speaker,
    speaker_from_filename,
    speaker_index,
)

BEAT_IDS = {
    1: "wayne", 2: "scott", 3: "solomon", 4: "lawrence", 5: "stewart", 6: "carla",
    7: "sophie", 9: "miranda", 10: "kieks", 11: "nidal", 12: "zhao", 13: "lu",
    15: "carlos", 16: "jorge", 17: "itoi", 18: "daiki", 20: "li", 21: "ayana", 22: "luqi",
    23: "hailing", 24: "kexin", 25: "goto", 27: "yingqing", 28: "tiffnay", 30: "katya",
}


def test_25_speakers_cover_indices_0_to_24():
    assert len(SPEAKERS) == 25
    assert [s.index for s in SPEAKERS] == list(range(25))
    assert len({s.beat_id for s in SPEAKERS}) == 25
    assert len({s.name for s in SPEAKERS}) == 25
    assert {s.beat_id: s.name for s in SPEAKERS} == BEAT_IDS


def test_official_idmapping():
    expected = {b: b - 1 for b in BEAT_IDS} | {30: 7, 28: 13, 27: 18}
    assert {b: speaker_index(b) for b in BEAT_IDS} == expected


@pytest.mark.parametrize(
    ("beat_id", "index", "name"),
    [(30, 7, "katya"), (28, 13, "tiffnay"), (27, 18, "yingqing"), (2, 1, "scott"),
     (1, 0, "wayne"), (25, 24, "goto"), (9, 8, "miranda")],
)
def test_mapping_spot_checks(beat_id, index, name):
    assert speaker_index(beat_id) == index
    assert SPEAKERS[index] == Speaker(index, beat_id, name)


@pytest.mark.parametrize("beat_id", [0, 8, 14, 19, 26, 29, 31, -1])
def test_speaker_index_rejects_non_beat2_ids(beat_id):
    with pytest.raises(ValueError, match=rf"BEAT speaker id {beat_id} is not one of the 25"):
        speaker_index(beat_id)


def test_default_speaker_is_scott():
    assert DEFAULT_SPEAKER == Speaker(1, 2, "scott")
    assert DEFAULT_SPEAKER.label == "2_scott"


def test_speaker_is_frozen():
    with pytest.raises(AttributeError):
        DEFAULT_SPEAKER.index = 3  # type: ignore[misc]


KATYA = Speaker(7, 30, "katya")


@pytest.mark.parametrize(
    "value",
    [
        7, "7", " 7 ", "katya", "KATYA", " Katya ", "30_katya", "30_Katya",
        "30_katya_0_1_1", "30_katya_0_1_1.wav", "/data/beat2/wave16k/30_katya_0_1_1.wav",
        "C:\\beat\\30_katya_1_2_3.TextGrid", Path("/x/30_katya_0_9_9.npz"),
    ],
)
def test_resolve_every_form(value):
    assert resolve_speaker(value) == KATYA


def test_resolve_every_speaker_by_each_form():
    for s in SPEAKERS:
        assert resolve_speaker(s.index) is s
        assert resolve_speaker(str(s.index)) is s
        assert resolve_speaker(s.name.upper()) is s
        assert resolve_speaker(s.label) is s
        assert resolve_speaker(f"/tmp/{s.label}_0_1_1.wav") is s


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("bob", "unknown speaker 'bob'"),
        ("", "unknown speaker ''"),
        (25, "speaker index 25 is out of range"),
        (-1, "speaker index -1 is out of range"),
        ("30", "BEAT id 30 is katya, model index 7: pass '30_katya'"),
        ("2_katya", "BEAT id 2 is scott, not katya"),
        ("2_katya_0_1_1.wav", "BEAT id 2 is scott, not katya"),
        ("8_someone", "BEAT id 8 is not a BEAT2 English speaker"),
        (True, "speaker True is not valid"),
        (3.0, "speaker 3.0 is not valid"),
    ],
)
def test_resolve_errors_list_choices(value, fragment):
    with pytest.raises(ValueError) as info:
        resolve_speaker(value)  # type: ignore[arg-type]
    message = str(info.value)
    assert fragment in message
    assert "model index 0..24" in message
    for s in SPEAKERS:
        assert s.name in message
    assert "'2_scott'" in message and "2_scott_0_1_1.wav" in message


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("2_scott_0_1_1.wav", DEFAULT_SPEAKER),
        ("/data/BEAT2/beat_english_v2.0.0/wave16k/28_tiffnay_1_3_3.wav", SPEAKERS[13]),
        (Path("/data/27_yingqing_0_2_2.TextGrid"), SPEAKERS[18]),
        (str(PureWindowsPath("D:/beat/10_kieks_0_1_1.npz")), SPEAKERS[9]),
        ("2_scott", DEFAULT_SPEAKER),
        ("1_intro.wav", None),  # id 1 is wayne: looks like BEAT2 but is not
        ("2_scottish_talk.wav", None),
        ("8_someone_0_1_1.wav", None),
        ("talk.wav", None),
        ("scott.wav", None),
        ("/data/2_scott_0_1_1/talk.wav", None),  # only the file name counts
    ],
)
def test_speaker_from_filename(path, expected):
    assert speaker_from_filename(path) == expected
