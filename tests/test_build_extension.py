"""scripts/build_extension.py right after scripts/setup.sh: no bpy, so no blender_ext.py; the
manifest is checked with the script's own rules (held to Blender's in
tests/blender/test_package.py) and the zip is written with zipfile."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from tests.support.paths import REPO_ROOT


def test_builds_without_blenders_tool(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "build_extension.py"),
                           "--own-checks", "--output-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "checked against Blender's manifest rules" in proc.stdout
    (zip_path,) = tmp_path.glob("rag_gesture-*.zip")
    with zipfile.ZipFile(zip_path) as zf:
        names = set(zf.namelist())
    assert {"blender_manifest.toml", "__init__.py", "core/paths.py", "shared/protocol/"
            "download.py", "backend_src/backend/downloads.py"} <= names


def test_a_bad_manifest_stops_the_build(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_extension",
                                                  REPO_ROOT / "scripts" / "build_extension.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    problems = mod.manifest_problems({"schema_version": "1.0.0", "id": "x y", "version": "1",
                                      "name": "N", "tagline": "Fine tagline",
                                      "maintainer": "M", "type": "add-on", "license": ["L"],
                                      "blender_version_min": "4.2.0",
                                      "permissions": {"network": "Needs it."}})
    assert problems == [
        "id: 'x y' must be a Python identifier without leading, trailing or double "
        "underscores",
        "version: '1' is not a semantic version",
        "permissions.network: must not end with punctuation"]
