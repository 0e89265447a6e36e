"""Build an SMPL-X-topology armature that SMPL-X axis-angle maps onto directly.

Rig convention (what `keys` relies on):

* 55 bones named and parented exactly as SMPL-X (``shared.skeleton.JOINT_NAMES`` / ``PARENTS``),
  every bone's head at its joint's rest position.
* The armature object keeps an identity transform (Blender world = armature space). Joint
  positions are converted from SMPL-X (Y up, +Z forward, +X = body's left) to Blender (Z up,
  -Y forward, +X = body's left) with ``core.axes.YUP_TO_ZUP`` (+90 deg about X).
* Every bone points straight up (+Z) with roll 0, so every bone's rest matrix is that same
  rotation: **each bone's local frame is the SMPL-X canonical frame**. An SMPL-X axis-angle
  is therefore written unchanged as the pose bone's ``rotation_quaternion`` (all pose bones
  use rotation_mode QUATERNION), with no per-bone correction.
* Root translation: the pelvis pose bone's ``location`` is in that same local frame, so it
  takes the SMPL-X ``trans`` vector unchanged (x left, y up, z forward). The posed pelvis is
  then at ``YUP_TO_ZUP @ (J_pelvis + trans)`` in world space, exactly SMPL-X's
  ``J_pelvis + trans`` seen Z-up.
* Rest joints come from a user SMPL-X model .npz (``J = J_regressor @ v_template``) when
  given, else from the project's default skeleton (``shared.rest_skeleton``).

Display: an optional child mesh deformed by the armature (rigid, one vertex group per bone):
the SMPL-X template mesh with its skinning weights when the model file has them, else one box
per bone segment. Expression coefficients live on that mesh as shape keys Exp000..Exp099
(slider range widened to Blender's +-10 so keyed values are not clamped to [0, 1]).
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import numpy as np

from ..core.axes import YUP_TO_ZUP, yup_to_zup, zup_to_yup
from ..core.smplx_model import load_smplx_model
from ..shared.rest_skeleton import DEFAULT_REST_JOINTS
from ..shared.skeleton import JOINT_NAMES, NUM_EXPRESSIONS, NUM_JOINTS, PARENTS

# Shape-key names the expression coefficients are keyed on: Exp000 .. Exp099.
EXPRESSION_KEY_NAMES: tuple[str, ...] = tuple(f"Exp{i:03d}" for i in range(NUM_EXPRESSIONS))

RIG_ID_PROP = "rag_gesture_rig_id"  # custom property on the armature object (takes use it)
RIG_KIND_PROP = "rag_gesture_rig"  # "smplx" on armatures made here
SHAPE_KEY_LIMIT = 10.0  # Blender's hard limit for slider_min / slider_max

# Box half-thickness (metres) of the display segment ending at a joint, by name prefix.
_THICKNESS: tuple[tuple[str, float], ...] = (
    ("left_index", 0.007), ("left_middle", 0.007), ("left_ring", 0.007), ("left_pinky", 0.006),
    ("left_thumb", 0.008), ("right_index", 0.007), ("right_middle", 0.007),
    ("right_ring", 0.007), ("right_pinky", 0.006), ("right_thumb", 0.008),
    ("spine", 0.07), ("neck", 0.04), ("head", 0.045), ("jaw", 0.02), ("left_eye", 0.006),
    ("right_eye", 0.006), ("left_hip", 0.06), ("right_hip", 0.06), ("left_collar", 0.04),
    ("right_collar", 0.04), ("left_knee", 0.055), ("right_knee", 0.055), ("left_ankle", 0.04),
    ("right_ankle", 0.04), ("left_foot", 0.035), ("right_foot", 0.035), ("left_wrist", 0.03),
    ("right_wrist", 0.03),
)  # fmt: skip
_DEFAULT_THICKNESS = 0.04


def default_rest_joints() -> np.ndarray:
    """(55, 3) default rest joints in the SMPL-X frame (a fresh float64 array)."""
    return np.array(DEFAULT_REST_JOINTS, dtype=np.float64)


def _bone_lengths(rest: np.ndarray) -> np.ndarray:
    """Display lengths: half the distance to the nearest child (leaves: to the parent)."""
    lengths = np.empty(NUM_JOINTS)
    for j in range(NUM_JOINTS):
        children = [c for c in range(NUM_JOINTS) if PARENTS[c] == j]
        if children:
            d = min(float(np.linalg.norm(rest[c] - rest[j])) for c in children)
        else:
            d = float(np.linalg.norm(rest[j] - rest[PARENTS[j]]))
        lengths[j] = min(max(0.5 * d, 0.008), 0.12)
    return lengths


def create_smplx_armature(
    context: Any,
    name: str = "SMPLX",
    model_path: str | os.PathLike[str] | None = None,
    body: bool = True,
    expressions: bool = True,
) -> Any:
    """Create the SMPL-X armature (see the module docstring) in the active collection.

    `model_path`: a SMPL-X model .npz for the joint positions (and the display mesh);
    None uses the default skeleton. `body`: add the display mesh. `expressions`: make sure a
    child mesh has shape keys Basis + Exp000..Exp099 (a small head mesh when body=False).
    Returns the armature object, which is left active and selected in OBJECT mode.
    """
    import bpy

    model = load_smplx_model(model_path) if model_path is not None else None
    rest = model["joints"] if model is not None else default_rest_joints()
    heads = yup_to_zup(rest)
    lengths = _bone_lengths(rest)

    if context.mode != "OBJECT":
        bpy.ops.object.mode_set(mode="OBJECT")
    arm = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, arm)
    collection = context.collection or context.scene.collection
    collection.objects.link(obj)
    for other in context.selected_objects:
        other.select_set(False)
    context.view_layer.objects.active = obj
    obj.select_set(True)

    bpy.ops.object.mode_set(mode="EDIT")
    try:
        ebones = []
        for j, joint in enumerate(JOINT_NAMES):
            eb = arm.edit_bones.new(joint)
            eb.head = tuple(heads[j])
            eb.tail = (heads[j][0], heads[j][1], heads[j][2] + lengths[j])  # +Z: SMPL-X +Y
            eb.roll = 0.0
            eb.use_connect = False
            eb.use_deform = True
            ebones.append(eb)
        for j, parent in enumerate(PARENTS):
            if parent >= 0:
                ebones[j].parent = ebones[parent]
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")

    for pb in obj.pose.bones:
        pb.rotation_mode = "QUATERNION"
    obj[RIG_KIND_PROP] = "smplx"
    obj[RIG_ID_PROP] = uuid.uuid4().hex

    mesh_obj = None
    if body or expressions:
        full = model is not None and model["faces"] is not None and model["weights"] is not None
        if body and full:
            mesh_obj = _model_mesh(context, obj, name, model)
        else:
            joints = range(NUM_JOINTS) if body else (JOINT_NAMES.index("head"),)
            mesh_obj = _box_mesh(context, obj, name, rest, tuple(joints))
    if expressions and mesh_obj is not None:
        dirs = model["expression_dirs"] if model is not None and body else None
        add_expression_keys(mesh_obj, None if dirs is None else _zup_dirs(dirs))
    context.view_layer.objects.active = obj
    return obj


def _zup_dirs(dirs: np.ndarray) -> np.ndarray:
    """(V, 3, K) SMPL-X-frame blend-shape directions -> (K, V, 3) Blender-frame offsets."""
    return yup_to_zup(np.moveaxis(dirs, -1, 0))


# ---------------------------------------------------------------------------- display mesh
def _link_child_mesh(
    context: Any, arm_obj: Any, name: str, verts: np.ndarray, faces: np.ndarray
) -> Any:
    """A mesh object parented to the armature with an Armature modifier."""
    import bpy

    mesh = bpy.data.meshes.new(name)
    mesh.vertices.add(len(verts))
    mesh.vertices.foreach_set("co", np.asarray(verts, dtype=np.float32).ravel())
    faces = np.asarray(faces, dtype=np.int64)
    sizes = np.full(len(faces), faces.shape[1], dtype=np.int32)
    mesh.loops.add(faces.size)
    mesh.loops.foreach_set("vertex_index", faces.astype(np.int32).ravel())
    mesh.polygons.add(len(faces))
    mesh.polygons.foreach_set("loop_start", (np.cumsum(sizes) - sizes).astype(np.int32))
    mesh.polygons.foreach_set("loop_total", sizes)
    mesh.update()
    mesh.validate()
    obj = bpy.data.objects.new(name, mesh)
    (context.collection or context.scene.collection).objects.link(obj)
    obj.parent = arm_obj
    mod = obj.modifiers.new("Armature", "ARMATURE")
    mod.object = arm_obj
    mod.use_vertex_groups = True
    return obj


def _box(a: np.ndarray, b: np.ndarray, half: float) -> np.ndarray:
    """8 corners of a square-section box from a to b (half-thickness `half`)."""
    d = b - a
    length = float(np.linalg.norm(d))
    axis = d / length if length > 1e-9 else np.array([0.0, 1.0, 0.0])
    helper = np.array([0.0, 0.0, 1.0]) if abs(axis[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    u = np.cross(axis, helper)
    u /= np.linalg.norm(u)
    v = np.cross(axis, u)
    corners = []
    for end in (a, b):
        for su, sv in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
            corners.append(end + half * (su * u + sv * v))
    return np.array(corners)


_BOX_FACES = np.array(
    [[0, 3, 2, 1], [4, 5, 6, 7], [0, 1, 5, 4], [1, 2, 6, 5], [2, 3, 7, 6], [3, 0, 4, 7]]
)


def _thickness(joint: str) -> float:
    return next((t for prefix, t in _THICKNESS if joint.startswith(prefix)), _DEFAULT_THICKNESS)


def _box_mesh(
    context: Any, arm_obj: Any, name: str, rest: np.ndarray, joints: tuple[int, ...]
) -> Any:
    """One box per bone segment (parent joint -> joint, skinned to the parent bone) plus a
    small cube on each joint (skinned to that joint's bone) and a head block."""
    verts: list[np.ndarray] = []
    faces: list[np.ndarray] = []
    owners: list[int] = []

    def add(corners: np.ndarray, owner: int) -> None:
        faces.append(_BOX_FACES + 8 * len(owners))
        verts.append(corners)
        owners.append(owner)

    head = JOINT_NAMES.index("head")
    for j in joints:
        half = _thickness(JOINT_NAMES[j])
        p = PARENTS[j]
        if p >= 0 and len(joints) > 1:
            add(_box(rest[p], rest[j], 0.6 * _thickness(JOINT_NAMES[p]) + 0.4 * half), p)
        cube = max(0.6 * half, 0.004)
        add(_box(rest[j] - [0, cube, 0], rest[j] + [0, cube, 0], cube), j)
        if j == head:  # the skull: from the head joint up to the crown
            add(_box(rest[j], rest[j] + [0.0, 0.17, 0.0], 0.08), j)
    v = yup_to_zup(np.concatenate(verts))
    obj = _link_child_mesh(context, arm_obj, f"{name}_body", v, np.concatenate(faces))
    groups = {j: obj.vertex_groups.new(name=JOINT_NAMES[j]) for j in range(NUM_JOINTS)}
    for box, owner in enumerate(owners):
        groups[owner].add(list(range(8 * box, 8 * box + 8)), 1.0, "REPLACE")
    return obj


def _model_mesh(context: Any, arm_obj: Any, name: str, model: dict[str, Any]) -> Any:
    """The SMPL-X template mesh skinned with the model's weights (no pose blend shapes)."""
    obj = _link_child_mesh(
        context, arm_obj, f"{name}_body", yup_to_zup(model["vertices"]), model["faces"]
    )
    weights = model["weights"]
    for j, joint in enumerate(JOINT_NAMES):
        group = obj.vertex_groups.new(name=joint)
        idx = np.nonzero(weights[:, j] > 1e-6)[0]
        for value in np.unique(weights[idx, j]):
            sel = idx[weights[idx, j] == value]
            group.add(sel.tolist(), float(value), "REPLACE")
    return obj


def add_expression_keys(mesh_obj: Any, offsets: np.ndarray | None = None) -> Any:
    """Ensure shape keys Basis + Exp000..Exp099 with slider range [-10, 10] on `mesh_obj`.

    `offsets` (100, V, 3), Blender frame: per-key vertex offsets from the basis (None leaves
    new keys equal to the basis: they then only carry the coefficients). Returns the Key.
    """
    if mesh_obj.data.shape_keys is None:
        mesh_obj.shape_key_add(name="Basis", from_mix=False)
    blocks = mesh_obj.data.shape_keys.key_blocks
    basis = np.empty(3 * len(mesh_obj.data.vertices), dtype=np.float32)
    blocks[0].data.foreach_get("co", basis)
    for i, key_name in enumerate(EXPRESSION_KEY_NAMES):
        block = blocks.get(key_name)
        if block is None:
            block = mesh_obj.shape_key_add(name=key_name, from_mix=False)
            if offsets is not None:
                co = basis + np.asarray(offsets[i], dtype=np.float32).ravel()
                block.data.foreach_set("co", co)
        widen_slider_range(block)
    return mesh_obj.data.shape_keys


def widen_slider_range(block: Any, limit: float = SHAPE_KEY_LIMIT) -> None:
    """Blender clamps a shape-key value to its slider range even when keyframed."""
    block.slider_min = -limit
    block.slider_max = limit


# ---------------------------------------------------------------------------------- queries
def missing_bones(obj: Any) -> list[str]:
    """SMPL-X joint names that `obj` (an armature object) has no bone for."""
    if obj is None or obj.type != "ARMATURE":
        return list(JOINT_NAMES)
    bones = obj.data.bones
    return [joint for joint in JOINT_NAMES if bones.get(joint) is None]


def is_smplx_rig(obj: Any) -> bool:
    """True for an armature object that has all 55 SMPL-X bones."""
    return obj is not None and obj.type == "ARMATURE" and not missing_bones(obj)


def expression_mesh(obj: Any) -> Any:
    """The child mesh of `obj` that carries the Exp000.. shape keys, or None."""
    for child in obj.children:
        keys = getattr(child.data, "shape_keys", None) if child.type == "MESH" else None
        if keys is not None and keys.key_blocks.get(EXPRESSION_KEY_NAMES[0]) is not None:
            return child
    return None


def rig_id(obj: Any, create: bool = True) -> str | None:
    """Stable id tying takes (actions) to this armature; survives renames."""
    value = obj.get(RIG_ID_PROP)
    if value is None and create:
        value = uuid.uuid4().hex
        obj[RIG_ID_PROP] = value
    return None if value is None else str(value)


def rest_joints(obj: Any) -> np.ndarray:
    """(55, 3) rest joint positions of the rig in the SMPL-X frame (bone heads)."""
    bones = obj.data.bones
    heads = np.array([tuple(bones[joint].head_local) for joint in JOINT_NAMES])
    return zup_to_yup(heads)


def rest_frame_error(obj: Any) -> float:
    """Largest deviation of any bone's rest rotation from the SMPL-X frame (0 when exact).

    One ``foreach_get`` for all bones: the main panel asks this on every redraw."""
    bones = obj.data.bones
    if len(bones) == 0:
        return 0.0
    flat = np.empty(16 * len(bones), dtype=np.float32)
    bones.foreach_get("matrix_local", flat)
    rot = flat.reshape(-1, 4, 4).transpose(0, 2, 1)[:, :3, :3]  # stored column by column
    return float(np.abs(rot - np.asarray(YUP_TO_ZUP)).max())
