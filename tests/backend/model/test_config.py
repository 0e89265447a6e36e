"""The shipped config `.py` is read with `ast`, never executed."""

from __future__ import annotations

import pytest

from backend.model.config import UNKNOWN, ConfigError, ModelConfig, read_config_py

OFFICIAL_STYLE = """
_base_ = ['../_base_/datasets/beatx_len150_15fps.py']
import os
latent_dim = 512
ff_size = latent_dim * 2
num_heads = 16
dropout = 0
max_seq_len = 150
frame_chunk_size = 15
input_feats = 189
vae_root = 'experiments/vae/'
model = dict(
    type='MotionDiffusion',
    model=dict(
        type='ReGestureTransformer',
        input_feats=input_feats,
        max_seq_len=max_seq_len,
        frame_chunk_size=frame_chunk_size,
        latent_dim=latent_dim,
        time_embed_dim=2048,
        num_layers=8,
        sa_block_cfg=dict(type='EfficientSelfAttention', latent_dim=latent_dim,
                          num_heads=num_heads, dropout=dropout),
        ffn_cfg=dict(latent_dim=latent_dim, ffn_dim=ff_size, dropout=dropout),
        vae_cfg=dict(upper_cfg=vae_root + 'u/u.yaml', lowertrans_cfg=vae_root + 'l/l.yaml',
                     face_cfg=vae_root + 'f/f.yaml', hands_cfg=vae_root + 'h/h.yaml'),
        text_encoder=dict(pretrained_model=None, latent_dim=768),
        audio_encoder=dict(pretrained_model=None, latent_dim=768),
        speaker_embedding=dict(num_speakers=25),
        scale_func_cfg=dict(coarse_scale=6.5, both_coef=0.52351, text_coef=-0.28419,
                            retr_coef=2.39872),
        per_joint_scale=dict(upper=1.5, hands=2.0, face=1.0, lowertransl=0.5),
        sneaky=os.getcwd(),
    ),
    diffusion_test=dict(beta_scheduler='scaled_linear', diffusion_steps=1000,
                        model_mean_type='start_x', model_var_type='fixed_large',
                        respace='15,15,8,6,6', num_inference_timesteps=50),
)
"""


def test_reads_official_style_config(tmp_path):
    path = tmp_path / "basegesture_len150_beat.py"
    path.write_text(OFFICIAL_STYLE)
    cfg = ModelConfig.from_file(path)
    assert cfg.denoiser.latent_dim == 512
    assert cfg.denoiser.ff_size == 1024
    assert cfg.denoiser.num_heads == 16
    assert cfg.guidance.per_joint_scale == {"upper": 1.5, "hands": 2.0, "face": 1.0,
                                            "lowertransl": 0.5}
    assert cfg.guidance.text_coef == -0.28419
    assert cfg.diffusion.respace == "15,15,8,6,6"
    assert cfg.vae_yamls["hands"] == "experiments/vae/h/h.yaml"
    env = read_config_py(path)
    assert env["model"]["model"]["sneaky"] is UNKNOWN  # calls are never evaluated


def test_code_in_config_is_not_executed(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.py"
    path.write_text(f"__import__('pathlib').Path({str(marker)!r}).touch()\n"
                    f"x = __import__('pathlib').Path({str(marker)!r}).touch()\n"
                    "model = dict(model=dict())\n")
    env = read_config_py(path)
    assert env["x"] is UNKNOWN
    assert not marker.exists()


def test_missing_values_are_named(tmp_path):
    path = tmp_path / "cfg.py"
    vae = ", ".join(f"{p}_cfg='{p}.yaml'" for p in ("upper", "lowertrans", "face", "hands"))
    path.write_text(f"model = dict(model=dict(latent_dim=64, vae_cfg=dict({vae})), "
                    "diffusion_test=dict())\n")
    with pytest.raises(ConfigError, match="time_embed_dim"):
        ModelConfig.from_file(path)


def test_syntax_error_is_reported(tmp_path):
    path = tmp_path / "cfg.py"
    path.write_text("model = dict(\n")
    with pytest.raises(ConfigError, match="line"):
        read_config_py(path)


HOSTILE = """
tower = 9**9**9
big = 2**10000
huge_text = 'a' * 10**9
doubling = 'x' * 5000
doubled = doubling + doubling
tripled = doubled + doubling
fmt = '%0999999999d' % 1
squares = 10**70
squares = squares * squares
squares = squares * squares
squares = squares * squares
rows = [0] * 10**9
ok_pow = 2**10
ok_float = 1.5 ** 0.5
ok_text = 'experiments/vae/' + 'u.yaml'
"""


def test_config_arithmetic_is_bounded(tmp_path):
    """Every hostile line is UNKNOWN, not a hang or a gigabyte; a subprocess with a timeout
    turns a regression into a failure instead of a stuck test run."""
    import json
    import subprocess
    import sys

    from tests.support.paths import REPO_ROOT

    path = tmp_path / "cfg.py"
    path.write_text(HOSTILE)
    code = ("import json, sys; from backend.model.config import read_config_py, UNKNOWN; "
            "env = read_config_py(sys.argv[1]); "
            "print(json.dumps({k: None if v is UNKNOWN else str(v)[:40] for k, v in env.items()}))")
    proc = subprocess.run([sys.executable, "-c", code, str(path)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    env = json.loads(proc.stdout)
    unknown = {k for k, v in env.items() if v is None}
    assert unknown == {"tower", "big", "huge_text", "tripled", "fmt", "squares", "rows"}
    assert env["doubled"] == "x" * 40 and env["ok_pow"] == "1024"
    assert env["ok_float"].startswith("1.22474") and env["ok_text"] == "experiments/vae/u.yaml"


def test_oversized_or_deeply_nested_config_is_refused(tmp_path):
    from backend.model.config import MAX_CONFIG_BYTES

    big = tmp_path / "big.py"
    big.write_text("x = 1\n" * (MAX_CONFIG_BYTES // 6 + 1))
    with pytest.raises(ConfigError, match="larger than 1000 KB"):
        read_config_py(big)
    deep = tmp_path / "deep.py"
    for text in ("[" * 5000 + "]" * 5000, "-" * 20000 + "1"):
        deep.write_text(f"x = {text}\n")
        with pytest.raises(ConfigError, match="nested too deeply|not valid Python"):
            read_config_py(deep)


PJS_BASE = """
model = dict(model=dict(latent_dim=64, scale_func_cfg=dict(coarse_scale=6.5, both_coef=0.5,
             text_coef=-0.3, retr_coef=2.4)))
"""


def _guidance(tmp_path, tail: str):
    import warnings

    from backend.model.config import GuidanceConfig

    path = tmp_path / "cfg.py"
    path.write_text(PJS_BASE + tail)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        env = read_config_py(path)
        g = GuidanceConfig.from_model_cfg(env["model"]["model"], str(path))
    return g, [str(w.message) for w in caught]


def test_per_joint_scale_by_item_assignment_is_read(tmp_path):
    g, msgs = _guidance(tmp_path, "model['model']['per_joint_scale'] = dict(upper=1.5, "
                        "hands=2.0, face=1.0, lowertransl=0.5)\n")
    assert g.per_joint_scale["hands"] == 2.0 and g.per_joint_scale_given and msgs == []


@pytest.mark.parametrize("tail, line, what", [
    ("model['model'].update(per_joint_scale=dict(upper=1.5))\n", 4, "does not evaluate"),
    ("if True:\n    model['model']['per_joint_scale'] = dict(upper=1.5)\n", 4,
     "does not evaluate"),
    ("model['model'].per_joint_scale = 3\n", 4, "does not evaluate"),
    ("scales = dict(upper=1.5)\nmodel['model']['per_joint_scale'] = make(scales)\n", 5,
     "cannot be read"),
])
def test_other_forms_of_per_joint_scale_are_named_by_line(tmp_path, tail, line, what):
    g, msgs = _guidance(tmp_path, tail)
    assert not g.per_joint_scale_given and set(g.per_joint_scale.values()) == {1.0}
    named = [m for m in msgs if f"line {line}:" in m]
    assert named and what in named[0], msgs
    assert any("using 1.0 for every part" in m for m in msgs)
