"""Build the installable extension: dist/rag_gesture-<version>.zip.

    python scripts/build_extension.py [--output-dir dist] [--blender-ext PATH] [--no-validate]

The zip root is the add-on package: blender_manifest.toml next to rag_gesture_addon/'s
modules and layer folders (core/, worker/, scene/, ui/), and shared/, a copy of
rag_gesture_shared/ that the add-on imports as its own subpackage (`from ..shared import
skeleton`; in a source checkout rag_gesture_addon/__init__.py binds the repository's folder
under that name instead). The backend's sources go under backend_src/ (backend/,
rag_gesture_shared/, pyproject.toml, README.md) so the add-on's "Set up backend" button can
`pip install` them into a venv. No torch, no wheels: the backend's heavy dependencies are
installed by that button.

The manifest is validated, and the zip built, by `blender_ext.py` (Blender's own extension
tool, shipped inside Blender and inside the PyPI `bpy` wheel at
`bpy/<ver>/scripts/addons_core/bl_pkg/cli/blender_ext.py`). It is found through --blender-ext,
$BLENDER_EXT, the `bpy` module of this interpreter, or the repository's .venv* folders. Without
it (right after scripts/setup.sh, whose .venv has no bpy) the manifest is checked against the
rules of Blender's manifest (`manifest_problems`; tests/blender/test_package.py holds them to
what blender_ext.py accepts and refuses) and the zip is written with zipfile. --own-checks
takes that path even when blender_ext.py is there; --no-validate skips the checks.
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ADDON = REPO / "rag_gesture_addon"
SHARED = REPO / "rag_gesture_shared"
MANIFEST = REPO / "blender_manifest.toml"
BACKEND_DIR = "backend_src"
SHARED_IN_ADDON = "shared"  # rag_gesture_addon/__init__.py: SHARED


def find_blender_ext(explicit: str | None = None) -> Path | None:
    """Blender's blender_ext.py: argument, $BLENDER_EXT, this Python's bpy, the repo venvs."""
    for cand in (explicit, os.environ.get("BLENDER_EXT")):
        if cand:
            return Path(cand) if Path(cand).is_file() else None
    roots = []
    spec = importlib.util.find_spec("bpy")  # locates the wheel without importing Blender
    if spec is not None and spec.submodule_search_locations:
        roots += list(spec.submodule_search_locations)
    for venv in (".venv", ".venv-bpy42", ".venv-bpy45", ".venv-py313"):
        roots += glob.glob(str(REPO / venv / "lib" / "python3*" / "site-packages" / "bpy"))
    for root in roots:
        found = sorted(glob.glob(os.path.join(
            root, "*", "scripts", "addons_core", "bl_pkg", "cli", "blender_ext.py")))
        if found:
            return Path(found[-1])
    return None


def sources(folder: Path) -> list[Path]:
    """The package's .py files, relative to `folder` (no caches)."""
    return sorted(p.relative_to(folder) for p in folder.rglob("*.py")
                  if "__pycache__" not in p.parts)


def layout() -> list[tuple[Path, str]]:
    """(source file, path in the zip) for every file of the extension."""
    files = [(MANIFEST, "blender_manifest.toml")]
    files += [(ADDON / rel, rel.as_posix()) for rel in sources(ADDON)]
    files += [(SHARED / rel, f"{SHARED_IN_ADDON}/{rel.as_posix()}") for rel in sources(SHARED)]
    files += [(REPO / name, name) for name in ("LICENSE", "LICENSE.txt", "COPYING")
              if (REPO / name).is_file()]
    for package in ("backend", SHARED.name):
        files += [(REPO / package / rel, f"{BACKEND_DIR}/{package}/{rel.as_posix()}")
                  for rel in sources(REPO / package)]
    files += [(REPO / name, f"{BACKEND_DIR}/{name}") for name in ("pyproject.toml", "README.md")]
    return files


def stage(dest: Path) -> None:
    """Lay out the extension's files in `dest` (the future zip root)."""
    for src, rel in layout():
        out = dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, out)


def run_tool(tool: Path, *args: str) -> None:
    proc = subprocess.run([sys.executable, str(tool), *args], capture_output=True, text=True)
    out = (proc.stdout + proc.stderr).strip()
    if out:
        print(out)
    if proc.returncode != 0:
        raise SystemExit(f"blender_ext.py {args[0]} failed (exit code {proc.returncode})")


def write_zip(src: Path, out: Path) -> None:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(src.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(src).as_posix())


# The rules of Blender's extension manifest (schema 1.0.0) that blender_ext.py enforces.
MANIFEST_REQUIRED = {"schema_version": str, "id": str, "version": str, "name": str,
                     "tagline": str, "maintainer": str, "type": str, "license": list,
                     "blender_version_min": str}
PERMISSIONS = {"files", "network", "clipboard", "camera", "microphone"}
TERSE_LIMIT = 64  # characters of a tagline or a permission's reason
_VERSION = re.compile(r"\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]*)?")
_BLENDER_VERSION = re.compile(r"\d+\.\d+\.\d+")


def _terse(value: str) -> str | None:
    """A tagline or permission reason: short, one line, no closing punctuation."""
    if not value or value != value.strip() or any(ord(c) < 32 for c in value):
        return "must be non-empty text without surrounding spaces or control characters"
    if len(value) > TERSE_LIMIT:
        return f"must be at most {TERSE_LIMIT} characters, found {len(value)}"
    if not (value[-1].isalnum() or value[-1] in ")]}"):
        return "must not end with punctuation"
    return None


def manifest_problems(manifest: dict) -> list[str]:
    """What Blender's extension tool would refuse in `manifest`, one line each."""
    out = []
    for key, kind in MANIFEST_REQUIRED.items():
        if key not in manifest:
            out.append(f"{key}: missing")
        elif not isinstance(manifest[key], kind):
            out.append(f"{key}: must be a {kind.__name__}")
    if out:
        return out
    if manifest["schema_version"] != "1.0.0":
        out.append("schema_version: must be \"1.0.0\"")
    pid = manifest["id"]
    if not pid.isidentifier() or "__" in pid or pid.startswith("_") or pid.endswith("_"):
        out.append(f"id: {pid!r} must be a Python identifier without leading, trailing or "
                   "double underscores")
    if not _VERSION.fullmatch(manifest["version"]):
        out.append(f"version: {manifest['version']!r} is not a semantic version")
    for key in ("name", "maintainer"):
        if not manifest[key].strip() or manifest[key] != manifest[key].strip():
            out.append(f"{key}: must be non-empty text without surrounding spaces")
    if (why := _terse(manifest["tagline"])) is not None:
        out.append(f"tagline: {why}")
    if manifest["type"] not in ("add-on", "theme"):
        out.append(f"type: must be \"add-on\" or \"theme\", found {manifest['type']!r}")
    if not manifest["license"] or not all(isinstance(x, str) and x for x in
                                          manifest["license"]):
        out.append("license: must be a non-empty list of strings")
    for key in ("blender_version_min", "blender_version_max"):
        if key in manifest and not _BLENDER_VERSION.fullmatch(str(manifest[key])):
            out.append(f"{key}: expected three numbers separated by \".\"")
    perms = manifest.get("permissions", {})
    if not isinstance(perms, dict):
        out.append("permissions: must be a table of reasons")
    else:
        for key, why in perms.items():
            if key not in PERMISSIONS:
                out.append(f"permissions: {key!r} is not one of {sorted(PERMISSIONS)}")
            elif not isinstance(why, str) or (problem := _terse(why)) is not None:
                out.append(f"permissions.{key}: "
                           f"{problem if isinstance(why, str) else 'must be a string'}")
    for key in ("tags", "platforms"):
        if key in manifest and not (isinstance(manifest[key], list) and all(
                isinstance(x, str) and x for x in manifest[key])):
            out.append(f"{key}: must be a list of non-empty strings")
    return out


def build(output_dir: Path, blender_ext: str | None = None, validate: bool = True,
          own_checks: bool = False) -> Path:
    manifest = tomllib.loads(MANIFEST.read_text(encoding="utf-8"))
    out = output_dir / f"{manifest['id']}-{manifest['version']}.zip"
    output_dir.mkdir(parents=True, exist_ok=True)
    tool = None if own_checks else find_blender_ext(blender_ext)
    if tool is None and validate:
        problems = manifest_problems(manifest)
        if problems:
            raise SystemExit("blender_manifest.toml is not valid:\n  " + "\n  ".join(problems))
        print("manifest checked against Blender's manifest rules "
              "(Blender's blender_ext.py not used)")
    with tempfile.TemporaryDirectory(prefix="rag-gesture-ext-") as tmp:
        root = Path(tmp) / manifest["id"]
        root.mkdir()
        stage(root)
        if out.exists():
            out.unlink()
        if tool is not None:
            run_tool(tool, "validate", str(root))
            run_tool(tool, "build", "--source-dir", str(root), "--output-filepath", str(out))
        else:
            write_zip(root, out)
    check(out)
    return out


def check(zip_path: Path) -> None:
    """What must (and must not) be in the zip."""
    with zipfile.ZipFile(zip_path) as zf:
        names = set(zf.namelist())
    needed = {"blender_manifest.toml", "__init__.py", "ui/__init__.py",
              f"{SHARED_IN_ADDON}/__init__.py", f"{BACKEND_DIR}/pyproject.toml",
              f"{BACKEND_DIR}/backend/cli/__init__.py",
              f"{BACKEND_DIR}/{SHARED.name}/__init__.py"}
    missing = needed - names
    if missing:
        raise SystemExit(f"{zip_path} lacks {sorted(missing)}")
    bad = [n for n in names if n.endswith((".pth", ".pt", ".whl")) or "/torch/" in n]
    if bad:
        raise SystemExit(f"{zip_path} must not contain {bad[:5]}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--output-dir", default=str(REPO / "dist"))
    ap.add_argument("--blender-ext", help="path of Blender's blender_ext.py")
    ap.add_argument("--own-checks", action="store_true",
                    help="check the manifest with this script's rules and zip with zipfile, "
                    "even when blender_ext.py is available")
    ap.add_argument("--no-validate", action="store_true",
                    help="without blender_ext.py, write the zip with zipfile, unchecked")
    args = ap.parse_args(argv)
    out = build(Path(args.output_dir), args.blender_ext, validate=not args.no_validate,
                own_checks=args.own_checks)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
