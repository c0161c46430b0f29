"""Service functions: a command in, a job out. Slack, the console, the demo and drills all come through here,
so a rule is written once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from bot import names
from bot.clock import Clock
from bot.domain import AuditEvent, Job, JobStatus, RestoreRequest
from bot.errors import RequestError
from bot.policy import plan_restore
from bot.stages import Gateways, Preflight, preflight
from config.policy_model import Policy


class JobWriter(Protocol):
    def add_job(self, job: Job, events: list[AuditEvent] | tuple[AuditEvent, ...] = ()) -> None: ...

    def record_audit(self, events: list[AuditEvent] | tuple[AuditEvent, ...]) -> None: ...


@dataclass(frozen=True)
class Submitted:
    job: Job
    preflight: Preflight


class RestoreService:
    def __init__(self, store: JobWriter, gateways_for: Callable[[str], Gateways], policy: Policy, clock: Clock) -> None:
        self.store = store
        self.gateways_for = gateways_for
        self.policy = policy
        self.clock = clock

    def submit(
        self, request: RestoreRequest, requester: str, *, approved: bool = False, drill: bool = False
    ) -> Submitted:
        """Plan (pure rules), preflight (read-only AWS), then record the job; RequestError creates nothing."""
        job_id = names.new_job_id()
        try:
            plan = plan_restore(request, self.policy, job_id, drill=drill)
            checked = preflight(plan, self.gateways_for(plan.region), self.policy)
        except RequestError as exc:
            self.store.record_audit(
                [
                    self._event(
                        requester,
                        "request.refused",
                        None,
                        {"field": exc.field, "reason": str(exc), "request": request.model_dump(mode="json")},
                    )
                ]
            )
            raise
        if checked.notes:
            plan = plan.model_copy(update={"warnings": plan.warnings + checked.notes})
        job = Job(
            id=job_id,
            requester=requester,
            plan=plan,
            status=JobStatus.QUEUED if approved else JobStatus.AWAITING_APPROVAL,
            created_at=self.clock.now(),
            is_drill=drill,
            outputs={"backup_files": len(checked.backup.keys), "backup_bytes": checked.backup.total_bytes},
        )
        if request.dry_run:
            return Submitted(job=job, preflight=checked)
        self.store.add_job(
            job,
            [
                self._event(
                    requester,
                    "job.requested",
                    job.id,
                    {"plan": plan.model_dump(mode="json"), "pre_approved": approved, "drill": drill},
                )
            ],
        )
        return Submitted(job=job, preflight=checked)

    def _event(self, actor: str, action: str, job_id: str | None, detail: dict[str, object]) -> AuditEvent:
        return AuditEvent(at=self.clock.now(), actor=actor, action=action, job_id=job_id, detail=detail)
