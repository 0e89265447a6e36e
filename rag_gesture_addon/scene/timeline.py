"""Read the dialogue line from the scene: audio, words and frame ranges.

Time model: the worker thinks in seconds of the audio file ("audio time"; 0 = its first
sample) and returns motion whose frame 0 sits at audio time 0. On the timeline, audio time t
plays at frame ``frame_zero + t * fps`` where, for a sound strip,

    frame_zero = content start - sound_offset * fps

(the content start, ``frame_start`` before 5.1, is where the sound's first sample would sit
before trimming; ``sound_offset``, Blender 4.5+, shifts the sound inside its strip; trimming
with the handles only hides part of it and changes nothing here; `compat` reads each of
these under its version's name).
``fps`` is ``render.fps / render.fps_base``. A speed change of the strip is not supported.

Every problem raises `TimelineError` with one sentence for the user.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bpy

from ..core.paths import resolve_path
from ..shared.atomic_file import atomic_write
from ..shared.protocol.retrieval import CUE_KINDS, Cue
from . import compat


class TimelineError(Exception):
    """The scene does not give what the request needs; the message is one sentence."""


@dataclass
class AudioInfo:
    """Where the audio is and where it plays on the timeline."""

    path: str  # absolute path of a file the worker can read
    name: str  # for display and action names: strip name or file stem
    frame_zero: float  # timeline frame where audio time 0 plays
    fps: float  # scene frames per second
    t_start: float  # audio time at the start of the visible strip (seconds)
    t_end: float  # audio time at its end (seconds); inf for a file of unknown length
    strip_name: str | None = None
    temporary: bool = False  # `path` is a copy of a packed sound, deleted with its folder

    def time_of(self, frame: float) -> float:
        """Audio time (seconds) of a timeline frame."""
        return (frame - self.frame_zero) / self.fps

    def frame_of(self, seconds: float) -> float:
        """Timeline frame of an audio time."""
        return self.frame_zero + seconds * self.fps


def scene_fps(scene: bpy.types.Scene) -> float:
    return scene.render.fps / scene.render.fps_base


# --------------------------------------------------------------------------- audio


def sound_strips(scene: bpy.types.Scene) -> list[Any]:
    return [s for s in compat.strips_all(scene) if s.type == "SOUND"]


def find_sound_strip(scene: bpy.types.Scene, name: str | None = None) -> Any:
    """The named sound strip; else the active strip if it is a sound; else the only one."""
    strips = sound_strips(scene)
    if name:
        for s in compat.strips_all(scene):
            if s.name == name:
                if s.type != "SOUND":
                    raise TimelineError(f"The strip '{name}' is not a sound strip; choose the "
                                        "dialogue's sound strip in the Gesture panel.")
                return s
        raise TimelineError(f"There is no sound strip named '{name}' in the Sequencer.")
    if not strips:
        raise TimelineError("There is no sound strip in the Sequencer: add the dialogue line "
                            "as a sound strip (Add > Sound), or choose an audio file in the "
                            "Gesture panel.")
    se = scene.sequence_editor
    active = se.active_strip if se is not None else None
    if active is not None and active.type == "SOUND":
        return active
    audible = [s for s in strips if not s.mute]
    if len(audible) == 1:
        return audible[0]
    if len(strips) == 1:
        return strips[0]
    raise TimelineError(f"There are {len(strips)} sound strips: make the dialogue line the "
                        "active strip in the Sequencer, or name it in the Gesture panel.")


def sound_file(strip: Any, folder: str | None = None) -> tuple[str, bool]:
    """(absolute path, temporary) of a sound strip's audio; packed sounds are written out."""
    sound = strip.sound
    if sound is None:
        raise TimelineError(f"The sound strip '{strip.name}' has no sound attached.")
    packed = sound.packed_file
    if packed is not None:
        suffix = Path(sound.filepath).suffix or ".wav"
        folder = folder or tempfile.mkdtemp(prefix="rag-gesture-audio-")
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", sound.name) or "sound"
        path = os.path.join(folder, Path(safe).stem + suffix)
        with atomic_write(path) as fh:  # a full disk leaves no truncated copy to read
            fh.write(packed.data)
        return path, True
    path = user_path(bpy.path.abspath(sound.filepath, library=sound.library))
    if not sound.filepath or not os.path.isfile(path):
        raise TimelineError(f"The sound file of strip '{strip.name}' is missing "
                            f"({path or 'no file path'}); relink it or pack it into the "
                            ".blend.")
    return path, False


def audio_from_strip(scene: bpy.types.Scene, strip: Any, folder: str | None = None) -> AudioInfo:
    fps = scene_fps(scene)
    path, temporary = sound_file(strip, folder)
    frame_zero = compat.content_start(strip) - compat.sound_offset(strip) * fps
    info = AudioInfo(path=path, name=strip.name, frame_zero=frame_zero, fps=fps,
                     t_start=0.0, t_end=0.0, strip_name=strip.name, temporary=temporary)
    info.t_start = max(0.0, info.time_of(compat.strip_left(strip)))
    info.t_end = max(info.t_start, info.time_of(compat.strip_right(strip)))
    return info


def user_path(path: str) -> str:
    """A path from the scene as the worker gets it: absolute and plain (core.paths)."""
    return resolve_path(path, os.path.dirname(bpy.data.filepath))


def audio_from_file(scene: bpy.types.Scene, path: str, start_frame: float) -> AudioInfo:
    full = user_path(path)
    if not full or not os.path.isfile(full):
        raise TimelineError(f"The audio file {full or '(none chosen)'} does not exist; choose "
                            "it in the Gesture panel.")
    return AudioInfo(path=full, name=Path(full).stem, frame_zero=float(start_frame),
                     fps=scene_fps(scene), t_start=0.0, t_end=float("inf"))


def read_audio(scene: bpy.types.Scene, settings: Any, folder: str | None = None) -> AudioInfo:
    """The audio the scene settings point at (``scene.rag_gesture``)."""
    if settings.audio_source == "FILE":
        return audio_from_file(scene, settings.audio_file, settings.audio_file_frame)
    name = settings.audio_strip if settings.audio_source == "NAMED_STRIP" else None
    if settings.audio_source == "NAMED_STRIP" and not name:
        raise TimelineError("No sound strip name is given in the Gesture panel.")
    return audio_from_strip(scene, find_sound_strip(scene, name), folder)


# --------------------------------------------------------------------------- words


def strip_phrases(scene: bpy.types.Scene, channel: int, audio: AudioInfo) -> list[dict]:
    """Text strips on `channel` as timed phrases in audio seconds, in time order."""
    found = [s for s in compat.strips_all(scene)
             if s.type == "TEXT" and s.channel == channel and not s.mute]
    phrases = []
    for s in sorted(found, key=lambda s: (compat.strip_left(s), compat.strip_right(s))):
        text = split_annotations(str(s.text))[0]
        start = audio.time_of(compat.strip_left(s))
        end = audio.time_of(compat.strip_right(s))
        if not text or end <= 0.0:
            continue
        phrases.append({"text": text, "start": round(max(0.0, start), 4),
                        "end": round(max(0.0, end), 4)})
    if not phrases:
        raise TimelineError(f"There are no text strips with words on channel {channel}: put "
                            "the spoken words there as text strips, or choose another source "
                            "for the words in the Gesture panel.")
    return phrases


def text_block_words(text: Any) -> str:
    if text is None:
        raise TimelineError("No Text datablock is chosen for the words in the Gesture panel.")
    words = " ".join(text.as_string().split())
    if not words:
        raise TimelineError(f"The Text datablock '{text.name}' is empty.")
    return words


def transcript_path(path: str) -> str:
    full = user_path(path)
    if not full or not os.path.isfile(full):
        raise TimelineError(f"The transcript file {full or '(none chosen)'} does not exist.")
    return full


def transcript_fields(scene: bpy.types.Scene, settings: Any, audio: AudioInfo) -> dict:
    """The request's words: ``phrases``, ``text``, ``transcript`` or nothing (recognised)."""
    source = settings.transcript_source
    if source == "TEXT_STRIPS":
        return {"phrases": strip_phrases(scene, settings.transcript_channel, audio)}
    if source == "TEXT_BLOCK":
        return {"text": text_block_words(settings.transcript_text)}
    if source == "FILE":
        return {"transcript": transcript_path(settings.transcript_file)}
    return {}


# --------------------------------------------------------------------------- ranges


def frame_range(scene: bpy.types.Scene, settings: Any,
                take: tuple[int, int] | None = None) -> tuple[int, int]:
    """(first, last) timeline frames, both included, that the animator chose to regenerate:
    the preview range, the typed range, or the whole take (`take`: its first and last frame).

    The preview range being off is an error, never a silent fallback to the scene range
    (that would rewrite the whole take without the animator choosing it)."""
    if settings.range_mode == "CUSTOM":
        lo, hi = settings.range_start, settings.range_end
    elif settings.range_mode == "WHOLE":
        if take is None:
            raise TimelineError("There is no take to regenerate yet; press Generate first.")
        lo, hi = take
    elif scene.use_preview_range:
        lo, hi = scene.frame_preview_start, scene.frame_preview_end
    else:
        raise TimelineError("The preview range is off: turn it on (the clock button, here "
                            "or in the Timeline), type the frames, or choose Whole Take.")
    if hi < lo:
        raise TimelineError(f"The range ends (frame {hi}) before it starts (frame {lo}).")
    return int(lo), int(hi)


def motion_range(lo: int, hi: int, start_frame: float, num_frames: int) -> tuple[int, int]:
    """Timeline frames [lo, hi] (included) -> motion frames [start, end) of a motion whose
    frame 0 is at timeline frame `start_frame`; clipped to the motion."""
    start = max(0, int(round(lo - start_frame)))
    end = min(num_frames, int(round(hi - start_frame)) + 1)
    if end <= start:
        first = start_frame
        last = start_frame + num_frames - 1
        raise TimelineError(f"Frames {lo}-{hi} are outside the generated motion (frames "
                            f"{first:g}-{last:g}); set the range inside it.")
    return start, end


def parse_marker(name: str) -> dict | None:
    """A marker name `KIND[:WORD][@CLIP]` (e.g. `deictic`, `iconic:circle`,
    `metaphoric@2_scott_0_1_1/30`) -> cue fields, or None for other markers."""
    text, _, clip = name.strip().partition("@")
    kind, _, word = text.partition(":")
    kind = kind.strip().lower()
    if kind not in CUE_KINDS:
        return None
    cue = {"kind": kind}
    if word.strip():
        cue["word"] = word.strip()
    if clip.strip():
        cue["clip"] = clip.strip()
    return cue


def marker_cues(scene: bpy.types.Scene, audio: AudioInfo) -> list[Cue]:
    """Gesture cues from timeline markers inside the audio, at their audio time (seconds)."""
    cues = []
    for marker in sorted(scene.timeline_markers, key=lambda m: m.frame):
        cue = parse_marker(marker.name)
        if cue is None:
            continue
        t = audio.time_of(marker.frame)
        if audio.t_start <= t < audio.t_end:
            cues.append(Cue(**cue, time=round(t, 4)))
    return cues


_ANNOTATION = re.compile(rf"\[({'|'.join(CUE_KINDS)})(?:@([^\]]+))?\]\s*", re.IGNORECASE)


def split_annotations(text: str) -> tuple[str, list[dict]]:
    """Text-strip words with gesture annotations: `[KIND]` or `[KIND@clip]` right before a
    word asks for that gesture on it (e.g. "look at [deictic]this big [iconic]circle").
    Returns the clean text and, per annotation, {kind, word, index (word position), clip?}."""
    cues: list[dict] = []
    words: list[str] = []
    pending: list[dict] = []
    pos = 0
    for m in _ANNOTATION.finditer(text):
        words += text[pos:m.start()].split()
        pending.append({"kind": m.group(1).lower(), **({"clip": m.group(2).strip()}
                                                        if m.group(2) else {})})
        pos = m.end()
        if pos < len(text) and not text[pos].isspace():
            nxt = text[pos:].split()[0]
            for cue in pending:
                cues.append({**cue, "word": nxt.strip(".,!?;:"), "index": len(words)})
            pending = []
    words += text[pos:].split()
    return " ".join(words), cues


def strip_cues(scene: bpy.types.Scene, channel: int, audio: AudioInfo) -> list[Cue]:
    """Gesture cues written into the text strips on `channel`, timed by the word's share of
    its strip (the worker snaps each cue to the aligned word when it finds it)."""
    out = []
    for s in compat.strips_all(scene):
        if s.type != "TEXT" or s.channel != channel or s.mute:
            continue
        clean, cues = split_annotations(str(s.text))
        n = max(len(clean.split()), 1)
        start, end = audio.time_of(compat.strip_left(s)), audio.time_of(compat.strip_right(s))
        for cue in cues:
            t = start + (end - start) * cue.pop("index") / n
            if audio.t_start <= t < audio.t_end and t >= 0.0:
                out.append(Cue(**cue, time=round(t, 4)))
    return sorted(out, key=lambda c: c.time)
