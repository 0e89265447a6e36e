"""RAG-Gesture for Blender: co-speech body, hand and face motion from a dialogue line.

The add-on reads the sound strip and the words from the timeline, starts the PyTorch backend
as a separate worker process, and writes the motion it returns as keyframes on an armature,
one action per take; a frame range can be regenerated while the rest of the motion,
including hand edits, stays as it is. See docs/architecture.md.

Layers, lowest first (docs/architecture.md has the import rules, tests check them):

* ``shared``: the facts the backend uses too (skeleton, numpy maths, motion file, protocol);
* ``core``: bone maps, retargeting and rotation maths, no bpy;
* ``worker``: the worker process, its requests and the jobs that drive them, no bpy;
* ``scene``: reads and writes Blender data; ``scene.compat`` alone knows Blender versions;
* ``ui``: properties, preferences, operators and panels (the registered classes).

It never imports torch (the backend lives in another process), and this module imports
nothing from bpy at import time, so ``core`` and ``worker`` run and test without Blender.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SHARED = "shared"  # the subpackage name of rag_gesture_shared inside the add-on


def _bind_shared() -> None:
    """Make ``<this package>.shared`` importable.

    The extension zip carries ``shared/`` as an ordinary subpackage (scripts/
    build_extension.py copies it there). A source checkout has no such folder, so the
    repository's ``rag_gesture_shared/`` next to this one is loaded under that name: no
    sys.path entry, no top-level package, no symlink.
    """
    name = f"{__name__}.{SHARED}"
    here = Path(__file__).resolve().parent
    if name in sys.modules or (here / SHARED / "__init__.py").is_file():
        return
    source = here.parent / "rag_gesture_shared"
    spec = importlib.util.spec_from_file_location(
        name, source / "__init__.py", submodule_search_locations=[str(source)])
    if spec is None or spec.loader is None or not (source / "__init__.py").is_file():
        raise ImportError(f"RAG-Gesture: {source} is missing; install the extension zip made by "
                          "scripts/build_extension.py, or run from a full source checkout.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)


_bind_shared()


def register() -> None:
    """Register properties, preferences, operators and panels."""
    from . import ui

    ui.register()


def unregister() -> None:
    """Stop the worker and unregister everything ``register`` registered."""
    from . import ui
    from .worker import client

    ui.unregister()
    client.stop_worker()
    client.remove_scratch()
