"""Generate / Regenerate range end to end, with a REAL worker subprocess.

The worker runs in the backend interpreter (``backend_python``: it has torch; this process,
Blender's, never imports it) on the small official-layout test checkpoint and tiny random
speech models, built once for this module by that interpreter. Tiny models never match
the words, so every request allows a mismatch. Speech is real (espeak-ng).

The operators are driven step by step: timers never run headless, so the tests call the
operator logic's ``begin()`` and then ``modal()`` with fake TIMER / ESC events, exactly what
Blender does with a modal operator; the blocking ``execute()`` path is covered with
``bpy.ops`` calls.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import bpy
import numpy as np
import pytest

TIMEOUT = 90.0
BUILD_ASSETS = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from tests.support.parity_layout import build_official_layout, parity_dir
    from tests.support.speech_audio import speak
    from tests.support.speech_models import make_bert, make_wav2vec
    root = Path(sys.argv[1])
    sentence = ("Today I want to show you something really important. Look at this big "
                "circle, and then we go over there, because the answer is simple. ")
    out = {
        "checkpoint": str(build_official_layout(parity_dir(), root / "weights")),
        "bert": str(make_bert(root / "bert")),
        "wav2vec": str(make_wav2vec(root / "wav2vec")),
        "short": str(speak("Hello world, this is a very important point.", root / "line.wav")),
        "long": str(speak(sentence * 3, root / "long.wav")),
    }
    print("ASSETS " + json.dumps(out))
""")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def assets(backend_python, repo_root, tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("gesture_assets")
    proc = subprocess.run([str(backend_python), "-c", BUILD_ASSETS, str(root)],
                          capture_output=True, text=True, timeout=300, cwd=repo_root)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("ASSETS ")]
    assert proc.returncode == 0 and lines, proc.stdout[-2000:] + proc.stderr[-4000:]
    out = json.loads(lines[-1][len("ASSETS "):])
    out["empty"] = str(root / "no_weights")
    os.makedirs(out["empty"], exist_ok=True)
    return out


@pytest.fixture(scope="module")
def mods(addon, addon_module):
    names = {"client": "worker.client", "jobs": "worker.jobs", "keys": "scene.keys",
             "operators": "ui.operators", "timeline": "scene.timeline", "compat": "scene.compat",
             "rig": "scene.rig", "prefs": "ui.prefs", "rot": "shared.rotations",
             "requests": "shared.protocol.requests", "envelope": "shared.protocol.envelope"}
    return {short: addon_module(name) for short, name in names.items()}


def accepted(mods, request) -> None:
    """The request the add-on built passes the protocol's parser (the worker's, minus the
    conversion to pipeline options) after the trip through the pipe."""
    env = mods["envelope"]
    line = env.encode_line(request.to_message())
    parsed = mods["requests"].parse_request(env.decode_line(line))
    assert parsed.to_message() == request.to_message()


@pytest.fixture(scope="module", autouse=True)
def stop_worker_at_end(mods):
    yield
    mods["client"].stop_worker()


@pytest.fixture(autouse=True)
def prefs(addon, addon_module_name, assets, backend_python, monkeypatch):
    """Preferences pointing at the test backend; the weights search is kept away from any
    real installation (RAG_GESTURE_HOME, HOME)."""
    monkeypatch.setenv("RAG_GESTURE_HOME", assets["empty"])
    p = bpy.context.preferences.addons[addon_module_name].preferences
    p.python_path = str(backend_python)
    p.checkpoint = assets["checkpoint"]
    p.weights_dir = ""
    p.bert = assets["bert"]
    p.wav2vec = assets["wav2vec"]
    p.device = "CPU"
    p.threads = 1
    return p


class FakeEvent:
    def __init__(self, type_: str, value: str = "NOTHING") -> None:
        self.type = type_
        self.value = value


TIMER = FakeEvent("TIMER")
ESC = FakeEvent("ESC", "PRESS")


def driver(mods, kind: str):
    """The operator's logic as a plain object (what Blender instantiates, minus RNA)."""
    ops = mods["operators"]
    base = ops.GenerateLogic if kind == "generate" else ops.RegenerateLogic

    class Driver(base):
        def __init__(self) -> None:
            self.reports: list[tuple[str, str]] = []

        def report(self, level: set[str], message: str) -> None:
            self.reports.append((next(iter(level)), message))

    return Driver()


def run_modal(op, context=None, until=None, timeout: float = TIMEOUT) -> set[str]:
    """begin(), then modal(TIMER) until the operator finishes (or `until(job)` is true)."""
    context = context or bpy.context
    assert op.begin(context), op.reports
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if until is not None and until(op._job):
            return {"PAUSED"}
        result = op.modal(context, TIMER)
        if result != {"RUNNING_MODAL"}:
            return result
        time.sleep(0.02)
    op._job.cancel()
    op.finish(context)
    pytest.fail(f"the job did not finish within {timeout} s: {op._job.state}")


def make_scene(mods, assets, audio: str = "short", frame: int = 11, takes: int = 2):
    """SMPL-X rig + the dialogue (a sound strip where the wheel has audio, else the
    audio-file source at the same frame) + the words as text strips on channel 2."""
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 24, 1.0
    scene.frame_start, scene.frame_end = 1, 250
    obj = mods["rig"].create_smplx_armature(bpy.context, name="SMPLX")
    settings = scene.rag_gesture
    se = scene.sequence_editor_create()
    path = assets[audio]
    if mods["compat"].has_audio():
        strip = mods["compat"].new_sound_strip(se, "line", path, 1, frame)
        se.active_strip = strip
        settings.audio_source = "ACTIVE_STRIP"
    else:  # PyPI 4.2 wheel: no sound strips (documented); the same audio as a file
        settings.audio_source = "FILE"
        settings.audio_file = path
        settings.audio_file_frame = frame
    mods["compat"].new_text_strip(se, "w1", "Hello world, this is", 2, frame, 30)
    mods["compat"].new_text_strip(se, "w2", "a very important point.", 2, frame + 30, 40)
    settings.transcript_source = "TEXT_STRIPS"
    settings.transcript_channel = 2
    settings.allow_mismatch = True
    settings.steps = 5
    settings.takes = takes
    settings.seed = 3
    settings.armature = obj
    return obj


def audio_name(mods, assets, audio: str = "short") -> str:
    return "line" if mods["compat"].has_audio() else Path(assets[audio]).stem


def fcurve_snapshot(mods, obj) -> dict[tuple[str, int], np.ndarray]:
    """Every key (frame, value) of the active take's armature curves and face curves."""
    compat = mods["compat"]
    out = {}
    action = obj.animation_data.action
    for fc in compat.action_fcurves(action, obj):
        co = np.empty(2 * len(fc.keyframe_points), np.float32)
        fc.keyframe_points.foreach_get("co", co)
        out[(fc.data_path, fc.array_index)] = co.reshape(-1, 2)
    mesh = mods["rig"].expression_mesh(obj)
    key = mesh.data.shape_keys if mesh is not None else None
    if key is not None and key.animation_data and key.animation_data.action:
        for fc in compat.action_fcurves(key.animation_data.action, key):
            co = np.empty(2 * len(fc.keyframe_points), np.float32)
            fc.keyframe_points.foreach_get("co", co)
            out[("KEY:" + fc.data_path, fc.array_index)] = co.reshape(-1, 2)
    return out


def scene_fingerprint(obj) -> tuple:
    ad = obj.animation_data
    return (sorted(a.name for a in bpy.data.actions),
            ad.action.name if ad is not None and ad.action is not None else None)


def edit_key(mods, obj, chan: tuple[str, int], index: int, value: float) -> None:
    """A hand edit: move key `index` of the active take's curve `chan` to `value`."""
    fc = next(f for f in mods["compat"].action_fcurves(obj.animation_data.action, obj)
              if (f.data_path, f.array_index) == chan)
    fc.keyframe_points[index].co.y = value
    fc.update()


def preview_range(first: int, last: int, margin: float, seed: int):
    """Regenerate range's settings: the preview range first..last, margin (s), seed."""
    scene = bpy.context.scene
    settings = scene.rag_gesture
    scene.use_preview_range = True
    scene.frame_preview_start, scene.frame_preview_end = first, last
    settings.range_mode = "PREVIEW"
    settings.margin = margin
    settings.seed = seed
    return settings


# --------------------------------------------------------------------------- generate


def test_generate_writes_every_take_value_by_value(mods, assets):
    obj = make_scene(mods, assets, takes=2)
    before = set(a.name for a in bpy.data.actions)
    op = driver(mods, "generate")
    seen = []
    result = run_modal(op, until=lambda job: seen.append(job.state.fraction) and False)
    assert result == {"FINISHED"}, op.reports
    job = op._job
    assert job.state.status == "done" and len(job.motions) == 2
    assert job.request.speech.phrases[0] == {"text": "Hello world, this is", "start": 0.0,
                                             "end": 1.25}
    assert job.request.fps == 24.0 and job.request.sampling.speaker == "scott"
    accepted(mods, job.request)
    assert all(b >= a for a, b in zip(seen, seen[1:], strict=False))

    name = audio_name(mods, assets)
    takes = mods["keys"].list_takes(obj)
    assert takes == [f"{name} take 1", f"{name} take 2"]
    assert obj.animation_data.action.name == f"{name} take 1"
    new = set(a.name for a in bpy.data.actions) - before
    assert {f"{name} take 1", f"{name} take 2"} <= new

    rot = mods["rot"]
    keys = mods["keys"]
    for take, motion in zip(takes, job.motions, strict=True):
        keys.use_take(obj, take)
        snap = fcurve_snapshot(mods, obj)
        assert motion["fps"] == 24.0
        n = motion["poses"].shape[0]
        frames = 11 + np.arange(n)
        q = rot.hemisphere_continuous(rot.axis_angle_to_quaternion(motion["poses"]), axis=0)
        for j, joint in enumerate(mods["rig"].JOINT_NAMES):
            for c in range(4):
                co = snap[(keys.rotation_path(joint), c)]
                np.testing.assert_array_equal(co[:, 0], frames)
                np.testing.assert_allclose(co[:, 1], q[:, j, c].astype(np.float32),
                                           rtol=0, atol=1e-7)
        for c in range(3):
            co = snap[(keys.LOCATION_PATH, c)]
            np.testing.assert_allclose(co[:, 1], motion["trans"][:, c].astype(np.float32),
                                       rtol=0, atol=1e-7)
        for e in range(100):
            co = snap[("KEY:" + keys.expression_path(f"Exp{e:03d}"), 0)]
            np.testing.assert_allclose(co[:, 1], motion["expressions"][:, e].astype(np.float32),
                                       rtol=0, atol=1e-7)
        # and read back as the worker's rotations (quaternions equal up to sign)
        back = keys.read_motion(obj, 24.0)
        assert back["start_frame"] == 11
        qa = rot.axis_angle_to_quaternion(back["poses"])
        qb = rot.axis_angle_to_quaternion(motion["poses"])
        np.testing.assert_allclose(np.abs(np.sum(qa * qb, axis=-1)), 1.0, atol=1e-6)

    status = bpy.context.window_manager.rag_gesture
    assert not status.running and status.message.startswith("Wrote 2 takes")
    # the tiny models never match the words, and Ignore Transcript Mismatch is ticked: that
    # was the animator's answer to the mismatch, so the success says nothing more about it
    assert (status.level, status.notes) == ("INFO", "") and op.reports[-1][0] == "INFO"
    assert not any("does not seem to match" in text for _, text in op.reports)
    assert not os.path.exists(job.files[0]), "the result files are deleted once read"
    assert_no_stored_context(job.on_done)


def assert_no_stored_context(writer) -> None:
    """The writer runs many modal calls after invoke: it must hold no Context (Blender warns
    against storing it) and no datablock, only names and session uids."""
    cells = [c.cell_contents for c in writer.__closure__ or ()]
    held = [c for c in cells if isinstance(c, bpy.types.Context | bpy.types.ID)]
    assert not held, held
    assert not any(isinstance(c, bpy.types.Operator) for c in cells)


def test_generate_operator_blocking_and_take_numbering(mods, assets):
    obj = make_scene(mods, assets, takes=1)
    assert bpy.ops.rag_gesture.generate() == {"FINISHED"}
    assert bpy.ops.rag_gesture.generate() == {"FINISHED"}
    name = audio_name(mods, assets)
    assert mods["keys"].list_takes(obj) == [f"{name} take 1", f"{name} take 2"]
    assert obj.animation_data.action.name == f"{name} take 2"
    assert bpy.ops.rag_gesture.use_take(take=f"{name} take 1") == {"FINISHED"}
    assert obj.animation_data.action.name == f"{name} take 1"


# --------------------------------------------------------------------------- regenerate


def test_regenerate_changes_only_range_and_margin(mods, assets):
    obj = make_scene(mods, assets, takes=1)
    assert bpy.ops.rag_gesture.generate() == {"FINISHED"}
    keys = mods["keys"]
    # a hand edit outside the range: the right wrist's w at frame 14
    chan = (keys.rotation_path("right_wrist"), 0)
    edit_key(mods, obj, chan, 3, 0.5)
    before = fcurve_snapshot(mods, obj)
    settings = preview_range(40, 55, margin=0.25, seed=11)  # margin: 6 frames at 24 fps
    settings.lock_face = True

    op = driver(mods, "regenerate")
    result = run_modal(op)
    assert result == {"FINISHED"}, op.reports
    req = op._job.request
    assert (req.start, req.end, req.locks, req.sampling.takes) == (29, 45, ("face",), 1)
    accepted(mods, req)
    assert_no_stored_context(op._job.on_done)
    lo, hi = 40 - 6, 56 + 6  # keys in [lo, hi) may change, nothing else
    assert (op._span.rewrite_first, op._span.rewrite_last + 1) == (lo, hi)
    after = fcurve_snapshot(mods, obj)
    assert after.keys() == before.keys()
    changed = 0
    for k, old in before.items():
        new = after[k]
        np.testing.assert_array_equal(new[:, 0], old[:, 0])
        outside = (old[:, 0] < lo) | (old[:, 0] >= hi)
        np.testing.assert_array_equal(new[outside], old[outside], err_msg=str(k))
        if k[0].startswith("KEY:"):  # the face was locked
            np.testing.assert_array_equal(new, old)
        elif not np.array_equal(new[~outside], old[~outside]):
            changed += 1
    assert changed > 50, "the range should have new motion"
    assert after[chan][3, 1] == np.float32(0.5), "the hand edit must survive"
    assert op.reports[-1][1].startswith("Regenerated frames 34-61 (range 40-55, 6 blend "
                                        "frames before and 6 after) of 'line")


def full_snapshot(mods, action, id_data) -> dict:
    """Every attribute of every key of `action`'s curves for `id_data`."""
    keys = mods["keys"]
    out = {}
    for fc in mods["compat"].action_fcurves(action, id_data):
        out[(fc.data_path, fc.array_index)] = {
            name: arr.tobytes() for name, arr in keys._read_keys(fc.keyframe_points).items()}
    return out


def test_regenerate_never_touches_a_locked_part(mods, assets):
    obj = make_scene(mods, assets, takes=1)
    assert bpy.ops.rag_gesture.generate() == {"FINISHED"}
    keys = mods["keys"]
    action = obj.animation_data.action
    fc = next(f for f in mods["compat"].action_fcurves(action, obj)
              if (f.data_path, f.array_index) == (keys.rotation_path("left_index2"), 1))
    for point in reversed(list(fc.keyframe_points)):  # the animator thins it to three keys
        if int(point.co[0]) not in (11, 45, 60):
            fc.keyframe_points.remove(point)
    for point in fc.keyframe_points:
        point.interpolation = "BEZIER"
        point.handle_left_type = point.handle_right_type = "AUTO_CLAMPED"
    fc.update()
    before = full_snapshot(mods, action, obj)
    settings = preview_range(40, 55, margin=0.25, seed=11)
    settings.lock_hands = True
    op = driver(mods, "regenerate")
    assert run_modal(op) == {"FINISHED"}, op.reports
    after = full_snapshot(mods, action, obj)
    fingers = {keys.rotation_path(mods["rig"].JOINT_NAMES[j]) for j in range(25, 55)}
    changed = set()
    for k, old in before.items():
        if k[0] in fingers:
            assert after[k] == old, k  # same points, values, interpolation, handles, types
        elif after[k]["co"] != old["co"]:
            changed.add(k[0])
    assert keys.rotation_path("left_wrist") in changed  # the wrists are Upper Body
    assert len(fc.keyframe_points) == 3 and fc.keyframe_points[1].interpolation == "BEZIER"


def test_regenerate_writes_into_the_take_it_read(mods, assets):
    """The animator switches takes while a regenerate runs: the new range still lands in
    the take it was computed from; the take they switched to stays as it is, and active."""
    obj = make_scene(mods, assets, takes=2)
    assert bpy.ops.rag_gesture.generate() == {"FINISHED"}
    name, face_prop = audio_name(mods, assets), mods["keys"].EXPRESSION_ACTION_PROP
    take1, take2 = bpy.data.actions[f"{name} take 1"], bpy.data.actions[f"{name} take 2"]
    face = mods["rig"].expression_mesh(obj).data.shape_keys
    assert obj.animation_data.action == take1
    before1 = full_snapshot(mods, take1, obj)
    before2 = (full_snapshot(mods, take2, obj), full_snapshot(mods, take2[face_prop], face))
    preview_range(40, 55, margin=0.25, seed=11)
    op = driver(mods, "regenerate")
    assert run_modal(op, until=lambda job: job.sent) == {"PAUSED"}
    assert bpy.ops.rag_gesture.use_take(take=take2.name) == {"FINISHED"}  # mid-job
    assert run_modal_continue(op, timeout=TIMEOUT) == {"FINISHED"}, op.reports
    assert obj.animation_data.action == take2  # the animator's choice stays
    assert face.animation_data.action == take2[face_prop]
    assert (full_snapshot(mods, take2, obj),
            full_snapshot(mods, take2[face_prop], face)) == before2
    after1 = full_snapshot(mods, take1, obj)
    assert any(after1[k]["co"] != before1[k]["co"] for k in before1)
    assert op.reports[-1][1].endswith(f"of '{take1.name}', which is not the active take "
                                      "(click it under Takes).")


def test_regenerate_into_a_deleted_take_fails_cleanly(mods, assets):
    obj = make_scene(mods, assets, takes=2)
    assert bpy.ops.rag_gesture.generate() == {"FINISHED"}
    name = audio_name(mods, assets)
    preview_range(40, 55, margin=0.25, seed=11)
    op = driver(mods, "regenerate")
    assert run_modal(op, until=lambda job: job.sent) == {"PAUSED"}
    mods["keys"].use_take(obj, f"{name} take 2")
    bpy.data.actions.remove(bpy.data.actions[f"{name} take 1"])
    before = fcurve_snapshot(mods, obj)
    assert run_modal_continue(op, timeout=TIMEOUT) == {"CANCELLED"}
    assert op.reports[-1] == ("ERROR", f"The motion could not be written to the armature (the "
                                       f"take '{name} take 1' was deleted while it was being "
                                       "regenerated).")
    after = fcurve_snapshot(mods, obj)
    assert after.keys() == before.keys()
    assert all(np.array_equal(after[k], before[k]) for k in before)


def test_regenerate_without_motion_or_with_everything_locked(mods, assets):
    make_scene(mods, assets, takes=1)
    with pytest.raises(RuntimeError, match="no generated motion yet"):
        bpy.ops.rag_gesture.regenerate()
    s = bpy.context.scene.rag_gesture
    s.lock_upper = s.lock_hands = s.lock_face = s.lock_lower = True
    with pytest.raises(RuntimeError, match="Every body part is locked"):
        bpy.ops.rag_gesture.regenerate()


# --------------------------------------------------------------------------- input errors


def test_missing_sound_strip(mods, assets):
    make_scene(mods, assets)
    se = bpy.context.scene.sequence_editor
    for strip in [s for s in mods["compat"].strips_all(bpy.context.scene) if s.type == "SOUND"]:
        mods["compat"].strip_collection(se).remove(strip)
    bpy.context.scene.rag_gesture.audio_source = "ACTIVE_STRIP"
    with pytest.raises(RuntimeError, match="There is no sound strip in the Sequencer"):
        bpy.ops.rag_gesture.generate()
    assert bpy.context.window_manager.rag_gesture.level == "ERROR"


def test_wrong_or_no_armature(mods, assets):
    make_scene(mods, assets)
    settings = bpy.context.scene.rag_gesture
    settings.armature = None
    cube = bpy.data.objects["Cube"]
    bpy.context.view_layer.objects.active = cube
    with pytest.raises(RuntimeError, match="'Cube' is a mesh, not an armature"):
        bpy.ops.rag_gesture.generate()
    arm = bpy.data.objects.new("Plain", bpy.data.armatures.new("Plain"))
    bpy.context.scene.collection.objects.link(arm)
    bpy.context.view_layer.objects.active = arm
    with pytest.raises(RuntimeError, match="'Plain' matches no bone-map preset.*Create SMPL-X"):
        bpy.ops.rag_gesture.generate()
    bpy.context.view_layer.objects.active = None
    with pytest.raises(RuntimeError, match="Select the character's armature"):
        bpy.ops.rag_gesture.generate()


def test_check_setup_runs_the_doctor(mods, assets, prefs):
    findings = mods["prefs"].FINDINGS
    assert bpy.ops.rag_gesture.check_setup() == {"FINISHED"}
    assert findings[-1] == "All good: the backend is ready.", findings
    assert any(f.startswith("Device: CPU") for f in findings)
    assert not any("bert-base-cased" in f for f in findings), "given as a local folder"
    prefs.checkpoint = ""
    prefs.weights_dir = assets["empty"]
    assert bpy.ops.rag_gesture.check_setup() == {"FINISHED"}  # a warning, not an error
    assert any(f.startswith("The RAG-Gesture weights are missing") for f in findings), findings


def test_no_backend_interpreter(mods, assets, prefs, tmp_path):
    make_scene(mods, assets)
    prefs.python_path = str(tmp_path / "no" / "python")
    with pytest.raises(RuntimeError, match="does not exist"):
        bpy.ops.rag_gesture.generate()


# --------------------------------------------------------------------------- cancel, crash


def test_cancel_leaves_the_scene_unchanged(mods, assets):
    obj = make_scene(mods, assets, audio="long", takes=2)
    bpy.context.scene.rag_gesture.steps = 50
    before = scene_fingerprint(obj)
    op = driver(mods, "generate")
    paused = run_modal(op, until=lambda job: job.state.fraction > 0.0)
    assert paused == {"PAUSED"}
    t0 = time.monotonic()
    result = op.modal(bpy.context, ESC)
    assert result == {"CANCELLED"} and time.monotonic() - t0 < 1.0
    assert op._job.state.status == "cancelled"
    assert scene_fingerprint(obj) == before
    assert obj.animation_data is None or obj.animation_data.action is None
    assert not bpy.context.window_manager.rag_gesture.running
    assert mods["jobs"].active_job() is None
    # the worker goes on serving: the next request works
    assert bpy.ops.rag_gesture.generate() == {"FINISHED"}


def test_cancel_button_stops_the_running_job(mods, assets):
    obj = make_scene(mods, assets, audio="long", takes=2)
    bpy.context.scene.rag_gesture.steps = 50
    before = scene_fingerprint(obj)
    op = driver(mods, "generate")
    assert run_modal(op, until=lambda job: job.state.fraction > 0.0) == {"PAUSED"}
    assert mods["jobs"].active_job() is op._job
    assert bpy.ops.rag_gesture.cancel() == {"FINISHED"}
    assert op.modal(bpy.context, TIMER) == {"CANCELLED"}  # the very next timer tick
    assert scene_fingerprint(obj) == before
    assert bpy.ops.rag_gesture.cancel() == {"CANCELLED"}  # "Nothing is running."


def test_killed_worker_leaves_the_scene_unchanged(mods, assets):
    obj = make_scene(mods, assets, audio="long", takes=2)
    bpy.context.scene.rag_gesture.steps = 50
    before = scene_fingerprint(obj)
    op = driver(mods, "generate")
    assert run_modal(op, until=lambda job: job.state.fraction > 0.0) == {"PAUSED"}
    os.kill(op._job.client.pid, signal.SIGKILL)
    result = run_modal_continue(op, timeout=15)
    assert result == {"CANCELLED"}
    message = op.reports[-1][1]
    assert op.reports[-1][0] == "ERROR"
    assert message.startswith("The gesture backend stopped unexpectedly")
    assert "SIGKILL" in message and message.count(".") >= 1
    assert scene_fingerprint(obj) == before
    assert bpy.context.window_manager.rag_gesture.message == message
    # the next Generate starts a new worker
    assert bpy.ops.rag_gesture.generate() == {"FINISHED"}


def run_modal_continue(op, timeout: float) -> set[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = op.modal(bpy.context, TIMER)
        if result != {"RUNNING_MODAL"}:
            return result
        time.sleep(0.02)
    pytest.fail(f"no end within {timeout} s: {op._job.state}")


def test_missing_weights_message(mods, assets, prefs):
    obj = make_scene(mods, assets, takes=1)
    prefs.checkpoint = ""
    prefs.weights_dir = assets["empty"]
    before = scene_fingerprint(obj)
    with pytest.raises(RuntimeError, match="No RAG-Gesture weights found") as err:
        bpy.ops.rag_gesture.generate()
    # what to press, not what to type in a terminal
    assert "press Download Weights in the add-on preferences" in str(err.value)
    assert "rag-gesture download" not in str(err.value) and "`" not in str(err.value)
    assert scene_fingerprint(obj) == before


BUILD_DB = textwrap.dedent("""
    import sys
    from pathlib import Path
    from tests.support.beat2_synthetic import make_beat2
    from backend.cli import main
    from backend.retrieval.database import GestureDatabase
    root = make_beat2(Path(sys.argv[1]) / "beat2")
    db = Path(sys.argv[1]) / "gestures"
    assert main(["build-db", "--beat2", str(root), "--db", str(db), "--no-bert"]) == 0
    with GestureDatabase(db) as g:
        print("DB " + str(db) + " " + g.names()[0])
""")


@pytest.fixture(scope="module")
def gesture_db(backend_python, repo_root, tmp_path_factory) -> tuple[str, str]:
    proc = subprocess.run([str(backend_python), "-c", BUILD_DB,
                           str(tmp_path_factory.mktemp("gesture_db"))], capture_output=True,
                          text=True, timeout=300, cwd=repo_root)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("DB ")]
    assert proc.returncode == 0 and lines, proc.stdout[-2000:] + proc.stderr[-4000:]
    _, path, first = lines[-1].split(" ", 2)
    return path, first


def test_marker_cue_plants_a_database_gesture(mods, assets, gesture_db):
    path, clip = gesture_db
    make_scene(mods, assets, takes=1)
    scene = bpy.context.scene
    scene.timeline_markers.new(f"deictic@{clip}", frame=35)  # 1 s into the audio at 24 fps
    scene.rag_gesture.gesture_db = path
    op = driver(mods, "generate")
    assert run_modal(op) == {"FINISHED"}, op.reports
    request = op._job.request
    accepted(mods, request)
    assert request.retrieval.to_message() == {
        "method": "directed", "database": path, "guidance_schedule": "decreasing_till_25",
        "inversion_store": True, "cues": [{"kind": "deictic", "clip": clip, "time": 1.0}]}
    planted = bpy.context.window_manager.rag_gesture.retrieved.splitlines()
    assert planted == [f"deictic in window 0 <- {clip}"]


# --------------------------------------------------------------------------- own rig


def test_generate_and_regenerate_on_a_mixamo_rig(mods, assets, addon_module):
    """Generate and Regenerate range work on an animator's rig (Mixamo names, A-pose, FBX
    transform) through the detected bone map: keys land on its own bones, takes and the
    range splice behave as on the SMPL-X armature, and the rig's edits are the context."""
    from tests.support.bpy_rigs import make_armature
    from tests.support.synthetic_rigs import build_rig, mixamo_world

    bm = addon_module("core.bone_maps")
    names = {j: (b if isinstance(b, str) else b[0]) for j, b in bm.PRESETS["mixamo"].items()}
    make_scene(mods, assets, takes=1)
    spec = build_rig(names, a_pose_deg=40, roll_seed=5, world=mixamo_world())
    obj = make_armature(spec, "Mixamo")
    bpy.context.scene.rag_gesture.armature = obj
    assert bpy.ops.rag_gesture.generate() == {"FINISHED"}
    keys = mods["keys"]
    assert keys.list_takes(obj) == [f"{audio_name(mods, assets)} take 1"]
    before = fcurve_snapshot(mods, obj)
    assert ('pose.bones["mixamorig:LeftForeArm"].rotation_quaternion', 0) in before
    assert ('pose.bones["mixamorig:Hips"].location', 2) in before
    assert not any(path.startswith('pose.bones["left_') for path, _ in before)
    chan = ('pose.bones["mixamorig:RightHand"].rotation_quaternion', 1)
    edit_key(mods, obj, chan, 2, 0.4)  # a hand edit outside the range
    before = fcurve_snapshot(mods, obj)
    preview_range(40, 55, margin=0.25, seed=12)
    op = driver(mods, "regenerate")
    assert run_modal(op) == {"FINISHED"}, op.reports
    lo, hi = op._span.rewrite_first, op._span.rewrite_last + 1
    after = fcurve_snapshot(mods, obj)
    assert after.keys() == before.keys()
    changed = 0
    for k, old in before.items():
        new = after[k]
        outside = (old[:, 0] < lo) | (old[:, 0] >= hi)
        np.testing.assert_array_equal(new[outside], old[outside], err_msg=str(k))
        changed += not np.array_equal(new[~outside], old[~outside])
    assert changed > 50
    assert after[chan][2, 1] == np.float32(0.4)


def test_cuda_without_a_gpu_says_so_in_the_panel(mods, prefs, addon_module):
    """Device: CUDA on a machine without one runs on the CPU, and the panel shows the
    backend's sentence saying so (not only the worker log)."""
    from tests.support.recording_layout import RecordingLayout

    client = mods["client"]
    prefs.device = "CUDA"
    assert bpy.ops.rag_gesture.worker_start() == {"FINISHED"}
    client.current_worker().wait_hello(TIMEOUT)
    assert client.device_warning() == \
        "CPU: CUDA was requested but this torch build sees no CUDA GPU."
    log: list = []
    addon_module("ui.panels").device_warning(RecordingLayout(log))
    assert log and log[0][2] == "ERROR"
    assert " ".join(e[1] for e in log) == client.device_warning()
    client.stop_worker()
