"""Benchmark: writing generated motion as keyframes (add-on `keys.write_motion`).

    .venv/bin/python -m bench.keyframes [--seconds 60] [--fps 30] [--repeat 3]

Writes `--seconds` of 30-fps motion onto the 55 bones (223 F-curves) and the 100 expression
shape keys of an SMPL-X rig with the fast path (keyframe_points.add + foreach_set), then the
per-frame ``keyframe_insert`` path on a short clip for comparison, as time per key (the
insert path gets slower per key as curves grow, so its ratio on a 2-s clip is a lower bound).
Also times the same motion written onto a retargeted rig (Mixamo names, A-pose, rolls, an
FBX import's object transform; built by ``tests/support/synthetic_rigs.py``): the bone-map
probe plus the transfer plus the keys. Runs headless with the PyPI ``bpy`` wheel; the last line is
``seconds X.XX``, the median time of one full write onto the SMPL-X rig (target: <= 0.3 s for
60 s on a 2-core machine).
"""

from __future__ import annotations

if __name__ == "__main__" and not __package__:  # `python bench/NAME.py`: rerun as module
    import _script  # bench/ is sys.path[0] when a bench runs as a file

    _script.run_as_module(__file__)

import argparse
import atexit
import os
import shutil
import statistics
import tempfile
import time
import types


def _bench_retarget(keys: types.ModuleType, poses, trans, args: argparse.Namespace) -> None:
    """Median time of write_motion onto a Mixamo-style rig (probe + transfer + keys)."""
    from rag_gesture_addon.core import bone_maps as bm
    from tests.support.bpy_rigs import make_armature
    from tests.support.synthetic_rigs import build_rig, mixamo_world

    names = {j: (b if isinstance(b, str) else b[0]) for j, b in bm.PRESETS["mixamo"].items()}
    obj = make_armature(build_rig(names, a_pose_deg=40, roll_seed=1, world=mixamo_world()),
                        "BenchMixamo")
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        action = keys.write_motion(obj, poses, trans, None, args.fps, args.fps, 1, "Mixamo")
        times.append(time.perf_counter() - t0)
    curves = len(keys.layout(obj).channels)
    print(f"retargeted write (Mixamo rig, {curves} F-curves, probe + transfer + keys): "
          f"median {statistics.median(times):.3f} s of {len(times)} (action {action.name})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--insert-seconds", type=float, default=2.0)
    args = parser.parse_args()

    profile = tempfile.mkdtemp(prefix="rag_gesture_bench_")  # keep bpy off the real profile
    atexit.register(shutil.rmtree, profile, ignore_errors=True)
    os.environ["HOME"] = profile
    os.environ["BLENDER_USER_RESOURCES"] = profile
    import bpy
    import numpy as np

    from backend.machine import describe
    from rag_gesture_addon.scene import keys, rig  # imports bpy: after the profile is set
    from rag_gesture_shared import rotations as rot

    print(f"machine: {describe()}")  # figures depend on it

    n = int(round(args.seconds * args.fps))
    rng = np.random.default_rng(0)
    poses = rng.normal(0.0, 0.4, (n, 55, 3))
    trans = rng.normal(0.0, 0.05, (n, 3))
    expressions = rng.normal(0.0, 1.5, (n, 100))
    channels = len(keys.ARMATURE_CHANNELS) + len(keys.EXPRESSION_CHANNELS)
    print(f"bpy {bpy.app.version_string}, numpy {np.__version__}, cpus {os.cpu_count()}")
    print(f"motion: {n} frames ({args.seconds:g} s at {args.fps:g} fps), {channels} F-curves, "
          f"{n * channels} keys per write")  # fmt: skip

    bpy.ops.wm.read_homefile(app_template="")
    obj = rig.create_smplx_armature(bpy.context, name="Bench")
    times = []
    for i in range(args.repeat):
        t0 = time.perf_counter()
        action = keys.write_motion(obj, poses, trans, expressions, args.fps, args.fps, 1, "Bench")
        times.append(time.perf_counter() - t0)
        print(f"write_motion run {i + 1}: {times[-1]:.3f} s (action {action.name})")
    fast = statistics.median(times)
    per_key_fast = fast / (n * channels)
    _bench_retarget(keys, poses, trans, args)

    # Check: the pose at a frame equals the motion (the write is not just fast).
    bpy.context.scene.frame_set(1 + n // 2)
    pose_bones = [obj.pose.bones[j] for j in rig.JOINT_NAMES]
    q = np.array([tuple(pb.rotation_quaternion) for pb in pose_bones])
    err = np.abs(np.abs(np.sum(q * rot.axis_angle_to_quaternion(poses[n // 2]), -1)) - 1).max()
    print(f"check: quaternion error at frame {1 + n // 2}: {err:.1e}")

    # Per-frame keyframe_insert on a short clip (what a naive add-on does).
    m = int(round(args.insert_seconds * args.fps))
    bpy.ops.wm.read_homefile(app_template="")
    slow = rig.create_smplx_armature(bpy.context, name="Slow")
    key = rig.expression_mesh(slow).data.shape_keys
    quats = rot.hemisphere_continuous(rot.axis_angle_to_quaternion(poses[:m]), axis=0)
    bones = [slow.pose.bones[j] for j in rig.JOINT_NAMES]
    blocks = [key.key_blocks[name] for name in keys.EXPRESSION_KEY_NAMES]
    t0 = time.perf_counter()
    for f in range(m):
        for j, pb in enumerate(bones):
            pb.rotation_quaternion = tuple(quats[f, j])
            pb.keyframe_insert("rotation_quaternion", frame=f + 1)
        bones[0].location = tuple(trans[f])
        bones[0].keyframe_insert("location", frame=f + 1)
        for e, block in enumerate(blocks):
            block.value = float(expressions[f, e])
            block.keyframe_insert("value", frame=f + 1)
    insert = time.perf_counter() - t0
    per_key_insert = insert / (m * channels)
    print(f"keyframe_insert: {m} frames ({args.insert_seconds:g} s), {m * channels} keys, "
          f"{insert:.3f} s")  # fmt: skip
    print(f"per key: foreach_set {per_key_fast * 1e6:.3f} us, keyframe_insert "
          f"{per_key_insert * 1e6:.2f} us, ratio {per_key_insert / per_key_fast:.0f}x")  # fmt: skip
    lower_bound = per_key_insert * n * channels  # per-key cost grows with curve length
    print(f"keyframe_insert extrapolated to {args.seconds:g} s: >= {lower_bound:.1f} s")
    print(f"seconds {fast:.2f}")


if __name__ == "__main__":
    main()
