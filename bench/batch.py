"""Batch throughput: one `rag-gesture generate` process per line vs `rag-gesture batch` on Ray.

N short dialogue lines (default 16 of about 5 s of espeak-ng speech, their words as untimed
transcripts, so forced alignment runs), full-size random weights written in the official
layout (denoiser + four part VAEs, wav2vec2-base and BERT-base sizes), official 50 DDIM
steps, CPU. Runs lines as separate `rag-gesture --threads N generate` processes (the first
`--separate-lines`, once with T threads and once with 1 thread, which is faster when other
work shares the cores: OpenMP's busy waiting), then the whole manifest as one
`rag-gesture batch` with 1 actor x T threads and with T actors x 1 thread (a local Ray;
start-up and model loading included in every figure). Prints lines per minute for each, the
load average, and last the best batch over the best separate processes, e.g. `speedup 3.4x`
(goal >= 3).

    python bench/batch.py [--lines 16] [--seconds 5] [--threads 2] [--separate-lines 8]
"""

from __future__ import annotations

if __name__ == "__main__" and not __package__:
    import _script  # bench/ is sys.path[0] when a bench runs as a file

    _script.run_as_module(__file__)

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import torch
import yaml

from backend.machine import describe
from backend.model.config import DenoiserConfig
from backend.model.denoiser import RagGestureDenoiser
from bench.denoiser import full_vae_configs
from bench.speech import TEXT, full_size_models
from tests.support.parity_layout import PARTS, write_config_py
from tests.support.speech_audio import speak

ROOT = Path(__file__).resolve().parents[1]

FULL_MODEL_CFG = {
    "type": "ReGestureTransformer", "max_seq_len": 150, "frame_chunk_size": 15,
    "latent_dim": 512, "time_embed_dim": 2048, "num_layers": 8,
    "sa_block_cfg": {"num_heads": 16}, "ffn_cfg": {"ffn_dim": 1024, "dropout": 0.0},
    "text_encoder": {"latent_dim": 768}, "audio_encoder": {"latent_dim": 768},
    "speaker_embedding": {"num_speakers": 25}, "vae_cfg": {},
    "scale_func_cfg": {"coarse_scale": 6.5, "both_coef": 0.52351, "text_coef": -0.28419,
                       "retr_coef": 2.39872},
    "per_joint_scale": {"upper": 1.0, "hands": 1.0, "face": 1.0, "lowertransl": 1.0},
}
DIFFUSION_TEST = {"beta_scheduler": "scaled_linear", "diffusion_steps": 1000,
                  "model_mean_type": "start_x", "respace": "15,15,8,6,6",
                  "num_inference_timesteps": 50}


def full_size_weights(root: Path) -> Path:
    """Random full-size weights in the official layout (spec §10); returns the .pth path."""
    assert DenoiserConfig().latent_dim == FULL_MODEL_CFG["latent_dim"]
    torch.manual_seed(0)
    vaes = full_vae_configs()
    model = RagGestureDenoiser(DenoiserConfig(), vaes).eval()
    sd = {f"model.{k}": v for k, v in model.state_dict().items()}
    vae_paths = {}
    for part in PARTS:
        d = root / "experiments" / "vae" / f"full_{part}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"full_{part}.yaml").write_text(yaml.safe_dump(
            {**asdict(vaes[part]), "test_ckpt": f"/elsewhere/{part}_vae.bin"}))
        pre = f"model.gesture_rep_encoder.{part}_vae."
        torch.save({"model_state": {k[len(pre):]: v for k, v in sd.items() if k.startswith(pre)}},
                   d / f"{part}_vae.bin")
        vae_paths[part] = f"experiments/vae/full_{part}/full_{part}.yaml"
    run = root / "experiments" / "diffusion" / "full_run"
    run.mkdir(parents=True, exist_ok=True)
    write_config_py(run / "basegesture_len150_beat.py",
                    {"model": FULL_MODEL_CFG, "diffusion_test": DIFFUSION_TEST}, vae_paths)
    ckpt = run / "epoch_1.pth"
    torch.save({"meta": {"epoch": 1}, "state_dict": sd}, ckpt)
    return ckpt


def make_lines(folder: Path, n: int, seconds: float) -> list[dict]:
    """n lines of about `seconds` of speech each: consecutive word slices of TEXT."""
    words = TEXT.split()
    per = max(3, round(seconds * 2.6))  # espeak-ng at its default rate: ~2.6 words/s
    rows = []
    for i in range(n):
        text = " ".join(words[(i * per + k) % len(words)] for k in range(per))
        audio = speak(text, folder / f"line{i:02d}.wav")
        rows.append({"id": f"line{i:02d}", "audio": str(audio), "text": text})
    return rows


def run(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:6])} ... failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - t0


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--threads", type=int, default=2, help="cores to use (default 2)")
    ap.add_argument("--separate-lines", type=int, default=8,
                    help="lines timed as separate processes, per thread count (default 8)")
    args = ap.parse_args()
    print(f"machine: {describe()}")  # figures depend on it
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        t0 = time.perf_counter()
        ckpt = full_size_weights(tmp_path / "weights")
        w2v, bert = full_size_models(tmp_path)
        rows = make_lines(tmp_path, args.lines, args.seconds)
        manifest = tmp_path / "lines.jsonl"
        manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
        print(f"{args.lines} lines of ~{args.seconds:g} s speech, full-size random weights "
              f"({ckpt.stat().st_size / 1e9:.2f} GB checkpoint), set-up "
              f"{time.perf_counter() - t0:.0f} s; {cpu_model()}, {os.cpu_count()} cores, "
              f"torch {torch.__version__}")
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1",
               "RAY_USAGE_STATS_ENABLED": "0"}
        models = ["--checkpoint", str(ckpt), "--bert", str(bert), "--wav2vec", str(w2v),
                  "--device", "cpu", "--allow-mismatch"]
        py = [sys.executable, "-m", "backend.cli"]
        loads = [os.getloadavg()[0]]

        k = min(args.separate_lines, args.lines)
        separate = {}
        for threads in sorted({args.threads, 1}, reverse=True):
            t = sum(run([*py, "--threads", str(threads), "generate", r["audio"], "--text",
                         r["text"], *models, "-o", str(tmp_path / "single" / f"{r['id']}.npz")],
                        env) for r in rows[:k])
            separate[f"separate processes, {threads} thread(s) each"] = 60 * k / t
            print(f"separate processes, {threads} thread(s): {k} lines in {t:.1f} s "
                  f"({t / k:.2f} s per line)")
            loads.append(os.getloadavg()[0])
        results = dict(separate)
        for actors, threads in ((1, args.threads), (args.threads, 1)):
            out = tmp_path / f"batch_{actors}x{threads}"
            t = run([*py, "batch", str(manifest), "--out", str(out), "--actors", str(actors),
                     "--threads-per-actor", str(threads), "--no-progress", *models], env)
            report = [json.loads(x) for x in (out / "report.jsonl").read_text().splitlines()]
            assert sum(r["status"] == "done" for r in report) == args.lines, report
            busy = sum(r["seconds"] for r in report)
            results[f"batch, {actors} actor(s) x {threads} thread(s)"] = 60 * args.lines / t
            print(f"batch {actors}x{threads}: {args.lines} lines in {t:.1f} s (start-up "
                  f"included), {busy / args.lines:.2f} s of actor time per line")
            loads.append(os.getloadavg()[0])
        for name, rate in results.items():
            print(f"{name}: {rate:.1f} lines/min")
        print(f"load average during the runs: {', '.join(f'{x:.2f}' for x in loads)}")
        best = max(v for k, v in results.items() if k not in separate)
        print(f"speedup {best / max(separate.values()):.1f}x")


if __name__ == "__main__":
    main()
