"""The PyTorch the backend is built and tested with, pinned, and the Pythons it runs on.

Left open, pip resolves to a multi-GB CUDA build of whatever is newest. pyproject.toml
repeats the pin (it cannot import Python) and tests/shared/test_requirements.py keeps the two
equal; scripts/setup.sh reads it from pyproject.toml. GPU users install a CUDA build of the
same version from PyTorch's index first (the add-on's "PyTorch Index" preference).
"""

from __future__ import annotations

TORCH_REQUIREMENT = "torch==2.13.0"

# Python versions the backend supports: 3.11 (Blender 4.2 LTS .. 5.0) to 3.13 (Blender 5.1+),
# all with wheels of the pinned torch. pyproject.toml's requires-python says the same.
PYTHON_VERSIONS = ((3, 11), (3, 12), (3, 13))
