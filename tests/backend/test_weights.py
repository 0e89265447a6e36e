"""`rag-gesture download` / `download_weights` / `check_weights` against a local fake Hub.

The fake Hub (http.server on 127.0.0.1, random port) answers just what huggingface_hub 2.4.0
asks during `snapshot_download`:

* `GET /api/models/<repo>/revision/<rev>` (repo_info): JSON with `id`, `sha`, `siblings`;
* `GET /api/models/<repo>/tree/<sha>?recursive=True` (list_repo_tree): JSON entries with
  `type`, `path`, `size`, `oid` (no `xetHash`, so the plain-HTTP path is taken);
* `HEAD /<repo>/resolve/<sha>/<file>`: `X-Repo-Commit`, `ETag` (git blob sha1, or sha256
  plus `X-Linked-Etag`/`X-Linked-Size` for "LFS" files), `Content-Length`;
* `GET` of the same URL, honouring `Range: bytes=N-` with 206 + `Content-Range`.
Errors carry `X-Error-Code` (RepoNotFound / RevisionNotFound / EntryNotFound) as the Hub does.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from backend.cli import main
from backend.model.loading import load_official
from backend.weights import (
    DEFAULT_RUN,
    HF_REPO,
    WeightsError,
    check_weights,
    download_weights,
    find_checkpoint,
)
from tests.support.parity_layout import build_official_layout, parity_dir
from tests.support.speech_models import make_bert, make_wav2vec

BERT = "bert-base-cased"
WAV2VEC = "facebook/wav2vec2-base-960h"
CKPT = f"diffusion/{DEFAULT_RUN}/epoch_64.pth"
LFS_SUFFIXES = (".pth", ".bin", ".safetensors", ".npz", ".pkl", ".h5")


# --------------------------------------------------------------------------------------------
# the fake Hub


@dataclass
class Seen:
    method: str
    path: str
    range: str | None


@dataclass
class FakeHub:
    """Serves `repos` ({repo_id: {path: bytes}}); records every request it receives."""

    repos: dict[str, dict[str, bytes]]
    status: int | None = None  # answer every request with this HTTP status
    drop_after: dict[str, int] = field(default_factory=dict)  # file -> bytes, then hang up (once)
    down_after_drop: bool = False  # after the hang-up, answer 503 for that file until cleared
    down: set[str] = field(default_factory=set)
    requests: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.commits = {r: hashlib.sha1(r.encode()).hexdigest() for r in self.repos}
        self.lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                hub.handle(self, head=True)

            def do_GET(self) -> None:
                hub.handle(self, head=False)

            def finish(self) -> None:
                try:
                    super().finish()
                except OSError:  # the socket was shut down on purpose
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeHub:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def gets(self, since: int = 0) -> list[str]:
        """Repo files whose content was requested (GET on /resolve/)."""
        return [s.path.split("/resolve/", 1)[1].split("/", 1)[1] for s in self.requests[since:]
                if s.method == "GET" and "/resolve/" in s.path]

    # ---- protocol

    @staticmethod
    def send(h: BaseHTTPRequestHandler, status: int, body: bytes = b"",
             headers: dict[str, str] | None = None, head: bool = False) -> None:
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if not head:
            h.wfile.write(body)

    def error(self, h: BaseHTTPRequestHandler, status: int, code: str | None, head: bool,
              extra: dict[str, str] | None = None) -> None:
        headers = {"Content-Type": "application/json", **(extra or {})}
        if code:
            headers |= {"X-Error-Code": code, "X-Error-Message": code}
        self.send(h, status, json.dumps({"error": code or "error"}).encode(), headers, head)

    def split_repo(self, rest: str) -> tuple[str, str] | None:
        for repo in self.repos:
            if rest.startswith(repo + "/"):
                return repo, rest[len(repo) + 1:]
        return None

    def handle(self, h: BaseHTTPRequestHandler, head: bool) -> None:
        parts = urlsplit(h.path)
        path = unquote(parts.path)
        with self.lock:
            self.requests.append(Seen(h.command, path, h.headers.get("Range")))
        if self.status is not None:
            return self.error(h, self.status, None, head)
        if path.startswith("/api/models/"):
            found = self.split_repo(path[len("/api/models/"):])
            if found is None:
                return self.error(h, 404, "RepoNotFound", head)
            repo, tail = found
            kind, _, rest = tail.partition("/")
            rev, _, sub = rest.partition("/")
            if rev not in ("main", self.commits[repo]):
                return self.error(h, 404, "RevisionNotFound", head)
            if kind == "revision":
                return self.repo_info(h, repo, head)
            if kind == "tree":
                recursive = parse_qs(parts.query).get("recursive", [""])[0].lower() == "true"
                return self.tree(h, repo, sub, recursive, head)
            return self.error(h, 404, None, head)
        if "/resolve/" in path:
            repo, _, rest = path[1:].partition("/resolve/")
            rev, _, filename = rest.partition("/")
            if repo not in self.repos:
                return self.error(h, 404, "RepoNotFound", head)
            if rev not in ("main", self.commits[repo]):
                return self.error(h, 404, "RevisionNotFound", head)
            if filename not in self.repos[repo]:
                return self.error(h, 404, "EntryNotFound", head,
                                  {"X-Repo-Commit": self.commits[repo]})
            return self.file(h, repo, filename, head)
        return self.error(h, 404, None, head)

    def repo_info(self, h: BaseHTTPRequestHandler, repo: str, head: bool) -> None:
        info = {"id": repo, "modelId": repo, "sha": self.commits[repo], "private": False,
                "lastModified": "2025-01-01T00:00:00.000Z",
                "siblings": [{"rfilename": p} for p in sorted(self.repos[repo])]}
        self.send(h, 200, json.dumps(info).encode(), {"Content-Type": "application/json"}, head)

    def tree(self, h: BaseHTTPRequestHandler, repo: str, sub: str, recursive: bool,
             head: bool) -> None:
        prefix = sub.rstrip("/") + "/" if sub else ""
        entries, folders = [], set()
        for p, data in sorted(self.repos[repo].items()):
            if not p.startswith(prefix):
                continue
            rel = p[len(prefix):].split("/")
            for i in range(1, len(rel)):
                folders.add(prefix + "/".join(rel[:i]))
            if recursive or len(rel) == 1:
                entry = {"type": "file", "path": p, "size": len(data), "oid": git_oid(data)}
                if p.endswith(LFS_SUFFIXES):
                    entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data),
                                    "pointerSize": 134}
                entries.append(entry)
        entries += [{"type": "directory", "path": f, "oid": hashlib.sha1(f.encode()).hexdigest()}
                    for f in sorted(folders) if recursive or "/" not in f[len(prefix):]]
        self.send(h, 200, json.dumps(entries).encode(), {"Content-Type": "application/json"},
                  head)

    def file(self, h: BaseHTTPRequestHandler, repo: str, filename: str, head: bool) -> None:
        data = self.repos[repo][filename]
        headers = {"X-Repo-Commit": self.commits[repo], "Accept-Ranges": "bytes",
                   "Content-Type": "application/octet-stream", "ETag": f'"{git_oid(data)}"'}
        if filename.endswith(LFS_SUFFIXES):
            sha = hashlib.sha256(data).hexdigest()
            headers |= {"ETag": f'"{sha}"', "X-Linked-Etag": f'"{sha}"',
                        "X-Linked-Size": str(len(data))}
        if head:
            return self.send(h, 200, data, headers, head=True)
        with self.lock:
            if filename in self.down:
                return self.error(h, 503, None, head)
            drop = self.drop_after.pop(filename, None)
            if drop is not None and self.down_after_drop:
                self.down.add(filename)
        start, status = 0, 200
        rng = h.headers.get("Range")
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start, status = int(rng[len("bytes="):-1]), 206
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        if drop is None:
            return self.send(h, status, data[start:], headers)
        h.send_response(status)  # promise the whole body, send part of it, hang up
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(data) - start))
        h.end_headers()
        h.wfile.write(data[start:start + drop])
        h.wfile.flush()
        h.close_connection = True
        h.connection.shutdown(socket.SHUT_RDWR)


def git_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def folder_files(folder: Path, prefix: str = "") -> dict[str, bytes]:
    return {prefix + p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def repos(tmp_path_factory) -> dict[str, dict[str, bytes]]:
    """The three repos as the Hub holds them, built from the small parity model."""
    root = tmp_path_factory.mktemp("release")
    ckpt = build_official_layout(parity_dir(), root)
    run = ckpt.parent.rename(ckpt.parent.with_name(DEFAULT_RUN))
    (run / ckpt.name).rename(run / "epoch_64.pth")
    weights = folder_files(root / "experiments")
    weights |= {"README.md": b"# RAG-Gesture weights\n",
                "assets_deps/smplx_models/smplx/SMPLX_NEUTRAL_2020.npz": bytes(range(256)) * 64,
                "assets_deps/smplx_models/README.txt": b"SMPL-X placeholder\n"}
    bert = folder_files(make_bert(tmp_path_factory.mktemp("bert"), layers=1))
    bert |= {"pytorch_model.bin": b"not wanted: safetensors exist", "tf_model.h5": b"tf",
             "coreml/fill-mask/float32_model.mlpackage/Manifest.json": b"{}", "README.md": b"#"}
    wav2vec = folder_files(make_wav2vec(tmp_path_factory.mktemp("wav2vec")))
    return {HF_REPO: weights, BERT: bert, WAV2VEC: wav2vec}


@pytest.fixture(autouse=True)
def hf_env(tmp_path, monkeypatch):
    """A private HF cache and no token, offline switch, proxy or pooled connection from outside.

    huggingface_hub reads its env into `constants` at import time, so both are set.
    """
    from huggingface_hub import constants
    from huggingface_hub.utils import close_session

    home = tmp_path / "hf"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(constants, "HF_HOME", str(home))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 64 * 1024)  # so a cut keeps bytes
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN",
                "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("RAG_GESTURE_HOME", str(tmp_path / "rg-home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    close_session()
    yield home / "hub"
    close_session()


@pytest.fixture
def hub(repos, monkeypatch):
    from huggingface_hub import constants

    server = FakeHub({r: dict(files) for r, files in repos.items()}).start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setattr(constants, "ENDPOINT", server.url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                        server.url + "/{repo_id}/resolve/{revision}/{filename}")
    try:
        yield server
    finally:
        server.stop()


def assert_identical(root: Path, repos: dict[str, dict[str, bytes]]) -> None:
    for path, data in repos[HF_REPO].items():
        if path.startswith(("vae/", "diffusion/")):
            assert (root / "experiments" / path).read_bytes() == data, path
        elif path.startswith("assets_deps/"):
            assert (root / "datasets" / path).read_bytes() == data, path
        else:
            assert not (root / "experiments" / path).exists()
            assert not (root / "datasets" / path).exists()


def cached_files(cache: Path, repo: str) -> set[str]:
    snaps = cache / f"models--{repo.replace('/', '--')}" / "snapshots"
    return {p.relative_to(s).as_posix() for s in snaps.iterdir() for p in s.rglob("*")
            if p.is_file()}


# --------------------------------------------------------------------------------------------
# tests


def test_download_then_load_and_check(hub, repos, tmp_path, hf_env):
    root = tmp_path / "weights"
    assert download_weights(root, progress=False) == root
    assert_identical(root, repos)
    loaded = load_official(find_checkpoint(root))
    assert loaded.checkpoint == root / "experiments" / CKPT
    assert loaded.config_path.name == "basegesture_len150_beat.py"
    assert all(p is not None for p in loaded.vae_checkpoints.values())
    assert check_weights(root) == []
    # only what transformers reads, safetensors rather than .bin
    assert cached_files(hf_env, BERT) == {"config.json", "model.safetensors", "tokenizer.json",
                                          "tokenizer_config.json", "vocab.txt"}
    assert "model.safetensors" in cached_files(hf_env, WAV2VEC)
    assert not [s for s in hub.requests if s.method not in ("GET", "HEAD")]

    # a second run (default progress bars this time) fetches no file again
    before = len(hub.requests)
    download_weights(root)
    assert hub.gets(before) == []


def test_speech_models_load_from_cache_without_download(hub, tmp_path):
    from transformers import AutoModel, AutoTokenizer, Wav2Vec2ForCTC, Wav2Vec2Processor

    from backend.speech.pretrained import BERT_NAME, WAV2VEC_NAME, from_pretrained

    download_weights(tmp_path / "w", progress=False)
    hub.status = 500  # from here on the Hub is unusable: everything must come from the cache
    tok = from_pretrained(AutoTokenizer, BERT_NAME, allow_download=False)
    assert tok("Hello world")["input_ids"][0] == tok.cls_token_id
    bert = from_pretrained(AutoModel, BERT_NAME, allow_download=False)
    assert bert.config.hidden_size == 768
    proc = from_pretrained(Wav2Vec2Processor, WAV2VEC_NAME, allow_download=False)
    assert proc.tokenizer.convert_ids_to_tokens(4) == "|"
    w2v = from_pretrained(Wav2Vec2ForCTC, WAV2VEC_NAME, allow_download=False)
    assert w2v.config.vocab_size == 32


def test_pytorch_bin_is_the_fallback_when_a_repo_has_no_safetensors(hub, hf_env):
    from backend.weights import download_speech_models

    files = hub.repos[WAV2VEC]
    files["pytorch_model.bin"] = files.pop("model.safetensors")
    download_speech_models(progress=False)
    assert "pytorch_model.bin" in cached_files(hf_env, WAV2VEC)
    assert "pytorch_model.bin" not in cached_files(hf_env, BERT)


def test_connection_cut_mid_file_resumes_with_a_range_request(hub, repos, tmp_path):
    cut = 300_000
    hub.drop_after[CKPT] = cut
    root = tmp_path / "w"
    download_weights(root, include_speech_models=False, progress=False)
    assert_identical(root, repos)
    ranges = [s.range for s in hub.requests if s.method == "GET" and s.path.endswith(CKPT)]
    assert len(ranges) == 2 and ranges[0] is None
    # the retry asks only for the rest: from the last whole chunk written before the cut
    assert ranges[1].startswith("bytes=") and ranges[1].endswith("-")
    assert 0 < int(ranges[1][len("bytes="):-1]) <= cut


def test_interrupted_download_resumes_on_the_second_call(hub, repos, tmp_path):
    hub.drop_after[CKPT] = 300_000
    hub.down_after_drop = True
    root = tmp_path / "w"
    with pytest.raises(WeightsError) as info:
        download_weights(root, include_speech_models=False, progress=False)
    msg = str(info.value)
    assert "HTTP 503" in msg and f"`rag-gesture download --weights {root}`" in msg
    assert "\n" not in msg
    assert not (root / "experiments" / CKPT).exists()
    done = {p for p in repos[HF_REPO] if (root / "experiments" / p).is_file()}
    assert done  # the files finished before the cut stay

    hub.down.clear()  # the network is back
    before = len(hub.requests)
    download_weights(root, include_speech_models=False, progress=False)
    fetched = hub.gets(before)
    assert CKPT in fetched
    assert not done & set(fetched)  # nothing finished is fetched twice
    assert_identical(root, repos)
    assert load_official(find_checkpoint(root)).checkpoint.name == "epoch_64.pth"


@pytest.mark.parametrize("how", ["env", "constant"])
def test_offline_mode_refuses_without_any_request(hub, tmp_path, monkeypatch, how):
    from huggingface_hub import constants

    if how == "env":
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    else:
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(WeightsError, match="Downloads are disabled") as info:
        download_weights(tmp_path / "w")
    assert "HF_HUB_OFFLINE" in str(info.value) and "rag-gesture download" in str(info.value)
    assert hub.requests == []
    assert not (tmp_path / "w").exists()


def test_server_error_is_one_sentence(hub, tmp_path):
    hub.status = 500
    with pytest.raises(WeightsError) as info:
        download_weights(tmp_path / "w", progress=False)
    msg = str(info.value)
    assert msg.startswith(f"Downloading the RAG-Gesture weights ({HF_REPO}) from {hub.url}")
    assert "HTTP 500" in msg and "re-run `rag-gesture download --weights" in msg
    assert "\n" not in msg and msg.count(". ") == 0 and msg.endswith(".")


def test_check_weights_names_each_missing_piece_and_its_command(hub, tmp_path, hf_env):
    root = tmp_path / "w"
    download_weights(root, progress=False)
    fix = f"run `rag-gesture download --weights {root}`"
    assert check_weights(root) == []

    (root / "experiments" / "vae" / "small_upper" / "small_upper.yaml").unlink()
    assert check_weights(root) == [
        "the upper VAE config experiments/vae/small_upper/small_upper.yaml named by "
        f"basegesture_len150_beat.py is missing from {root}; {fix}"]

    run = root / "experiments" / "diffusion" / DEFAULT_RUN
    (run / "basegesture_len150_beat.py").unlink()
    assert check_weights(root) == [
        f"the model config experiments/diffusion/{DEFAULT_RUN}/basegesture_len150_beat.py is "
        f"missing beside the checkpoint; {fix}"]

    (run / "epoch_64.pth").unlink()
    problems = check_weights(root)
    assert problems[0] == (f"the diffusion checkpoint experiments/{CKPT} is missing from "
                           f"{root}; {fix}")
    assert len(problems) == 2

    shutil.rmtree(hf_env / f"models--{BERT}")
    assert check_weights(root)[-1] == (
        f"the speech model {BERT} is missing from the Hugging Face cache {hf_env} (its "
        f"config.json is not there); {fix}")
    assert len(check_weights(root, speech_models=False)) == 2

    shutil.rmtree(root / "experiments")
    assert check_weights(root, speech_models=False) == [
        f"the weights folder {root} has no experiments/ folder, so the diffusion checkpoint "
        f"experiments/{CKPT} is missing; {fix}"]

    # nothing anywhere: the default command needs no flag
    assert check_weights(None, speech_models=False)[0].startswith(
        "no RAG-Gesture weights folder was found (looked in ")
    assert check_weights(None, speech_models=False)[0].endswith("run `rag-gesture download`")


def test_cli_download_then_doctor(hub, tmp_path, capsys):
    root = tmp_path / "w"
    assert main(["download", "--weights", str(root), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"downloading {HF_REPO} into {root}" in out
    assert f"checkpoint: {root / 'experiments' / CKPT}" in out
    assert "speech models: bert-base-cased, facebook/wav2vec2-base-960h" in out
    assert out.strip().splitlines()[-1] == (
        f"done: weights in {root}; check them with `rag-gesture doctor --weights {root}`")

    assert main(["doctor", "--weights", str(root), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "epoch_64.pth" in out and "problem:" not in out and "warning:" not in out
    assert out.strip().endswith("all good")

    (root / "experiments" / "vae" / "small_face" / "small_face.yaml").unlink()
    assert main(["doctor", "--weights", str(root), "--device", "cpu"]) == 1
    out = capsys.readouterr().out
    assert ("  problem: the face VAE config experiments/vae/small_face/small_face.yaml named by "
            "basegesture_len150_beat.py is missing") in out
    assert f"run `rag-gesture download --weights {root}`" in out
    assert "cannot load" in out


def test_cli_download_defaults_and_no_speech_models(hub, tmp_path, capsys):
    assert main(["download", "--no-speech-models", "--no-progress"]) == 0
    out = capsys.readouterr().out
    home = tmp_path / "rg-home"  # $RAG_GESTURE_HOME
    assert (home / "experiments" / CKPT).is_file()
    assert out.strip().splitlines()[-1] == (
        f"done: weights in {home}; check them with `rag-gesture doctor`")
    assert not any(BERT in s.path or WAV2VEC in s.path for s in hub.requests)

    # doctor finds them without flags; without the speech models generate would fail, so
    # doctor fails too and says what to run
    assert main(["doctor", "--device", "cpu"]) == 1
    out = capsys.readouterr().out
    assert f"could not be loaded from the Hugging Face cache ({BERT}); download it" in out
    assert f"could not be loaded from the Hugging Face cache ({WAV2VEC}); download it" in out
    assert "`rag-gesture download`" in out
    assert out.strip().endswith("2 problem(s) found")


def test_cli_download_failure_exits_1_with_the_sentence(hub, tmp_path, capsys):
    hub.status = 500
    assert main(["download", "--weights", str(tmp_path / "w"), "--no-progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: Downloading the RAG-Gesture weights")
    assert "re-run `rag-gesture download --weights" in err[-1]
