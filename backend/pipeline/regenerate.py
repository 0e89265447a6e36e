"""Regenerate a frame range of existing (possibly hand-edited) motion, keeping the rest.

1. The motion goes to 15 fps and every window touching the range is VAE-encoded with the
   posterior mean (deterministic), foot contacts from the body model (backend.motion.kinematics).
2. Latent tokens that do not overlap the range (+ margin), and every token of a locked body
   part, are held to those latents by replacement at every DDIM step (spec §5.10 mechanism);
   the rest is sampled under the speech conditions.
3. The new motion is brought back to the input's frame rate and blended in over the margin on
   each side (slerp for rotations). Frames outside range + margin, and every channel of a
   locked part, are returned bit-identical.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rag_gesture_shared.protocol.regenerate import DEFAULT_MARGIN
from rag_gesture_shared.resample import resample_motion
from rag_gesture_shared.skeleton import LOCKABLE_PARTS, LOCKED_JOINTS
from rag_gesture_shared.speakers import resolve_speaker

from ..model.gesture_rep import canvas_slices, token_mask
from ..motion.kinematics import motion_contacts
from ..motion.motion import Motion
from ..motion.rotations import axis_angle_to_quaternion, quaternion_slerp, quaternion_to_axis_angle
from ..progress import ProgressFn, StopFn
from ..speech.frontend import SpeechFeatures
from ..windows import FPS, OVERLAP, WINDOW
from .assemble import Track, continue_translation, track_to_parts
from .engine import Engine, GenerateOptions, GenerationResult

CANVAS_PART = {"upper": "upper", "hands": "hands", "face": "face", "lower": "lowertrans"}


@dataclass
class RegenerateOptions(GenerateOptions):
    margin: float = DEFAULT_MARGIN  # seconds blended on each side of the range
    locks: tuple[str, ...] = ()
    smplx_model: Path | None = None


def _to_15(m: Motion) -> Track:
    """The motion at 15 fps (from 30 fps `resample` copies every other frame, the plain
    decimation of spec §1.1)."""
    r = m.resample(FPS)
    return Track(r.poses[None].astype(np.float32), r.trans[None].astype(np.float32),
                 r.expressions[None].astype(np.float32))


def _pad_to(track: Track, frames: int) -> Track:
    """Repeat the last frame so every window has 150 frames of motion to encode."""
    extra = frames - track.frames
    if extra <= 0:
        return track
    def rep(x: np.ndarray) -> np.ndarray:
        return np.concatenate([x, np.repeat(x[:, -1:], extra, axis=1)], axis=1)
    return Track(rep(track.poses), rep(track.trans), rep(track.expressions))


def _ramp(n: int, rising: bool) -> np.ndarray:
    """Smoothstep weights over n frames, excluding both ends (0 and 1)."""
    x = (np.arange(1, n + 1) / (n + 1)).astype(np.float64)
    w = x * x * (3 - 2 * x)
    return w if rising else w[::-1]


def _blend_into(orig: Motion, cand: dict[str, np.ndarray], a: int, b: int,
                margin: int) -> dict[str, np.ndarray]:
    """Original arrays with [a, b) from `cand`, ramped in/out over `margin` frames each side."""
    n = orig.num_frames
    lo, hi = max(0, a - margin), min(n, b + margin)
    w = np.zeros(n)
    w[a:b] = 1.0
    w[lo:a] = _ramp(a - lo, True)
    w[b:hi] = _ramp(hi - b, False)
    out = {"poses": orig.poses.copy(), "trans": orig.trans.copy(),
           "expressions": orig.expressions.copy()}
    idx = np.arange(lo, hi)
    full = idx[w[idx] >= 1.0]
    part = idx[(w[idx] > 0) & (w[idx] < 1.0)]
    for key in out:
        out[key][full] = cand[key][full]
    if len(part):
        q0 = axis_angle_to_quaternion(torch.from_numpy(orig.poses[part]).double())
        q1 = axis_angle_to_quaternion(torch.from_numpy(cand["poses"][part]).double())
        wt = torch.from_numpy(w[part]).view(-1, 1, 1)
        out["poses"][part] = quaternion_to_axis_angle(quaternion_slerp(q0, q1, wt)).numpy()
        wl = w[part][:, None]
        out["trans"][part] = orig.trans[part] * (1 - wl) + cand["trans"][part] * wl
        out["expressions"][part] = (orig.expressions[part] * (1 - wl)
                                    + cand["expressions"][part] * wl)
    return out


def regenerate(engine: Engine, speech: SpeechFeatures, motion: Motion, start: int, end: int,
               opts: RegenerateOptions | None = None, progress: ProgressFn | None = None,
               should_stop: StopFn | None = None) -> GenerationResult:
    """New motion for frames [start, end) of `motion` (its own frame rate), one per take."""
    opts = opts or RegenerateOptions()
    bad = [p for p in opts.locks if p not in LOCKABLE_PARTS]
    if bad:
        raise ValueError(f"unknown body part(s) {bad}; lockable parts are {list(LOCKABLE_PARTS)}")
    if set(opts.locks) == set(LOCKABLE_PARTS):
        raise ValueError("every body part is locked: there is nothing to regenerate")
    if not 0 <= start < end <= motion.num_frames:
        raise ValueError(f"the range [{start}, {end}) is not inside the motion's "
                         f"{motion.num_frames} frames")
    fps = motion.fps
    orig15 = _to_15(motion)
    m15 = int(np.ceil(opts.margin * FPS))
    r0 = max(0, int(np.floor(start / fps * FPS)) - m15)
    r1 = min(max(orig15.frames, speech.num_frames), int(np.ceil(end / fps * FPS)) + m15)
    starts = [w.start_frame for w in speech.windows]
    indices = [k for k, s in enumerate(starts) if s < r1 and s + WINDOW > r0]
    if not indices:
        raise ValueError("the range lies outside the speech; regenerate needs its audio")
    padded = _pad_to(orig15, starts[-1] + WINDOW)
    tokens = engine.model.tokens
    b = opts.takes
    held: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    gre = engine.model.gesture_rep_encoder
    slices = canvas_slices(tokens)
    for k in indices:
        s = starts[k]
        win = padded.slice(s, s + WINDOW)
        contacts = motion_contacts(win.poses[0], win.trans[0], opts.smplx_model)[None]
        with torch.inference_mode():
            with gre.fused_attention():
                z = gre.encode(track_to_parts(win, contacts, engine.device), sample=False)
        rows = torch.zeros(1, 4 * tokens + 3, dtype=torch.bool, device=engine.device)
        for j in range(tokens):
            a_f, b_f = s + OVERLAP * j, s + OVERLAP * (j + 1)
            if b_f <= r0 or a_f >= r1:
                for sl in slices.values():
                    rows[0, sl.start + j] = True
        for part in opts.locks:
            rows[0, slices[CANVAS_PART[part]]] = True
        rows &= token_mask(1, tokens, engine.device).bool()
        held[k] = (rows.expand(b, -1), z.expand(b, -1, -1))
    speaker = resolve_speaker(opts.speaker)
    first = starts[indices[0]]
    new = engine.sample_windows(speech, indices, opts, engine.schedule(opts.steps),
                                speaker.index, progress, should_stop, held)
    new = continue_translation(new, np.repeat(padded.trans[:, first], b, axis=0))
    results = []
    for i in range(b):
        base = _pad_to(orig15, first + new.frames)
        cand15 = Track(base.poses.copy(), base.trans.copy(), base.expressions.copy())
        lo, hi = r0, min(r1, first + new.frames)
        cand15.poses[0, lo:hi] = new.poses[i, lo - first:hi - first]
        cand15.trans[0, lo:hi] = new.trans[i, lo - first:hi - first]
        cand15.expressions[0, lo:hi] = new.expressions[i, lo - first:hi - first]
        p, t, e = (x.astype(np.float32) for x in resample_motion(
            cand15.poses[0], cand15.trans[0], cand15.expressions[0], FPS, fps))
        n = motion.num_frames
        if len(p) < n:  # resampling stops at the last 15-fps frame: hold it
            extra = n - len(p)
            p, t, e = (np.concatenate([x, np.repeat(x[-1:], extra, axis=0)]) for x in (p, t, e))
        cand = {"poses": p[:n], "trans": t[:n], "expressions": e[:n]}
        margin = int(round(opts.margin * fps))
        out = _blend_into(motion, cand, start, end, margin)
        for part in opts.locks:
            joints = list(LOCKED_JOINTS[part])
            out["poses"][:, joints] = motion.poses[:, joints]
            if part == "lower":
                out["trans"] = motion.trans.copy()
            if part == "face":
                out["expressions"] = motion.expressions.copy()
        results.append(Motion(poses=out["poses"], trans=out["trans"],
                              expressions=out["expressions"], fps=fps, betas=motion.betas,
                              gender=motion.gender, model=motion.model))
    info = {"range": [start, end], "margin_frames": int(round(opts.margin * fps)),
            "locks": list(opts.locks), "windows": [starts[k] for k in indices],
            "speaker": speaker.name, "seed": opts.seed, "steps": opts.steps}
    return GenerationResult(results, info)
