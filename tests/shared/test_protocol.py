"""The wire protocol has one home: every request the add-on can send, built with the shared
classes exactly as the add-on builds them, survives the pipe and the backend's parser.

`rag_gesture_addon.scene.requests` fills these classes from the scene (Blender tests check
that path); here every variant of them goes through `encode_line` -> JSON ->
`backend.worker.protocol.parse_request`, and what the pipeline receives is compared field by
field with what was sent.
"""

from __future__ import annotations

import itertools
import json

import pytest

from backend.pipeline.engine import GenerateOptions
from backend.pipeline.regenerate import RegenerateOptions
from backend.worker.protocol import parse_request
from rag_gesture_shared.protocol import events
from rag_gesture_shared.protocol.control import CancelRequest, PingRequest, ShutdownRequest
from rag_gesture_shared.protocol.envelope import ProtocolError, decode_line, encode_line
from rag_gesture_shared.protocol.generate import GenerateRequest
from rag_gesture_shared.protocol.regenerate import MAX_MARGIN, RegenerateRequest
from rag_gesture_shared.protocol.requests import parse_request as parse_message
from rag_gesture_shared.protocol.retrieval import METHODS, Cue, RetrievalRequest
from rag_gesture_shared.protocol.sampling import MAX_STEPS, MAX_TAKES, MIN_STEPS, Sampling
from rag_gesture_shared.protocol.speech import SpeechInput
from rag_gesture_shared.skeleton import LOCKABLE_PARTS
from rag_gesture_shared.speakers import SPEAKERS

AUDIO = "/project/line04.wav"
# The four word sources of the Gesture panel: text strips, a Text block, a file, none.
SPEECH = [
    SpeechInput(AUDIO, phrases=[{"text": "Look at this", "start": 0.1, "end": 0.9},
                                {"text": "big circle", "start": 1.0, "end": 1.6}]),
    SpeechInput(AUDIO, text="Look at this big circle.", allow_mismatch=True),
    SpeechInput(AUDIO, transcript="/project/line04.srt"),
    SpeechInput(AUDIO),
]
CUES = [Cue("deictic", time=1.25), Cue("iconic", time=2.5, word="circle"),
        Cue("metaphoric", time=3.0, clip="2_scott_0_1_1/30")]
RETRIEVAL = [None, *(RetrievalRequest(m, "/db", CUES if m == "directed" else [])
                     for m in METHODS if m != "none")]


def through_the_pipe(request) -> dict:
    """What the worker's reader gets: one ASCII line, decoded."""
    line = encode_line(request.to_message())
    assert line.endswith("\n") and line.count("\n") == 1 and line.isascii()
    return decode_line(line.encode("ascii"))


def check_speech(got, sent: SpeechInput) -> None:
    assert str(got.audio) == sent.audio and got.allow_mismatch == sent.allow_mismatch
    assert (got.text, got.words, got.phrases) == (sent.text, sent.words, sent.phrases)
    assert (str(got.transcript) if got.transcript else None) == sent.transcript


@pytest.mark.parametrize("speech", SPEECH, ids=["phrases", "text", "file", "none"])
@pytest.mark.parametrize("retrieval", RETRIEVAL, ids=["off", *[m for m in METHODS if m != "none"]])
def test_every_generate_request_reaches_the_pipeline(speech, retrieval) -> None:
    sent = GenerateRequest(speech, Sampling(speaker="katya", seed=7, takes=3, steps=20), fps=24.0,
                           retrieval=retrieval, id="req-1-1")
    msg = through_the_pipe(sent)
    assert parse_message(msg).to_message() == msg  # the shared classes round-trip
    req = parse_request(msg)
    assert (req.type, req.id) == ("generate", "req-1-1")
    check_speech(req.speech, speech)
    assert req.options == GenerateOptions(speaker="katya", seed=7, takes=3, steps=20, fps=24.0)
    if retrieval is None:
        assert req.retrieval is None
    else:
        r = req.retrieval
        assert (r.method, str(r.database), r.cues) == (retrieval.method, "/db", retrieval.cues)
        assert (r.guidance_schedule, r.inversion_store) == ("decreasing_till_25", True)


def test_every_speaker_and_the_sampling_limits() -> None:
    for s in SPEAKERS:  # the add-on's speaker menu sends the names
        for steps, takes in ((MIN_STEPS, 1), (MAX_STEPS, MAX_TAKES)):
            msg = through_the_pipe(GenerateRequest(SpeechInput(AUDIO), Sampling(
                s.name, seed=2**63 - 1, takes=takes, steps=steps), fps=29.97, id="g"))
            opts = parse_request(msg).options
            assert (opts.speaker, opts.steps, opts.takes, opts.seed) == (
                s.name, steps, takes, 2**63 - 1)
    # no speaker: the pipeline keeps its own default
    msg = through_the_pipe(GenerateRequest(SpeechInput(AUDIO), id="g"))
    assert "speaker" not in msg and parse_request(msg).options == GenerateOptions()


LOCKS = [c for n in range(len(LOCKABLE_PARTS))
         for c in itertools.combinations(LOCKABLE_PARTS, n)]


@pytest.mark.parametrize("locks", LOCKS, ids=lambda c: "+".join(c) or "none")
def test_every_regenerate_request_reaches_the_pipeline(locks) -> None:
    for margin in (0.0, 0.5, MAX_MARGIN):
        sent = RegenerateRequest(SPEECH[0], motion="/tmp/client/motion-1.npz", start=48, end=96,
                                 locks=locks, margin=margin,
                                 sampling=Sampling("scott", seed=3, takes=1, steps=50),
                                 id="req-1-2")
        msg = through_the_pipe(sent)
        assert parse_message(msg).to_message() == msg
        req = parse_request(msg)
        assert (req.type, req.id, str(req.motion), req.start, req.end) == (
            "regenerate", "req-1-2", "/tmp/client/motion-1.npz", 48, 96)
        check_speech(req.speech, SPEECH[0])
        assert req.options == RegenerateOptions(speaker="scott", seed=3, takes=1, steps=50,
                                                locks=locks, margin=margin)


def test_control_requests() -> None:
    req = parse_request(through_the_pipe(CancelRequest(target="req-1-1")))
    assert (req.type, req.target, req.id) == ("cancel", "req-1-1", None)
    assert parse_request(through_the_pipe(PingRequest(id="ping-1"))).id == "ping-1"
    assert parse_request(through_the_pipe(ShutdownRequest(id="shutdown"))).type == "shutdown"


def test_what_the_add_on_cannot_send_is_refused_naming_the_field() -> None:
    every = RegenerateRequest(SPEECH[0], "/m.npz", 0, 10, locks=LOCKABLE_PARTS, id="r")
    with pytest.raises(ProtocolError, match="'locks' holds every body part"):
        parse_request(through_the_pipe(every))
    with pytest.raises(ProtocolError, match=r"'steps' must be a whole number from 5 to 1000"):
        parse_request(through_the_pipe(GenerateRequest(SpeechInput(AUDIO), Sampling(steps=4),
                                                       id="g")))
    both = SpeechInput(AUDIO, text="hi", transcript="/t.txt")
    with pytest.raises(ProtocolError, match="give only one of"):
        parse_request(through_the_pipe(GenerateRequest(both, id="g")))
    with pytest.raises(ProtocolError, match="'retrieval.database'"):
        parse_request(through_the_pipe(GenerateRequest(
            SpeechInput(AUDIO), retrieval=RetrievalRequest("discourse"), id="g")))
    with pytest.raises(ProtocolError, match="'retrieval.guidance_schedule'"):
        parse_request(through_the_pipe(GenerateRequest(SpeechInput(AUDIO), retrieval=(
            RetrievalRequest("discourse", "/db", guidance_schedule="fastest")), id="g")))
    with pytest.raises(ValueError, match="Out of range float values"):
        encode_line(GenerateRequest(SpeechInput(AUDIO), fps=float("nan")).to_message())


def test_hello_and_the_clients_check() -> None:
    hello = events.hello("0.1.0", "2.13.0", "cpu", "CPU", 1, None, "/tmp/r")
    assert json.loads(encode_line(hello))["lockable_parts"] == list(LOCKABLE_PARTS)
    assert events.hello_problem(hello) is None
    assert "speaks protocol 2" in events.hello_problem({**hello, "protocol": 2})
    assert "cannot cancel" in events.hello_problem({**hello, "capabilities": [
        "generate", "regenerate", "shutdown"]})
