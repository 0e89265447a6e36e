"""Operators behind the Rig panel's bone table: fill it, clear it, save it as a preset.

Detection (`bone_maps.detect_preset`) covers stock Mixamo, Rigify and Unreal rigs; the table
(``Object.rag_gesture_bones``, see `rig_profiles`) is how an animator fixes a rig detection
gets wrong or extends a partial match, and a saved table becomes a preset for the next
character. Saved presets are JSON files in the extension's user folder
(``bpy.utils.extension_path_user``), which survives extension updates, unlike the extension's
own folder.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import bpy
from bpy.props import EnumProperty, StringProperty

from ..core import bone_maps
from ..scene import rig_profiles
from ..shared.skeleton import JOINT_NAMES
from .prefs import ADDON_PACKAGE

log = logging.getLogger(__name__)

PRESET_SUBDIR = "bone_maps"
USER_PREFIX = "user:"  # enum identifiers of saved presets (built-in names stay as they are)
AUTO = "AUTO"
_BAD_NAME_CHARS = '/\\:*?"<>|'  # path separators, plus what Windows refuses in file names


# ---------------------------------------------------------------------------- helpers


def active_armature(context: bpy.types.Context) -> bpy.types.Object | None:
    """The armature set in the panel, else the active object (what the panels show)."""
    obj = context.scene.rag_gesture.armature or context.active_object
    return obj if obj is not None and obj.type == "ARMATURE" else None


def user_preset_dir(create: bool = False) -> Path:
    """Folder of the user's saved bone maps (created when `create`).

    As an extension (Blender 4.2+, same call on 4.2-5.0) that is the extension's user
    folder; loaded as a legacy add-on (no ``bl_ext.`` package) it is the user config folder.
    """
    try:
        path = bpy.utils.extension_path_user(ADDON_PACKAGE, path=PRESET_SUBDIR, create=create)
    except ValueError:  # "The package does not name an extension"
        path = bpy.utils.user_resource("CONFIG", path=f"rag_gesture/{PRESET_SUBDIR}",
                                       create=create)
    return Path(path)


_LOGGED: set[tuple[str, float]] = set()  # broken files already logged (path, mtime)


def user_presets() -> dict[str, Path]:
    """Saved presets that load (stem -> file), sorted by name; broken files are skipped."""
    folder = user_preset_dir(create=False)
    if not folder.is_dir():
        return {}
    found: dict[str, Path] = {}
    for path in sorted(folder.glob("*.json"), key=lambda p: p.stem.lower()):
        try:
            bone_maps.load_preset(path)
        except (OSError, ValueError) as exc:
            key = (str(path), _mtime(path))
            if key not in _LOGGED:  # the enum callback runs on every redraw: log once
                _LOGGED.add(key)
                log.warning("Ignoring the bone-map preset %s: %s", path, exc)
            continue
        found[path.stem] = path
    return found


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def preset_name_error(name: str) -> str | None:
    """Why `name` cannot be a preset file name (one sentence), or None when it can."""
    if not name.strip():
        return "Type a name for the preset."
    bad = sorted({c for c in name if c in _BAD_NAME_CHARS})
    if bad:
        return f"A preset name cannot contain {' '.join(bad)}; pick a plain name."
    if name.strip().startswith("."):
        return "A preset name cannot start with a dot."
    return None


def fill_table(obj: Any, choice: str) -> tuple[str, str]:
    """Fill `obj`'s table from `choice` (AUTO, a built-in preset or ``user:<stem>``).

    Only bones that exist in the rig land in the table (candidate lists and Mixamo
    namespaces are resolved here). Returns the report (level, sentence).
    """
    names = [b.name for b in obj.data.bones]
    if choice == AUTO:
        source, fraction = bone_maps.best_preset(names)
        preset = source if fraction >= bone_maps.DETECT_THRESHOLD else None
        bone_map = bone_maps.resolve_map(source, names)
        what = (f"the detected {bone_maps.PRESET_LABELS[source]} preset" if preset else
                f"the closest preset, {bone_maps.PRESET_LABELS[source]} ({fraction:.0%} of the "
                "core bones)")
    elif choice.startswith(USER_PREFIX):
        stem = choice[len(USER_PREFIX):]
        path = user_presets().get(stem)
        if path is None:
            return "ERROR", f"The saved preset '{stem}' is gone or no longer loads."
        bone_map = bone_maps.resolve_map(bone_maps.load_preset(path), names)
        what = f"the saved preset '{stem}'"
    else:
        bone_map = bone_maps.resolve_map(choice, names)
        what = f"the {bone_maps.PRESET_LABELS.get(choice, choice)} preset"
    rig_profiles.set_table(obj, bone_map.mapped)
    obj.rag_gesture_bones_index = 0
    message = (f"Filled the bone table of '{obj.name}' from {what}: "
               f"{len(bone_map.mapped)} of {len(JOINT_NAMES)} SMPL-X joints have a bone.")
    problem = bone_map.problem()
    return ("WARNING", f"{message} {problem}") if problem else ("INFO", message)


# ---------------------------------------------------------------------------- operators

_FILL_ITEMS: list[tuple[str, str, str]] = []  # Blender keeps pointers into the items' strings


def _fill_items(_self: Any, _context: Any) -> list[tuple[str, str, str]]:
    global _FILL_ITEMS
    items = [(AUTO, "Detect from Bone Names",
              "The built-in preset that matches the most bones of this armature")]
    items += [(name, bone_maps.PRESET_LABELS.get(name, name), f"Built-in bone map: "
               f"{bone_maps.PRESET_LABELS.get(name, name)}") for name in bone_maps.PRESET_NAMES]
    items += [(USER_PREFIX + stem, stem, f"Saved bone map {path}")
              for stem, path in user_presets().items()]
    _FILL_ITEMS = items
    return _FILL_ITEMS


class _TableOperator:
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if active_armature(context) is None:
            cls.poll_message_set("Select an armature, or set one in the Gesture panel.")
            return False
        return True


class RAG_GESTURE_OT_bone_table_fill(_TableOperator, bpy.types.Operator):
    """Fill the armature's bone table from a preset (one row per SMPL-X joint), to fix or
    extend it by hand"""

    bl_idname = "rag_gesture.bone_table_fill"
    bl_label = "Fill Bone Table"
    bl_property = "preset"

    preset: EnumProperty(name="Preset", items=_fill_items,
                         description="Bone map to start from")

    def execute(self, context: bpy.types.Context) -> set[str]:
        obj = active_armature(context)
        level, message = fill_table(obj, self.preset)
        self.report({level}, message)
        return {"CANCELLED"} if level == "ERROR" else {"FINISHED"}


class RAG_GESTURE_OT_bone_table_clear(_TableOperator, bpy.types.Operator):
    """Empty the armature's bone table: its preset is detected from the bone names again"""

    bl_idname = "rag_gesture.bone_table_clear"
    bl_label = "Clear Bone Table"

    def execute(self, context: bpy.types.Context) -> set[str]:
        obj = active_armature(context)
        obj.rag_gesture_bones.clear()
        obj.rag_gesture_bones_index = 0
        self.report({"INFO"}, f"Cleared the bone table of '{obj.name}': its preset is "
                    "detected from the bone names again.")
        return {"FINISHED"}


class RAG_GESTURE_OT_bone_table_save(_TableOperator, bpy.types.Operator):
    """Save the armature's bone table as a preset for other characters with the same rig"""

    bl_idname = "rag_gesture.bone_table_save"
    bl_label = "Save as Preset"
    bl_options = {"REGISTER"}  # writes a file, changes nothing in the .blend

    name: StringProperty(name="Name", options={"SKIP_SAVE"},
                         description="Preset name (the file is <name>.json in the add-on's "
                         "user folder; an existing preset of that name is replaced)")

    def invoke(self, context: bpy.types.Context, event: Any) -> set[str]:
        if not self.name:
            self.name = active_armature(context).name
        return context.window_manager.invoke_props_dialog(self)

    def execute(self, context: bpy.types.Context) -> set[str]:
        obj = active_armature(context)
        name = self.name.strip()
        error = preset_name_error(name)
        mapping = rig_profiles.table_mapping(obj)
        if error is None and not mapping:
            error = (f"The bone table of '{obj.name}' is empty: fill it from a preset and "
                     "adjust the rows first.")
        if error is not None:
            self.report({"ERROR"}, error)
            return {"CANCELLED"}
        path = user_preset_dir(create=True) / f"{name}.json"
        existed = path.exists()
        try:
            bone_maps.save_preset(path, mapping)
        except ValueError as exc:  # e.g. one bone in two rows
            self.report({"ERROR"}, f"The bone table cannot be saved: {exc}.")
            return {"CANCELLED"}
        except OSError as exc:
            self.report({"ERROR"}, f"Could not write {path}: {exc.strerror or exc}.")
            return {"CANCELLED"}
        self.report({"INFO"}, f"{'Replaced' if existed else 'Saved'} the bone-map preset "
                    f"'{name}' ({len(mapping)} joints).")
        return {"FINISHED"}


CLASSES = (RAG_GESTURE_OT_bone_table_fill, RAG_GESTURE_OT_bone_table_clear,
           RAG_GESTURE_OT_bone_table_save)

