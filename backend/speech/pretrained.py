"""Loading the two pretrained speech models through `transformers.from_pretrained`.

A name like `bert-base-cased` resolves in the Hugging Face cache; a folder path loads that
folder. Downloads happen only when the caller allows them; otherwise a missing model is one
sentence naming the command that fetches it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

BERT_NAME = "bert-base-cased"
WAV2VEC_NAME = "facebook/wav2vec2-base-960h"


class ModelMissingError(RuntimeError):
    """A pretrained model is not available locally (and downloading was not allowed)."""


def from_pretrained(cls: Any, name_or_path: str | Path, allow_download: bool = False,
                    **kwargs: Any) -> Any:
    """`cls.from_pretrained` with local-only default and a readable error."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # bars on stdout/stderr would garble the worker protocol
    local_dir = Path(name_or_path).expanduser()
    is_dir = local_dir.is_dir()
    text = str(name_or_path)
    if not is_dir and (local_dir.is_absolute() or text.startswith((".", "~"))):
        raise ModelMissingError(f"the speech model folder {local_dir} does not exist; fix the "
                                "path, or leave it empty to use the downloaded model")
    try:
        return cls.from_pretrained(str(local_dir) if is_dir else str(name_or_path),
                                   local_files_only=is_dir or not allow_download, **kwargs)
    except (OSError, ValueError) as exc:
        where = f"the folder {local_dir}" if is_dir else f"the Hugging Face cache ({name_or_path})"
        raise ModelMissingError(
            f"{cls.__name__} could not be loaded from {where}; download it with "
            f"`rag-gesture download` (or `hf download {name_or_path}`), or point the "
            "settings at a local copy") from exc
