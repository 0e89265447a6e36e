"""Model, guidance and diffusion settings, read from the official mmcv-style config `.py`.

The shipped `basegesture_len150_beat.py` is Python source. Executing a downloaded file would
let it run anything, so it is parsed with `ast` and only a safe subset is evaluated: literals,
`dict(...)`, lists/tuples, names assigned earlier in the file, unary minus and arithmetic on
numbers and strings. Anything else evaluates to `UNKNOWN` and is reported if it is needed.

Arithmetic is bounded so a hostile file cannot hang or exhaust memory either: whole numbers
stay within MAX_INT_BITS (`9**9**9` is UNKNOWN, not a hang), computed strings within
MAX_TEXT characters (`'a' * 10**9`), `%` never formats strings, sequences are never
repeated, and the file itself is at most MAX_CONFIG_BYTES (the official one is ~5 KB).
"""

from __future__ import annotations

import ast
import operator
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A config file is unreadable or lacks a needed value."""


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()

_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
           ast.Pow: operator.pow}
MAX_CONFIG_BYTES = 1_000_000
MAX_INT_BITS = 256
MAX_TEXT = 10_000


def _bounded(op: type[ast.operator], a: Any, b: Any) -> Any:
    """`a op b` for numbers and strings, or UNKNOWN when the work or the result would not
    stay small (see the module docstring)."""
    if isinstance(a, str) or isinstance(b, str):
        if op is ast.Add and isinstance(a, str) and isinstance(b, str):
            ok = len(a) + len(b) <= MAX_TEXT
        elif op is ast.Mult and isinstance(a, str) != isinstance(b, str):
            text, n = (a, b) if isinstance(a, str) else (b, a)
            ok = isinstance(n, int) and len(text) * max(n, 0) <= MAX_TEXT
        else:
            ok = False  # '%' formatting and other string operations are not config values
        if not ok:
            return UNKNOWN
    elif op is ast.Pow and isinstance(a, int) and isinstance(b, int) and abs(a) > 1 \
            and b > MAX_INT_BITS:
        return UNKNOWN  # the exponent alone makes a number too big to compute
    try:
        value = _BINOPS[op](a, b)
    except (TypeError, ZeroDivisionError, OverflowError, ValueError):
        return UNKNOWN
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        return UNKNOWN
    return value if isinstance(value, int | float | str) else UNKNOWN  # not complex


def _eval(node: ast.AST, env: dict[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return env.get(node.id, {"True": True, "False": False, "None": None}.get(node.id,
                                                                                  UNKNOWN))
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_eval(e, env) for e in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            return UNKNOWN
        return {_eval(k, env): _eval(v, env) for k, v in zip(node.keys, node.values,
                                                             strict=True)}
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
        if node.args:
            return UNKNOWN
        return {kw.arg: _eval(kw.value, env) for kw in node.keywords if kw.arg is not None}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _eval(node.operand, env)
        if isinstance(v, (int, float)):
            return -v if isinstance(node.op, ast.USub) else v
        return UNKNOWN
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        a, b = _eval(node.left, env), _eval(node.right, env)
        if isinstance(a, (int, float, str)) and isinstance(b, (int, float, str)):
            return _bounded(type(node.op), a, b)
    return UNKNOWN


def _assign_path(target: ast.AST, env: dict[str, Any]) -> tuple[dict, Any] | None:
    """(container, key) for `NAME[k1][k2]... = value` with constant keys into dicts built
    earlier; None for any other target."""
    keys = []
    node = target
    while isinstance(node, ast.Subscript):
        if not isinstance(node.slice, ast.Constant):
            return None
        keys.append(node.slice.value)
        node = node.value
    if not keys or not isinstance(node, ast.Name):
        return None
    container = env.get(node.id)
    for key in reversed(keys[1:]):
        container = container.get(key) if isinstance(container, dict) else None
    return (container, keys[0]) if isinstance(container, dict) else None


def _per_joint_scale_nodes(node: ast.AST) -> list[ast.AST]:
    """Value expressions given to a `per_joint_scale` keyword or dict key inside `node`."""
    out: list[ast.AST] = []
    for n in ast.walk(node):
        if isinstance(n, ast.keyword) and n.arg == PER_JOINT_SCALE:
            out.append(n.value)
        elif isinstance(n, ast.Dict):
            out += [v for k, v in zip(n.keys, n.values, strict=True)
                    if isinstance(k, ast.Constant) and k.value == PER_JOINT_SCALE]
    return out


def _mentions(node: ast.AST, word: str) -> bool:
    return any((isinstance(n, ast.Name) and n.id == word)
               or (isinstance(n, ast.Attribute) and n.attr == word)
               or (isinstance(n, ast.keyword) and n.arg == word)
               or (isinstance(n, ast.Constant) and n.value == word) for n in ast.walk(node))


PER_JOINT_SCALE = "per_joint_scale"


def read_config_py(path: str | Path) -> dict[str, Any]:
    """Top-level assignments of an mmcv config file, evaluated without executing it.

    Read: `name = value`, `name: T = value` and `name['key'][...] = value` (constant keys
    into a dict assigned earlier), where a value may use literals, `dict(...)`, lists,
    tuples, names assigned earlier, unary minus and arithmetic. Everything else (calls,
    imports, `if`/`for`, `+=`, `name.attr = ...`, `.update(...)`) is skipped; a skipped
    statement that mentions `per_joint_scale`, or a `per_joint_scale` value that cannot be
    evaluated, is reported with a warning naming the line, because the per-part guidance
    scales then fall back to 1.0.
    """
    path = Path(path)
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"config {path} is larger than {MAX_CONFIG_BYTES // 1000} KB, "
                              "so it is not an official model config")
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from exc
    except SyntaxError as exc:
        raise ConfigError(f"config {path} is not valid Python (line {exc.lineno})") from exc
    except (RecursionError, MemoryError) as exc:
        raise ConfigError(f"config {path} is nested too deeply to read") from exc
    env: dict[str, Any] = {}
    try:
        for stmt in tree.body:
            handled = False
            if isinstance(stmt, ast.Assign):
                value = _eval(stmt.value, env)
                for target in stmt.targets:
                    if isinstance(target, ast.Name):
                        env[target.id] = value
                        handled = True
                    elif (slot := _assign_path(target, env)) is not None:
                        slot[0][slot[1]] = value
                        handled = True
                        if slot[1] == PER_JOINT_SCALE and not isinstance(value, dict):
                            _unreadable(path, stmt.lineno)
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and \
                    stmt.value is not None:
                env[stmt.target.id] = _eval(stmt.value, env)
                handled = True
            if not handled:
                if _mentions(stmt, PER_JOINT_SCALE):
                    warnings.warn(
                        f"{path}, line {stmt.lineno}: this statement sets {PER_JOINT_SCALE} in a "
                        "form the config reader does not evaluate; write it as "
                        f"`model = dict(model=dict(..., {PER_JOINT_SCALE}=dict(upper=..., "
                        "hands=..., face=..., lowertransl=...)))`", stacklevel=2)
                continue
            for node in _per_joint_scale_nodes(stmt):
                if not isinstance(_eval(node, env), dict):
                    _unreadable(path, node.lineno)
    except RecursionError as exc:
        raise ConfigError(f"config {path} is nested too deeply to read") from exc
    return env


def _unreadable(path: Path, line: int) -> None:
    warnings.warn(f"{path}, line {line}: the {PER_JOINT_SCALE} value cannot be read without "
                  "running code (only literals, dict(...), earlier names and arithmetic are "
                  "evaluated)", stacklevel=3)


def _get(cfg: dict[str, Any], dotted: str, source: str, default: Any = UNKNOWN) -> Any:
    cur: Any = cfg
    for part in dotted.split("."):
        cur = cur.get(part, UNKNOWN) if isinstance(cur, dict) else UNKNOWN
    if cur is UNKNOWN:
        if default is UNKNOWN:
            raise ConfigError(f"{source}: no usable value for '{dotted}'")
        return default
    return cur


@dataclass(frozen=True)
class DenoiserConfig:
    latent_dim: int = 512
    time_embed_dim: int = 2048
    num_layers: int = 8
    num_heads: int = 16
    ff_size: int = 1024
    dropout: float = 0.0
    text_dim: int = 768
    audio_dim: int = 768
    num_speakers: int = 25
    max_seq_len: int = 150
    frame_chunk_size: int = 15

    @classmethod
    def from_model_cfg(cls, m: dict[str, Any], source: str = "config") -> DenoiserConfig:
        """From the config's `model['model']` dict (the `ReGestureTransformer` arguments)."""
        return cls(
            latent_dim=_get(m, "latent_dim", source),
            time_embed_dim=_get(m, "time_embed_dim", source),
            num_layers=_get(m, "num_layers", source),
            num_heads=_get(m, "sa_block_cfg.num_heads", source),
            ff_size=_get(m, "ffn_cfg.ffn_dim", source),
            dropout=_get(m, "ffn_cfg.dropout", source, 0.0),
            text_dim=_get(m, "text_encoder.latent_dim", source, 768),
            audio_dim=_get(m, "audio_encoder.latent_dim", source, 768),
            num_speakers=_get(m, "speaker_embedding.num_speakers", source),
            max_seq_len=_get(m, "max_seq_len", source),
            frame_chunk_size=_get(m, "frame_chunk_size", source),
        )


PART_SCALE_KEYS: tuple[str, ...] = ("upper", "hands", "face", "lowertransl")


@dataclass(frozen=True)
class GuidanceConfig:
    """`scale_func_cfg` + `per_joint_scale` (spec §4.4)."""

    coarse_scale: float = 6.5
    both_coef: float = 0.52351
    text_coef: float = -0.28419
    retr_coef: float = 2.39872
    per_joint_scale: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(PART_SCALE_KEYS, 1.0))
    per_joint_scale_given: bool = True

    @classmethod
    def from_model_cfg(cls, m: dict[str, Any], source: str = "config") -> GuidanceConfig:
        sf = _get(m, "scale_func_cfg", source)
        pjs = m.get("per_joint_scale", UNKNOWN) if isinstance(m, dict) else UNKNOWN
        given = isinstance(pjs, dict)
        if not given:
            state = "is not set" if "per_joint_scale" not in m else "could not be read"
            warnings.warn(f"{source}: 'per_joint_scale' {state}; using 1.0 for every part "
                          "(plain two-branch guidance)", stacklevel=2)
            pjs = {}
        missing = [k for k in PART_SCALE_KEYS if given and k not in pjs]
        if missing:
            raise ConfigError(f"{source}: per_joint_scale lacks {', '.join(missing)}")
        return cls(
            coarse_scale=float(_get(sf, "coarse_scale", source)),
            both_coef=float(_get(sf, "both_coef", source)),
            text_coef=float(_get(sf, "text_coef", source)),
            retr_coef=float(_get(sf, "retr_coef", source)),
            per_joint_scale={k: float(pjs.get(k, 1.0)) for k in PART_SCALE_KEYS},
            per_joint_scale_given=given,
        )


@dataclass(frozen=True)
class DiffusionConfig:
    """`diffusion_test` settings that the sampler uses."""

    beta_scheduler: str = "scaled_linear"
    diffusion_steps: int = 1000
    respace: str = "15,15,8,6,6"
    num_inference_timesteps: int = 50
    model_mean_type: str = "start_x"

    @classmethod
    def from_cfg(cls, d: dict[str, Any], source: str = "config") -> DiffusionConfig:
        cfg = cls(
            beta_scheduler=_get(d, "beta_scheduler", source),
            diffusion_steps=int(_get(d, "diffusion_steps", source)),
            respace=str(_get(d, "respace", source)),
            num_inference_timesteps=int(_get(d, "num_inference_timesteps", source, 50)),
            model_mean_type=_get(d, "model_mean_type", source, "start_x"),
        )
        if cfg.model_mean_type != "start_x":
            raise ConfigError(f"{source}: model_mean_type {cfg.model_mean_type!r} is not "
                              "supported (the released model predicts x0: 'start_x')")
        return cfg


@dataclass(frozen=True)
class ModelConfig:
    """Everything read from one official config file."""

    denoiser: DenoiserConfig
    guidance: GuidanceConfig
    diffusion: DiffusionConfig
    vae_yamls: dict[str, str]  # part -> path as written in the config

    @classmethod
    def from_config_dict(cls, env: dict[str, Any], source: str = "config") -> ModelConfig:
        model = _get(env, "model", source)
        inner = _get(model, "model", source)
        vae_cfg = _get(inner, "vae_cfg", source)
        return cls(
            denoiser=DenoiserConfig.from_model_cfg(inner, source),
            guidance=GuidanceConfig.from_model_cfg(inner, source),
            diffusion=DiffusionConfig.from_cfg(_get(model, "diffusion_test", source), source),
            vae_yamls={p: str(_get(vae_cfg, f"{p}_cfg", source))
                       for p in ("upper", "lowertrans", "face", "hands")},
        )

    @classmethod
    def from_file(cls, path: str | Path) -> ModelConfig:
        return cls.from_config_dict(read_config_py(path), str(path))
