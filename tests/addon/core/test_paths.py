"""The paths the add-on hands to the worker and to pip, for Windows (ntpath) and macOS/Linux
(posixpath) alike: spaces, non-ASCII user names, drive letters, backslashes, UNC shares, `~`,
Blender's `//`, and pip's reading of a folder argument (checked with the real pip)."""

from __future__ import annotations

import ntpath
import os
import posixpath
import subprocess
import sys
from pathlib import Path

import pytest

from rag_gesture_addon.core import paths
from rag_gesture_addon.worker.setup import pick_base_python, setup_commands

WIN_HOME = "C:\\Users\\José Müller"
MAC_HOME = "/Users/zoë o'neil"


@pytest.mark.parametrize("text, expected", [
    ("C:/Users/José Müller/RAG weights", "C:\\Users\\José Müller\\RAG weights"),
    ("C:\\Users\\José Müller\\RAG weights\\", "C:\\Users\\José Müller\\RAG weights"),
    ("D:\\mixed/slashes\\..\\weights", "D:\\mixed\\weights"),
    ("~\\models\\bert", WIN_HOME + "\\models\\bert"),
    ("~/models", WIN_HOME + "\\models"),
    ("~", WIN_HOME),
    ("//weights", "E:\\Shots\\ep 01\\weights"),
    ("//..\\shared weights", "E:\\Shots\\shared weights"),
    ("weights", "C:\\Program Files\\Blender Foundation\\weights"),
    ("C:weights", "C:\\Program Files\\Blender Foundation\\weights"),  # drive-relative
    ("\\\\studio-nas\\share\\weights", "\\\\studio-nas\\share\\weights"),
    ("  ", ""),
])
def test_windows_paths(text, expected):
    got = paths.resolve_path(text, blend_dir="E:\\Shots\\ep 01", home=WIN_HOME,
                             cwd="C:\\Program Files\\Blender Foundation", pathmod=ntpath)
    assert got == ntpath.normpath(expected) if expected else got == ""


@pytest.mark.parametrize("text, expected", [
    ("/Volumes/Work Drive/weights/", "/Volumes/Work Drive/weights"),
    ("~/Library/RAG Gesture", MAC_HOME + "/Library/RAG Gesture"),
    ("~", MAC_HOME),
    ("//weights", "/Users/zoë o'neil/Shots/ep 01/weights"),
    ("weights", "/Applications/Blender.app/weights"),
    ("/a/./b/../c", "/a/c"),
])
def test_posix_paths(text, expected):
    got = paths.resolve_path(text, blend_dir=MAC_HOME + "/Shots/ep 01", home=MAC_HOME,
                             cwd="/Applications/Blender.app", pathmod=posixpath)
    assert got == expected


def test_an_unsaved_blend_makes_double_slash_relative_to_the_current_folder():
    assert paths.resolve_path("//w", "", "/home/a", "/work", posixpath) == "/work/w"


def test_speech_models_as_hub_ids_or_folders():
    none = lambda _p: False  # noqa: E731
    kw = dict(blend_dir="E:\\Shots", home=WIN_HOME, cwd="C:\\cwd", pathmod=ntpath, is_dir=none)
    assert paths.model_argument("facebook/wav2vec2-base-960h", **kw) == \
        "facebook/wav2vec2-base-960h"
    assert paths.model_argument("bert-base-cased", **kw) == "bert-base-cased"
    assert paths.model_argument("D:/models/bert base", **kw) == "D:\\models\\bert base"
    assert paths.model_argument("~\\models\\bert", **kw) == WIN_HOME + "\\models\\bert"
    assert paths.model_argument("//models/bert", **kw) == "E:\\Shots\\models\\bert"
    # a relative name that is also a folder here is the folder
    local = dict(kw, is_dir=lambda p: p == "C:\\cwd\\bert-base-cased")
    assert paths.model_argument("bert-base-cased", **local) == "C:\\cwd\\bert-base-cased"
    assert paths.model_argument("", **kw) == ""


def test_pip_gets_a_plain_path_or_a_file_url():
    assert paths.pip_source("C:/Users/José Müller/ext/backend_src", ntpath) == \
        "C:\\Users\\José Müller\\ext\\backend_src"
    assert paths.pip_source("C:\\Users\\a[b]\\backend_src", ntpath) == \
        "file:///C:/Users/a%5Bb%5D/backend_src"
    assert paths.pip_source("/home/zoë/ext @ 2/backend_src/", posixpath) == \
        "file:///home/zo%C3%AB/ext%20%40%202/backend_src"
    assert paths.pip_source("/home/zoë/ext 2/backend_src", posixpath) == \
        "/home/zoë/ext 2/backend_src"


def test_venv_interpreter_and_search_path_per_platform():
    assert paths.venv_python("C:\\Users\\José\\backend venv", True, ntpath) == \
        "C:\\Users\\José\\backend venv\\Scripts\\python.exe"
    assert paths.venv_python("/Users/zoë/backend venv", False, posixpath) == \
        "/Users/zoë/backend venv/bin/python"
    assert paths.search_path("C:\\ext\\backend_src", "D:\\lib", ";") == \
        "C:\\ext\\backend_src;D:\\lib"
    assert paths.search_path("/ext/backend_src", None, ":") == "/ext/backend_src"


def test_base_python_is_blenders_own_when_it_is_supported():
    versions = {"/blender/python3.11": (3, 11), "/usr/bin/python3.13": (3, 13),
                "/usr/bin/python3.10": (3, 10), "/shim/python3.12": None}
    probe = versions.get
    assert pick_base_python(["/blender/python3.11", "/usr/bin/python3.13"], probe) == \
        "/blender/python3.11"
    # a Blender whose Python cannot make a venv: the next supported one on the PATH
    assert pick_base_python(["/shim/python3.12", "/usr/bin/python3.10",
                             "/usr/bin/python3.13"], probe) == "/usr/bin/python3.13"
    assert pick_base_python(["/usr/bin/python3.10"], probe) is None


def test_pip_installs_from_a_folder_with_spaces_and_non_ascii_letters(tmp_path):
    """The real pip reads the argument `setup_commands` gives it as that folder."""
    src = tmp_path / "Zoë's extensions @ home" / "backend_src"
    src.mkdir(parents=True)
    (src / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "probe-pkg"\nversion = "1.0"\n', encoding="utf-8")
    cmd = setup_commands(sys.executable, str(tmp_path / "venv"), str(src))[-1]
    arg = cmd[-1]
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps",
                           "--no-build-isolation", "--no-index", "--report", "-", "-q", arg],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PIP_NO_INPUT": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '"probe-pkg"' in proc.stdout or "probe-pkg" in proc.stdout
    assert Path(src).is_dir()
