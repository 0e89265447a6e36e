"""What the worker writes (hello, progress, result, error, pong, bye) and the one event the
add-on's client adds itself (exit, when the worker process ends).

Every event carries ``v`` and ``type``; clients ignore fields and event types they do not
know. `hello_problem` is the client's check of a worker's hello.
"""

from __future__ import annotations

from typing import Any

from ..skeleton import LOCKABLE_PARTS
from .envelope import ERROR_CODES, PROTOCOL_VERSION

CAPABILITIES = ("generate", "regenerate", "cancel", "shutdown", "locks", "takes", "steps",
                "retrieval")
NEEDED_CAPABILITIES = ("generate", "regenerate", "cancel", "shutdown")  # the add-on's needs
LOADING_STAGE = "loading models"  # the progress stage of the first request only

# How the worker's sentence about a transcript that does not fit the audio starts: the
# error `transcript_mismatch` without `allow_mismatch`, a result warning with it (the add-on
# leaves that warning out when the animator ticked Ignore Transcript Mismatch).
TRANSCRIPT_MISMATCH_NOTE = "the transcript does not seem to match the audio"

# The error code the client gives a request whose worker process ended under it (the worker
# never sends it).
CRASHED = "worker_crashed"
# Environment variable naming a folder the client owns: the worker makes its private result
# folder (hello's `results_dir`) inside it, so a client cleaning up after a killed worker
# removes only its own folder, never a path the child reported.
RESULTS_PARENT_ENV = "RAG_GESTURE_RESULTS_PARENT"


def event(type_: str, **fields: Any) -> dict[str, Any]:
    return {"v": PROTOCOL_VERSION, "type": type_, **fields}


def hello(version: str, torch_version: str, device: str, device_note: str, pid: int,
          weights: str | None, results_dir: str, device_fallback: bool = False
          ) -> dict[str, Any]:
    """`device_fallback`: a GPU was asked for (or is visible) but the CPU runs; the add-on
    then shows `device_note`, the sentence saying why."""
    return event("hello", protocol=PROTOCOL_VERSION, version=version, torch=torch_version,
                 device=device, device_note=device_note, device_fallback=device_fallback,
                 capabilities=list(CAPABILITIES),
                 lockable_parts=list(LOCKABLE_PARTS), pid=pid, weights=weights,
                 results_dir=results_dir)


def progress(request_id: str, stage: str, fraction: float) -> dict[str, Any]:
    return event("progress", id=request_id, stage=stage, fraction=round(fraction, 4))


def result(request_id: str, files: list[str], info: dict[str, Any]) -> dict[str, Any]:
    return event("result", id=request_id, files=files, info=info)


def error(request_id: str | None, code: str, message: str) -> dict[str, Any]:
    assert code in ERROR_CODES or code == CRASHED, code
    return event("error", id=request_id, code=code, message=message)


def pong(request_id: str | None) -> dict[str, Any]:
    return event("pong", id=request_id)


def bye(request_id: str | None) -> dict[str, Any]:
    return event("bye", id=request_id)


def exit_event(returncode: int | None, clean: bool, message: str) -> dict[str, Any]:
    """The client's last event about a worker process: how it ended, and a sentence when it
    did not end cleanly."""
    return event("exit", returncode=returncode, clean=clean, message=message)


def hello_problem(hello_event: dict[str, Any] | None) -> str | None:
    """None when the worker speaks our protocol and can do what the add-on needs, else a
    sentence saying what to update."""
    h = hello_event or {}
    if h.get("protocol") != PROTOCOL_VERSION:
        return (f"The gesture backend speaks protocol {h.get('protocol')}, this add-on "
                f"speaks {PROTOCOL_VERSION}; update the add-on or the backend so they match.")
    missing = [c for c in NEEDED_CAPABILITIES if c not in (h.get("capabilities") or [])]
    if missing:
        return (f"The gesture backend cannot {', '.join(missing)}; update the backend "
                "(press Set up backend in the add-on preferences).")
    return None
