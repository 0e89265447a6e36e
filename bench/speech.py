"""Speech front end speed: 60 s of speech -> conditions, word timings and prominence.

Full-size random wav2vec2-base (CTC head) and BERT-base configurations saved and reloaded
through `from_pretrained`, CPU, espeak-ng speech with its known text as an untimed
transcript (so forced alignment runs). Prints the time of each stage; the last line is the
real-time factor of the whole front end, e.g. `rtf 0.12` (target <= 0.15 here).

    python -m bench.speech [--threads 2] [--seconds 60]
"""

from __future__ import annotations

if __name__ == "__main__" and not __package__:  # `python bench/NAME.py`: rerun as module
    import _script  # bench/ is sys.path[0] when a bench runs as a file

    _script.run_as_module(__file__)

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from backend.machine import describe
from backend.speech.audio import audio_from_array, load_audio
from backend.speech.bert import BertWords
from backend.speech.frontend import SpeechFrontEnd
from backend.speech.transcripts import parse_text
from backend.speech.wav2vec import Wav2VecModel
from tests.support.speech_audio import speak
from tests.support.speech_models import make_bert, make_wav2vec

TEXT = ("When we started this project, nobody believed that a small team could build it. "
        "But we looked at the problem from a different angle, and we found three ideas that "
        "changed everything. First, the motion has to follow the words. Second, the hands "
        "should point where the speaker points. And finally, the animator must stay in "
        "control, because only the animator knows what the character wants to say. ")


def full_size_models(folder: Path) -> tuple[Path, Path]:
    """wav2vec2-base (CTC) and BERT-base sized random models, saved for from_pretrained."""
    words = sorted({w.strip(".,") for w in TEXT.split()})
    return (make_wav2vec(folder / "w2v", full=True),
            make_bert(folder / "bert", full=True, extra_words=words))


def long_speech(folder: Path, seconds: float) -> tuple[np.ndarray, str]:
    """`seconds` of espeak-ng speech (TEXT repeated) and the words actually spoken."""
    clip = load_audio(speak(TEXT, folder / "one.wav"))
    reps = int(np.ceil(seconds / clip.duration))
    samples = np.tile(clip.samples, reps)[: int(seconds * 16000)]
    all_words = TEXT.split() * reps
    keep = round(len(all_words) * seconds / (clip.duration * reps))
    return samples, " ".join(all_words[:keep])


def speech_bench_args(description: str) -> argparse.Namespace:
    """--threads and --seconds (of speech), for this bench and bench.pipeline; sets torch's
    thread count."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=60.0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {describe()}")  # figures depend on it
    return args


def main() -> None:
    args = speech_bench_args(__doc__.splitlines()[0])
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        t0 = time.perf_counter()
        w2v_dir, bert_dir = full_size_models(tmp_path)
        wav2vec, bert = Wav2VecModel(w2v_dir), BertWords(bert_dir)
        params = sum(p.numel() for p in wav2vec.model.parameters()) / 1e6
        bparams = sum(p.numel() for p in bert.model.parameters()) / 1e6
        print(f"models: wav2vec2-base CTC {params:.1f} M, BERT-base {bparams:.1f} M (random "
              f"weights), built and reloaded in {time.perf_counter() - t0:.1f} s")
        samples, text = long_speech(tmp_path, args.seconds)
        clip = audio_from_array(samples, 16000, "talk.wav")
        transcript = parse_text(text)
        print(f"audio: {clip.duration:.1f} s of espeak-ng speech, "
              f"{len(transcript.words)} transcript words, {torch.get_num_threads()} threads")

        stages: dict[str, float] = {}
        last = [time.perf_counter(), None]

        def progress(stage: str, fraction: float) -> None:
            now = time.perf_counter()
            if last[1] is not None and last[1] != stage:
                stages[last[1]] = stages.get(last[1], 0.0) + now - last[0]
                last[0] = now
            elif last[1] is None:
                last[0] = now
            last[1] = stage

        front = SpeechFrontEnd(wav2vec, bert)
        t0 = time.perf_counter()
        feats = front.analyse(clip, transcript, progress=progress, allow_mismatch=True)
        total = time.perf_counter() - t0
        stages[last[1]] = stages.get(last[1], 0.0) + time.perf_counter() - last[0]
        for stage, secs in stages.items():
            print(f"  {stage:15s} {secs:6.2f} s")
        print(f"{len(feats.windows)} windows, {len(feats.words)} words timed "
              f"({feats.timing_source}), total {total:.2f} s")
        print(f"rtf {total / clip.duration:.2f}")


if __name__ == "__main__":
    main()
