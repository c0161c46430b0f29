"""The ports the core drives. bot/store implements the repositories over SQLAlchemy, aws/ the gateways over
boto3; tests implement them with small in-memory fakes (tests/unit/fakes.py).

Every `ensure_*` is idempotent: it looks up by a deterministic name before creating, and returns what exists.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence, Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, ConfigDict, Field

from bot.audit_chain import ChainLink
from bot.audit_layout import DayClose
from bot.aws_ports import (  # the AWS gateways and their specs, re-exported
    AccountIdentity as AccountIdentity,
    AuditRoleSpec as AuditRoleSpec,
    BackupStore as BackupStore,
    EnsuredOptionGroup as EnsuredOptionGroup,
    InstanceGateway as InstanceGateway,
    InstanceSpec as InstanceSpec,
    NativeRestore as NativeRestore,
    NetworkGateway as NetworkGateway,
    NetworkSpec as NetworkSpec,
    OptionGroupCopySpec as OptionGroupCopySpec,
    OptionGroupGateway as OptionGroupGateway,
    OptionGroupSpec as OptionGroupSpec,
    RoleGateway as RoleGateway,
    RolePlacement as RolePlacement,
    RoleSpec as RoleSpec,
    ServerAuditGateway as ServerAuditGateway,
)
from bot.chat_outbox import (
    SlackOutboxRepository as SlackOutboxRepository,  # the Slack outbox's port lives beside its rules
)
from bot.domain import (
    Approval,
    ApprovalDecision,
    AuditEvent,
    EngineBookkeeping,
    ExpectedStatus,
    InstanceState,
    Job,
    JobStatus,
    Stage,
    StageOutputs,
)
from bot.drills.spec import DrillCheck
from bot.lifecycle.model import InstanceLifecycle
from bot.slack_text import SlackText

if TYPE_CHECKING:
    # bot.drills.runs imports this module for CheckResult (and bot.drills.chart imports bot.drills.runs).
    from bot.drills.chart import TrendChart
    from bot.drills.runs import DrillRun


# Repositories: every method is one transaction; events given with a change are recorded only if it happens.


class JobRepository(Protocol):
    def add_job(self, job: Job, events: Sequence[AuditEvent] = ()) -> None:
        """Store a new job with its audit events; DuplicateJobError when the id is taken."""
        ...

    def save_job(self, job: Job, events: Sequence[AuditEvent] = ()) -> None:
        """Persist the job and its stages (never `cancel_requested_by`, which only request_cancel writes)."""
        ...

    def transition(
        self,
        job_id: str,
        expected: ExpectedStatus,
        new: JobStatus,
        events: Sequence[AuditEvent] = (),
        unannounced: bool = False,
    ) -> bool:
        """Compare-and-set the status; True when this call won the change. `unannounced` marks the job
        `finish_unannounced` in the same write (a finish chat must still be told of)."""
        ...

    def request_cancel(self, job_id: str, actor: str, events: Sequence[AuditEvent] = ()) -> bool:
        """Mark a queued or running job for the engine to cancel; False when it is not, or already marked."""
        ...

    def update_outputs(self, job_id: str, outputs: StageOutputs, engine: EngineBookkeeping | None = None) -> None:
        """Merge the fields set in `outputs` (and `engine`) into the job's, leaving its status alone."""
        ...

    def get_job(self, job_id: str) -> Job | None: ...

    def list_jobs(
        self, statuses: set[JobStatus] | None = None, limit: int = 50, is_drill: bool | None = None
    ) -> list[Job]:
        """Newest first."""
        ...

    def unfinished_jobs(self) -> list[Job]:
        """Queued and running jobs, oldest first."""
        ...

    def finished_unannounced(
        self, statuses: AbstractSet[JobStatus], limit: int = 50, withdrawals: bool = False
    ) -> list[Job]:
        """Jobs in `statuses` still marked `finish_unannounced`, oldest first (by finish, else by last write: an
        approved job has no finish): what to announce again. A withdrawal (Job.withdrawn: cancelled, but a decision,
        not the engine's finish) is listed only, and whatever `statuses` says, with `withdrawals`."""
        ...

    def finished_unannounced_shares(self, shares: Sequence[MarkShare], limit_each: int = 50) -> list[Job]:
        """Each share's finished_unannounced, `limit_each` apiece, in one read (so no share's backlog crowds out
        another's); a job listed by two shares comes once."""
        ...

    def awaiting_approval(self, created_before: datetime) -> list[Job]:
        """Requests still awaiting a decision that were made before `created_before`, oldest first."""
        ...


@dataclass(frozen=True)
class MarkShare:
    """One kind of mark (a finish, a decision, an expiry): finished_unannounced's `statuses` and `withdrawals`."""

    statuses: AbstractSet[JobStatus]
    withdrawals: bool = False

    def lists(self, job: Job) -> bool:
        """Whether it lists this marked job: a withdrawal only with `withdrawals`, whatever the status; others by it."""
        return self.withdrawals if job.withdrawn else job.status in self.statuses


class MarkedAnnouncer(Protocol):
    """Tells chat of the jobs in `statuses` still marked `finish_unannounced` (a decision, an expiry), from the one
    read of the mark the engine makes each tick (Engine.announcers), not a read of its own."""

    @property
    def statuses(self) -> AbstractSet[JobStatus]: ...

    @property
    def withdrawals(self) -> bool:
        """Whether withdrawals (Job.withdrawn) are its to announce (finished_unannounced's `withdrawals`)."""
        ...

    def announce_marked(self, marked: Sequence[Job]) -> int:
        """Announce these marked jobs (its MarkShare; an empty list too: nothing is marked now); how many."""
        ...


def clear_unannounced(jobs: JobRepository, job_id: str) -> None:
    """Chat has been told (a finish, a decision, an expiry): clear the mark saved with it, leaving the rest alone."""
    jobs.update_outputs(job_id, StageOutputs(), EngineBookkeeping(finish_unannounced=False))


class ApprovalRepository(Protocol):
    def add_approval(
        self, job_id: str, actor: str, decision: ApprovalDecision, reason: str | None, at: datetime
    ) -> Approval: ...

    def decide(
        self,
        job_id: str,
        new: JobStatus,
        actor: str,
        decision: ApprovalDecision,
        reason: str | None,
        at: datetime,
        events: Sequence[AuditEvent] = (),
    ) -> Approval | None:
        """A decision in one write: the job moves from awaiting approval to `new`, marked `finish_unannounced`,
        with the approver's row and `events`; None, with nothing written, when it was no longer awaiting approval.
        One write, so a reader (the leader's DecisionAnnouncer) never sees the decision without its approver."""
        ...

    def approvals(self, job_id: str) -> list[Approval]:
        """In the order they were made."""
        ...


class AuditLog(Protocol):
    def record_audit(self, events: Sequence[AuditEvent]) -> None:
        """Append events that go with no job change."""
        ...

    def audit_events(self, job_id: str | None = None, since: datetime | None = None) -> list[AuditEvent]: ...

    def audit_day(self, day: str) -> tuple[list[AuditEvent], tuple[int, str] | None]:
        """One UTC day's chain in order, and its head (last seq, hash)."""
        ...

    def chain_link(self, day: str) -> ChainLink:
        """What the day's first event must link to: the previous day's head, or the day's genesis."""
        ...


class AuditOutbox(Protocol):
    def store_epoch(self) -> str:
        """The random id this store drew once; every S3 key it writes carries it."""
        ...

    def claim_audit_batches(self, key_for: Callable[[str, str, int, int], str], limit: int = 500) -> list[str]: ...

    def audit_batch(self, key: str) -> list[AuditEvent]: ...

    def mark_audit_shipped(self, key: str, at: datetime) -> int: ...

    def unshipped_audit_events(self) -> int: ...

    def shipped_events(self, day: str) -> int:
        """How many of the day's events S3 has accepted."""
        ...

    def closable_days(self) -> list[DayClose]:
        """Days a later day has closed, all shipped, whose close object S3 has not accepted yet; oldest first."""
        ...

    def mark_day_closed(self, day: str, at: datetime) -> None: ...


class AuditSink(Protocol):
    """Where shipped objects go: aws/audit_shipper.S3AuditSink (bot/audit_outbox.py ships through it)."""

    def put_new(self, key: str, body: bytes) -> None:
        """Write `key` only if S3 holds no object there; TrailObjectExists otherwise."""
        ...

    def read(self, key: str) -> bytes | None: ...

    def keys(self, prefix: str) -> list[str]: ...

    def presigned_url(self, key: str, expires_seconds: int) -> str: ...

    def console_url(self, key_or_prefix: str) -> str: ...

    def location(self, key: str) -> str: ...


class DrillRunRepository(Protocol):
    def claim(self, run: DrillRun) -> DrillRun | None:
        """Store `run` unless the drill already has an unfinished run; then return that run instead."""
        ...

    def save(self, run: DrillRun) -> None: ...

    def get(self, run_id: str) -> DrillRun | None: ...

    def unfinished(self) -> list[DrillRun]: ...

    def history(self, drill_name: str | None = None, limit: int = 10) -> list[DrillRun]: ...

    def by_job(self, job_id: str) -> DrillRun | None: ...


class InstanceLifecycles(Protocol):
    """One lifecycle record per finished restore job (bot/lifecycle/); every write is a compare-and-set."""

    def untracked_jobs(self, limit: int = 100) -> list[Job]:
        """Finished restore jobs (not drills) with no lifecycle record yet, oldest first."""
        ...

    def add(self, record: InstanceLifecycle, events: Sequence[AuditEvent] = ()) -> bool:
        """Store a job's first record; False (and no events) when the job has one already."""
        ...

    def replace(self, record: InstanceLifecycle, events: Sequence[AuditEvent] = ()) -> bool:
        """Write `record` as version+1 only if the stored version is still `record.version`; True when it won."""
        ...

    def get(self, job_id: str) -> InstanceLifecycle | None: ...

    def active(self) -> list[InstanceLifecycle]:
        """Records still keeping or deleting an instance, soonest deletion first."""
        ...

    def for_jobs(self, job_ids: Sequence[str]) -> dict[str, InstanceLifecycle]: ...


class Notifier(Protocol):
    """Where the engine reports progress; Slack, the console and tests implement it."""

    def stage_changed(self, job: Job, stage: Stage) -> None: ...

    def progress(self, job: Job, percent: int) -> None: ...

    def job_finished(self, job: Job) -> None: ...

    # A request lapsed with no decision: its card loses its buttons and the requester is told.
    def request_expired(self, job: Job, deadline: datetime) -> None: ...

    def keep_reminder(self, job: Job, lifecycle: InstanceLifecycle) -> None:
        """The job's instance goes soon: say when, and offer to keep it longer (the requester or an admin)."""
        ...

    def lifecycle_changed(self, job: Job, lifecycle: InstanceLifecycle, text: str) -> None:
        """One line about the instance's life (kept longer, deleting, deleted, left alone) in the job's thread."""
        ...


class ThreadRef(BaseModel):
    """Where a job's conversation lives on one chat surface: the channel and the message its replies thread under."""

    model_config = ConfigDict(frozen=True)

    surface: str  # "slack" today
    channel: str
    thread_ts: str


class ChatThreads(Protocol):
    """The chat thread of each job, per surface; the chat adapters keep it, the job itself does not."""

    def save(self, job_id: str, surface: str, channel: str, thread_ts: str) -> None:
        """Remember (or move) the job's thread on `surface`."""
        ...

    def find(self, job_id: str, surface: str) -> ThreadRef | None: ...


class Identity(BaseModel):
    """Who a Slack user is on the AWS side, and whether they may approve."""

    model_config = ConfigDict(frozen=True)

    slack_user_id: str
    iam_user: str | None = None
    is_admin: bool = False
    source: str = ""  # how the mapping was made: "tag slack-user-id", "tag email", "slack usergroup"


class AdminDirectory(Protocol):
    def identify(self, slack_user_id: str, email_lookup: Callable[[], str | None]) -> Identity:
        """Map a Slack user to an IAM user and admin membership; `email_lookup` is called only when needed."""
        ...


# Restore drills: validation through the SQL driver, cleanup of what a drill created, and its report.


class CheckResult(BaseModel):
    """One drill check's outcome, in words for the report."""

    model_config = ConfigDict(frozen=True)

    label: str
    passed: bool
    detail: str = ""
    seconds: float | None = None


class DrillChecks(Protocol):
    def run_check(self, instance: InstanceState, database: str, check: DrillCheck) -> CheckResult:
        """Run one read-only check against the restored database; a check that cannot run is a failed check."""
        ...


class InstanceUse(BaseModel):
    """One RDS instance and the shared resources it holds on to."""

    model_config = ConfigDict(frozen=True)

    instance_id: str
    status: str
    option_groups: tuple[str, ...] = ()
    subnet_group: str | None = None
    security_groups: tuple[str, ...] = ()
    tags: dict[str, str] = Field(default_factory=dict)
    created_at: datetime | None = None


class DrillResources(Protocol):
    """What cleaning up after a drill needs beyond the instance gateway."""

    def instances(self) -> list[InstanceUse]: ...

    def option_group_exists(self, name: str) -> bool: ...

    def delete_option_group(self, name: str) -> None:
        """Gone already counts as done; in use raises AwsError, to retry later."""
        ...

    def delete_subnet_group(self, name: str) -> None: ...

    def delete_security_group(self, group_id: str) -> None: ...


class DrillReporter(Protocol):
    """Where drill reports go: a Slack channel, or the console."""

    def report(
        self, channel: str, run_id: str, text: SlackText, *, failed: bool, chart: TrendChart | None = None
    ) -> None:
        """Post the report; `chart` is a PNG of the trend with its alt text, for surfaces that can show one."""
        ...

    def follow_up(self, channel: str, run_id: str, text: SlackText) -> None:
        """A later line about the same run (cleanup done), in the report's thread when it is known."""
        ...
