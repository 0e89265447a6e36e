"""Build a `synthetic_rigs.RigSpec` as a real Blender armature (tests and bench/keyframes)."""

from __future__ import annotations

import bpy
import numpy as np
from mathutils import Matrix


def make_armature(spec, name: str, stay_in_edit_mode: bool = False) -> bpy.types.Object:
    """A Blender armature with exactly the spec's bones, rest matrices and rotation modes.

    `stay_in_edit_mode`: an animator's rig still in Edit Mode after its bones were made,
    synced into the armature data the way saving the file does (``update_from_editmode``);
    its rotation modes are left at the default."""
    arm = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, arm)
    bpy.context.scene.collection.objects.link(obj)
    obj.matrix_world = Matrix(spec.world.tolist())
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    ebones = []
    for b, bone in enumerate(spec.bones):
        eb = arm.edit_bones.new(bone)
        eb.head, eb.tail = (0.0, 0.0, 0.0), (0.0, 1.0, 0.0)
        eb.matrix = Matrix(spec.rest_matrix(b).tolist())
        eb.length = float(spec.lengths[b])
        ebones.append(eb)
    for b, p in enumerate(spec.parents):
        if p >= 0:
            ebones[b].parent = ebones[p]
    if stay_in_edit_mode:
        obj.update_from_editmode()
        return obj
    bpy.ops.object.mode_set(mode="OBJECT")
    for b, bone in enumerate(spec.bones):
        obj.pose.bones[bone].rotation_mode = spec.modes[b]
    return obj


def heads(obj, names) -> np.ndarray:
    mw = obj.matrix_world
    return np.array([tuple(mw @ obj.pose.bones[n].head) for n in names])
