"""What can be known about a speech input before any model loads.

The audio's header gives its length; the words are read and checked against that length
(`transcripts.fit_timings`) and against what forced alignment can take
(`alignment.too_long_to_align`). The command line and the worker run this before loading
the models, so a typo, a wrong subtitle file or a cue past the end of the recording is one
sentence at once instead of after the models load and the speech is analysed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rag_gesture_shared.protocol.speech import SpeechInput

from .alignment import FRAME_SECONDS, too_long_to_align
from .audio import audio_info
from .transcripts import TranscriptError, build_transcript, fit_timings
from .words import Transcript


@dataclass
class CheckedSpeech:
    """A speech input that passed every check that needs no model."""

    duration: float  # seconds of audio
    transcript: Transcript | None  # None: the words are recognised from the audio
    notes: list[str] = field(default_factory=list)  # warnings for the result


def check_speech_input(source: SpeechInput) -> CheckedSpeech:
    """AudioError / TranscriptError (one sentence each) or the checked words and notes."""
    info = audio_info(source.audio)
    duration = info.frames / info.samplerate
    try:
        transcript = build_transcript(source.transcript, source.text, source.words,
                                      source.phrases)
    except OSError as exc:  # the transcript file (the other sources are in memory)
        raise TranscriptError(str(source.transcript),
                              f"cannot be read ({exc.strerror or exc})") from None
    notes: list[str] = []
    if transcript is not None:
        transcript, notes = fit_timings(transcript, duration, source.allow_mismatch)
        if not transcript.word_timed:
            problem = too_long_to_align(transcript, math.ceil(duration / FRAME_SECONDS))
            if problem:
                raise TranscriptError(transcript.source, problem)
    return CheckedSpeech(duration, transcript, notes)
