"""Timeline markers and annotated text strips as gesture cues, and the retrieval part of the
Generate request (scene.requests)."""

from __future__ import annotations

import bpy
import pytest


@pytest.fixture
def timeline(addon_module):
    return addon_module("scene.timeline")


@pytest.fixture
def operators(addon_module):
    return addon_module("ui.operators")


@pytest.fixture
def requests(addon_module):
    return addon_module("scene.requests")


@pytest.fixture
def Cue(addon_module):  # noqa: N802 - the class
    return addon_module("shared.protocol.retrieval").Cue


def test_marker_names(timeline):
    assert timeline.parse_marker("deictic") == {"kind": "deictic"}
    assert timeline.parse_marker(" Iconic:circle ") == {"kind": "iconic", "word": "circle"}
    assert timeline.parse_marker("metaphoric:idea@2_scott_0_1_1/30") == {
        "kind": "metaphoric", "word": "idea", "clip": "2_scott_0_1_1/30"}
    assert timeline.parse_marker("F_120") is None and timeline.parse_marker("beat") is None


def _scene_with_markers(tmp_path, timeline):
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    wav = tmp_path / "line.wav"
    wav.write_bytes(b"RIFF")  # only its existence is checked here
    audio = timeline.audio_from_file(scene, str(wav), 11)
    for name, frame in (("deictic", 41), ("iconic:circle", 71), ("note", 50),
                        ("metaphoric", 5)):  # frame 5 is before the audio starts
        scene.timeline_markers.new(name, frame=frame)
    return scene, audio


def test_marker_cues_in_audio_time(tmp_path, timeline, Cue):  # noqa: N803
    scene, audio = _scene_with_markers(tmp_path, timeline)
    assert timeline.marker_cues(scene, audio) == [
        Cue("deictic", time=1.0), Cue("iconic", word="circle", time=2.0)]


def test_retrieval_request(tmp_path, timeline, requests):
    scene, audio = _scene_with_markers(tmp_path, timeline)
    settings = scene.rag_gesture
    with pytest.raises(timeline.TimelineError, match="gesture database"):
        requests.retrieval_request(scene, settings, audio)  # markers but no database
    settings.gesture_db = str(tmp_path)
    retrieval = requests.retrieval_request(scene, settings, audio)
    assert retrieval.method == "directed" and len(retrieval.cues) == 2
    assert retrieval.database == str(tmp_path)
    settings.retrieval = "DISCOURSE"
    assert requests.retrieval_request(scene, settings, audio).method == "discourse"
    for m in list(scene.timeline_markers):
        scene.timeline_markers.remove(m)
    settings.retrieval = "NONE"
    assert requests.retrieval_request(scene, settings, audio) is None


def test_inserted_lines(operators):
    text = operators.describe_inserted([
        {"window": 0, "clip": "2_scott_0_1_1/30", "tokens": [4, 7], "word": "because",
         "label": "Contingency.Cause.Reason"},
        {"window": 1, "clip": "x/1", "tokens": [0, 2], "label": "deictic"}])
    assert text.splitlines() == [
        'Contingency.Cause.Reason "because" in window 0 <- 2_scott_0_1_1/30',
        "deictic in window 1 <- x/1"]


def test_text_strip_annotations(timeline):
    clean, cues = timeline.split_annotations("look at [deictic]this big [Iconic@x/1]circle.")
    assert clean == "look at this big circle."
    assert cues == [{"kind": "deictic", "word": "this", "index": 2},
                    {"kind": "iconic", "clip": "x/1", "word": "circle", "index": 4}]
    assert timeline.split_annotations("no cues here") == ("no cues here", [])


def test_strip_cues_and_clean_phrases(tmp_path, timeline, addon_module, Cue):  # noqa: N803
    compat = addon_module("scene.compat")
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    wav = tmp_path / "line.wav"
    wav.write_bytes(b"RIFF")
    audio = timeline.audio_from_file(scene, str(wav), 11)
    se = scene.sequence_editor_create()
    compat.new_text_strip(se, "a", "[deictic]look over there", 2, 11, 30)
    compat.new_text_strip(se, "b", "a big [iconic]circle", 2, 41, 60)
    assert timeline.strip_cues(scene, 2, audio) == [
        Cue("deictic", word="look", time=0.0),
        Cue("iconic", word="circle", time=round(1.0 + 2.0 * 2 / 3, 4))]
    texts = [p["text"] for p in timeline.strip_phrases(scene, 2, audio)]
    assert texts == ["look over there", "a big circle"]
