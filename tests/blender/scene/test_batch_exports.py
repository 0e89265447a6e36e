"""Batch exports read back by Blender's own importers (headless), in this bpy's version.

* BVH: the backend's exporter (run by the backend interpreter, it has torch) writes a file;
  `bpy.ops.import_anim.bvh` reads it; every joint's world position at several frames equals
  the SMPL-X forward kinematics of the same motion.
* FBX: `rag-gesture batch --format fbx --rig character.blend --blender <this Python>` on a
  Mixamo-style rig (the add-on's headless exporter runs in this bpy version);
  `bpy.ops.import_scene.fbx` opens the file: the rig's bones carry one key per frame and
  pose exactly like the same motion written onto the rig by `keys.write_motion`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import bpy
import numpy as np
import pytest
from bpy_extras.io_utils import axis_conversion

from tests.support.bpy_rigs import heads, make_armature
from tests.support.synthetic_motion import make_motion
from tests.support.synthetic_rigs import build_rig, mixamo_world

WRITE_BVH = textwrap.dedent("""
    import sys
    import numpy as np
    from backend.motion.bvh import write_bvh
    m = np.load(sys.argv[1])
    write_bvh(sys.argv[2], m["poses"], m["trans"], float(sys.argv[3]))
""")

BUILD_ASSETS = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from tests.support.parity_layout import build_official_layout, parity_dir
    from tests.support.speech_audio import speak
    from tests.support.speech_models import make_bert, make_wav2vec
    root = Path(sys.argv[2])
    print("ASSETS " + json.dumps({
        "checkpoint": str(build_official_layout(parity_dir(), root / "weights")),
        "bert": str(make_bert(root / "bert")),
        "wav2vec": str(make_wav2vec(root / "wav2vec")),
        "audio": str(speak("Look over there, it is a very big circle.", root / "line.wav")),
    }))
""")


def backend(backend_python: Path, repo_root: Path, args: list[str], home: Path,
            timeout: float = 300) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "OMP_NUM_THREADS": "1",
           "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(repo_root), "RAY_USAGE_STATS_ENABLED": "0",
           **{k: v for k, v in os.environ.items() if k == "RAG_GESTURE_PARITY_DIR"}}
    return subprocess.run([str(backend_python), *args], cwd=repo_root, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_bvh_reads_back_into_blender_with_the_same_motion(backend_python, repo_root, tmp_path,
                                                         kin, sk, rest):
    n, fps = 30, 24.0
    m = make_motion(n, seed=2)
    m["poses"] *= 0.7
    np.savez(tmp_path / "m.npz", poses=m["poses"], trans=m["trans"])
    proc = backend(backend_python, repo_root, ["-c", WRITE_BVH, str(tmp_path / "m.npz"),
                                               str(tmp_path / "m.bvh"), str(fps)], tmp_path)
    assert proc.returncode == 0, proc.stderr

    bpy.ops.import_anim.bvh(filepath=str(tmp_path / "m.bvh"), global_scale=0.01,
                            update_scene_fps=True, use_fps_scale=False, frame_start=1,
                            rotate_mode="NATIVE", axis_forward="-Z", axis_up="Y")
    obj = bpy.context.view_layer.objects.active
    assert obj.type == "ARMATURE" and len(obj.data.bones) == 55
    assert bpy.context.scene.render.fps == 24
    names = list(sk.JOINT_NAMES)
    conv = np.array(axis_conversion(from_forward="-Z", from_up="Y").to_3x3())
    expected = kin.forward_kinematics(m["poses"], m["trans"], np.array(rest))
    worst = 0.0
    for k in (0, 1, 7, 19, n - 1):
        bpy.context.scene.frame_set(1 + k)
        got = heads(obj, names)
        worst = max(worst, float(np.abs(got - expected[k] @ conv.T).max()))
    print(f"BVH round trip: worst joint position error {worst:.2e} m")
    assert worst < 1e-4
    action = obj.animation_data.action
    assert action is not None and tuple(action.frame_range) == (1.0, float(n))


@pytest.fixture(scope="module")
def assets(backend_python, repo_root, tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("batch_assets")
    proc = backend(backend_python, repo_root, ["-c", BUILD_ASSETS, str(repo_root / "tests"),
                                               str(root)], root)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("ASSETS ")]
    assert proc.returncode == 0 and lines, proc.stdout[-2000:] + proc.stderr[-4000:]
    return json.loads(lines[-1][len("ASSETS "):])


def mixamo_rig(bm) -> tuple[object, object]:
    names = {j: b if isinstance(b, str) else b[0] for j, b in bm.PRESETS["mixamo"].items()}
    spec = build_rig(names=names, a_pose_deg=45, roll_seed=1, world=mixamo_world(), scale=1.1)
    return spec, make_armature(spec, "Character")


def test_batch_fbx_on_a_mixamo_rig_opens_with_the_keys(backend_python, repo_root, tmp_path,
                                                       assets, addon_module, keys, compat):
    bm = addon_module("core.bone_maps")
    spec, _ = mixamo_rig(bm)
    rig_file = tmp_path / "character.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(rig_file), copy=True)
    manifest = tmp_path / "lines.jsonl"
    manifest.write_text(json.dumps({"id": "hello", "audio": assets["audio"], "fps": 24,
                                    "takes": 2}) + "\n")
    out = tmp_path / "out"
    proc = backend(backend_python, repo_root, [
        "-m", "backend.cli", "batch", str(manifest), "--out", str(out), "--format", "fbx",
        "--rig", str(rig_file), "--blender", sys.executable, "--fbx-processes", "2",
        "--actors", "1", "--steps", "5",
        "--allow-mismatch", "--no-progress", "--checkpoint", assets["checkpoint"],
        "--bert", assets["bert"], "--wav2vec", assets["wav2vec"], "--device", "cpu"],
        tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    row = json.loads((out / "report.jsonl").read_text().splitlines()[0])
    assert row["status"] == "done"
    assert row["outputs"] == ["hello.npz", "hello_take2.npz", "hello.fbx", "hello_take2.fbx"]
    assert (out / "hello_take2.fbx").stat().st_size > 10_000
    assert not list(out.rglob(".*.tmp"))
    motion = addon_module("shared.motion_file").read_motion_npz(out / "hello.npz")
    frames = motion["poses"].shape[0]

    # The reference: the same motion keyed onto the same rig in this process.
    bpy.ops.wm.read_homefile(app_template="")
    for o in list(bpy.data.objects):
        bpy.data.objects.remove(o)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 24, 1.0
    reference = make_armature(spec, "Reference")
    keys.write_motion(reference, motion["poses"], motion["trans"], None, 24.0, 24.0, 1, "Ref")

    bpy.ops.import_scene.fbx(filepath=str(out / "hello.fbx"))
    imported = [o for o in bpy.data.objects if o.type == "ARMATURE" and o != reference]
    assert len(imported) == 1
    arm = imported[0]
    action = arm.animation_data.action if arm.animation_data else None
    assert action is not None
    hips = spec.bones[0]
    bones = [b for b in spec.bones if b in arm.pose.bones]
    assert len(bones) == len(spec.bones)
    curves = [fc for fc in compat.action_fcurves(action, arm)
              if fc.data_path.startswith(f'pose.bones["{hips}"]')]
    assert curves and all(len(fc.keyframe_points) == frames for fc in curves)
    assert tuple(action.frame_range) == (1.0, float(frames))  # time 0 lands on frame 1
    worst = 0.0
    for f in (1, frames // 2, frames):
        scene.frame_set(f)
        worst = max(worst, float(np.abs(heads(arm, bones) - heads(reference, bones)).max()))
    print(f"FBX: {frames} frames, worst bone head difference {worst:.2e} m")
    assert worst < 1e-3
