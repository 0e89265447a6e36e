"""`rag-gesture download` / `download_weights` / `check_weights` against a local fake Hub
(tests/support/fake_hub.py): what lands where, resuming after a cut or a cancel (in the same
run and in the next), damaged and stale partial files, progress reports, offline mode, and
the one-sentence errors."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest

from backend.cli import main
from backend.downloads import Meter, RemoteFile, Report
from backend.model.loading import load_official
from backend.progress import Cancelled
from backend.weights import (
    DEFAULT_RUN,
    HF_REPO,
    WeightsError,
    check_weights,
    download_weights,
    find_checkpoint,
)
from tests.support.fake_hub import BERT, CKPT, WAV2VEC, FakeHub, release_repos

# --------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def repos(tmp_path_factory) -> dict[str, dict[str, bytes]]:
    return release_repos(tmp_path_factory.mktemp("release"), tmp_path_factory.mktemp("bert"),
                         tmp_path_factory.mktemp("wav2vec"))


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

    partial = list((root / "experiments" / CKPT).parent.glob("epoch_64.pth.*.part"))
    assert len(partial) == 1 and 0 < partial[0].stat().st_size <= 300_000  # kept
    kept = partial[0].stat().st_size

    hub.down.clear()  # the network is back
    before = len(hub.requests)
    download_weights(root, include_speech_models=False, progress=False)
    fetched = hub.gets(before)
    assert CKPT in fetched
    assert not done & set(fetched)  # nothing finished is fetched twice
    # the cut-off file goes on from the bytes kept, not from its beginning
    again = [s.range for s in hub.requests[before:] if s.method == "GET"
             and s.path.endswith(CKPT)]
    assert again == [f"bytes={kept}-"]
    assert not partial[0].exists()  # renamed into place once whole and verified
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


# --------------------------------------------------------------------------------------------
# resuming, verifying, cancelling, progress (backend.downloads)


def test_cancel_keeps_the_partial_file_and_the_next_run_resumes_it(hub, repos, tmp_path):
    hub.delay = 0.01  # ~6 MB/s: the checkpoint takes a while
    root = tmp_path / "w"
    seen: list[Report] = []
    stop = threading.Event()

    def report(r: Report) -> None:
        seen.append(r)
        if r.file == CKPT and r.done > 0 and any(s.file == CKPT for s in seen[:-1]):
            stop.set()  # cancel once the checkpoint is on its way

    with pytest.raises(Cancelled):
        download_weights(root, include_speech_models=False, progress=report,
                         should_stop=stop.is_set)
    part = next((root / "experiments" / CKPT).parent.glob("epoch_64.pth.*.part"))
    kept = part.stat().st_size
    assert 0 < kept < len(repos[HF_REPO][CKPT])
    assert not (root / "experiments" / CKPT).exists()

    hub.delay = 0.0
    before = len(hub.requests)
    download_weights(root, include_speech_models=False, progress=False)
    assert [s.range for s in hub.requests[before:] if s.method == "GET"
            and s.path.endswith(CKPT)] == [f"bytes={kept}-"]
    assert_identical(root, repos)


def test_progress_reports_bytes_speed_and_files(hub, repos, tmp_path, hf_env):
    seen: list[Report] = []
    download_weights(tmp_path / "w", progress=seen.append)
    total = sum(len(d) for p, d in repos[HF_REPO].items() if p.split("/")[0] in
                ("vae", "diffusion", "assets_deps"))
    total += sum(len(d) for p, d in repos[BERT].items() if p in (
        "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
        "vocab.txt"))
    total += sum(len((hf_env / f"models--{WAV2VEC.replace('/', '--')}" / "blobs" / b.name)
                     .read_bytes()) for b in (hf_env / f"models--{WAV2VEC.replace('/', '--')}"
                                               / "blobs").iterdir())
    assert {r.total for r in seen} == {total}
    done = [r.done for r in seen]
    assert done == sorted(done) and done[0] == 0 and done[-1] == total
    assert seen[-1].files_done == seen[-1].files and seen[-1].file == ""
    assert CKPT in {r.file for r in seen} and all(r.speed >= 0 for r in seen)
    assert seen[-1].fraction == 1.0


def test_a_damaged_partial_file_is_deleted_and_fetched_again(hub, repos, tmp_path):
    root = tmp_path / "w"
    download_weights(root, include_speech_models=False, progress=False)
    data = repos[HF_REPO][CKPT]
    ckpt = root / "experiments" / CKPT
    ckpt.unlink()
    import hashlib

    part = ckpt.with_name(f"epoch_64.pth.{hashlib.sha256(data).hexdigest()[:12]}.part")
    part.write_bytes(b"\0" * 1000)  # wrong bytes where a kept prefix would be
    with pytest.raises(WeightsError, match="arrived damaged") as info:
        download_weights(root, include_speech_models=False, progress=False)
    assert "\n" not in str(info.value) and not part.exists()
    download_weights(root, include_speech_models=False, progress=False)  # from byte 0 now
    assert ckpt.read_bytes() == data


def test_a_server_that_ignores_range_still_gives_the_whole_file(hub, repos, tmp_path):
    hub.drop_after[CKPT] = 300_000
    hub.ignore_range = True
    root = tmp_path / "w"
    download_weights(root, include_speech_models=False, progress=False)
    assert (root / "experiments" / CKPT).read_bytes() == repos[HF_REPO][CKPT]


def test_partial_files_of_another_version_are_removed(hub, repos, tmp_path):
    root = tmp_path / "w"
    old = root / "experiments" / (CKPT + ".0123456789ab.part")
    old.parent.mkdir(parents=True)
    old.write_bytes(b"an older release")
    download_weights(root, include_speech_models=False, progress=False)
    assert not old.exists()
    assert (root / "experiments" / CKPT).read_bytes() == repos[HF_REPO][CKPT]


def test_meter_speed_is_over_the_last_seconds(tmp_path):
    now = [0.0]
    files = [RemoteFile("r", "a.bin", "u", 10_000_000, "", tmp_path / "a.bin")]
    reports: list[Report] = []
    meter = Meter(files, reports.append, every=0.0, window=3.0, clock=lambda: now[0])
    for _ in range(10):  # 1 MB per second for 10 s
        now[0] += 1.0
        meter.add(1_000_000)
    assert meter.speed == pytest.approx(1_000_000)
    now[0] += 1.0
    meter.add(4_000_000)  # a burst: the last 3 s average 2 MB/s
    assert meter.speed == pytest.approx((1_000_000 * 2 + 4_000_000) / 3)
    assert (reports[-1].done, reports[-1].total) == (14_000_000, 10_000_000)


def test_cli_download_json_progress_lines(hub, tmp_path, capsys):
    root = tmp_path / "w"
    assert main(["download", "--weights", str(root), "--no-speech-models",
                 "--progress", "json"]) == 0
    lines = [json.loads(ln) for ln in capsys.readouterr().out.splitlines()
             if ln.startswith("{")]
    assert lines and all(ln["type"] == "download" for ln in lines)
    assert {"done", "total", "speed", "file", "files_done", "files"} <= set(lines[0])
    assert lines[-1]["done"] == lines[-1]["total"] > 0
