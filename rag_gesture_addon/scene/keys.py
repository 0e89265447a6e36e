"""Write and read SMPL-X motion as F-curves on the rig built by `rig` (one action per take).

Every key goes through ``keyframe_points.add`` + ``foreach_set`` (never ``keyframe_insert``,
which is 100x+ slower and grows with curve length). Layout of a take:

* the armature action: ``pose.bones["<joint>"].rotation_quaternion`` [0..3] for the 55 joints
  (group = the joint name) and ``pose.bones["pelvis"].location`` [0..2] (root translation,
  SMPL-X ``trans`` unchanged: see the rig convention in `rig`);
* when the rig has an expression mesh and the motion has expressions: a second action on the
  mesh's Key datablock with ``key_blocks["Exp000"].value`` .. ``Exp099`` (group
  "Expressions"), linked from the armature action by the custom property
  ``rag_gesture_expression_action``.

Both actions carry ``rag_gesture_rig_id`` = the armature's id (`rig.rig_id`), so takes stay
attached to their armature through renames, and a fake user, so unused takes survive saving.
An action of the animator's that a take replaces and that nothing else uses is stashed in a
muted NLA track, as Blender's Action Editor does (`keep_previous`).
Keys are LINEAR, one per scene frame from ``start_frame``; scene frame ``start_frame + k``
holds the motion at time k / scene_fps (slerp resampling of rotations, linear otherwise).
Quaternions are hemisphere-continuous along time so linear interpolation takes the short arc.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.retarget import Retargeter
from ..core.rotation_modes import identity_channels, join_previous
from ..shared.resample import resample_linear, resample_quaternions
from ..shared.rotations import (
    as_poses,
    axis_angle_to_quaternion,
    hemisphere_continuous,
    quaternion_to_axis_angle,
)
from ..shared.skeleton import JOINT_NAMES, LOCKED_JOINTS, NUM_EXPRESSIONS, NUM_JOINTS
from . import compat, rig_profiles
from .rig import EXPRESSION_KEY_NAMES, expression_mesh, rig_id

TAKE_PROP = "rag_gesture_rig_id"  # on armature actions: the rig they are a take of
EXPRESSIONS_OF_PROP = "rag_gesture_expressions_of"  # on Key actions: the rig id
EXPRESSION_ACTION_PROP = "rag_gesture_expression_action"  # armature action -> its Key action
ROOT_JOINT = "pelvis"
EXPRESSION_GROUP = "Expressions"
LINEAR = 1  # Keyframe.interpolation enum value of 'LINEAR'

LOCATION_PATH = f'pose.bones["{ROOT_JOINT}"].location'


def rotation_path(joint: str) -> str:
    """Data path of a joint's quaternion on the armature object."""
    return f'pose.bones["{joint}"].rotation_quaternion'


def expression_path(key_name: str) -> str:
    """Data path of a shape-key value on the Key datablock."""
    return f'key_blocks["{key_name}"].value'


# (data_path, array_index, group): armature rows are the 55 joints' w,x,y,z, then trans x,y,z.
ARMATURE_CHANNELS: tuple[tuple[str, int, str], ...] = tuple(
    (rotation_path(joint), i, joint) for joint in JOINT_NAMES for i in range(4)
) + tuple((LOCATION_PATH, i, ROOT_JOINT) for i in range(3))
EXPRESSION_CHANNELS: tuple[tuple[str, int, str], ...] = tuple(
    (expression_path(name), 0, EXPRESSION_GROUP) for name in EXPRESSION_KEY_NAMES
)
# Value of a channel with no F-curve: identity rotation, zero translation / expression.
_ARMATURE_DEFAULTS = np.array([1.0, 0.0, 0.0, 0.0] * NUM_JOINTS + [0.0, 0.0, 0.0])

# Keyframe attributes saved and restored by `replace_range`: name -> (dtype, width).
_KEY_ATTRS: dict[str, tuple[type, int]] = {
    "co": (np.float32, 2),
    "handle_left": (np.float32, 2),
    "handle_right": (np.float32, 2),
    "interpolation": (np.int32, 1),
    "handle_left_type": (np.int32, 1),
    "handle_right_type": (np.int32, 1),
    "type": (np.int32, 1),
    "easing": (np.int32, 1),
    "back": (np.float32, 1),
    "amplitude": (np.float32, 1),
    "period": (np.float32, 1),
    "select_control_point": (np.bool_, 1),
    "select_left_handle": (np.bool_, 1),
    "select_right_handle": (np.bool_, 1),
}


# ------------------------------------------------------------------------------ preparing
def _prepare(
    poses: Any,
    trans: Any,
    expressions: Any,
    src_fps: float,
    scene_fps: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Validate and resample to the scene rate: (M, 55, 4) quats, (M, 3), (M, 100) | None."""
    pose = as_poses(poses)
    n = pose.shape[0]
    if n == 0:
        raise ValueError("the motion has no frames.")
    tr = np.asarray(trans, dtype=np.float64)
    if tr.shape != (n, 3):
        raise ValueError(f"trans must be ({n}, 3) to match poses, got {tr.shape}.")
    exp = None
    if expressions is not None:
        raw = np.asarray(expressions, dtype=np.float64)
        if raw.ndim != 2 or raw.shape[0] != n:
            raise ValueError(f"expressions must be ({n}, K), got {raw.shape}.")
        exp = np.zeros((n, NUM_EXPRESSIONS))
        k = min(NUM_EXPRESSIONS, raw.shape[1])
        exp[:, :k] = raw[:, :k]
    q = axis_angle_to_quaternion(pose)
    if float(src_fps) != float(scene_fps):
        q = resample_quaternions(q, src_fps, scene_fps)
        tr = resample_linear(tr, src_fps, scene_fps)
        exp = None if exp is None else resample_linear(exp, src_fps, scene_fps)
    else:
        for name, fps in (("src_fps", src_fps), ("scene_fps", scene_fps)):
            if not (math.isfinite(fps) and fps > 0):
                raise ValueError(f"{name} must be a positive finite number, got {fps!r}.")
    return q, tr, exp


def _armature_rows(q: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """(M, 55, 4) quats + (M, 3) trans -> (223, M) values in ARMATURE_CHANNELS order."""
    m = q.shape[0]
    return np.concatenate([q.transpose(1, 2, 0).reshape(4 * NUM_JOINTS, m), trans.T], axis=0)


Channels = tuple[tuple[str, int, str], ...]


@dataclass(frozen=True)
class Layout:
    """The F-curves a take of one armature has and how SMPL-X arrays map onto them.

    Native SMPL-X armature: ARMATURE_CHANNELS (plus the face). Any other rig: its mapped
    bones' rotation channels in their own rotation modes and the hips' location, through
    `retarget.Retargeter` (no face: other rigs' face controls are not SMPL-X expressions).
    ``groups``: (row slice, rotation mode) of every rotation in ``channels``.
    """

    channels: Channels
    defaults: np.ndarray
    groups: tuple[tuple[slice, str], ...]
    retargeter: Retargeter | None = None
    switches: Channels = ()  # (data path, 0, group) of rig switches keyed once per take
    switch_values: tuple[float, ...] = ()
    joints: tuple[int, ...] = ()  # the SMPL-X joint each channel carries (root location: 0)

    @property
    def face(self) -> bool:
        return self.retargeter is None

    def rows(self, q: np.ndarray, trans: np.ndarray) -> np.ndarray:
        """(M, 55, 4) quaternions + (M, 3) trans -> (C, M) values, continuous along time."""
        if self.retargeter is None:
            return _armature_rows(hemisphere_continuous(q, axis=0), trans)
        return self.retargeter.to_rig(quaternion_to_axis_angle(q), trans)

    def motion(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(C, M) values -> (M, 55, 3) axis-angle and (M, 3) trans."""
        if self.retargeter is None:
            q = rows[: 4 * NUM_JOINTS].reshape(NUM_JOINTS, 4, -1).transpose(2, 0, 1)
            return quaternion_to_axis_angle(q), rows[4 * NUM_JOINTS :].T.copy()
        return self.retargeter.from_rig(rows)

    def locked(self, locks: tuple[str, ...]) -> np.ndarray:
        """(C,) True for the channels of the locked body parts (`LOCKED_JOINTS`)."""
        held = {j for part in locks for j in LOCKED_JOINTS[part]}
        return np.array([j in held for j in self.joints], dtype=bool)

    def join(self, rows: np.ndarray, previous: np.ndarray) -> np.ndarray:
        """Rows re-expressed to continue from `previous` (C,) values (NaN: no key there)."""
        out = np.array(rows, dtype=np.float64)
        for sl, mode in self.groups:
            out[sl] = join_previous(out[sl].T, mode, previous[sl]).T
        return out


NATIVE_LAYOUT = Layout(
    ARMATURE_CHANNELS, _ARMATURE_DEFAULTS,
    tuple((slice(4 * j, 4 * j + 4), "QUATERNION") for j in range(NUM_JOINTS)),
    joints=tuple(j for j in range(NUM_JOINTS) for _ in range(4)) + (0, 0, 0))


def _retarget_layout(ret: Retargeter, switches: tuple[tuple[str, str, float], ...]) -> Layout:
    channels = tuple((c.path, c.index, c.group) for c in ret.channels())
    defaults = [identity_channels(mode) for _, _, mode in ret.groups] + [np.zeros(3)]
    groups = tuple((rows, mode) for _, rows, mode in ret.groups)
    joints = tuple(j for j, rows, _ in ret.groups for _ in range(rows.stop - rows.start))
    return Layout(channels, np.concatenate(defaults), groups, ret,
                  tuple((rig_profiles.switch_path(b, p), 0, b) for b, p, _ in switches),
                  tuple(v for _, _, v in switches), joints + (0, 0, 0))


def layout(obj: Any) -> Layout:
    """The take layout of armature `obj` (see `rig_profiles`); ValueError says what is
    missing when the rig cannot take motion."""
    profile = rig_profiles.profile(obj)
    if profile.retargeter is None:
        return NATIVE_LAYOUT
    return _retarget_layout(profile.retargeter, profile.switches)


# -------------------------------------------------------------------------------- writing
def _write_curves(
    container: Any,
    channels: tuple[tuple[str, int, str], ...],
    frames: np.ndarray,
    values: np.ndarray,
) -> None:
    """New F-curves with one LINEAR key per frame: (C, M) values at (M,) frames."""
    m = len(frames)
    co = np.empty((len(channels), m, 2), dtype=np.float32)
    co[:, :, 0] = frames
    co[:, :, 1] = values
    interpolation = np.full(m, LINEAR, dtype=np.int32)
    for c, (path, index, group) in enumerate(channels):
        fc = compat.new_fcurve(container, path, index, group)
        points = fc.keyframe_points
        points.add(m)
        points.foreach_set("co", co[c].ravel())
        points.foreach_set("interpolation", interpolation)
        fc.update()


def _new_action(name: str, owner_prop: str, owner: str) -> Any:
    import bpy

    action = bpy.data.actions.new(name)
    action.use_fake_user = True  # a take that is not in use must survive saving
    action[owner_prop] = owner
    return action


def write_motion(
    obj: Any,
    poses: Any,
    trans: Any,
    expressions: Any = None,
    src_fps: float = 30.0,
    scene_fps: float = 30.0,
    start_frame: int = 1,
    action_name: str = "RAG-Gesture",
    lay: Layout | None = None,
) -> Any:
    """Write a motion as a NEW take on the armature `obj` and make it active.

    poses (N, 55, 3) or (N, 165) SMPL-X axis-angle, trans (N, 3) metres (SMPL-X frame),
    expressions (N, <=100) or None, sampled at `src_fps`. Keys land at scene frames
    start_frame + k (k / scene_fps seconds). Returns the armature action (Blender may suffix
    `action_name` with .001 when the name is taken); its Key action, if any, is
    ``action["rag_gesture_expression_action"]``. Expressions are skipped when the rig has
    no expression mesh. `lay`: the armature's `layout`, when the caller already has it
    (finding it probes a retargeted rig, see `rig_profiles`).
    """
    lay = lay or layout(obj)
    q, tr, exp = _prepare(poses, trans, expressions, src_fps, scene_fps)
    frames = int(start_frame) + np.arange(q.shape[0], dtype=np.float64)
    values = lay.rows(q, tr)
    owner = rig_id(obj)

    action = _new_action(action_name, TAKE_PROP, owner)
    container = compat.fcurve_container(action, obj, "OBJECT")
    _write_curves(container, lay.channels, frames, values)
    if lay.switches:  # one key: the take plays in FK whatever the rig's switches say
        _write_curves(container, lay.switches, frames[:1],
                      np.array(lay.switch_values, dtype=np.float64)[:, None])

    mesh = expression_mesh(obj) if lay.face else None
    if exp is not None and mesh is not None:
        key = mesh.data.shape_keys
        key_action = _new_action(f"{action.name}_expressions", EXPRESSIONS_OF_PROP, owner)
        key_container = compat.fcurve_container(key_action, key, "KEY")
        _write_curves(key_container, EXPRESSION_CHANNELS, frames, exp.T)
        action[EXPRESSION_ACTION_PROP] = key_action
    _activate(obj, action)
    return action


# -------------------------------------------------------------------------------- takes
def keep_previous(id_data: Any, new: Any) -> None:
    """Before `new` replaces the active action of `id_data`: stash the old one in the NLA
    when nothing else uses it (Blender's Action Editor rule), so the animator's own action
    survives saving and stays one click away (`earlier_actions`)."""
    ad = getattr(id_data, "animation_data", None)
    old = ad.action if ad is not None else None
    if old is None or old == new or old.users > 1 or old in compat.stashed_actions(id_data):
        return  # a fake user, an NLA strip or another datablock keeps it
    compat.stash_action(id_data, old)


def _stashed(id_data: Any) -> list[Any]:
    """The animator's actions (no takes) in the stash tracks of `id_data`, newest last."""
    return [a for a in compat.stashed_actions(id_data)
            if a.get(TAKE_PROP) is None and a.get(EXPRESSIONS_OF_PROP) is None]


def _activate(obj: Any, action: Any) -> None:
    """Assign a take's actions: armature (+ slot) and its Key action. For an earlier action
    of the animator's (`earlier_actions`) the face gets the Key's own stashed action back.
    An action being replaced is kept (`keep_previous`)."""
    keep_previous(obj, action)
    compat.assign_action(obj, action)
    mesh = expression_mesh(obj)
    if mesh is None:
        return
    key = mesh.data.shape_keys
    current = key.animation_data.action if key.animation_data is not None else None
    face = action.get(EXPRESSION_ACTION_PROP)
    if face is None and action.get(TAKE_PROP) is None:
        own = _stashed(key)
        face = own[-1] if own else None
    if face is not None:
        if face != current:
            keep_previous(key, face)
            compat.assign_action(key, face)
    elif current is not None and current.get(EXPRESSIONS_OF_PROP) is not None:
        compat.assign_action(key, None)  # another take's face must not stay on this take


def natural_key(name: str) -> list:
    """Sort key that orders numbers by value: "take 2" before "take 10"."""
    return [int(t) if t.isdigit() else t.casefold() for t in re.split(r"(\d+)", name)]


def list_takes(obj: Any) -> list[str]:
    """Names of the armature actions written for `obj` (its takes), in natural order."""
    import bpy

    owner = rig_id(obj, create=False)
    if owner is None:
        return []
    return sorted((a.name for a in bpy.data.actions if a.get(TAKE_PROP) == owner),
                  key=natural_key)


def earlier_actions(obj: Any) -> list[str]:
    """The animator's own actions a take replaced on `obj` (kept in its NLA stash tracks)."""
    return [a.name for a in _stashed(obj)]


def current_take(obj: Any) -> str | None:
    """Name of the active action of `obj` when it is one of its takes, else None."""
    ad = obj.animation_data
    action = ad.action if ad is not None else None
    if action is None or action.get(TAKE_PROP) != rig_id(obj, create=False):
        return None
    return action.name


def use_take(obj: Any, action_name: str) -> Any:
    """Make take `action_name` (see `list_takes`), or an earlier action of the animator's
    (`earlier_actions`), the active motion of `obj`."""
    import bpy

    action = bpy.data.actions.get(action_name)
    ours = action is not None and action.get(TAKE_PROP) == rig_id(obj, create=False)
    if not ours and action_name not in earlier_actions(obj):
        raise ValueError(f"'{obj.name}' has no take named '{action_name}'.")
    _activate(obj, action)
    return action


# -------------------------------------------------------------------------------- reading
def _key_co(fc: Any) -> np.ndarray:
    """(K, 2) float32 (frame, value) of an F-curve's keys."""
    co = np.empty(2 * len(fc.keyframe_points), dtype=np.float32)
    fc.keyframe_points.foreach_get("co", co)
    return co.reshape(-1, 2)


def _sample(fc: Any, frames: np.ndarray, default: float) -> np.ndarray:
    """Curve values at integer frames: the keys themselves when there is exactly one key per
    frame and no modifier (exact and fast), else ``fcurve.evaluate`` per frame."""
    if fc is None or len(fc.keyframe_points) == 0:
        return np.full(len(frames), default)
    co = _key_co(fc)
    if len(co) == len(frames) and len(fc.modifiers) == 0 and np.array_equal(co[:, 0], frames):
        return co[:, 1].astype(np.float64)
    evaluate = fc.evaluate
    return np.fromiter((evaluate(f) for f in frames.tolist()), dtype=np.float64, count=len(frames))


def _curves_by_channel(action: Any, id_data: Any) -> dict[tuple[str, int], Any]:
    return {(fc.data_path, fc.array_index): fc for fc in compat.action_fcurves(action, id_data)}


def _expression_action(obj: Any) -> tuple[Any, Any]:
    """(Key datablock, its active action) of the rig's expression mesh; (None, None) if none."""
    mesh = expression_mesh(obj)
    if mesh is None:
        return None, None
    key = mesh.data.shape_keys
    ad = key.animation_data
    return key, (ad.action if ad is not None else None)


def _key_span(curves: list[Any]) -> tuple[int, int] | None:
    """(first, last) whole frames covering every key of `curves` (None entries skipped).

    Reads only each curve's first and last key: Blender keeps keys sorted by frame (every
    editor and ``fcurve.update()`` sort them), and panels call this on every redraw."""
    ends = [(kp[0].co.x, kp[-1].co.x) for kp in (fc.keyframe_points for fc in curves
                                                 if fc is not None) if len(kp)]
    if not ends:
        return None
    return (math.floor(min(a for a, _ in ends) + 1e-6),
            math.ceil(max(b for _, b in ends) - 1e-6))


_SPANS: dict[int, tuple[tuple[float, ...], tuple[int, int] | None]] = {}


def take_frames(obj: Any) -> tuple[int, int] | None:
    """(first, last) frame of the active take's bone keys: the frames `read_motion` covers
    when the take's curves are all the motion's. None without an action or keys.

    Panels call this on every redraw (the sidebar redraws each frame during playback), so
    the span is kept per action and read again only when the action's own key range
    (``curve_frame_range``, one C call) changes."""
    ad = obj.animation_data
    action = ad.action if ad is not None else None
    if action is None:
        return None
    stamp = (*action.curve_frame_range, float(len(compat.action_fcurves(action, obj))))
    hit = _SPANS.get(action.session_uid)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    span = _key_span([fc for fc in compat.action_fcurves(action, obj)
                      if fc.data_path.startswith("pose.bones")])
    if len(_SPANS) > 256:
        _SPANS.clear()
    _SPANS[action.session_uid] = (stamp, span)
    return span


def read_motion(obj: Any, scene_fps: float, lay: Layout | None = None) -> dict[str, Any]:
    """Read the active take of `obj` back as SMPL-X arrays at the scene rate.

    Covers every integer frame from the first to the last key of the armature action,
    including the animator's edits. Returns dict(poses (M, 55, 3) axis-angle with angles in
    [0, pi], trans (M, 3), expressions (M, 100) or None when the face is not animated,
    fps=scene_fps, start_frame). Channels without an F-curve read as rest / zero. `lay` as
    in `write_motion`.
    """
    lay = lay or layout(obj)
    ad = obj.animation_data
    action = ad.action if ad is not None else None
    if action is None:
        raise ValueError(f"'{obj.name}' has no animation to read.")
    curves = _curves_by_channel(action, obj)
    chosen = [curves.get((path, index)) for path, index, _ in lay.channels]
    span = _key_span(chosen)
    if span is None:
        raise ValueError(f"'{obj.name}': action '{action.name}' has no keys on the bones "
                         "that take the motion.")
    first, last = span
    frames = np.arange(first, last + 1, dtype=np.float64)

    rows = np.stack([_sample(fc, frames, d) for fc, d in zip(chosen, lay.defaults, strict=True)])
    poses, trans = lay.motion(rows)

    expressions = None
    key, key_action = _expression_action(obj) if lay.face else (None, None)
    if key_action is not None:
        kcurves = _curves_by_channel(key_action, key)
        columns = [kcurves.get((path, index)) for path, index, _ in EXPRESSION_CHANNELS]
        expressions = np.stack([_sample(fc, frames, 0.0) for fc in columns], axis=1)
    return {
        "poses": poses,
        "trans": trans,
        "expressions": expressions,
        "fps": float(scene_fps),
        "start_frame": int(first),
    }


# ---------------------------------------------------------------------- range replacement
def _read_keys(points: Any) -> dict[str, np.ndarray]:
    n = len(points)
    out = {}
    for name, (dtype, width) in _KEY_ATTRS.items():
        buf = np.empty(n * width, dtype=dtype)
        points.foreach_get(name, buf)
        out[name] = buf.reshape(n, width) if width > 1 else buf
    return out


def _splice_keys(fc: Any, frames: np.ndarray, values: np.ndarray, lo: int, hi: int) -> None:
    """Replace the keys of `fc` with frame in [lo, hi) by LINEAR keys (frames, values).

    Every other key keeps all its attributes (co, handles, handle types, interpolation,
    easing, key type, selection) exactly; auto handles are then recalculated by Blender as
    usual, which only changes handles next to the range.
    """
    points = fc.keyframe_points
    old = _read_keys(points)
    x = old["co"][:, 0]
    before = np.nonzero(x < lo)[0]
    after = np.nonzero(x >= hi)[0]
    nb, nn = len(before), len(frames)
    total = nb + nn + len(after)
    points.clear()
    points.add(total)
    merged = _read_keys(points)  # the new keys' defaults (user preferences) for every attr
    for name, arr in merged.items():
        arr[:nb] = old[name][before]
        arr[nb + nn :] = old[name][after]
    new_co = np.stack([frames, values], axis=1).astype(np.float32)
    for name in ("co", "handle_left", "handle_right"):
        merged[name][nb : nb + nn] = new_co
    merged["interpolation"][nb : nb + nn] = LINEAR
    for name, arr in merged.items():
        points.foreach_set(name, arr.ravel())
    fc.update()


def _splice_channels(
    container: Any,
    channels: tuple[tuple[str, int, str], ...],
    frames: np.ndarray,
    values: np.ndarray,
    lo: int,
    hi: int,
    skip: np.ndarray | None = None,
) -> None:
    """Splice every channel but those where `skip` is True (locked: never touched)."""
    for c, (path, index, group) in enumerate(channels):
        if skip is not None and skip[c]:
            continue
        fc = compat.find_fcurve(container, path, index)
        if fc is None:
            fc = compat.new_fcurve(container, path, index, group)
        _splice_keys(fc, frames, values[c], lo, hi)


def _values_before(container: Any, channels: Channels, frame: float) -> np.ndarray:
    """(C,) current values at `frame` of the channels (NaN where a channel has no keys)."""
    out = np.full(len(channels), np.nan)
    for c, (path, index, _) in enumerate(channels):
        fc = compat.find_fcurve(container, path, index)
        if fc is not None and len(fc.keyframe_points):
            out[c] = fc.evaluate(frame)
    return out


def replace_range(
    obj: Any,
    poses: Any,
    trans: Any,
    expressions: Any,
    src_fps: float,
    scene_fps: float,
    start_frame: int,
    lo: int,
    hi: int,
    lay: Layout | None = None,
    action: Any = None,
    locks: tuple[str, ...] = (),
) -> Any:
    """Rewrite only the keys with frame in [lo, hi) of take `action` of `obj` (default: the
    active take), leaving the F-curves of the `locks` body parts untouched.

    The new motion is placed like `write_motion` places it (sample k at scene frame
    start_frame + k after resampling) and must cover every frame of [lo, hi); only those
    frames are used. Keys outside the range are left exactly as they are (see
    `_splice_keys`), and so is every curve of a locked part (``Layout.locked``; "face" also
    keeps the expressions). The new quaternions are put on the hemisphere of the key just
    before the range so the join interpolates the short way. Returns the armature action.
    `lay` as in `write_motion`. The take's face action is assigned only when the take is
    the active one (the animator may have switched takes meanwhile).
    """
    lo, hi = int(lo), int(hi)
    if hi <= lo:
        raise ValueError(f"empty frame range [{lo}, {hi}).")
    lay = lay or layout(obj)
    ad = obj.animation_data
    active = ad.action if ad is not None else None
    action = action or active
    if action is None:
        raise ValueError(f"'{obj.name}' has no take to change; generate one first.")
    q, tr, exp = _prepare(poses, trans, expressions, src_fps, scene_fps)
    frames = int(start_frame) + np.arange(q.shape[0], dtype=np.float64)
    sel = (frames >= lo) & (frames < hi)
    if int(sel.sum()) != hi - lo:
        raise ValueError(
            f"the new motion covers frames {int(frames[0])}..{int(frames[-1])}, which does not "
            f"include the whole range {lo}..{hi - 1}."
        )
    frames, q, tr = frames[sel], q[sel], tr[sel]
    container = compat.fcurve_container(action, obj, "OBJECT")
    values = lay.join(lay.rows(q, tr), _values_before(container, lay.channels, lo - 1))
    _splice_channels(container, lay.channels, frames, values, lo, hi, lay.locked(locks))

    mesh = expression_mesh(obj) if lay.face and "face" not in locks else None
    if exp is not None and mesh is not None:
        key = mesh.data.shape_keys
        key_action = action.get(EXPRESSION_ACTION_PROP)
        if key_action is None:
            key_action = _new_action(
                f"{action.name}_expressions", EXPRESSIONS_OF_PROP, rig_id(obj)
            )
            action[EXPRESSION_ACTION_PROP] = key_action
        key_container = compat.fcurve_container(key_action, key, "KEY")
        _splice_channels(key_container, EXPRESSION_CHANNELS, frames, exp[sel].T, lo, hi)
        if action == active:
            keep_previous(key, key_action)
            compat.assign_action(key, key_action)
    return action
