"""Where the official RAG-Gesture weights are looked for, how they are fetched and checked.

Search order: an explicit folder, `$RAG_GESTURE_HOME`, then the user cache
(`~/.cache/rag-gesture`). A weights root is a folder that contains `experiments/` (spec §10).
`download_weights` fills a root from the Hub the way the official download script does
(resumable, with progress and cancel: backend.downloads), and `check_weights` says, piece by
piece, what is still missing and which command fetches it.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .downloads import DownloadError, Meter, RemoteFile, Report, ReportFn, fetch
from .progress import StopFn

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


def _hub_error(what: str, retry: str, exc: BaseException) -> WeightsError:
    from huggingface_hub import constants

    return WeightsError(
        f"Downloading {what} from {constants.ENDPOINT} failed ({_root_cause(exc)}); check the "
        f"connection and re-run `{retry}` to resume, keeping the files already fetched.")


def _hub_errors() -> tuple[type[BaseException], ...]:
    import httpx2
    from huggingface_hub.errors import EntryNotFoundError

    # HfHubHTTPError is an OSError; DownloadError says what went wrong with one file
    return OSError, httpx2.HTTPError, EntryNotFoundError, DownloadError


def _quiet_tqdm() -> type:
    """A huggingface_hub tqdm that never draws (linking files into the cache prints nothing
    whatever the global `disable_progress_bars()` switch other code flips says)."""
    from huggingface_hub.utils import tqdm as hf_tqdm

    class QuietTqdm(hf_tqdm):  # type: ignore[misc, valid-type]
        def __init__(self, *args: object, **kwargs: object) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

    return QuietTqdm


@dataclass
class RepoPlan:
    """The files of one repository a download fetches, at one commit."""

    repo: str
    commit: str
    files: list[RemoteFile]
    cache: bool  # into the Hugging Face cache (linked by huggingface_hub afterwards)


def _plan_repo(repo: str, patterns: list[str], dest: Callable[[str, str], Path],
               cache: bool) -> RepoPlan:
    """List `repo` at its current commit and look up each matching file (size, etag)."""
    from huggingface_hub import HfApi, constants, get_hf_file_metadata, hf_hub_url
    from huggingface_hub.utils import filter_repo_objects

    info = HfApi(endpoint=constants.ENDPOINT).repo_info(repo, revision="main")
    names = list(filter_repo_objects([s.rfilename for s in info.siblings or []],
                                     allow_patterns=patterns))
    files = []
    for name in names:
        url = hf_hub_url(repo, name, revision=info.sha)
        meta = get_hf_file_metadata(url)
        etag = (meta.etag or "").strip('"').lower()
        files.append(RemoteFile(repo, name, url, int(meta.size or 0), etag, dest(name, etag)))
    return RepoPlan(repo, str(info.sha), files, cache)


def _cache_blob(repo: str) -> Callable[[str, str], Path]:
    """Where huggingface_hub keeps a file of `repo` with a given etag: blobs/<etag>."""
    from huggingface_hub import constants
    from huggingface_hub.file_download import repo_folder_name

    folder = Path(constants.HF_HUB_CACHE) / repo_folder_name(repo_id=repo, repo_type="model")
    return lambda name, etag: folder / "blobs" / etag


def _plan_speech_models() -> list[RepoPlan]:
    """bert-base-cased and wav2vec2-base-960h: only the files transformers reads, the
    safetensors weights when the repository has them, else pytorch_model.bin."""
    plans = []
    for repo in SPEECH_MODELS:
        plan = _plan_repo(repo, SPEECH_SMALL_FILES + SPEECH_SAFETENSORS, _cache_blob(repo),
                          cache=True)
        if not any(f.path.endswith(".safetensors") for f in plan.files):
            more = _plan_repo(repo, SPEECH_PYTORCH_BIN, _cache_blob(repo), cache=True)
            plan.files += more.files
        plans.append(plan)
    return plans


def _link_into_cache(plan: RepoPlan) -> None:
    """The blobs are there; huggingface_hub makes its snapshot links and refs/main (it
    fetches nothing that is already a blob)."""
    from huggingface_hub import snapshot_download

    snapshot_download(repo_id=plan.repo, repo_type="model",
                      allow_patterns=[f.path for f in plan.files], tqdm_class=_quiet_tqdm())


class TerminalProgress:
    """Progress on stderr: one updating line on a terminal, a line per file otherwise."""

    def __init__(self, stream: object = None) -> None:
        import sys

        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.file = None

    def __call__(self, r: Report) -> None:
        text = r.describe()
        if self.tty:
            print(f"\r  {text}  {r.file[-40:]:40s}", end="", file=self.stream, flush=True)
            if not r.file:
                print(file=self.stream, flush=True)
        elif r.file and r.file != self.file:
            print(f"  {r.file}: {text}", file=self.stream, flush=True)
        self.file = r.file


def download_speech_models(progress: bool | ReportFn = True,
                           retry: str = "rag-gesture download",
                           should_stop: StopFn | None = None) -> None:
    """Fetch bert-base-cased and wav2vec2-base-960h into the normal Hugging Face cache, only
    the files transformers reads; safetensors when the repo has them, else pytorch_model.bin."""
    _download([], True, progress, should_stop, retry)


def download_weights(root: Path | None = None, include_speech_models: bool = True,
                     progress: bool | ReportFn = True,
                     should_stop: StopFn | None = None) -> Path:
    """Fetch the official release into `root` (default: $RAG_GESTURE_HOME or the user cache).

    `vae/**` and `diffusion/**` land in `root/experiments`, `assets_deps/**` in
    `root/datasets` (spec §10), then the two speech models go to the Hugging Face cache.
    Resumable (backend.downloads): finished files are skipped, a file cut off mid-way goes
    on from its last byte, in this run or the next. `progress`: True prints to stderr, a
    callable gets a `Report` (bytes done/total, speed, file) a few times a second.
    `should_stop()` cancels between chunks (`Cancelled`; the partial file is kept).
    Nothing downloaded is executed: checkpoints are read with the safe loader and the
    config `.py` is parsed, never imported. Returns `root`.
    """
    root = Path(root).expanduser() if root is not None else default_root()
    retry = download_command(root)
    offline = _offline_reason()
    if offline:
        raise WeightsError(
            f"Downloads are disabled because offline mode is on ({offline}); unset it (or set "
            f"HF_HUB_OFFLINE=0) and run `{retry}` again.")
    folders = {"vae/": "experiments", "diffusion/": "experiments", "assets_deps/": "datasets"}

    def local(name: str, _etag: str) -> Path:
        top = next(folder for prefix, folder in folders.items() if name.startswith(prefix))
        return root / top / name

    plans = [(f"the RAG-Gesture weights ({HF_REPO})",
              lambda: [_plan_repo(HF_REPO, WEIGHTS_PATTERNS + ASSETS_PATTERNS, local, False)])]
    _download(plans, include_speech_models, progress, should_stop, retry)
    # The Hub could list the files but a folder can still lack what inference needs (a
    # release without a piece): checking the result keeps that from passing for a download.
    problems = check_weights(root, speech_models=include_speech_models)
    if problems:
        more = f" ({len(problems) - 1} more: see `rag-gesture doctor`)" \
            if len(problems) > 1 else ""
        raise WeightsError(f"The download ended but {problems[0]}{more}.")
    return root


def _download(plans: list[tuple[str, Callable[[], list[RepoPlan]]]], speech: bool,
              progress: bool | ReportFn, should_stop: StopFn | None, retry: str) -> None:
    """List everything first (so the totals are known), then fetch, then link the cache."""
    if speech:
        plans = [*plans, ("the speech models", _plan_speech_models)]
    listed: list[RepoPlan] = []
    for what, make in plans:
        try:
            listed += make()
        except _hub_errors() as exc:
            raise _hub_error(what, retry, exc) from exc
    report = progress if callable(progress) else TerminalProgress() if progress else None
    files = [f for plan in listed for f in plan.files]
    meter = Meter(files, report)
    meter.emit()
    for plan in listed:
        what = (f"the speech model {plan.repo}" if plan.cache
                else f"the RAG-Gesture weights ({plan.repo})")
        try:
            fetch(plan.files, should_stop=should_stop, meter=meter)
            if plan.cache:
                _link_into_cache(plan)
        except _hub_errors() as exc:
            raise _hub_error(what, retry, exc) from exc


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
