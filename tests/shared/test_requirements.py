"""The PyTorch pin has one home (rag_gesture_shared.requirements); pyproject.toml repeats it
for pip and scripts/setup.sh reads it from there."""

from __future__ import annotations

import subprocess
import tomllib

from rag_gesture_shared.requirements import PYTHON_VERSIONS, TORCH_REQUIREMENT
from tests.support.paths import REPO_ROOT


def test_pyproject_pins_the_same_torch() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    torch = [d for d in project["dependencies"] if d.split("=")[0].strip() == "torch"]
    assert torch == [TORCH_REQUIREMENT]


def test_setup_script_reads_the_pin_from_pyproject() -> None:
    out = subprocess.run(["bash", "-c", 'source <(sed -n "/^torch_pin()/,/^}/p" '
                          'scripts/setup.sh) && torch_pin'], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == TORCH_REQUIREMENT


def test_pyproject_supports_exactly_the_listed_pythons() -> None:
    from packaging.specifiers import SpecifierSet

    spec = SpecifierSet(tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
                        ["requires-python"])
    listed = {f"{a}.{b}" for a, b in PYTHON_VERSIONS}
    assert {f"3.{m}" for m in range(8, 16) if f"3.{m}" in spec} == listed
