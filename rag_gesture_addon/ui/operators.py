"""Operators: gather inputs from the scene, hand them to a job, report one sentence.

Generate and Regenerate range are modal: ``invoke`` starts the job and a 0.1-s window timer,
``modal`` calls ``job.step()`` on each TIMER event (and cancels on ESC), and the keyframes are
written inside the final ``modal`` call, so a successful run is one undo step and a cancelled
or failed one changes nothing (the operator returns CANCELLED). ``execute`` runs the same job
to its end, blocking: that is what background mode and scripts get (``bpy.app.timers`` and
window timers never fire there).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from typing import Any

import bpy
from bpy.props import StringProperty

from . import client, compat, jobs, keys, rig, timeline
from .prefs import FINDINGS, SETUP_LOG, get_prefs
from .timeline import TimelineError

TIMER_STEP = 0.1  # seconds between modal steps


# ---------------------------------------------------------------------------- inputs


def target_armature(context: bpy.types.Context) -> bpy.types.Object:
    """The armature chosen in the panel, else the active object; TimelineError otherwise."""
    settings = context.scene.rag_gesture
    obj = settings.armature or context.active_object
    if obj is None:
        raise TimelineError("Select the character's armature first (or create an SMPL-X "
                            "armature in the Gesture panel).")
    if obj.type != "ARMATURE":
        raise TimelineError(f"'{obj.name}' is a {obj.type.lower()}, not an armature: select "
                            "the character's armature or create an SMPL-X armature in the "
                            "Gesture panel.")
    return obj


def rig_layout(obj: bpy.types.Object) -> keys.Layout:
    """How motion goes onto `obj` (an SMPL-X armature, or a rig a bone map covers, see
    `rig_profiles`); found once per operator, since a retargeted rig is probed for it."""
    try:
        return keys.layout(obj)
    except ValueError as exc:
        raise TimelineError(f"{exc} (Or use an SMPL-X armature: Create SMPL-X Armature "
                            "in the Gesture panel.)") from None


def speech_fields(context: bpy.types.Context, folder: str | None
                  ) -> tuple[timeline.AudioInfo, dict[str, Any]]:
    """Audio + words + style fields shared by generate and regenerate."""
    scene = context.scene
    settings = scene.rag_gesture
    audio = timeline.read_audio(scene, settings, folder)
    fields: dict[str, Any] = {"audio": audio.path,
                              **timeline.transcript_fields(scene, settings, audio),
                              "speaker": settings.speaker, "seed": settings.seed,
                              "steps": settings.steps}
    if settings.allow_mismatch:
        fields["allow_mismatch"] = True
    return audio, fields


def retrieval_fields(scene: bpy.types.Scene, settings: Any,
                     audio: timeline.AudioInfo) -> dict | None:
    """The request's `retrieval` object: method, database and the cues of the markers and
    of annotated text strips."""
    cues = timeline.marker_cues(scene, audio)
    if settings.transcript_source == "TEXT_STRIPS":
        cues = sorted(cues + timeline.strip_cues(scene, settings.transcript_channel, audio),
                      key=lambda c: c["time"])
    method = settings.retrieval.lower()
    if method == "none" and not cues:
        return None
    if not settings.gesture_db:
        raise TimelineError("Retrieval needs a gesture database: set Gesture Database to a "
                            "folder made by `rag-gesture build-db`")
    return {"method": "directed" if method == "none" else method,
            "database": bpy.path.abspath(settings.gesture_db), "cues": cues}


def describe_inserted(inserted: list[dict]) -> str:
    """One line per planted clip for the panel: label, word, frame, database clip."""
    lines = []
    for item in inserted:
        word = f' "{item["word"]}"' if item.get("word") else ""
        lines.append(f"{item.get('label', '')}{word} in window {item['window']} "
                     f"<- {item['clip']}")
    return "\n".join(lines)


def start_worker(context: bpy.types.Context) -> client.WorkerClient:
    prefs = get_prefs(context)
    if prefs is None:
        raise client.WorkerError("The RAG-Gesture add-on preferences are not available.")
    config = prefs.worker_config()
    if not config.python:
        raise client.WorkerError("No backend Python interpreter is set: press Set up backend "
                                 "in the add-on preferences, or choose an interpreter that "
                                 "has the backend installed.")
    return client.ensure_worker(config)


def next_take_number(prefix: str) -> int:
    """1 + the highest N of existing actions named '<prefix> take N'."""
    best = 0
    head = f"{prefix} take "
    for action in bpy.data.actions:
        if action.name.startswith(head):
            tail = action.name[len(head):].split(".")[0]
            if tail.isdigit():
                best = max(best, int(tail))
    return best + 1


# ---------------------------------------------------------------------------- writers


def write_takes(obj_name: str, motions: list[dict], scene_fps: float, start_frame: int,
                audio_name: str, lay: keys.Layout | None = None) -> list[str]:
    """Every take as a new action on the armature; the first take ends up assigned.

    All or nothing: if one take fails, the actions made so far (and their face actions) are
    removed and the armature's and face's previous actions are put back.
    """
    obj = bpy.data.objects.get(obj_name)
    if obj is None:
        raise RuntimeError(f"the armature '{obj_name}' was deleted or renamed")
    before = obj.animation_data.action if obj.animation_data else None
    mesh = rig.expression_mesh(obj)
    face = mesh.data.shape_keys if mesh is not None else None
    face_before = face.animation_data.action if face and face.animation_data else None
    first = next_take_number(audio_name)
    lay = lay or keys.layout(obj)
    made: list[Any] = []
    try:
        for i, m in enumerate(motions):
            made.append(keys.write_motion(
                obj, m["poses"], m["trans"], m.get("expressions"), src_fps=m["fps"],
                scene_fps=scene_fps, start_frame=start_frame,
                action_name=f"{audio_name} take {first + i}", lay=lay))
        keys.use_take(obj, made[0].name)
    except Exception:
        compat.assign_action(obj, before)
        if face is not None:
            compat.assign_action(face, face_before)
        for action in made:
            key_action = action.get(keys.EXPRESSION_ACTION_PROP)
            if key_action is not None:
                bpy.data.actions.remove(key_action)
            bpy.data.actions.remove(action)
        raise
    return [a.name for a in made]


def replace_motion_range(obj_name: str, motion: dict, scene_fps: float, start_frame: int,
                         lo: int, hi: int, lay: keys.Layout | None = None) -> None:
    """Rewrite the keys in timeline frames [lo, hi) of the active take."""
    obj = bpy.data.objects.get(obj_name)
    if obj is None:
        raise RuntimeError(f"the armature '{obj_name}' was deleted or renamed")
    keys.replace_range(obj, motion["poses"], motion["trans"], motion.get("expressions"),
                       motion["fps"], scene_fps, start_frame, lo, hi, lay=lay)


# ---------------------------------------------------------------------------- status


def show_status(context: bpy.types.Context, state: jobs.JobState | None, kind: str = "",
                message: str = "", level: str = "INFO") -> None:
    """Mirror a job's state in ``wm.rag_gesture`` (panel + status bar) and redraw."""
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
    screen = getattr(context, "screen", None)
    for area in getattr(screen, "areas", ()):
        if area.type in {"VIEW_3D", "STATUSBAR", "PREFERENCES"}:
            area.tag_redraw()


# ---------------------------------------------------------------------------- job operators


class _JobOperator:
    """Shared modal machinery; subclasses implement ``make_job``."""

    bl_options = {"REGISTER", "UNDO"}
    job_label = "Gesture"

    def make_job(self, context: bpy.types.Context) -> jobs.GenerateJob:
        raise NotImplementedError

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return jobs.active_job() is None

    def begin(self, context: bpy.types.Context) -> bool:
        """Gather inputs and start the job; False (after reporting) when something is wrong."""
        self._timer = None
        try:
            self._job = self.make_job(context)
        except (TimelineError, client.WorkerError) as exc:
            return self.fail(context, str(exc))
        except Exception as exc:  # a bug or an unusual scene: still one sentence, no traceback
            return self.fail(context, f"the request could not be prepared "
                             f"({type(exc).__name__}: {exc})")
        jobs.set_active(self._job)
        context.window_manager.progress_begin(0, 100)
        show_status(context, self._job.state, self.job_label)
        return True

    def fail(self, context: bpy.types.Context, message: str) -> bool:
        message = jobs.sentence(message)
        show_status(context, None, self.job_label, message, "ERROR")
        self.report({"ERROR"}, message)
        return False

    def invoke(self, context: bpy.types.Context, event: Any) -> set[str]:
        if not self.begin(context):
            return {"CANCELLED"}
        wm = context.window_manager
        self._timer = wm.event_timer_add(TIMER_STEP, window=context.window)
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
        if event.type == "ESC" and event.value == "PRESS":
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

    def tick(self, context: bpy.types.Context) -> set[str] | None:
        state = self._job.step()
        if state.finished:
            return self.finish(context)
        context.window_manager.progress_update(int(100 * state.fraction))
        show_status(context, state, self.job_label)
        return None

    def finish(self, context: bpy.types.Context) -> set[str]:
        wm = context.window_manager
        if getattr(self, "_timer", None) is not None:
            wm.event_timer_remove(self._timer)
            self._timer = None
        wm.progress_end()
        jobs.set_active(None)
        state = self._job.state
        if state.status == jobs.DONE:
            message = self.done_message()
            level = "WARNING" if self._job.warnings else "INFO"
            show_status(context, state, self.job_label, message, level)
            self.report({level}, message)
            return {"FINISHED"}
        if state.status == jobs.CANCELLED:
            show_status(context, state, self.job_label, state.message, "INFO")
            self.report({"INFO"}, state.message)
            return {"CANCELLED"}
        show_status(context, state, self.job_label, state.message, "ERROR")
        self.report({"ERROR"}, state.message)
        return {"CANCELLED"}

    def done_message(self) -> str:
        return "Done."


class GenerateLogic(_JobOperator):
    """Generate's inputs and writer (a plain class: tests drive it without Blender's
    operator machinery)."""

    job_label = "Generate"

    def make_job(self, context: bpy.types.Context) -> jobs.GenerateJob:
        scene = context.scene
        settings = scene.rag_gesture
        obj = target_armature(context)
        lay = rig_layout(obj)
        audio, fields = speech_fields(context, client.scratch_dir())
        worker = start_worker(context)  # after the cheap checks: no start for a bad scene
        request = {"type": "generate", **fields, "takes": settings.takes, "fps": audio.fps}
        retrieval = retrieval_fields(context.scene, settings, audio)
        if retrieval:
            request["retrieval"] = retrieval
        obj_name, fps, start = obj.name, audio.fps, round(audio.frame_zero)
        self._made: list[str] = []

        def write(motions: list[dict], info: dict) -> None:
            self._made = write_takes(obj_name, motions, fps, start, audio.name, lay)
            context.window_manager.rag_gesture.retrieved = describe_inserted(
                info.get("inserted", []))

        return jobs.GenerateJob(worker, request, write)

    def done_message(self) -> str:
        made = self._made
        text = (f"Wrote {len(made)} take{'s' if len(made) != 1 else ''} "
                f"({', '.join(made)})" if made else "Done")
        if self._job.warnings:
            text += "; " + "; ".join(self._job.warnings)
        return jobs.sentence(text)


class RegenerateLogic(_JobOperator):
    """Regenerate range's inputs and writer."""

    job_label = "Regenerate"

    def make_job(self, context: bpy.types.Context) -> jobs.GenerateJob:
        scene = context.scene
        settings = scene.rag_gesture
        obj = target_armature(context)
        lay = rig_layout(obj)
        locks = settings.locks()
        if len(locks) == 4:
            raise TimelineError("Every body part is locked, so there is nothing to "
                                "regenerate; untick at least one lock.")
        fps = timeline.scene_fps(scene)
        try:
            current = keys.read_motion(obj, fps, lay)
        except ValueError:
            raise TimelineError(f"The armature '{obj.name}' has no generated motion yet; "
                                "press Generate first.") from None
        lo, hi = timeline.frame_range(scene, settings)
        start_frame = current["start_frame"]
        n = current["poses"].shape[0]
        first, end = timeline.motion_range(lo, hi, start_frame, n)
        audio, fields = speech_fields(context, client.scratch_dir())
        if abs(start_frame - round(audio.frame_zero)) > 0.5:
            raise TimelineError(f"The motion starts at frame {start_frame:g} but the audio "
                                f"at frame {audio.frame_zero:g}: move the sound strip back, "
                                "or generate again.")
        worker = start_worker(context)
        path = worker.write_motion(f"{worker.new_id('motion')}.npz", current["poses"],
                                   current["trans"], current.get("expressions"),
                                   current["fps"])
        request = {"type": "regenerate", **fields, "motion": str(path), "start": first,
                   "end": end, "locks": locks, "margin": settings.margin, "takes": 1}
        margin = round(settings.margin * current["fps"])
        a, b = max(0, first - margin), min(n, end + margin)
        obj_name = obj.name
        self._span = (int(start_frame + a), int(start_frame + b))  # [lo, hi)

        def write(motions: list[dict], info: dict) -> None:
            try:
                replace_motion_range(obj_name, motions[0], fps, start_frame, *self._span,
                                     lay=lay)
            finally:
                with contextlib.suppress(OSError):
                    os.remove(path)

        return jobs.GenerateJob(worker, request, write)

    def done_message(self) -> str:
        lo, hi = self._span
        text = f"Regenerated frames {lo}-{hi - 1} (range and blend margin)"
        if self._job.warnings:
            text += "; " + "; ".join(self._job.warnings)
        return jobs.sentence(text)


class RAG_GESTURE_OT_generate(GenerateLogic, bpy.types.Operator):
    """Generate body, hand and face motion for the dialogue line onto the armature, as new
    takes (ESC cancels)"""

    bl_idname = "rag_gesture.generate"
    bl_label = "Generate"
    bl_options = {"REGISTER", "UNDO"}


class RAG_GESTURE_OT_regenerate(RegenerateLogic, bpy.types.Operator):
    """Regenerate the motion in the preview range (or the typed frames), keeping everything
    outside the range and its blend margin, and the locked body parts (ESC cancels)"""

    bl_idname = "rag_gesture.regenerate"
    bl_label = "Regenerate Range"
    bl_options = {"REGISTER", "UNDO"}


class RAG_GESTURE_OT_cancel(bpy.types.Operator):
    """Stop the running generation (the scene stays as it was) or the backend set-up"""

    bl_idname = "rag_gesture.cancel"
    bl_label = "Cancel"

    def execute(self, context: bpy.types.Context) -> set[str]:
        if jobs.request_cancel() or _cancel_command():
            return {"FINISHED"}
        self.report({"INFO"}, "Nothing is running.")
        return {"CANCELLED"}


# ---------------------------------------------------------------------------- rig and takes


class RAG_GESTURE_OT_create_armature(bpy.types.Operator):
    """Add an armature with the SMPL-X skeleton (and a simple body with face shape keys) that
    generated motion maps onto directly"""

    bl_idname = "rag_gesture.create_armature"
    bl_label = "Create SMPL-X Armature"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        prefs = get_prefs(context)
        model = bpy.path.abspath(prefs.smplx_model) if prefs and prefs.smplx_model else None
        try:
            obj = rig.create_smplx_armature(context, name="SMPLX", model_path=model)
        except (ValueError, OSError) as exc:
            self.report({"ERROR"}, jobs.sentence(str(exc)))
            return {"CANCELLED"}
        context.scene.rag_gesture.armature = obj
        self.report({"INFO"}, f"Created the SMPL-X armature '{obj.name}'.")
        return {"FINISHED"}


class RAG_GESTURE_OT_use_take(bpy.types.Operator):
    """Make this take the armature's active action"""

    bl_idname = "rag_gesture.use_take"
    bl_label = "Use Take"
    bl_options = {"REGISTER", "UNDO"}

    take: StringProperty(name="Take")

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            obj = target_armature(context)
        except TimelineError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if self.take not in keys.list_takes(obj):
            self.report({"ERROR"}, f"'{obj.name}' has no take named '{self.take}'.")
            return {"CANCELLED"}
        keys.use_take(obj, self.take)
        return {"FINISHED"}


# ---------------------------------------------------------------------------- worker


class RAG_GESTURE_OT_worker_start(bpy.types.Operator):
    """Start the backend worker now (it also starts with the first Generate)"""

    bl_idname = "rag_gesture.worker_start"
    bl_label = "Start Worker"

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            start_worker(context)
        except client.WorkerError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return {"FINISHED"}


class RAG_GESTURE_OT_worker_stop(bpy.types.Operator):
    """Stop the backend worker and free its memory"""

    bl_idname = "rag_gesture.worker_stop"
    bl_label = "Stop Worker"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return jobs.active_job() is None

    def execute(self, context: bpy.types.Context) -> set[str]:
        client.stop_worker()
        return {"FINISHED"}


class RAG_GESTURE_OT_worker_restart(bpy.types.Operator):
    """Restart the backend worker (after changing the interpreter, weights or device)"""

    bl_idname = "rag_gesture.worker_restart"
    bl_label = "Restart Worker"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return jobs.active_job() is None

    def execute(self, context: bpy.types.Context) -> set[str]:
        client.stop_worker()
        return RAG_GESTURE_OT_worker_start.execute(self, context)


# ---------------------------------------------------------------------------- set-up


_command: jobs.CommandJob | None = None


def _cancel_command() -> bool:
    if _command is not None and not _command.state.finished:
        _command.cancel()
        return True
    return False


class _CommandOperator:
    """Runs a CommandJob; modal in the UI, blocking in background mode."""

    label = "Command"

    def make_command(self, context: bpy.types.Context) -> jobs.CommandJob:
        raise NotImplementedError

    def on_end(self, context: bpy.types.Context,
               job: jobs.CommandJob) -> tuple[str, str] | None:
        """After the commands: optionally (level, message) to report instead of the default."""
        return None

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _command is None or _command.state.finished

    def begin(self, context: bpy.types.Context) -> bool:
        global _command
        self._timer = None
        try:
            _command = self.make_command(context)
        except (client.WorkerError, ValueError) as exc:
            self.report({"ERROR"}, jobs.sentence(str(exc)))
            return False
        FINDINGS.clear()
        SETUP_LOG.clear()
        context.window_manager.rag_gesture.setup_running = True
        return True

    def invoke(self, context: bpy.types.Context, event: Any) -> set[str]:
        if not self.begin(context):
            return {"CANCELLED"}
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.25, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        if not self.begin(context):
            return {"CANCELLED"}
        while not self.tick(context):
            time.sleep(0.1)
        return self.finish(context)

    def modal(self, context: bpy.types.Context, event: Any) -> set[str]:
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        if self.tick(context):
            return self.finish(context)
        return {"RUNNING_MODAL"}

    def cancel(self, context: bpy.types.Context) -> None:
        """Blender ends the modal operator from outside (file load, window closed)."""
        if _cancel_command():
            self.finish(context)

    def tick(self, context: bpy.types.Context) -> bool:
        state = _command.step()
        SETUP_LOG[:] = _command.lines[-40:]
        show_status(context, None if state.finished else state, self.label)
        return state.finished

    def finish(self, context: bpy.types.Context) -> set[str]:
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None
        context.window_manager.rag_gesture.setup_running = False
        show_status(context, None)
        custom = self.on_end(context, _command)
        state = _command.state
        if custom is not None:
            self.report({custom[0]}, custom[1])
            return {"FINISHED"} if custom[0] != "ERROR" else {"CANCELLED"}
        if state.status == jobs.DONE:
            return {"FINISHED"}
        self.report({"ERROR" if state.status == jobs.FAILED else "INFO"},
                    state.message or "Stopped.")
        return {"CANCELLED"}


class RAG_GESTURE_OT_setup_backend(_CommandOperator, bpy.types.Operator):
    """Create a Python environment and install PyTorch and the RAG-Gesture backend into it
    (the commands are listed in the preferences; this downloads about 1-3 GB)"""

    bl_idname = "rag_gesture.setup_backend"
    bl_label = "Set up Backend"
    label = "Set up backend"

    def make_command(self, context: bpy.types.Context) -> jobs.CommandJob:
        prefs = get_prefs(context)
        if prefs.resolved_backend_source() is None:
            raise ValueError("the backend sources were not found next to the add-on; set "
                             "Backend Source in the advanced preferences")
        if not bpy.app.online_access:
            raise ValueError("Blender's online access is off (Preferences > System > "
                             "Network), and pip needs it to download PyTorch")
        return jobs.CommandJob(prefs.setup_commands(), timeout=7200.0)

    def on_end(self, context: bpy.types.Context,
               job: jobs.CommandJob) -> tuple[str, str] | None:
        prefs = get_prefs(context)
        if job.state.status == jobs.DONE:
            FINDINGS[:] = [f"The backend is installed: {prefs.resolved_python()}",
                           "Next: download the weights, then press Check setup."]
            client.stop_worker()  # the next Generate starts the new interpreter
            return ("INFO", "The backend is installed.")
        if job.state.message:
            FINDINGS[:] = [job.state.message]
        return None


class RAG_GESTURE_OT_check_setup(_CommandOperator, bpy.types.Operator):
    """Run the backend's 'rag-gesture doctor': is PyTorch there, which device, do the
    weights load"""

    bl_idname = "rag_gesture.check_setup"
    bl_label = "Check Setup"
    label = "Check setup"

    def make_command(self, context: bpy.types.Context) -> jobs.CommandJob:
        prefs = get_prefs(context)
        python = prefs.resolved_python()
        if not python:
            raise ValueError("no backend Python interpreter is set; press Set up backend "
                             "first")
        config = prefs.worker_config()
        env = client.child_environment(backend_root=config.backend_root,
                                       threads=config.threads)
        return jobs.CommandJob([prefs.doctor_command()], env=env, cwd=config.backend_root,
                               timeout=600.0)

    def on_end(self, context: bpy.types.Context,
               job: jobs.CommandJob) -> tuple[str, str] | None:
        if job.state.status == jobs.CANCELLED:
            return None
        lines = [ln for ln in job.lines if not ln.startswith("$ ")]
        prefs = get_prefs(context)
        ignore = [name for name, given in (("bert-base-cased", prefs.bert),
                                           ("wav2vec2-base-960h", prefs.wav2vec)) if given]
        FINDINGS[:] = jobs.doctor_findings(lines, job.returncode, ignore)
        SETUP_LOG.clear()
        if job.returncode == 0:
            return ("INFO", "The backend is ready.")
        if job.returncode is None:  # the interpreter could not be run at all
            return ("ERROR", job.state.message)
        problems = [f for f in FINDINGS if not f.startswith(("Device:", "Weights:"))]
        return ("WARNING", problems[0] if problems else "The check found problems; see the "
                "add-on preferences.")


CLASSES: tuple[Callable, ...] = (
    RAG_GESTURE_OT_generate,
    RAG_GESTURE_OT_regenerate,
    RAG_GESTURE_OT_cancel,
    RAG_GESTURE_OT_create_armature,
    RAG_GESTURE_OT_use_take,
    RAG_GESTURE_OT_worker_start,
    RAG_GESTURE_OT_worker_stop,
    RAG_GESTURE_OT_worker_restart,
    RAG_GESTURE_OT_setup_backend,
    RAG_GESTURE_OT_check_setup,
)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    jobs.request_cancel()
    _cancel_command()
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
