"""The Rig panel's bone table: fill from a preset, edit a row, save as a preset, reuse it,
clear it; broken preset files are ignored; the panel and its list draw for every kind of rig.

Armatures are built procedurally: a Mixamo-named one (no middle/ring/pinky fingers, no eyes)
and one whose bone names match no preset."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import bpy
import pytest

from tests.support.recording_layout import RecordingLayout

# (bone, parent) of a Mixamo auto-rig without middle/ring/pinky fingers and eyes
_MIXAMO_BONES: list[tuple[str, str | None]] = [
    ("Hips", None), ("Spine", "Hips"), ("Spine1", "Spine"), ("Spine2", "Spine1"),
    ("Neck", "Spine2"), ("Head", "Neck"), ("HeadTop_End", "Head"),
]
for _side in ("Left", "Right"):
    _MIXAMO_BONES += [
        (f"{_side}Shoulder", "Spine2"), (f"{_side}Arm", f"{_side}Shoulder"),
        (f"{_side}ForeArm", f"{_side}Arm"), (f"{_side}Hand", f"{_side}ForeArm"),
        (f"{_side}HandThumb1", f"{_side}Hand"), (f"{_side}HandThumb2", f"{_side}HandThumb1"),
        (f"{_side}HandThumb3", f"{_side}HandThumb2"), (f"{_side}HandIndex1", f"{_side}Hand"),
        (f"{_side}HandIndex2", f"{_side}HandIndex1"),
        (f"{_side}HandIndex3", f"{_side}HandIndex2"),
        (f"{_side}UpLeg", "Hips"), (f"{_side}Leg", f"{_side}UpLeg"),
        (f"{_side}Foot", f"{_side}Leg"), (f"{_side}ToeBase", f"{_side}Foot"),
    ]
MIXAMO = [(f"mixamorig:{b}", p and f"mixamorig:{p}") for b, p in _MIXAMO_BONES]
ODD = [("Root", None), ("Body", "Root"), ("Chest", "Body"), ("Skull", "Chest"),
       ("Arm_A", "Chest"), ("Arm_B", "Chest"), ("Leg_A", "Body"), ("Leg_B", "Body")]


def _direction(bone: str) -> tuple[float, float, float]:
    """A standing humanoid: legs point down, arms sideways, everything else up."""
    side = -1.0 if ("Right" in bone or bone.endswith("_B")) else 1.0
    if any(k in bone for k in ("Leg", "Foot", "Toe")):
        return (0.0, 0.0, -0.25)
    if any(k in bone for k in ("Shoulder", "Arm", "Hand")):
        return (0.12 * side, 0.0, 0.0)
    return (0.0, 0.0, 0.15)


def make_armature(name: str, bones: list[tuple[str, str | None]]) -> bpy.types.Object:
    """An armature object with these bones, each starting at its parent's tail (hips at 1 m)."""
    data = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, data)
    bpy.context.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    obj.select_set(True)
    bpy.ops.object.mode_set(mode="EDIT")
    for bone, parent in bones:
        eb = data.edit_bones.new(bone)
        head = data.edit_bones[parent].tail.copy() if parent else (0.0, 0.0, 1.0)
        if parent and any(k in bone for k in ("UpLeg", "Leg_")):  # hips sit apart
            head = (head[0] + (-0.1 if "Right" in bone or bone.endswith("_B") else 0.1),
                    head[1], head[2])
        eb.head = head
        eb.tail = tuple(h + d for h, d in zip(head, _direction(bone), strict=True))
        if parent is not None:
            eb.parent = data.edit_bones[parent]
    bpy.ops.object.mode_set(mode="OBJECT")
    return obj


def rows(obj: bpy.types.Object) -> dict[str, str]:
    return {r.joint: r.bone for r in obj.rag_gesture_bones}


@pytest.fixture
def ops(addon_module):
    return addon_module("ui.bone_table_ops")


@pytest.fixture
def profiles(addon_module):
    return addon_module("scene.rig_profiles")


@pytest.fixture
def bone_maps(addon_module):
    return addon_module("core.bone_maps")


@pytest.fixture(autouse=True)
def empty_preset_dir(ops):
    """Each test starts and ends without saved presets."""
    folder = ops.user_preset_dir(create=False)
    shutil.rmtree(folder, ignore_errors=True)
    yield
    shutil.rmtree(folder, ignore_errors=True)


def test_user_preset_dir_is_the_extension_user_folder(ops, addon, blender_profile):
    folder = ops.user_preset_dir(create=True)
    assert folder.is_dir() and folder.name == "bone_maps"
    assert blender_profile in folder.parents  # inside the test profile, not the real one
    assert ops.user_presets() == {}


def test_poll_needs_an_armature(ops):
    bpy.context.view_layer.objects.active = bpy.data.objects["Cube"]
    bpy.context.scene.rag_gesture.armature = None
    for op in (bpy.ops.rag_gesture.bone_table_fill, bpy.ops.rag_gesture.bone_table_clear,
               bpy.ops.rag_gesture.bone_table_save):
        assert not op.poll()
    make_armature("Rig", MIXAMO)
    assert bpy.ops.rag_gesture.bone_table_fill.poll()


def test_fill_auto_on_mixamo_rig(ops, profiles):
    obj = make_armature("Mixamo", MIXAMO)
    assert profiles.resolve(obj)[1] == "mixamo"  # detected before the table exists
    assert bpy.ops.rag_gesture.bone_table_fill(preset="AUTO") == {"FINISHED"}
    table = rows(obj)
    assert len(obj.rag_gesture_bones) == 55
    assert table["left_elbow"] == "mixamorig:LeftForeArm"
    assert table["pelvis"] == "mixamorig:Hips"
    assert table["right_index3"] == "mixamorig:RightHandIndex3"
    assert table["left_middle1"] == "" and table["jaw"] == ""  # not in this rig
    assert all(bone in obj.data.bones for bone in profiles.table_mapping(obj).values())
    prof = profiles.profile(obj)
    assert (prof.kind, prof.source) == ("retarget", "table")
    level, message = ops.fill_table(obj, "AUTO")
    assert level == "INFO" and "Mixamo" in message and "34 of 55" in message


def test_fill_builtin_preset_resolves_namespaces(ops, profiles):
    renamed = [(b.replace("mixamorig:", "mixamorig7:"), p and p.replace("mixamorig:",
                "mixamorig7:")) for b, p in MIXAMO]
    obj = make_armature("Mixamo7", renamed)
    assert bpy.ops.rag_gesture.bone_table_fill(preset="mixamo") == {"FINISHED"}
    assert rows(obj)["left_elbow"] == "mixamorig7:LeftForeArm"  # a bone that exists
    bpy.ops.rag_gesture.bone_table_fill(preset="rigify")  # a wrong preset: reported, no crash
    assert profiles.table_mapping(obj) == {}


def test_fill_on_unrecognisable_rig_warns_with_missing_core_joints(ops, profiles, capfd):
    obj = make_armature("Odd", ODD)
    with pytest.raises(ValueError, match="matches no bone-map preset"):
        profiles.profile(obj)
    level, message = ops.fill_table(obj, "AUTO")
    assert level == "WARNING"
    assert "core SMPL-X joints" in message and "left_elbow" in message
    assert "pelvis" in message
    assert len(obj.rag_gesture_bones) == 55  # one row per joint, ready to fill by hand
    capfd.readouterr()
    assert bpy.ops.rag_gesture.bone_table_fill(preset="AUTO") == {"FINISHED"}
    out = "".join(capfd.readouterr())
    assert "left_elbow" in out  # the WARNING report is printed in background mode


def test_editing_a_row_changes_the_mapping(profiles):
    obj = make_armature("Mixamo", MIXAMO)
    bpy.ops.rag_gesture.bone_table_fill(preset="AUTO")
    row = next(r for r in obj.rag_gesture_bones if r.joint == "left_middle1")
    row.bone = "mixamorig:LeftHandIndex1"
    next(r for r in obj.rag_gesture_bones if r.joint == "left_index1").bone = ""
    mapping = profiles.table_mapping(obj)
    assert mapping["left_middle1"] == "mixamorig:LeftHandIndex1"
    assert "left_index1" not in mapping
    bone_map, source = profiles.resolve(obj)
    assert source == "table" and bone_map.mapped["left_middle1"] == "mixamorig:LeftHandIndex1"


def test_save_load_and_reuse_a_preset(ops, profiles, bone_maps):
    first = make_armature("First", MIXAMO)
    bpy.ops.rag_gesture.bone_table_fill(preset="AUTO")
    next(r for r in first.rag_gesture_bones if r.joint == "jaw").bone = "mixamorig:HeadTop_End"
    table = profiles.table_mapping(first)
    assert bpy.ops.rag_gesture.bone_table_save(name="My Rig") == {"FINISHED"}
    path = ops.user_preset_dir() / "My Rig.json"
    assert path.is_file()
    assert bone_maps.load_preset(path) == table
    assert ops.user_presets() == {"My Rig": path}
    ids = [item[0] for item in ops._fill_items(None, bpy.context)]
    assert "user:My Rig" in ids and "AUTO" in ids and "mixamo" in ids

    second = make_armature("Second", MIXAMO)  # active now
    bpy.ops.rag_gesture.bone_table_fill(preset="user:My Rig")
    assert profiles.table_mapping(second) == table
    assert rows(second) == rows(first)
    # saving again under the same name replaces the file
    assert bpy.ops.rag_gesture.bone_table_save(name="My Rig") == {"FINISHED"}
    assert list(ops.user_preset_dir().glob("*.json")) == [path]


@pytest.mark.parametrize("name, needle", [("", "Type a name"), ("   ", "Type a name"),
                                          ("a/b", "cannot contain /"),
                                          ("..\\up", "cannot contain \\"),
                                          (".hidden", "cannot start with a dot")])
def test_save_rejects_bad_names(ops, name, needle):
    make_armature("Mixamo", MIXAMO)
    bpy.ops.rag_gesture.bone_table_fill(preset="AUTO")
    with pytest.raises(RuntimeError, match=needle.replace("\\", "\\\\")):
        bpy.ops.rag_gesture.bone_table_save(name=name)
    assert not ops.user_preset_dir().exists() or not any(ops.user_preset_dir().iterdir())


def test_save_refuses_an_empty_or_invalid_table(ops):
    obj = make_armature("Mixamo", MIXAMO)
    with pytest.raises(RuntimeError, match="is empty"):
        bpy.ops.rag_gesture.bone_table_save(name="x")
    bpy.ops.rag_gesture.bone_table_fill(preset="AUTO")
    next(r for r in obj.rag_gesture_bones if r.joint == "jaw").bone = "mixamorig:Head"
    with pytest.raises(RuntimeError, match="mapped to both"):
        bpy.ops.rag_gesture.bone_table_save(name="x")


def test_save_invoke_runs_headless(ops):
    make_armature("Mixamo", MIXAMO)
    bpy.ops.rag_gesture.bone_table_fill(preset="AUTO")
    # background mode runs execute() for INVOKE_DEFAULT: the name given is used
    assert bpy.ops.rag_gesture.bone_table_save("INVOKE_DEFAULT", name="Dialog") == {"FINISHED"}
    assert (ops.user_preset_dir() / "Dialog.json").is_file()


def test_clear_returns_to_detection(profiles):
    obj = make_armature("Mixamo", MIXAMO)
    bpy.ops.rag_gesture.bone_table_fill(preset="AUTO")
    assert profiles.profile(obj).source == "table"
    assert bpy.ops.rag_gesture.bone_table_clear() == {"FINISHED"}
    assert len(obj.rag_gesture_bones) == 0 and profiles.table_mapping(obj) == {}
    assert profiles.profile(obj).source == "mixamo"


def test_broken_preset_files_are_ignored(ops):
    folder = ops.user_preset_dir(create=True)
    (folder / "broken.json").write_text("{not json", encoding="utf-8")
    (folder / "wrong.json").write_text('{"no_such_joint": "Hips"}', encoding="utf-8")
    (folder / "good.json").write_text('{"pelvis": "mixamorig:Hips"}', encoding="utf-8")
    assert list(ops.user_presets()) == ["good"]
    ids = [item[0] for item in ops._fill_items(None, bpy.context)]
    assert "user:good" in ids and "user:broken" not in ids and "user:wrong" not in ids
    obj = make_armature("Mixamo", MIXAMO)
    with pytest.raises(TypeError):  # not an enum item
        bpy.ops.rag_gesture.bone_table_fill(preset="user:broken")
    bpy.ops.rag_gesture.bone_table_fill(preset="user:good")
    assert rows(obj)["pelvis"] == "mixamorig:Hips"
    # a preset that breaks after the menu was built: an error sentence, not a traceback
    (folder / "good.json").write_text("[]", encoding="utf-8")
    assert ops.fill_table(obj, "user:good")[0] == "ERROR"


# ---------------------------------------------------------------------------- drawing


def draw_panel(panels, only=None) -> list:
    """The main panel (where the rig's status shows) and its Rig sub-panel (the table)."""
    log: list = []
    for cls in [only] if only else [panels.RAG_GESTURE_PT_main, panels.RAG_GESTURE_PT_rig]:
        cls.draw(SimpleNamespace(layout=RecordingLayout(log)), bpy.context)
    return log


def labels(log: list) -> str:
    return " ".join(e[1] for e in log if e[0] == "label")


@pytest.fixture
def panels(addon_module):
    return addon_module("ui.panels")


def test_rig_panel_is_registered_under_main(panels):
    assert hasattr(bpy.types, "RAG_GESTURE_PT_rig") and hasattr(bpy.types, "RAG_GESTURE_UL_bones")
    assert panels.RAG_GESTURE_PT_rig.bl_parent_id == "RAG_GESTURE_PT_main"


def test_rig_panel_draws_for_every_kind_of_rig(panels, addon_module):
    bpy.context.view_layer.objects.active = None
    bpy.context.scene.rag_gesture.armature = None
    assert "Select an armature" in labels(draw_panel(panels))

    addon_module("scene.rig").create_smplx_armature(bpy.context, name="SMPLX", body=False,
                                              expressions=False)
    log = draw_panel(panels)
    assert "Native SMPL-X armature" in labels(log)
    # whether the rig was recognised shows in the main panel, not only in the closed Rig one
    assert "Native SMPL-X armature" in labels(draw_panel(panels, panels.RAG_GESTURE_PT_main))
    assert "Native SMPL-X" not in labels(draw_panel(panels, panels.RAG_GESTURE_PT_rig))
    assert ("operator_menu_enum", "rag_gesture.bone_table_fill", "preset") in log
    assert ("operator", "rag_gesture.bone_table_clear") in log

    obj = make_armature("Mixamo", MIXAMO)
    log = draw_panel(panels)
    assert "Retargeted via Mixamo" in labels(draw_panel(panels, panels.RAG_GESTURE_PT_main))
    assert not any(e[0] == "template_list" for e in log)  # empty table: a hint instead
    bpy.ops.rag_gesture.bone_table_fill(preset="AUTO")
    log = draw_panel(panels)
    assert "Retargeted via its bone table" in labels(log)
    assert ("template_list", "RAG_GESTURE_UL_bones", "rag_gesture_bones") in log
    assert ("operator", "rag_gesture.bone_table_save") in log

    make_armature("Odd", ODD)
    log = draw_panel(panels)
    errors = [e for e in log if e[0] == "label" and e[2] == "CANCEL"]  # Blender's error icon
    assert errors and "matches no bone-map preset" in labels(log)
    assert all(len(e[1]) <= 42 for e in log if e[0] == "label")  # wrapped

    bpy.context.scene.rag_gesture.armature = obj  # the scene setting wins over the selection
    assert "Retargeted via its bone table" in labels(draw_panel(panels))
    next(r for r in obj.rag_gesture_bones if r.joint == "jaw").bone = "mixamorig:Head"
    log = draw_panel(panels)  # one bone in two rows: an error sentence, not a traceback
    assert "Bone 'mixamorig:Head' is mapped to both" in labels(log)


def test_bone_list_rows_flag_missing_bones(panels):
    obj = make_armature("Mixamo", MIXAMO)
    bpy.ops.rag_gesture.bone_table_fill(preset="AUTO")
    by_joint = {r.joint: r for r in obj.rag_gesture_bones}
    by_joint["left_wrist"].bone = "mixamorig:NoSuchBone"
    ul = SimpleNamespace(layout_type="DEFAULT")

    def draw_row(joint: str) -> list:
        log: list = []
        panels.RAG_GESTURE_UL_bones.draw_item(ul, bpy.context, RecordingLayout(log), obj,
                                              by_joint[joint], 0, obj,
                                              "rag_gesture_bones_index", 0, 0)
        return log

    assert draw_row("left_elbow") == [("label", "left_elbow", "BONE_DATA"),
                                      ("prop_search", "bone", "bones")]
    assert draw_row("left_wrist")[0] == ("label", "left_wrist", "ERROR")
    assert draw_row("left_middle1")[0] == ("label", "left_middle1", "BLANK1")


def test_bone_list_filters_by_joint_name(panels):
    obj = make_armature("Mixamo", MIXAMO)
    bpy.ops.rag_gesture.bone_table_fill(preset="AUTO")
    bit = bpy.types.UIList.bl_rna.properties["bitflag_filter_item"].default or 1 << 30
    ul = SimpleNamespace(filter_name="elbow", bitflag_filter_item=bit)
    flags, order = panels.RAG_GESTURE_UL_bones.filter_items(ul, bpy.context, obj,
                                                            "rag_gesture_bones")
    shown = [r.joint for r, f in zip(obj.rag_gesture_bones, flags, strict=True) if f & bit]
    assert shown == ["left_elbow", "right_elbow"] and order == []
    ul.filter_name = ""
    assert panels.RAG_GESTURE_UL_bones.filter_items(ul, bpy.context, obj,
                                                    "rag_gesture_bones") == ([], [])
