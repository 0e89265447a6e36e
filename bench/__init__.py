"""Benchmarks: performance goals, measured (never asserted in unit tests).

Run from the repository root as modules, which import the repository's packages by name::

    python -m bench.denoiser [--threads 2]
    python -m bench.pipeline
    python -m bench.retrieval
    python -m bench.speech
    python -m bench.keyframes          # needs the bpy wheel (.venv)

``python bench/NAME.py`` does the same (it reruns itself as ``python -m bench.NAME``). Each
prints its details, then the headline figure alone on the last line (``speedup 3.1x``,
``seconds 0.21``). Logged results: docs/benchmarks.md.
"""
