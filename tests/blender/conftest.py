"""Headless Blender test session (PyPI ``bpy`` wheels: 5.0.1 in .venv, 4.2.x in .venv-bpy42,
4.5.x in .venv-bpy45, 5.3.0 in the Python 3.13 venv; see scripts/setup_blender_tests.sh).

Run each Blender version in its own process (bpy can be imported only once per process, and
the parent ``tests/conftest.py`` imports torch, which .venv-bpy42 does not have)::

    .venv/bin/python -m pytest tests/blender --confcutdir=tests/blender
    .venv-bpy42/bin/python -m pytest tests/blender --confcutdir=tests/blender

(``scripts/test.sh`` does both, after ``scripts/setup_blender_tests.sh``.)

What this file sets up, once per pytest process, before anything imports bpy:

* ``HOME`` and ``BLENDER_USER_RESOURCES`` point at a fresh temporary profile folder, so bpy
  never reads or writes the real user profile (removed at the end of the session);
* ``bpy`` is imported here, at conftest import time; test modules may ``import bpy`` at the
  top as well (it is the same module);
* an extension repository (module ``rag_gesture_test``) whose custom directory holds a folder
  ``rag_gesture`` mirroring the add-on: a symlink for every entry of ``rag_gesture_addon/``
  plus ``blender_manifest.toml`` from the repository root. The add-on is enabled as
  ``bl_ext.rag_gesture_test.rag_gesture`` with ``addon_utils.enable`` (so ``__package__`` and
  AddonPreferences behave as in a real install) and disabled again at the end of the session,
  which also exercises ``unregister``.

Fixtures:

* ``bpy_module`` (session): the imported ``bpy``.
* ``addon`` (session): the add-on package module ``bl_ext.rag_gesture_test.rag_gesture``,
  enabled. If enabling failed, the package is still imported (so submodules can be tested)
  and ``addon_enable_error`` holds the reason.
* ``addon_enable_error`` (session): None when the add-on was enabled, else the error text.
* ``addon_module`` (session): ``addon_module("scene.keys")`` imports a submodule of the package.
* ``addon_module_name`` (session): ``"bl_ext.rag_gesture_test.rag_gesture"``.
* ``clean_scene`` (autouse): ``bpy.ops.wm.read_homefile(app_template="")`` before every test
  (the default startup scene: Cube, Camera, Light). Unlike ``read_factory_settings`` it keeps
  the extension repository and the enabled add-on.
* ``repo_root`` (session): the repository root (``pathlib.Path``).
* ``backend_python`` (session): the interpreter that has torch for the backend worker:
  ``$RAG_GESTURE_BACKEND_PYTHON`` if set, else ``<repo>/.venv/bin/python``.
* ``blender_profile`` (session): the temporary profile folder (``HOME``).
* ``blender_version`` (session): ``bpy.app.version`` as a tuple.

Audio: the PyPI 4.2 wheel is built without Audaspace and cannot create sound strips; tests
that need one must branch on ``bpy.app.version`` / ``bpy.app.build_options.audaspace`` and
assert that documented limitation on 4.2 instead of silently skipping.
"""

from __future__ import annotations

import atexit
import importlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ADDON_SOURCE = REPO_ROOT / "rag_gesture_addon"
MANIFEST = REPO_ROOT / "blender_manifest.toml"
EXTENSION_ID = "rag_gesture"
REPO_MODULE = "rag_gesture_test"
ADDON_MODULE = f"bl_ext.{REPO_MODULE}.{EXTENSION_ID}"

if "bpy" in sys.modules:  # pragma: no cover - someone imported bpy before this conftest
    raise RuntimeError("bpy was imported before tests/blender/conftest.py set up the profile.")

# A private Blender profile: must be in place before bpy is imported.
PROFILE = Path(tempfile.mkdtemp(prefix="rag_gesture_bpy_"))
os.environ["HOME"] = str(PROFILE)
os.environ["BLENDER_USER_RESOURCES"] = str(PROFILE / "blender")
atexit.register(shutil.rmtree, PROFILE, ignore_errors=True)

import bpy  # noqa: E402  (after the profile redirection, on purpose)


def _mirror_addon(target_root: Path) -> Path:
    """``<target_root>/rag_gesture``: symlinks to the add-on's entries plus the manifest."""
    ext = target_root / EXTENSION_ID
    ext.mkdir(parents=True)
    entries = [p for p in ADDON_SOURCE.iterdir() if p.name != "__pycache__"] + [MANIFEST]
    for src in entries:
        dst = ext / src.name
        try:
            dst.symlink_to(src, target_is_directory=src.is_dir())
        except OSError:  # pragma: no cover - file systems without symlinks
            if src.is_dir():
                shutil.copytree(src, dst)
            else:
                shutil.copy2(src, dst)
    return ext


def _enable_addon() -> tuple[ModuleType, str | None]:
    """Register the test repository and enable the extension; fall back to a plain import."""
    import addon_utils

    repo_dir = PROFILE / "extension_repo"
    _mirror_addon(repo_dir)
    bpy.context.preferences.extensions.repos.new(
        name="RAG-Gesture tests", module=REPO_MODULE, custom_directory=str(repo_dir), source="USER"
    )
    errors: list[str] = []

    def handle_error(exc: BaseException) -> None:
        errors.append(f"{type(exc).__name__}: {exc}")

    module = addon_utils.enable(ADDON_MODULE, default_set=True, handle_error=handle_error)
    if module is None:
        module = importlib.import_module(ADDON_MODULE)
        return module, "; ".join(errors) or "addon_utils.enable returned None"
    return module, None


_STATE: dict[str, object] = {}


@pytest.fixture(scope="session")
def bpy_module() -> ModuleType:
    return bpy


@pytest.fixture(scope="session")
def blender_version() -> tuple[int, ...]:
    return tuple(bpy.app.version)


@pytest.fixture(scope="session")
def blender_profile() -> Path:
    return PROFILE


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def backend_python() -> Path:
    return Path(os.environ.get("RAG_GESTURE_BACKEND_PYTHON") or REPO_ROOT / ".venv/bin/python")


@pytest.fixture(scope="session")
def addon_module_name() -> str:
    return ADDON_MODULE


@pytest.fixture(scope="session")
def addon() -> Iterator[ModuleType]:
    module, error = _enable_addon()
    _STATE["error"] = error
    yield module
    if error is None:
        import addon_utils

        addon_utils.disable(ADDON_MODULE, default_set=True)


@pytest.fixture(scope="session")
def addon_enable_error(addon: ModuleType) -> str | None:
    return _STATE.get("error")  # type: ignore[return-value]


@pytest.fixture(scope="session")
def addon_module(addon: ModuleType) -> Callable[[str], ModuleType]:
    def load(name: str) -> ModuleType:
        return importlib.import_module(f"{addon.__name__}.{name}")

    return load


# The add-on's modules the tests use most, loaded from the enabled extension.
def _module_fixture(fixture_name: str, module: str) -> Callable:
    def fixture(addon_module) -> ModuleType:
        return addon_module(module)

    fixture.__doc__ = f"The add-on's ``{module}``."
    return pytest.fixture(scope="session", name=fixture_name)(fixture)


keys = _module_fixture("keys", "scene.keys")
rig = _module_fixture("rig", "scene.rig")
compat = _module_fixture("compat", "scene.compat")
axes = _module_fixture("axes", "core.axes")
rot = _module_fixture("rot", "shared.rotations")
kin = _module_fixture("kin", "shared.kinematics")
sk = _module_fixture("sk", "shared.skeleton")  # the SMPL-X joint table as the add-on sees it


@pytest.fixture(scope="session")
def rest(addon_module) -> np.ndarray:
    """The default rest joints (55, 3), SMPL-X frame."""
    return addon_module("shared.rest_skeleton").DEFAULT_REST_JOINTS


@pytest.fixture(autouse=True)
def clean_scene(addon: ModuleType) -> None:
    bpy.ops.wm.read_homefile(app_template="")
