"""LLM query words (spec §5.5) against a local imitation of an OpenAI /chat/completions server,
and the local-tagger fallback."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from backend.retrieval.gesture_types import LLM_MODEL, chat_messages
from backend.retrieval.llm import (
    LlmConfig,
    llm_query_points,
    local_query_points,
    window_transcript,
)
from backend.retrieval.records import QueryPoint
from backend.speech.words import Word

TEXT = "I saw a huge wall over there yesterday and that idea stayed with me"


def timed(text: str, step: float = 0.5, dur: float = 0.4) -> list[Word]:
    return [
        Word(t, round(i * step, 3), round(i * step + dur, 3)) for i, t in enumerate(text.split())
    ]


def completion(content: str) -> dict:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
    }


class FakeLlm:
    """A /chat/completions imitation on 127.0.0.1 (random port) recording every request."""

    def __init__(self, status: int = 200, body: bytes | dict = b"", delay: float = 0.0):
        self.status = status
        self.body = json.dumps(body).encode() if isinstance(body, dict) else body
        self.delay = delay
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                n = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(n)
                fake.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": json.loads(raw)}
                )
                if fake.delay:
                    time.sleep(fake.delay)
                try:
                    self.send_response(fake.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(fake.body)))
                    self.end_headers()
                    self.wfile.write(fake.body)
                except OSError:
                    pass  # the client gave up (timeout test)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def serve():
    servers: list[FakeLlm] = []

    def start(**kwargs) -> FakeLlm:
        s = FakeLlm(**kwargs)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.close()


@pytest.fixture(autouse=True)
def no_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("TEST_LLM_KEY", raising=False)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------- success


def test_good_answer_gives_timed_query_points(serve):
    srv = serve(body=completion("[('huge', 'iconic'), ('over there', 'deictic')]"))
    words = timed(TEXT)
    points, warnings = llm_query_points(words, LlmConfig(srv.url))
    assert warnings == []
    assert points == [
        QueryPoint("gesture", "huge", "iconic", 1.5, 1.9, None),
        QueryPoint("gesture", "over there", "deictic", 2.5, 3.4, None),
    ]
    assert len(srv.requests) == 1


def test_request_body_and_path(serve):
    srv = serve(body=completion("[('idea', 'metaphoric')]"))
    words = timed(TEXT)
    points, _ = llm_query_points(words, LlmConfig(srv.url + "/", model="my-model"))
    (req,) = srv.requests
    assert req["path"] == "/v1/chat/completions"
    assert req["body"]["model"] == "my-model"
    assert req["body"]["temperature"] == 0
    assert req["body"]["messages"] == chat_messages(TEXT)
    assert TEXT in req["body"]["messages"][-1]["content"]
    assert "Authorization" not in req["headers"]
    assert [(p.text, p.label, p.start) for p in points] == [("idea", "metaphoric", 5.0)]


def test_default_model_and_authorization_header(serve, monkeypatch):
    monkeypatch.setenv("TEST_LLM_KEY", "sk-secret")
    srv = serve(body=completion("[('huge', 'iconic')]"))
    llm_query_points(timed(TEXT), LlmConfig(srv.url, api_key_env="TEST_LLM_KEY"))
    (req,) = srv.requests
    assert req["body"]["model"] == LLM_MODEL
    assert req["headers"]["Authorization"] == "Bearer sk-secret"


def test_unset_key_env_sends_no_authorization(serve, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-other")
    srv = serve(body=completion("[('huge', 'iconic')]"))
    llm_query_points(timed(TEXT), LlmConfig(srv.url, api_key_env="TEST_LLM_KEY"))
    assert "Authorization" not in srv.requests[0]["headers"]


def test_more_than_two_words_keeps_first_two_in_text_order(serve):
    answer = "[('idea', 'metaphoric'), ('huge', 'iconic'), ('over there', 'deictic')]"
    srv = serve(body=completion(answer))
    points, warnings = llm_query_points(timed(TEXT), LlmConfig(srv.url))
    assert [p.text for p in points] == ["huge", "over there"]
    assert len(warnings) == 1 and srv.url in warnings[0] and "'idea'" in warnings[0]


def test_prominence_is_attached(serve):
    srv = serve(body=completion("[('huge', 'iconic')]"))
    rows = [("huge", 1.5, 1.9, 2.5), ("wall", 2.0, 2.4, 1.0)]
    points, _ = llm_query_points(timed(TEXT), LlmConfig(srv.url), prominence=rows)
    assert points[0].prominence == pytest.approx(2.5)


def test_empty_or_beat_only_answer_is_valid(serve):
    srv = serve(body=completion("```python\n[]\n```"))
    points, warnings = llm_query_points(timed(TEXT), LlmConfig(srv.url))
    assert points == [] and warnings == []
    srv2 = serve(body=completion("[('yesterday', 'beat')]"))
    points, warnings = llm_query_points(timed(TEXT), LlmConfig(srv2.url))
    assert points == [] and warnings == []


# ---------------------------------------------------------------------------- fallback


def assert_fallback(points, warnings, endpoint: str, reason: str) -> None:
    words = timed(TEXT)
    assert points == local_query_points(words)
    assert points  # the tagger finds something in TEXT
    assert all(p.kind == "gesture" and p.label != "beat" for p in points)
    assert len(warnings) == 1
    assert endpoint in warnings[0] and reason in warnings[0]
    assert warnings[0].count(". ") == 0  # one sentence


def test_http_500_falls_back(serve):
    srv = serve(status=500, body=b'{"error": "boom"}')
    points, warnings = llm_query_points(timed(TEXT), LlmConfig(srv.url))
    assert_fallback(points, warnings, srv.url + "/chat/completions", "500")


def test_garbage_content_falls_back(serve):
    srv = serve(body=completion("I am sorry, I cannot help with that"))
    points, warnings = llm_query_points(timed(TEXT), LlmConfig(srv.url))
    assert_fallback(points, warnings, srv.url + "/chat/completions", "unparsable")


def test_non_json_body_falls_back(serve):
    srv = serve(body=b"<html>not json</html>")
    points, warnings = llm_query_points(timed(TEXT), LlmConfig(srv.url))
    assert_fallback(points, warnings, srv.url + "/chat/completions", "chat completion")


def test_oversized_body_is_not_read_and_falls_back(serve):
    from backend.retrieval.llm import MAX_RESPONSE_BYTES

    good = json.dumps(completion("[('huge', 'iconic')]")).encode()
    srv = serve(body=good + b" " * MAX_RESPONSE_BYTES)  # valid JSON, padded past the cap
    points, warnings = llm_query_points(timed(TEXT), LlmConfig(srv.url))
    assert_fallback(points, warnings, srv.url + "/chat/completions",
                    "the response is larger than 1024 KB")
    srv = serve(body=good + b" " * (MAX_RESPONSE_BYTES - len(good)))  # exactly at the cap
    points, warnings = llm_query_points(timed(TEXT), LlmConfig(srv.url))
    assert warnings == [] and [p.text for p in points] == ["huge"]


def test_closed_port_falls_back():
    url = f"http://127.0.0.1:{closed_port()}/v1"
    points, warnings = llm_query_points(timed(TEXT), LlmConfig(url, timeout=2.0))
    assert_fallback(points, warnings, url + "/chat/completions", "connection failed")


def test_timeout_falls_back(serve):
    srv = serve(body=completion("[('huge', 'iconic')]"), delay=1.5)
    t0 = time.monotonic()
    points, warnings = llm_query_points(timed(TEXT), LlmConfig(srv.url, timeout=0.2))
    assert time.monotonic() - t0 < 1.4
    assert_fallback(points, warnings, srv.url + "/chat/completions", "timed out")


# ---------------------------------------------------------------------------- LLM off


def test_config_none_sends_nothing(serve):
    srv = serve(body=completion("[('huge', 'iconic')]"))
    words = timed(TEXT)
    points, warnings = llm_query_points(words, None)
    assert srv.requests == []
    assert warnings == []
    assert points == local_query_points(words)
    assert [p.text for p in points][:2] == ["huge", "wall"]


def test_from_env(monkeypatch):
    assert LlmConfig.from_env({}) is None
    assert LlmConfig.from_env({"RAG_GESTURE_LLM_URL": "  "}) is None
    cfg = LlmConfig.from_env({"RAG_GESTURE_LLM_URL": "http://h:1/v1"})
    assert cfg == LlmConfig("http://h:1/v1", LLM_MODEL, "OPENAI_API_KEY")
    cfg = LlmConfig.from_env(
        {
            "RAG_GESTURE_LLM_URL": "http://h:1/v1",
            "RAG_GESTURE_LLM_MODEL": "m",
            "RAG_GESTURE_LLM_KEY_ENV": "K",
        }
    )
    assert (cfg.model, cfg.api_key_env, cfg.endpoint) == (
        "m",
        "K",
        "http://h:1/v1/chat/completions",
    )
    monkeypatch.delenv("RAG_GESTURE_LLM_URL", raising=False)
    assert LlmConfig.from_env() is None
    monkeypatch.setenv("RAG_GESTURE_LLM_URL", "http://x/v1/chat/completions")
    assert LlmConfig.from_env().endpoint == "http://x/v1/chat/completions"


def test_window_transcript():
    assert window_transcript([Word("Hello,"), Word(" "), Word("world.", 0.0, 1.0)]) == (
        "Hello, world."
    )
