"""Turn a retrieval plan into insertable clips: latent + the clip's own conditions.

A retrieved database window is VAE-encoded (the posterior mean, so the same clip always gives
the same latent and its inversion can be cached; the official code draws a sample, spec
§11 #9) and its conditions are recomputed from its words (BERT) and recording (wav2vec2),
because inversion runs under the clip's own conditions (§5.8). A clip without a recording
(added without `--audio`, or a BEAT2 file that moved) gets zero audio features and the
result says so (docs/fidelity.md).

These materials are kept per database window in memory and, beside its inversion, in the
database's store (`<db>/inversions/<key>.npz`, inversion_store.py): a later process, or a
database prepared with `build-db --precompute` (`precompute` below), reads them instead of
running the VAE, BERT and wav2vec2 again. Stored and computed materials are bit-identical.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ..motion.kinematics import motion_contacts
from ..progress import ProgressFn, StopFn, check
from ..retrieval.database import GestureDatabase
from ..retrieval.planner import PlannedClip
from ..retrieval.scoring import RecordIndex
from ..speech.audio import load_audio
from ..speech.frontend import SpeechFrontEnd, window_audio
from .assemble import Track, track_to_parts
from .engine import OFFICIAL_STEPS, Engine
from .insertion import InsertedClip, invert_clips, trajectory_key
from .inversion_store import STORE_DIR, InversionStore, default_max_bytes, model_fingerprint

MATERIALS_VERSION = "materials-v1"
STORE_CAP_META = "inversion_store_bytes"  # the store size a precomputed database needs


def no_recording_warning(name: str) -> str:
    return (f"retrieved clip {name} has no recording, so it was inverted with silent audio "
            "features; add its audio with `rag-gesture add-clip --audio`")


@dataclass
class ClipMaterials:
    latent: torch.Tensor
    text: np.ndarray
    audio: np.ndarray
    speaker: int
    has_audio: bool = True


@dataclass
class ClipFactory:
    db: GestureDatabase
    engine: Engine
    frontend: SpeechFrontEnd
    _cache: dict[str, ClipMaterials] = field(default_factory=dict)
    _index: tuple[int, RecordIndex] | None = None
    _store: InversionStore | None = None
    _speech_fingerprint: str | None = None

    @property
    def store(self) -> InversionStore:
        """Persisted inversions and materials of this database's windows (created on first
        write); its cap is the larger of RAG_GESTURE_INVERSION_STORE_GB and what a
        precomputed database asks for."""
        if self._store is None:
            wanted = int(self.db.get_meta(STORE_CAP_META) or 0)
            self._store = InversionStore(self.db.root / STORE_DIR,
                                         max(default_max_bytes(), wanted))
        return self._store

    def reserve_store(self, nbytes: int) -> None:
        """Make the store keep at least `nbytes` from now on, in this and later processes
        (recorded in the database)."""
        if nbytes > self.store.max_bytes:
            self.db.set_meta(STORE_CAP_META, str(int(nbytes)))
            self._store = None

    def index(self) -> RecordIndex:
        """The database's records, indexed once (rebuilt when windows were added)."""
        count = self.db.count()
        if self._index is None or self._index[0] != count:
            self._index = (count, RecordIndex(self.db.records(with_features=True)))
        return self._index[1]

    def materials_key(self, name: str) -> str:
        """Everything a window's materials depend on: its stored motion, words and speaker,
        its recording (path, size, time), the VAE weights, the speech models, torch."""
        h = hashlib.sha256()
        clip, start = self.db.window_start(name)
        wav = self.db.audio_path(clip)
        audio = None if wav is None else (str(wav.resolve()), wav.stat().st_size,
                                          wav.stat().st_mtime_ns)
        record = self.db.record(name, with_features=False)
        words = [(w.text, w.start, w.end) for w in record.words]
        h.update(json.dumps([MATERIALS_VERSION, name, start, record.speaker, words, audio,
                             torch.__version__, str(self.engine.device)]).encode())
        h.update(self.db.array_path(name).read_bytes())
        h.update(self.engine.inversions.fingerprint(self.engine.model).encode())
        if self._speech_fingerprint is None:
            self._speech_fingerprint = "|".join(
                model_fingerprint(m) for m in (self.frontend.bert.model,
                                               self.frontend.wav2vec.model))
        h.update(self._speech_fingerprint.encode())
        return h.hexdigest()

    def _shapes(self) -> dict[str, tuple[int, ...]]:
        m = self.engine.model
        return {"latent": (1, 4 * m.tokens + 3, m.cfg.latent_dim), "text": (150, m.cfg.text_dim),
                "audio": (499, m.cfg.audio_dim), "speaker": (), "has_audio": ()}

    def materials(self, name: str, persist: bool = True) -> ClipMaterials:
        """The window's latent and conditions: from memory, else the store, else computed
        (and stored when `persist`)."""
        if name in self._cache:
            return self._cache[name]
        key = self.materials_key(name) if persist else None
        stored = self.store.load_arrays(key, self._shapes()) if key else None
        if stored is not None:
            made = ClipMaterials(torch.from_numpy(stored["latent"]).to(self.engine.device),
                                 stored["text"], stored["audio"], int(stored["speaker"]),
                                 bool(stored["has_audio"]))
        else:
            made = self._compute(name)
            if key:
                self.store.save_arrays(key, {
                    "latent": made.latent.to("cpu", torch.float32).numpy(),
                    "text": np.ascontiguousarray(made.text, np.float32),
                    "audio": np.ascontiguousarray(made.audio, np.float32),
                    "speaker": np.array(made.speaker), "has_audio": np.array(made.has_audio)})
        self._cache[name] = made
        return made

    def _compute(self, name: str) -> ClipMaterials:
        record = self.db.record(name)
        motion = self.db.window_motion(name)
        track = Track(motion.poses[None].astype(np.float32), motion.trans[None],
                      motion.expressions[None])
        contacts = motion_contacts(motion.poses, motion.trans)[None]
        gre = self.engine.model.gesture_rep_encoder
        with torch.inference_mode():
            latent = gre.encode(track_to_parts(track, contacts, self.engine.device),
                                sample=False)
        text = np.ascontiguousarray(self.frontend.bert.window(record.words, 0.0).frames,
                                    np.float32)
        clip, start = self.db.window_start(name)
        wav = self.db.audio_path(clip)
        if wav is not None:
            samples = window_audio(load_audio(wav), [start])
            audio = self.frontend.wav2vec.run(samples).features[0]
        else:
            audio = np.zeros((499, self.frontend.wav2vec.feature_dim), np.float32)
        return ClipMaterials(latent, text, np.ascontiguousarray(audio, np.float32),
                             record.speaker, wav is not None)

    def clips(self, plans: list[PlannedClip], persist: bool = True,
              warnings: list[str] | None = None) -> list[InsertedClip]:
        """Insertable clips; `persist=False` keeps their materials and inversions in memory
        only. A clip without a recording adds a sentence to `warnings`."""
        store = self.store if persist else None
        out = []
        for p in plans:
            m = self.materials(p.candidate.name, persist)
            if not m.has_audio and warnings is not None:
                msg = no_recording_warning(p.candidate.name)
                if msg not in warnings:
                    warnings.append(msg)
            out.append(InsertedClip(
                name=p.candidate.name, latent=m.latent, text=m.text, audio=m.audio,
                speaker=m.speaker, retr=(p.placement.retr_start, p.placement.retr_end),
                query=(p.placement.query_start, p.placement.query_end),
                info={"word": p.query.text, "label": p.query.label,
                      "score": None if np.isinf(p.candidate.score) else p.candidate.score,
                      "has_audio": m.has_audio},
                store=store))
        return out

    # ----- precompute ---------------------------------------------------------------------
    def pending(self, names: Sequence[str], steps: int = OFFICIAL_STEPS) -> list[str]:
        """The windows whose materials or inversion (for `steps`) are not in the store."""
        engine = self.engine
        schedule = engine.schedule(steps)
        fp = engine.inversions.fingerprint(engine.model)
        todo = []
        for name in names:
            key = self.materials_key(name)
            if not self.store.has(key, ".npz"):
                todo.append(name)
                continue
            m = self.materials(name)
            probe = InsertedClip(name, m.latent, m.text, m.audio, m.speaker, (0, 0), (0, 0))
            if not self.store.has(trajectory_key(probe, schedule, engine.loaded.config.guidance,
                                                 fp)):
                todo.append(name)
            self._cache.pop(name, None)  # keep memory flat over a large database
        return todo

    def precompute(self, names: Sequence[str], steps: int = OFFICIAL_STEPS, batch: int = 4,
                   progress: ProgressFn | None = None,
                   should_stop: StopFn | None = None) -> int:
        """Materials and inversion of every window in `names` into the store, `batch`
        windows per inversion batch; returns how many were computed. Resumable: finished
        windows are stored one batch at a time and skipped by `pending`."""
        engine = self.engine
        schedule = engine.schedule(steps)
        guidance = engine.loaded.config.guidance
        if progress is not None:
            progress("precompute", 0.0)
        done = 0
        for i in range(0, len(names), batch):
            check(should_stop, "precompute")
            group = list(names[i:i + batch])
            clips = []
            for name in group:
                m = self.materials(name)
                clips.append(InsertedClip(name, m.latent, m.text, m.audio, m.speaker, (0, 0),
                                          (0, 0), store=self.store))
            invert_clips(engine.model, guidance, schedule, clips, engine.inversions,
                         should_stop, lambda: engine.styles(schedule, should_stop))
            for name in group:
                self._cache.pop(name, None)
            engine.inversions.clear()
            done += len(group)
            if progress is not None:
                progress("precompute", done / max(len(names), 1))
        return done

    def window_bytes(self, steps: int = OFFICIAL_STEPS) -> int:
        """Bytes one window takes in the store (materials + inversion), to size a store."""
        m = self.engine.model
        d = m.cfg.latent_dim
        materials = 4 * ((4 * m.tokens + 3) * d + 150 * m.cfg.text_dim + 499 * m.cfg.audio_dim)
        trajectory = 4 * steps * 2 * m.tokens * d
        return materials + trajectory + 2048  # npy/npz headers
