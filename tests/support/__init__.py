"""Test helpers: synthetic data, tiny models, golden-tensor layout, stand-in rigs.

Modules that need torch or bpy import them themselves; this package imports nothing."""
