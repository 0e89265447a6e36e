"""The 25 BEAT2 English speakers and the model's speaker index for each (spec §1.8).

BEAT numbers its speakers 1..30 across languages; BEAT2 English keeps 25 of them. The model's
speaker embedding has 25 rows, indexed by the official `idmapping`: BEAT ids 30, 28 and 27 take
the indices left free by the missing ids (8, 14, 19), every other id maps to id - 1. Users meet
speakers as names ("scott"), BEAT2 file names ("2_scott_0_1_1.wav") or model indices, so
`resolve_speaker` accepts all of them and checks that ids and names agree.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

__all__ = [
    "DEFAULT_SPEAKER",
    "SPEAKERS",
    "Speaker",
    "resolve_speaker",
    "speaker_from_filename",
    "speaker_index",
]


@dataclass(frozen=True)
class Speaker:
    """One BEAT2 English speaker: `index` is the model's embedding row, `beat_id` the dataset id."""

    index: int
    beat_id: int
    name: str

    @property
    def label(self) -> str:
        """The "<beat id>_<name>" prefix of the speaker's BEAT2 file names, e.g. "2_scott"."""
        return f"{self.beat_id}_{self.name}"


_BEAT_NAMES: dict[int, str] = {
    1: "wayne", 2: "scott", 3: "solomon", 4: "lawrence", 5: "stewart", 6: "carla",
    7: "sophie", 9: "miranda", 10: "kieks", 11: "nidal", 12: "zhao", 13: "lu",
    15: "carlos", 16: "jorge", 17: "itoi", 18: "daiki", 20: "li", 21: "ayana", 22: "luqi",
    23: "hailing", 24: "kexin", 25: "goto", 27: "yingqing", 28: "tiffnay", 30: "katya",
}

# Official idmapping: the three highest ids fill the gaps left by 8, 14 and 19.
_REMAPPED: dict[int, int] = {30: 7, 28: 13, 27: 18}


def _index_for(beat_id: int) -> int:
    return _REMAPPED.get(beat_id, beat_id - 1)


SPEAKERS: tuple[Speaker, ...] = tuple(
    sorted((Speaker(_index_for(b), b, n) for b, n in _BEAT_NAMES.items()), key=lambda s: s.index)
)
assert [s.index for s in SPEAKERS] == list(range(len(SPEAKERS))) == list(range(25))

_BY_BEAT_ID: dict[int, Speaker] = {s.beat_id: s for s in SPEAKERS}
_BY_NAME: dict[str, Speaker] = {s.name: s for s in SPEAKERS}

DEFAULT_SPEAKER: Speaker = _BY_NAME["scott"]

# "<id>_<name>" at the start of a file name, the name ending at "_", ".", "-", space or the end.
_BEAT_PREFIX = re.compile(r"^(\d+)_([A-Za-z]+)(?=$|[_.\-\s])")


def _choices() -> str:
    names = ", ".join(s.name for s in SPEAKERS)
    return (
        f"use a model index 0..{len(SPEAKERS) - 1}, a speaker name ({names}), "
        "'<BEAT id>_<name>' such as '2_scott', or a BEAT2 file name such as '2_scott_0_1_1.wav'"
    )


def speaker_index(beat_id: int) -> int:
    """Model speaker index for a BEAT speaker id; ValueError for ids outside BEAT2 English."""
    if isinstance(beat_id, bool) or beat_id not in _BY_BEAT_ID:
        ids = ", ".join(str(b) for b in sorted(_BY_BEAT_ID))
        raise ValueError(
            f"BEAT speaker id {beat_id!r} is not one of the 25 BEAT2 English speakers "
            f"(ids {ids})"
        )
    return _BY_BEAT_ID[beat_id].index


def _basename(value: str | os.PathLike[str]) -> str:
    """Last path component, splitting on both separators so Windows paths work everywhere."""
    return re.split(r"[\\/]", os.fspath(value).strip())[-1]


def _parse_prefix(value: str) -> tuple[int, str] | None:
    m = _BEAT_PREFIX.match(_basename(value))
    return (int(m.group(1)), m.group(2).lower()) if m else None


def speaker_from_filename(path: str | os.PathLike[str]) -> Speaker | None:
    """The speaker named by a BEAT2 file name ("…/2_scott_0_1_1.wav"), else None.

    None also when id and name disagree ("1_intro.wav"): a user's own file that merely looks
    like the BEAT2 pattern must not silently pick a speaker.
    """
    parsed = _parse_prefix(os.fspath(path))
    if parsed is None:
        return None
    speaker = _BY_BEAT_ID.get(parsed[0])
    return speaker if speaker is not None and speaker.name == parsed[1] else None


def resolve_speaker(value: str | int) -> Speaker:
    """A Speaker from a model index (7 or "7"), a name ("Scott"), "2_scott", or a BEAT2 file
    name / path ("…/2_scott_0_1_1.wav"). ValueError with the valid choices otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"speaker {value!r} is not valid: {_choices()}")
    if isinstance(value, int):
        if 0 <= value < len(SPEAKERS):
            return SPEAKERS[value]
        raise ValueError(f"speaker index {value} is out of range: {_choices()}")
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise ValueError(f"speaker {value!r} is not valid: {_choices()}")

    text = value.strip()
    if text.isdigit():
        index = int(text)
        if index < len(SPEAKERS):
            return SPEAKERS[index]
        hint = ""
        if index in _BY_BEAT_ID:
            s = _BY_BEAT_ID[index]
            hint = f" (BEAT id {index} is {s.name}, model index {s.index}: pass '{s.label}')"
        raise ValueError(f"speaker index {index} is out of range{hint}: {_choices()}")
    if text.lower() in _BY_NAME:
        return _BY_NAME[text.lower()]

    parsed = _parse_prefix(text)
    if parsed is not None:
        beat_id, name = parsed
        speaker = _BY_BEAT_ID.get(beat_id)
        if speaker is None:
            raise ValueError(
                f"speaker {value!r}: BEAT id {beat_id} is not a BEAT2 English speaker; "
                f"{_choices()}"
            )
        if speaker.name != name:
            raise ValueError(
                f"speaker {value!r}: BEAT id {beat_id} is {speaker.name}, not {name}; "
                f"{_choices()}"
            )
        return speaker
    raise ValueError(f"unknown speaker {value!r}: {_choices()}")
