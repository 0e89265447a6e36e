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
* the GPU motion against a CPU run of the same inputs and noise, per body part, by the
  parity rule (backend/parity/criterion.py, docs/fidelity.md#the-parity-rule): the floor is
  what moving every speech feature one ulp up, or down, does to the CPU run itself; the GPU
  passes where |GPU - CPU| <= K * floor + ABS_FLOOR, frame by frame (axis-angle poses as
  whole parts, as the rule judges them).

The first line describes the machine (backend.machine); the last line is the 60-s real-time
factor on the GPU, `rtf X`; the exit code is 1 when a check failed. Without a GPU it says so
in one line, then checks its own comparison on the CPU on a short run (one window, a few
steps): the prepacked oneDNN layers against the plain `F.linear` ones a GPU runs, by the
same rule, and exits 0.
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
from backend.machine import describe
from backend.model.fast_layer import plain_kernels
from backend.parity.criterion import DIRECTIONS, LOCAL, EntryResult, judge, row_diffs
from backend.pipeline.engine import Engine, GenerateOptions
from backend.speech.bert import WindowText
from backend.speech.frontend import SpeechFeatures, WindowSpeech
from backend.windows import FPS, frames_for_duration, window_starts
from bench.pipeline import random_engine

PARTS = {"body": slice(0, 22), "jaw and eyes": slice(22, 25), "hands": slice(25, 55)}
AXIS_ANGLE = set(PARTS)  # judged as whole parts (the parity rule's axis-angle exception)


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


def nudged(speech: SpeechFeatures, direction: float) -> SpeechFeatures:
    """The same features, every float one ulp toward `direction` (the noise-floor probe)."""
    def move(a: np.ndarray) -> np.ndarray:
        return np.nextafter(a, np.float32(direction))

    return replace(speech, windows=[
        replace(w, audio=move(w.audio), text=replace(w.text, frames=move(w.text.frames),
                                                     tokens=move(w.text.tokens)))
        for w in speech.windows])


def floor_runs(engine: Engine, speech: SpeechFeatures, steps: int) -> list[dict]:
    """The CPU run of the nudged features, one per direction of the parity rule."""
    return [timed_generate(engine, nudged(speech, d), steps)[1] for d in DIRECTIONS]


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


def judge_parts(name: str, path: str, got: dict, ref: dict, moved: list[dict]
                ) -> list[EntryResult]:
    """`got` against the CPU run `ref` by the parity rule, one result per part; the floor of
    each frame is the larger of the two nudged runs' distances from `ref`."""
    out = []
    for part in ref:
        r = torch.from_numpy(np.asarray(ref[part]))
        errors = row_diffs(torch.from_numpy(np.asarray(got[part])), r)
        floors = torch.stack([row_diffs(torch.from_numpy(np.asarray(m[part])), r)
                              for m in moved]).amax(0)
        out.append(judge(f"{name}: {part}", path, LOCAL, errors, floors,
                         whole=part in AXIS_ANGLE))
    return out


def compare(name: str, path: str, got: dict, ref: dict, moved: list[dict]) -> list[str]:
    """Print `got` against the CPU run per part by the parity rule; the failures."""
    print(f"{name}: {path} against the CPU, per part (error, one-ulp floor, allowed)")
    failures = []
    for res in judge_parts(name, path, got, ref, moved):
        print(f"  {res.describe()}  {'ok' if res.passed else 'OUTSIDE the noise floor'}")
        if not res.passed:
            failures.append(res.describe())
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
    """No GPU: this bench's comparison on one window, a few steps: the CPU's prepacked
    oneDNN layers against the plain `F.linear` layers a GPU runs, by the parity rule."""
    speech = random_speech(10.0)
    engine = random_engine("cpu")
    seconds, ref = timed_generate(engine, speech, steps)
    _, again = timed_generate(engine, speech, steps)
    moved = floor_runs(engine, speech, steps)
    with plain_kernels():
        _, plain = timed_generate(random_engine("cpu"), speech, steps)
    same = all(np.array_equal(ref[p], again[p]) for p in ref)
    spread = max(float(np.abs(m[p] - ref[p]).max()) for m in moved for p in ref)
    failures = compare("10-s window", "F.linear", plain, ref, moved)
    if not same or not spread > 0 or failures:
        sys.exit(f"CPU path check failed: repeat identical {same}, one-ulp spread {spread:.3g}"
                 + "".join(f"; {f}" for f in failures))
    print(f"CPU path checked: one 10-s window, {steps} steps in {seconds:.1f} s, repeatable, "
          f"one-ulp spread {spread:.3g}, F.linear layers within the noise floor")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=50, help="DDIM steps (50: the release)")
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the long run")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's choice)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"machine: {describe()}")  # figures depend on it
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
    print(f"10-s window on the CPU: {c_first:.2f} s (GPU speedup {c_first / warm:.1f}x)")
    failures += compare("10-s window", device, g10, c10, floor_runs(cpu, short, args.steps))
    c_long, c60 = timed_generate(cpu, long, args.steps)
    print(f"{args.seconds:.0f}-s generation on the CPU: {c_long:.2f} s "
          f"(GPU speedup {c_long / t_long:.1f}x), frames {len(c60['body'])} at "
          f"{2 * FPS} fps")
    failures += compare(f"{args.seconds:.0f}-s generation", device, g60, c60,
                        floor_runs(cpu, long, args.steps))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average {load:.2f}")
    for failure in failures:
        print(f"FAILED: {failure}")
    print(f"rtf {rtf:.3f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
