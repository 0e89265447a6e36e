"""Loading the official files: layout, prefixes, safety, and readable mismatch reports."""

from __future__ import annotations

import os
import pickle
import shutil

import numpy as np
import pytest
import torch
import yaml

from backend.model.checkpoint import CheckpointError, safe_load
from backend.model.loading import load_official
from tests.support.parity_layout import build_official_layout


def test_loads_official_layout_with_vae_checkpoints(small, official_checkpoint):
    assert small.checkpoint == official_checkpoint
    assert small.config_path.name == "basegesture_len150_beat.py"
    assert all(p is not None and p.is_file() for p in small.vae_checkpoints.values())
    assert not small.model.training
    assert all(not p.requires_grad for p in small.model.parameters())
    counts = small.parameter_counts()
    assert set(counts) == {"upper", "face", "hands", "lowertrans", "denoiser"}
    assert all(c > 0 for c in counts.values())
    assert small.config.guidance.per_joint_scale_given


def test_module_prefixed_vae_checkpoint_loads(small, official_checkpoint, parity_path):
    # The hands VAE file was written with DDP's `module.` prefix by build_official_layout.
    raw = torch.load(small.vae_checkpoints["hands"], weights_only=True)["model_state"]
    assert all(k.startswith("module.") for k in raw)
    sd = torch.load(parity_path / "small_model.pt", weights_only=True)
    key = "model.gesture_rep_encoder.hands_vae.skel_embedding.weight"
    assert torch.equal(small.model.gesture_rep_encoder.hands_vae.skel_embedding.weight, sd[key])


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch exploited_marker",))


def test_pickle_that_runs_code_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "epoch_64.pth"
    torch.save({"state_dict": {"w": torch.ones(1)}, "meta": _Exploit()}, bad)
    with pytest.raises(CheckpointError) as err:
        safe_load(bad)
    assert "refusing to load" in str(err.value)
    assert "system" in str(err.value)
    assert not (tmp_path / "exploited_marker").exists()


def test_plain_pickle_with_code_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "model.bin"
    bad.write_bytes(pickle.dumps(_Exploit()))
    with pytest.raises(CheckpointError):
        safe_load(bad)
    assert not (tmp_path / "exploited_marker").exists()


def test_numpy_scalars_in_meta_are_accepted(tmp_path):
    path = tmp_path / "ckpt.pth"
    torch.save({"meta": {"best": np.float64(0.5), "hist": np.zeros(3)},
                "state_dict": {"w": torch.ones(2)}}, path)
    assert safe_load(path)["meta"]["best"] == 0.5


def test_truncated_and_missing_files(tmp_path):
    path = tmp_path / "ckpt.pth"
    torch.save({"state_dict": {"w": torch.ones(1000)}}, path)
    whole = path.read_bytes()
    for cut in (200, len(whole) // 2, len(whole) - 10):  # an interrupted download
        path.write_bytes(whole[:cut])
        with pytest.raises(CheckpointError) as err:
            safe_load(path)
        assert str(err.value) == (f"{path} is damaged or truncated (not a complete PyTorch "
                                  "checkpoint); run `rag-gesture download` again")
    with pytest.raises(CheckpointError, match="does not exist"):
        safe_load(tmp_path / "nope.pth")


def _copy_layout(official_checkpoint, tmp_path):
    root = official_checkpoint.parents[3]
    shutil.copytree(root / "experiments", tmp_path / "experiments")
    return tmp_path / official_checkpoint.relative_to(root)


def test_mismatched_checkpoint_gives_one_readable_report(official_checkpoint, tmp_path):
    ckpt = _copy_layout(official_checkpoint, tmp_path)
    data = torch.load(ckpt, weights_only=True)
    sd = data["state_dict"]
    del sd["model.joint_embed.bias"]
    sd["model.extra.weight"] = torch.zeros(1)
    sd["model.out.weight"] = torch.zeros(3, 3)
    torch.save(data, ckpt)
    with pytest.raises(CheckpointError) as err:
        load_official(ckpt)
    msg = str(err.value)
    assert "1 missing key(s) (joint_embed.bias)" in msg
    assert "1 unexpected key(s) (extra.weight)" in msg
    assert "out.weight is [3, 3] in the file" in msg
    assert "\n" not in msg


def test_yaml_with_wrong_decoder_arch_is_explained(official_checkpoint, tmp_path):
    ckpt = _copy_layout(official_checkpoint, tmp_path)
    ypath = next((tmp_path / "experiments" / "vae" / "small_face").glob("*.yaml"))
    cfg = yaml.safe_load(ypath.read_text())
    cfg["decoder_arch"] = "encoder_decoder"
    ypath.write_text(yaml.safe_dump(cfg))
    with pytest.raises(CheckpointError, match="look like decoder_arch 'all_encoder'"):
        load_official(ckpt)


def test_missing_per_joint_scale_falls_back_with_warning(official_checkpoint, tmp_path):
    ckpt = _copy_layout(official_checkpoint, tmp_path)
    cfg_path = ckpt.parent / "basegesture_len150_beat.py"
    text = cfg_path.read_text()
    start = text.index("'per_joint_scale'")
    end = text.index("}", start) + 1
    cfg_path.write_text(text[:start] + "'unused': None" + text[end:])
    with pytest.warns(UserWarning, match="per_joint_scale"):
        loaded = load_official(ckpt)
    assert loaded.config.guidance.per_joint_scale == dict.fromkeys(
        ("upper", "hands", "face", "lowertransl"), 1.0)
    assert not loaded.config.guidance.per_joint_scale_given
    assert any("per_joint_scale" in n for n in loaded.notes)


def test_missing_vae_checkpoint_uses_weights_inside_diffusion_checkpoint(
        official_checkpoint, tmp_path, small):
    ckpt = _copy_layout(official_checkpoint, tmp_path)
    for f in (tmp_path / "experiments" / "vae").rglob("*.bin"):
        f.unlink()
    loaded = load_official(ckpt)
    assert all(v is None for v in loaded.vae_checkpoints.values())
    assert any("not found" in n for n in loaded.notes)
    for a, b in zip(loaded.model.state_dict().values(), small.model.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)


def test_missing_vae_yaml_is_named(official_checkpoint, tmp_path):
    ckpt = _copy_layout(official_checkpoint, tmp_path)
    for f in (tmp_path / "experiments" / "vae" / "small_upper").glob("*.yaml"):
        f.unlink()
    with pytest.raises(ValueError, match="small_upper.yaml"):
        load_official(ckpt)


def test_layout_builder_round_trip(parity_path, tmp_path):
    ckpt = build_official_layout(parity_path, tmp_path, module_prefix_part="upper")
    loaded = load_official(ckpt, device="cpu")
    assert loaded.seconds > 0
