"""The add-on's own maths, without bpy: bone maps and presets, retargeting to other rigs,
rotation modes, SMPL-X vs Blender axes, and reading a SMPL-X model file.

Imports only the standard library, numpy, ``..shared`` and itself, so every line runs and
is tested in any Python (tests/addon/core).
"""
