"""RAG-Gesture backend: motion, model, diffusion and (later) speech/pipeline layers.

This package runs in a Python that has torch; it never imports bpy.
"""

__version__ = "0.1.0"
