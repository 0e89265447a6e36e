"""Add-on preferences: where the backend lives and how its worker is started."""

from __future__ import annotations

import os
from pathlib import Path

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty, StringProperty

from ..core import paths
from ..shared.requirements import TORCH_REQUIREMENT
from ..worker import client, jobs, setup
from .labels import wrapped_label

ADDON_PACKAGE = __package__.rpartition(".")[0]  # the add-on's module: preferences key
ADDON_DIR = Path(__file__).resolve().parents[1]  # the add-on's folder (zip root)
# What the last "Check setup" / "Set up backend" found, for the preferences to draw.
FINDINGS: list[str] = []
SETUP_LOG: list[str] = []


def get_prefs(context: bpy.types.Context | None = None) -> RAGGesturePreferences | None:
    context = context or bpy.context
    addon = context.preferences.addons.get(ADDON_PACKAGE)
    return addon.preferences if addon is not None else None


def start_worker(context: bpy.types.Context) -> client.WorkerClient:
    """The running worker for the current preferences (started, or restarted after a change
    of interpreter, weights or device)."""
    prefs = get_prefs(context)
    if prefs is None:
        raise client.WorkerError("The RAG-Gesture add-on preferences are not available.")
    config = prefs.worker_config()
    if not config.python:
        raise client.WorkerError("No backend Python interpreter is set: press Set up backend "
                                 "in the add-on preferences, or choose an interpreter that "
                                 "has the backend installed.")
    return client.ensure_worker(config)


def _abspath(path: str) -> str:
    """A path typed in the preferences, absolute (`worker.paths.resolve_path`: ``//``, ``~``,
    relative paths, either slash), as the worker and pip get it."""
    return paths.resolve_path(path, os.path.dirname(bpy.data.filepath))


def _model(name: str) -> str:
    """A speech model preference: a Hub id as it is, a folder as an absolute path."""
    return paths.model_argument(name, os.path.dirname(bpy.data.filepath))


def bundled_backend_source() -> str | None:
    """The backend sources that came with the add-on: ``backend_src/`` in the extension zip,
    or the repository root when the add-on runs from a source checkout."""
    for root in (ADDON_DIR / "backend_src", ADDON_DIR.parent):
        if (root / "backend" / "cli" / "__init__.py").is_file() and (
                root / "pyproject.toml").is_file():
            return str(root)
    return None


def default_venv_dir() -> str:
    """``<extension user folder>/backend-venv``: survives add-on updates."""
    try:
        base = bpy.utils.extension_path_user(ADDON_PACKAGE, create=True)
    except (ValueError, RuntimeError, AttributeError):  # not loaded as an extension
        base = bpy.utils.user_resource("DATAFILES", path="rag_gesture", create=True)
    return os.path.join(base, "backend-venv")


class RAGGesturePreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_PACKAGE

    python_path: StringProperty(
        name="Backend Python", subtype="FILE_PATH",
        description="Python interpreter that has the RAG-Gesture backend and PyTorch "
        "installed (empty: the one made by Set up backend)")
    device: EnumProperty(
        name="Device", default="AUTO",
        items=[("AUTO", "Automatic", "An NVIDIA GPU (CUDA) when PyTorch can use one, else an "
                "Apple GPU (MPS), else the CPU"),
               ("CUDA", "CUDA GPU", "An NVIDIA GPU (falls back to the CPU, and says why, "
                "when there is none or it cannot be used)"),
               ("MPS", "Apple GPU (MPS)", "The GPU of an Apple Silicon Mac (falls back to the "
                "CPU, and says why, when it cannot be used)"),
               ("CPU", "CPU", "The processor; slower but always there")])
    weights_dir: StringProperty(
        name="Weights Folder", subtype="DIR_PATH",
        description="Folder that holds experiments/ with the RAG-Gesture weights (empty: "
        "$RAG_GESTURE_HOME or ~/.cache/rag-gesture)")
    smplx_model: StringProperty(
        name="SMPL-X Model", subtype="FILE_PATH",
        description="Optional SMPL-X model file (.npz) for body proportions and foot contacts")
    threads: IntProperty(
        name="CPU Threads", default=0, min=0, max=256,
        description="CPU threads for the backend (0: all cores but one, leaving one to "
        "Blender)")
    allow_download: BoolProperty(
        name="Allow Speech Model Download", default=False,
        description="Let the backend fetch missing speech models from the Hugging Face hub "
        "when a generation needs them (only when Blender's online access is allowed; "
        "Download Weights fetches them up front)")

    # Set up backend
    venv_dir: StringProperty(
        name="Environment Folder", subtype="DIR_PATH",
        description="Where Set up backend creates the backend's Python environment (empty: "
        "in the extension's user folder)")
    base_python: StringProperty(
        name="Base Python", subtype="FILE_PATH",
        description="Python 3.11, 3.12 or 3.13 used to create the environment (empty: "
        "Blender's own Python, else one found on the PATH)")
    torch_spec: StringProperty(name="PyTorch", default=TORCH_REQUIREMENT,
                               description="The PyTorch requirement pip installs")
    torch_index: StringProperty(
        name="PyTorch Index", default="",
        description="Optional package index for PyTorch, e.g. "
        "https://download.pytorch.org/whl/cu128 for CUDA 12.8 or .../whl/cpu for a small "
        "CPU-only install")

    # Advanced
    show_advanced: BoolProperty(name="Advanced", default=False)
    backend_source: StringProperty(
        name="Backend Source", subtype="DIR_PATH",
        description="Folder with the backend's pyproject.toml and backend/ (empty: the copy "
        "shipped with the add-on)")
    checkpoint: StringProperty(
        name="Checkpoint", subtype="FILE_PATH",
        description="A diffusion checkpoint file; overrides the weights folder")
    bert: StringProperty(name="BERT", description="bert-base-cased: hub name or local folder")
    wav2vec: StringProperty(
        name="wav2vec 2.0", description="facebook/wav2vec2-base-960h: hub name or local folder")

    # ------------------------------------------------------------------ resolved values

    def resolved_venv(self) -> str:
        return _abspath(self.venv_dir) or default_venv_dir()

    def resolved_python(self) -> str:
        if self.python_path:
            return _abspath(self.python_path)
        made = setup.venv_python(self.resolved_venv())
        return made if os.path.isfile(made) else ""

    def resolved_backend_source(self) -> str | None:
        return _abspath(self.backend_source) or bundled_backend_source()

    def resolved_threads(self) -> int:
        return self.threads or max(1, (os.cpu_count() or 2) - 1)

    def worker_config(self) -> client.WorkerConfig:
        args = ["--device", self.device.lower()]
        if self.checkpoint:
            args += ["--checkpoint", _abspath(self.checkpoint)]
        elif self.weights_dir:
            args += ["--weights", _abspath(self.weights_dir)]
        if self.bert:
            args += ["--bert", _model(self.bert)]
        if self.wav2vec:
            args += ["--wav2vec", _model(self.wav2vec)]
        if self.smplx_model:
            args += ["--smplx-model", _abspath(self.smplx_model)]
        if self.allow_download and bpy.app.online_access:
            args.append("--allow-download")
        return client.WorkerConfig(python=self.resolved_python(), args=args,
                                   backend_root=self.resolved_backend_source(),
                                   threads=self.resolved_threads())

    def setup_commands(self) -> list[list[str]]:
        source = self.resolved_backend_source() or "<backend source not found>"
        base = _abspath(self.base_python) or setup.find_base_python()
        return setup.setup_commands(base, self.resolved_venv(), source, self.torch_spec,
                                   self.torch_index)

    def doctor_command(self) -> list[str]:
        return setup.doctor_command(self.resolved_python() or "python",
                                   self.worker_config().args)

    def download_command(self) -> list[str]:
        return setup.download_command(self.resolved_python() or "python",
                                      _abspath(self.weights_dir))

    # ------------------------------------------------------------------ drawing

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout

        box = layout.box()
        box.label(text="Backend", icon="SCRIPTPLUGINS")
        row = box.row()
        row.prop(self, "python_path")
        if not self.python_path:
            found = self.resolved_python()
            box.label(text=f"Using {found}" if found else
                      "No interpreter yet: press Set up backend, or pick one that has the "
                      "backend installed", icon="INFO")
        row = box.row(align=True)
        row.operator("rag_gesture.setup_backend", icon="IMPORT")
        row.operator("rag_gesture.check_setup", icon="CHECKMARK")
        if jobs.active_job(jobs.SETUP) is not None:
            row.operator("rag_gesture.cancel", text="", icon="CANCEL")
        col = box.column(align=True)
        col.label(text="Set up backend runs:")
        for cmd in self.setup_commands():
            col.label(text="  " + jobs.shown(cmd))
        sub = box.column()
        sub.prop(self, "venv_dir")
        sub.prop(self, "base_python")
        sub.prop(self, "torch_spec")
        sub.prop(self, "torch_index")
        if FINDINGS or SETUP_LOG:
            out = box.box().column(align=True)
            for line in FINDINGS:
                out.label(text=line, icon=finding_icon(line))
            for line in SETUP_LOG[-12:]:
                out.label(text=line)

        box = layout.box()
        box.label(text="Model", icon="ARMATURE_DATA")
        self.draw_download(box, context)
        box.prop(self, "device")
        box.prop(self, "weights_dir")
        box.prop(self, "smplx_model")
        box.prop(self, "threads")
        row = box.row()
        row.enabled = bool(bpy.app.online_access)
        row.prop(self, "allow_download")

        box = layout.box()
        wrapped_label(box, "Worker: " + client.worker_status(), "CONSOLE", width=90)
        from .panels import device_warning  # (panels imports this module)

        device_warning(box, width=90)
        row = box.row(align=True)
        row.operator("rag_gesture.worker_start", text="Start")
        row.operator("rag_gesture.worker_stop", text="Stop")
        row.operator("rag_gesture.worker_restart", text="Restart")

        layout.prop(self, "show_advanced")
        if self.show_advanced:
            col = layout.column()
            col.prop(self, "backend_source")
            src = self.resolved_backend_source()
            col.label(text=f"Backend source: {src or 'not found'}")
            col.prop(self, "checkpoint")
            col.prop(self, "bert")
            col.prop(self, "wav2vec")


    def draw_download(self, layout: bpy.types.UILayout, context: bpy.types.Context) -> None:
        """Download Weights: the button, or the running download's bar and Cancel."""
        job = jobs.active_job(jobs.SETUP)
        status = context.window_manager.rag_gesture
        if isinstance(job, jobs.DownloadJob):
            row = layout.row(align=True)
            row.progress(factor=status.fraction, type="BAR",
                         text=f"{status.stage[:1].upper()}{status.stage[1:]}")
            row.operator("rag_gesture.cancel", text="", icon="CANCEL")
            return
        row = layout.row(align=True)
        row.enabled = bool(bpy.app.online_access) and job is None
        row.operator("rag_gesture.download_weights", icon="IMPORT")
        if not bpy.app.online_access:
            layout.label(text="Downloads need Blender's online access (Preferences > System "
                         "> Network)", icon="INFO")


def finding_icon(line: str) -> str:
    """Check setup's verdict line gets the check mark; device and weights lines are
    information; the rest are problems."""
    if line.startswith(setup.READY):
        return "CHECKMARK"
    return "INFO" if line.startswith(("Device:", "Weights:", "The backend is installed",
                                      "Next:", "Downloaded")) else "ERROR"


CLASSES = (RAGGesturePreferences,)
