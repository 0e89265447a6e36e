"""What a finished line was made from, so running the same batch again can skip it.

Each finished line leaves a small record in `OUT/.rag-gesture-batch/records/ID.json`: the
fingerprint of everything that shaped its motion (audio bytes, transcript bytes or text,
options, weights, gesture database, backend version) and of each export (BVH, FBX: rig
file, add-on). A later run skips a line whose record matches and whose files exist,
regenerates it when the motion inputs changed, and only re-exports when just an export
changed (adding `--format bvh` to a finished batch never reruns the model).

Weights are fingerprinted by file names, sizes and modification times (hashing 1.3 GB on
every run would cost more than a short line); audio and transcripts by their bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag_gesture_shared.atomic_file import write_text

from .manifest import LineSpec

STATE_DIR = ".rag-gesture-batch"


def file_digest(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def tree_stat(root: Path) -> list[tuple[str, int, int]]:
    """(relative path, size, mtime_ns) of every file under `root` (a file: itself)."""
    if root.is_file():
        st = root.stat()
        return [(root.name, st.st_size, st.st_mtime_ns)]
    out = []
    for dirpath, _, names in os.walk(root):
        for name in names:
            p = Path(dirpath) / name
            try:
                st = p.stat()
            except OSError:
                continue
            out.append((str(p.relative_to(root)), st.st_size, st.st_mtime_ns))
    return sorted(out)


def _hub_revision(name: str) -> str:
    """The cached commit of a Hugging Face model name (what from_pretrained would load)."""
    home = Path(os.environ.get("HF_HUB_CACHE") or Path(
        os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")) / "hub")
    ref = home / f"models--{name.replace('/', '--')}" / "refs" / "main"
    try:
        return ref.read_text().strip()
    except OSError:
        return "not cached"


def weights_fingerprint(weights: str | Path | None, checkpoint: str | Path | None,
                        bert: str | Path, wav2vec: str | Path) -> str:
    """Cheap fingerprint of every weight file a line's motion depends on."""
    from ..model.loading import find_root
    from ..weights import locate

    parts: dict[str, Any] = {}
    if checkpoint:
        ckpt = Path(checkpoint)
        root = find_root(ckpt.parent)
        parts["diffusion"] = tree_stat(root / "experiments") if (
            root / "experiments").is_dir() else tree_stat(ckpt)
    else:
        found = locate(weights)
        parts["diffusion"] = tree_stat(found.root / "experiments") if found else "missing"
    for key, model in (("bert", bert), ("wav2vec", wav2vec)):
        p = Path(model)
        parts[key] = tree_stat(p) if p.exists() else [str(model), _hub_revision(str(model))]
    return digest(parts)


def motion_fingerprint(line: LineSpec, weights_fp: str) -> str:
    """Everything that changes a line's motion (not its id, not its row)."""
    from .. import __version__

    words = file_digest(line.transcript) if line.transcript else None
    db = tree_stat(line.db / "db.sqlite") if line.db and (line.db / "db.sqlite").is_file() \
        else None
    return digest({"audio": file_digest(line.audio), "transcript": words,
                   "transcript_suffix": line.transcript.suffix.lower() if line.transcript
                   else None, "options": line.options(), "weights": weights_fp,
                   "db": db if (line.retrieval != "none" or line.cues) else None,
                   "backend": __version__})


@dataclass
class Record:
    """The state file of one line (written atomically; `writing` until every output is)."""

    id: str
    state: str  # writing / done
    motion: str
    exports: dict[str, str] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)  # relative to the output folder

    def to_json(self) -> str:
        return json.dumps({"id": self.id, "state": self.state, "motion": self.motion,
                           "exports": self.exports, "outputs": self.outputs}, indent=1)


class RecordStore:
    """`OUT/.rag-gesture-batch/records/`: one JSON record per line id."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.folder = out / STATE_DIR / "records"

    def path(self, line_id: str) -> Path:
        return self.folder / f"{line_id}.json"

    def load(self, line_id: str) -> Record | None:
        try:
            d = json.loads(self.path(line_id).read_text(encoding="utf-8"))
            return Record(d["id"], d["state"], d["motion"], dict(d.get("exports", {})),
                          list(d.get("outputs", [])))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, record: Record) -> None:
        write_text(self.path(record.id), record.to_json())
