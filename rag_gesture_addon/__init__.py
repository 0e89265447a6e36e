"""RAG-Gesture for Blender: co-speech body, hand and face motion from a dialogue line.

The add-on reads the sound strip and the words from the timeline, starts the PyTorch backend
as a separate worker process (``client``), and writes the motion it returns as keyframes on
an SMPL-X armature (``keys``), one action per take; a frame range can be regenerated while
the rest of the motion, including hand edits, stays as it is. See docs/architecture.md.

Rules for this package: it runs inside Blender's own Python, so it never imports torch (the
backend lives in another process), and this module imports nothing from ``bpy`` at import
time, so ``client`` and ``jobs`` can be imported and tested without Blender.
"""

from __future__ import annotations

_MODULES = ("props", "prefs", "operators", "bone_table_ops", "panels")


def _modules() -> list:
    import importlib

    return [importlib.import_module(f".{name}", __package__) for name in _MODULES]


def register() -> None:
    """Register properties, preferences, operators and panels."""
    for module in _modules():
        module.register()


def unregister() -> None:
    """Stop the worker and unregister everything ``register`` registered."""
    from . import client

    for module in reversed(_modules()):
        module.unregister()
    client.stop_worker()
    client.remove_scratch()
