"""/rds-drill: list, run (admins only, through the one Authorizer) and history. Independent of the chat."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from apscheduler.triggers.cron import CronTrigger

from bot.authz import Action, Authorizer, Forbidden
from bot.clock import Clock
from bot.commands import Reply
from bot.domain import AuditAction, AuditEvent
from bot.drills import report
from bot.drills.runner import DrillRunner, UnknownDrillError
from bot.drills.runs import DrillOutcome
from bot.errors import RdsbotError
from bot.ports import AuditLog, DrillRunRepository
from bot.render import duration
from config.policy_model import Policy

USAGE = "usage: /rds-drill list | /rds-drill run <name> | /rds-drill history <name>"


@dataclass
class DrillCommands:
    policy: Policy
    clock: Clock
    audit: AuditLog
    runs: DrillRunRepository
    runner: DrillRunner
    authorizer: Authorizer
    # The leading scheduler's stored next run of a drill; None where this replica does not schedule.
    scheduled_next_run: Callable[[str], datetime | None]

    def is_run(self, text: str) -> bool:
        """Whether the text asks for a run: the one sub-command that must leave Slack's ack for a lazy listener."""
        return text.split()[:1] == ["run"]

    def answer(self, text: str) -> Reply:
        """list, history and help: store reads only, fast enough for the ack."""
        words = text.split()
        if words[:1] == ["list"] or not words:
            return self.list()
        if words[0] == "history" and len(words) == 2:
            return self.history(words[1])
        return Reply(USAGE, ok=words[:1] in (["help"], ["-h"], ["--help"]))

    def list(self) -> Reply:
        """Every drill: schedule, next run, last result."""
        if not self.policy.drills:
            return Reply("no drills configured; add a drills: list to the policy")
        lines = []
        for spec in self.policy.drills:
            upcoming = self.next_run(spec.name)
            last = self.runs.history(spec.name, 1)
            lines.append(
                f"{spec.name}: `{spec.schedule.cron}` {spec.schedule.timezone}, "
                f"s3://{spec.source.bucket or self.policy.backups.default_bucket}/{spec.source.prefix}*, "
                f"{spec.instance_class}, {len(spec.checks)} check(s), RTO {duration(spec.rto_minutes * 60)} "
                f"-> {spec.report_channel}"
            )
            next_text = upcoming.strftime("%Y-%m-%d %H:%M %Z") if upcoming else "-"
            lines.append(f"  next: {next_text}; last: {report.summary_line(last[0] if last else None)}")
        return Reply("\n".join(lines))

    def next_run(self, name: str) -> datetime | None:
        """The leader's stored next run when this replica schedules, else the next cron time from now."""
        stored = self.scheduled_next_run(name)
        if stored is not None:
            return stored
        spec = self.policy.drill(name)
        if spec is None:
            return None
        trigger = CronTrigger.from_crontab(spec.schedule.cron, timezone=spec.schedule.timezone)
        upcoming: datetime | None = trigger.get_next_fire_time(None, self.clock.now())
        return upcoming

    def run(self, name: str, user: str, email_lookup: Callable[[], str | None]) -> Reply:
        """Start a drill now, for admins; refusals are audited like any other."""
        try:
            self.authorizer.check(Action.RUN_DRILL, user, email_lookup)
        except Forbidden as refused:
            self.audit.record_audit(
                [
                    AuditEvent(
                        at=self.clock.now(),
                        actor=user,
                        action=AuditAction.DRILL_REFUSED,
                        detail={"drill": name, "reason": refused.reason},
                    )
                ]
            )
            return Reply(f"Cannot run drill {name}: {refused.reason}", ok=False)
        try:
            started = self.runner.start(name, f"chat:{user}")
        except UnknownDrillError as exc:
            return Reply(str(exc), ok=False)
        except RdsbotError as exc:
            return Reply(f"Cannot start drill {name} right now: {exc}", ok=False)
        run = started.run
        if not started.started:
            return Reply(f"Drill {name} is already running ({run.id}, {run.phase}); it never overlaps itself")
        if run.failed:
            return Reply(f"Drill {name} ({run.id}) could not start: {run.error}", ok=False)
        spec = self.policy.drill(name)
        channel = spec.report_channel if spec else "the report channel"
        return Reply(f"Drill {name} started ({run.id}, job {run.job_id}); the report goes to {channel}")

    def history(self, name: str) -> Reply:
        """The drill's last runs with outcome and time-to-restore, and the trend."""
        if self.policy.drill(name) is None:
            return Reply(str(UnknownDrillError(name, [d.name for d in self.policy.drills])), ok=False)
        runs = self.runs.history(name, 10)
        if not runs:
            return Reply(f"{name}: never run")
        lines = [f"{name}: last {len(runs)} run(s), newest first"]
        lines += [f"  {report.summary_line(run)}" for run in runs]
        lines.append(report.trend(runs))
        return Reply("\n".join(lines))

    def status_note(self) -> str | None:
        """For /rds-status: every drill whose last finished run failed, loudly, and cleanups still retrying."""
        failing = []
        for run in self.runs.unfinished():
            if run.cleanup_error:
                failing.append(f"⚠️ drill {run.drill_name} ({run.id}) cleanup retrying: {run.cleanup_error}")
        for spec in self.policy.drills:
            last = next((r for r in self.runs.history(spec.name, 5) if r.outcome is not None), None)
            if last is not None and last.outcome == DrillOutcome.FAILED:
                failing.append(f"🚨 drill {spec.name} FAILED {last.created_at:%Y-%m-%d %H:%M} UTC: {last.error}")
        return "\n".join(failing) or None
