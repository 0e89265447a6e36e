"""Progress reporting and cooperative cancellation shared by every long-running stage.

Long work takes `progress(stage, fraction)` and `should_stop()` callables; a stage checks
`should_stop` between units of work and raises `Cancelled`, so a cancel lands within one
unit (one DDIM step, one batch of audio windows).
"""

from __future__ import annotations

from collections.abc import Callable

ProgressFn = Callable[[str, float], None]
StopFn = Callable[[], bool]


class Cancelled(RuntimeError):
    """The caller asked to stop; nothing partial is returned."""


def check(should_stop: StopFn | None, what: str) -> None:
    if should_stop is not None and should_stop():
        raise Cancelled(f"{what} was cancelled")
