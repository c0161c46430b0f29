"""The stage machine. A reconciler: each tick advances every unfinished job as far as it can go without
waiting, persisting each outcome (with its audit event) before the next stage starts. A restarted engine on the
same store simply ticks again: every job resumes from its first unfinished stage."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from bot.audit_surface import AuditSurface, audit_surface
from bot.clock import Clock, SystemClock
from bot.domain import (
    TASK_WAIT_STAGES,
    AuditAction,
    AuditEvent,
    Job,
    JobKind,
    JobStatus,
    Stage,
    StageStatus,
    TaskLifecycle,
)
from bot.errors import RdsbotError, TransientError
from bot.ports import JobRepository, MarkedAnnouncer, MarkShare, Notifier, clear_unannounced
from bot.stages import INSTANCE_STAGES, Done, Gateways, StageContext, stage_table
from config.policy_model import Policy

log = logging.getLogger(__name__)
ENGINE_ACTOR = "rdsbot"
# A connection blip must not fail a restore that takes hours, but an endpoint that never answers must.
MAX_TRANSIENT_FAILURES = 20
# The finishes the engine announces (job_finished); an expiry is the sweeper's (bot/expiry.py).
ENGINE_FINISHES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})
_FINISHES = MarkShare(ENGINE_FINISHES)  # a withdrawal is the decision's to announce, never the engine's
# How many marked jobs one tick reads for each announcer (the engine's finishes, then each of `announcers`), each
# its own limit: 150 finishes that keep failing to announce (chat down) once filled a shared limit of 150, and a
# marked Deny behind them kept its card's buttons.
MARKED_PER_ANNOUNCER = 50


class Engine:
    def __init__(
        self,
        jobs: JobRepository,
        gateways_for: Callable[[str], Gateways],
        policy: Policy,
        notifier: Notifier,
        clock: Clock | None = None,
        poll_seconds: float = 15.0,
        aws_requests: Callable[[], list[dict[str, str]]] | None = None,
    ) -> None:
        self.jobs = jobs
        # The request ids of the mutating AWS calls made since the last audit event of this thread.
        self.aws_requests = aws_requests
        self.gateways_for = gateways_for
        self.policy = policy
        self.notifier = notifier
        self.clock = clock or SystemClock()
        self.poll_seconds = poll_seconds
        self.wake = threading.Event()
        # Set on shutdown: the stage in flight finishes and is saved, no other starts; a restart resumes from there.
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        # time.monotonic() at the loop's last turn: a loop that died or hangs stops moving it (readiness).
        self.last_turn: float | None = None
        # With several replicas on one PostgreSQL store, only the elected one drives jobs (see bot/leader.py):
        # two engines saving their own copies of one job could each drop what the other recorded.
        self.is_leader: Callable[[], bool] = lambda: True
        # Other leader-only work that runs each loop after the tick (the approval expiry sweeper).
        self.chores: list[Callable[[], object]] = []
        # The others who announce a marked job (decisions, expiries): the tick reads the mark once for them all.
        self.announcers: list[MarkedAnnouncer] = []

    def tick(self) -> int:
        """Announce what a killed process left unannounced (its finishes, and the announcers' decisions and
        expiries), advance every unfinished job once; return how many are still unfinished."""
        self._announce_marked()
        jobs = self.jobs.unfinished_jobs()
        contexts = self._contexts(jobs)
        still_running = 0
        for job in jobs:
            if not self.stopping.is_set():
                self._advance(job, contexts[job.plan.region])
            if not job.status.finished:
                still_running += 1
        return still_running

    def run_until_idle(self, timeout_seconds: float | None = None) -> None:
        """Tick until no job is unfinished (the demo, the tests and drills use this)."""
        started = self.clock.now()
        while self.tick():
            if timeout_seconds is not None and (self.clock.now() - started).total_seconds() > timeout_seconds:
                raise TimeoutError(f"jobs still unfinished after {timeout_seconds} s")
            self.clock.sleep(self.poll_seconds)

    def run_forever(self, stop: threading.Event) -> None:
        """The service loop: tick, then sleep until the poll interval passes or a new job wakes us."""
        with audit_surface(AuditSurface.ENGINE):  # the chores' events (expiry) are the engine's, as its own are
            while not stop.is_set() and not self.stopping.is_set():
                self.last_turn = time.monotonic()
                if self.is_leader():
                    for step in (self.tick, *self.chores):
                        if self.stopping.is_set():
                            break  # shutting down: the chores wait for the next start
                        try:
                            step()
                        except Exception:  # one bad step (AWS down) must not kill the loop or the others
                            log.exception("engine loop step failed", extra={"step": getattr(step, "__qualname__", "")})
                self.wake.wait(self.poll_seconds)
                self.wake.clear()

    def start_background(self) -> threading.Event:
        """Run the service loop in a daemon thread; set the returned event to stop it."""
        stop = threading.Event()
        self.thread = threading.Thread(target=self.run_forever, args=(stop,), name="engine", daemon=True)
        self.thread.start()
        return stop

    def stop(self, timeout: float) -> bool:
        """Let the stage in flight finish, start no other, end the loop; True when it ended within `timeout`."""
        self.stopping.set()
        self.wake.set()  # cut the poll sleep short
        if self.thread is None:
            return True
        self.thread.join(timeout)
        return not self.thread.is_alive()

    @property
    def loop_alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive() and not self.stopping.is_set()

    def _contexts(self, jobs: list[Job]) -> dict[str, StageContext]:
        contexts: dict[str, StageContext] = {}
        waiting: dict[str, list[str]] = {}
        for job in jobs:
            region = job.plan.region
            if region not in contexts:
                contexts[region] = StageContext(gateways=self.gateways_for(region), policy=self.policy)
            current = job.current_stage
            if current is not None and current.name in INSTANCE_STAGES:
                waiting.setdefault(region, []).append(job.plan.target_instance_id)
        for region, instance_ids in waiting.items():
            ctx = contexts[region]
            try:
                ctx.instance_states = ctx.gateways.instances.describe_many(instance_ids)
            except RdsbotError as exc:
                log.warning("batched describe failed; stages will describe one by one", extra={"error": str(exc)})
        return contexts

    def _advance(self, job: Job, ctx: StageContext) -> None:
        try:
            if self._cancelled(job, ctx):
                return
        except TransientError:
            return  # the cancel is tried again next tick
        except RdsbotError as exc:
            stage = job.current_stage
            if stage is not None:
                self._fail(job, stage, f"could not cancel: {exc}")
            return
        if job.status == JobStatus.QUEUED:
            job.status = JobStatus.RUNNING
            job.started_at = self.clock.now()
            self._save(job, AuditAction.JOB_STARTED, {"plan": job.plan.model_dump(mode="json")})
        while (stage := job.current_stage) is not None:
            if stage.status == StageStatus.PENDING:
                stage.status = StageStatus.RUNNING
                stage.started_at = self.clock.now()
                self._save(job, AuditAction.STAGE_STARTED, {"stage": stage.name})
                self.notifier.stage_changed(job, stage)
            try:
                result = stage_table(job)[stage.name](job, ctx)
            except TransientError as exc:
                job.engine.transient_failures += 1
                failures = job.engine.transient_failures
                if failures >= MAX_TRANSIENT_FAILURES:
                    self._fail(job, stage, f"{exc} ({failures} attempts in a row)")
                    return
                stage.detail = f"retrying after: {exc}"
                self.jobs.save_job(job)  # the count must survive a restart, or a dead endpoint is retried forever
                return
            except RdsbotError as exc:
                self._fail(job, stage, str(exc), getattr(exc, "request_id", None))
                return
            except Exception as exc:  # a bug must fail the job with a reason, not leave it spinning
                log.exception("stage crashed", extra={"job_id": job.id, "stage": stage.name})
                self._fail(job, stage, f"internal error in {stage.name} ({type(exc).__name__}); see the bot's logs")
                return
            job.engine.transient_failures = 0
            if not isinstance(result, Done):
                self._wait(job, stage, result.detail, result.percent)
                return
            stage.status = StageStatus.SUCCEEDED
            stage.finished_at = self.clock.now()
            stage.detail = result.detail
            self._save(
                job,
                AuditAction.STAGE_SUCCEEDED,
                {"stage": stage.name, "detail": result.detail, "seconds": stage.seconds},
            )
            self.notifier.stage_changed(job, stage)
            if self.stopping.is_set() and job.current_stage is not None:
                return  # shutting down: this step is saved; the next starts after the restart
        job.status = JobStatus.SUCCEEDED
        job.finished_at = self.clock.now()
        job.engine.finish_unannounced = True
        self._save(job, AuditAction.JOB_SUCCEEDED, {"outputs": job.outputs.set_fields()})
        self._announce(job)

    def _cancelled(self, job: Job, ctx: StageContext) -> bool:
        """Carry out a cancel request; True when the job needs nothing more this tick."""
        who = job.cancel_requested_by
        if not who:
            return False
        stage = job.current_stage
        task_id = job.outputs.task_id
        if stage is not None and stage.name in TASK_WAIT_STAGES and task_id is not None:
            instance_id = job.plan.target_instance_id
            state = ctx.instance_states.get(instance_id) or ctx.gateways.instances.find(instance_id)
            if state is not None:
                native = ctx.gateways.native_restore
                if not job.engine.cancel_sent:
                    native.cancel(state, task_id)
                    job.engine.cancel_sent = True
                    self._save(job, AuditAction.RESTORE_TASK_CANCEL_SENT, {"task_id": task_id, "requested_by": who})
                status = native.task_status(state, task_id)
                if status.lifecycle == TaskLifecycle.SUCCESS:
                    return False  # too late: the database is restored; let the job finish as it is
                if not status.finished:
                    self._wait(job, stage, f"cancelling task {task_id}: {status.lifecycle}", None)
                    return True
        now = self.clock.now()
        where = " before it started"
        if stage is not None and stage.status == StageStatus.RUNNING:
            stage.status = StageStatus.FAILED
            stage.finished_at = now
            stage.error = f"cancelled by {who}"
            where = f" during {stage.name}"
        job.status = JobStatus.CANCELLED
        job.finished_at = now
        job.error = f"cancelled by {who}{where}"
        job.engine.finish_unannounced = True
        self._save(job, AuditAction.JOB_CANCELLED, {"requested_by": who, "left_behind": job.created_resources})
        if stage is not None and stage.status == StageStatus.FAILED:
            self.notifier.stage_changed(job, stage)
        self._announce(job)
        return True

    def _wait(self, job: Job, stage: Stage, detail: str, percent: int | None) -> None:
        changed = detail != stage.detail or (percent is not None and percent != job.percent_complete)
        stage.detail = detail
        if percent is not None:
            job.percent_complete = percent
        if changed:
            self.jobs.save_job(job)  # progress is state, not a decision: no audit event per percent
        if percent is not None and stage.name in TASK_WAIT_STAGES:
            self.notifier.progress(job, percent)

    def _fail(self, job: Job, stage: Stage, reason: str, request_id: str | None = None) -> None:
        stage.status = StageStatus.FAILED
        stage.finished_at = self.clock.now()
        stage.error = reason
        job.status = JobStatus.FAILED
        job.finished_at = stage.finished_at
        job.error = f"{stage.name}: {reason}"
        detail: dict[str, object] = {"stage": stage.name, "reason": reason, "left_behind": job.created_resources}
        if request_id:
            detail["aws_request_id"] = request_id
        job.engine.finish_unannounced = True
        self._save(job, AuditAction.JOB_FAILED, detail)
        self.notifier.stage_changed(job, stage)
        self._announce(job)

    def _announce_marked(self) -> None:
        """One read of the mark `finish_unannounced` a loop, each kind of mark (they differ only in the statuses
        they are saved with) with its own share of it. Read before any job advances, so no announcer is handed a job
        this tick finished (an approval is not announced over the finish that carries it)."""
        shares = [MarkShare(announcer.statuses, announcer.withdrawals) for announcer in self.announcers]
        marked = self.jobs.finished_unannounced_shares([_FINISHES, *shares], limit_each=MARKED_PER_ANNOUNCER)
        for finished in marked:
            if _FINISHES.lists(finished):
                self._announce(finished)
        for announcer, share in zip(self.announcers, shares, strict=True):
            mine = [job for job in marked if share.lists(job)]
            try:
                announcer.announce_marked(mine)
            except Exception:  # one announcer down (chat, the store) must hold back neither the others nor the jobs
                log.exception("marked jobs not announced; asked again next tick", extra={"announcer": repr(announcer)})

    def _announce(self, job: Job) -> None:
        """Hand a finished job to the notifier, then clear its mark. The mark is saved with the finished status,
        so a process killed in between announces it on the next tick after its restart (tick); a notifier that
        raised leaves it set, to be asked again. The notifiers make a repeat harmless (see handlers/slack_notifier)."""
        try:
            self.notifier.job_finished(job)
        except Exception:
            log.exception("finish not announced; asked again next tick", extra={"job_id": job.id})
            return
        job.engine.finish_unannounced = False
        clear_unannounced(self.jobs, job.id)

    def _save(self, job: Job, action: AuditAction, detail: dict[str, object]) -> None:
        requests = self.aws_requests() if self.aws_requests else []
        if requests:
            detail = {**detail, "aws_requests": requests}
        event = AuditEvent(
            at=self.clock.now(),
            actor=ENGINE_ACTOR,
            action=action.of_backup(job.kind == JobKind.BACKUP),
            job_id=job.id,
            detail=detail,
            surface=AuditSurface.ENGINE,
        )
        self.jobs.save_job(job, [event])
