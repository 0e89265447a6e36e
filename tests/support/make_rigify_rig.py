"""Generate a Rigify human rig with the Rigify add-on that ships with Blender and save it.

Run as ``python make_rigify_rig.py OUT.blend`` (the bpy wheel's interpreter) with a private
HOME. It runs in its own process and leaves with ``os._exit`` because bpy 4.2 crashes at
interpreter exit after a Rigify generation; the tests then append the rig from the file.
"""

from __future__ import annotations

import os
import sys

import bpy


def main(out: str) -> None:
    import addon_utils  # importable once bpy has put Blender's script folders on sys.path

    addon_utils.enable("rigify", default_set=True)
    bpy.ops.object.armature_human_metarig_add()
    bpy.ops.pose.rigify_generate()
    rig = bpy.context.active_object
    rig.name = "rigify_rig"
    bpy.ops.wm.save_as_mainfile(filepath=out)
    print("SAVED", rig.name, len(rig.data.bones), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
    sys.stdout.flush()
    os._exit(0)
