"""Motion container validation and BEAT2/AMASS npz I/O (spec §1.1, §7)."""

import numpy as np
import pytest

from backend.motion.motion import Motion, MotionFormatError


def _motion(n: int = 12, fps: float = 30.0, seed: int = 0) -> Motion:
    rng = np.random.default_rng(seed)
    return Motion(
        poses=rng.uniform(-1, 1, size=(n, 55, 3)).astype(np.float32),
        trans=rng.normal(size=(n, 3)).astype(np.float32),
        expressions=rng.normal(size=(n, 100)).astype(np.float32),
        fps=fps,
        betas=rng.normal(size=300).astype(np.float32),
        gender="female",
        model="smplx2020",
    )


def _beat2_arrays(n: int = 10) -> dict:
    rng = np.random.default_rng(1)
    return {
        "poses": rng.normal(size=(n, 165)).astype(np.float32),
        "trans": rng.normal(size=(n, 3)).astype(np.float32),
        "expressions": rng.normal(size=(n, 100)).astype(np.float32),
        "betas": np.zeros(300, np.float32),
        "mocap_frame_rate": np.array(30),
        "model": np.array("smplx2020"),
        "gender": np.array("neutral"),
    }


def _write(tmp_path, name: str, **arrays) -> str:
    path = tmp_path / name
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    return str(path)


# ------------------------------------------------------------------ container


def test_defaults_and_properties():
    m = Motion(np.zeros((45, 55, 3)), np.zeros((45, 3)), np.zeros((45, 100)), fps=15)
    assert m.poses.dtype == np.float32 and m.trans.dtype == np.float32
    assert m.betas.shape == (300,) and not m.betas.any()
    assert (m.gender, m.model) == ("neutral", "smplx2020")
    assert m.num_frames == 45
    assert m.duration == pytest.approx(3.0)
    assert m.poses_flat.shape == (45, 165)
    assert isinstance(m.fps, float)


def test_constructor_copies_input():
    poses = np.zeros((3, 55, 3), np.float32)
    m = Motion(poses, np.zeros((3, 3)), np.zeros((3, 100)), 30)
    poses[0, 0, 0] = 1.0
    assert m.poses[0, 0, 0] == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"poses": np.zeros((4, 165))}, r"'poses' must have shape \(N, 55, 3\)"),
        ({"trans": np.zeros((3, 3))}, "'trans' has 3 frames but 'poses' has 4"),
        ({"expressions": np.zeros((4, 50))}, r"'expressions' must have shape \(N, 100\)"),
        ({"betas": np.zeros(16)}, r"'betas' must have shape \(300\)"),
        ({"trans": np.full((4, 3), np.nan)}, "'trans' contains NaN or Inf"),
        ({"poses": np.full((4, 55, 3), np.inf)}, "'poses' contains NaN or Inf"),
        ({"poses": np.zeros((4, 55, 3), dtype=bool)}, "must hold real numbers"),
        ({"fps": 0}, "fps must be a positive finite number"),
        ({"fps": float("nan")}, "fps must be a positive finite number"),
        ({"fps": "thirty"}, "fps must be a number"),
        ({"gender": None}, "gender and model must be strings"),
    ],
)
def test_constructor_rejects_bad_data(kwargs, message):
    args = {
        "poses": np.zeros((4, 55, 3)),
        "trans": np.zeros((4, 3)),
        "expressions": np.zeros((4, 100)),
        "fps": 30.0,
    }
    args.update(kwargs)
    with pytest.raises(MotionFormatError, match=message):
        Motion(**args)


def test_zero_frames_rejected():
    with pytest.raises(MotionFormatError, match="zero frames"):
        Motion(np.zeros((0, 55, 3)), np.zeros((0, 3)), np.zeros((0, 100)), 30)


def test_motion_format_error_is_value_error():
    assert issubclass(MotionFormatError, ValueError)


def test_slice_concatenate_zero_trans():
    m = _motion(10)
    a, b = m.slice(0, 4), m.slice(4, None)
    assert (a.num_frames, b.num_frames) == (4, 6)
    assert np.array_equal(b.poses, m.poses[4:])
    joined = Motion.concatenate([a, b])
    assert np.array_equal(joined.poses, m.poses)
    assert np.array_equal(joined.expressions, m.expressions)
    assert np.array_equal(joined.betas, m.betas) and joined.gender == "female"
    a.poses[0] = 5.0
    assert not np.array_equal(m.poses[0], a.poses[0])  # slices are independent copies
    nt = m.with_zero_translation()
    assert not nt.trans.any() and np.array_equal(nt.poses, m.poses)
    with pytest.raises(MotionFormatError, match="different fps"):
        Motion.concatenate([m, _motion(3, fps=15.0)])
    with pytest.raises(MotionFormatError, match="empty"):
        Motion.concatenate([])


def test_resample_method():
    m = _motion(31, fps=30.0)
    r = m.resample(15)
    assert r.fps == 15.0 and r.num_frames == 16
    assert np.array_equal(r.poses, m.poses[::2])  # coinciding frames are copied exactly
    assert np.array_equal(r.betas, m.betas) and r.gender == m.gender


# ------------------------------------------------------------------ npz I/O


def test_save_writes_reference_layout(tmp_path):
    m = _motion(7)
    path = tmp_path / "pred_motion.npz"
    m.save_npz(path)
    with np.load(path, allow_pickle=False) as data:
        keys = "poses trans expressions betas mocap_frame_rate model gender".split()
        assert set(data.files) == set(keys)
        assert data["poses"].shape == (7, 165) and data["poses"].dtype == np.float32
        assert np.array_equal(data["poses"].reshape(7, 55, 3), m.poses)
        assert data["trans"].shape == (7, 3) and data["expressions"].shape == (7, 100)
        assert data["betas"].shape == (300,)
        assert float(data["mocap_frame_rate"]) == 30.0
        assert str(data["model"]) == "smplx2020" and str(data["gender"]) == "female"


def test_save_does_not_append_suffix(tmp_path):
    path = tmp_path / "clip.motion"
    _motion(3).save_npz(path)
    assert path.exists() and not (tmp_path / "clip.motion.npz").exists()


def test_round_trip_is_bit_exact(tmp_path):
    m = _motion(25, fps=29.97)
    path = tmp_path / "m.npz"
    m.save_npz(path)
    back = Motion.load_npz(path)
    for name in ("poses", "trans", "expressions", "betas"):
        a, b = getattr(m, name), getattr(back, name)
        assert a.dtype == b.dtype == np.float32
        assert a.tobytes() == b.tobytes(), name
    assert (back.fps, back.gender, back.model) == (m.fps, m.gender, m.model)


def test_load_beat2_file(tmp_path):
    arrays = _beat2_arrays(10)
    m = Motion.load_npz(_write(tmp_path, "2_scott_0_1_1.npz", **arrays))
    assert m.num_frames == 10 and m.fps == 30.0
    assert np.array_equal(m.poses_flat, arrays["poses"])
    assert np.array_equal(m.expressions, arrays["expressions"])


def test_load_amass_layout(tmp_path):
    arrays = _beat2_arrays(6)
    del arrays["expressions"], arrays["mocap_frame_rate"], arrays["model"]
    arrays["mocap_framerate"] = np.array(120.0)
    arrays["betas"] = np.arange(16, dtype=np.float64)
    arrays["gender"] = np.array(b"male")
    m = Motion.load_npz(_write(tmp_path, "amass.npz", **arrays))
    assert m.fps == 120.0
    assert m.expressions.shape == (6, 100) and not m.expressions.any()
    assert np.array_equal(m.betas[:16], np.arange(16)) and not m.betas[16:].any()
    assert m.gender == "male" and m.model == "smplx2020"


def test_load_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        Motion.load_npz(tmp_path / "nope.npz")


def _bad_case(tmp_path, case: str) -> str:
    a = _beat2_arrays(10)
    if case == "not_npz":
        path = tmp_path / "not_npz.npz"
        path.write_text("this is not a zip archive\n")
        return str(path)
    if case == "npy":
        path = tmp_path / "npy.npz"
        with open(path, "wb") as fh:
            np.save(fh, a["poses"])
        return str(path)
    if case == "no_poses":
        del a["poses"]
    elif case == "no_trans":
        del a["trans"]
    elif case == "smplh":
        a["poses"] = np.zeros((10, 156), np.float32)
    elif case == "cols":
        a["poses"] = np.zeros((10, 100), np.float32)
    elif case == "frames":
        a["trans"] = a["trans"][:9]
    elif case == "expr_frames":
        a["expressions"] = a["expressions"][:8]
    elif case == "nan":
        a["poses"][3, 7] = np.nan
    elif case == "inf":
        a["trans"][0, 0] = np.inf
    elif case == "zero":
        a["poses"], a["trans"], a["expressions"] = (
            a["poses"][:0],
            a["trans"][:0],
            a["expressions"][:0],
        )
    elif case == "no_fps":
        del a["mocap_frame_rate"]
    elif case == "bad_fps":
        a["mocap_frame_rate"] = np.array(0.0)
    elif case == "fps_text":
        a["mocap_frame_rate"] = np.array("30")
    elif case == "object":
        path = tmp_path / "object.npz"
        with open(path, "wb") as fh:
            np.savez(fh, **{**a, "gender": np.array(["neutral", None], dtype=object)})
        return str(path)
    return _write(tmp_path, f"{case}.npz", **a)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("not_npz", "not a readable .npz"),
        ("npy", "single .npy array"),
        ("no_poses", "required array 'poses' is missing"),
        ("no_trans", "required array 'trans' is missing"),
        ("smplh", r"'poses' has 156 columns \(SMPL-H.*SMPL-X needs 165 columns"),
        ("cols", "'poses' has 100 columns, but SMPL-X needs 165 columns"),
        ("frames", "'trans' has 9 frames but 'poses' has 10"),
        ("expr_frames", "'expressions' has 8 frames but 'poses' has 10"),
        ("nan", "'poses' contains NaN or Inf"),
        ("inf", "'trans' contains NaN or Inf"),
        ("zero", "zero frames"),
        ("no_fps", "frame rate is missing"),
        ("bad_fps", "fps must be a positive finite number"),
        ("fps_text", "'mocap_frame_rate' must be a single number"),
        ("object", "entry 'gender' cannot be read"),
    ],
)
def test_load_rejects_malformed_files(tmp_path, case, message):
    path = _bad_case(tmp_path, case)
    with pytest.raises(MotionFormatError, match=message) as info:
        Motion.load_npz(path)
    text = str(info.value)
    assert text.startswith(path + ": "), text
    assert text.count(". ") == 0, f"expected one sentence: {text}"
