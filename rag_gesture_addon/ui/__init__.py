"""What the animator sees: scene properties, preferences, operators and the Gesture panels.

The one place that registers classes with Blender (`bpy.utils.register_classes_factory`),
in dependency order: property groups before the pointers that use them, operators before the
panels that draw their buttons.
"""

from __future__ import annotations

import bpy

from . import bone_table_ops, operators, panels, prefs, props

CLASSES = (*props.CLASSES, *prefs.CLASSES, *operators.CLASSES, *bone_table_ops.CLASSES,
           *panels.REGISTER_ORDER)

_register_classes, _unregister_classes = bpy.utils.register_classes_factory(CLASSES)


def register() -> None:
    _register_classes()
    props.attach()
    panels.attach()


def unregister() -> None:
    operators.stop_jobs()
    panels.detach()
    props.detach()
    _unregister_classes()
