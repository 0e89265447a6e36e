"""Download Weights as the add-on runs it: the backend's `rag-gesture download --progress
json` in a child process against a local fake Hub, its progress read by `DownloadJob`,
cancelled mid-file, pressed again (it goes on from the bytes kept), and ending with the
doctor's verdict."""

from __future__ import annotations

import sys
import time

import pytest

from rag_gesture_addon.worker import client, jobs, setup
from tests.support.fake_hub import CKPT, FakeHub, release_repos
from tests.support.paths import REPO_ROOT


@pytest.fixture(scope="module")
def repos(tmp_path_factory):
    return release_repos(tmp_path_factory.mktemp("release"), tmp_path_factory.mktemp("bert"),
                         tmp_path_factory.mktemp("wav2vec"))


@pytest.fixture
def hub(repos, tmp_path, monkeypatch):
    server = FakeHub({r: dict(files) for r, files in repos.items()}).start()
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN", "HTTP_PROXY",
                "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    env = {"HF_ENDPOINT": server.url, "HF_HOME": str(tmp_path / "hf"),
           "HF_HUB_CACHE": str(tmp_path / "hf" / "hub"), "NO_PROXY": "127.0.0.1",
           "RAG_GESTURE_HOME": str(tmp_path / "home"), "XDG_CACHE_HOME": str(tmp_path / "x")}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    yield server
    server.stop()


def download_job(weights) -> jobs.DownloadJob:
    env = client.child_environment(backend_root=str(REPO_ROOT))
    return jobs.DownloadJob(setup.download_command(sys.executable, str(weights)),
                            setup.doctor_command(sys.executable,
                                                 ["--weights", str(weights), "--device", "cpu"]),
                            env=env, cwd=str(REPO_ROOT))


def test_progress_cancel_resume_and_the_verdict(hub, repos, tmp_path):
    weights = tmp_path / "weights"
    hub.delay = 0.02  # the checkpoint takes seconds: time to see progress and cancel
    job = download_job(weights)
    stages, deadline = [], time.monotonic() + 120
    while time.monotonic() < deadline:
        state = job.step()
        stages.append((state.stage, state.fraction))
        if job.update is not None and job.update.file == CKPT and any(
                p.stat().st_size > 0 for p in weights.rglob("epoch_64.pth.*.part")):
            break  # the checkpoint is on its way
        time.sleep(0.05)
    else:
        pytest.fail(f"no progress on the checkpoint: {stages[-3:]} {job.lines[-5:]}")
    shown = [s for s, _ in stages if s.startswith("downloading: ")]
    assert shown and " of " in shown[-1] and shown[-1].endswith(("%)", "/s"))
    assert 0 < stages[-1][1] < 1
    assert not [ln for ln in job.lines if ln.startswith("{")]  # progress is not logged
    assert job.cancel().status == jobs.CANCELLED
    part = next((weights / "experiments" / CKPT).parent.glob("epoch_64.pth.*.part"))
    kept = part.stat().st_size
    assert 0 < kept < len(repos["m-hamza-mughal/rag-gesture-weights"][CKPT])

    hub.delay = 0.0
    before = len(hub.requests)
    again = download_job(weights)
    state = again.run(poll=0.05)
    assert state.status == jobs.DONE, (state.message, again.lines[-10:])
    assert again.downloaded and again.returncode == 0
    ranges = [s.range for s in hub.requests[before:] if s.method == "GET"
              and s.path.endswith(CKPT)]
    assert len(ranges) == 1 and int(ranges[0][len("bytes="):-1]) >= kept
    assert (weights / "experiments" / CKPT).read_bytes() == \
        repos["m-hamza-mughal/rag-gesture-weights"][CKPT]
    findings = setup.doctor_findings(again.doctor_lines, again.returncode)
    assert findings[-1] == setup.READY, again.doctor_lines[-8:]


def test_a_failed_download_is_one_sentence_and_no_check_runs(hub, tmp_path):
    hub.status = 503
    job = download_job(tmp_path / "weights")
    state = job.run(poll=0.05)
    assert state.status == jobs.FAILED and not job.downloaded
    assert state.message.startswith("Downloading the RAG-Gesture weights")
    assert "HTTP 503" in state.message and "\n" not in state.message
    assert not job.doctor_lines
