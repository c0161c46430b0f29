"""Ships the audit trail to S3 through the store's outbox, writes each finished job's record, verifies a day.

Exactly once per object key: the store freezes events into a batch with a deterministic key before the upload,
so a retry (after S3 failed, or accepted the object but the answer was lost) writes the same key with the same
bytes. An event is marked shipped only after S3 accepted its object; a failed upload leaves it (and everything
after it) waiting for the next pass, so objects arrive in chain order.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Protocol

from bot import audit_chain
from bot.audit_chain import event_record
from bot.clock import Clock
from bot.domain import AuditEvent, EngineBookkeeping, Job, JobStatus, Stage, StageOutputs
from bot.ports import AuditLog, AuditOutbox, JobRepository

log = logging.getLogger(__name__)
_FINISHED = {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED}


class AuditSink(Protocol):
    """Where shipped objects go: aws/audit_shipper.S3AuditSink, or a fake in tests."""

    def put(self, key: str, body: bytes) -> None: ...

    def objects(self, prefix: str) -> list[tuple[str, bytes]]: ...

    def presigned_url(self, key: str, expires_seconds: int) -> str: ...

    def console_url(self, key_or_prefix: str) -> str: ...

    def location(self, key: str) -> str: ...


def jsonl(events: list[AuditEvent]) -> bytes:
    """The object body for events: one canonical line each, so the same events always give the same bytes."""
    return b"".join(audit_chain.jsonl_line(event_record(event)) for event in events)


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
        self.prefix = prefix.strip("/")
        self.clock = clock
        self.batch_size = batch_size
        # One pass at a time in this process; other processes are kept in order by the store's claim lock.
        self._lock = threading.Lock()

    def day_prefix(self, day: str) -> str:
        """Where one UTC day's objects live: <prefix>/rdsbot/YYYY/MM/DD/."""
        return f"{self.prefix}/rdsbot/{day.replace('-', '/')}/"

    def batch_key(self, day: str, first_seq: int, last_seq: int) -> str:
        # Zero-padded chain positions: key order is chain order, and a gap between two keys is visible by eye.
        return f"{self.day_prefix(day)}{first_seq:08d}-{last_seq:08d}.jsonl"

    def record_key(self, job_id: str) -> str:
        """The job's own record: its events, each line identical to its line in the day objects."""
        return f"{self.prefix}/rdsbot/jobs/{job_id}.jsonl"

    def ship_pending(self, max_objects: int = 100) -> int:
        """Ship frozen and new events, oldest first; stop at the first failure. Returns events shipped."""
        shipped = 0
        with self._lock:
            for _ in range(max_objects):
                keys = self.outbox.claim_audit_batches(self.batch_key, self.batch_size)
                if not keys:
                    break
                try:
                    for key in keys:
                        self.sink.put(key, jsonl(self.outbox.audit_batch(key)))
                        shipped += self.outbox.mark_audit_shipped(key, self.clock.now())
                except Exception as exc:  # S3 down or refusing: the batch stays frozen and goes next pass
                    log.warning("audit batch not shipped; will retry", extra={"error": str(exc)})
                    break
        return shipped

    def write_job_record(self, job_id: str) -> str:
        """Write the job's record object (idempotent: rewriting it gives the same key, newer lines)."""
        key = self.record_key(job_id)
        self.sink.put(key, jsonl(self.audit.audit_events(job_id)))
        return key

    def retry_job_records(self, recent: int = 50) -> None:
        """Write the records that could not be written when their job finished (S3 was failing then)."""
        for job in self.jobs.list_jobs(_FINISHED, limit=recent):
            if job.engine.audit_record_pending:
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

    # Verification

    def verify_s3(self, day: str) -> audit_chain.ChainCheck:
        """Check one day's chain as shipped: every object under the day's prefix, line by line, in key order."""
        return audit_chain.verify_day(day, self._s3_lines(day))

    def _s3_lines(self, day: str) -> Iterator[tuple[str, dict[str, Any] | None]]:
        for key, body in self.sink.objects(self.day_prefix(day)):
            for number, line in enumerate(body.splitlines(), start=1):
                yield f"{self.sink.location(key)} line {number}", audit_chain.parse_line(line)


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

    def job_finished(self, job: Job) -> None:
        sink, key = self.shipper.sink, self.shipper.record_key(job.id)
        self.shipper.ship_pending()
        links = StageOutputs(audit_record_key=key, audit_record_console_url=sink.console_url(key))
        pending: EngineBookkeeping | None = None
        try:
            self.shipper.write_job_record(job.id)
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
    """Check one day's chain as the store holds it, up to the head the writers recorded."""
    events, head = audit.audit_day(day)
    return audit_chain.verify_day(day, ((f"event {e.id}", event_record(e)) for e in events), head)


def today(clock: Clock) -> str:
    """The current UTC day, YYYY-MM-DD."""
    return audit_chain.day_of(clock.now())


def parse_day(text: str) -> str:
    """A YYYY-MM-DD day, or ValueError."""
    return datetime.strptime(text, "%Y-%m-%d").date().isoformat()
