"""Motion layer: the `Motion` container, the model's torch rotations, the reference's
15 -> 30 fps step, foot contacts and joint positions.

The plain SMPL-X facts and numpy maths this layer builds on (joint table, rest skeleton,
slerp resampling, forward kinematics, the .npz layout) live in `rag_gesture_shared`, which
the Blender add-on imports too. Import from the submodules; this package root imports
nothing, so reaching one table never loads torch.
"""
