"""One operator machinery for every long job: modal in the UI, blocking in background mode.

A job is anything with ``step() -> JobState`` (never blocks), ``cancel()`` and ``state``:
``worker.jobs.GenerateJob`` and ``worker.jobs.CommandJob``. ``invoke`` starts the job and a
window timer, ``modal`` calls ``step()`` on each TIMER event, and the job's own ``on_done``
runs inside that final call, so a successful run is one undo step and a cancelled or failed
one changes nothing (the operator returns CANCELLED). ``execute`` runs the same job to its
end, blocking: that is what background mode and scripts get (``bpy.app.timers`` and window
timers never fire there).
"""

from __future__ import annotations

import time
from typing import Any

import bpy

from ..scene.timeline import TimelineError
from ..worker import jobs
from ..worker.client import WorkerError


def show_status(context: bpy.types.Context, state: jobs.JobState | None, kind: str = "",
                message: str = "", level: str = "INFO", notes: tuple[str, ...] = ()) -> None:
    """Mirror a job's state in ``wm.rag_gesture`` (panel + status bar) and redraw; `notes`
    are the warnings of a job that succeeded, drawn under its message."""
    status = context.window_manager.rag_gesture
    if state is not None and not state.finished:
        status.running = True
        status.kind = kind
        status.stage = state.stage
        status.fraction = state.fraction
    else:
        status.running = False
        status.fraction = 0.0 if state is None else state.fraction
    if message or state is None or state.finished:
        status.message = message
        status.level = level
        status.notes = "\n".join(notes)
    screen = getattr(context, "screen", None)
    for area in getattr(screen, "areas", ()):
        if area.type in {"VIEW_3D", "STATUSBAR", "PREFERENCES"}:
            area.tag_redraw()


class ModalJobOperator:
    """Mix-in for an operator that runs one job; subclasses implement ``make_job`` and may
    refine ``on_begin``, ``on_tick`` and ``outcome``."""

    job_label = "Gesture"  # shown before the stage in the panel and status bar
    slot = jobs.GENERATE  # one running job per slot (worker.jobs)
    timer_step = 0.1  # seconds between modal steps
    escape_cancels = True
    cursor_progress = True  # the window manager's progress cursor

    def make_job(self, context: bpy.types.Context) -> Any:
        raise NotImplementedError

    def on_begin(self, context: bpy.types.Context) -> None:
        """After the job was made, before its first step."""

    def on_tick(self, context: bpy.types.Context, state: jobs.JobState) -> None:
        """After every step of an unfinished job."""
        show_status(context, state, self.job_label)

    def notes(self) -> tuple[str, ...]:
        """Warnings of a job that succeeded, shown under the outcome's message."""
        return ()

    def outcome(self, context: bpy.types.Context) -> tuple[str, str]:
        """(report level, message) once the job is over; an empty message reports nothing."""
        state = self._job.state
        if state.status == jobs.DONE:
            return "INFO", ""
        return ("ERROR" if state.status == jobs.FAILED else "INFO"), state.message or "Stopped."

    # ------------------------------------------------------------------ Blender's calls
    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return jobs.active_job(cls.slot) is None

    def invoke(self, context: bpy.types.Context, event: Any) -> set[str]:
        if not self.begin(context):
            return {"CANCELLED"}
        wm = context.window_manager
        self._timer = wm.event_timer_add(self.timer_step, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        if not self.begin(context):
            return {"CANCELLED"}
        while True:
            done = self.tick(context)
            if done is not None:
                return done
            time.sleep(0.05)

    def modal(self, context: bpy.types.Context, event: Any) -> set[str]:
        if self.escape_cancels and event.type == "ESC" and event.value == "PRESS":
            self._job.cancel()
            return self.finish(context)
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        return self.tick(context) or {"RUNNING_MODAL"}

    def cancel(self, context: bpy.types.Context) -> None:
        """Blender ends the modal operator from outside (file load, window closed)."""
        if getattr(self, "_job", None) is not None and not self._job.state.finished:
            self._job.cancel()
            self.finish(context)

    # ------------------------------------------------------------------ the machinery
    def begin(self, context: bpy.types.Context) -> bool:
        """Gather inputs and start the job; False (after reporting) when something is wrong."""
        self._timer = None
        try:
            self._job = self.make_job(context)
        except (TimelineError, WorkerError, ValueError) as exc:
            return self.fail(context, str(exc))
        except Exception as exc:  # a bug or an unusual scene: still one sentence, no traceback
            return self.fail(context, f"the request could not be prepared "
                             f"({type(exc).__name__}: {exc})")
        jobs.set_active(self._job, self.slot)
        if self.cursor_progress:
            context.window_manager.progress_begin(0, 100)
        self.on_begin(context)
        show_status(context, self._job.state, self.job_label)
        return True

    def fail(self, context: bpy.types.Context, message: str) -> bool:
        message = jobs.sentence(message)
        show_status(context, None, self.job_label, message, "ERROR")
        self.report({"ERROR"}, message)
        return False

    def tick(self, context: bpy.types.Context) -> set[str] | None:
        """One step; the operator's return value once the job is over, else None."""
        state = self._job.step()
        if state.finished:
            return self.finish(context)
        if self.cursor_progress:
            context.window_manager.progress_update(int(100 * state.fraction))
        self.on_tick(context, state)
        return None

    def finish(self, context: bpy.types.Context) -> set[str]:
        wm = context.window_manager
        if getattr(self, "_timer", None) is not None:
            wm.event_timer_remove(self._timer)
            self._timer = None
        if self.cursor_progress:
            wm.progress_end()
        jobs.set_active(None, self.slot)
        state = self._job.state
        level, message = self.outcome(context)
        notes = self.notes() if state.status == jobs.DONE else ()
        show_status(context, state, self.job_label, message, level, notes)
        if message:
            self.report({level}, " ".join((message, *notes)))
        ok = level != "ERROR" and state.status != jobs.CANCELLED
        return {"FINISHED"} if ok else {"CANCELLED"}
