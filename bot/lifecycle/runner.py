"""The lifecycle reconciler: each tick gives every newly finished restore its record, reminds before a keep window
ends, and drives each claimed deletion one pass further, persisting after every step. A restarted runner on the
same store resumes a deletion where it stopped; it never asks RDS twice to delete an instance already deleting,
and a claim is a compare-and-set, so the window's end and `/rds-restore delete` never both start one."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

from bot import keep_window
from bot.clock import Clock
from bot.domain import AuditAction, AuditEvent, Job
from bot.errors import RdsbotError
from bot.instance_cleanup import (
    OPTION_GROUP,
    Cleanup,
    InstanceOutcome,
    made_by_ending_jobs,
    remove_instance,
    remove_shared,
    shared_used,
)
from bot.lifecycle.model import InstanceLifecycle, LifecyclePhase, final_snapshot_id, new_lifecycle
from bot.ports import DrillResources, InstanceGateway, InstanceLifecycles, JobRepository, Notifier
from bot.render import utc_time as utc
from config.policy_model import Policy

log = logging.getLogger(__name__)
LIFECYCLE_ACTOR = "rdsbot:lifecycle"
RECENT_JOBS = 200  # jobs searched for the creator of a shared resource; an older creator keeps it (never ours)


def snapshot_for(job: Job, policy: Policy) -> str | None:
    """The final snapshot's name when the job's plan (or, for an older plan, the policy) asks for one."""
    wanted = job.plan.final_snapshot if job.plan.final_snapshot is not None else policy.lifecycle.final_snapshot
    return final_snapshot_id(job) if wanted else None


class LifecycleRunner:
    def __init__(
        self,
        policy: Policy,
        lifecycles: InstanceLifecycles,
        jobs: JobRepository,
        instances_for: Callable[[str], InstanceGateway],
        resources_for: Callable[[str], DrillResources],
        notifier: Notifier,
        clock: Clock,
    ) -> None:
        self.policy = policy
        self.lifecycles = lifecycles
        self.jobs = jobs
        self.instances_for = instances_for
        self.resources_for = resources_for
        self.notifier = notifier
        self.clock = clock
        self.wake = threading.Event()
        self._ticking = threading.Lock()

    def tick(self) -> int:
        """Track, remind and delete as far as possible without waiting; return how many records are active."""
        # The service loop and a hand-driven loop (tests, the console) must not step one record twice at once.
        if not self._ticking.acquire(blocking=False):
            return 0
        try:
            for job in self.lifecycles.untracked_jobs():
                self._track(job)
            active = self.lifecycles.active()
            for record in active:
                try:
                    self._advance(record)
                except Exception:  # one record's trouble must not stop the others; retried next tick
                    log.exception("lifecycle step failed", extra={"job_id": record.job_id})
            return len(active)
        finally:
            self._ticking.release()

    def run_forever(self, stop: threading.Event, is_leader: Callable[[], bool], poll_seconds: float) -> None:
        """Tick on the leader only (one replica deletes), then sleep until the poll interval or a wake-up."""
        while not stop.is_set():
            try:
                if is_leader():
                    self.tick()
            except Exception:  # the store down for a moment must not end the loop
                log.exception("lifecycle tick failed")
            self.wake.wait(poll_seconds)
            self.wake.clear()

    def _track(self, job: Job) -> None:
        # No audit event: the schedule follows from what the trail already holds (the plan's keep_seconds in
        # job.requested, the time of job.succeeded), and a job's trail ends with its outcome when it ends. What
        # changes it later (reminded, kept longer, deleted) is audited.
        self.lifecycles.add(new_lifecycle(job, self.clock.now()))

    def _advance(self, record: InstanceLifecycle) -> None:
        job = self.jobs.get_job(record.job_id)
        if job is None:
            return
        now, delete_at = self.clock.now(), record.delete_at
        if record.phase == LifecyclePhase.KEEPING and delete_at is not None:
            if now >= delete_at:
                claimed = self._claim(record, job)
                if claimed is None:
                    return  # extended or claimed a moment ago; next tick sees the new record
                record = claimed
            elif record.reminded_at is None and keep_window.reminder_due(
                delete_at, delete_at - record.completed_at, now
            ):
                # The reminder's lead counts from the whole life so far: an instance kept a day longer is reminded
                # up to an hour before, not a quarter of its first short window.
                reminded = record.model_copy(update={"reminded_at": now})
                # Chat first, then the record: a reminder that could not be queued (the notifier raises) or a
                # process killed before saving leaves reminded_at unset, and the next tick reminds again; the
                # notifier queues one reminder per deadline (by ref), so the repeat sends nothing twice.
                self.notifier.keep_reminder(job, reminded.model_copy(update={"version": reminded.version + 1}))
                event = self._event(AuditAction.INSTANCE_REMINDED, job.id, {"delete_at": utc(delete_at)})
                self.lifecycles.replace(reminded, [event])
                return
        if record.phase == LifecyclePhase.DELETING and job.status.finished:
            # A rollback claims a job still being cancelled: its instance goes once the engine has stopped it.
            self._delete_step(record, job)

    def _claim(self, record: InstanceLifecycle, job: Job) -> InstanceLifecycle | None:
        snapshot = snapshot_for(job, self.policy)
        claimed = record.claimed_by(LIFECYCLE_ACTOR, snapshot)
        detail = {"reason": "keep window ended", "delete_at": utc(record.delete_at), "final_snapshot": snapshot}
        if not self.lifecycles.replace(claimed, [self._event(AuditAction.INSTANCE_DELETE_STARTED, job.id, detail)]):
            return None
        claimed = claimed.model_copy(update={"version": claimed.version + 1})
        text = f"🗑 deleting {record.instance_id}: its keep window ended" + (
            f"; final snapshot {snapshot}" if snapshot else "; no final snapshot (policy)"
        )
        self.notifier.lifecycle_changed(job, claimed, text)
        return claimed

    def _delete_step(self, record: InstanceLifecycle, job: Job) -> None:
        result = Cleanup()
        try:
            outcome = remove_instance(job, self.instances_for(record.region), result, record.final_snapshot_id)
            if outcome == InstanceOutcome.NOT_OURS:
                self._left_alone(record, job, result)
                return
            if outcome == InstanceOutcome.GONE:
                self._remove_shared(record, job, result)
        except RdsbotError as exc:  # AWS said no for now (throttled, a group still in use): retried next tick
            result.waiting.append(str(exc))
        removed = record.removed + [r for r in result.removed if r not in record.removed]
        if not result.done:
            waiting = "; ".join(result.waiting)
            self.lifecycles.replace(
                record.model_copy(update={"removed": removed, "waiting": waiting, "attempts": record.attempts + 1})
            )
            return
        done = record.model_copy(
            update={
                "phase": LifecyclePhase.DELETED,
                "removed": removed,
                "kept": result.kept,
                "waiting": None,
                "attempts": record.attempts + 1,
                "finished_at": self.clock.now(),
            }
        )
        detail = {"removed": removed, "kept": result.kept, "final_snapshot": record.final_snapshot_id}
        if self.lifecycles.replace(done, [self._event(AuditAction.INSTANCE_DELETED, job.id, detail)]):
            kept = f"; kept: {', '.join(result.kept)}" if result.kept else ""
            self.notifier.lifecycle_changed(job, done, f"✅ deleted: {', '.join(removed) or 'nothing was left'}{kept}")

    def _remove_shared(self, record: InstanceLifecycle, job: Job, result: Cleanup) -> None:
        region = record.region
        recent = [j for j in self.jobs.list_jobs(limit=RECENT_JOBS) if j.plan.region == region]
        made = made_by_ending_jobs(recent) | set(job.created_resources.items())
        # A group removed by an earlier pass is not asked for again (a pass can stop on one RDS will not let go).
        candidates = [
            (kind, name) for kind, name in shared_used(job, made) if f"{kind.label} {name}" not in record.removed
        ]
        if record.final_snapshot_id:
            # RDS refuses to delete an option group a snapshot refers to, and the snapshot needs it to be restored.
            for kind, name in [c for c in candidates if c[0] == OPTION_GROUP]:
                candidates.remove((kind, name))
                result.kept.append(f"option group {name} (the final snapshot {record.final_snapshot_id} needs it)")
        others = [j for j in self.jobs.unfinished_jobs() if j.id != job.id and j.plan.region == region]
        remove_shared(candidates, self.resources_for(region), others, result, "the last job to use it removes it")

    def _left_alone(self, record: InstanceLifecycle, job: Job, result: Cleanup) -> None:
        left = record.model_copy(
            update={"phase": LifecyclePhase.LEFT_ALONE, "kept": result.kept, "finished_at": self.clock.now()}
        )
        detail = {"instance": record.instance_id, "reason": "; ".join(result.kept)}
        if self.lifecycles.replace(left, [self._event(AuditAction.INSTANCE_LEFT_ALONE, job.id, detail)]):
            text = (
                f"⚠ {record.instance_id} is not tagged managed-by=rdsbot with job {job.id}: rdsbot did not create it "
                "and will not delete it (nor anything it uses)"
            )
            self.notifier.lifecycle_changed(job, left, text)

    def _event(self, action: AuditAction, job_id: str, detail: Mapping[str, object]) -> AuditEvent:
        return AuditEvent(at=self.clock.now(), actor=LIFECYCLE_ACTOR, action=action, job_id=job_id, detail=dict(detail))


def goes_text(record: InstanceLifecycle | None, job: Job) -> str:
    """When the job's instance goes, for /rds-status and the timeline."""
    if record is None and job.status.finished and job.finished_at is not None:
        # Finished but not yet tracked (the reconciler's next tick saves it): the record it will save says when.
        record = new_lifecycle(job, job.finished_at)
    if record is None:
        keep = job.plan.keep
        return "-" if keep is None or job.is_drill else f"{keep_window.format_duration(keep)} after it ends"
    if record.phase == LifecyclePhase.KEEPING:
        return utc(record.delete_at)
    if record.phase == LifecyclePhase.DELETED:
        return f"deleted {utc(record.finished_at)}"
    return {
        LifecyclePhase.DELETING: "deleting now",
        LifecyclePhase.LEFT_ALONE: "left alone (not rdsbot's)",
        LifecyclePhase.UNMANAGED: "-",
    }[record.phase]
