"""Packaging: the manifest validates, the built zip has the right files and installs.

The zip is built by scripts/build_extension.py with Blender's own blender_ext.py from the bpy
wheel of this venv, and installed with ``bpy.ops.extensions.package_install_files`` into a
temporary user repository in a fresh process (the add-on under test is already enabled in
this one under the same extension id).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from pathlib import Path

import bpy
import pytest

INSTALL_SCRIPT = textwrap.dedent("""
    import json, os, sys
    import bpy
    zip_path, repo_dir = sys.argv[1], sys.argv[2]
    repo = bpy.context.preferences.extensions.repos.new(
        name="zip test", module="ziptest", custom_directory=repo_dir, source="USER")
    result = bpy.ops.extensions.package_install_files(
        filepath=zip_path, repo=repo.module, enable_on_install=True)
    name = "bl_ext.ziptest.rag_gesture"
    addon = bpy.context.preferences.addons.get(name)
    prefs = addon.preferences if addon is not None else None
    print("RESULT " + json.dumps({
        "result": sorted(result),
        "enabled": addon is not None,
        "operator": hasattr(bpy.types, "RAG_GESTURE_OT_generate"),
        "scene_props": hasattr(bpy.types.Scene, "rag_gesture"),
        "files": sorted(os.listdir(os.path.join(repo_dir, "rag_gesture"))),
        "backend_source": prefs.resolved_backend_source() if prefs else None,
        "setup": prefs.setup_commands() if prefs else None,
        "shared": sys.modules[name + ".shared.skeleton"].__file__,
    }))
""")


def blender_ext() -> Path:
    path = Path(bpy.utils.system_resource("SCRIPTS")) / "addons_core/bl_pkg/cli/blender_ext.py"
    assert path.is_file(), path
    return path


@pytest.fixture(scope="module")
def built_zip(repo_root, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, str(repo_root / "scripts" / "build_extension.py"),
                           "--output-dir", str(out), "--blender-ext", str(blender_ext())],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    zips = list(out.glob("rag_gesture-*.zip"))
    assert len(zips) == 1, proc.stdout
    return zips[0]


def run_ext_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(blender_ext()), *args], capture_output=True,
                          text=True, timeout=60)


def load_build_script(repo_root: Path):
    """scripts/build_extension.py as a module (loaded from its file: scripts/ is no package)."""
    spec = importlib.util.spec_from_file_location("build_extension",
                                                  repo_root / "scripts" / "build_extension.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_manifest_validates(repo_root, tmp_path):
    build_extension = load_build_script(repo_root)
    stage = tmp_path / "rag_gesture"
    stage.mkdir()
    build_extension.stage(stage)
    proc = run_ext_tool("validate", str(stage))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_bad_manifest_is_refused(repo_root, tmp_path):
    text = (repo_root / "blender_manifest.toml").read_text()
    bad = text.replace('tagline = "Co-speech body, hand and face motion from audio and text"',
                       'tagline = "Ends with punctuation."')
    assert bad != text
    (tmp_path / "blender_manifest.toml").write_text(bad)
    (tmp_path / "__init__.py").write_text("")
    assert run_ext_tool("validate", str(tmp_path)).returncode != 0


def test_zip_layout(built_zip):
    proc = run_ext_tool("validate", str(built_zip))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with zipfile.ZipFile(built_zip) as zf:
        names = set(zf.namelist())
    for needed in ("blender_manifest.toml", "__init__.py", "worker/client.py",
                   "ui/operators.py", "scene/keys.py", "scene/compat.py", "core/retarget.py",
                   "shared/__init__.py", "shared/skeleton.py", "shared/protocol/generate.py",
                   "backend_src/pyproject.toml", "backend_src/README.md",
                   "backend_src/backend/cli/__init__.py",
                   "backend_src/backend/worker/server.py",
                   "backend_src/rag_gesture_shared/protocol/generate.py"):
        assert needed in names, needed
    # the add-on's copy of the shared package is the repository's, file for file
    shared = sorted(n[len("shared/"):] for n in names if n.startswith("shared/"))
    in_backend = sorted(n[len("backend_src/rag_gesture_shared/"):] for n in names
                        if n.startswith("backend_src/rag_gesture_shared/"))
    assert shared == in_backend and "protocol/events.py" in shared
    assert not [n for n in names if "torch/" in n or n.endswith((".pth", ".pt", ".whl"))]
    assert not [n for n in names if "__pycache__" in n or n.startswith(("tests/", ".venv"))]


def test_zip_installs_and_enables(built_zip):
    repo_dir = tempfile.mkdtemp(prefix="rag_gesture_zip_repo_")
    home = tempfile.mkdtemp(prefix="rag_gesture_zip_home_")
    env = {**os.environ, "HOME": home, "BLENDER_USER_RESOURCES": os.path.join(home, "b")}
    proc = subprocess.run([sys.executable, "-c", INSTALL_SCRIPT, str(built_zip), repo_dir],
                          capture_output=True, text=True, timeout=120, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    got = json.loads(lines[-1][len("RESULT "):])
    assert got["result"] == ["FINISHED"]
    assert got["enabled"] and got["operator"] and got["scene_props"]
    assert "backend_src" in got["files"] and "blender_manifest.toml" in got["files"]
    expected_src = os.path.join(repo_dir, "rag_gesture", "backend_src")
    assert os.path.realpath(got["backend_source"]) == os.path.realpath(expected_src)
    # "Set up backend": venv, then torch, then the shipped backend sources
    setup = got["setup"]
    assert setup[-2][-1] == "torch==2.13.0" and setup[-2][1:4] == ["-m", "pip", "install"]
    assert os.path.realpath(setup[-1][-1]) == os.path.realpath(expected_src)
    # the installed add-on imports its own copy of the shared package, from the zip
    expected_shared = os.path.join(repo_dir, "rag_gesture", "shared", "skeleton.py")
    assert os.path.realpath(got["shared"]) == os.path.realpath(expected_shared)


# Mutations of the real manifest: (text to replace, replacement). Each one is refused by
# Blender's blender_ext.py; the build script's own checks (used without bpy) must agree.
BAD_MANIFESTS = [
    ('tagline = "Co-speech body, hand and face motion from audio and text"',
     'tagline = "Ends with punctuation."'),
    ('tagline = "Co-speech body, hand and face motion from audio and text"',
     'tagline = "' + "x" * 65 + '"'),
    ('id = "rag_gesture"', 'id = "rag-gesture"'),
    ('id = "rag_gesture"', 'id = "_rag_gesture"'),
    ('id = "rag_gesture"', 'id = "rag__gesture"'),
    ('type = "add-on"', 'type = "addon"'),
    ('blender_version_min = "4.2.0"', 'blender_version_min = "4.2"'),
    ('license = ["SPDX:GPL-3.0-or-later"]', 'license = []'),
    ('version = "0.1.0"', 'version = "one"'),
    ('[permissions]', '[permissions]\ntelepathy = "Reads minds"'),
    ('network = "Install PyTorch with pip and download the model weights"',
     'network = "Install PyTorch with pip."'),
    ('maintainer = "RAG-Gesture for Blender developers"\n', ''),
]


@pytest.mark.parametrize("old, new", BAD_MANIFESTS)
def test_the_build_scripts_own_checks_refuse_what_blender_refuses(repo_root, tmp_path, old,
                                                                  new):
    import tomllib

    build_extension = load_build_script(repo_root)
    text = (repo_root / "blender_manifest.toml").read_text()
    assert build_extension.manifest_problems(tomllib.loads(text)) == []  # as the tool says
    bad = text.replace(old, new)
    assert bad != text
    (tmp_path / "blender_manifest.toml").write_text(bad)
    (tmp_path / "__init__.py").write_text("")
    assert run_ext_tool("validate", str(tmp_path)).returncode != 0, new
    assert build_extension.manifest_problems(tomllib.loads(bad)), new
