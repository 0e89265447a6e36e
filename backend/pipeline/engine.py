"""Speech features -> SMPL-X motion with the released model: the method's recipe, per window.

For every 10-s window (backend.windows): encode the conditions once, draw the start noise,
hold the tokens shared with the previous window to that window's result by replacement at
every step (spec §6 / §5.10), run DDIM with the two-branch guidance, decode the four parts,
and stitch. Several takes run as one batch. Output: 15 fps internally, 30 fps by the
official up-sampling (spec §7), any other rate by resampling.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import torch

from rag_gesture_shared.protocol.generate import DEFAULT_FPS
from rag_gesture_shared.protocol.sampling import OFFICIAL_STEPS
from rag_gesture_shared.speakers import DEFAULT_SPEAKER, resolve_speaker

from ..diffusion.ddim import Replacement, cpu_randn, ddim_sample, gaussian_noise
from ..diffusion.schedule import Schedule, respace_for_steps
from ..model.denoiser import StyleTable
from ..model.gesture_rep import canvas_slices
from ..model.guidance import GuidedDenoiser
from ..model.loading import LoadedModel
from ..motion.motion import Motion
from ..motion.resample import upsample_15_to_30
from ..progress import ProgressFn, StopFn
from ..speech.frontend import SpeechFeatures
from ..windows import WINDOW, overlap_tokens
from .assemble import Track, parts_to_track, stitch
from .insertion import InsertedClip, InversionCache, invert_clips, plant


@dataclass
class GenerateOptions:
    speaker: str | int = DEFAULT_SPEAKER.index
    seed: int = 0
    takes: int = 1
    steps: int = OFFICIAL_STEPS
    fps: float = DEFAULT_FPS


@dataclass
class GenerationResult:
    motions: list[Motion]  # one per take
    info: dict = field(default_factory=dict)


def carried_rows(tokens: int, count: int) -> list[int]:
    """Canvas rows of the first `count` tokens of every part."""
    return [r for s in canvas_slices(tokens).values() for r in range(s.start, s.start + count)]


class Engine:
    """A loaded model plus the caches that make repeated requests fast."""

    def __init__(self, loaded: LoadedModel, device: str = "cpu") -> None:
        self.loaded = loaded
        self.model = loaded.model.to(device)
        self.device = device
        self._styles: dict[str, StyleTable] = {}
        self._schedules: dict[str, Schedule] = {}
        # in memory for this process; clips from a database also carry its disk store
        self.inversions = InversionCache()

    # ----- shared pieces -----------------------------------------------------------------
    def schedule(self, steps: int) -> Schedule:
        d = self.loaded.config.diffusion
        respace = d.respace if steps == d.num_inference_timesteps else respace_for_steps(
            steps, d.respace, d.diffusion_steps)
        if respace not in self._schedules:
            self._schedules[respace] = Schedule.create(respace, d.diffusion_steps,
                                                       d.beta_scheduler)
        return self._schedules[respace]

    def styles(self, schedule: Schedule, should_stop: StopFn | None = None) -> StyleTable:
        """Cached per schedule; building one is cancellable."""
        key = ",".join(map(str, schedule.timesteps))
        if key not in self._styles:
            with torch.inference_mode():
                self._styles[key] = StyleTable(self.model, schedule.timesteps.tolist(),
                                               should_stop)
        return self._styles[key]

    def denoiser(self, text: np.ndarray, audio: np.ndarray, speaker: int, batch: int,
                 schedule: Schedule, should_stop: StopFn | None = None) -> GuidedDenoiser:
        dev = self.device
        t = torch.from_numpy(np.ascontiguousarray(text, np.float32)).to(dev)[None]
        a = torch.from_numpy(np.ascontiguousarray(audio, np.float32)).to(dev)[None]
        spk = torch.full((batch, WINDOW), speaker, dtype=torch.long, device=dev)
        xf = self.model.encode_conditions(t.expand(batch, -1, -1), a.expand(batch, -1, -1), spk)
        win = self.model.prepare(xf, cache=True)
        return GuidedDenoiser(self.model, self.loaded.config.guidance, schedule, win,
                              self.styles(schedule, should_stop))

    def to_motions(self, track: Track, duration: float, fps: float) -> list[Motion]:
        """15-fps batch track -> one Motion per take at `fps` (30 fps by the official path)."""
        b, n = track.poses.shape[:2]
        poses, exp, trans = upsample_15_to_30(
            torch.from_numpy(track.poses.reshape(b, n, -1).astype(np.float32)),
            torch.from_numpy(track.expressions.astype(np.float32)),
            torch.from_numpy(track.trans.astype(np.float32)))
        keep = min(2 * n, max(1, int(np.ceil(round(duration * 30, 6)))))
        out = []
        for i in range(b):
            m = Motion(poses=poses[i, :keep].reshape(keep, -1, 3).numpy(),
                       trans=trans[i, :keep].numpy(), expressions=exp[i, :keep].numpy(),
                       fps=30.0)
            out.append(m if abs(fps - 30.0) < 1e-9 else m.resample(fps))
        return out

    # ----- generate ----------------------------------------------------------------------
    def generate(self, speech: SpeechFeatures, opts: GenerateOptions | None = None,
                 progress: ProgressFn | None = None, should_stop: StopFn | None = None,
                 insertions: dict[int, list[InsertedClip]] | None = None) -> GenerationResult:
        """`insertions[k]`: retrieved clips planted into window k (spec §5.8-5.9)."""
        opts = opts or GenerateOptions()
        if opts.takes < 1:
            raise ValueError("takes must be at least 1")
        speaker = resolve_speaker(opts.speaker)
        schedule = self.schedule(opts.steps)
        track = self.sample_windows(speech, range(len(speech.windows)), opts, schedule,
                                    speaker.index, progress, should_stop,
                                    insertions=insertions)
        track = track.slice(0, speech.num_frames)
        motions = self.to_motions(track, speech.duration, opts.fps)
        info = {"speaker": speaker.name, "speaker_index": speaker.index, "seed": opts.seed,
                "takes": opts.takes, "steps": opts.steps,
                "official_schedule": len(schedule) == OFFICIAL_STEPS,
                "windows": len(speech.windows), "device": self.device,
                "timing_source": speech.timing_source, "warnings": list(speech.warnings),
                "inserted": [{"window": k, "clip": c.name, "tokens": list(c.query), **c.info}
                             for k, clips in sorted((insertions or {}).items())
                             for c in clips]}
        return GenerationResult(motions, info)

    def sample_windows(self, speech: SpeechFeatures, indices: Iterable[int],
                       opts: GenerateOptions, schedule: Schedule, speaker: int,
                       progress: ProgressFn | None, should_stop: StopFn | None,
                       held: dict[int, tuple[torch.Tensor, torch.Tensor]] | None = None,
                       insertions: dict[int, list[InsertedClip]] | None = None) -> Track:
        """Sample the given consecutive windows; `held[k]` = (rows (B,43) bool, clean target),
        `insertions[k]` = clips planted into window k (their rows win over carried tokens)."""
        indices = list(indices)
        gen = torch.Generator().manual_seed(opts.seed)  # on the CPU: same noise on any device
        noise = gaussian_noise(gen)
        tokens = self.model.tokens
        d = self.model.cfg.latent_dim
        b = opts.takes
        done: Track | None = None
        prev_latent: torch.Tensor | None = None
        starts = [w.start_frame for w in speech.windows]
        first_start = starts[indices[0]]
        for n, k in enumerate(indices):
            win = speech.windows[k]

            def step(kk: int, *_: object, n: int = n) -> None:
                if progress is not None:
                    progress("generating", (n + (len(schedule) - kk) / len(schedule))
                             / len(indices))

            with torch.inference_mode():
                den = self.denoiser(win.text.frames, win.audio, speaker, b, schedule,
                                    should_stop)
                x_t = cpu_randn((b, 4 * tokens + 3, d), gen, self.device)
                rows = torch.zeros(b, 4 * tokens + 3, dtype=torch.bool, device=self.device)
                target = torch.zeros_like(x_t)
                if held and k in held:
                    rows |= held[k][0]
                    target = torch.where(held[k][0][..., None], held[k][1], target)
                if prev_latent is not None:
                    shared = overlap_tokens(starts[indices[n - 1]], win.start_frame)
                    carry = carried_rows(tokens, shared)
                    src = [r + tokens - shared for r in carry]
                    rows[:, carry] = True
                    target[:, carry] = prev_latent[:, src]
                reps = [Replacement(rows, target, noise)] if rows.any() else []
                if insertions and insertions.get(k):
                    clips = insertions[k]
                    trajs = invert_clips(self.model, self.loaded.config.guidance, schedule,
                                         clips, self.inversions, should_stop,
                                         lambda: self.styles(schedule, should_stop))
                    x_t, planted = plant(x_t, clips, trajs, tokens, noise)
                    reps.append(planted)
                z = ddim_sample(den, x_t, schedule, reps, on_step=step, should_stop=should_stop)
                prev_latent = z
                gre = self.model.gesture_rep_encoder
                with gre.fused_attention():
                    new = parts_to_track(gre.decode(z))
            done = stitch(done, new, win.start_frame - first_start)
        assert done is not None
        return done
