"""The import rules of docs/architecture.md hold in the code.

The table under "Import rules" is parsed (so the documentation and this test cannot drift
apart) and every import statement of the three packages, at module level or inside a function,
is checked against the row of its module. Relative imports are resolved to full names first.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT

PACKAGES = ("rag_gesture_shared", "backend", "rag_gesture_addon")
TABLE_MARK = "<!-- import-rules:"


@dataclass(frozen=True)
class Rule:
    code: tuple[str, ...]
    allowed: tuple[str, ...]
    excluded: tuple[str, ...]
    third_party: tuple[str, ...]


def _names(cell: str) -> tuple[str, ...]:
    return tuple(re.findall(r"`([^`]+)`", cell))


def read_rules() -> list[Rule]:
    text = (REPO_ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert TABLE_MARK in text, "docs/architecture.md lost its import-rules table"
    lines = text[text.index(TABLE_MARK):].splitlines()[1:]
    rows = []
    for line in lines[2:]:  # header and separator
        if not line.startswith("|"):
            break
        code, allowed, third, *_ = [c.strip() for c in line.strip("|").split("|")]
        inside, _, outside = allowed.partition("except")
        rows.append(Rule(_names(code), _names(inside), _names(outside), _names(third)))
    assert len(rows) >= 10
    return rows


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, full module name) of every import in the file, relative ones resolved."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                full = ".".join(base + ([node.module] if node.module else []))
            else:
                full = node.module or ""
            if node.module is None:  # `from . import a, b`: each name is a module here
                out += [(node.lineno, f"{full}.{a.name}") for a in node.names]
            else:
                out.append((node.lineno, full))
    return out


def covers(prefix: str, name: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def rule_for(module: str, rules: list[Rule]) -> Rule:
    """The row whose code prefix matches `module` most specifically."""
    best, length = None, -1
    for rule in rules:
        for code in rule.code:
            if covers(code, module) and len(code) > length:
                best, length = rule, len(code)
    assert best is not None, f"{module} has no row in the import-rules table"
    return best


def sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (REPO_ROOT / pkg).rglob("*.py")
                  if "__pycache__" not in p.parts)


def violations(rules: list[Rule]) -> list[str]:
    own = PACKAGES + ("rag_gesture_addon.shared",)
    std = set(sys.stdlib_module_names) | {"__future__"}
    found = []
    for path in sources():
        module = module_name(path)
        rule = rule_for(module, rules)
        for line, name in imports(path):
            where = f"{path.relative_to(REPO_ROOT)}:{line} imports {name}"
            if any(covers(p, name) for p in own):
                ok = (any(covers(a, name) for a in rule.allowed)
                      and not any(covers(e, name) for e in rule.excluded))
                if not ok:
                    found.append(f"{where}: {module} may import only {list(rule.allowed)}"
                                 + (f" except {list(rule.excluded)}" if rule.excluded else ""))
            elif name.split(".")[0] not in std and name.split(".")[0] not in rule.third_party:
                found.append(f"{where}: {module} may use only {list(rule.third_party)} "
                             "outside the standard library")
    return found


def test_every_import_follows_the_documented_rules() -> None:
    assert violations(read_rules()) == []


def test_the_rules_can_fail() -> None:
    """Against a deliberately broken table, the same check reports the imports it forbids."""
    rules = read_rules()
    strict = [Rule(r.code, r.allowed, r.excluded, ()) if "rag_gesture_shared" in r.code else
              Rule(r.code, tuple(a for a in r.allowed if a != "rag_gesture_shared"), r.excluded,
                   r.third_party) if "backend.motion" in r.code else r for r in rules]
    found = "\n".join(violations(strict))
    assert "rag_gesture_shared/rotations.py" in found and "numpy" in found
    assert "backend/motion/motion.py" in found and "rag_gesture_shared.motion_file" in found


def test_the_headline_rules() -> None:
    """What docs/architecture.md promises in words, stated directly."""
    rules = read_rules()

    def may(module: str, name: str) -> bool:
        rule = rule_for(module, rules)
        top = name.split(".")[0]
        if top in PACKAGES:
            return (any(covers(a, name) for a in rule.allowed)
                    and not any(covers(e, name) for e in rule.excluded))
        return top in rule.third_party

    for module in ("backend.motion", "backend.worker", "backend.cli", "backend.pipeline"):
        assert not may(module, "bpy") and not may(module, "rag_gesture_addon.ui")
    for module in ("rag_gesture_addon.core", "rag_gesture_addon.worker",
                   "rag_gesture_addon.scene", "rag_gesture_addon.ui"):
        assert not may(module, "torch") and not may(module, "backend.cli")
        assert not may(module, "rag_gesture_shared.skeleton")  # only as `.shared`
    for module in ("rag_gesture_addon.core", "rag_gesture_addon.worker"):
        assert not may(module, "bpy") and not may(module, "mathutils")
    for name in ("torch", "bpy", "backend.motion", "rag_gesture_addon.core", "transformers"):
        assert not may("rag_gesture_shared.protocol", name)
    assert not may("backend.diffusion", "backend.model.denoiser")  # samplers know no network
    assert not may("backend.motion", "backend.pipeline.engine")  # lower never imports higher
    assert not may("backend.pipeline", "backend.worker.server")
    assert not may("rag_gesture_addon.scene", "rag_gesture_addon.ui.operators")


VERSION_SPECIFIC = re.compile(
    r"app\.version|(?<!compat)\.(sequences|sequences_all|strips|strips_all)\b|channelbag"
    r"|\.fcurves\b|\.layers\b|\.slots\b|new_effect")


def test_only_compat_knows_blender_versions() -> None:
    compat = REPO_ROOT / "rag_gesture_addon" / "scene" / "compat.py"
    assert VERSION_SPECIFIC.search(compat.read_text())  # the pattern finds what compat does
    found = [f"{p.relative_to(REPO_ROOT)}:{i}: {line.strip()}"
             for p in sorted((REPO_ROOT / "rag_gesture_addon").rglob("*.py")) if p != compat
             for i, line in enumerate(p.read_text().splitlines(), 1)
             if VERSION_SPECIFIC.search(line.split("#")[0])]
    assert found == []


@pytest.mark.parametrize("package", ["backend", "rag_gesture_shared"])
def test_one_import_style_inside_a_package(package: str) -> None:
    """Inside its own package, code imports relatively (the shared package must, since the
    add-on loads it under another name)."""
    absolute = [f"{p.relative_to(REPO_ROOT)}:{line}" for p in sorted((REPO_ROOT / package)
                .rglob("*.py")) for line, name in _absolute_imports(p) if covers(package, name)]
    assert absolute == []


def _absolute_imports(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
    return out
