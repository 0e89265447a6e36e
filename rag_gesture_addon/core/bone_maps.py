"""Bone maps: which bone of a target armature drives each SMPL-X joint.

Pure Python (no bpy, no numpy), so it is testable outside Blender. A *mapping* is a dict
``SMPL-X joint name -> target bone name``; a value may also be a tuple of candidate bone names,
the first one present in the rig wins (e.g. Rigify's toe control was renamed between versions).

Presets (``PRESETS``):

* ``"mixamo"``: Mixamo auto-rig bones (``mixamorig:Hips`` ...). Mixamo rigs downloaded several
  times carry a numbered namespace (``mixamorig1:Hips``) and some exporters strip it
  (``Hips``); a preset bone ``ns:Name`` therefore also matches any rig bone whose name after the
  last ``:`` is exactly ``Name`` (case-sensitive) when the exact name is absent.
* ``"rigify"``: the FK controls an animator keys on a rig generated from the standard Rigify
  human metarig: ``torso`` (root: hip translation and whole-body rotation),
  ``spine_fk.001``-``spine_fk.003`` (lower back, chest, upper chest; ``spine_fk`` itself is the
  hip-level FK bone below the pelvis pivot and is left alone), ``neck``, ``head``,
  ``shoulder.L``, ``upper_arm_fk.L``, ``forearm_fk.L``, ``hand_fk.L``, ``thigh_fk.L``,
  ``shin_fk.L``, ``foot_fk.L``, ``toe_fk.L`` (``toe.L`` on older Rigify), ``thumb.01.L`` ...,
  ``f_index.01.L`` ... ``f_pinky.03.L``, ``jaw_master``, and the ``.R`` side.
* ``"unreal"``: the UE mannequin: ``pelvis``, ``spine_01`` ..., ``neck_01``, ``head``,
  ``clavicle_l``, ``upperarm_l``, ``lowerarm_l``, ``hand_l``, ``thigh_l``, ``calf_l``,
  ``foot_l``, ``ball_l``, ``index_01_l`` ..., ``thumb_01_l`` ..., and ``_r``. UE5 has five spine
  bones: spine1/2/3 -> ``spine_01``/``spine_03``/``spine_05`` when ``spine_05`` exists,
  otherwise (UE4, three spine bones) ``spine_01``/``spine_02``/``spine_03``.
* ``"smplx"``: identity; the SMPL-X Blender add-on names its bones after the SMPL-X joints.

API: ``best_preset(bone_names)``, ``detect_preset(bone_names)``,
``resolve_map(preset_or_mapping, bone_names) -> BoneMap``, ``validate_mapping``,
``save_preset(path, mapping)`` / ``load_preset(path)`` (JSON).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..shared.atomic_file import atomic_write
from ..shared.skeleton import JOINT_NAMES, PARENTS

BoneSpec = str | tuple[str, ...]

# Core body joints: a rig missing any of these cannot be retargeted meaningfully.
CORE_JOINTS: tuple[str, ...] = (
    "pelvis", "spine1", "neck", "head",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip

# Fraction of core bones below which detect_preset() reports no match.
DETECT_THRESHOLD = 0.6

_FINGERS = ("index", "middle", "pinky", "ring", "thumb")
_SIDES = (("left", "Left", "L", "l"), ("right", "Right", "R", "r"))
_JOINT_INDEX = {name: i for i, name in enumerate(JOINT_NAMES)}


def _mixamo() -> dict[str, BoneSpec]:
    p = "mixamorig:"
    m: dict[str, BoneSpec] = {
        "pelvis": p + "Hips",
        "spine1": p + "Spine",
        "spine2": p + "Spine1",
        "spine3": p + "Spine2",
        "neck": p + "Neck",
        "head": p + "Head",
    }
    for side, cap, _, _ in _SIDES:
        m[f"{side}_collar"] = f"{p}{cap}Shoulder"
        m[f"{side}_shoulder"] = f"{p}{cap}Arm"
        m[f"{side}_elbow"] = f"{p}{cap}ForeArm"
        m[f"{side}_wrist"] = f"{p}{cap}Hand"
        m[f"{side}_hip"] = f"{p}{cap}UpLeg"
        m[f"{side}_knee"] = f"{p}{cap}Leg"
        m[f"{side}_ankle"] = f"{p}{cap}Foot"
        m[f"{side}_foot"] = f"{p}{cap}ToeBase"
        m[f"{side}_eye_smplhf"] = f"{p}{cap}Eye"
        for finger in _FINGERS:
            for k in (1, 2, 3):
                m[f"{side}_{finger}{k}"] = f"{p}{cap}Hand{finger.capitalize()}{k}"
    return m


def _rigify() -> dict[str, BoneSpec]:
    m: dict[str, BoneSpec] = {
        "pelvis": "torso",
        "spine1": "spine_fk.001",
        "spine2": "spine_fk.002",
        "spine3": "spine_fk.003",
        "neck": "neck",
        "head": "head",
        "jaw": "jaw_master",
    }
    for side, _, s, _ in _SIDES:
        m[f"{side}_collar"] = f"shoulder.{s}"
        m[f"{side}_shoulder"] = f"upper_arm_fk.{s}"
        m[f"{side}_elbow"] = f"forearm_fk.{s}"
        m[f"{side}_wrist"] = f"hand_fk.{s}"
        m[f"{side}_hip"] = f"thigh_fk.{s}"
        m[f"{side}_knee"] = f"shin_fk.{s}"
        m[f"{side}_ankle"] = f"foot_fk.{s}"
        m[f"{side}_foot"] = (f"toe_fk.{s}", f"toe.{s}")
        for finger in _FINGERS:
            stem = "thumb" if finger == "thumb" else f"f_{finger}"
            for k in (1, 2, 3):
                m[f"{side}_{finger}{k}"] = f"{stem}.0{k}.{s}"
    return m


def _unreal() -> dict[str, BoneSpec]:
    m: dict[str, BoneSpec] = {
        "pelvis": "pelvis",
        "spine1": "spine_01",
        "spine2": "spine_03",
        "spine3": "spine_05",
        "neck": "neck_01",
        "head": "head",
    }
    for side, _, _, s in _SIDES:
        m[f"{side}_collar"] = f"clavicle_{s}"
        m[f"{side}_shoulder"] = f"upperarm_{s}"
        m[f"{side}_elbow"] = f"lowerarm_{s}"
        m[f"{side}_wrist"] = f"hand_{s}"
        m[f"{side}_hip"] = f"thigh_{s}"
        m[f"{side}_knee"] = f"calf_{s}"
        m[f"{side}_ankle"] = f"foot_{s}"
        m[f"{side}_foot"] = f"ball_{s}"
        for finger in _FINGERS:
            for k in (1, 2, 3):
                m[f"{side}_{finger}{k}"] = f"{finger}_0{k}_{s}"
    return m


# UE4 mannequin (no spine_05): three spine bones.
_UNREAL_UE4_SPINE: dict[str, str] = {
    "spine1": "spine_01",
    "spine2": "spine_02",
    "spine3": "spine_03",
}

PRESETS: dict[str, dict[str, BoneSpec]] = {
    "mixamo": _mixamo(),
    "rigify": _rigify(),
    "unreal": _unreal(),
    "smplx": {name: name for name in JOINT_NAMES},
}
PRESET_NAMES: tuple[str, ...] = tuple(PRESETS)
PRESET_LABELS: dict[str, str] = {
    "mixamo": "Mixamo",
    "rigify": "Rigify (FK controls)",
    "unreal": "Unreal mannequin (UE4/UE5)",
    "smplx": "SMPL-X add-on",
}


# ------------------------------------------------------------------------------ matching
def _candidates(spec: BoneSpec) -> tuple[str, ...]:
    return (spec,) if isinstance(spec, str) else tuple(spec)


class _BoneLookup:
    """Rig bone names with exact and namespace-stripped lookup (``mixamorig1:Hips`` -> Hips)."""

    def __init__(self, bone_names: Iterable[str]):
        self.names: list[str] = list(dict.fromkeys(str(b) for b in bone_names))
        self.exact = set(self.names)
        self.local: dict[str, str] = {}
        for name in self.names:  # first bone with a given local name wins (stable order)
            self.local.setdefault(name.rsplit(":", 1)[-1], name)

    def find(self, spec: BoneSpec) -> str | None:
        cands = _candidates(spec)
        for c in cands:
            if c in self.exact:
                return c
        for c in cands:
            if ":" in c:
                hit = self.local.get(c.rsplit(":", 1)[-1])
                if hit is not None:
                    return hit
        return None


def _preset_for_rig(name: str, lookup: _BoneLookup) -> dict[str, BoneSpec]:
    mapping = dict(PRESETS[name])
    if name == "unreal" and lookup.find("spine_05") is None:
        mapping.update(_UNREAL_UE4_SPINE)
    return mapping


def _match(mapping: Mapping[str, BoneSpec], lookup: _BoneLookup) -> dict[str, str]:
    """joint -> existing bone, in SMPL-X joint order; each rig bone is used at most once."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for joint in JOINT_NAMES:
        spec = mapping.get(joint)
        if spec is None:
            continue
        bone = lookup.find(spec)
        if bone is not None and bone not in used:
            out[joint] = bone
            used.add(bone)
    return out


# ------------------------------------------------------------------------------ public API
@dataclass(frozen=True)
class BoneMap:
    """A mapping resolved against one rig.

    ``mapped``: SMPL-X joint -> bone, only bones that exist in the rig, in SMPL-X joint order.
    ``missing_core``: core joints (``CORE_JOINTS``) without a bone.
    """

    preset: str | None
    mapped: dict[str, str]
    missing_core: tuple[str, ...]
    unmapped: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.missing_core

    def problem(self) -> str | None:
        """One sentence naming the missing core bones, or None when every core joint is mapped."""
        if not self.missing_core:
            return None
        what = f"the {self.preset} preset" if self.preset else "the bone map"
        return (
            f"The armature has no bone for {len(self.missing_core)} of {len(CORE_JOINTS)} core "
            f"SMPL-X joints under {what}: {', '.join(self.missing_core)}; pick another preset "
            "or map these joints by hand."
        )

    def fold_joint(self, joint: str) -> str | None:
        """Nearest mapped SMPL-X ancestor of an unmapped joint (None if mapped or no ancestor)."""
        idx = _joint_index(joint)
        if joint in self.mapped:
            return None
        parent = PARENTS[idx]
        while parent >= 0:
            name = JOINT_NAMES[parent]
            if name in self.mapped:
                return name
            parent = PARENTS[parent]
        return None

    def fold_target(self, joint: str) -> str | None:
        """Bone of the nearest mapped ancestor of an unmapped joint, its rotation's fold target.

        E.g. eyes -> the head bone, an unmapped spine2 -> spine1's bone, an unmapped finger
        segment -> the last mapped segment of that finger or the hand. None when ``joint`` is
        mapped itself or has no mapped ancestor.
        """
        anc = self.fold_joint(joint)
        return None if anc is None else self.mapped[anc]

    def fold_chain(self, joint: str) -> tuple[str, ...]:
        """For a mapped joint: the unmapped SMPL-X joints between it and its mapped ancestor.

        Root-to-leaf order. Their local rotations, left-multiplied in this order onto the joint's
        own (``R_u1 @ ... @ R_uk @ R_joint``), keep the joint's world orientation exact when the
        intermediate bones are absent. Empty for unmapped joints.
        """
        idx = _joint_index(joint)
        if joint not in self.mapped:
            return ()
        chain: list[str] = []
        parent = PARENTS[idx]
        while parent >= 0 and JOINT_NAMES[parent] not in self.mapped:
            chain.append(JOINT_NAMES[parent])
            parent = PARENTS[parent]
        return tuple(reversed(chain))


def _joint_index(joint: str) -> int:
    try:
        return _JOINT_INDEX[joint]
    except KeyError:
        raise ValueError(f"unknown SMPL-X joint name: {joint!r}") from None


def validate_mapping(mapping: Mapping[str, object]) -> dict[str, BoneSpec]:
    """Check a user mapping; return it normalised (lists -> tuples, SMPL-X joint order).

    Raises ValueError naming unknown joints, non-string / empty bone names, or bones used by
    more than one joint.
    """
    if not isinstance(mapping, Mapping):
        raise ValueError(f"a bone map must be a mapping of joint -> bone, got {type(mapping)}")
    unknown = sorted(str(k) for k in mapping if k not in _JOINT_INDEX)
    if unknown:
        raise ValueError(f"unknown SMPL-X joint name(s) in bone map: {', '.join(unknown)}")
    out: dict[str, BoneSpec] = {}
    owner: dict[str, str] = {}
    for joint in JOINT_NAMES:
        if joint not in mapping:
            continue
        value = mapping[joint]
        cands = (value,) if isinstance(value, str) else value
        if not isinstance(cands, list | tuple) or not cands:
            raise ValueError(f"bone for joint {joint!r} must be a name or a list of names")
        if not all(isinstance(c, str) and c for c in cands):
            raise ValueError(f"bone for joint {joint!r} must be non-empty string(s): {value!r}")
        for c in cands:
            if c in owner and owner[c] != joint:
                raise ValueError(f"bone {c!r} is mapped to both {owner[c]!r} and {joint!r}")
            owner[c] = joint
        out[joint] = cands[0] if len(cands) == 1 else tuple(cands)
    return out


def _core_fraction(mapped: Mapping[str, str]) -> float:
    return sum(1 for j in CORE_JOINTS if j in mapped) / len(CORE_JOINTS)


def best_preset(bone_names: Iterable[str]) -> tuple[str, float]:
    """The preset that maps the most core bones of a rig (ties: more bones overall) and that
    fraction of core bones, however low."""
    lookup = _BoneLookup(bone_names)
    best: tuple[float, int] = (-1.0, -1)
    best_name = PRESET_NAMES[0]
    for name in PRESET_NAMES:
        mapped = _match(_preset_for_rig(name, lookup), lookup)
        key = (_core_fraction(mapped), len(mapped))
        if key > best:
            best, best_name = key, name
    return best_name, max(best[0], 0.0)


def detect_preset(bone_names: Iterable[str]) -> tuple[str | None, float]:
    """`best_preset`, with the name None when the fraction is below ``DETECT_THRESHOLD``."""
    name, fraction = best_preset(bone_names)
    return (name if fraction >= DETECT_THRESHOLD else None), fraction


def resolve_map(
    preset_or_mapping: str | Mapping[str, object], bone_names: Iterable[str]
) -> BoneMap:
    """Resolve a preset name (``PRESET_NAMES``) or a user mapping against a rig's bone names."""
    lookup = _BoneLookup(bone_names)
    if isinstance(preset_or_mapping, str):
        if preset_or_mapping not in PRESETS:
            raise ValueError(
                f"unknown bone-map preset {preset_or_mapping!r}; "
                f"expected one of {', '.join(PRESET_NAMES)}"
            )
        preset: str | None = preset_or_mapping
        mapping = _preset_for_rig(preset_or_mapping, lookup)
    else:
        preset = None
        mapping = validate_mapping(preset_or_mapping)
    mapped = _match(mapping, lookup)
    return BoneMap(
        preset=preset,
        mapped=mapped,
        missing_core=tuple(j for j in CORE_JOINTS if j not in mapped),
        unmapped=tuple(j for j in JOINT_NAMES if j not in mapped),
    )


# ------------------------------------------------------------------------------ JSON presets
PRESET_FORMAT = "rag_gesture_bone_map"
PRESET_VERSION = 1


def save_preset(path: str | os.PathLike[str], mapping: Mapping[str, object]) -> None:
    """Write a user bone map as JSON (validated first; candidate tuples become lists)."""
    clean = validate_mapping(mapping)
    doc = {
        "format": PRESET_FORMAT,
        "version": PRESET_VERSION,
        "bones": {j: (b if isinstance(b, str) else list(b)) for j, b in clean.items()},
    }
    with atomic_write(path, "w", encoding="utf-8") as fh:  # a failure keeps the old preset
        json.dump(doc, fh, indent=2)
        fh.write("\n")


def load_preset(path: str | os.PathLike[str]) -> dict[str, BoneSpec]:
    """Read a bone map saved by ``save_preset`` (a bare ``{joint: bone}`` object also works)."""
    with open(path, encoding="utf-8") as fh:
        try:
            doc = json.load(fh)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{os.fspath(path)}: not valid JSON ({exc})") from None
    if isinstance(doc, dict) and "bones" in doc:
        if doc.get("format", PRESET_FORMAT) != PRESET_FORMAT:
            raise ValueError(f"{os.fspath(path)}: not a bone map (format {doc.get('format')!r})")
        version = doc.get("version", PRESET_VERSION)
        if not isinstance(version, int) or version > PRESET_VERSION:
            raise ValueError(f"{os.fspath(path)}: unsupported bone map version {version!r}")
        doc = doc["bones"]
    if not isinstance(doc, dict):
        raise ValueError(f"{os.fspath(path)}: a bone map must be a JSON object")
    try:
        return validate_mapping(doc)
    except ValueError as exc:
        raise ValueError(f"{os.fspath(path)}: {exc}") from None
