"""`python bench/NAME.py` from the repository root: rerun as `python -m bench.NAME`.

A bench run as a file has bench/ on sys.path instead of the repository root, so its imports
(`backend`, `tests.support`, `bench.*`) would not resolve; rather than editing sys.path, the
bench runs again as a module with the repository root on PYTHONPATH, in a child process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_as_module(file: str) -> None:
    """Run bench/<file> as `python -m bench.<name>` with the same arguments; exits."""
    path = Path(file).resolve()
    root = str(path.parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    sys.exit(subprocess.call([sys.executable, "-m", f"bench.{path.stem}", *sys.argv[1:]],
                             env=env))
