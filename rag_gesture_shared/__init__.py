"""Facts and plain maths that the backend and the Blender add-on both use, kept once.

Two Pythons import this package: the backend's (with torch), as the top-level package
``rag_gesture_shared``, and Blender's, as the add-on's subpackage ``<add-on>.shared`` (the
extension zip carries a copy under that name; a source checkout binds this folder under it,
see ``rag_gesture_addon/__init__.py``). So, inside this package:

* only the standard library and numpy are imported (never torch, bpy, ``backend`` or the
  add-on), and every import of a sibling module is relative;
* nothing here knows which of the two it runs in.

Modules: ``skeleton`` (SMPL-X joint table, parts), ``rest_skeleton`` (the default rest
pose), ``rotations`` / ``resample`` / ``kinematics`` (numpy maths), ``motion_file`` (the
.npz layout), ``speakers`` (BEAT2), ``requirements`` (the pinned PyTorch) and ``protocol``
(the worker's wire format, one module per message shape).
"""
