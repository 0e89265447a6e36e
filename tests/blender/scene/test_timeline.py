"""Timeline readers on scenes built in the test: sound strip timing, packed sounds, text strips
as timed phrases, Text datablocks, transcript files and frame ranges.

Sound strips need Audaspace, which the PyPI bpy 4.2 wheel lacks: there the documented
limitation is asserted instead (and the audio-file source is used, which needs no strip).
"""

from __future__ import annotations

import math
import wave
from pathlib import Path

import bpy
import numpy as np
import pytest

from tests.support.faults import disk_full, folder_files


@pytest.fixture
def tl(addon_module):
    return addon_module("scene.timeline")



def write_wav(path: Path, seconds: float = 2.0, rate: int = 22050) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.3 * np.sin(2 * math.pi * 220 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return path


def has_audio(compat) -> bool:
    return compat.has_audio()


def sound_strip(compat, path: Path, frame: int = 11, name: str = "line", channel: int = 1):
    se = bpy.context.scene.sequence_editor_create()
    return compat.new_sound_strip(se, name, str(path), channel, frame)


def text_strip(compat, text: str, frame: int, length: int, channel: int = 2, name: str = "w"):
    se = bpy.context.scene.sequence_editor_create()
    return compat.new_text_strip(se, name, text, channel, frame, length)


# --------------------------------------------------------------------------- audio


def test_no_sound_strip_is_one_sentence(tl):
    settings = bpy.context.scene.rag_gesture
    with pytest.raises(tl.TimelineError, match="There is no sound strip in the Sequencer"):
        tl.read_audio(bpy.context.scene, settings)
    settings.audio_source = "NAMED_STRIP"
    settings.audio_strip = "missing"
    with pytest.raises(tl.TimelineError, match="no sound strip named 'missing'"):
        tl.read_audio(bpy.context.scene, settings)


def test_4_2_wheel_cannot_make_sound_strips(compat, tmp_path):
    """The documented limitation: no Audaspace in the PyPI 4.2 wheel (4.5+ and 5.0 have it)."""
    if bpy.app.version >= (4, 5):
        assert has_audio(compat)
        return
    assert not has_audio(compat)
    with pytest.raises(RuntimeError, match="no audio support"):
        sound_strip(compat, write_wav(tmp_path / "a.wav"))


def test_sound_strip_timing(tl, compat, tmp_path):
    if not has_audio(compat):
        pytest.skip("no Audaspace in this bpy wheel (asserted in test_4_2_wheel_...)")
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 24, 1.0
    wav = write_wav(tmp_path / "dialogue.wav", seconds=2.0)
    strip = sound_strip(compat, wav, frame=11)
    compat.set_left_handle_offset(strip, 12)  # trimmed: the visible part starts 0.5 s in
    info = tl.read_audio(scene, scene.rag_gesture)
    assert info.path == str(wav) and not info.temporary
    assert info.name == "line" and info.strip_name == "line"
    assert info.fps == 24.0 and info.frame_zero == 11.0
    assert info.t_start == pytest.approx(0.5)
    assert info.t_end == pytest.approx(2.0)
    assert info.time_of(35) == pytest.approx(1.0) and info.frame_of(1.0) == pytest.approx(35)

    scene.render.fps, scene.render.fps_base = 30, 1.001
    info = tl.read_audio(scene, scene.rag_gesture)
    assert info.fps == pytest.approx(30 / 1.001)

    if hasattr(strip, "sound_offset"):  # 4.5+: the sound shifted inside its strip
        scene.render.fps, scene.render.fps_base = 24, 1.0
        strip.sound_offset = 0.25
        info = tl.read_audio(scene, scene.rag_gesture)
        assert info.frame_zero == pytest.approx(11 - 0.25 * 24)


def test_relative_and_packed_sounds(tl, compat, tmp_path):
    if not has_audio(compat):
        pytest.skip("no Audaspace in this bpy wheel")
    wav = write_wav(tmp_path / "packed me.wav", seconds=0.5)
    strip = sound_strip(compat, wav)
    blend = tmp_path / "shot.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    strip = bpy.context.scene.sequence_editor.active_strip or tl.sound_strips(
        bpy.context.scene)[0]
    strip.sound.filepath = "//packed me.wav"  # relative to the .blend
    path, temporary = tl.sound_file(strip)
    assert path == str(wav) and not temporary
    strip.sound.pack()
    folder = tmp_path / "out"
    folder.mkdir()
    path, temporary = tl.sound_file(strip, str(folder))
    assert temporary and Path(path).parent == folder and path.endswith(".wav")
    assert Path(path).read_bytes() == wav.read_bytes()
    with pytest.MonkeyPatch.context() as mp:  # a full disk: no truncated copy is left
        disk_full(mp, after=100)
        with pytest.raises(OSError, match="No space"):
            tl.sound_file(strip, str(tmp_path / "out"))
    assert Path(path).read_bytes() == wav.read_bytes()
    assert folder_files(folder) == {Path(path).name}


def test_choosing_among_several_sound_strips(tl, compat, tmp_path):
    if not has_audio(compat):
        pytest.skip("no Audaspace in this bpy wheel")
    scene = bpy.context.scene
    a = sound_strip(compat, write_wav(tmp_path / "a.wav"), name="a", channel=1)
    b = sound_strip(compat, write_wav(tmp_path / "b.wav"), name="b", channel=3)
    scene.sequence_editor.active_strip = None
    with pytest.raises(tl.TimelineError, match="There are 2 sound strips"):
        tl.find_sound_strip(scene)
    scene.sequence_editor.active_strip = b
    assert tl.find_sound_strip(scene).name == "b"
    scene.sequence_editor.active_strip = None
    b.mute = True
    assert tl.find_sound_strip(scene).name == "a"  # the only audible one
    assert tl.find_sound_strip(scene, "b").name == "b"
    t = text_strip(compat, "hi", 1, 10, name="words")
    with pytest.raises(tl.TimelineError, match="not a sound strip"):
        tl.find_sound_strip(scene, t.name)
    assert a.name == "a"


def test_audio_file_source(tl, tmp_path):
    scene = bpy.context.scene
    settings = scene.rag_gesture
    settings.audio_source = "FILE"
    settings.audio_file = str(tmp_path / "nowhere.wav")
    with pytest.raises(tl.TimelineError, match="nowhere.wav does not exist"):
        tl.read_audio(scene, settings)
    wav = write_wav(tmp_path / "take04.wav")
    settings.audio_file = str(wav)
    settings.audio_file_frame = 7
    info = tl.read_audio(scene, settings)
    assert (info.path, info.name, info.frame_zero) == (str(wav), "take04", 7.0)


# --------------------------------------------------------------------------- words


def test_text_strips_become_phrases_in_audio_seconds(tl, compat):
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 24, 1.0
    audio = tl.AudioInfo(path="/x.wav", name="x", frame_zero=11.0, fps=24.0, t_start=0.0,
                         t_end=5.0)
    text_strip(compat, "this is  it", 35, 12, name="b")  # created out of order
    text_strip(compat, "Hello world,", 11, 24, name="a")
    text_strip(compat, "other channel", 11, 24, channel=3, name="c")
    text_strip(compat, "   ", 60, 5, name="empty")
    muted = text_strip(compat, "muted", 70, 5, name="muted")
    muted.mute = True
    text_strip(compat, "before the audio", 1, 5, name="early")  # ends before audio time 0
    phrases = tl.strip_phrases(scene, 2, audio)
    assert phrases == [{"text": "Hello world,", "start": 0.0, "end": 1.0},
                       {"text": "this is it", "start": 1.0, "end": 1.5}]
    assert tl.strip_phrases(scene, 3, audio)[0]["text"] == "other channel"
    with pytest.raises(tl.TimelineError, match="no text strips with words on channel 5"):
        tl.strip_phrases(scene, 5, audio)

    settings = scene.rag_gesture
    assert tl.transcript_fields(scene, settings, audio) == {"phrases": phrases}


def test_other_transcript_sources(tl, tmp_path):
    scene = bpy.context.scene
    settings = scene.rag_gesture
    audio = tl.AudioInfo(path="/x.wav", name="x", frame_zero=1.0, fps=24.0, t_start=0.0,
                         t_end=5.0)
    settings.transcript_source = "TEXT_BLOCK"
    with pytest.raises(tl.TimelineError, match="No Text datablock"):
        tl.transcript_fields(scene, settings, audio)
    text = bpy.data.texts.new("line04")
    text.write("Look at this\nbig circle.\n")
    settings.transcript_text = text
    assert tl.transcript_fields(scene, settings, audio) == {
        "text": "Look at this big circle."}
    settings.transcript_source = "FILE"
    settings.transcript_file = str(tmp_path / "missing.srt")
    with pytest.raises(tl.TimelineError, match="missing.srt does not exist"):
        tl.transcript_fields(scene, settings, audio)
    srt = tmp_path / "line.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,000\nHello\n")
    settings.transcript_file = str(srt)
    assert tl.transcript_fields(scene, settings, audio) == {"transcript": str(srt)}
    settings.transcript_source = "NONE"
    assert tl.transcript_fields(scene, settings, audio) == {}


# --------------------------------------------------------------------------- ranges


def test_frame_ranges(tl):
    scene = bpy.context.scene
    settings = scene.rag_gesture
    scene.frame_start, scene.frame_end = 1, 250
    scene.use_preview_range = False  # never silently the whole scene (or take)
    with pytest.raises(tl.TimelineError, match="The preview range is off: turn it on"):
        tl.frame_range(scene, settings, take=(11, 90))
    scene.use_preview_range = True
    scene.frame_preview_start, scene.frame_preview_end = 40, 60
    assert tl.frame_range(scene, settings) == (40, 60)
    settings.range_mode = "CUSTOM"
    settings.range_start, settings.range_end = 10, 20
    assert tl.frame_range(scene, settings) == (10, 20)
    settings.range_start, settings.range_end = 20, 10
    with pytest.raises(tl.TimelineError, match="ends"):
        tl.frame_range(scene, settings)
    settings.range_mode = "WHOLE"  # only when chosen: every frame of the take
    assert tl.frame_range(scene, settings, take=(11, 90)) == (11, 90)
    with pytest.raises(tl.TimelineError, match="no take to regenerate"):
        tl.frame_range(scene, settings)

    # timeline frames [lo, hi] -> motion frames [start, end) for a motion starting at 11
    assert tl.motion_range(40, 60, 11, 100) == (29, 50)
    assert tl.motion_range(1, 20, 11, 100) == (0, 10)  # clipped at the motion's start
    assert tl.motion_range(100, 300, 11, 100) == (89, 100)  # and at its end
    with pytest.raises(tl.TimelineError, match="outside the generated motion"):
        tl.motion_range(200, 300, 11, 100)
