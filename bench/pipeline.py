"""Whole pipeline speed: 60 s of speech -> motion, and a 2-s range regeneration, on CPU.

Full-size random weights for everything (denoiser + four VAEs as assumed in the parity
folder, wav2vec2-base and BERT-base sizes), espeak-ng speech with its text as an untimed
transcript, official 50 DDIM steps. Prints the stages, the seconds of a 2-s `regenerate`
(speech analysis cached, as in the worker; median of 3) with the official 50 steps and with
20, and the load average (timings on 2 shared cores move with it); the last
line is the real-time factor of plain generation, e.g. `rtf 0.47` (target <= 0.5;
regenerate target <= 2 s).

    python bench/pipeline.py [--threads 2] [--seconds 60]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from denoiser import full_vae_configs  # noqa: E402
from speech import full_size_models, long_speech  # noqa: E402

from backend.machine import describe  # noqa: E402
from backend.model.config import (  # noqa: E402
    DenoiserConfig,
    DiffusionConfig,
    GuidanceConfig,
    ModelConfig,  # noqa: E402
)
from backend.model.denoiser import RagGestureDenoiser  # noqa: E402
from backend.model.loading import LoadedModel  # noqa: E402
from backend.pipeline.engine import Engine, GenerateOptions  # noqa: E402
from backend.pipeline.regenerate import RegenerateOptions  # noqa: E402
from backend.pipeline.session import Session, SessionConfig, SpeechInput  # noqa: E402


def random_engine() -> Engine:
    torch.manual_seed(0)
    model = RagGestureDenoiser(DenoiserConfig(), full_vae_configs()).eval().requires_grad_(False)
    cfg = ModelConfig(DenoiserConfig(), GuidanceConfig(), DiffusionConfig(), {})
    loaded = LoadedModel(model, cfg, Path("random"), Path("random"), {}, {})
    return Engine(loaded, "cpu")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=60.0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {describe()}")  # figures depend on it
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
