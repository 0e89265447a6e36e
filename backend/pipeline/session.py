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

import torch

from rag_gesture_shared.protocol.retrieval import DEFAULT_GUIDANCE_SCHEDULE, Cue
from rag_gesture_shared.protocol.speech import SpeechInput
from rag_gesture_shared.speakers import resolve_speaker

from ..device import describe_device_error, is_device_failure, pick_device, release_cuda
from ..diffusion.guidance_schedules import guidance_iters
from ..model.loading import LoadedModel, load_official
from ..motion.motion import Motion
from ..progress import ProgressFn, StopFn
from ..retrieval.database import DB_FILE, GestureDatabase
from ..retrieval.planner import plan_window
from ..speech.audio import load_audio
from ..speech.bert import BertWords
from ..speech.frontend import SpeechFeatures, SpeechFrontEnd
from ..speech.inputs import CheckedSpeech, check_speech_input
from ..speech.pretrained import BERT_NAME, WAV2VEC_NAME
from ..speech.wav2vec import Wav2VecModel
from ..weights import locate, missing_weights_message
from .engine import Engine, GenerateOptions, GenerationResult
from .insertion import InsertedClip
from .regenerate import RegenerateOptions, regenerate
from .retrieved import ClipFactory


@dataclass
class RetrievalOptions:
    """Retrieval-augmented generation: where the gesture database is and how to query it."""

    method: str = "none"  # one of rag_gesture_shared.protocol.retrieval.METHODS
    database: str | Path | None = None
    cues: list[Cue] = field(default_factory=list)
    # Official insertion-guidance preset. Accepted and reported for comparison with the
    # reference; its gradient loop has no effect on the output (docs/fidelity.md).
    guidance_schedule: str = DEFAULT_GUIDANCE_SCHEDULE
    # Keep DDIM inversions of database windows in `<database>/inversions/` for later runs
    # (they do not depend on the query; docs/architecture.md).
    inversion_store: bool = True

    def __post_init__(self) -> None:
        guidance_iters(self.guidance_schedule)  # unknown names fail with the list of presets


class WeightsMissingError(RuntimeError):
    """No usable RAG-Gesture weights; the message names the fix."""


def check_database(database: str | Path | None) -> Path:
    """The gesture database folder, or ValueError (one sentence)."""
    if database is None:
        raise ValueError("retrieval needs a gesture database (--db PATH)")
    if not (Path(database) / DB_FILE).is_file() and not Path(database).is_file():
        raise ValueError(f"no gesture database at {database}; build one with "
                         "`rag-gesture build-db --beat2 DIR --db PATH`")
    return Path(database)


def check_request(source: SpeechInput,
                  retrieval: RetrievalOptions | None = None) -> CheckedSpeech:
    """Every check of a generate or regenerate request that needs no model (the command
    line and the worker run it before the models load): the speech input, the gesture
    database, and gesture cues inside the audio."""
    checked = check_speech_input(source)
    if retrieval is not None and (retrieval.method != "none" or retrieval.cues):
        check_database(retrieval.database)
        for cue in retrieval.cues:
            if cue.time is not None and not 0.0 <= cue.time < checked.duration:
                raise ValueError(f"the {cue.kind} gesture cue at {cue.time:g} s is outside "
                                 f"the audio ({checked.duration:.2f} s long); move it inside "
                                 "the recording")
    return checked


@dataclass
class SessionConfig:
    weights: str | Path | None = None  # folder containing experiments/ (official layout)
    checkpoint: str | Path | None = None  # or an explicit diffusion checkpoint
    bert: str | Path = BERT_NAME
    wav2vec: str | Path = WAV2VEC_NAME
    device: str = "auto"
    smplx_model: str | Path | None = None
    allow_download: bool = False


def speech_key(source: SpeechInput) -> str:
    """Cache key of a speech input: the audio file (path, size, modification time) and the
    words; a changed file or transcript is analysed again."""
    audio = Path(source.audio)
    stat = audio.stat()
    parts = [str(audio.resolve()), str(stat.st_size), str(stat.st_mtime_ns),
             repr(source.transcript), repr(source.text), repr(source.words),
             repr(source.phrases), repr(source.allow_mismatch)]
    if source.transcript:
        t = Path(source.transcript)
        parts.append(str(t.stat().st_mtime_ns) if t.exists() else "missing")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


@dataclass
class Session:
    config: SessionConfig = field(default_factory=SessionConfig)
    device_note: str = ""
    device_fallback: bool = False  # a GPU was asked for or visible, but the CPU runs
    _engine: Engine | None = None
    _frontend: SpeechFrontEnd | None = None
    _speech: OrderedDict[str, SpeechFeatures] = field(default_factory=OrderedDict)
    _clips: dict[str, ClipFactory] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.device, self.device_note, self.device_fallback = pick_device(self.config.device)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            ckpt, root = self.config.checkpoint, None
            if not ckpt:
                found = locate(self.config.weights)
                if found is None:
                    raise WeightsMissingError(missing_weights_message(self.config.weights))
                ckpt, root = found.checkpoint, found.root
            try:
                loaded = self._load(ckpt, root)
            except Exception as exc:
                if self.device == "cpu" or not is_device_failure(exc):
                    raise
                # The GPU worked for the probe but not for the model (out of memory, a kernel
                # missing for this card): the CPU runs instead, and the note says why.
                gpu, self.device = self.device, "cpu"
                self.device_fallback = True
                self.device_note = (f"CPU: the {gpu.upper()} GPU could not load the model "
                                    f"({describe_device_error(exc)})")
                release_cuda(torch)
                loaded = self._load(ckpt, root)
            self._engine = Engine(loaded, self.device)
        return self._engine

    def _load(self, ckpt: str | Path, root: Path | None) -> LoadedModel:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return load_official(ckpt, root=root, device=self.device)

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
        checked = check_speech_input(source)  # cheap; also names a file changed meanwhile
        key = speech_key(source)
        if key in self._speech:
            self._speech.move_to_end(key)
            return self._speech[key]
        clip = load_audio(source.audio)
        feats = self.frontend.analyse(clip, checked.transcript, progress, should_stop,
                                      source.allow_mismatch)
        feats.warnings[:0] = checked.notes
        self._speech[key] = feats
        while len(self._speech) > 4:
            self._speech.popitem(last=False)
        return feats

    def clip_factory(self, database: str | Path) -> ClipFactory:
        key = str(Path(database).resolve())
        if key not in self._clips:
            check_database(database)
            self._clips[key] = ClipFactory(GestureDatabase(database), self.engine,
                                           self.frontend)
        return self._clips[key]

    def plan(self, speech: SpeechFeatures, retrieval: RetrievalOptions, speaker: int,
             warnings: list[str] | None = None) -> dict[int, list[InsertedClip]]:
        """Retrieved clips per window (empty when retrieval is off)."""
        if retrieval.method == "none" and not retrieval.cues:
            return {}
        factory = self.clip_factory(check_database(retrieval.database))
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
        check_request(source, retrieval)  # bad input: one sentence before any model loads
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
        result.info["device_fallback"] = self.device_fallback
        return result

    def regenerate(self, source: SpeechInput, motion: Motion, start: int, end: int,
                   opts: RegenerateOptions | None = None, progress: ProgressFn | None = None,
                   should_stop: StopFn | None = None) -> GenerationResult:
        check_request(source)
        engine = self.engine
        speech = self.speech(source, progress, should_stop)
        opts = opts or RegenerateOptions()
        if opts.smplx_model is None and self.config.smplx_model:
            opts.smplx_model = Path(self.config.smplx_model)
        return regenerate(engine, speech, motion, start, end, opts, progress, should_stop)
