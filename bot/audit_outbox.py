"""Ships the audit trail to S3 through the store's outbox, writes each finished job's record and each closed day's
close object, never overwriting anything.

Exactly once per object key: the store freezes events into a batch with a deterministic key before the upload,
so a retry (after S3 failed, or accepted the object but the answer was lost) writes the same key with the same
bytes. Every put is conditional (If-None-Match: *): S3 refuses a key it already holds, and the shipper reads what
is there. The same bytes are its own earlier put; anything else is a conflict: nothing is overwritten, the batch
stays waiting, and an `audit.object_conflict` event raises the alarm (`rdsbot audit verify` reports it). An event
is marked shipped only after S3 holds its object, and a failed upload leaves it (and everything after it) waiting
for the next pass, so objects arrive in chain order.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from datetime import datetime

from bot import audit_chain
from bot.audit_actions import AuditAction
from bot.audit_chain import event_record
from bot.audit_layout import TrailLayout
from bot.audit_verify import verify_every_trail, verify_trail
from bot.clock import Clock
from bot.domain import AuditEvent, EngineBookkeeping, Job, JobStatus, Stage, StageOutputs
from bot.errors import TrailObjectExists
from bot.lifecycle.model import InstanceLifecycle
from bot.ports import AuditLog, AuditOutbox, AuditSink, JobRepository

log = logging.getLogger(__name__)
_FINISHED = {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED}
SHIPPER_ACTOR = "audit-shipper"


def jsonl(events: list[AuditEvent]) -> bytes:
    """The object body for events: one canonical line each, so the same events always give the same bytes."""
    return b"".join(audit_chain.jsonl_line(event_record(event)) for event in events)


def _sha256(body: bytes | None) -> str | None:
    return hashlib.sha256(body).hexdigest() if body is not None else None


class AuditShipper:
    def __init__(
        self,
        outbox: AuditOutbox,
        audit: AuditLog,
        jobs: JobRepository,
        sink: AuditSink,
        prefix: str,
        clock: Clock,
        batch_size: int = 500,
    ) -> None:
        self.outbox = outbox
        self.audit = audit
        self.jobs = jobs
        self.sink = sink
        self.layout = TrailLayout(prefix.strip("/"))
        self.clock = clock
        self.batch_size = batch_size
        # One pass at a time in this process; other processes are kept in order by the store's claim lock.
        self._lock = threading.Lock()
        self._alarmed: set[str] = set()  # one alarm per conflicting key per process, not one per pass

    @property
    def epoch(self) -> str:
        return self.outbox.store_epoch()

    def day_prefix(self, day: str) -> str:
        """Where one UTC day's objects live (every store's): <prefix>/rdsbot/YYYY/MM/DD/."""
        return self.layout.day_prefix(day)

    def batch_key(self, day: str, first_seq: int, last_seq: int) -> str:
        """This store's key for a batch of a linked day."""
        return self.layout.batch_key(self.epoch, day, first_seq, last_seq)

    def record_key(self, job_id: str) -> str:
        """The job's own record: its events, each line identical to its line in the day objects."""
        return self.layout.record_key(self.epoch, job_id)

    def ship_pending(self, max_objects: int = 100) -> int:
        """Ship closed days' close objects, then frozen and new events, oldest first; stop at the first failure or
        conflict. Returns events shipped."""
        shipped = 0
        with self._lock:
            try:
                for _ in range(max_objects):
                    if not self._close_days():
                        break
                    keys = self.outbox.claim_audit_batches(self.layout.batch_key, self.batch_size)
                    if not keys:
                        break
                    for key in keys:
                        if not self._put_once(key, jsonl(self.outbox.audit_batch(key))):
                            return shipped  # a conflict: the batch stays frozen, the alarm is raised
                        shipped += self.outbox.mark_audit_shipped(key, self.clock.now())
            except Exception as exc:  # S3 down or refusing: the batch stays frozen and goes next pass
                log.warning("audit batch not shipped; will retry", extra={"error": str(exc)})
        return shipped

    def _close_days(self) -> bool:
        for close in self.outbox.closable_days():
            if not self._put_once(self.layout.close_key(close.epoch, close.day), close.body()):
                return False
            self.outbox.mark_day_closed(close.day, self.clock.now())
        return True

    def _put_once(self, key: str, body: bytes, *, grown: bool = False) -> bool:
        """Put `key` unless S3 holds it; True when S3 now holds these bytes (or, with `grown`, a first part of
        them: a job record written before later events of its job), False on a conflict (alarm raised)."""
        try:
            self.sink.put_new(key, body)
            return True
        except TrailObjectExists:
            held = self.sink.read(key)
        if held == body or (grown and held is not None and body.startswith(held)):
            return True  # our own earlier put, whose answer was lost
        self._alarm(key, body, held)
        return False

    def _alarm(self, key: str, ours: bytes, held: bytes | None) -> None:
        location = self.sink.location(key)
        log.error("audit trail conflict: %s already holds other bytes; nothing was overwritten", location)
        if key in self._alarmed:
            return
        detail = {"key": location, "epoch": self.epoch, "ours_sha256": _sha256(ours), "held_sha256": _sha256(held)}
        event = AuditEvent(
            at=self.clock.now(), actor=SHIPPER_ACTOR, action=AuditAction.AUDIT_OBJECT_CONFLICT, detail=detail
        )
        self.audit.record_audit([event])
        self._alarmed.add(key)

    def write_job_record(self, job_id: str) -> str:
        """Write the job's record object once (a retry finding its own earlier object leaves it)."""
        key = self.record_key(job_id)
        if not self._put_once(key, jsonl(self.audit.audit_events(job_id)), grown=True):
            raise TrailObjectExists(self.sink.location(key))
        return key

    def retry_job_records(self, recent: int = 50) -> None:
        """Write the records that could not be written when their job finished (S3 was failing then)."""
        for job in self.jobs.list_jobs(_FINISHED, limit=recent):
            if job.engine.audit_record_pending:
                # Another object holding the key raised the alarm; retrying cannot change that.
                with contextlib.suppress(TrailObjectExists):
                    self.write_job_record(job.id)
                self.jobs.update_outputs(job.id, StageOutputs(), EngineBookkeeping(audit_record_pending=False))

    def run_forever(self, stop: threading.Event, interval_seconds: float) -> None:
        """The service loop: ship, retry pending job records, sleep; never dies of one bad pass."""
        while not stop.is_set():
            try:
                self.ship_pending()
                self.retry_job_records()
            except Exception:
                log.exception("audit shipping pass failed")
            stop.wait(interval_seconds)

    def start_background(self, stop: threading.Event, interval_seconds: float) -> None:
        """Run the service loop in a daemon thread of its own: a slow S3 never holds up a restore."""
        thread = threading.Thread(
            target=self.run_forever, args=(stop, interval_seconds), name="audit-shipper", daemon=True
        )
        thread.start()

    # Verification (bot/audit_verify.py)

    def verify_s3(self, day: str) -> audit_chain.ChainCheck:
        """Check this store's chain of one day as shipped (its epoch's objects, or the older layout's), to at least
        as many events as the store marks shipped."""
        return verify_trail(self.sink, self.layout, day, self.epoch, self.outbox.shipped_events(day))

    def verify_s3_all(self, day: str) -> list[audit_chain.ChainCheck]:
        """Check every store's chain of one day as shipped, each on its own, and name any object no store wrote."""
        own = self.verify_s3(day)  # this store's (its epoch's, or its days' in the older layout), held to the store
        return [own, *(c for c in verify_every_trail(self.sink, self.layout, day) if c.trail != own.trail)]


class AuditRecordLinks:
    """A notifier listener, registered before chat: at a job's end it ships the trail, writes the job's record
    and puts both links on the job, so the completion message rendered next can carry them."""

    def __init__(self, shipper: AuditShipper, expires_seconds: int = 900) -> None:
        self.shipper = shipper
        self.expires_seconds = expires_seconds

    def stage_changed(self, job: Job, stage: Stage) -> None:
        pass

    def progress(self, job: Job, percent: int) -> None:
        pass

    def request_expired(self, job: Job, deadline: datetime) -> None:
        pass  # nothing ran, so no record to write: the expiry is in the trail like any event

    def keep_reminder(self, job: Job, lifecycle: InstanceLifecycle) -> None:
        pass

    def lifecycle_changed(self, job: Job, lifecycle: InstanceLifecycle, text: str) -> None:
        pass

    def job_finished(self, job: Job) -> None:
        sink, key = self.shipper.sink, self.shipper.record_key(job.id)
        self.shipper.ship_pending()
        links = StageOutputs(audit_record_key=key, audit_record_console_url=sink.console_url(key))
        pending: EngineBookkeeping | None = None
        try:
            self.shipper.write_job_record(job.id)
        except TrailObjectExists:
            pass  # the key holds other bytes: the alarm is raised, and retrying cannot change that
        except Exception as exc:  # S3 failing: the link still points where the shipper loop will write it
            log.warning("job audit record not written; will retry", extra={"job_id": job.id, "error": str(exc)})
            pending = EngineBookkeeping(audit_record_pending=True)
            job.engine.audit_record_pending = True
        self.shipper.jobs.update_outputs(job.id, links, pending)
        job.outputs.audit_record_key, job.outputs.audit_record_console_url = key, links.audit_record_console_url
        # The presigned link is a short-lived credential: it goes to chat via this in-memory job only (the field
        # is excluded from every dump), never to the store or the trail.
        job.outputs.audit_record_url = sink.presigned_url(key, self.expires_seconds)


def verify_store(audit: AuditLog, day: str) -> audit_chain.ChainCheck:
    """Check one day's chain as the store holds it: from the previous day's head to the head the writers recorded."""
    events, head = audit.audit_day(day)
    link = audit.chain_link(day)
    if link.start is None:
        reason = f"the previous day {link.previous_day} it links to has no head in the store (a day was removed)"
        return audit_chain.ChainCheck(day, 0, "start of day", reason)
    return audit_chain.verify_day(day, ((f"event {e.id}", event_record(e)) for e in events), head, link.start)


def today(clock: Clock) -> str:
    """The current UTC day, YYYY-MM-DD."""
    return audit_chain.day_of(clock.now())


def parse_day(text: str) -> str:
    """A YYYY-MM-DD day, or ValueError."""
    return datetime.strptime(text, "%Y-%m-%d").date().isoformat()
