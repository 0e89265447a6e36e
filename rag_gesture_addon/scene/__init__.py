"""Reading and writing Blender data: the timeline (``timeline``), a scene's requests
(``requests``), the SMPL-X armature (``rig``), other rigs (``rig_profiles``), keyframes
(``keys``) and takes (``takes``).

``compat`` is the only module that knows differences between Blender versions (4.2 LTS to
5.x); everything else calls it for those.
"""
