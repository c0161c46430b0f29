"""Service functions: a command in, a job out. Slack, the console, the demo and drills all come through here,
so a rule is written once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot import names
from bot.backup_checks import check_backup, plan_backup
from bot.backup_request import BackupRequest
from bot.chain_discovery import find_chain
from bot.clock import Clock
from bot.domain import AuditAction, AuditEvent, Job, JobStatus, RestoreRequest, StageOutputs
from bot.errors import RequestError
from bot.policy import plan_restore
from bot.ports import AuditLog, JobRepository
from bot.stages import Gateways, Preflight, preflight
from config.policy_model import Policy


@dataclass(frozen=True)
class Submitted:
    job: Job
    preflight: Preflight


class RestoreService:
    def __init__(
        self,
        jobs: JobRepository,
        audit: AuditLog,
        gateways_for: Callable[[str], Gateways],
        policy: Policy,
        clock: Clock,
    ) -> None:
        self.jobs = jobs
        self.audit = audit
        self.gateways_for = gateways_for
        self.policy = policy
        self.clock = clock

    def refuse(
        self,
        requester: str,
        exc: RequestError,
        *,
        text: str | None = None,
        request: RestoreRequest | BackupRequest | None = None,
    ) -> None:
        """The one audit of a refused request, whichever check refused it (parse, policy or preflight)."""
        detail: dict[str, object] = {
            "field": exc.field,
            "reason": str(exc),
            "text": text,  # what was typed, when it came from chat
            "request": request.model_dump(mode="json") if request else None,  # what it parsed to, when it did
        }
        self.audit.record_audit([self._event(requester, AuditAction.REQUEST_REFUSED, None, detail)])

    def submit(
        self,
        request: RestoreRequest,
        requester: str,
        *,
        approved: bool = False,
        drill: bool = False,
        text: str | None = None,
    ) -> Submitted:
        """Plan (pure rules), preflight (read-only AWS), then record the job; RequestError creates nothing."""
        job_id = names.new_job_id()
        try:
            if request.chain:
                request = find_chain(request, self.policy, lambda region: self.gateways_for(region).backups)
            plan = plan_restore(request, self.policy, job_id, drill=drill)
            checked = preflight(plan, self.gateways_for(plan.region), self.policy)
        except RequestError as exc:
            self.refuse(requester, exc, text=text, request=request)
            raise
        # What only the preflight can know joins the plan: the approver sees it, the stages use it.
        plan = plan.model_copy(
            update={
                "warnings": plan.warnings + checked.notes,
                "bucket_kms_key_arns": checked.bucket_kms_key_arns,
                "chain": checked.chain.chain if checked.chain else None,
                **checked.plan_updates,  # --into: the live instance's class, engine and version
            }
        )
        job = Job(
            id=job_id,
            requester=requester,
            plan=plan,
            status=JobStatus.QUEUED if approved else JobStatus.AWAITING_APPROVAL,
            created_at=self.clock.now(),
            is_drill=drill,
            outputs=StageOutputs(
                backup_files=len(checked.backup.keys),
                backup_bytes=checked.backup.total_bytes,
                backup_last_modified=checked.backup.last_modified,
            ),
        )
        if request.dry_run:
            return Submitted(job=job, preflight=checked)
        self.jobs.add_job(
            job,
            [
                self._event(
                    requester,
                    AuditAction.JOB_REQUESTED,
                    job.id,
                    {"plan": plan.model_dump(mode="json"), "pre_approved": approved, "drill": drill},
                )
            ],
        )
        return Submitted(job=job, preflight=checked)

    def submit_backup(self, request: BackupRequest, requester: str, *, text: str | None = None) -> Job:
        """/rds-backup: plan (pure), the read-only checks, then record the job awaiting approval."""
        job_id = names.new_job_id()
        try:
            plan = plan_backup(request, self.policy, job_id)
            checked = check_backup(plan, self.gateways_for(plan.region), self.policy)
        except RequestError as exc:
            self.refuse(requester, exc, text=text, request=request)
            raise
        plan = plan.model_copy(update={"warnings": plan.warnings + checked.notes, **checked.updates})
        job = Job(id=job_id, requester=requester, plan=plan, created_at=self.clock.now())
        job.status = JobStatus.AWAITING_APPROVAL
        detail: dict[str, object] = {"plan": plan.model_dump(mode="json"), "pre_approved": False, "drill": False}
        self.jobs.add_job(job, [self._event(requester, AuditAction.BACKUP_REQUESTED, job.id, detail)])
        return job

    def _event(self, actor: str, action: AuditAction, job_id: str | None, detail: dict[str, object]) -> AuditEvent:
        return AuditEvent(at=self.clock.now(), actor=actor, action=action, job_id=job_id, detail=detail)
