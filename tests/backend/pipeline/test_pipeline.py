"""Generation and range regeneration end to end on the small official-layout checkpoint.

Speech comes from espeak-ng with tiny random wav2vec2/BERT models (so transcripts never
"match": requests allow the mismatch). The weights are random, so the checks are about the
pipeline's promises: shapes, frame rates, determinism, takes, window stitching, cancel, and
for regenerate: identical frames outside the range, locks, and no pops at the borders.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from backend.diffusion.schedule import respace_for_steps
from backend.motion.rotations import axis_angle_to_matrix
from backend.pipeline.engine import GenerateOptions
from backend.pipeline.regenerate import RegenerateOptions
from backend.pipeline.session import Session, SessionConfig
from backend.progress import Cancelled
from backend.speech.audio import load_audio
from backend.windows import STRIDE, window_starts
from rag_gesture_shared.protocol.speech import SpeechInput
from rag_gesture_shared.skeleton import EYES, FACE, LOWER, UPPER
from tests.support.smplx_synthetic import write_synthetic_smplx
from tests.support.speech_audio import speak

SHORT = "Hello, this is a short line."
LONG = ("Today I want to tell you about three ideas. The first one is simple, the second one "
        "is bigger, and the third one changes everything. Look over there, at the big circle "
        "on the wall, because that is where the answer is hiding. Thank you for listening.")


@pytest.fixture(scope="module")
def session(official_checkpoint, tiny_bert_dir, tiny_wav2vec_dir):
    torch.set_num_threads(2)
    return Session(SessionConfig(checkpoint=official_checkpoint, bert=tiny_bert_dir,
                                 wav2vec=tiny_wav2vec_dir, device="cpu"))


@pytest.fixture(scope="module")
def audio(tmp_path_factory):
    d = tmp_path_factory.mktemp("speech")
    return {"short": speak(SHORT, d / "short.wav"), "long": speak(LONG, d / "long.wav", 150)}


def source(audio, which: str) -> SpeechInput:
    return SpeechInput(audio=audio[which], text=SHORT if which == "short" else LONG,
                       allow_mismatch=True)


def geodesic_steps(poses: np.ndarray) -> np.ndarray:
    """Largest joint rotation change (radians) between consecutive frames."""
    r = axis_angle_to_matrix(torch.from_numpy(poses).double())
    rel = r[1:].transpose(-1, -2) @ r[:-1]
    cos = ((rel.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2).clamp(-1, 1)
    return torch.arccos(cos).max(-1).values.numpy()


@pytest.fixture(scope="module")
def long_take(session, audio):
    return session.generate(source(audio, "long"), GenerateOptions(seed=1))


def test_short_audio_single_window(session, audio):
    res = session.generate(source(audio, "short"), GenerateOptions(seed=0))
    dur = load_audio(audio["short"]).duration
    m = res.motions[0]
    assert dur < 10 and res.info["windows"] == 1
    assert m.fps == 30.0 and m.num_frames == int(np.ceil(dur * 30))
    assert np.isfinite(m.poses).all() and np.isfinite(m.trans).all()
    assert (m.poses[:, list(EYES)] == 0).all()
    assert res.info["official_schedule"] and res.info["speaker"] == "scott"


def test_long_audio_windows_and_continuity(long_take, audio):
    m = long_take.motions[0]
    dur = load_audio(audio["long"]).duration
    assert dur > 10 and m.num_frames == int(np.ceil(dur * 30))
    n15 = int(np.ceil(dur * 15))
    starts = window_starts(n15)
    assert long_take.info["windows"] == len(starts) >= 2
    steps = geodesic_steps(m.poses)
    borders = [2 * (s + STRIDE) for s in starts[:-1]]  # end of each blend at 30 fps
    inner = np.delete(steps, [b + d for b in borders for d in range(-32, 2) if b + d < len(steps)])
    for b in borders:
        assert steps[b - 32:b + 2].max() <= 2 * inner.max() + 1e-6
    # translation continues across windows: no jump bigger than the motion's own steps
    tsteps = np.linalg.norm(np.diff(m.trans, axis=0), axis=1)
    assert tsteps.max() < 0.05


def test_seed_determinism_takes_and_fps(session, audio):
    src = source(audio, "short")
    a = session.generate(src, GenerateOptions(seed=7, takes=2))
    b = session.generate(src, GenerateOptions(seed=7, takes=2))
    c = session.generate(src, GenerateOptions(seed=8, takes=1))
    assert len(a.motions) == 2
    assert all(np.array_equal(x.poses, y.poses) for x, y in zip(a.motions, b.motions,
                                                                  strict=True))
    assert not np.array_equal(a.motions[0].poses, a.motions[1].poses)
    assert not np.array_equal(a.motions[0].poses, c.motions[0].poses)
    fast = session.generate(src, GenerateOptions(seed=7, steps=10, fps=24.0))
    assert fast.info["official_schedule"] is False and fast.info["steps"] == 10
    assert fast.motions[0].fps == 24.0
    assert abs(fast.motions[0].num_frames - a.motions[0].num_frames * 24 / 30) <= 2


def test_respacing_for_every_documented_step_count():
    from backend.diffusion.schedule import Schedule, space_timesteps
    from rag_gesture_shared.protocol.sampling import MAX_STEPS, MIN_STEPS

    assert respace_for_steps(50) == "15,15,8,6,6"  # the released schedule, untouched
    assert respace_for_steps(49) == "14,15,8,6,6" and respace_for_steps(10) == "3,3,2,1,1"
    for n in range(MIN_STEPS, MAX_STEPS + 1):  # 669..1000 used to fail (sections of 200)
        assert len(space_timesteps(1000, respace_for_steps(n))) == n, n
    assert respace_for_steps(669) == "200,200,107,81,81"
    assert space_timesteps(1000, respace_for_steps(1000)) == list(range(1000))
    full = Schedule.create(respace_for_steps(1000))
    np.testing.assert_allclose(full.betas, Schedule.create("ddim1000").betas)
    for bad in (MIN_STEPS - 1, MAX_STEPS + 1):
        with pytest.raises(ValueError, match="must be from 5 to 1000"):
            respace_for_steps(bad)


def test_progress_and_cancel(session, audio):
    src = source(audio, "long")
    seen = []
    session.generate(src, GenerateOptions(steps=10), progress=lambda s, f: seen.append((s, f)))
    fr = [f for s, f in seen if s == "generating"]
    assert fr == sorted(fr) and fr[-1] == pytest.approx(1.0)
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 5

    with pytest.raises(Cancelled):
        session.generate(src, GenerateOptions(steps=50), should_stop=stop)
    assert calls["n"] == 6  # stopped at the first check after the request


@pytest.mark.parametrize("locks", [(), ("lower",), ("upper", "hands")])
def test_regenerate_keeps_outside_and_locks(session, audio, long_take, locks):
    m = long_take.motions[0]
    start, end = 240, 330  # 8 s .. 11 s: crosses the window border at 9 s
    opts = RegenerateOptions(seed=3, margin=0.5, locks=locks)
    res = session.regenerate(source(audio, "long"), m, start, end, opts)
    new = res.motions[0]
    assert new.num_frames == m.num_frames and new.fps == m.fps
    lo, hi = start - 15, end + 15
    for arr_new, arr_old in ((new.poses, m.poses), (new.trans, m.trans),
                             (new.expressions, m.expressions)):
        assert np.array_equal(arr_new[:lo], arr_old[:lo])
        assert np.array_equal(arr_new[hi:], arr_old[hi:])
    assert len(res.info["windows"]) == 2
    changed = np.abs(new.poses - m.poses).max(axis=(1, 2)) > 0
    assert changed[start:end].all()
    if "lower" in locks:
        assert np.array_equal(new.poses[:, list(LOWER)], m.poses[:, list(LOWER)])
        assert np.array_equal(new.trans, m.trans)
    if "upper" in locks:
        assert not np.array_equal(new.poses[:, list(LOWER)], m.poses[:, list(LOWER)])
    assert_no_pop(m.poses, new.poses, start, end, 15)


def test_regenerate_face_lock_keeps_jaw_eyes_and_expressions(session, audio, long_take):
    """The face lock keeps what its tooltip names: jaw, eyes (which the model never
    animates, so an animator's eye keys would otherwise be zeroed) and expressions."""
    m = long_take.motions[0]
    poses = m.poses.copy()
    poses[:, list(EYES)] = np.float32(0.1)  # an animator's eye direction
    m = replace(m, poses=poses)
    opts = RegenerateOptions(seed=3, margin=0.5, locks=("face",))
    new = session.regenerate(source(audio, "long"), m, 240, 330, opts).motions[0]
    face = [*FACE, *EYES]
    assert np.array_equal(new.poses[:, face], m.poses[:, face])
    assert np.array_equal(new.expressions, m.expressions)
    assert not np.array_equal(new.poses[:, list(UPPER)], m.poses[:, list(UPPER)])


def geodesic_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-frame largest joint angle between two pose sequences (radians)."""
    ra = axis_angle_to_matrix(torch.from_numpy(a).double())
    rb = axis_angle_to_matrix(torch.from_numpy(b).double())
    cos = (((ra.transpose(-1, -2) @ rb).diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2)
    return torch.arccos(cos.clamp(-1, 1)).max(-1).values.numpy()


def assert_no_pop(old: np.ndarray, new: np.ndarray, start: int, end: int, margin: int) -> None:
    """Border steps = the motion's own steps + the gap spread over the margin, never a cut.

    With random test weights the regenerated poses differ a lot from the original (the VAE is
    no autoencoder), so the blend has to bridge a gap theta; a smoothstep over `margin` frames
    adds at most 1.5 * theta / (margin + 1) per frame. A hard cut would jump by theta.
    """
    steps_new, steps_old = geodesic_steps(new), geodesic_steps(old)
    own = max(steps_old.max(), steps_new[start:end - 1].max())
    for inner, border in ((slice(start, start + margin), slice(start - margin - 1, start + 1)),
                          (slice(end - margin, end), slice(end - 1, end + margin + 1))):
        theta = geodesic_distance(old[inner], new[inner]).max()
        bound = own + 1.5 * theta / (margin + 1) + 1e-6
        assert steps_new[border].max() <= bound
        assert theta > bound or theta < own  # the check would catch a hard cut


def test_regenerate_keeps_hand_edits_outside(session, audio, long_take):
    m = long_take.motions[0]
    edited = type(m)(poses=m.poses.copy(), trans=m.trans.copy(),
                     expressions=m.expressions.copy(), fps=m.fps)
    edited.poses[10:40, 18] += 0.3  # the animator raised the left elbow early on
    res = session.regenerate(source(audio, "long"), edited, 300, 360,
                             RegenerateOptions(seed=1, margin=0.25))
    assert np.array_equal(res.motions[0].poses[:250], edited.poses[:250])


def test_regenerate_with_a_smplx_model_file(session, audio, long_take, tmp_path):
    model = write_synthetic_smplx(tmp_path / "SMPLX_NEUTRAL_2020.npz", 0.0)
    m = long_take.motions[0]
    a = session.regenerate(source(audio, "long"), m, 60, 120,
                           RegenerateOptions(seed=2, smplx_model=model))
    b = session.regenerate(source(audio, "long"), m, 60, 120, RegenerateOptions(seed=2))
    # the synthetic model's joints equal the default skeleton's, so contacts and results agree
    np.testing.assert_allclose(a.motions[0].poses, b.motions[0].poses, atol=1e-4)


def test_regenerate_bad_requests(session, audio, long_take):
    m = long_take.motions[0]
    src = source(audio, "long")
    with pytest.raises(ValueError, match="not inside the motion"):
        session.regenerate(src, m, 10, m.num_frames + 5)
    with pytest.raises(ValueError, match="unknown body part"):
        session.regenerate(src, m, 10, 20, RegenerateOptions(locks=("tail",)))
    with pytest.raises(ValueError, match="nothing to regenerate"):
        session.regenerate(src, m, 10, 20, RegenerateOptions(
            locks=("upper", "hands", "face", "lower")))


def test_speech_analysis_is_cached(session, audio):
    src = source(audio, "short")
    assert session.speech(src) is session.speech(src)


def test_noise_is_drawn_on_the_cpu_whatever_the_device():
    """The same seed gives the same start and replacement noise on CPU and CUDA: it is drawn
    from a CPU generator and moved (here to the `meta` device, which has no RNG)."""
    import torch

    from backend.diffusion.ddim import cpu_randn, gaussian_noise

    a, b = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    moved = cpu_randn((2, 3), a, "meta")
    assert moved.device.type == "meta" and moved.shape == (2, 3)
    torch.randn((2, 3), generator=b)  # a CPU draw of the same size...
    assert torch.equal(torch.randn(4, generator=a), torch.randn(4, generator=b))  # ...same state
    like = torch.empty(4, 2, device="meta", dtype=torch.float64)
    drawn = gaussian_noise(a)(0, like)
    assert drawn.device.type == "meta" and drawn.dtype == torch.float64
    assert torch.equal(cpu_randn((3,), torch.Generator().manual_seed(9), "cpu"),
                       torch.randn(3, generator=torch.Generator().manual_seed(9)))
