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

from ..diffusion.guidance_schedules import guidance_iters
from ..model.loading import load_official
from ..motion.motion import Motion
from ..progress import ProgressFn, StopFn
from ..retrieval.database import GestureDatabase
from ..retrieval.planner import Cue, plan_window
from ..speech.audio import AudioError, load_audio
from ..speech.bert import BertWords
from ..speech.frontend import SpeechFeatures, SpeechFrontEnd
from ..speech.pretrained import BERT_NAME, WAV2VEC_NAME
from ..speech.speakers import resolve_speaker
from ..speech.transcripts import parse_text, read_transcript
from ..speech.wav2vec import Wav2VecModel
from ..speech.words import Phrase, Transcript, Word
from ..weights import locate, missing_weights_message
from .engine import Engine, GenerateOptions, GenerationResult, pick_device
from .insertion import InsertedClip
from .regenerate import RegenerateOptions, regenerate
from .retrieved import ClipFactory


@dataclass
class RetrievalOptions:
    """Retrieval-augmented generation: where the gesture database is and how to query it."""

    method: str = "none"  # none / discourse / gesture_type / llm / directed
    database: str | Path | None = None
    cues: list[Cue] = field(default_factory=list)
    # Official insertion-guidance preset. Accepted and reported for comparison with the
    # reference; its gradient loop has no effect on the output (docs/fidelity.md).
    guidance_schedule: str = "decreasing_till_25"
    # Keep DDIM inversions of database windows in `<database>/inversions/` for later runs
    # (they do not depend on the query; docs/architecture.md).
    inversion_store: bool = True

    def __post_init__(self) -> None:
        guidance_iters(self.guidance_schedule)  # unknown names fail with the list of presets


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
    _clips: dict[str, ClipFactory] = field(default_factory=dict)

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

    def clip_factory(self, database: str | Path) -> ClipFactory:
        key = str(Path(database).resolve())
        if key not in self._clips:
            if not (Path(database) / "db.sqlite").is_file() and not Path(database).is_file():
                raise ValueError(f"no gesture database at {database}; build one with "
                                 "`rag-gesture build-db --beat2 DIR --db PATH`")
            self._clips[key] = ClipFactory(GestureDatabase(database), self.engine,
                                           self.frontend)
        return self._clips[key]

    def plan(self, speech: SpeechFeatures, retrieval: RetrievalOptions, speaker: int,
             warnings: list[str] | None = None) -> dict[int, list[InsertedClip]]:
        """Retrieved clips per window (empty when retrieval is off)."""
        if retrieval.method == "none" and not retrieval.cues:
            return {}
        if retrieval.database is None:
            raise ValueError("retrieval needs a gesture database (--db PATH)")
        factory = self.clip_factory(retrieval.database)
        records = factory.index()
        out = {}
        for k, win in enumerate(speech.windows):
            plans = plan_window(speech.words, records, method=retrieval.method,
                                speaker=speaker, window_start=win.start_seconds,
                                prominence=win.prominence, cues=retrieval.cues,
                                warnings=warnings)
            if plans:
                out[k] = factory.clips(plans, persist=retrieval.inversion_store,
                                       warnings=warnings)
        return out

    def generate(self, source: SpeechInput, opts: GenerateOptions | None = None,
                 progress: ProgressFn | None = None, should_stop: StopFn | None = None,
                 retrieval: RetrievalOptions | None = None) -> GenerationResult:
        engine = self.engine  # fail on missing weights before the slow speech analysis
        speech = self.speech(source, progress, should_stop)
        opts = opts or GenerateOptions()
        notes: list[str] = []
        insertions = self.plan(speech, retrieval or RetrievalOptions(),
                               resolve_speaker(opts.speaker).index, notes)
        result = engine.generate(speech, opts, progress, should_stop, insertions=insertions)
        result.info["warnings"] = result.info.get("warnings", []) + notes
        if insertions:
            result.info["guidance_schedule"] = (retrieval or RetrievalOptions()).guidance_schedule
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
