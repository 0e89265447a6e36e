"""Whole pipeline speed: 60 s of speech -> motion, and a 2-s range regeneration, on CPU.

Full-size random weights for everything (denoiser + four VAEs as assumed in the parity
folder, wav2vec2-base and BERT-base sizes), espeak-ng speech with its text as an untimed
transcript, official 50 DDIM steps. Prints the stages, the seconds of a 2-s `regenerate`
(speech analysis cached, as in the worker; median of 3) with the official 50 steps and with
20, and the load average (timings on 2 shared cores move with it); the last
line is the real-time factor of plain generation, e.g. `rtf 0.47` (target <= 0.5;
regenerate target <= 2 s).

    python -m bench.pipeline [--threads 2] [--seconds 60]
"""

from __future__ import annotations

if __name__ == "__main__" and not __package__:  # `python bench/NAME.py`: rerun as module
    import _script  # bench/ is sys.path[0] when a bench runs as a file

    _script.run_as_module(__file__)

import os
import statistics
import tempfile
import time
from pathlib import Path

import soundfile as sf
import torch

from backend.model.config import (
    DenoiserConfig,
    DiffusionConfig,
    GuidanceConfig,
    ModelConfig,
)
from backend.model.denoiser import RagGestureDenoiser
from backend.model.loading import LoadedModel
from backend.pipeline.engine import Engine, GenerateOptions
from backend.pipeline.regenerate import RegenerateOptions
from backend.pipeline.session import Session, SessionConfig
from bench.denoiser import full_vae_configs
from bench.speech import full_size_models, long_speech, speech_bench_args
from rag_gesture_shared.protocol.speech import SpeechInput


def random_engine(device: str = "cpu") -> Engine:
    """The full-size model with random weights (the same weights on every call: built on
    the CPU from seed 0, then moved to `device`)."""
    torch.manual_seed(0)
    model = RagGestureDenoiser(DenoiserConfig(), full_vae_configs()).eval().requires_grad_(False)
    cfg = ModelConfig(DenoiserConfig(), GuidanceConfig(), DiffusionConfig(), {})
    loaded = LoadedModel(model, cfg, Path("random"), Path("random"), {}, {})
    return Engine(loaded, device)


def main() -> None:
    args = speech_bench_args(__doc__.splitlines()[0])
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        w2v, bert = full_size_models(tmp_path)
        samples, text = long_speech(tmp_path, args.seconds)
        sf.write(tmp_path / "talk.wav", samples, 16000)
        src = SpeechInput(tmp_path / "talk.wav", text=text, allow_mismatch=True)
        keep = len(text.split())
        print(f"{args.seconds:.0f} s of espeak-ng speech, {keep} words, "
              f"{torch.get_num_threads()} threads, torch {torch.__version__}")
        session = Session(SessionConfig(bert=bert, wav2vec=w2v, device="cpu"))
        session._engine = random_engine()
        t0 = time.perf_counter()
        speech = session.speech(src)
        t_speech = time.perf_counter() - t0
        t0 = time.perf_counter()
        out = session.generate(src, GenerateOptions(seed=0))
        t_gen = time.perf_counter() - t0
        motion = out.motions[0]
        a, b = int(20 * motion.fps), int(22 * motion.fps)
        regen: dict[int, list[float]] = {}
        for steps in (50, 20):
            for _ in range(3):
                t0 = time.perf_counter()
                session.regenerate(src, motion, a, b,
                                   RegenerateOptions(seed=1, margin=0.25, steps=steps))
                regen.setdefault(steps, []).append(time.perf_counter() - t0)
        total = t_speech + t_gen
        print(f"speech {t_speech:.2f} s, generation {t_gen:.2f} s ({len(speech.windows)} "
              f"windows, 50 DDIM steps), total {total:.2f} s")
        for steps, times in regen.items():
            print(f"2-s regenerate, {steps} steps: median {statistics.median(times):.2f} s "
                  f"(runs {', '.join(f'{t:.2f}' for t in times)})")
        print(f"load average {os.getloadavg()[0]:.2f}")
        print(f"rtf {total / args.seconds:.2f}")

if __name__ == "__main__":
    main()
