"""The batch driver: plan every line, hand lines to Ray actors as they free up, write outputs.

Order of work, so that nothing expensive starts before cheap checks pass:

1. read and check the manifest (bad rows -> report rows), the output folder, FBX set-up;
2. compare every line with its record from earlier runs (skip / export only / generate);
3. start Ray (a local instance with a bounded CPU count, or `--address`) and the actors;
   each actor loads the models once (`actor.LineWorker`);
4. pull scheduling: a line goes to an actor only when that actor is idle, so long and short
   lines balance themselves and no actor has a queue while another waits;
5. the driver alone writes files (each atomically) and the record of a line after its
   outputs, so an actor that dies leaves nothing behind: its line goes back to the front of
   the queue, to the next idle actor, at most `retries` times; a replacement actor is
   started while the replacement budget lasts.

Ctrl-C (or SIGTERM) stops at once: actors are killed, Blender is stopped, lines not
settled get a `cancelled` row, and the same command later resumes where this one stopped.
"""

from __future__ import annotations

import logging
import os
import signal
import time
import uuid
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

from rag_gesture_shared.atomic_file import atomic_path, write_text

from .actor import LineJob, LineOutcome, LineWorker
from .fbx import SCRIPT_NAME, FbxDone, FbxExporter, FbxJob, blender_command
from .manifest import BadLine, LineSpec, load_manifest, output_stems
from .records import (
    STATE_DIR,
    Record,
    RecordStore,
    digest,
    file_digest,
    motion_fingerprint,
    weights_fingerprint,
)
from .report import ActorState, BatchProgress, Report, actor_table, write_status

FORMATS = ("npz", "bvh", "fbx")
NAMESPACE = "rag-gesture-batch"


class BatchError(RuntimeError):
    """The batch cannot start (one sentence); nothing was generated."""


@dataclass
class BatchOptions:
    manifest: Path
    out: Path
    defaults: LineSpec
    session: Any  # pipeline.session.SessionConfig
    formats: tuple[str, ...] = ("npz",)
    actors: int | None = None
    threads: int | None = None  # torch threads per actor
    gpus_per_actor: float = 1.0
    address: str | None = None
    retries: int = 2
    overwrite: bool = False
    report: Path | None = None
    bvh_scale: float = 100.0
    rig: Path | None = None
    rig_armature: str | None = None
    blender: str | None = None
    addon: Path | None = None
    fbx_processes: int = 1
    progress: bool = True
    actor_status: float = 0.0  # seconds between per-actor tables (0: only on SIGUSR1)
    startup_timeout: float = 600.0


@dataclass
class Plan:
    line: LineSpec
    motion_fp: str
    export_fps: dict[str, str]
    generate: bool
    exports: list[str]  # formats (besides npz) to (re)write
    warnings: list[str] = field(default_factory=list)
    attempts: int = 0
    seconds: float = 0.0
    worker: str = ""
    fbx_left: int = 0
    fbx_errors: list[str] = field(default_factory=list)


@dataclass
class Summary:
    total: int
    counts: dict[str, int]
    report: Path
    previous_report: Path | None
    seconds: float
    actors: int = 0
    interrupted: bool = False
    stopped: str | None = None  # why lines could not run (no actor could start, ...)


def check_output_folder(out: Path) -> None:
    """The output folder exists (or is created) and takes files, before any compute."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with atomic_path(out / STATE_DIR / "write-test", durable=False) as tmp:
            tmp.write_bytes(b"")
        (out / STATE_DIR / "write-test").unlink()
    except OSError as exc:
        raise BatchError(f"cannot write to the output folder {out} ({exc.strerror or exc})") \
            from None


class Batch:
    """One run of `rag-gesture batch` (see the module docstring for the order of work)."""

    def __init__(self, opts: BatchOptions, stream: TextIO | None = None) -> None:
        self.opts = opts
        self.out = opts.out
        self.stream = stream
        self.store = RecordStore(opts.out)
        self.formats = tuple(f for f in FORMATS if f in set(opts.formats) | {"npz"})
        self.actors: list[ActorState] = []
        self.handles: dict[str, Any] = {}
        self.fbx: FbxExporter | None = None
        self.fbx_command: list[str] | None = None
        self.pending_fbx: dict[str, Plan] = {}
        self.addon_fp: str | None = None
        self.settled: set[str] = set()
        self.report: Report | None = None
        self.progress: BatchProgress | None = None
        self.total = 0
        self.todo = 0
        self.stopped: str | None = None
        self._show_actors = False
        self._ray_started = False

    # ------------------------------------------------------------------ planning
    def rel(self, path: Path) -> str:
        return path.relative_to(self.out).as_posix()

    def paths(self, line: LineSpec, fmt: str) -> list[Path]:
        return [self.out / f"{stem}.{fmt}" for stem in output_stems(line)]

    def export_fingerprints(self, motion_fp: str) -> dict[str, str]:
        out = {}
        if "bvh" in self.formats:
            out["bvh"] = digest({"motion": motion_fp, "scale": self.opts.bvh_scale, "v": 1})
        if "fbx" in self.formats:
            rig = self.opts.rig
            out["fbx"] = digest({"motion": motion_fp, "rig": file_digest(rig) if rig else None,
                                 "armature": self.opts.rig_armature, "addon": self.addon_fp})
        return out

    def plan(self, line: LineSpec, weights_fp: str) -> Plan | BadLine:
        fp = motion_fingerprint(line, weights_fp)
        efps = self.export_fingerprints(fp)
        rec = self.store.load(line.id)
        exports = [f for f in self.formats if f != "npz"]
        npz = self.paths(line, "npz")
        if rec and rec.state == "done" and rec.motion == fp and all(p.is_file() for p in npz):
            need = [f for f in exports if rec.exports.get(f) != efps[f]
                    or not all(p.is_file() for p in self.paths(line, f))]
            return Plan(line, fp, efps, False, need)
        plan = Plan(line, fp, efps, True, exports)
        mine = set(rec.outputs) if rec else set()
        every = [p for f in self.formats for p in self.paths(line, f)]
        foreign = [p for p in every if p.exists() and self.rel(p) not in mine]
        if foreign and not self.opts.overwrite:
            return BadLine(line.id, f"{self.rel(foreign[0])} already exists and was not "
                           "written by this batch; move it or pass --overwrite", line.row)
        if foreign:
            plan.warnings.append(f"replaced {len(foreign)} existing file(s) (--overwrite)")
        if rec and rec.state == "done" and rec.motion != fp:
            plan.warnings.append("inputs changed since the last run: outputs regenerated")
        stale = sorted(mine - {self.rel(p) for p in every})
        if stale:
            plan.warnings.append(f"files of an earlier run left in place: {', '.join(stale)}")
        return plan

    # ------------------------------------------------------------------ writing
    def write_exports(self, plan: Plan, motions: list[Any], bvh: list[str] | None = None
                      ) -> list[str]:
        """BVH now (text the actor formatted, when given); FBX queued to Blender.
        Returns the outputs written here."""
        from ..motion.bvh import bvh_text

        written = []
        if "bvh" in plan.exports:
            for k, path in enumerate(self.paths(plan.line, "bvh")):
                m = motions[k]
                write_text(path, bvh[k] if bvh else bvh_text(
                    m.poses, m.trans, m.fps, scale=self.opts.bvh_scale))
                written.append(self.rel(path))
        if "fbx" in plan.exports:
            assert self.fbx is not None
            npz, fbx = self.paths(plan.line, "npz"), self.paths(plan.line, "fbx")
            plan.fbx_left = len(fbx)
            self.pending_fbx[plan.line.id] = plan
            for k, (src, dst) in enumerate(zip(npz, fbx, strict=True)):
                self.fbx.submit(FbxJob((plan.line.id, k), src, dst, dst.stem))
        return written

    def all_outputs(self, plan: Plan) -> list[str]:
        return [self.rel(p) for f in self.formats for p in self.paths(plan.line, f)]

    def finish_generated(self, plan: Plan, outcome: LineOutcome) -> None:
        from ..motion.takes import save_takes

        plan.seconds += outcome.seconds
        plan.worker = outcome.worker
        if outcome.error is not None:
            self.settle(plan, "failed", error=outcome.error, code=outcome.code)
            return
        plan.warnings += outcome.info.get("warnings", [])
        if not outcome.info.get("official_schedule", True):
            plan.warnings.append(f"{plan.line.steps} DDIM steps is not the official 50-step "
                                 "schedule")
        outputs = self.all_outputs(plan)
        try:
            self.store.save(Record(plan.line.id, "writing", plan.motion_fp, {}, outputs))
            save_takes(self.out / f"{plan.line.id}.npz", outcome.motions)
            self.write_exports(plan, outcome.motions, outcome.bvh)
        except OSError as exc:
            self.settle(plan, "failed", error=f"cannot write the outputs ({exc})",
                        code="write_failed")
            return
        if plan.fbx_left == 0:
            self.complete(plan)

    def export_only(self, plan: Plan) -> None:
        """A line whose motion is unchanged: rewrite only the exports that changed."""
        from ..motion.motion import Motion

        t0 = time.perf_counter()
        try:
            motions = [Motion.load_npz(p) for p in self.paths(plan.line, "npz")]
            self.write_exports(plan, motions)
        except (OSError, ValueError) as exc:
            self.settle(plan, "failed", error=f"cannot re-export the line ({exc})",
                        code="write_failed")
            return
        plan.seconds = time.perf_counter() - t0
        plan.warnings.append(f"motion unchanged; re-exported {', '.join(plan.exports)}")
        if plan.fbx_left == 0:
            self.complete(plan)

    def complete(self, plan: Plan) -> None:
        rec = self.store.load(plan.line.id)
        exports = dict(rec.exports) if rec and rec.motion == plan.motion_fp else {}
        for f in plan.exports:
            if f != "fbx" or not plan.fbx_errors:
                exports[f] = plan.export_fps[f]
            else:
                exports.pop(f, None)
        self.store.save(Record(plan.line.id, "done", plan.motion_fp, exports,
                               self.all_outputs(plan)))
        if plan.fbx_errors:
            self.settle(plan, "failed", error=f"FBX export failed: {plan.fbx_errors[0]}",
                        code="fbx_export")
        else:
            self.settle(plan, "done", outputs=self.all_outputs(plan))

    def on_fbx(self, done: FbxDone) -> None:
        line_id, _ = done.key
        plan = self.pending_fbx[line_id]
        if not done.ok:
            plan.fbx_errors.append(done.error or "unknown error")
        plan.fbx_left -= 1
        if plan.fbx_left == 0:
            del self.pending_fbx[line_id]
            self.complete(plan)

    def settle(self, plan: Plan, status: str, outputs: list[str] | None = None,
               error: str | None = None, code: str | None = None) -> None:
        self.row(plan.line.id, status, plan.seconds, outputs, plan.warnings, error,
                 code=code, attempts=plan.attempts or None, worker=plan.worker or None,
                 row=plan.line.row)
        if status in ("done", "failed"):
            self.todo -= 1
        self.draw()

    def row(self, line_id: str, status: str, *args: Any, **kwargs: Any) -> None:
        assert self.report is not None
        self.report.row(line_id, status, *args, **kwargs)
        self.settled.add(line_id)

    # ------------------------------------------------------------------ progress
    def draw(self, force: bool = False) -> None:
        if self.progress is None or self.report is None:
            return
        c = self.report.counts
        self.progress.update(c.get("done", 0), c.get("failed", 0), c.get("skipped", 0),
                             self.todo, force)

    def status(self) -> None:
        if self.report is not None:
            write_status(self.out / STATE_DIR / "status.json", dict(self.report.counts),
                         self.total, self.actors)

    def say(self, text: str) -> None:
        if self.progress is not None:
            self.progress.message(text)

    # ------------------------------------------------------------------ Ray
    def start_ray(self, lines: int) -> tuple[int, int, float, str]:
        """ray.init; returns (actors, threads per actor, GPUs per actor, device)."""
        import ray

        address = self.opts.address or os.environ.get("RAY_ADDRESS") or "local"
        kwargs: dict[str, Any] = {"address": address, "namespace": NAMESPACE,
                                  "logging_level": logging.WARNING, "log_to_driver": False}
        threads = self.opts.threads or 1
        if address == "local":
            import torch

            cpus = os.cpu_count() or 1
            want = self.opts.actors * threads if self.opts.actors else cpus
            kwargs.update(num_cpus=max(1, min(cpus, want)), include_dashboard=False,
                          num_gpus=torch.cuda.device_count(),
                          object_store_memory=256 * 1024 * 1024)
        if address == "local":  # a fresh local instance: its token notice is not news
            logging.getLogger("ray._private.authentication.authentication_token_setup"
                              ).setLevel(logging.ERROR)
            # No usage reports to Ray's makers from a private instance unless asked for.
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        if not ray.is_initialized():
            ray.init(**kwargs)
            self._ray_started = True
        res = ray.cluster_resources()
        gpus = float(res.get("GPU", 0))
        if gpus > 0 and self.opts.session.device != "cpu":
            per = self.opts.gpus_per_actor
            n = self.opts.actors or max(1, int(gpus // per))
            return min(n, lines), threads, per, "cuda"
        fit = max(1, int(float(res.get("CPU", 1)) // threads))
        n = self.opts.actors or fit
        if address == "local" and n > fit:  # num_cpus is bounded by this machine's cores
            self.say(f"{n} actors of {threads} thread(s) do not fit on {os.cpu_count()} "
                     f"cores; using {fit}")
            n = fit
        return min(n, lines), threads, 0.0, "cpu"

    def spawn(self, remote: Any, index: int, threads: int, gpus: float, device: str) -> Any:
        name = f"rag-gesture-{self.run_id}-{index}"
        config = replace(self.opts.session, device=device)
        handle = remote.options(name=name, num_cpus=threads, num_gpus=gpus, max_restarts=0,
                                max_task_retries=0).remote(config, threads)
        state = ActorState(name)
        self.actors.append(state)
        self.handles[name] = handle
        return handle.ready.remote(), state

    def run_lines(self, plans: list[Plan]) -> None:
        import ray
        from ray.exceptions import RayActorError, RayTaskError

        count, threads, gpus, device = self.start_ray(len(plans))
        remote = ray.remote(LineWorker)
        starting: dict[Any, ActorState] = {}
        busy: dict[Any, tuple[ActorState, Plan]] = {}
        idle: deque[ActorState] = deque()
        queue: deque[Plan] = deque(plans)
        budget = count * max(1, self.opts.retries)  # replacement actors we may start
        startup_errors: list[str] = []

        def add_actor() -> None:
            ref, st = self.spawn(remote, len(self.actors), threads, gpus, device)
            starting[ref] = st

        for _ in range(count):
            add_actor()
        self.say(f"{count} Ray actor(s), {threads} thread(s) each"
                 f"{f', {gpus:g} GPU each' if gpus else ''}; loading the models")
        last_alive = time.time()
        last_table = time.time()
        while queue or busy:
            while queue and idle:
                plan = queue.popleft()
                try:  # the files were checked at the start, but may have gone since
                    job = LineJob(plan.line, plan.line.audio.read_bytes(),
                                  plan.line.transcript.read_bytes() if plan.line.transcript
                                  else None,
                                  self.opts.bvh_scale if "bvh" in plan.exports else None)
                except OSError as exc:
                    self.settle(plan, "failed", error=f"cannot read the line's files "
                                f"({exc.strerror or exc}: {exc.filename})", code="bad_line")
                    continue
                st = idle.popleft()
                plan.attempts += 1
                busy[self.handles[st.name].run.remote(job)] = (st, plan)
                st.state, st.line, st.since = "busy", plan.line.id, time.time()
            self.poll_fbx()
            refs = list(busy) + list(starting)
            if not refs:
                self.stopped = startup_errors[0] if startup_errors else \
                    "every Ray actor died and the replacement budget is used up"
                break
            done, _ = ray.wait(refs, num_returns=1, timeout=0.25)
            for ref in done:
                if ref in starting:
                    st = starting.pop(ref)
                    try:
                        info = ray.get(ref)
                    except RayActorError as exc:
                        st.state, st.note = "dead", _first_line(exc)
                        if budget > 0:
                            budget -= 1
                            add_actor()
                        continue
                    st.host = f"{info['host']}:{info['pid']}"
                    if info.get("error"):
                        st.state, st.note = "failed", info["error"]
                        startup_errors.append(info["error"])
                        ray.kill(self.handles[st.name])
                        continue
                    st.state, st.since, st.note = "idle", time.time(), info.get("device", "")
                    idle.append(st)
                    continue
                st, plan = busy.pop(ref)
                try:
                    outcome = ray.get(ref)
                except RayActorError as exc:
                    st.state, st.line, st.note = "dead", None, _first_line(exc)
                    why = _first_line(exc)
                    if plan.attempts > self.opts.retries:
                        self.settle(plan, "failed", error=f"the Ray actor running this line "
                                    f"died {plan.attempts} times ({why})", code="actor_died")
                    else:
                        plan.warnings.append(f"retried: the actor running it died ({why})")
                        queue.appendleft(plan)
                    if budget > 0:
                        budget -= 1
                        add_actor()
                    continue
                except RayTaskError as exc:
                    st.state, st.line = "idle", None
                    idle.append(st)
                    self.settle(plan, "failed", error=_first_line(exc), code="internal")
                    continue
                st.state, st.line, st.since = "idle", None, time.time()
                st.lines_done += 1
                idle.append(st)
                if self.progress is not None:
                    self.progress.generated += 1
                    if self.progress.work_start is None:
                        self.progress.work_start = time.perf_counter() - outcome.seconds
                self.finish_generated(plan, outcome)
            if idle or busy:
                last_alive = time.time()
            elif time.time() - last_alive > self.opts.startup_timeout:
                self.stopped = (f"no Ray actor became ready within "
                                f"{self.opts.startup_timeout:g} s; the cluster may have no "
                                f"free {'GPU' if gpus else 'CPU'} for actors of {threads} "
                                "thread(s)")
                break
            if startup_errors and not (idle or busy or starting):
                self.stopped = startup_errors[0]
                break
            self.tick()
            if self._show_actors or (self.opts.actor_status and
                                     time.time() - last_table > self.opts.actor_status):
                self.say(actor_table(self.actors))
                self._show_actors = False
                last_table = time.time()
        for plan in queue:
            self.settle(plan, "failed", error=self.stopped or "not run", code="not_run")

    _last_status = 0.0

    def tick(self) -> None:
        self.draw()
        now = time.time()
        if now - self._last_status > 1.0:
            self._last_status = now
            self.status()

    def poll_fbx(self) -> None:
        if self.fbx is None:
            return
        while True:
            try:
                done = self.fbx.results.get_nowait()
            except Exception:  # queue.Empty
                return
            self.on_fbx(done)

    def wait_fbx(self) -> None:
        while self.pending_fbx:
            assert self.fbx is not None
            try:
                self.on_fbx(self.fbx.results.get(timeout=0.25))
            except Exception:  # queue.Empty
                pass
            self.tick()

    # ------------------------------------------------------------------ the whole run
    def run(self) -> Summary:
        t0 = time.perf_counter()
        opts = self.opts
        self.run_id = uuid.uuid4().hex[:8]
        manifest = load_manifest(opts.manifest, opts.defaults)
        check_output_folder(self.out)
        if "fbx" in self.formats:
            if opts.rig is None:
                raise BatchError("--format fbx needs --rig with the character's .blend file")
            self.fbx_command = blender_command(opts.blender, opts.addon, opts.rig,
                                               opts.rig_armature)
            self.addon_fp = addon_fingerprint(self.fbx_command)
        weights_fp = weights_fingerprint(opts.session.weights, opts.session.checkpoint,
                                         opts.session.bert, opts.session.wav2vec)
        plans: list[Plan] = []
        bad = list(manifest.bad)
        for line in manifest.lines:
            p = self.plan(line, weights_fp)
            (bad if isinstance(p, BadLine) else plans).append(p)
        generate = [p for p in plans if p.generate]
        exports = [p for p in plans if not p.generate and p.exports]
        skipped = [p for p in plans if not p.generate and not p.exports]
        if generate and not (opts.address or os.environ.get("RAY_ADDRESS")):
            self.check_weights()
        if generate or exports:
            self.start_fbx()
        self.total = len(manifest.lines) + len(manifest.bad)
        self.todo = len(generate) + len(exports)
        self.report = Report(opts.report or self.out / "report.jsonl")
        self.progress = BatchProgress(self.total, self.stream, opts.progress)
        interrupted = False
        previous = _install_signals(self)
        try:
            for b in bad:
                self.row(b.id, "failed", error=b.error, code="bad_line", row=b.row)
            for p in skipped:
                self.row(p.line.id, "skipped", outputs=self.all_outputs(p),
                                warnings=["outputs exist and inputs are unchanged"],
                                row=p.line.row)
            self.draw(force=True)
            for p in exports:
                self.export_only(p)
                self.poll_fbx()
            if generate:
                self.run_lines(generate)
            self.wait_fbx()
        except KeyboardInterrupt:
            interrupted = True
            self.cancel(generate + exports)
        finally:
            _restore_signals(previous)
            self.shutdown(interrupted)
            self.status()
            self.draw(force=True)
            self.progress.close()
            self.report.close()
        return Summary(self.total, dict(self.report.counts), self.report.path,
                       self.report.previous, time.perf_counter() - t0, len(self.actors),
                       interrupted, self.stopped)

    def check_weights(self) -> None:
        """Local runs: say that weights are missing before Ray and the models start."""
        from ..pipeline.session import WeightsMissingError
        from ..weights import locate, missing_weights_message

        s = self.opts.session
        if s.checkpoint and not Path(s.checkpoint).is_file():
            raise WeightsMissingError(f"the checkpoint {s.checkpoint} does not exist")
        if not s.checkpoint and locate(s.weights) is None:
            raise WeightsMissingError(missing_weights_message(s.weights))

    def start_fbx(self) -> None:
        if self.fbx_command is None:
            return
        self.fbx = FbxExporter(self.fbx_command, self.opts.fbx_processes)
        self.fbx.start()

    def cancel(self, plans: list[Plan]) -> None:
        for p in plans:
            if p.line.id not in self.settled:
                self.row(p.line.id, "cancelled", p.seconds, warnings=p.warnings,
                                error="stopped by the user before this line finished",
                                row=p.line.row)

    def shutdown(self, now: bool) -> None:
        if self.fbx is not None:
            self.fbx.shutdown(wait=not now)
        if self.handles:
            import ray

            for h in self.handles.values():
                try:
                    ray.kill(h)
                except Exception:  # already gone
                    pass
            for st in self.actors:
                if st.state not in ("dead", "failed"):
                    st.state = "stopped"
        if self._ray_started:
            import ray

            ray.shutdown()


def addon_fingerprint(command: list[str]) -> str:
    """The add-on's Python sources (its retarget and key code shape every FBX)."""
    script = next(Path(c) for c in command if c.endswith(SCRIPT_NAME))
    return digest({p.name: file_digest(p) for p in sorted(script.parent.glob("*.py"))})


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def _install_signals(batch: Batch) -> dict[int, Any]:
    """SIGTERM stops like Ctrl-C; SIGUSR1 prints the per-actor table once."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return {}
    previous: dict[int, Any] = {}

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    def show(signum: int, frame: Any) -> None:
        batch._show_actors = True

    previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, stop)
    if hasattr(signal, "SIGUSR1"):
        previous[signal.SIGUSR1] = signal.signal(signal.SIGUSR1, show)
    return previous


def _restore_signals(previous: dict[int, Any]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)
