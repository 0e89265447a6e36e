"""Download Weights in the preferences, end to end: Blender's online access, the progress bar
(bytes done/total, speed) and Cancel while it runs, the next press going on from what
arrived, and Check setup's verdict with its check mark at the end. The Hub is a local
stand-in (tests/support/fake_hub.py) run by the backend's interpreter; the download runs
in the backend's interpreter too, as it does for a user."""

from __future__ import annotations

import subprocess
import time
from types import SimpleNamespace

import bpy
import pytest

from tests.support.recording_layout import RecordingLayout

CKPT_NAME = "epoch_64.pth"


@pytest.fixture(scope="module")
def hub_url(backend_python, repo_root, tmp_path_factory):
    proc = subprocess.Popen([str(backend_python), "-m", "tests.support.fake_hub",
                             str(tmp_path_factory.mktemp("hub")), "0.01"], cwd=repo_root,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.startswith("URL "), line
    yield line.split()[1]
    proc.stdin.close()
    proc.wait(30)


@pytest.fixture
def ops(addon_module):
    return addon_module("ui.operators")


@pytest.fixture
def setup_prefs(addon, addon_module, addon_module_name, backend_python, repo_root, hub_url,
                tmp_path, monkeypatch):
    """Preferences and environment of a user who has a backend but no weights yet."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN", "HTTP_PROXY",
                "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    for k, v in {"HF_ENDPOINT": hub_url, "HF_HOME": str(tmp_path / "hf"),
                 "HF_HUB_CACHE": str(tmp_path / "hf" / "hub"), "NO_PROXY": "127.0.0.1",
                 "RAG_GESTURE_HOME": str(tmp_path / "home")}.items():
        monkeypatch.setenv(k, v)
    p = bpy.context.preferences.addons[addon_module_name].preferences
    saved = {k: getattr(p, k) for k in ("python_path", "weights_dir", "checkpoint", "bert",
                                        "wav2vec", "device", "threads", "backend_source")}
    p.python_path, p.weights_dir, p.checkpoint = str(backend_python), str(tmp_path / "w"), ""
    p.bert = p.wav2vec = ""
    p.device, p.threads, p.backend_source = "CPU", 1, str(repo_root)
    system = bpy.context.preferences.system
    online = system.use_online_access
    yield p
    system.use_online_access = online
    for k, v in saved.items():
        setattr(p, k, v)


def draw_prefs(prefs) -> list:
    log: list = []
    layout = RecordingLayout(log)

    class Proxy:
        def __getattr__(self, name):
            return getattr(prefs, name)

    proxy = Proxy()
    proxy.layout = layout
    type(prefs).draw(proxy, bpy.context)
    return log


def driver(ops):
    class Driver(ops.DownloadWeightsLogic):
        def __init__(self) -> None:
            self.reports: list[tuple[str, str]] = []

        def report(self, level: set[str], message: str) -> None:
            self.reports.append((next(iter(level)), message))

    return Driver()


def test_download_needs_blenders_online_access(ops, setup_prefs, addon_module):
    bpy.context.preferences.system.use_online_access = False
    assert not bpy.app.online_access
    assert not bpy.ops.rag_gesture.download_weights.poll()
    with pytest.raises(RuntimeError, match="online access is off"):
        bpy.ops.rag_gesture.download_weights()
    log = draw_prefs(setup_prefs)
    assert ("operator", "rag_gesture.download_weights") in log
    assert any(e[0] == "label" and e[1].startswith("Downloads need Blender's online access")
               for e in log)
    drv = driver(ops)  # a script calling the logic directly is refused the same way
    assert drv.begin(bpy.context) is False
    assert "online access is off" in drv.reports[-1][1]


def test_download_shows_progress_cancels_resumes_and_ends_green(ops, setup_prefs,
                                                                 addon_module, tmp_path):
    jobs, prefs_mod = addon_module("worker.jobs"), addon_module("ui.prefs")
    bpy.context.preferences.system.use_online_access = True
    assert bpy.app.online_access and bpy.ops.rag_gesture.download_weights.poll()

    weights = tmp_path / "w"
    drv = driver(ops)
    assert drv.begin(bpy.context)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert drv.tick(bpy.context) is None, drv._job.state
        up = drv._job.update
        if up is not None and up.file.endswith(CKPT_NAME) and any(
                p.stat().st_size > 0 for p in weights.rglob(f"{CKPT_NAME}.*.part")):
            break  # the checkpoint is on its way
        time.sleep(0.05)
    else:
        pytest.fail(f"no progress: {drv._job.state} {drv._job.lines[-5:]}")
    status = bpy.context.window_manager.rag_gesture
    assert status.running and 0 < status.fraction < 1
    log = draw_prefs(setup_prefs)
    bars = [e[1] for e in log if e[0] == "progress"]
    assert bars and bars[0].startswith("Downloading: ") and " of " in bars[0], log
    assert ("operator", "rag_gesture.cancel") in log
    assert ("operator", "rag_gesture.download_weights") not in log  # not twice at once

    assert bpy.ops.rag_gesture.cancel() == {"FINISHED"}
    assert drv.tick(bpy.context) == {"CANCELLED"}
    assert prefs_mod.FINDINGS[0].startswith("Download cancelled; what arrived is kept")
    parts = list(weights.rglob(f"{CKPT_NAME}.*.part"))
    assert len(parts) == 1 and parts[0].stat().st_size > 0

    assert bpy.ops.rag_gesture.download_weights() == {"FINISHED"}  # blocking in background
    findings = prefs_mod.FINDINGS
    assert findings[0] == "Downloaded: the weights and the speech models are in place."
    assert findings[-1] == "All good: the backend is ready.", findings
    assert not list(weights.rglob("*.part")) and list(weights.rglob(CKPT_NAME))
    log = draw_prefs(setup_prefs)
    assert ("label", "All good: the backend is ready.", "CHECKMARK") in log
    assert jobs.active_job(jobs.SETUP) is None


def test_finding_icons(addon_module):
    prefs_mod = addon_module("ui.prefs")
    assert prefs_mod.finding_icon("All good: the backend is ready.") == "CHECKMARK"
    assert prefs_mod.finding_icon("Device: CPU (as requested).") == "INFO"
    assert prefs_mod.finding_icon("The RAG-Gesture weights are missing: ...") == "ERROR"


def test_a_device_fallback_is_shown_in_the_panel(addon_module):
    """The worker runs on the CPU although CUDA was chosen: its sentence is in the panel."""
    client, panels = addon_module("worker.client"), addon_module("ui.panels")
    fake = SimpleNamespace(device=client.DeviceState(
        "cpu", "CPU: CUDA was requested but this torch build sees no CUDA GPU", True))
    old, client._worker = client._worker, fake
    try:
        log: list = []
        panels.device_warning(RecordingLayout(log))
        assert log[0] == ("label", "CPU: CUDA was requested but this torch", "ERROR")
        assert all(e[0] == "label" and len(e[1]) <= 42 for e in log)  # wrapped
        assert " ".join(e[1] for e in log) == \
            "CPU: CUDA was requested but this torch build sees no CUDA GPU."
        fake.device = client.DeviceState("cpu", "CPU (no CUDA or MPS GPU visible to torch)",
                                         False)
        log.clear()
        panels.device_warning(RecordingLayout(log))
        assert log == []
    finally:
        client._worker = old
