"""Denoiser speed: the official per-call computation vs. the fast layers generation uses.

Full-size configuration (spec §3.1, VAE yamls as assumed in the parity folder), random
weights, CPU. Prints ms per guided DDIM step and seconds per 50-step 10-s window for both
paths (fast = per-window contexts, per-timestep style table, folded cross-attention and null
branch, prepacked matrices: backend.model.fast_layer), the one-off table build, peak memory,
and how far apart the two final latents are (float32 rounding). Last line: the window
speedup, e.g. `speedup 5.0x`.

    python -m bench.denoiser [--threads 2] [--batch 1] [--steps 10]
"""

from __future__ import annotations

if __name__ == "__main__" and not __package__:  # `python bench/NAME.py`: rerun as module
    import _script  # bench/ is sys.path[0] when a bench runs as a file

    _script.run_as_module(__file__)

import argparse
import resource
import statistics
import time

import torch

from backend.diffusion.ddim import ddim_sample
from backend.diffusion.schedule import Schedule
from backend.machine import describe
from backend.model.config import DenoiserConfig, GuidanceConfig
from backend.model.denoiser import RagGestureDenoiser, StyleTable
from backend.model.gesture_rep import PART_ORDER
from backend.model.guidance import GuidedDenoiser
from backend.model.vae import VaeConfig
from tests.support.parity_layout import parity_dir


def full_vae_configs() -> dict[str, VaeConfig]:
    """The parity folder's assumed full-size yamls, or the same values built in."""
    folder = parity_dir() / "full_vae_yaml_assumed"
    nfeats = {"upper": 78, "lowertrans": 61, "face": 106, "hands": 180}
    heads = {"upper": 4, "lowertrans": 8, "face": 4, "hands": 4}
    return {p: VaeConfig.from_yaml(folder / f"{p}.yaml") if (folder / f"{p}.yaml").is_file()
            else VaeConfig(nfeats=nfeats[p], num_heads=heads[p]) for p in PART_ORDER}


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_steps(den: GuidedDenoiser, x: torch.Tensor, n: int) -> float:
    """Median ms of one guided network call over n spaced steps (after 2 warm-up calls)."""
    for k in (49, 48):
        den(x, k)
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        den(x, 47 - i % 47)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=1, help="takes per window")
    ap.add_argument("--steps", type=int, default=10, help="timed single steps per mode")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {describe()}")  # figures depend on it
    torch.manual_seed(0)

    t0 = time.perf_counter()
    model = RagGestureDenoiser(DenoiserConfig(), full_vae_configs()).eval().requires_grad_(False)
    n_params = sum(p.numel() for n, p in model.named_parameters()
                   if not n.startswith("gesture_rep_encoder."))
    print(f"torch {torch.__version__}, {args.threads} threads, batch {args.batch}")
    print(f"full-size denoiser: {n_params / 1e6:.1f} M parameters (random), "
          f"built in {time.perf_counter() - t0:.1f} s")
    schedule = Schedule.create()
    guidance = GuidanceConfig()
    b = args.batch
    gen = torch.Generator().manual_seed(1)
    text = torch.randn(b, 150, 768, generator=gen)
    audio = torch.randn(b, 499, 768, generator=gen)
    spk = torch.full((b, 150), 3, dtype=torch.long)
    noise = torch.randn(b, 43, 512, generator=gen)

    results: dict[str, dict[str, float]] = {}
    finals: dict[str, torch.Tensor] = {}
    with torch.inference_mode():
        xf = model.encode_conditions(text, audio, spk)
        t0 = time.perf_counter()
        table = StyleTable(model, schedule.timesteps.tolist())
        table_s = time.perf_counter() - t0
        print(f"style table for {len(schedule)} timesteps (once per model and schedule): "
              f"{table_s:.2f} s")
        for mode, cache in (("official", False), ("fast", True)):
            den = GuidedDenoiser(model, guidance, schedule,
                                 model.prepare(xf, cache=cache), table if cache else None)
            ms = time_steps(den, noise, args.steps)
            t0 = time.perf_counter()
            win = model.prepare(xf, cache=cache)  # per-window work is part of the window
            den = GuidedDenoiser(model, guidance, schedule, win, table if cache else None)
            finals[mode] = ddim_sample(den, noise, schedule)
            window_s = time.perf_counter() - t0
            results[mode] = {"ms": ms, "window": window_s}
            print(f"{mode:12s}: {ms:7.1f} ms per guided DDIM step (both branches), "
                  f"{window_s:6.2f} s per 50-step 10-s window, peak RSS {peak_mb():.0f} MB")
    diff = (finals["official"] - finals["fast"]).abs().max().item()
    scale = finals["official"].abs().max().item()
    print(f"max |official - fast| on the final latent: {diff:.3g} (latent scale {scale:.3g})")
    step_ratio = results["official"]["ms"] / results["fast"]["ms"]
    ratio = results["official"]["window"] / results["fast"]["window"]
    print(f"per-step speedup {step_ratio:.2f}x; first-window speedup incl. table "
          f"{results['official']['window'] / (results['fast']['window'] + table_s):.2f}x")
    print(f"peak memory {peak_mb():.0f} MB")
    print(f"speedup {ratio:.1f}x")


if __name__ == "__main__":
    main()
