"""Every path the add-on hands to the worker or to pip, made absolute and plain here (the
preferences, the sound and transcript files, the gesture database).

Plain functions of strings (no bpy, no file system unless asked), so the Windows and macOS
cases are tested on any machine: ``pathmod`` is ``ntpath`` or ``posixpath`` in the tests and
``os.path`` otherwise. What they take care of: Blender's ``//`` (relative to the .blend), a
leading ``~`` (the user's home, which the worker's own ``expanduser`` would read from another
environment), relative paths (the worker runs in another folder), forward and back slashes,
drive letters and UNC shares on Windows, and spaces and non-ASCII letters (passed as list
arguments, never through a shell, so they need no quoting).
"""

from __future__ import annotations

import os
import re
from pathlib import PurePosixPath, PureWindowsPath
from types import ModuleType

# A Hugging Face model id ("bert-base-cased", "facebook/wav2vec2-base-960h"), not a path.
_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?")


def resolve_path(text: str, blend_dir: str = "", home: str = "", cwd: str = "",
                 pathmod: ModuleType = os.path) -> str:
    """`text` as an absolute, normalised path ("" stays ""). ``//x`` is relative to the
    .blend's folder (`blend_dir`; the current folder for an unsaved file), ``~`` is `home`,
    anything else relative is relative to `cwd`."""
    text = text.strip()
    if not text:
        return ""
    home = home or os.path.expanduser("~")
    cwd = cwd or os.getcwd()
    if text.startswith("//"):
        text = pathmod.join(blend_dir or cwd, text[2:])
    elif text == "~" or text.startswith(("~/", "~\\")):
        text = pathmod.join(home, text[2:]) if len(text) > 2 else home
    elif not pathmod.isabs(text) or _drive_relative(text, pathmod):
        text = pathmod.join(cwd, text)
    return pathmod.normpath(text)


def _drive_relative(text: str, pathmod: ModuleType) -> bool:
    """Windows ``C:folder`` (relative to the drive's current folder): never meant here."""
    drive, rest = pathmod.splitdrive(text)
    return bool(drive) and drive.endswith(":") and not rest.startswith(("\\", "/"))


def model_argument(text: str, blend_dir: str = "", home: str = "", cwd: str = "",
                   pathmod: ModuleType = os.path, is_dir: object = os.path.isdir) -> str:
    """A speech model given as a Hub id or a local folder: a Hub id stays as it is unless a
    folder of that (relative) name exists; everything else is resolved as a path."""
    text = text.strip()
    if not text:
        return ""
    if _HUB_ID.fullmatch(text):
        local = resolve_path(text, blend_dir, home, cwd, pathmod)
        return local if is_dir(local) else text  # type: ignore[operator]
    return resolve_path(text, blend_dir, home, cwd, pathmod)


def pip_source(path: str, pathmod: ModuleType = os.path) -> str:
    """The argument that makes pip install the folder `path`. pip reads an argument as a
    requirement unless it looks like a path; an absolute path does, but brackets (extras),
    ``@`` (a direct reference), ``#`` or ``;`` (markers) in it would be misread, and such a
    folder is given as a ``file:`` URL instead (non-ASCII letters percent-encoded)."""
    path = pathmod.normpath(path)
    if not any(c in path for c in "[]@#;"):
        return path
    pure = PureWindowsPath(path) if pathmod.sep == "\\" else PurePosixPath(path)
    return pure.as_uri()


def venv_python(venv: str, windows: bool = os.name == "nt",
                pathmod: ModuleType = os.path) -> str:
    """The interpreter inside a venv folder (Scripts\\python.exe on Windows)."""
    if windows:
        return pathmod.join(venv, "Scripts", "python.exe")
    return pathmod.join(venv, "bin", "python")


def search_path(first: str, rest: str | None, pathsep: str = os.pathsep) -> str:
    """A PYTHONPATH with `first` in front of whatever was there (``;`` on Windows)."""
    return first + (pathsep + rest if rest else "")
