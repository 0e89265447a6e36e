"""Decoded windows -> one continuous 15-fps motion, and motion -> the VAEs' per-part layout.

Stitching (spec §6) blends the last 15 frames two windows share: rotations in 6D (then
re-orthonormalised), expressions and translation linearly, with w_new = linspace(0, 1, 15).
Fix over the official code: each window's x/z translation is window-relative; we offset it
by where the motion already is, so the character does not jump back at every window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rag_gesture_shared.skeleton import FACE, HANDS, LOWER, NUM_JOINTS, UPPER

from ..model.gesture_rep import PartMotion
from ..motion.rotations import axis_angle_to_6d, rotation_6d_to_axis_angle
from ..windows import OVERLAP


@dataclass
class Track:
    """Motions at 15 fps as arrays: poses (B,T,55,3), trans (B,T,3), expressions (B,T,100)."""

    poses: np.ndarray
    trans: np.ndarray
    expressions: np.ndarray

    @property
    def frames(self) -> int:
        return self.poses.shape[1]

    def slice(self, a: int, b: int) -> Track:
        return Track(self.poses[:, a:b], self.trans[:, a:b], self.expressions[:, a:b])


def parts_to_track(p: PartMotion) -> Track:
    """Decoder output -> full 55-joint poses (eyes stay zero, spec §7)."""
    b, t = p.upper.shape[:2]
    poses = torch.zeros(b, t, NUM_JOINTS, 3, dtype=p.upper.dtype)
    poses[:, :, list(UPPER)] = p.upper.reshape(b, t, -1, 3).cpu()
    poses[:, :, list(LOWER)] = p.lower.reshape(b, t, -1, 3).cpu()
    poses[:, :, list(HANDS)] = p.hands.reshape(b, t, -1, 3).cpu()
    poses[:, :, list(FACE)] = p.jaw.reshape(b, t, -1, 3).cpu()
    return Track(poses.numpy(), p.trans.cpu().numpy(), p.expressions.cpu().numpy())


def track_to_parts(track: Track, contacts: np.ndarray,
                   device: torch.device | str = "cpu") -> PartMotion:
    """Full poses -> the per-part axis-angle layout the VAE encoders take."""
    def t(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device)

    b, n = track.poses.shape[:2]

    def part(idx: tuple[int, ...]) -> torch.Tensor:
        return t(track.poses[:, :, list(idx)].reshape(b, n, -1))

    return PartMotion(upper=part(UPPER), lower=part(LOWER), jaw=part(FACE), hands=part(HANDS),
                      trans=t(track.trans), expressions=t(track.expressions), contacts=t(contacts))


def blend_tracks(a: Track, b: Track, w_b: np.ndarray) -> Track:
    """Per-frame blend of two equally long tracks: rotations in 6D, the rest linearly."""
    w = torch.from_numpy(w_b.astype(np.float32))
    d6a = axis_angle_to_6d(torch.from_numpy(a.poses.astype(np.float32)))
    d6b = axis_angle_to_6d(torch.from_numpy(b.poses.astype(np.float32)))
    wr = w.view(1, -1, 1, 1)
    poses = rotation_6d_to_axis_angle(d6a * (1 - wr) + d6b * wr, reference=True).numpy()
    wl = w_b.reshape(1, -1, 1).astype(np.float32)
    return Track(poses, a.trans * (1 - wl) + b.trans * wl,
                 a.expressions * (1 - wl) + b.expressions * wl)


def continue_translation(new: Track, at: np.ndarray) -> Track:
    """Offset a window's window-relative x/z translation to start at `at` (B,3); y is absolute."""
    trans = new.trans.copy()
    delta = at[:, [0, 2]] - trans[:, 0, [0, 2]]
    trans[:, :, [0, 2]] += delta[:, None, :]
    return Track(new.poses, trans, new.expressions)


def stitch(done: Track | None, new: Track, start: int) -> Track:
    """Append a window starting at frame `start` of `done`; blend the last 15 shared frames."""
    if done is None:
        return new
    shared = done.frames - start
    if shared < OVERLAP:
        raise ValueError(f"windows must share at least {OVERLAP} frames, got {shared}")
    new = continue_translation(new, done.trans[:, start])
    keep = done.frames - OVERLAP
    w = np.linspace(0.0, 1.0, OVERLAP)
    mixed = blend_tracks(done.slice(keep, done.frames), new.slice(shared - OVERLAP, shared), w)
    rest = new.slice(shared, new.frames)
    return Track(*(np.concatenate([x, y, z], axis=1) for x, y, z in zip(
        (done.poses[:, :keep], done.trans[:, :keep], done.expressions[:, :keep]),
        (mixed.poses, mixed.trans, mixed.expressions),
        (rest.poses, rest.trans, rest.expressions), strict=True)))
