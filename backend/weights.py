"""Where the official RAG-Gesture weights are looked for, how they are fetched and checked.

Search order: an explicit folder, `$RAG_GESTURE_HOME`, then the user cache
(`~/.cache/rag-gesture`). A weights root is a folder that contains `experiments/` (spec §10).
`download_weights` fills a root from the Hub the way the official download script does, and
`check_weights` says, piece by piece, what is still missing and which command fetches it.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

HF_REPO = "m-hamza-mughal/rag-gesture-weights"
DEFAULT_RUN = "base_beatx_len150fps15_finalweights"


def default_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rag-gesture"


def candidate_roots(explicit: str | Path | None = None) -> list[Path]:
    roots = []
    if explicit:
        roots.append(Path(explicit).expanduser())
    if os.environ.get("RAG_GESTURE_HOME"):
        roots.append(Path(os.environ["RAG_GESTURE_HOME"]).expanduser())
    roots.append(default_home())
    return roots


@dataclass
class WeightsLocation:
    root: Path
    checkpoint: Path


def find_checkpoint(root: Path) -> Path | None:
    """`experiments/diffusion/<run>/epoch_*.pth`, preferring the released run and epoch."""
    diffusion = root / "experiments" / "diffusion"
    if not diffusion.is_dir():
        return None
    found = sorted(diffusion.glob("*/epoch_*.pth"))
    if not found:
        return None
    preferred = [p for p in found if p.parent.name == DEFAULT_RUN and p.name == "epoch_64.pth"]
    return (preferred or found)[-1] if not preferred else preferred[0]


def locate(explicit: str | Path | None = None) -> WeightsLocation | None:
    for root in candidate_roots(explicit):
        ckpt = find_checkpoint(root)
        if ckpt is not None:
            return WeightsLocation(root=root, checkpoint=ckpt)
    return None


def missing_weights_message(explicit: str | Path | None = None) -> str:
    where = ", ".join(str(r) for r in candidate_roots(explicit))
    return (f"No RAG-Gesture weights found (looked in {where}); fetch them with "
            f"`{download_command(explicit)}`, or by hand with "
            f"`hf download {HF_REPO} --include 'vae/*' 'diffusion/*' --local-dir "
            "DIR/experiments` and pass `--weights DIR` or set RAG_GESTURE_HOME=DIR.")


# --------------------------------------------------------------------------------------------
# Downloading (spec §10) and checking what is there


class WeightsError(RuntimeError):
    """A download or check failed; the message is one sentence that says what to do."""


WEIGHTS_PATTERNS = ["vae/**", "diffusion/**"]  # -> <root>/experiments/
ASSETS_PATTERNS = ["assets_deps/**"]  # -> <root>/datasets/
CONFIG_NAME = "basegesture_len150_beat.py"
SPEECH_MODELS = ("bert-base-cased", "facebook/wav2vec2-base-960h")
# Only what `from_pretrained` reads: the Hub repos also hold TF/Flax/ONNX/CoreML copies that
# would multiply the download for nothing.
SPEECH_SMALL_FILES = ["config.json", "preprocessor_config.json", "processor_config.json",
                      "feature_extractor_config.json", "tokenizer.json", "tokenizer_config.json",
                      "special_tokens_map.json", "added_tokens.json", "vocab.txt", "vocab.json"]
SPEECH_SAFETENSORS = ["model.safetensors", "model.safetensors.index.json",
                      "model-*-of-*.safetensors"]
SPEECH_PYTORCH_BIN = ["pytorch_model.bin", "pytorch_model.bin.index.json",
                      "pytorch_model-*-of-*.bin"]
_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                 "pytorch_model.bin.index.json")


def default_root() -> Path:
    """Where `download_weights` puts files when no folder is given: the first searched root
    after an explicit one, so that `locate()` finds them without flags."""
    home = os.environ.get("RAG_GESTURE_HOME")
    return Path(home).expanduser() if home else default_home()


def download_command(root: str | Path | None = None) -> str:
    """The exact command that fetches into `root` (no flag needed for the default root)."""
    if root is None or Path(root).expanduser().resolve() == default_root().resolve():
        return "rag-gesture download"
    return f"rag-gesture download --weights {shlex.quote(str(root))}"


def _offline_reason() -> str | None:
    """Which switch turns downloads off. The env is read too because huggingface_hub only reads
    it at import time, and a later change must still win over a stale module constant."""
    from huggingface_hub import constants

    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(var, "").strip().upper() in {"1", "ON", "YES", "TRUE"}:
            return f"{var}={os.environ[var]}"
    if constants.is_offline_mode():
        return "HF_HUB_OFFLINE=1"
    return None


def _root_cause(exc: BaseException) -> str:
    """A short reason: the HTTP status (and URL) if there was one, else the innermost error."""
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    for err in seen:
        response = getattr(err, "response", None)
        status = getattr(response, "status_code", None)
        if status is not None:
            url = getattr(getattr(response, "request", None), "url", "")
            return f"HTTP {status} from {url}".strip() if url else f"HTTP {status}"
    inner = seen[-1]
    text = str(inner).strip().splitlines()[0] if str(inner).strip() else ""
    if len(text) > 160:
        text = text[:157] + "..."
    return f"{type(inner).__name__}: {text}" if text else type(inner).__name__


def _snapshot(what: str, retry: str, **kwargs: object) -> str:
    """`snapshot_download` with every network/HTTP failure turned into one `WeightsError`
    sentence. Partial files are left to huggingface_hub: files finished earlier are kept and
    skipped next time, and a connection dropped mid-file is resumed with a Range request."""
    import httpx2
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import EntryNotFoundError

    try:
        return snapshot_download(**kwargs)  # type: ignore[arg-type]
    except (OSError, httpx2.HTTPError, EntryNotFoundError) as exc:  # HfHubHTTPError is OSError
        raise WeightsError(
            f"Downloading {what} from {constants.ENDPOINT} failed ({_root_cause(exc)}); check the "
            f"connection and re-run `{retry}` to resume, keeping the files already fetched."
        ) from exc


def _quiet_tqdm() -> type:
    """A huggingface_hub tqdm that never draws: `progress=False` must not depend on the global
    `disable_progress_bars()` switch other code (transformers) flips."""
    from huggingface_hub.utils import tqdm as hf_tqdm

    class QuietTqdm(hf_tqdm):  # type: ignore[misc, valid-type]
        def __init__(self, *args: object, **kwargs: object) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

    return QuietTqdm


def download_speech_models(progress: bool = True, retry: str = "rag-gesture download") -> None:
    """Fetch bert-base-cased and wav2vec2-base-960h into the normal Hugging Face cache, only
    the files transformers reads; safetensors when the repo has them, else pytorch_model.bin."""
    tqdm_class = None if progress else _quiet_tqdm()
    for repo in SPEECH_MODELS:
        what = f"the speech model {repo}"
        folder = Path(_snapshot(what, retry, repo_id=repo, repo_type="model",
                                allow_patterns=SPEECH_SMALL_FILES + SPEECH_SAFETENSORS,
                                tqdm_class=tqdm_class))
        if not any(folder.glob("*.safetensors")):
            _snapshot(what, retry, repo_id=repo, repo_type="model",
                      allow_patterns=SPEECH_PYTORCH_BIN, tqdm_class=tqdm_class)


def download_weights(root: Path | None = None, include_speech_models: bool = True,
                     progress: bool = True) -> Path:
    """Fetch the official release into `root` (default: $RAG_GESTURE_HOME or the user cache).

    `vae/**` and `diffusion/**` land in `root/experiments`, `assets_deps/**` in
    `root/datasets` (spec §10), then the two speech models go to the Hugging Face cache.
    Re-running skips finished files. Nothing downloaded is executed: checkpoints are read with
    the safe loader and the config `.py` is parsed, never imported. Returns `root`.
    """
    root = Path(root).expanduser() if root is not None else default_root()
    retry = download_command(root)
    offline = _offline_reason()
    if offline:
        raise WeightsError(
            f"Downloads are disabled because offline mode is on ({offline}); unset it (or set "
            f"HF_HUB_OFFLINE=0) and run `{retry}` again.")
    tqdm_class = None if progress else _quiet_tqdm()
    _snapshot(f"the RAG-Gesture weights ({HF_REPO})", retry, repo_id=HF_REPO, repo_type="model",
              allow_patterns=WEIGHTS_PATTERNS, local_dir=root / "experiments",
              tqdm_class=tqdm_class)
    _snapshot(f"the RAG-Gesture assets ({HF_REPO})", retry, repo_id=HF_REPO, repo_type="model",
              allow_patterns=ASSETS_PATTERNS, local_dir=root / "datasets", tqdm_class=tqdm_class)
    if include_speech_models:
        download_speech_models(progress=progress, retry=retry)
    # snapshot_download quietly returns an existing local_dir when the Hub cannot be reached;
    # checking the result keeps that from passing for a finished download.
    problems = check_weights(root, speech_models=include_speech_models)
    if problems:
        more = f" ({len(problems) - 1} more: see `rag-gesture doctor`)" \
            if len(problems) > 1 else ""
        raise WeightsError(f"The download ended but {problems[0]}{more}.")
    return root


def check_speech_models(command: str = "rag-gesture download") -> list[str]:
    """One sentence per speech model missing from the Hugging Face cache.

    Looks for the cached config.json and a weights file (no model is built: that takes
    seconds, and doctor should stay quick).
    """
    from huggingface_hub import constants, try_to_load_from_cache

    problems = []
    for repo in SPEECH_MODELS:
        config = try_to_load_from_cache(repo, "config.json")
        weights = [w for w in _WEIGHT_FILES
                   if isinstance(try_to_load_from_cache(repo, w), str)]
        if not isinstance(config, str) or not weights:
            what = "its config.json" if not isinstance(config, str) else "its weights file"
            problems.append(f"the speech model {repo} is missing from the Hugging Face cache "
                            f"{constants.HF_HUB_CACHE} ({what} is not there); run `{command}`")
    return problems


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _check_config(config: Path, root: Path, command: str) -> list[str]:
    """The VAE yamls the config names (resolved exactly as `load_official` does)."""
    import warnings

    from .model.config import ConfigError, ModelConfig
    from .model.loading import resolve_vae_yaml

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cfg = ModelConfig.from_file(config)
    except (ConfigError, OSError, SyntaxError) as exc:
        return [f"the model config {_rel(config, root)} cannot be read ({_root_cause(exc)}); "
                f"delete it and run `{command}`"]
    problems = []
    for part, declared in cfg.vae_yamls.items():
        try:
            resolve_vae_yaml(declared, root)
        except ConfigError:
            problems.append(f"the {part} VAE config {declared} named by {config.name} is "
                            f"missing from {root}; run `{command}`")
    return problems


def check_weights(root: str | Path | None, speech_models: bool = True) -> list[str]:
    """What is missing for inference, one sentence each naming the fix; empty = all present.

    `root=None` checks whatever `locate()` finds (the same search the backend uses).
    """
    command = download_command(root)
    problems: list[str] = []
    if root is None:
        found = locate()
        if found is None:
            where = ", ".join(str(r) for r in candidate_roots())
            problems.append(f"no RAG-Gesture weights folder was found (looked in {where}); "
                            f"run `{command}`")
        root = found.root if found else None
    if root is not None:
        root = Path(root).expanduser()
        default_ckpt = f"experiments/diffusion/{DEFAULT_RUN}/epoch_64.pth"
        if not (root / "experiments").is_dir():
            problems.append(f"the weights folder {root} has no experiments/ folder, so the "
                            f"diffusion checkpoint {default_ckpt} is missing; run `{command}`")
        else:
            ckpt = find_checkpoint(root)
            run = ckpt.parent if ckpt else root / "experiments" / "diffusion" / DEFAULT_RUN
            if ckpt is None:
                problems.append(f"the diffusion checkpoint {default_ckpt} is missing from "
                                f"{root}; run `{command}`")
            configs = sorted(run.glob("*.py")) if run.is_dir() else []
            config = next((c for c in configs if c.name == CONFIG_NAME), None) or \
                (configs[0] if configs else None)
            if config is None:
                problems.append(f"the model config {_rel(run / CONFIG_NAME, root)} is missing "
                                f"beside the checkpoint; run `{command}`")
            else:
                problems += _check_config(config, root, command)
    if speech_models:
        problems += check_speech_models(command)
    return problems
