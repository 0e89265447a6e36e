"""RAG-Gesture add-on for Blender (stub).

This is a placeholder until the Blender add-on work lands. It registers nothing, so enabling it
is harmless. The real add-on will gather the sound strip, transcript and rig from the scene,
start the torch backend as a separate worker process and write the returned motion as keyframes
(see docs/architecture.md).

Rules for this package: it runs inside Blender's own Python, so it never imports torch (the
backend lives in another process), and this module imports nothing from ``bpy`` at import time,
so it can be imported and tested without Blender.
"""


def register() -> None:
    """Register the add-on's classes with Blender. Nothing to register yet."""


def unregister() -> None:
    """Unregister everything ``register`` registered. Nothing to undo yet."""
