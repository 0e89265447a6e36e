"""Turn a retrieval plan into insertable clips: latent + the clip's own conditions.

A retrieved database window is VAE-encoded (the posterior mean, so the same clip always gives
the same latent and its inversion can be cached; the official code draws a sample, spec
§11 #9) and its conditions are recomputed from its words (BERT) and recording (wav2vec2),
because inversion runs under the clip's own conditions (§5.8). A clip without a recording
gets zero audio features. Everything is cached per database window, and the clips carry the
database's inversion store (`<db>/inversions/`, inversion_store.py) unless told otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..motion.kinematics import motion_contacts
from ..retrieval.database import GestureDatabase
from ..retrieval.planner import PlannedClip
from ..retrieval.scoring import RecordIndex
from ..speech.audio import load_audio
from ..speech.frontend import SpeechFrontEnd, window_audio
from .assemble import Track, track_to_parts
from .engine import Engine
from .insertion import InsertedClip
from .inversion_store import STORE_DIR, InversionStore


@dataclass
class ClipMaterials:
    latent: torch.Tensor
    text: np.ndarray
    audio: np.ndarray
    speaker: int


@dataclass
class ClipFactory:
    db: GestureDatabase
    engine: Engine
    frontend: SpeechFrontEnd
    _cache: dict[str, ClipMaterials] = field(default_factory=dict)
    _index: tuple[int, RecordIndex] | None = None
    _store: InversionStore | None = None

    @property
    def store(self) -> InversionStore:
        """Persisted inversions of this database's windows (created on first write)."""
        if self._store is None:
            self._store = InversionStore(self.db.root / STORE_DIR)
        return self._store

    def index(self) -> RecordIndex:
        """The database's records, indexed once (rebuilt when windows were added)."""
        count = self.db.count()
        if self._index is None or self._index[0] != count:
            self._index = (count, RecordIndex(self.db.records(with_features=True)))
        return self._index[1]

    def materials(self, name: str) -> ClipMaterials:
        if name in self._cache:
            return self._cache[name]
        record = self.db.record(name)
        motion = self.db.window_motion(name)
        track = Track(motion.poses[None].astype(np.float32), motion.trans[None],
                      motion.expressions[None])
        contacts = motion_contacts(motion.poses, motion.trans)[None]
        gre = self.engine.model.gesture_rep_encoder
        with torch.inference_mode():
            latent = gre.encode(track_to_parts(track, contacts, self.engine.device),
                                sample=False)
        text = self.frontend.bert.window(record.words, 0.0).frames
        clip, start = self.db.window_start(name)
        wav = self.db.audio_path(clip)
        if wav is not None:
            samples = window_audio(load_audio(wav), [start])
            audio = self.frontend.wav2vec.run(samples).features[0]
        else:
            audio = np.zeros((499, self.frontend.wav2vec.feature_dim), np.float32)
        made = ClipMaterials(latent, text, audio, record.speaker)
        self._cache[name] = made
        return made

    def clips(self, plans: list[PlannedClip], persist: bool = True) -> list[InsertedClip]:
        """Insertable clips; `persist=False` keeps their inversions in memory only."""
        store = self.store if persist else None
        out = []
        for p in plans:
            m = self.materials(p.candidate.name)
            out.append(InsertedClip(
                name=p.candidate.name, latent=m.latent, text=m.text, audio=m.audio,
                speaker=m.speaker, retr=(p.placement.retr_start, p.placement.retr_end),
                query=(p.placement.query_start, p.placement.query_end),
                info={"word": p.query.text, "label": p.query.label,
                      "score": None if np.isinf(p.candidate.score) else p.candidate.score},
                store=store))
        return out
