"""Everything a long-lived process keeps loaded: the model, the speech models, recent speech.

The command line and the worker both go through a Session: it resolves the weights, loads
the models once, caches the speech analysis of the last few recordings (regenerating a range
of the same line must not re-run wav2vec2), and turns requests into engine calls.
"""

from __future__ import annotations

import hashlib
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from ..model.loading import load_official
from ..motion.motion import Motion
from ..progress import ProgressFn, StopFn
from ..speech.audio import AudioError, load_audio
from ..speech.bert import BertWords
from ..speech.frontend import SpeechFeatures, SpeechFrontEnd
from ..speech.pretrained import BERT_NAME, WAV2VEC_NAME
from ..speech.transcripts import parse_text, read_transcript
from ..speech.wav2vec import Wav2VecModel
from ..speech.words import Phrase, Transcript, Word
from ..weights import locate, missing_weights_message
from .engine import Engine, GenerateOptions, GenerationResult, pick_device
from .regenerate import RegenerateOptions, regenerate


class WeightsMissingError(RuntimeError):
    """No usable RAG-Gesture weights; the message names the fix."""


@dataclass
class SessionConfig:
    weights: str | Path | None = None  # folder containing experiments/ (official layout)
    checkpoint: str | Path | None = None  # or an explicit diffusion checkpoint
    bert: str | Path = BERT_NAME
    wav2vec: str | Path = WAV2VEC_NAME
    device: str = "auto"
    smplx_model: str | Path | None = None
    allow_download: bool = False


@dataclass
class SpeechInput:
    """Where the words come from: a transcript file, typed text, timed words or phrases."""

    audio: str | Path
    transcript: str | Path | None = None
    text: str | None = None
    words: list[dict] | None = None  # [{word, start, end}]
    phrases: list[dict] | None = None  # [{text, start, end}] e.g. Blender text strips
    allow_mismatch: bool = False

    def build_transcript(self) -> Transcript | None:
        if self.transcript:
            return read_transcript(self.transcript)
        if self.words:
            words = [Word(str(w["word"]), float(w["start"]), float(w["end"])) for w in self.words]
            return Transcript([Phrase(words, words[0].start, words[-1].end)], "<words>")
        if self.phrases:
            phrases = [Phrase([Word(t) for t in str(p["text"]).split()],
                              float(p["start"]), float(p["end"])) for p in self.phrases]
            return Transcript([p for p in phrases if p.words], "<phrases>")
        if self.text:
            return parse_text(self.text)
        return None

    def cache_key(self) -> str:
        audio = Path(self.audio)
        stat = audio.stat()
        parts = [str(audio.resolve()), str(stat.st_size), str(stat.st_mtime_ns),
                 repr(self.transcript), repr(self.text), repr(self.words), repr(self.phrases),
                 repr(self.allow_mismatch)]
        if self.transcript:
            t = Path(self.transcript)
            parts.append(str(t.stat().st_mtime_ns) if t.exists() else "missing")
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()


@dataclass
class Session:
    config: SessionConfig = field(default_factory=SessionConfig)
    device_note: str = ""
    _engine: Engine | None = None
    _frontend: SpeechFrontEnd | None = None
    _speech: OrderedDict[str, SpeechFeatures] = field(default_factory=OrderedDict)

    def __post_init__(self) -> None:
        self.device, self.device_note = pick_device(self.config.device)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            ckpt, root = self.config.checkpoint, None
            if not ckpt:
                found = locate(self.config.weights)
                if found is None:
                    raise WeightsMissingError(missing_weights_message(self.config.weights))
                ckpt, root = found.checkpoint, found.root
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                loaded = load_official(ckpt, root=root, device=self.device)
            self._engine = Engine(loaded, self.device)
        return self._engine

    @property
    def frontend(self) -> SpeechFrontEnd:
        if self._frontend is None:
            c = self.config
            self._frontend = SpeechFrontEnd(
                Wav2VecModel(c.wav2vec, self.device, c.allow_download),
                BertWords(c.bert, self.device, c.allow_download))
        return self._frontend

    def speech(self, source: SpeechInput, progress: ProgressFn | None = None,
               should_stop: StopFn | None = None) -> SpeechFeatures:
        if not Path(source.audio).is_file():
            raise AudioError(f"the audio file {source.audio} does not exist")
        key = source.cache_key()
        if key in self._speech:
            self._speech.move_to_end(key)
            return self._speech[key]
        clip = load_audio(source.audio)
        feats = self.frontend.analyse(clip, source.build_transcript(), progress, should_stop,
                                      source.allow_mismatch)
        self._speech[key] = feats
        while len(self._speech) > 4:
            self._speech.popitem(last=False)
        return feats

    def generate(self, source: SpeechInput, opts: GenerateOptions | None = None,
                 progress: ProgressFn | None = None,
                 should_stop: StopFn | None = None) -> GenerationResult:
        engine = self.engine  # fail on missing weights before the slow speech analysis
        speech = self.speech(source, progress, should_stop)
        result = engine.generate(speech, opts, progress, should_stop)
        result.info["device_note"] = self.device_note
        return result

    def regenerate(self, source: SpeechInput, motion: Motion, start: int, end: int,
                   opts: RegenerateOptions | None = None, progress: ProgressFn | None = None,
                   should_stop: StopFn | None = None) -> GenerationResult:
        engine = self.engine
        speech = self.speech(source, progress, should_stop)
        opts = opts or RegenerateOptions()
        if opts.smplx_model is None and self.config.smplx_model:
            opts.smplx_model = Path(self.config.smplx_model)
        return regenerate(engine, speech, motion, start, end, opts, progress, should_stop)
