"""The backstop: find rdsbot drill instances (tag rdsbot-drill=true) older than their keep window that no live
drill run owns (a crash, a failed cleanup, a hand-made copy) and delete them, reporting what was removed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from bot import tags
from bot.audit_surface import AuditSurface
from bot.clock import Clock
from bot.domain import AuditAction, AuditEvent
from bot.drills.runs import DrillPhase
from bot.errors import RdsbotError
from bot.ports import AuditLog, DrillReporter, DrillResources, DrillRunRepository, InstanceGateway
from bot.slack_text import mrkdwn
from config.policy_model import Policy

log = logging.getLogger(__name__)
SWEEPER_ACTOR = "rdsbot:sweeper"


class Sweeper:
    def __init__(
        self,
        policy: Policy,
        audit: AuditLog,
        runs: DrillRunRepository,
        resources_for: Callable[[str], DrillResources],
        instances_for: Callable[[str], InstanceGateway],
        reporter: DrillReporter,
        clock: Clock,
        min_age: timedelta = timedelta(hours=1),
    ) -> None:
        self.policy = policy
        self.audit = audit
        self.runs = runs
        self.resources_for = resources_for
        self.instances_for = instances_for
        self.reporter = reporter
        self.clock = clock
        # An instance no run owns is given this long: it may belong to a drill that is starting right now.
        self.min_age = min_age

    def sweep(self) -> list[str]:
        """Delete leaked drill instances in every allowed region; return their ids."""
        removed: list[str] = []
        for region in self.policy.region.allowed:
            try:
                removed += self._sweep_region(region)
            except RdsbotError as exc:
                log.warning("drill sweep of %s failed: %s", region, exc)
        if removed:
            text = mrkdwn("🧹 drill sweeper removed {} leaked drill instance(s): {}", len(removed), ", ".join(removed))
            self.reporter.report(self._channel(), "sweep", text, failed=False, chart=None)
            detail: dict[str, object] = {"removed": removed}
            event = AuditEvent(
                at=self.clock.now(),
                actor=SWEEPER_ACTOR,
                action=AuditAction.DRILL_SWEPT,
                detail=detail,
                surface=AuditSurface.DRILL,
            )
            self.audit.record_audit([event])
        return removed

    def _sweep_region(self, region: str) -> list[str]:
        now = self.clock.now()
        removed = []
        for use in self.resources_for(region).instances():
            if not tags.is_drill_instance(use.tags) or use.status == "deleting":
                continue
            job_id = use.tags.get(tags.JOB_ID)
            run = self.runs.by_job(job_id) if job_id else None
            if run is not None and run.phase != DrillPhase.DONE:
                continue  # a live run cleans up after itself
            keep = self.min_age
            if run is not None:
                spec = self.policy.drill(run.drill_name)
                keep = timedelta(minutes=spec.keep_minutes if spec else 0)
            if use.created_at is not None and now - use.created_at < keep:
                continue
            self.instances_for(region).delete(use.instance_id)
            log.info("swept leaked drill instance %s (job %s)", use.instance_id, job_id)
            removed.append(use.instance_id)
        return removed

    def _channel(self) -> str:
        channels = {d.report_channel for d in self.policy.drills}
        return next(iter(channels)) if len(channels) == 1 else self.policy.approvals.channel
