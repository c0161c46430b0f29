"""In-memory repositories implementing bot/ports.py, for unit tests that must run without SQLAlchemy.

They copy on the way in and out like a database, and keep the store's contracts: a compare-and-set transition,
events recorded only with the change they go with, `cancel_requested_by` written only by request_cancel.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence, Set as AbstractSet
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.audit_chain import ChainLink, genesis
from bot.chat_outbox import DeadLetter, Delivery, NewMessage, OutboxMessage, OutboxPayload, SlackMethod
from bot.domain import (
    Approval,
    ApprovalDecision,
    AuditEvent,
    EngineBookkeeping,
    ExpectedStatus,
    Job,
    JobStatus,
    StageOutputs,
)
from bot.errors import DuplicateJobError, UnknownJobError
from bot.lifecycle.model import InstanceLifecycle, LifecyclePhase
from bot.ports import MarkShare

_UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING)
_TICK = timedelta(microseconds=1)


class InMemoryAuditLog:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def record_audit(self, events: Sequence[AuditEvent]) -> None:
        start = len(self.events)
        self.events.extend(e.model_copy(update={"id": start + n + 1}) for n, e in enumerate(events))

    def audit_events(self, job_id: str | None = None, since: datetime | None = None) -> list[AuditEvent]:
        return [e for e in self.events if (job_id is None or e.job_id == job_id) and (since is None or e.at >= since)]

    def audit_day(self, day: str) -> tuple[list[AuditEvent], tuple[int, str] | None]:
        return [e for e in self.events if e.at.astimezone(UTC).date().isoformat() == day], None

    def chain_link(self, day: str) -> ChainLink:
        return ChainLink(None, genesis(day))  # this fake keeps no chain: every day starts at its genesis


class InMemoryJobs:
    def __init__(self, audit: InMemoryAuditLog) -> None:
        self.by_id: dict[str, Job] = {}
        # The store's `updated_at` column (wall clock, like bot/store/jobs.py): marked jobs with no finish sort by it.
        # Strictly increasing, so two writes a microsecond apart keep their order here (the store then goes by id).
        self.updated_at: dict[str, datetime] = {}
        self._last_write = datetime.min.replace(tzinfo=UTC)
        self.audit = audit
        # One lock like one database: a transition is atomic, so races are decided here as they are by SQL.
        self._lock = threading.RLock()  # re-entered by a decision: its status and approval row in one hold

    def add_job(self, job: Job, events: Sequence[AuditEvent] = ()) -> None:
        with self._lock:
            if job.id in self.by_id:
                raise DuplicateJobError(job.id)
            self._put(job.model_copy(deep=True))
            self.audit.record_audit(events)

    def save_job(self, job: Job, events: Sequence[AuditEvent] = ()) -> None:
        with self._lock:
            stored = self.by_id.get(job.id)
            if stored is None:
                raise UnknownJobError(job.id)
            self._put(job.model_copy(deep=True, update={"cancel_requested_by": stored.cancel_requested_by}))
            self.audit.record_audit(events)

    def transition(
        self,
        job_id: str,
        expected: ExpectedStatus,
        new: JobStatus,
        events: Sequence[AuditEvent] = (),
        unannounced: bool = False,
    ) -> bool:
        wanted = {expected} if isinstance(expected, JobStatus) else set(expected)
        with self._lock:
            job = self.by_id.get(job_id)
            if job is None or job.status not in wanted:
                return False
            now = self._write_time()
            update: dict[str, Any] = {"status": new}
            if new is JobStatus.RUNNING and job.started_at is None:
                update["started_at"] = now
            if new.finished and job.finished_at is None:
                update["finished_at"] = now
            if unannounced:
                update["engine"] = job.engine.model_copy(update={"finish_unannounced": True})
            self._put(job.model_copy(update=update), now)
            self.audit.record_audit(events)
            return True

    def request_cancel(self, job_id: str, actor: str, events: Sequence[AuditEvent] = ()) -> bool:
        with self._lock:
            job = self.by_id.get(job_id)
            if job is None or job.status not in _UNFINISHED or job.cancel_requested_by:
                return False
            self._put(job.model_copy(update={"cancel_requested_by": actor}))
            self.audit.record_audit(events)
            return True

    def update_outputs(self, job_id: str, outputs: StageOutputs, engine: EngineBookkeeping | None = None) -> None:
        with self._lock:
            job = self.by_id.get(job_id)
            if job is None:
                raise UnknownJobError(job_id)
            # Like the store: only the fields set are merged, and a presigned link (excluded from dumps) never lands.
            merged = {**job.outputs.set_fields(), **outputs.model_dump(mode="json", exclude_unset=True)}
            update: dict[str, Any] = {"outputs": StageOutputs.model_validate(merged)}
            if engine is not None:
                update["engine"] = job.engine.model_copy(update=engine.model_dump(exclude_unset=True))
            self._put(job.model_copy(update=update))

    def _write_time(self) -> datetime:
        self._last_write = max(datetime.now(UTC), self._last_write + _TICK)
        return self._last_write

    def _put(self, job: Job, at: datetime | None = None) -> None:
        self.by_id[job.id] = job
        self.updated_at[job.id] = at or self._write_time()

    def get_job(self, job_id: str) -> Job | None:
        job = self.by_id.get(job_id)
        return job.model_copy(deep=True) if job else None

    def list_jobs(
        self, statuses: set[JobStatus] | None = None, limit: int = 50, is_drill: bool | None = None
    ) -> list[Job]:
        chosen = [
            j
            for j in self.by_id.values()
            if (statuses is None or j.status in statuses) and (is_drill is None or j.is_drill == is_drill)
        ]
        chosen.sort(key=lambda j: (j.created_at, j.id), reverse=True)
        return [j.model_copy(deep=True) for j in chosen[:limit]]

    def awaiting_approval(self, created_before: datetime) -> list[Job]:
        chosen = sorted(
            (
                j
                for j in self.by_id.values()
                if j.status == JobStatus.AWAITING_APPROVAL and j.created_at < created_before
            ),
            key=lambda j: (j.created_at, j.id),
        )
        return [j.model_copy(deep=True) for j in chosen]

    def unfinished_jobs(self) -> list[Job]:
        chosen = sorted((j for j in self.by_id.values() if j.status in _UNFINISHED), key=lambda j: (j.created_at, j.id))
        return [j.model_copy(deep=True) for j in chosen]

    def finished_unannounced(
        self, statuses: AbstractSet[JobStatus], limit: int = 50, withdrawals: bool = False
    ) -> list[Job]:
        return self.finished_unannounced_shares([MarkShare(statuses, withdrawals)], limit)

    def finished_unannounced_shares(self, shares: Sequence[MarkShare], limit_each: int = 50) -> list[Job]:
        def age(job: Job) -> tuple[datetime, str]:  # the store's coalesce(finished_at, updated_at), id
            return (job.finished_at or self.updated_at[job.id], job.id)

        marked = sorted((j for j in self.by_id.values() if j.engine.finish_unannounced), key=age)
        chosen = {j.id: j for share in shares for j in [j for j in marked if share.lists(j)][:limit_each]}
        return [j.model_copy(deep=True) for j in sorted(chosen.values(), key=age)]


class InMemoryApprovals:
    def __init__(self, jobs: InMemoryJobs) -> None:
        self.jobs = jobs
        self.rows: list[Approval] = []

    def add_approval(
        self, job_id: str, actor: str, decision: ApprovalDecision, reason: str | None, at: datetime
    ) -> Approval:
        if job_id not in self.jobs.by_id:
            raise UnknownJobError(job_id)
        approval = Approval(id=len(self.rows) + 1, job_id=job_id, actor=actor, decision=decision, reason=reason, at=at)
        self.rows.append(approval)
        return approval

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
        with self.jobs._lock:  # one transaction: no reader sees the status without the row
            if not self.jobs.transition(job_id, JobStatus.AWAITING_APPROVAL, new, events, unannounced=True):
                return None
            return self.add_approval(job_id, actor, decision, reason, at)

    def approvals(self, job_id: str) -> list[Approval]:
        with self.jobs._lock:
            return [a for a in self.rows if a.job_id == job_id]


class InMemoryLifecycles:
    """InstanceLifecycles like the table: one record per job, every write a compare-and-set on `version`."""

    def __init__(self, jobs: InMemoryJobs) -> None:
        self.jobs = jobs
        self.records: dict[str, InstanceLifecycle] = {}
        self._lock = jobs._lock  # one database: a claim and a click are decided one at a time

    def untracked_jobs(self, limit: int = 100) -> list[Job]:
        with self._lock:
            chosen = [
                j for j in self.jobs.by_id.values() if j.status.finished and not j.is_drill and j.id not in self.records
            ]
        chosen.sort(key=lambda j: (j.created_at, j.id))
        return [j.model_copy(deep=True) for j in chosen[:limit]]

    def add(self, record: InstanceLifecycle, events: Sequence[AuditEvent] = ()) -> bool:
        with self._lock:
            if record.job_id in self.records:
                return False
            self.records[record.job_id] = record.model_copy(deep=True, update={"version": 1})
            self.jobs.audit.record_audit(events)
            return True

    def replace(self, record: InstanceLifecycle, events: Sequence[AuditEvent] = ()) -> bool:
        with self._lock:
            stored = self.records.get(record.job_id)
            if stored is None or stored.version != record.version:
                return False
            self.records[record.job_id] = record.model_copy(deep=True, update={"version": record.version + 1})
            self.jobs.audit.record_audit(events)
            return True

    def get(self, job_id: str) -> InstanceLifecycle | None:
        record = self.records.get(job_id)
        return record.model_copy(deep=True) if record else None

    def active(self) -> list[InstanceLifecycle]:
        live = [r for r in self.records.values() if r.phase in (LifecyclePhase.KEEPING, LifecyclePhase.DELETING)]
        live.sort(key=lambda r: (r.delete_at is None, r.delete_at, r.job_id))
        return [r.model_copy(deep=True) for r in live]

    def for_jobs(self, job_ids: Sequence[str]) -> dict[str, InstanceLifecycle]:
        return {i: r.model_copy(deep=True) for i in job_ids if (r := self.records.get(i)) is not None}


class MemoryStore:
    """The repositories together, as the composition root hands them out."""

    def __init__(self) -> None:
        self.audit = InMemoryAuditLog()
        self.jobs = InMemoryJobs(self.audit)
        self.approvals = InMemoryApprovals(self.jobs)
        self.lifecycles = InMemoryLifecycles(self.jobs)

    @property
    def events(self) -> list[AuditEvent]:
        return self.audit.events

    def actions(self, job_id: str | None = None, where: Callable[[AuditEvent], bool] = lambda _: True) -> list[str]:
        """The audit action strings, in order (of one job when given)."""
        return [str(e.action) for e in self.audit.audit_events(job_id) if where(e)]


class InMemorySlackOutbox:
    """The SlackOutboxRepository port in memory, with the store's folding, heads, leases and dead letters."""

    def __init__(self) -> None:
        self.rows: dict[int, OutboxMessage] = {}
        self.leases: dict[int, datetime] = {}
        self._lock = threading.Lock()

    def enqueue(self, message: NewMessage, now: datetime) -> int:
        with self._lock:
            queued = next((m.id for m in self.rows.values() if message.ref and m.ref == message.ref), None)
            if queued is not None:
                return queued
            if message.method == SlackMethod.UPDATE and message.target_ref:
                folded = self._fold(message.target_ref, message.payload)
                if folded is not None:
                    return folded
            message_id = len(self.rows) + 1
            self.rows[message_id] = OutboxMessage(
                **message.model_dump(), id=message_id, uid=uuid.uuid4().hex, created_at=now
            )
            return message_id

    def _fold(self, target_ref: str, payload: OutboxPayload) -> int | None:
        untried = [m for m in self.rows.values() if m.state == Delivery.PENDING and m.attempts == 0]
        edit = next((m for m in untried if m.target_ref == target_ref and m.method == SlackMethod.UPDATE), None)
        if edit is not None:
            self.rows[edit.id] = edit.model_copy(update={"payload": payload})
            return edit.id
        post = next((m for m in untried if m.ref == target_ref), None)
        if post is None:
            return None
        revised = post.payload.model_copy(update={"text": payload.text, "blocks": payload.blocks})
        self.rows[post.id] = post.model_copy(update={"payload": revised})
        return post.id

    def revise_unsent(self, target_ref: str, text: str, blocks: list[dict[str, Any]] | None = None) -> bool:
        with self._lock:
            return self._fold(target_ref, OutboxPayload(text=text, blocks=blocks)) is not None

    def heads(self, now: datetime, limit: int = 50) -> list[OutboxMessage]:
        with self._lock:
            first: dict[str, OutboxMessage] = {}
            for m in sorted(self.rows.values(), key=lambda m: m.id):
                if m.state == Delivery.PENDING and m.key not in first:
                    first[m.key] = m
            due = [
                m
                for m in first.values()
                if (m.not_before is None or m.not_before <= now) and self.leases.get(m.id, now - _TICK) < now
            ]
            return sorted(due, key=lambda m: m.id)[:limit]

    def claim(self, message_id: int, now: datetime, lease_seconds: float) -> OutboxMessage | None:
        with self._lock:
            m = self.rows.get(message_id)
            if m is None or m.state != Delivery.PENDING or self.leases.get(message_id, now - _TICK) >= now:
                return None
            claimed = m.model_copy(update={"attempts": m.attempts + 1})
            self.leases[message_id] = now + timedelta(seconds=lease_seconds)
            self.rows[message_id] = claimed.model_copy(
                update={
                    "first_attempt_at": m.first_attempt_at or now,
                    "unconfirmed": m.unconfirmed or m.method == SlackMethod.POST,
                }
            )
            return claimed

    def _settle(self, message_id: int, **values: Any) -> None:
        with self._lock:
            self.leases.pop(message_id, None)
            self.rows[message_id] = self.rows[message_id].model_copy(update=values)

    def mark_delivered(self, message_id: int, ts: str | None, channel: str | None, now: datetime) -> None:
        self._settle(
            message_id, state=Delivery.DELIVERED, ts=ts, posted_channel=channel, delivered_at=now, unconfirmed=False
        )

    def retry_later(self, message_id: int, not_before: datetime, error: str, *, unconfirmed: bool) -> None:
        self._settle(message_id, not_before=not_before, error=error, unconfirmed=unconfirmed)

    def park(self, message_id: int, error: str, now: datetime) -> None:
        self._settle(message_id, state=Delivery.DEAD, error=error, delivered_at=now)

    def by_ref(self, ref: str) -> OutboxMessage | None:
        return next((m for m in self.rows.values() if m.ref == ref), None)

    def channel_id(self, channel: str) -> str | None:
        delivered = (m for m in self.rows.values() if m.channel == channel and m.state == Delivery.DELIVERED)
        return next((m.posted_channel for m in delivered if m.posted_channel), None)

    def depth(self) -> int:
        return sum(m.state == Delivery.PENDING for m in self.rows.values())

    def dead_letter_count(self) -> int:
        return sum(m.state == Delivery.DEAD for m in self.rows.values())

    def dead_letters(self, limit: int = 20) -> list[DeadLetter]:
        dead = sorted((m for m in self.rows.values() if m.state == Delivery.DEAD), key=lambda m: -m.id)[:limit]
        return [
            DeadLetter(
                id=m.id,
                kind=m.kind,
                job_id=m.job_id,
                channel=m.channel,
                error=m.error or "",
                at=m.delivered_at or m.created_at,
            )
            for m in dead
        ]
