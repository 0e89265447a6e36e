"""A mini BEAT2-layout dataset (spec §5.2, §10) for database tests.

Tokens are spaced every 0.5 s: token i spans [0.5 i + 0.1, 0.5 i + 0.4]. Known connectives
(with Arg1 = the 4 tokens before, Arg2 = the 4 tokens after) and gesture labels are placed
at fixed token indices, listed in CLIPS.
"""

from __future__ import annotations

import csv
import json
import wave
from pathlib import Path

import numpy as np

REASON = "Contingency.Cause.Reason"
CONTRAST = "Comparison.Contrast"
FILLER = ("we", "talked", "about", "the", "plan", "today", "it", "was", "good", "really")

# clip id -> (split type, seconds, {token index: (connective, sense)}, sem lines)
CLIPS: dict[str, tuple[str, int, dict[int, tuple[str, str]], list[str]]] = {
    "2_scott_0_1_1": (
        "train",
        50,
        {24: ("because", REASON), 40: ("but", CONTRAST)},
        [
            "deictic_l\t12.5\t13.0\t0.5\t1\tthere",
            "iconic_h\t19.5\t20.5\t1.0\t1\tball",
            "beat_align\t3.0\t3.4\t0.4\t1\tthe",
            "nogesture\t1.0\t2.0\t1.0\t1\t",
        ],
    ),
    "2_scott_0_2_2": (
        "train",
        45,
        {},
        ["metaphoric_m\t30.2\t31.0\t0.8\t1\tidea"],
    ),
    "4_lawrence_0_3_3": (
        "train",
        40,
        {16: ("but", CONTRAST)},
        ["deictic_m\t6.0\t6.5\t0.5\t1\tthat"],
    ),
    "2_scott_0_4_4": ("additional", 42, {}, ["iconic_m\t2.0\t2.6\t0.6\t1\tbox"]),
    "2_scott_0_5_5": ("test", 40, {10: ("because", REASON)}, []),
}
CONNECTIVE_PROMINENCE = 2.5


def token_times(i: int) -> tuple[float, float]:
    return round(0.5 * i + 0.1, 3), round(0.5 * i + 0.4, 3)


def clip_tokens(clip: str) -> list[str]:
    _, seconds, conns, _ = CLIPS[clip]
    n = int(seconds / 0.5) - 1
    return [conns[i][0] if i in conns else FILLER[i % len(FILLER)] for i in range(n)]


def _discourse(clip: str) -> dict:
    tokens = clip_tokens(clip)
    sent = []
    for i, t in enumerate(tokens):
        s, e = token_times(i)
        sent.append({"surface": t, "startSec": s, "endSec": e})

    def ref(i: int) -> list[int]:
        return [4 * i, 4 * i + len(tokens[i]), i, 0, i]

    relations = []
    for i, (conn, sense) in CLIPS[clip][2].items():
        relations.append(
            {
                "Connective": {"RawText": conn, "TokenList": [ref(i)]},
                "Arg1": {"TokenList": [ref(k) for k in range(i - 4, i)]},
                "Arg2": {"TokenList": [ref(k) for k in range(i + 1, i + 5)]},
                "Sense": [sense],
                "Type": "Explicit",
            }
        )
    # an implicit relation (empty connective) must be ignored
    relations.append(
        {
            "Connective": {"RawText": "", "TokenList": []},
            "Arg1": {"TokenList": [ref(0)]},
            "Arg2": {"TokenList": [ref(1)]},
            "Sense": ["EntRel"],
            "Type": "EntRel",
        }
    )
    return {"sentences": [{"tokens": sent}], "relations": relations}


def _prom_lines(clip: str) -> str:
    lines = []
    conns = CLIPS[clip][2]
    for i, t in enumerate(clip_tokens(clip)):
        s, e = token_times(i)
        p = CONNECTIVE_PROMINENCE if i in conns else 0.5 + 0.01 * (i % 10)
        lines.append(f"{clip}\t{s:.3f}\t{e:.3f}\t{t}\t{p:.3f}\t0.000\n")
    return "".join(lines)


def _write_wav(path: Path, seconds: float, rate: int = 16000) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.zeros(int(seconds * rate), np.int16).tobytes())


def write_motion(path: Path, frames: int, fps: float = 30.0, seed: int = 0) -> None:
    """A 30-fps SMPL-X npz; frame k's pelvis x rotation is k * 1e-3 (to check decimation)."""
    rng = np.random.default_rng(seed)
    poses = (0.05 * rng.standard_normal((frames, 165))).astype(np.float32)
    poses[:, 0] = np.arange(frames, dtype=np.float32) * 1e-3
    with open(path, "wb") as fh:
        np.savez(
            fh,
            betas=np.zeros(300, np.float32),
            poses=poses,
            expressions=(0.01 * rng.standard_normal((frames, 100))).astype(np.float32),
            trans=(0.01 * rng.standard_normal((frames, 3))).astype(np.float32),
            model=np.array("smplx2020"),
            gender=np.array("neutral"),
            mocap_frame_rate=np.array(fps),
        )


def make_beat2(root: Path) -> Path:
    """Write the dataset under `root` and return `root`."""
    root = Path(root)
    for sub in ("smplxflame_30", "wave16k", "discourse_rels", "sem", "prom"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    with open(root / "train_test_split.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "type"])
        for clip, (kind, *_rest) in CLIPS.items():
            writer.writerow([clip, kind])
    for k, (clip, (_, seconds, _, sem)) in enumerate(CLIPS.items()):
        write_motion(root / "smplxflame_30" / f"{clip}.npz", seconds * 30, seed=k)
        _write_wav(root / "wave16k" / f"{clip}.wav", seconds)
        (root / "discourse_rels" / f"{clip}_whisper_relations.json").write_text(
            json.dumps(_discourse(clip)), encoding="utf-8"
        )
        (root / "sem" / f"{clip}.txt").write_text("\n".join(sem) + "\n", encoding="utf-8")
        (root / "prom" / f"{clip}.prom").write_text(_prom_lines(clip), encoding="utf-8")
    return root


def expected_windows(seconds: int) -> int:
    n15 = seconds * 15
    return (n15 - 150) // 75 + 1
