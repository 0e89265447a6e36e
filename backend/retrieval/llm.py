"""LLM query words for the "llm" retrieval strategy (spec §5.5), with a local fallback.

One OpenAI-compatible chat completion per window (`POST {base_url}/chat/completions`, model,
`chat_messages(transcript)`, temperature 0), sent with the standard library only. The answer is
parsed by `parse_llm_answer` and timed on the window tokens by `match_query_words`; at most
`MAX_LLM_WORDS` query points are kept (the prompt asks for at most 2; extra ones are dropped in
text order, with a warning).

The LLM is off unless configured (`LlmConfig.from_env()` returns None when
`RAG_GESTURE_LLM_URL` is unset): nothing is ever sent then, and the local tagger
(`tag_gesture_words`) provides the query points. Any failure of the request (network error,
timeout, non-200 status, a body over MAX_RESPONSE_BYTES, unparsable answer) also falls back
to the local tagger and yields a one-sentence warning naming the endpoint and the reason;
`llm_query_points` never raises for those.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..speech.words import Word
from .gesture_types import (
    LLM_MODEL,
    chat_messages,
    match_query_words,
    parse_llm_answer,
    tag_gesture_words,
)
from .prominence_map import phrase_prominence
from .records import ProminenceRow, QueryPoint

ENV_URL = "RAG_GESTURE_LLM_URL"
ENV_MODEL = "RAG_GESTURE_LLM_MODEL"
ENV_KEY_ENV = "RAG_GESTURE_LLM_KEY_ENV"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"
MAX_LLM_WORDS = 2  # "at most 2 words" of the official user prompt (LR:92)
# A completion naming two words is a few KB; a body beyond this is not read into memory.
MAX_RESPONSE_BYTES = 1024 * 1024

# An answer that parses to no pairs is still valid if it is an empty list or only has beats.
_EMPTY_LIST_RE = re.compile(r"^\W*(?:python)?\W*\[\s*\]\W*$", re.I)
_BEAT_PAIR_RE = re.compile(r",\s*[\"'\u2018\u2019\u201c\u201d`]*b?eat\b", re.I)


@dataclass(frozen=True)
class LlmConfig:
    """Where and how to ask the LLM. `api_key_env` names the env var holding the API key."""

    base_url: str
    model: str = LLM_MODEL
    api_key_env: str = DEFAULT_KEY_ENV
    timeout: float = 20.0

    @property
    def endpoint(self) -> str:
        """The chat-completions URL (`base_url` may already end with /chat/completions)."""
        base = self.base_url.rstrip("/")
        if base.endswith("/chat/completions"):
            return base
        return base + "/chat/completions"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LlmConfig | None:
        """Config from RAG_GESTURE_LLM_URL / _MODEL / _KEY_ENV; None (LLM off) if no URL."""
        env = os.environ if environ is None else environ
        url = env.get(ENV_URL, "").strip()
        if not url:
            return None
        model = env.get(ENV_MODEL, "").strip() or LLM_MODEL
        key_env = env.get(ENV_KEY_ENV, "").strip() or DEFAULT_KEY_ENV
        return cls(base_url=url, model=model, api_key_env=key_env)


class LlmError(Exception):
    """A failed or unusable LLM request (the message is the reason)."""


def window_transcript(words: Sequence[Word]) -> str:
    """The window transcript sent to the LLM: the words' texts joined by single spaces."""
    return " ".join(t for t in (w.text.strip() for w in words) if t)


def local_query_points(
    words: Sequence[Word], prominence: Sequence[ProminenceRow] | None = None
) -> list[QueryPoint]:
    """Query points of the local tagger (non-beat labels), prominence as on the LLM path."""
    labels = [g for g in tag_gesture_words(words) if g.kind != "beat"]
    proms: list[float | None] = (
        phrase_prominence([g.word for g in labels], prominence)
        if prominence is not None
        else [None] * len(labels)
    )
    return [
        QueryPoint("gesture", g.word, g.kind, g.start, g.end, p)
        for g, p in zip(labels, proms, strict=True)
    ]


def request_llm_answer(transcript: str, config: LlmConfig) -> str:
    """POST one chat completion and return `choices[0].message.content`; LlmError on failure."""
    body = json.dumps(
        {"model": config.model, "messages": chat_messages(transcript), "temperature": 0}
    ).encode("utf-8")
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    key = os.environ.get(config.api_key_env, "").strip() if config.api_key_env else ""
    if key:
        headers["Authorization"] = f"Bearer {key}"
    req = urllib.request.Request(config.endpoint, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=config.timeout) as resp:
            status = resp.status
            raw = resp.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as e:
        raise LlmError(f"HTTP status {e.code}") from e
    except urllib.error.URLError as e:
        reason = e.reason
        if isinstance(reason, TimeoutError):
            raise LlmError(f"timed out after {config.timeout:g} s") from e
        raise LlmError(f"connection failed: {reason}") from e
    except TimeoutError as e:
        raise LlmError(f"timed out after {config.timeout:g} s") from e
    except (OSError, http.client.HTTPException, ValueError) as e:
        raise LlmError(f"request failed: {type(e).__name__}: {e}") from e
    if status != 200:
        raise LlmError(f"HTTP status {status}")
    if len(raw) > MAX_RESPONSE_BYTES:
        raise LlmError(f"the response is larger than {MAX_RESPONSE_BYTES // 1024} KB")
    try:
        data = json.loads(raw.decode("utf-8"))
        content = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as e:
        raise LlmError("response is not an OpenAI-style chat completion") from e
    if not isinstance(content, str):
        raise LlmError("response has no text content")
    return content


def llm_query_points(
    words: Sequence[Word],
    config: LlmConfig | None,
    prominence: Sequence[ProminenceRow] | None = None,
) -> tuple[list[QueryPoint], list[str]]:
    """Gesture query points of one window (window-relative timed words) and warnings.

    config None: the local tagger, no request, no warning. Otherwise the LLM answer timed on
    the words (first `MAX_LLM_WORDS` in text order); on any failure the local tagger and a
    warning naming the endpoint and the reason.
    """
    if config is None:
        return local_query_points(words, prominence), []
    endpoint = config.endpoint
    try:
        content = request_llm_answer(window_transcript(words), config)
        pairs = parse_llm_answer(content)
        if not pairs and not (_EMPTY_LIST_RE.match(content) or _BEAT_PAIR_RE.search(content)):
            raise LlmError(f"unparsable answer {_clip(content)!r}")
    except LlmError as e:
        return local_query_points(words, prominence), [
            f"LLM request to {endpoint} failed ({e}); used the local gesture tagger instead."
        ]
    except Exception as e:  # never let the optional LLM path break generation
        return local_query_points(words, prominence), [
            f"LLM request to {endpoint} failed ({type(e).__name__}: {e}); "
            "used the local gesture tagger instead."
        ]
    points = match_query_words(pairs, words, prominence)
    warnings: list[str] = []
    if len(points) > MAX_LLM_WORDS:
        dropped = ", ".join(repr(p.text) for p in points[MAX_LLM_WORDS:])
        warnings.append(
            f"LLM at {endpoint} returned {len(points)} query words, more than the "
            f"{MAX_LLM_WORDS} asked for; kept the first {MAX_LLM_WORDS} and dropped {dropped}."
        )
        points = points[:MAX_LLM_WORDS]
    return points, warnings


def _clip(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."
