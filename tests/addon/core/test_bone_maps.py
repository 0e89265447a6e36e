"""rag_gesture_addon/core/bone_maps.py: presets, detection, resolution, folding, JSON presets.

No bpy: the add-on's core layer runs in any Python."""

from __future__ import annotations

import json
import random

import pytest

from rag_gesture_addon.core import bone_maps as bm
from rag_gesture_shared import skeleton as sd

FINGERS = ("Index", "Middle", "Ring", "Pinky", "Thumb")


# ------------------------------------------------------------------- realistic rig bone lists
def mixamo_bones(prefix: str = "mixamorig:") -> list[str]:
    names = ["Hips", "Spine", "Spine1", "Spine2", "Neck", "Head", "HeadTop_End"]
    for side in ("Left", "Right"):
        names += [f"{side}Eye", f"{side}Shoulder", f"{side}Arm", f"{side}ForeArm", f"{side}Hand"]
        names += [f"{side}Hand{f}{k}" for f in FINGERS for k in (1, 2, 3, 4)]
        names += [f"{side}UpLeg", f"{side}Leg", f"{side}Foot", f"{side}ToeBase", f"{side}Toe_End"]
    return [prefix + n for n in names]


def rigify_bones(old_toe: bool = False) -> list[str]:
    names = ["root", "torso", "hips", "chest", "neck", "head", "jaw_master", "MCH-torso.parent"]
    names += ["spine_fk", "spine_fk.001", "spine_fk.002", "spine_fk.003", "tweak_spine"]
    names += [f"{k}-spine{s}" for k in ("ORG", "DEF") for s in ("", ".001", ".002", ".003")]
    for s in ("L", "R"):
        names += [f"shoulder.{s}", f"upper_arm_fk.{s}", f"forearm_fk.{s}", f"hand_fk.{s}"]
        names += [f"upper_arm_ik.{s}", f"hand_ik.{s}", f"upper_arm_parent.{s}"]
        names += [f"thigh_fk.{s}", f"shin_fk.{s}", f"foot_fk.{s}", f"thigh_ik.{s}"]
        names += [f"foot_ik.{s}", f"foot_heel_ik.{s}", f"thigh_parent.{s}"]
        names += [f"toe.{s}"] if old_toe else [f"toe_fk.{s}", f"toe_ik.{s}"]
        names += [f"DEF-upper_arm.{s}", f"DEF-forearm.{s}", f"DEF-hand.{s}", f"ORG-hand.{s}"]
        names += [f"palm.{s}", f"f_index.01.{s}.001", f"thumb.01.{s}.001"]
        for f in ("f_index", "f_middle", "f_ring", "f_pinky", "thumb"):
            names += [f"{f}.0{k}.{s}" for k in (1, 2, 3)]
            names += [f"DEF-{f}.0{k}.{s}" for k in (1, 2, 3)]
    return names


def unreal_bones(ue5: bool = True) -> list[str]:
    spines = 5 if ue5 else 3
    names = ["root", "pelvis"] + [f"spine_0{i}" for i in range(1, spines + 1)]
    names += ["neck_01", "neck_02", "head"] if ue5 else ["neck_01", "head"]
    for s in ("l", "r"):
        names += [f"clavicle_{s}", f"upperarm_{s}", f"upperarm_twist_01_{s}", f"lowerarm_{s}"]
        names += [f"lowerarm_twist_01_{s}", f"hand_{s}"]
        for f in ("index", "middle", "ring", "pinky", "thumb"):
            if ue5 and f != "thumb":
                names.append(f"{f}_metacarpal_{s}")
            names += [f"{f}_0{k}_{s}" for k in (1, 2, 3)]
        names += [f"thigh_{s}", f"thigh_twist_01_{s}", f"calf_{s}", f"calf_twist_01_{s}"]
        names += [f"foot_{s}", f"ball_{s}", f"ik_foot_{s}", f"ik_hand_{s}"]
    return names + ["ik_foot_root", "ik_hand_root", "ik_hand_gun"]


def smplx_bones() -> list[str]:
    return ["root", *sd.JOINT_NAMES]


RIGS = {
    "mixamo": mixamo_bones,
    "rigify": rigify_bones,
    "unreal": unreal_bones,
    "smplx": smplx_bones,
}


# ------------------------------------------------------------------------------- presets
@pytest.mark.parametrize("name", list(bm.PRESETS))
def test_presets_name_only_valid_joints(name):
    preset = bm.PRESETS[name]
    assert set(preset) <= set(sd.JOINT_NAMES)
    assert set(bm.CORE_JOINTS) <= set(preset)
    bm.validate_mapping(preset)  # no unknown joints, no bone used twice
    assert name in bm.PRESET_LABELS


def test_core_joints_are_body_joints():
    assert len(bm.CORE_JOINTS) == len(set(bm.CORE_JOINTS)) >= 15
    assert set(bm.CORE_JOINTS) <= set(sd.JOINT_NAMES[:22])


def test_smplx_preset_is_identity():
    assert bm.PRESETS["smplx"] == {j: j for j in sd.JOINT_NAMES}


def test_preset_bone_names():
    mx, rg, ue = bm.PRESETS["mixamo"], bm.PRESETS["rigify"], bm.PRESETS["unreal"]
    assert mx["pelvis"] == "mixamorig:Hips" and mx["left_shoulder"] == "mixamorig:LeftArm"
    assert mx["right_collar"] == "mixamorig:RightShoulder"
    assert mx["left_thumb3"] == "mixamorig:LeftHandThumb3"
    assert mx["right_foot"] == "mixamorig:RightToeBase"
    assert rg["pelvis"] == "torso" and rg["left_elbow"] == "forearm_fk.L"
    assert rg["right_ring2"] == "f_ring.02.R" and rg["left_thumb1"] == "thumb.01.L"
    assert ue["left_elbow"] == "lowerarm_l" and ue["right_pinky3"] == "pinky_03_r"
    assert ue["left_foot"] == "ball_l"


# ------------------------------------------------------------------------------ detection
@pytest.mark.parametrize("name", list(RIGS))
def test_detect_own_rig(name):
    preset, fraction = bm.detect_preset(RIGS[name]())
    assert preset == name
    assert fraction == 1.0


@pytest.mark.parametrize("name", list(RIGS))
def test_detect_with_bones_removed(name):
    bones = RIGS[name]()
    mapped = bm.resolve_map(name, bones).mapped
    rng = random.Random(name)
    drop = set(rng.sample([mapped[j] for j in bm.CORE_JOINTS], 3))
    preset, fraction = bm.detect_preset([b for b in bones if b not in drop])
    assert preset == name
    assert fraction == pytest.approx(1.0 - 3 / len(bm.CORE_JOINTS))


def test_detect_variants():
    assert bm.detect_preset(unreal_bones(ue5=False)) == ("unreal", 1.0)
    assert bm.detect_preset(rigify_bones(old_toe=True)) == ("rigify", 1.0)
    assert bm.detect_preset(mixamo_bones("mixamorig7:")) == ("mixamo", 1.0)
    assert bm.detect_preset(mixamo_bones("")) == ("mixamo", 1.0)


def test_detect_random_rig_is_none():
    rng = random.Random(0)
    bones = ["Root", "Bone"] + [f"Bone.{i:03d}" for i in range(60)]
    bones += ["".join(rng.choice("abcdefghij") for _ in range(8)) for _ in range(40)]
    preset, fraction = bm.detect_preset(bones)
    assert preset is None
    assert fraction < bm.DETECT_THRESHOLD
    assert bm.detect_preset([]) == (None, 0.0)


def test_detect_too_few_bones_is_none():
    bones = mixamo_bones()
    mapped = bm.resolve_map("mixamo", bones).mapped
    drop = {mapped[j] for j in bm.CORE_JOINTS[:8]}
    preset, fraction = bm.detect_preset([b for b in bones if b not in drop])
    assert preset is None and fraction == pytest.approx(0.5)


# ----------------------------------------------------------------------------- resolution
def test_resolve_full_rigs():
    m = bm.resolve_map("mixamo", mixamo_bones())
    assert m.ok and m.problem() is None and m.preset == "mixamo"
    assert m.mapped["left_eye_smplhf"] == "mixamorig:LeftEye"
    assert "jaw" in m.unmapped and "jaw" not in m.mapped
    assert list(m.mapped) == [j for j in sd.JOINT_NAMES if j in m.mapped]
    assert len(m.mapped) == 54

    assert len(bm.resolve_map("smplx", smplx_bones()).mapped) == 55

    ns = bm.resolve_map("mixamo", mixamo_bones("mixamorig2:"))
    assert ns.mapped["pelvis"] == "mixamorig2:Hips" and ns.ok


def test_resolve_unreal_spines():
    ue5 = bm.resolve_map("unreal", unreal_bones(ue5=True)).mapped
    assert [ue5[j] for j in ("spine1", "spine2", "spine3")] == ["spine_01", "spine_03", "spine_05"]
    ue4 = bm.resolve_map("unreal", unreal_bones(ue5=False)).mapped
    assert [ue4[j] for j in ("spine1", "spine2", "spine3")] == ["spine_01", "spine_02", "spine_03"]


def test_resolve_rigify_toe_candidates():
    new = bm.resolve_map("rigify", rigify_bones()).mapped
    old = bm.resolve_map("rigify", rigify_bones(old_toe=True)).mapped
    assert new["left_foot"] == "toe_fk.L" and old["left_foot"] == "toe.L"
    assert new["pelvis"] == "torso" and new["spine1"] == "spine_fk.001"


def test_missing_core_message_lists_missing_joints():
    bones = [b for b in unreal_bones() if b not in {"lowerarm_l", "calf_r", "neck_01"}]
    m = bm.resolve_map("unreal", bones)
    assert m.missing_core == ("neck", "left_elbow", "right_knee")
    msg = m.problem()
    assert msg is not None and not m.ok
    for joint in m.missing_core:
        assert joint in msg
    assert "3 of 16" in msg and "unreal" in msg
    assert msg.count(".") <= 2  # one sentence (plus at most the trailing full stop)


def test_resolve_unknown_preset_and_bad_mapping():
    with pytest.raises(ValueError, match="unknown bone-map preset"):
        bm.resolve_map("blender_default", [])
    with pytest.raises(ValueError, match="left_hand"):
        bm.resolve_map({"left_hand": "Hand.L"}, ["Hand.L"])


def test_resolve_custom_mapping():
    m = bm.resolve_map({"pelvis": "Hips", "head": ["Head", "head"]}, ["Hips", "head"])
    assert m.preset is None
    assert m.mapped == {"pelvis": "Hips", "head": "head"}
    assert "neck" in m.missing_core and m.problem() is not None


# -------------------------------------------------------------------------------- folding
def test_fold_eyes_to_head():
    bones = [b for b in mixamo_bones() if not b.endswith("Eye")]
    m = bm.resolve_map("mixamo", bones)
    assert m.fold_target("left_eye_smplhf") == "mixamorig:Head"
    assert m.fold_target("right_eye_smplhf") == "mixamorig:Head"
    assert m.fold_target("jaw") == "mixamorig:Head"
    assert m.fold_joint("left_eye_smplhf") == "head"
    assert m.fold_target("head") is None  # mapped: nothing to fold


def test_fold_unmapped_spine2():
    bones = [b for b in mixamo_bones() if b != "mixamorig:Spine1"]
    m = bm.resolve_map("mixamo", bones)
    assert "spine2" not in m.mapped
    assert m.fold_target("spine2") == "mixamorig:Spine"
    assert m.fold_chain("spine3") == ("spine2",)
    assert m.fold_chain("neck") == ()


def test_fold_fingers():
    bones = [b for b in rigify_bones() if b not in {"f_index.03.L", "f_middle.02.L"}]
    m = bm.resolve_map("rigify", bones)
    assert m.fold_target("left_index3") == "f_index.02.L"
    assert m.fold_target("left_middle2") == "f_middle.01.L"
    assert m.fold_chain("left_middle3") == ("left_middle2",)
    finger_stems = ("index", "middle", "ring", "pinky", "thumb")
    no_fingers = [b for b in unreal_bones() if b.split("_")[0] not in finger_stems]
    u = bm.resolve_map("unreal", no_fingers)
    assert u.fold_target("right_thumb3") == "hand_r"
    assert u.fold_target("left_pinky1") == "hand_l"
    assert u.ok


def test_fold_without_mapped_ancestor_and_unknown_joint():
    m = bm.resolve_map({"head": "Head"}, ["Head"])
    assert m.fold_target("pelvis") is None
    assert m.fold_chain("head") == ("pelvis", "spine1", "spine2", "spine3", "neck")
    with pytest.raises(ValueError, match="unknown SMPL-X joint"):
        m.fold_target("tail")


# ------------------------------------------------------------------------------------ JSON
def test_json_round_trip(tmp_path):
    mapping = dict(bm.PRESETS["rigify"])
    path = tmp_path / "my_rig.json"
    bm.save_preset(path, mapping)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["format"] == bm.PRESET_FORMAT and doc["version"] == bm.PRESET_VERSION
    loaded = bm.load_preset(path)
    assert loaded == bm.validate_mapping(mapping)
    assert loaded["left_foot"] == ("toe_fk.L", "toe.L")
    assert bm.resolve_map(loaded, rigify_bones()).mapped == (
        bm.resolve_map("rigify", rigify_bones()).mapped
    )
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps({"pelvis": "Hips"}), encoding="utf-8")
    assert bm.load_preset(bare) == {"pelvis": "Hips"}


def test_saving_a_preset_on_a_full_disk_keeps_the_old_one(tmp_path, monkeypatch):
    from tests.support.faults import disk_full, folder_files

    path = tmp_path / "my_rig.json"
    bm.save_preset(path, dict(bm.PRESETS["rigify"]))
    before = path.read_bytes()
    disk_full(monkeypatch, after=100)
    with pytest.raises(OSError, match="No space"):
        bm.save_preset(path, dict(bm.PRESETS["mixamo"]))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert folder_files(tmp_path) == {"my_rig.json"}


def test_json_invalid_joint_name(tmp_path):
    with pytest.raises(ValueError, match="left_hand"):
        bm.save_preset(tmp_path / "x.json", {"pelvis": "Hips", "left_hand": "Hand.L"})
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"bones": {"spine4": "Spine4"}}), encoding="utf-8")
    with pytest.raises(ValueError, match="spine4"):
        bm.load_preset(bad)


def test_json_invalid_values(tmp_path):
    with pytest.raises(ValueError, match="mapped to both"):
        bm.save_preset(tmp_path / "x.json", {"pelvis": "Hips", "spine1": "Hips"})
    with pytest.raises(ValueError, match="non-empty"):
        bm.validate_mapping({"pelvis": ""})
    with pytest.raises(ValueError):
        bm.validate_mapping({"pelvis": 3})
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        bm.load_preset(broken)
    listy = tmp_path / "list.json"
    listy.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ValueError, match="JSON object"):
        bm.load_preset(listy)
