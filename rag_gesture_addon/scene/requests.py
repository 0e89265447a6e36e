"""A scene's generate and regenerate inputs: the armature, the speech, sampling, retrieval.

Reads ``scene.rag_gesture`` and the timeline and returns the protocol's request parts
(``shared.protocol``); every problem is a `TimelineError` with one sentence, raised before
any worker starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import bpy

from ..shared.protocol.retrieval import RetrievalRequest
from ..shared.protocol.sampling import Sampling
from ..shared.protocol.speech import SpeechInput
from ..shared.skeleton import LOCKABLE_PARTS
from . import keys, rig_profiles, timeline
from .timeline import TimelineError


def target_armature(context: bpy.types.Context) -> bpy.types.Object:
    """The armature chosen in the panel, else the active object; TimelineError otherwise."""
    settings = context.scene.rag_gesture
    obj = settings.armature or context.active_object
    if obj is None:
        raise TimelineError("Select the character's armature first (or create an SMPL-X "
                            "armature in the Gesture panel).")
    if obj.type != "ARMATURE":
        raise TimelineError(f"'{obj.name}' is a {obj.type.lower()}, not an armature: select "
                            "the character's armature or create an SMPL-X armature in the "
                            "Gesture panel.")
    return obj


def rig_layout(obj: bpy.types.Object) -> keys.Layout:
    """How motion goes onto `obj` (an SMPL-X armature, or a rig a bone map covers, see
    `rig_profiles`); found once per operator, since a retargeted rig is probed for it."""
    try:
        rig_profiles.check_mode(obj)
    except ValueError as exc:
        raise TimelineError(str(exc)) from None
    try:
        return keys.layout(obj)
    except ValueError as exc:
        raise TimelineError(f"{exc} (Or use an SMPL-X armature: Create SMPL-X Armature "
                            "in the Gesture panel.)") from None


def speech_input(scene: bpy.types.Scene, settings: Any, folder: str | None
                 ) -> tuple[timeline.AudioInfo, SpeechInput]:
    """The audio and its words, as generate and regenerate send them."""
    audio = timeline.read_audio(scene, settings, folder)
    words = timeline.transcript_fields(scene, settings, audio)
    return audio, SpeechInput(audio=audio.path, allow_mismatch=settings.allow_mismatch, **words)


def locked_parts(settings: Any) -> tuple[str, ...]:
    """The body parts ticked under Lock (``lock_upper`` ...), in protocol order."""
    return tuple(p for p in LOCKABLE_PARTS if getattr(settings, f"lock_{p}"))


def sampling(settings: Any, takes: int | None = None) -> Sampling:
    """Speaker, seed, steps and takes (`takes` overrides the panel's number)."""
    return Sampling(speaker=settings.speaker, seed=settings.seed, steps=settings.steps,
                    takes=settings.takes if takes is None else takes)


def retrieval_request(scene: bpy.types.Scene, settings: Any,
                      audio: timeline.AudioInfo) -> RetrievalRequest | None:
    """The request's `retrieval`: method, database and the cues of the markers and of
    annotated text strips; None when retrieval is off and nothing asks for a gesture."""
    cues = timeline.marker_cues(scene, audio)
    if settings.transcript_source == "TEXT_STRIPS":
        cues = sorted(cues + timeline.strip_cues(scene, settings.transcript_channel, audio),
                      key=lambda c: c.time)
    method = settings.retrieval.lower()
    if method == "none" and not cues:
        return None
    if not settings.gesture_db:
        raise TimelineError("Retrieval needs a gesture database: set Gesture Database to a "
                            "folder made by `rag-gesture build-db`")
    return RetrievalRequest(method="directed" if method == "none" else method,
                            database=timeline.user_path(settings.gesture_db),
                            cues=list(cues))


@dataclass(frozen=True)
class RegenerateSpan:
    """What Regenerate range will do to a take, in timeline frames (all bounds included):
    the chosen range clipped to the take, and the frames rewritten with the blend margin."""

    first: int  # chosen range, clipped to the take
    last: int
    rewrite_first: int  # ... widened by the margin on each side
    rewrite_last: int
    margin: int  # blend margin in frames

    def describe(self) -> str:
        """The rewritten frames, and how they split into range and blend (the margin is cut
        where it would reach past the take)."""
        text = f"frames {self.rewrite_first}-{self.rewrite_last}"
        before, after = self.first - self.rewrite_first, self.rewrite_last - self.last
        if before or after:
            text += (f" (range {self.first}-{self.last}, {before} blend frames before and "
                     f"{after} after)")
        return text


def regenerate_span(scene: bpy.types.Scene, settings: Any,
                    take: tuple[int, int]) -> RegenerateSpan:
    """The span of a take (its first and last frame) that Regenerate range rewrites; the
    panel shows it before the click and the operator rewrites exactly it. TimelineError
    when no range is chosen (the preview range is off) or the range misses the take."""
    lo, hi = timeline.frame_range(scene, settings, take)
    first, last = take
    n = last - first + 1
    start, end = timeline.motion_range(lo, hi, first, n)
    margin = round(settings.margin * timeline.scene_fps(scene))
    return RegenerateSpan(first + start, first + end - 1, first + max(0, start - margin),
                          first + min(n, end + margin) - 1, margin)
