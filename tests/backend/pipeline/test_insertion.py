"""Pipeline insertion (spec §5.8-5.9): batched, cached inversion and planting of clips.

The official insertion run recorded in the parity fixtures is reproduced through these
pipeline-level functions, so the step the retrieval pipeline uses is pinned to the reference.
"""

from __future__ import annotations

import re

import torch

from backend.diffusion.ddim import ddim_sample
from backend.diffusion.schedule import Schedule
from backend.model.denoiser import StyleTable
from backend.model.guidance import GuidedDenoiser
from backend.parity.computations import computations, compute_path
from backend.pipeline.insertion import (
    InsertedClip,
    InversionCache,
    invert_clips,
    plant,
)


def _clip(golden, golden_meta, name="db/clip0") -> InsertedClip:
    call = golden_meta["entries"]["ins/final_latent"]["call"]
    retr = re.search(r"retr_startends:\[\{0:\((\d+),\s*(\d+)\)\}\]", call)
    query = re.search(r"query_startends:\[\{0:\((\d+),\s*(\d+)\)\}\]", call)
    return InsertedClip(name=name, latent=golden["inv/x0"], text=golden["inv/retr_text"][0].numpy(),
                        audio=golden["inv/retr_audio"][0].numpy(),
                        speaker=int(golden["inv/retr_spkid"][0, 0]),
                        retr=(int(retr[1]), int(retr[2])), query=(int(query[1]), int(query[2])))


def _schedule(small) -> Schedule:
    d = small.config.diffusion
    return Schedule.create(d.respace, d.diffusion_steps, d.beta_scheduler)


def test_official_insertion_run_is_reproduced(parity, small, golden, golden_meta):
    """The pipeline's insertion step (batched inversion, planting, replacement) computes
    exactly what the fast insertion path computes; test_parity_diffusion holds that path to
    the official run by the noise-floor rule."""
    m, schedule = small.model, _schedule(small)
    clip = _clip(golden, golden_meta)
    cache = InversionCache()
    (traj,) = invert_clips(m, small.config.guidance, schedule, [clip], cache)
    start = golden["ins/start_noise"]
    raw = start.clone()
    raw[:, clip.query[0]:clip.query[1]] = 0.0  # whatever was there is overwritten
    noise = golden["ins/q_sample_noise"]
    last = len(schedule) - 1
    x_t, rep = plant(raw, [clip], [traj], m.tokens, lambda k, like: noise[last - 1 - k])
    with torch.no_grad():
        win = m.prepare(m.encode_conditions(golden["inputs/text"][:1], golden["inputs/audio"][:1],
                                            golden["inputs/speaker_ids"][:1]))
        den = GuidedDenoiser(m, small.config.guidance, schedule, win,
                             StyleTable(m, schedule.timesteps.tolist()))
        final = ddim_sample(den, x_t, schedule, [rep])
    fx = parity.fx
    comp = next(c for c in computations(fx) if c.name == "ins")
    with torch.inference_mode(), compute_path(fx, "fast"):
        ref = comp.run(comp.inputs | comp.fixed, "fast")
    assert torch.equal(x_t, ref["ins/start_noise"])
    targets = ref["ins/inverted_latent_list_for_guidance"][:, 0]
    kept = [i * m.tokens + r for i in range(2) for r in range(*clip.retr)]  # traj rows used
    assert torch.equal(traj[:, kept], targets[:, rep.rows[0]])
    with torch.inference_mode(), compute_path(fx, "fast"):  # sampled from our planted rows
        ours = comp.run(comp.inputs | comp.fixed | {"ins/start_noise": x_t}, "fast")
    assert torch.equal(final, ours["ins/final_latent"])
    parity.check("ins", "fast")


def test_inversions_are_batched_and_cached(small, golden, golden_meta):
    m, schedule = small.model, _schedule(small)
    a = _clip(golden, golden_meta, "db/a")
    b = _clip(golden, golden_meta, "db/b")
    b.text = b.text[::-1].copy()  # other conditions -> another trajectory
    cache = InversionCache()
    ta, tb = invert_clips(m, small.config.guidance, schedule, [a, b], cache)
    assert cache.computed == 2
    alone = invert_clips(m, small.config.guidance, schedule, [b], InversionCache())[0]
    assert (tb - alone).abs().max() <= 1e-5 * alone.abs().max()  # batch size: rounding only
    assert not torch.allclose(ta[-1], tb[-1])
    again = invert_clips(m, small.config.guidance, schedule, [b, a], cache)
    assert cache.computed == 2  # nothing recomputed
    assert again[0] is tb and again[1] is ta


def test_engine_plants_clips_and_reports_them(small, golden, golden_meta):
    import numpy as np

    from backend.pipeline.engine import Engine, GenerateOptions
    from backend.speech.bert import WindowText
    from backend.speech.frontend import SpeechFeatures, WindowSpeech

    engine = Engine(small)
    rng = np.random.default_rng(0)
    windows = [WindowSpeech(i, s, rng.standard_normal((499, 768)).astype(np.float32),
                            WindowText(rng.standard_normal((150, 768)).astype(np.float32),
                                       np.zeros((2, 768), np.float32), "", []), [])
               for i, s in enumerate((0, 135))]
    speech = SpeechFeatures(windows, [], 19.0, 285, "transcript")
    clip = _clip(golden, golden_meta)
    clip.info = {"word": "because"}
    plain = engine.generate(speech, GenerateOptions(seed=2, steps=10))
    rag = engine.generate(speech, GenerateOptions(seed=2, steps=10), insertions={1: [clip]})
    again = engine.generate(speech, GenerateOptions(seed=2, steps=10), insertions={1: [clip]})
    assert engine.inversions.computed == 1  # the clip was inverted once for both runs
    assert rag.info["inserted"] == [{"window": 1, "clip": "db/clip0", "tokens": list(clip.query),
                                     "word": "because"}]
    a, b, c = plain.motions[0].poses, rag.motions[0].poses, again.motions[0].poses
    assert np.array_equal(b, c)
    assert np.array_equal(a[:2 * 135 - 30], b[:2 * 135 - 30])  # window 0 is untouched
    assert not np.array_equal(a, b)
