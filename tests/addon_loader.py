"""Import pure-Python modules of ``rag_gesture_addon`` without running its ``__init__``.

The add-on package's ``__init__`` is bpy-free but registering needs Blender; numpy-only modules
(``bone_maps``, ``motion_arrays``, ``rotation_modes``, ``retarget``) are loaded by file path
under a stand-in package so their relative imports resolve and nothing else runs.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

ADDON_DIR = Path(__file__).resolve().parents[1] / "rag_gesture_addon"
PACKAGE = "_rag_gesture_addon_pure"


def load_addon_module(name: str) -> types.ModuleType:
    """The add-on module ``name`` (e.g. "retarget"), imported once per process."""
    if PACKAGE not in sys.modules:
        pkg = types.ModuleType(PACKAGE)
        pkg.__path__ = [str(ADDON_DIR)]
        sys.modules[PACKAGE] = pkg
    full = f"{PACKAGE}.{name}"
    if full in sys.modules:
        return sys.modules[full]
    spec = importlib.util.spec_from_file_location(full, ADDON_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[full] = module
    spec.loader.exec_module(module)
    return module
