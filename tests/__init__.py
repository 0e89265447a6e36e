"""Test suite: mirrors the source folders (shared/, backend/<room>/, addon/<layer>/);
blender/ needs bpy and runs in its own process (scripts/test.sh); helpers are in support/."""
