"""A local stand-in for the Hugging Face Hub: what huggingface_hub 2.4.0 and the resumable
downloader (backend.downloads) ask, answered from bytes in memory.

The fake Hub (http.server on 127.0.0.1, random port) answers:

* `GET /api/models/<repo>/revision/<rev>` (repo_info): JSON with `id`, `sha`, `siblings`;
* `GET /api/models/<repo>/tree/<sha>?recursive=True` (list_repo_tree): JSON entries with
  `type`, `path`, `size`, `oid` (no `xetHash`, so the plain-HTTP path is taken);
* `HEAD /<repo>/resolve/<sha>/<file>`: `X-Repo-Commit`, `ETag` (git blob sha1, or sha256
  plus `X-Linked-Etag`/`X-Linked-Size` for "LFS" files), `Content-Length`;
* `GET` of the same URL, honouring `Range: bytes=N-` with 206 + `Content-Range` (unless
  `ignore_range`), optionally slowly (`delay` seconds per 64 kB) or cut off after some bytes.
Errors carry `X-Error-Code` (RepoNotFound / RevisionNotFound / EntryNotFound) as the Hub does.
`release_repos` builds the three repositories a download fetches from the small parity model.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from backend.weights import DEFAULT_RUN, HF_REPO
from tests.support.parity_layout import build_official_layout, parity_dir
from tests.support.speech_models import make_bert, make_wav2vec

BERT = "bert-base-cased"
WAV2VEC = "facebook/wav2vec2-base-960h"
CKPT = f"diffusion/{DEFAULT_RUN}/epoch_64.pth"
LFS_SUFFIXES = (".pth", ".bin", ".safetensors", ".npz", ".pkl", ".h5")


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
    ignore_range: bool = False  # answer a Range request with the whole file (200)
    delay: float = 0.0  # seconds of sleep per 64 kB sent (a slow line, to cancel mid-file)

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

    def send_slowly(self, h: BaseHTTPRequestHandler, status: int, body: bytes,
                    headers: dict[str, str]) -> None:
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        try:
            for i in range(0, len(body), 1 << 16):
                h.wfile.write(body[i:i + (1 << 16)])
                h.wfile.flush()
                time.sleep(self.delay)
        except OSError:  # the client went away (cancelled)
            h.close_connection = True

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
        if rng and rng.startswith("bytes=") and rng.endswith("-") and not self.ignore_range:
            start, status = int(rng[len("bytes="):-1]), 206
            if start >= len(data):
                return self.error(h, 416, None, head,
                                  {"Content-Range": f"bytes */{len(data)}"})
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        if drop is None and self.delay:
            return self.send_slowly(h, status, data[start:], headers)
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


def release_repos(root: Path, bert_dir: Path, wav2vec_dir: Path) -> dict[str, dict[str, bytes]]:
    """The three repos as the Hub holds them, built from the small parity model (the speech
    models from tiny configs; BERT also has files a download must leave alone)."""
    ckpt = build_official_layout(parity_dir(), root)
    run = ckpt.parent.rename(ckpt.parent.with_name(DEFAULT_RUN))
    (run / ckpt.name).rename(run / "epoch_64.pth")
    weights = folder_files(root / "experiments")
    weights |= {"README.md": b"# RAG-Gesture weights\n",
                "assets_deps/smplx_models/smplx/SMPLX_NEUTRAL_2020.npz": bytes(range(256)) * 64,
                "assets_deps/smplx_models/README.txt": b"SMPL-X placeholder\n"}
    bert = folder_files(make_bert(bert_dir, layers=1))
    bert |= {"pytorch_model.bin": b"not wanted: safetensors exist", "tf_model.h5": b"tf",
             "coreml/fill-mask/float32_model.mlpackage/Manifest.json": b"{}", "README.md": b"#"}
    wav2vec = folder_files(make_wav2vec(wav2vec_dir))
    return {HF_REPO: weights, BERT: bert, WAV2VEC: wav2vec}


def serve(folder: Path, delay: float = 0.0) -> None:
    """`python -m tests.support.fake_hub FOLDER [DELAY]`: build the release repos in FOLDER,
    serve them, print ``URL <address>`` and stop when standard input closes (for test
    processes that cannot import torch, such as the bpy 4.2 suite)."""
    import sys

    repos = release_repos(folder / "release", folder / "bert", folder / "wav2vec")
    hub = FakeHub(repos, delay=delay).start()
    print(f"URL {hub.url}", flush=True)
    sys.stdin.read()
    hub.stop()


if __name__ == "__main__":
    import sys

    serve(Path(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 0.0)
