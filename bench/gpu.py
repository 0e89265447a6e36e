"""GPU acceptance: the full-size model on the GPU, checked against the CPU, and its speed.

Run once on a machine with an NVIDIA (CUDA) or Apple (MPS) GPU:

    python bench/gpu.py [--steps 50] [--seconds 60] [--threads N]

Full-size random weights (denoiser and the four VAEs, the same weights on both devices),
random speech features (no speech models needed), official 50 DDIM steps, seed 0. The noise
is drawn on the CPU and moved to the device (backend.diffusion.ddim.cpu_randn), so both
devices sample from the same noise. It prints:

* one 10-s window and a 60-s generation on the GPU: seconds per window (first call, with the
  one-off style table, and warm), real-time factor, peak GPU memory;
* host-device synchronisations during one window's 50 DDIM steps (CUDA's sync debug mode;
  the sampler is built to have none);
* the GPU motion against a CPU run of the same inputs and noise, per body part, next to the
  float32 noise floor: what a one-ulp change of the speech features does to the CPU run
  itself. Within 5x that floor is a pass (the rule of docs/fidelity.md).

The last line is the 60-s real-time factor on the GPU, `rtf X`; the exit code is 1 when a
check failed. Without a GPU it says so in one line, checks its own CPU path on a short
run (one window, a few steps) and exits 0.
"""

from __future__ import annotations

if __name__ == "__main__" and not __package__:  # `python bench/NAME.py`: rerun as module
    import _script  # bench/ is sys.path[0] when a bench runs as a file

    _script.run_as_module(__file__)

import argparse
import os
import sys
import time
import warnings
from dataclasses import replace

import numpy as np
import torch

from backend.device import pick_device
from backend.diffusion.ddim import cpu_randn, ddim_sample
from backend.pipeline.engine import Engine, GenerateOptions
from backend.speech.bert import WindowText
from backend.speech.frontend import SpeechFeatures, WindowSpeech
from backend.windows import FPS, frames_for_duration, window_starts
from bench.pipeline import random_engine

PARTS = {"body": slice(0, 22), "jaw and eyes": slice(22, 25), "hands": slice(25, 55)}
FLOOR_FACTOR = 5.0  # docs/fidelity.md: within 5x the one-ulp spread is the float32 floor


def random_speech(seconds: float, seed: int = 0) -> SpeechFeatures:
    """Speech features of `seconds` of audio: random wav2vec2 and BERT frames per window."""
    rng = np.random.default_rng(seed)
    frames = frames_for_duration(seconds)
    windows = []
    for i, start in enumerate(window_starts(frames)):
        text = WindowText(frames=rng.standard_normal((150, 768), dtype=np.float32),
                          tokens=np.zeros((2, 768), np.float32), sentence="", words=[])
        windows.append(WindowSpeech(i, start, rng.standard_normal((499, 768), dtype=np.float32),
                                    text, []))
    return SpeechFeatures(windows, [], seconds, frames, "transcript")


def nudged(speech: SpeechFeatures) -> SpeechFeatures:
    """The same features moved by one float32 ulp (the noise-floor probe)."""
    up = [replace(w, audio=np.nextafter(w.audio, np.float32(np.inf))) for w in speech.windows]
    return replace(speech, windows=up)


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()
    elif device == "mps":
        torch.mps.synchronize()


def timed_generate(engine: Engine, speech: SpeechFeatures, steps: int) -> tuple[float, dict]:
    """(seconds, {part: poses}) of one generation, waiting for the device at the end."""
    sync(engine.device)
    t0 = time.perf_counter()
    out = engine.generate(speech, GenerateOptions(seed=0, steps=steps))
    sync(engine.device)
    seconds = time.perf_counter() - t0
    m = out.motions[0]
    parts = {name: m.poses[:, s] for name, s in PARTS.items()}
    parts["root translation"] = m.trans
    parts["expressions"] = m.expressions
    return seconds, parts


def compare(name: str, got: dict, ref: dict, ref_nudged: dict) -> list[str]:
    """Print got-vs-ref per part next to the one-ulp floor; the failures as sentences."""
    failures = []
    print(f"{name}: max |GPU - CPU| per part, and the CPU's own one-ulp spread (floor)")
    for part in ref:
        diff = float(np.abs(got[part] - ref[part]).max())
        floor = float(np.abs(ref_nudged[part] - ref[part]).max())
        ok = diff <= FLOOR_FACTOR * max(floor, 1e-6)
        print(f"  {part:18s} {diff:10.3g}   floor {floor:10.3g}   "
              f"{'ok' if ok else 'OUTSIDE the float32 noise floor'}")
        if not ok:
            failures.append(f"{name}, {part}: GPU and CPU differ by {diff:.3g}, more than "
                            f"{FLOOR_FACTOR:g}x the floor {floor:.3g}")
    return failures


def count_syncs(engine: Engine, speech: SpeechFeatures, steps: int) -> int | None:
    """Host-device synchronisations CUDA reports during one window's DDIM steps (None where
    the device has no such report)."""
    if engine.device != "cuda":
        return None
    schedule = engine.schedule(steps)
    win = speech.windows[0]
    with torch.inference_mode():
        den = engine.denoiser(win.text.frames, win.audio, 0, 1, schedule)
        x = cpu_randn((1, 4 * engine.model.tokens + 3, engine.model.cfg.latent_dim),
                      torch.Generator().manual_seed(0), engine.device)
        ddim_sample(den, x, schedule)  # warm: caches on the device are made here
        torch.cuda.synchronize()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                ddim_sample(den, x, schedule)
            finally:
                torch.cuda.set_sync_debug_mode("default")
    syncs = [w for w in caught if "synchroniz" in str(w.message)]
    for w in syncs[:5]:
        print(f"  sync: {w.filename}:{w.lineno}: {w.message}")
    return len(syncs)


def peak_memory(device: str) -> str:
    if device == "cuda":
        return f"{torch.cuda.max_memory_allocated() / 2**20:.0f} MB"
    if device == "mps":
        return f"{torch.mps.driver_allocated_memory() / 2**20:.0f} MB (driver, at the end)"
    return "n/a"


def cpu_self_check(steps: int) -> None:
    """No GPU: run this bench's CPU half on one window, a few steps, and its own floor."""
    speech = random_speech(10.0)
    engine = random_engine("cpu")
    seconds, ref = timed_generate(engine, speech, steps)
    _, again = timed_generate(engine, speech, steps)
    _, moved = timed_generate(engine, nudged(speech), steps)
    same = all(np.array_equal(ref[p], again[p]) for p in ref)
    spread = max(float(np.abs(moved[p] - ref[p]).max()) for p in ref)
    if not same or not spread > 0:
        sys.exit(f"CPU path check failed: repeat identical {same}, one-ulp spread {spread}")
    print(f"CPU path checked: one 10-s window, {steps} steps in {seconds:.1f} s, repeatable, "
          f"one-ulp spread {spread:.3g}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=50, help="DDIM steps (50: the release)")
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the long run")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's choice)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device, note, _ = pick_device("auto")
    if device == "cpu":
        print(f"no GPU here ({note}); the GPU acceptance run needs CUDA or MPS")
        cpu_self_check(min(args.steps, 5))
        return 0

    print(f"torch {torch.__version__}, {note}, CPU threads {torch.get_num_threads()}, "
          f"{args.steps} DDIM steps, seed 0 (noise drawn on the CPU)")
    t0 = time.perf_counter()
    gpu, cpu = random_engine(device), random_engine("cpu")
    print(f"full-size random model built on both devices in {time.perf_counter() - t0:.1f} s")
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    failures: list[str] = []

    short, long = random_speech(10.0), random_speech(args.seconds, seed=1)
    first, g10 = timed_generate(gpu, short, args.steps)
    warm, _ = timed_generate(gpu, short, args.steps)
    print(f"10-s window on {device}: {first:.2f} s first call (incl. style table), "
          f"{warm:.2f} s warm")
    t_long, g60 = timed_generate(gpu, long, args.steps)
    n_win = len(long.windows)
    rtf = t_long / args.seconds
    print(f"{args.seconds:.0f}-s generation on {device}: {t_long:.2f} s, {n_win} windows, "
          f"{t_long / n_win:.2f} s per window, real-time factor {rtf:.3f}")
    print(f"peak {device} memory: {peak_memory(device)}")
    syncs = count_syncs(gpu, short, args.steps)
    if syncs is not None:
        print(f"host-device synchronisations during {args.steps} DDIM steps: {syncs}")
        if syncs:
            failures.append(f"{syncs} host-device synchronisations during sampling")

    c_first, c10 = timed_generate(cpu, short, args.steps)
    _, c10n = timed_generate(cpu, nudged(short), args.steps)
    print(f"10-s window on the CPU: {c_first:.2f} s (GPU speedup {c_first / warm:.1f}x)")
    failures += compare("10-s window", g10, c10, c10n)
    c_long, c60 = timed_generate(cpu, long, args.steps)
    _, c60n = timed_generate(cpu, nudged(long), args.steps)
    print(f"{args.seconds:.0f}-s generation on the CPU: {c_long:.2f} s "
          f"(GPU speedup {c_long / t_long:.1f}x), frames {len(c60['body'])} at "
          f"{2 * FPS} fps")
    failures += compare(f"{args.seconds:.0f}-s generation", g60, c60, c60n)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average {load:.2f}")
    for failure in failures:
        print(f"FAILED: {failure}")
    print(f"rtf {rtf:.3f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
