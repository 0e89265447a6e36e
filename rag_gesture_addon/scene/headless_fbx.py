"""Headless FBX export of generated motion onto a studio rig, with the add-on's own code.

`rag-gesture batch --format fbx --rig character.blend` starts this file once, in Blender
without a window, and feeds it one job per line, so Blender and the rig load once:

    blender -b --factory-startup --python scene/headless_fbx.py -- RIG.blend [--armature NAME]
    python-with-bpy scene/headless_fbx.py RIG.blend [--armature NAME]

stdin: one JSON object per line, {"npz": motion file, "fbx": where to write, "name": take
name}. For each job the .blend is opened afresh (the user's file is never saved), the motion
is written as a new take by `keys.write_motion` (the same retarget, rotation modes and
F-curve code as the Generate button), the armature and its meshes are exported as FBX with
that take baked, and one answer line goes to stdout:

    RAG_GESTURE_FBX {"ok": true, "frames": 150, "curves": 219}
    RAG_GESTURE_FBX {"ok": false, "error": "one sentence"}

The first answer, before any job, says whether the rig loaded ({"ready": true, ...}).
Blender's own messages also go to stdout, hence the prefix. The backend never imports bpy;
this script never imports torch.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import traceback
from pathlib import Path
from typing import Any

PREFIX = "RAG_GESTURE_FBX "


def _addon(module: str) -> Any:
    """A module of this add-on (`scene.keys`, `shared.motion_file`), whatever the add-on's
    package is called (repo or installed). Run as a script, this file sits in `<add-on>/scene/`,
    so the folder holding the add-on goes on sys.path of this throw-away Blender process."""
    addon_dir = Path(__file__).resolve().parents[1]
    if __package__:
        return importlib.import_module(f"{__package__.rpartition('.')[0]}.{module}")
    if str(addon_dir.parent) not in sys.path:
        sys.path.insert(0, str(addon_dir.parent))
    return importlib.import_module(f"{addon_dir.name}.{module}")


def answer(**fields: Any) -> None:
    sys.stdout.write(PREFIX + json.dumps(fields) + "\n")
    sys.stdout.flush()


def find_armature(name: str | None) -> Any:
    import bpy

    arms = [o for o in bpy.data.objects if o.type == "ARMATURE"]
    if name:
        obj = bpy.data.objects.get(name)
        if obj is None or obj.type != "ARMATURE":
            raise ValueError(f"the rig file has no armature called {name!r} (armatures: "
                             f"{', '.join(o.name for o in arms) or 'none'})")
        return obj
    if len(arms) != 1:
        raise ValueError(f"the rig file has {len(arms)} armatures "
                         f"({', '.join(o.name for o in arms) or 'none'}); name one with "
                         "--rig-armature")
    return arms[0]


def open_rig(rig: str, armature: str | None) -> Any:
    import bpy

    bpy.ops.wm.open_mainfile(filepath=rig, load_ui=False)
    return find_armature(armature)


def export_job(job: dict[str, Any], rig: str, armature: str | None) -> dict[str, Any]:
    import bpy

    keys = _addon("scene.keys")
    motion_file = _addon("shared.motion_file")
    obj = open_rig(rig, armature)
    motion = motion_file.read_motion_npz(job["npz"])
    scene = bpy.context.scene
    fps = float(motion["fps"])
    scene.render.fps = max(1, round(fps))
    scene.render.fps_base = scene.render.fps / fps
    lay = keys.layout(obj)
    action = keys.write_motion(obj, motion["poses"], motion["trans"], motion["expressions"],
                               src_fps=fps, scene_fps=fps, start_frame=0,
                               action_name=str(job.get("name") or "RAG-Gesture"), lay=lay)
    frames = motion["poses"].shape[0]
    scene.frame_start, scene.frame_end = 0, frames - 1  # the FBX take starts at time 0
    for o in bpy.context.view_layer.objects:
        o.select_set(o == obj or o.parent == obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.export_scene.fbx(
        filepath=job["fbx"], use_selection=True,
        object_types={"ARMATURE", "MESH"}, add_leaf_bones=False, bake_anim=True,
        bake_anim_use_all_actions=False, bake_anim_use_nla_strips=False,
        bake_anim_force_startend_keying=True, bake_anim_simplify_factor=0.0)
    return {"ok": True, "frames": frames, "curves": len(lay.channels), "action": action.name}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="headless_fbx", description=__doc__.splitlines()[0])
    ap.add_argument("rig", help="the .blend file with the character's armature")
    ap.add_argument("--armature", help="the armature object (default: the only one)")
    args = ap.parse_args(argv)
    try:
        obj = open_rig(args.rig, args.armature)
        _addon("scene.keys").layout(obj)  # the rig must take motion before any job is sent
    except Exception as exc:
        answer(ready=False, error=str(exc).strip() or type(exc).__name__)
        return 1

    answer(ready=True, armature=obj.name, bones=len(obj.data.bones),
           blender=".".join(map(str, _addon("scene.compat").VERSION)))
    for raw in sys.stdin:
        if not raw.strip():
            continue
        try:
            answer(**export_job(json.loads(raw), args.rig, args.armature))
        except Exception as exc:
            answer(ok=False, error=str(exc).strip() or type(exc).__name__,
                   traceback=traceback.format_exc())
    return 0


if __name__ == "__main__":
    args = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]
    sys.exit(main(args))
