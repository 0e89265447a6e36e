"""Operators: gather the scene's inputs, hand them to a job, report one sentence.

Generate, Regenerate range, Set up backend and Check setup are long: they run through
`modal.ModalJobOperator` (progress, ESC / Cancel, one undo step). The inputs come from
``scene.requests``, the keyframes are written by ``scene.takes``; what is left here is the
choice of job and the sentence at the end.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

import bpy
from bpy.props import StringProperty

from ..scene import keys, requests, rig, takes, timeline
from ..scene.timeline import TimelineError
from ..shared.protocol.events import TRANSCRIPT_MISMATCH_NOTE
from ..shared.protocol.generate import GenerateRequest
from ..shared.protocol.regenerate import RegenerateRequest
from ..shared.skeleton import LOCKABLE_PARTS
from ..worker import client, jobs, setup
from .modal import ModalJobOperator, show_status
from .prefs import FINDINGS, SETUP_LOG, get_prefs, start_worker


def describe_inserted(inserted: list[dict]) -> str:
    """One line per planted clip for the panel: label, word, frame, database clip."""
    lines = []
    for item in inserted:
        word = f' "{item["word"]}"' if item.get("word") else ""
        lines.append(f"{item.get('label', '')}{word} in window {item['window']} "
                     f"<- {item['clip']}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- generation


class _GenerationOperator(ModalJobOperator):
    """Generate and Regenerate range: a worker request whose result becomes keyframes.

    The writer a job calls with the result keeps no Blender data from ``invoke``: no
    Context (Blender warns against storing it) and no datablocks, only `takes.IdRef`s it
    resolves when the result arrives, many modal calls later. Panel text is set from the
    modal's own context in `outcome`.
    """

    bl_options = {"REGISTER", "UNDO"}

    def outcome(self, context: bpy.types.Context) -> tuple[str, str]:
        if self._job.state.status != jobs.DONE:
            return super().outcome(context)
        return ("WARNING" if self.notes() else "INFO"), jobs.sentence(self.done_message())

    def notes(self) -> tuple[str, ...]:
        """The backend's warnings, without the transcript-mismatch note when the animator
        ticked Ignore Transcript Mismatch (they were told once, in the error that asked
        them to tick it)."""
        allowed = self._job.request.speech.allow_mismatch
        return tuple(jobs.sentence(w) for w in self._job.warnings
                     if not (allowed and TRANSCRIPT_MISMATCH_NOTE in w))

    def done_message(self) -> str:
        return "Done"


class GenerateLogic(_GenerationOperator):
    """Generate's inputs and writer (a plain class: tests drive it without Blender's
    operator machinery)."""

    job_label = "Generate"

    def make_job(self, context: bpy.types.Context) -> jobs.GenerateJob:
        scene = context.scene
        settings = scene.rag_gesture
        obj = requests.target_armature(context)
        lay = requests.rig_layout(obj)
        audio, speech = requests.speech_input(scene, settings, client.scratch_dir())
        retrieval = requests.retrieval_request(scene, settings, audio)
        worker = start_worker(context)  # after the cheap checks: no start for a bad scene
        request = GenerateRequest(speech, requests.sampling(settings), fps=audio.fps,
                                  retrieval=retrieval)
        target, start = takes.IdRef.of(obj), round(audio.frame_zero)
        made = self._made = []

        def write(motions: list[dict], info: dict) -> None:
            made[:] = takes.write_takes(target, motions, audio.fps, start, audio.name, lay)

        return jobs.GenerateJob(worker, request, write)

    def outcome(self, context: bpy.types.Context) -> tuple[str, str]:
        if self._job.state.status == jobs.DONE:
            context.window_manager.rag_gesture.retrieved = describe_inserted(
                self._job.info.get("inserted", []))
        return super().outcome(context)

    def done_message(self) -> str:
        made = self._made
        return (f"Wrote {len(made)} take{'s' if len(made) != 1 else ''} ({', '.join(made)})"
                if made else "Done")


class RegenerateLogic(_GenerationOperator):
    """Regenerate range's inputs and writer: the result goes into the take it was computed
    from, even when the animator switched takes while it ran."""

    job_label = "Regenerate"

    def make_job(self, context: bpy.types.Context) -> jobs.GenerateJob:
        scene = context.scene
        settings = scene.rag_gesture
        obj = requests.target_armature(context)
        lay = requests.rig_layout(obj)
        locks = requests.locked_parts(settings)
        if len(locks) == len(LOCKABLE_PARTS):
            raise TimelineError("Every body part is locked, so there is nothing to "
                                "regenerate; untick at least one lock.")
        fps = timeline.scene_fps(scene)
        try:
            current = keys.read_motion(obj, fps, lay)
        except ValueError:
            raise TimelineError(f"The armature '{obj.name}' has no generated motion yet; "
                                "press Generate first.") from None
        start_frame = current["start_frame"]
        n = current["poses"].shape[0]
        span = requests.regenerate_span(scene, settings, (start_frame, start_frame + n - 1))
        audio, speech = requests.speech_input(scene, settings, client.scratch_dir())
        if abs(start_frame - round(audio.frame_zero)) > 0.5:
            raise TimelineError(f"The motion starts at frame {start_frame:g} but the audio "
                                f"at frame {audio.frame_zero:g}: move the sound strip back, "
                                "or generate again.")
        worker = start_worker(context)
        path = worker.write_motion(f"{worker.new_id('motion')}.npz", current["poses"],
                                   current["trans"], current.get("expressions"),
                                   current["fps"])
        request = RegenerateRequest(speech, motion=str(path), start=span.first - start_frame,
                                    end=span.last + 1 - start_frame, locks=locks,
                                    margin=settings.margin,
                                    sampling=requests.sampling(settings, takes=1))
        target, take = takes.IdRef.of(obj), takes.IdRef.of(obj.animation_data.action)
        lo, hi = span.rewrite_first, span.rewrite_last + 1  # [lo, hi)
        self._span, self._take = span, take.name
        written = self._written = []

        def write(motions: list[dict], info: dict) -> None:
            try:
                written[:] = takes.replace_motion_range(
                    target, motions[0], fps, start_frame, lo, hi, lay=lay, take=take,
                    locks=locks)
            finally:
                with contextlib.suppress(OSError):
                    os.remove(path)

        return jobs.GenerateJob(worker, request, write)

    def done_message(self) -> str:
        name, active = self._written or (self._take, True)
        text = f"Regenerated {self._span.describe()} of '{name}'"
        return text if active else text + ", which is not the active take (click it under Takes)"


class RAG_GESTURE_OT_generate(GenerateLogic, bpy.types.Operator):
    """Generate body, hand and face motion for the dialogue line onto the armature, as new
    takes (ESC cancels)"""

    bl_idname = "rag_gesture.generate"
    bl_label = "Generate"
    bl_options = {"REGISTER", "UNDO"}


class RAG_GESTURE_OT_regenerate(RegenerateLogic, bpy.types.Operator):
    """Regenerate the motion in the chosen range (preview range, typed frames or whole take)
    of the active take, keeping everything outside the range and its blend margin, and the
    locked body parts (ESC cancels)"""

    bl_idname = "rag_gesture.regenerate"
    bl_label = "Regenerate Range"
    bl_options = {"REGISTER", "UNDO"}


class RAG_GESTURE_OT_cancel(bpy.types.Operator):
    """Stop the running generation (the scene stays as it was) or the backend set-up"""

    bl_idname = "rag_gesture.cancel"
    bl_label = "Cancel"

    def execute(self, context: bpy.types.Context) -> set[str]:
        if jobs.request_cancel():
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
        model = timeline.user_path(prefs.smplx_model) if prefs and prefs.smplx_model else None
        try:
            obj = rig.create_smplx_armature(context, name="SMPLX", model_path=model)
        except (ValueError, OSError) as exc:
            self.report({"ERROR"}, jobs.sentence(str(exc)))
            return {"CANCELLED"}
        context.scene.rag_gesture.armature = obj
        self.report({"INFO"}, f"Created the SMPL-X armature '{obj.name}'.")
        return {"FINISHED"}


class RAG_GESTURE_OT_use_take(bpy.types.Operator):
    """Make this take (or the action it replaced) the armature's active action; safe while a
    regenerate runs, whose result still goes into the take it was started on"""

    bl_idname = "rag_gesture.use_take"
    bl_label = "Use Take"
    bl_options = {"REGISTER", "UNDO"}

    take: StringProperty(name="Take")

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            obj = requests.target_armature(context)
        except TimelineError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        try:
            keys.use_take(obj, self.take)
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
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


class _WhenIdle:
    """Available while no generation runs (it would lose its worker)."""

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return jobs.active_job() is None


class RAG_GESTURE_OT_worker_stop(_WhenIdle, bpy.types.Operator):
    """Stop the backend worker and free its memory"""

    bl_idname = "rag_gesture.worker_stop"
    bl_label = "Stop Worker"

    def execute(self, context: bpy.types.Context) -> set[str]:
        client.stop_worker()
        return {"FINISHED"}


class RAG_GESTURE_OT_worker_restart(_WhenIdle, bpy.types.Operator):
    """Restart the backend worker (after changing the interpreter, weights or device)"""

    bl_idname = "rag_gesture.worker_restart"
    bl_label = "Restart Worker"

    def execute(self, context: bpy.types.Context) -> set[str]:
        client.stop_worker()
        return RAG_GESTURE_OT_worker_start.execute(self, context)


# ---------------------------------------------------------------------------- set-up


class _CommandOperator(ModalJobOperator):
    """Set up backend / Check setup: commands run one after another, their output shown in
    the preferences (ESC does not stop them; the Cancel button does)."""

    slot = jobs.SETUP
    timer_step = 0.25
    escape_cancels = False
    cursor_progress = False

    def on_begin(self, context: bpy.types.Context) -> None:
        FINDINGS.clear()
        SETUP_LOG.clear()

    def on_tick(self, context: bpy.types.Context, state: jobs.JobState) -> None:
        SETUP_LOG[:] = self._job.lines[-40:]
        super().on_tick(context, state)

    @staticmethod
    def backend_process(context: bpy.types.Context) -> dict:
        """env and cwd for a command of the installed backend (doctor, download), as the
        worker gets them; one sentence when there is no backend interpreter yet."""
        prefs = get_prefs(context)
        if not prefs.resolved_python():
            raise ValueError("no backend Python interpreter is set; press Set up backend "
                             "first")
        config = prefs.worker_config()
        return {"env": client.child_environment(backend_root=config.backend_root,
                                                threads=config.threads),
                "cwd": config.backend_root}


class RAG_GESTURE_OT_setup_backend(_CommandOperator, bpy.types.Operator):
    """Create a Python environment and install PyTorch and the RAG-Gesture backend into it
    (the commands are listed in the preferences; this downloads about 1-3 GB)"""

    bl_idname = "rag_gesture.setup_backend"
    bl_label = "Set up Backend"
    job_label = "Set up backend"

    def make_job(self, context: bpy.types.Context) -> jobs.CommandJob:
        prefs = get_prefs(context)
        if prefs.resolved_backend_source() is None:
            raise ValueError("the backend sources were not found next to the add-on; set "
                             "Backend Source in the advanced preferences")
        if not bpy.app.online_access:
            raise ValueError("Blender's online access is off (Preferences > System > "
                             "Network), and pip needs it to download PyTorch")
        return jobs.CommandJob(prefs.setup_commands(), timeout=7200.0)

    def outcome(self, context: bpy.types.Context) -> tuple[str, str]:
        job = self._job
        if job.state.status == jobs.DONE:
            FINDINGS[:] = [f"The backend is installed: {get_prefs(context).resolved_python()}",
                           "Next: press Download Weights (it ends with Check setup)."]
            client.stop_worker()  # the next Generate starts the new interpreter
            return "INFO", "The backend is installed."
        if job.state.message:
            FINDINGS[:] = [job.state.message]
        return super().outcome(context)


class DownloadWeightsLogic(_CommandOperator):
    """Download Weights' job and its verdict (a plain class: tests drive it modally)."""

    job_label = "Download weights"

    def make_job(self, context: bpy.types.Context) -> jobs.DownloadJob:
        prefs = get_prefs(context)
        if not bpy.app.online_access:  # also checked here: scripts can call execute()
            raise ValueError("Blender's online access is off (Preferences > System > "
                             "Network), so nothing can be downloaded; turn it on, or copy "
                             "the weights by hand and set the Weights Folder")
        return jobs.DownloadJob(prefs.download_command(), prefs.doctor_command(),
                                timeout=6 * 3600.0, **self.backend_process(context))

    def on_tick(self, context: bpy.types.Context, state: jobs.JobState) -> None:
        show_status(context, state, self.job_label)  # the log stays empty: progress shows

    def outcome(self, context: bpy.types.Context) -> tuple[str, str]:
        job = self._job
        if job.state.status == jobs.CANCELLED:
            FINDINGS[:] = ["Download cancelled; what arrived is kept, and Download Weights "
                           "goes on from there."]
            return "INFO", FINDINGS[0]
        if not job.downloaded:
            FINDINGS[:] = [job.state.message or "The download failed."]
            SETUP_LOG[:] = job.lines[-12:]
            return "ERROR", FINDINGS[0]
        FINDINGS[:] = ["Downloaded: the weights and the speech models are in place.",
                       *setup.doctor_findings(job.doctor_lines, job.returncode)]
        SETUP_LOG.clear()
        if job.returncode == 0:
            return "INFO", "The weights are downloaded and the backend is ready."
        problems = [f for f in FINDINGS[1:] if not f.startswith(("Device:", "Weights:"))]
        return "WARNING", problems[0] if problems else "The check found problems; see the " \
            "add-on preferences."


class RAG_GESTURE_OT_download_weights(DownloadWeightsLogic, bpy.types.Operator):
    """Download the RAG-Gesture weights and the two speech models (a few GB) with the
    backend, then check the setup; Cancel keeps what arrived and the next press goes on
    from there"""

    bl_idname = "rag_gesture.download_weights"
    bl_label = "Download Weights"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not bpy.app.online_access:
            cls.poll_message_set("Blender's online access is off (Preferences > System > "
                                 "Network)")
            return False
        return super().poll(context)


class RAG_GESTURE_OT_check_setup(_CommandOperator, bpy.types.Operator):
    """Run the backend's 'rag-gesture doctor': is PyTorch there, which device, do the
    weights load"""

    bl_idname = "rag_gesture.check_setup"
    bl_label = "Check Setup"
    job_label = "Check setup"

    def make_job(self, context: bpy.types.Context) -> jobs.CommandJob:
        return jobs.CommandJob([get_prefs(context).doctor_command()], timeout=600.0,
                               **self.backend_process(context))

    def outcome(self, context: bpy.types.Context) -> tuple[str, str]:
        job = self._job
        if job.state.status == jobs.CANCELLED:
            return super().outcome(context)
        lines = [ln for ln in job.lines if not ln.startswith("$ ")]
        FINDINGS[:] = setup.doctor_findings(lines, job.returncode)
        SETUP_LOG.clear()
        if job.returncode == 0:
            return "INFO", "The backend is ready."
        if job.returncode is None:  # the interpreter could not be run at all
            return "ERROR", job.state.message
        problems = [f for f in FINDINGS if not f.startswith(("Device:", "Weights:"))]
        return "WARNING", (problems[0] if problems else "The check found problems; see the "
                           "add-on preferences.")


def stop_jobs() -> None:
    """Cancel whatever runs (the add-on is being disabled)."""
    jobs.request_cancel()


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
    RAG_GESTURE_OT_download_weights,
    RAG_GESTURE_OT_check_setup,
)
