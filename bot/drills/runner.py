"""The drill reconciler: start a run (claim, find the backup, submit a pre-approved drill restore), then on every
tick move each unfinished run along: restore -> validation -> report -> cleanup, persisting after each step.
A restarted runner on the same store picks every run up where it stopped, so cleanup always happens."""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from bot import names
from bot.audit_surface import AuditSurface, audit_surface
from bot.clock import Clock
from bot.domain import AuditAction, AuditEvent, BackupLocation, Job, JobStatus, RestoreRequest
from bot.drills import report
from bot.drills.chart import trend_chart
from bot.drills.cleanup import clean_up
from bot.drills.runs import BackupUsed, DrillOutcome, DrillPhase, DrillRun, Timing, restore_timing, time_to_restore
from bot.drills.spec import DrillSpec
from bot.errors import RdsbotError, TransientError
from bot.ports import (
    AuditLog,
    CheckResult,
    DrillChecks,
    DrillReporter,
    DrillResources,
    DrillRunRepository,
    JobRepository,
)
from bot.service import RestoreService
from bot.stages import Gateways
from config.policy_model import Policy

log = logging.getLogger(__name__)
# A run still STARTING after this long was interrupted (crash between claim and submit).
STARTING_GRACE = timedelta(minutes=5)
MAX_VALIDATION_ATTEMPTS = 10
RECENT_JOBS = 200  # jobs searched for the creator of a shared resource; an older creator keeps it (never ours)


class UnknownDrillError(RdsbotError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"no drill named {name!r}; drills: {', '.join(known) or 'none configured'}")


def actor(drill_name: str) -> str:
    """Who a drill acts as in the audit trail and on the job."""
    return f"drill:{drill_name}"


@dataclass(frozen=True)
class Started:
    run: DrillRun
    started: bool  # False: the drill already had an unfinished run, which is returned instead


@dataclass
class DrillPorts:
    """The adapters a runner needs, per region."""

    gateways_for: Callable[[str], Gateways]
    checks_for: Callable[[str], DrillChecks]
    resources_for: Callable[[str], DrillResources]
    reporter: DrillReporter


class DrillRunner:
    def __init__(
        self,
        policy: Policy,
        jobs: JobRepository,
        audit: AuditLog,
        runs: DrillRunRepository,
        service: RestoreService,
        ports: DrillPorts,
        clock: Clock,
        wake_engine: Callable[[], None] = lambda: None,
    ) -> None:
        self.policy = policy
        self.jobs = jobs
        self.audit = audit
        self.runs = runs
        self.service = service
        self.ports = ports
        self.clock = clock
        self.wake_engine = wake_engine
        self._ticking = threading.Lock()

    # Starting.

    def start(self, name: str, trigger: str) -> Started:
        """Start drill `name` now, unless it already has an unfinished run (a drill never overlaps itself)."""
        spec = self.policy.drill(name)
        if spec is None:
            raise UnknownDrillError(name, [d.name for d in self.policy.drills])
        run = DrillRun(
            id="d" + secrets.token_hex(4),
            drill_name=name,
            trigger=trigger,
            created_at=self.clock.now(),
            rto_minutes=spec.rto_minutes,
        )
        busy = self.runs.claim(run)
        if busy is not None:
            self._audit(
                name, AuditAction.DRILL_SKIPPED, None, {"trigger": trigger, "running": busy.id, "phase": busy.phase}
            )
            return Started(busy, started=False)
        self._audit(
            name,
            AuditAction.DRILL_STARTED,
            None,
            {"run": run.id, "trigger": trigger, "pre_approved_by": f"policy drills[{name}]"},
        )
        try:
            self._submit(run, spec)
        except RdsbotError as exc:
            run.fail(f"could not start: {exc}")
            run.phase = DrillPhase.REPORTING
        self.runs.save(run)
        self.wake_engine()
        return Started(run, started=True)

    def _submit(self, run: DrillRun, spec: DrillSpec) -> None:
        region = self.policy.drill_region(spec)
        gateways = self.ports.gateways_for(region)
        bucket = spec.source.bucket or self.policy.backups.default_bucket
        backup = gateways.backups.latest_backup(bucket, spec.source.prefix)
        if backup is None:
            run.fail(f"no backup under s3://{bucket}/{spec.source.prefix}")
            run.phase = DrillPhase.REPORTING
            return
        run.backup = BackupUsed(
            bucket=backup.bucket, keys=backup.keys, total_bytes=backup.total_bytes, last_modified=backup.last_modified
        )
        age = run.backup_age_seconds
        if spec.source.max_age_days is not None and age is not None and age > spec.source.max_age_days * 86400:
            run.fail(
                f"the newest backup is {age / 86400:.1f} days old, older than max_age_days {spec.source.max_age_days}"
            )
            run.phase = DrillPhase.REPORTING
            return
        multi = len(backup.keys) > 1
        # Character by character on purpose: `sales_1.bak`, `sales_2.bak` share `sales_`, not a path component.
        key = os.path.commonprefix(list(backup.keys)) if multi else backup.keys[0]  # noqa: RUF071
        request = RestoreRequest(
            backup=BackupLocation(bucket=bucket, key=key, multi_file=multi),
            instance_class=spec.instance_class,
            database_name=spec.database_name,
            edition=spec.engine.edition,
            storage_type=spec.engine.storage_type,
            allocated_storage_gb=spec.engine.allocated_storage_gb,
            cores=spec.engine.cores,
            threads_per_core=spec.engine.threads_per_core,
            multi_az=spec.engine.multi_az,
            region=region,
        )
        job = self.service.submit(request, actor(spec.name), approved=True, drill=True).job
        # Named from the plan, which knows the bucket's SSE-KMS key only after the preflight. Should the engine
        # make the group first, it counts as preexisting and is kept: never deleted while another job may use it.
        plan = job.plan
        option_group = names.option_group_name(plan.edition.short, plan.major_version, plan.role_kms_key_arns)
        run.option_group_preexisted = self.ports.resources_for(region).option_group_exists(option_group)
        run.job_id = job.id
        run.instance_id = job.plan.target_instance_id
        run.phase = DrillPhase.RESTORING

    # Reconciling.

    def tick(self) -> int:
        """Advance every unfinished run as far as it goes without waiting; return how many are unfinished."""
        # The scheduler's reconcile job and a hand-driven loop must not step the same run twice at once.
        if not self._ticking.acquire(blocking=False):
            return len(self.runs.unfinished())
        try:
            with audit_surface(AuditSurface.DRILL):
                return self._tick()
        finally:
            self._ticking.release()

    def _tick(self) -> int:
        left = 0
        for run in self.runs.unfinished():
            try:
                self._advance(run)
            except Exception:  # one run's trouble (AWS down) must not stop the others; it is retried next tick
                log.exception("drill run step failed", extra={"drill_run": run.id})
            if run.phase != DrillPhase.DONE:
                left += 1
        return left

    def _advance(self, run: DrillRun) -> None:
        steps = {
            DrillPhase.STARTING: self._starting,
            DrillPhase.RESTORING: self._restoring,
            DrillPhase.VALIDATING: self._validating,
            DrillPhase.REPORTING: self._reporting,
            DrillPhase.CLEANING: self._cleaning,
        }
        while run.phase != DrillPhase.DONE:
            before = run.phase
            steps[run.phase](run)
            if run.phase == before:
                return  # waiting on something outside

    def _starting(self, run: DrillRun) -> None:
        if self.clock.now() - run.created_at < STARTING_GRACE:
            return  # start() may still be submitting in another thread
        adopted = next(
            (
                job
                for job in self.jobs.list_jobs(is_drill=True, limit=20)
                if job.requester == actor(run.drill_name) and job.created_at >= run.created_at
            ),
            None,
        )
        if adopted is None:
            run.fail("interrupted before its restore was submitted")
            run.phase = DrillPhase.REPORTING
        else:
            run.job_id, run.instance_id, run.phase = adopted.id, adopted.plan.target_instance_id, DrillPhase.RESTORING
        self.runs.save(run)

    def _restoring(self, run: DrillRun) -> None:
        job = self._job(run)
        if not job.status.finished:
            return
        run.restore = restore_timing(job)
        if job.status == JobStatus.SUCCEEDED:
            run.time_to_restore_seconds = time_to_restore(job)
            run.phase = DrillPhase.VALIDATING
        else:
            run.fail(f"restore {job.status}: {job.error}")
            run.phase = DrillPhase.REPORTING
        self.runs.save(run)

    def _validating(self, run: DrillRun) -> None:
        job = self._job(run)
        spec = self.policy.drill(run.drill_name)
        if run.validation is None:
            run.validation = Timing(started_at=self.clock.now())
            self.runs.save(run)
        if spec is None:
            run.fail(f"drill {run.drill_name} is no longer in the policy; not validated")
        else:
            try:
                run.checks = self._run_checks(job, spec)
            except TransientError as exc:
                run.validation_attempts += 1
                if run.validation_attempts < MAX_VALIDATION_ATTEMPTS:
                    self.runs.save(run)
                    return
                run.fail(f"validation could not reach the instance: {exc}")
        run.validation.finished_at = self.clock.now()
        failed = [c for c in run.checks if not c.passed]
        if failed:
            run.fail(f"{len(failed)} of {len(run.checks)} checks failed: " + "; ".join(c.label for c in failed))
        if run.outcome is None:
            run.outcome = DrillOutcome.PASSED
        run.phase = DrillPhase.REPORTING
        self.runs.save(run)

    def _run_checks(self, job: Job, spec: DrillSpec) -> list[CheckResult]:
        region = job.plan.region
        instance = self.ports.gateways_for(region).instances.find(job.plan.target_instance_id)
        if instance is None:
            raise TransientError(f"instance {job.plan.target_instance_id} not found")
        checks = self.ports.checks_for(region)
        return [checks.run_check(instance, job.plan.database_name, check) for check in spec.checks]

    def _reporting(self, run: DrillRun) -> None:
        if run.outcome is None:
            run.outcome = DrillOutcome.PASSED
        history = [run, *[r for r in self.runs.history(run.drill_name, 10) if r.id != run.id]]
        text = report.render_report(run, history)
        self.ports.reporter.report(self._channel(run), run.id, text, failed=run.failed, chart=trend_chart(history))
        self._audit(
            run.drill_name,
            AuditAction.DRILL_FAILED if run.failed else AuditAction.DRILL_PASSED,
            run.job_id,
            {
                "run": run.id,
                "error": run.error,
                "time_to_restore_seconds": run.time_to_restore_seconds,
                "rto_minutes": run.rto_minutes,
                "checks": [c.model_dump(mode="json") for c in run.checks],
            },
        )
        run.phase = DrillPhase.CLEANING
        self.runs.save(run)

    def _cleaning(self, run: DrillRun) -> None:
        if run.job_id is None:
            self._finish(run)
            return
        spec = self.policy.drill(run.drill_name)
        keep = timedelta(minutes=spec.keep_minutes if spec else 0)
        since = (run.validation.finished_at if run.validation else None) or (
            run.restore.finished_at if run.restore else None
        )
        if since is not None and self.clock.now() < since + keep:
            return
        job = self._job(run)
        if not job.status.finished:
            return  # a restore still running (a failed start adopted late) is cleaned after it ends
        if run.cleanup is None:
            run.cleanup = Timing(started_at=self.clock.now())
        region = job.plan.region
        others = [j for j in self.jobs.unfinished_jobs() if j.id != job.id and j.plan.region == region]
        gateways, resources = self.ports.gateways_for(region), self.ports.resources_for(region)

        def recent() -> list[Job]:
            """Who made each shared resource: enough history to cover drills running side by side."""
            return [j for j in self.jobs.list_jobs(limit=RECENT_JOBS) if j.plan.region == region]

        result = clean_up(run, job, gateways.instances, resources, others, recent)
        run.cleanup_attempts += 1
        run.removed += [r for r in result.removed if r not in run.removed]
        run.kept = result.kept
        if not result.done:
            run.cleanup_error = "; ".join(result.waiting)
            self.runs.save(run)
            return
        run.cleanup_error = None
        run.cleanup.finished_at = self.clock.now()
        # Told and audited before DONE is saved, as _reporting does before CLEANING: whoever reads a run as done
        # finds its cleanup posted and in the trail, and a process killed in between repeats the cleanup pass
        # (nothing left to remove; the Slack follow-up is queued once by its ref) instead of never telling it.
        self.ports.reporter.follow_up(self._channel(run), run.id, report.cleanup_text(run))
        self._audit(run.drill_name, AuditAction.DRILL_CLEANED_UP, run.job_id, {"run": run.id, "removed": run.removed})
        self._finish(run)

    def _finish(self, run: DrillRun) -> None:
        run.phase = DrillPhase.DONE
        run.finished_at = self.clock.now()
        self.runs.save(run)

    def _job(self, run: DrillRun) -> Job:
        job = self.jobs.get_job(run.job_id or "")
        if job is None:
            raise RdsbotError(f"drill run {run.id} names job {run.job_id}, which is not in the store")
        return job

    def _channel(self, run: DrillRun) -> str:
        spec = self.policy.drill(run.drill_name)
        return spec.report_channel if spec else self.policy.approvals.channel

    def _audit(self, drill_name: str, action: AuditAction, job_id: str | None, detail: dict[str, object]) -> None:
        self.audit.record_audit(
            [
                AuditEvent(
                    at=self.clock.now(),
                    actor=actor(drill_name),
                    action=action,
                    job_id=job_id,
                    detail=detail,
                    surface=AuditSurface.DRILL,
                )
            ]
        )
