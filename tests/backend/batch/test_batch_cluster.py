"""A multi-node Ray cluster on one machine (`ray.cluster_utils.Cluster`) losing workers.

Head node without CPUs plus two one-CPU worker nodes, so each actor sits on its own node.
While the batch runs (a CLI subprocess joined with `--address`), the test kills a busy
actor with `ray.kill`, then removes a whole node. Every line must still be done exactly once,
no temporary file may be left, and every output must load.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backend.batch.report import read_report
from backend.batch.runner import NAMESPACE
from backend.motion.motion import Motion
from rag_gesture_shared.atomic_file import leftover_temp_files
from tests.backend.batch.test_batch import REPO, env, write_jsonl
from tests.support.speech_audio import speak

LINES = 10


def wait_for(what, timeout: float = 180.0, proc: subprocess.Popen | None = None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = what()
        if got:
            return got
        if proc is not None and proc.poll() is not None:
            raise AssertionError("the batch ended too early: " + proc.stderr.read()[-3000:])
        time.sleep(0.1)
    raise AssertionError("timed out")


def status(out: Path) -> dict:
    try:
        return json.loads((out / ".rag-gesture-batch" / "status.json").read_text())
    except (OSError, ValueError):
        return {}


def busy_actor(out: Path) -> str | None:
    s = status(out)
    busy = [a for a in s.get("actors", []) if a["state"] == "busy"]
    return busy[0]["name"] if busy and s["counts"].get("done", 0) >= 1 else None


def done_count(out: Path) -> int:
    report = out / "report.jsonl"
    return sum(r["status"] == "done" for r in read_report(report)) if report.is_file() else 0


@pytest.fixture
def cluster(monkeypatch, tmp_path):
    import ray
    from ray.cluster_utils import Cluster

    for k, v in env(tmp_path).items():  # the node processes inherit this environment
        monkeypatch.setenv(k, v)
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    nodes = [c.add_node(num_cpus=1) for _ in range(2)]
    c.wait_for_nodes()
    ray.init(address=c.address, namespace=NAMESPACE, logging_level="ERROR",
             log_to_driver=False)
    try:
        yield c, nodes
    finally:
        ray.shutdown()
        c.shutdown()


def test_killed_actor_and_removed_node_every_line_once(cluster, tmp_path, official_checkpoint,
                                                       tiny_bert_dir, tiny_wav2vec_dir):
    import ray

    c, nodes = cluster
    audio = speak("This line keeps an actor busy for a little while, on purpose. " * 2,
                  tmp_path / "line.wav")
    manifest = write_jsonl(tmp_path / "m.jsonl", [
        {"id": f"l{i:02d}", "audio": str(audio), "seed": i} for i in range(LINES)])
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "batch", str(manifest), "--out", str(out),
         "--address", c.address, "--actors", "2", "--threads-per-actor", "1", "--steps", "400",
         "--retries", "3", "--startup-timeout", "60", "--allow-mismatch", "--no-progress",
         "--checkpoint", str(official_checkpoint), "--bert", str(tiny_bert_dir),
         "--wav2vec", str(tiny_wav2vec_dir), "--device", "cpu"],
        cwd=REPO, env={**os.environ, **env(tmp_path)}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        victim = wait_for(lambda: busy_actor(out), proc=proc)
        ray.kill(ray.get_actor(victim, namespace=NAMESPACE))
        seen = done_count(out)
        wait_for(lambda: done_count(out) >= seen + 2, proc=proc)
        c.remove_node(nodes[1])
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr[-3000:]
    assert f"{LINES} lines: {LINES} done" in stdout
    rows = read_report(out / "report.jsonl")
    assert sorted(r["id"] for r in rows) == [f"l{i:02d}" for i in range(LINES)]
    assert all(r["status"] == "done" for r in rows)  # each line exactly once, all done
    retried = [r for r in rows if r["attempts"] > 1]
    assert retried, rows
    assert all(any("retried: the actor running it died" in w for w in r["warnings"])
               for r in retried)
    actors = status(out)["actors"]
    assert sum(a["state"] == "dead" for a in actors) >= 2  # the killed one and the node's
    assert not leftover_temp_files(out)
    for i in range(LINES):
        assert Motion.load_npz(out / f"l{i:02d}.npz").num_frames > 0
