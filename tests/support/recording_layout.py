"""A stand-in for ``bpy.types.UILayout`` that panels and UI lists can draw into headlessly.

Every call checks what Blender would check (property, operator and list names exist) and is
recorded in ``log`` as a tuple, e.g. ``("label", text, icon)`` or ``("prop", name)``;
sub-layouts (row, column, box, ...) are the layout itself.
"""

from __future__ import annotations

from types import SimpleNamespace

import bpy


class RecordingLayout:
    def __init__(self, log: list) -> None:
        self.log = log
        self.scale_y = 1.0
        self.enabled = True

    def _sub(self, *args, **kwargs) -> RecordingLayout:
        return self

    row = column = box = grid_flow = split = _sub

    def label(self, text: str = "", icon: str = "NONE", **kwargs) -> None:
        self.log.append(("label", text, icon))

    def prop(self, data, name: str, **kwargs) -> None:
        assert name in data.bl_rna.properties, f"{data!r} has no property '{name}'"
        self.log.append(("prop", name))

    def prop_search(self, data, name, search_data, search_name, **kwargs) -> None:
        assert name in data.bl_rna.properties, name
        assert search_name in search_data.bl_rna.properties, search_name
        self.log.append(("prop_search", name, search_name))

    def operator(self, idname: str, **kwargs):
        module, name = idname.split(".")
        assert hasattr(bpy.types, f"{module.upper()}_OT_{name}"), idname
        self.log.append(("operator", idname))
        return SimpleNamespace()

    def operator_menu_enum(self, idname: str, prop: str, **kwargs) -> None:
        module, name = idname.split(".")
        op = getattr(getattr(bpy.ops, module), name)
        assert prop in op.get_rna_type().properties, prop
        self.log.append(("operator_menu_enum", idname, prop))

    def template_list(self, listtype, list_id, data, propname, active_data, active_prop,
                      **kwargs) -> None:
        assert hasattr(bpy.types, listtype), listtype
        assert propname in data.bl_rna.properties and active_prop in active_data.bl_rna.properties
        self.log.append(("template_list", listtype, propname))

    def progress(self, **kwargs) -> None:
        self.log.append(("progress", kwargs.get("text")))

    def separator(self, **kwargs) -> None:
        pass
