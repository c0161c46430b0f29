"""The trail is append-only in S3 (moto server): a fresh store never touches an old store's objects, a taken key
raises the alarm instead of being overwritten, closed days are checked end to end, Object Lock is applied.

Where the stand-in's strictness matters it is pinned here against the AWS documentation: PutObject with
If-None-Match: * on a key that exists answers 412 PreconditionFailed (AWS S3 guide "conditional-writes"); retention
on a bucket without Object Lock is refused, and retention needs a body checksum (AWS S3 guide "object-lock-managing",
API reference "API_PutObject").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sqlalchemy import inspect as sa_inspect

from aws.audit_shipper import ObjectRetention, S3AuditSink
from aws.clients import AwsClients
from bot.audit_actions import AuditAction
from bot.audit_layout import DayClose
from bot.audit_outbox import AuditShipper
from bot.clock import SystemClock
from bot.domain import AuditEvent
from bot.entrypoints.audit_cli import verify
from bot.store import SqlStore
from tests.integration.store_fixtures import sqlite_url

BUCKET = "rdsbot-audit"
PREFIX = "rdsbot-audit"
T0 = datetime(2024, 11, 25, 9, 0, tzinfo=UTC)
DAY1, DAY2, DAY3 = "2024-11-25", "2024-11-26", "2024-11-27"


@pytest.fixture
def sink(aws: AwsClients) -> S3AuditSink:
    aws.s3.create_bucket(Bucket=BUCKET)
    return S3AuditSink(aws.s3, BUCKET)


def open_store(tmp_path: Path, name: str) -> SqlStore:
    folder = tmp_path / name
    folder.mkdir()
    return SqlStore(sqlite_url(folder))


@pytest.fixture
def store_a(tmp_path: Path) -> Iterator[SqlStore]:
    with open_store(tmp_path, "a") as store:
        yield store


@pytest.fixture
def store_any(database_url: str) -> Iterator[SqlStore]:
    """A store on SQLite, then on PostgreSQL: the epoch, the day links and the close query on both."""
    with SqlStore(database_url) as store:
        yield store


@pytest.fixture
def store_b(tmp_path: Path) -> Iterator[SqlStore]:
    with open_store(tmp_path, "b") as store:
        yield store


def shipper_for(store: SqlStore, sink: S3AuditSink, batch_size: int = 3) -> AuditShipper:
    return AuditShipper(store.outbox, store.audit, store.jobs, sink, PREFIX, SystemClock(), batch_size=batch_size)


def record(store: SqlStore, count: int, at: datetime, job_id: str = "j1") -> None:
    for n in range(count):
        event = AuditEvent(
            at=at + timedelta(minutes=n), actor="U0BOB", action=AuditAction.JOB_APPROVED, job_id=job_id, detail={"n": n}
        )
        store.audit.record_audit([event])


def snapshot(aws: AwsClients) -> dict[str, bytes]:
    listed = aws.s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {o["Key"]: aws.s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listed}


class App:
    """What `rdsbot audit verify` reads from the composition root."""

    def __init__(self, store: SqlStore, shipper: AuditShipper) -> None:
        self.store, self.audit_shipper, self.clock = store, shipper, SystemClock()


def run_verify(store: SqlStore, shipper: AuditShipper, day: str, *, from_s3: bool) -> tuple[int, list[str]]:
    lines: list[str] = []
    code = verify(App(store, shipper), day, from_s3=from_s3, write=lines.append)
    return code, lines


# The stand-in, as strict as S3 where the trail depends on it.


def test_the_stand_in_refuses_a_put_with_if_none_match_on_a_taken_key_per_aws_conditional_writes(
    aws: AwsClients,
) -> None:
    aws.s3.create_bucket(Bucket=BUCKET)
    aws.s3.put_object(Bucket=BUCKET, Key="k", Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as refused:
        aws.s3.put_object(Bucket=BUCKET, Key="k", Body=b"second", IfNoneMatch="*")
    assert refused.value.response["Error"]["Code"] == "PreconditionFailed"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert aws.s3.get_object(Bucket=BUCKET, Key="k")["Body"].read() == b"first"
    # The header is what protects the key: a lenient put (the old unconditional one) replaces the object.
    aws.s3.put_object(Bucket=BUCKET, Key="k", Body=b"second")
    assert aws.s3.get_object(Bucket=BUCKET, Key="k")["Body"].read() == b"second"


def test_the_stand_in_refuses_retention_on_a_bucket_without_object_lock_per_aws_object_lock(aws: AwsClients) -> None:
    aws.s3.create_bucket(Bucket=BUCKET)
    sink = S3AuditSink(aws.s3, BUCKET, retention=ObjectRetention("GOVERNANCE", 30))
    with pytest.raises(Exception, match="PutObject failed") as refused:
        sink.put_new("k", b"x")
    assert "Object Lock" in str(refused.value) or "InvalidRequest" in str(refused.value)
    assert aws.s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0


def test_the_stand_in_wants_a_body_checksum_with_retention_per_aws_object_lock(aws: AwsClients) -> None:
    aws.s3.create_bucket(Bucket="locked", ObjectLockEnabledForBucket=True)

    def drop_checksums(request: Any, **_: Any) -> None:
        checksums = ("x-amz-checksum", "x-amz-sdk-checksum", "content-md5")
        for header in [h for h in request.headers if h.lower().startswith(checksums)]:
            del request.headers[header]

    aws.s3.meta.events.register("before-sign.s3.PutObject", drop_checksums, unique_id="no-checksum")
    try:
        with pytest.raises(ClientError, match="Content-MD5"):
            aws.s3.put_object(
                Bucket="locked",
                Key="k",
                Body=b"x",
                ObjectLockMode="GOVERNANCE",
                ObjectLockRetainUntilDate=datetime.now(UTC) + timedelta(days=1),
            )
    finally:
        aws.s3.meta.events.unregister("before-sign.s3.PutObject", unique_id="no-checksum")


# The acceptance checks.


def test_a_second_bot_with_a_fresh_store_leaves_every_object_of_the_first_byte_identical(
    aws: AwsClients, sink: S3AuditSink, store_any: SqlStore, store_b: SqlStore
) -> None:
    store_a = store_any
    first = shipper_for(store_a, sink)
    record(store_a, 5, T0)
    record(store_a, 2, T0 + timedelta(days=1))  # closes the first day
    assert first.ship_pending() == 7
    first.write_job_record("j1")
    before = snapshot(aws)
    assert any(key.endswith("/close.json") for key in before) and len(before) >= 5

    # A redeploy without its volume: same bucket, same prefix, same days, same job id, a fresh job store.
    second = shipper_for(store_b, sink)
    record(store_b, 5, T0)
    record(store_b, 2, T0 + timedelta(days=1))
    assert second.ship_pending() == 7
    second.write_job_record("j1")

    after = snapshot(aws)
    assert {key: after[key] for key in before} == before
    assert len(after) == 2 * len(before)
    assert store_a.outbox.store_epoch() != store_b.outbox.store_epoch()
    assert not [e for e in store_b.audit.audit_events() if e.action == AuditAction.AUDIT_OBJECT_CONFLICT]
    checks = first.verify_s3_all(DAY1)
    assert len(checks) == 2 and all(c.ok and c.events == 5 for c in checks), [c.summary() for c in checks]


def test_a_taken_key_is_refused_with_412_never_overwritten_and_raises_the_alarm(
    aws: AwsClients, sink: S3AuditSink, store_a: SqlStore
) -> None:
    shipper = shipper_for(store_a, sink)
    record(store_a, 3, T0)
    squatted = shipper.batch_key(DAY1, 1, 3)
    aws.s3.put_object(Bucket=BUCKET, Key=squatted, Body=b"someone else's bytes\n")

    assert shipper.ship_pending() == 0 and shipper.ship_pending() == 0
    assert aws.s3.get_object(Bucket=BUCKET, Key=squatted)["Body"].read() == b"someone else's bytes\n"
    assert store_a.outbox.unshipped_audit_events() == 4  # the three events and the alarm wait; nothing was lost
    alarms = [e for e in store_a.audit.audit_events() if e.action == AuditAction.AUDIT_OBJECT_CONFLICT]
    assert len(alarms) == 1  # once, not once per pass
    assert alarms[0].detail["key"] == f"s3://{BUCKET}/{squatted}" and alarms[0].actor == "audit-shipper"
    assert alarms[0].detail["held_sha256"] != alarms[0].detail["ours_sha256"]

    code, lines = run_verify(store_a, shipper, DAY1, from_s3=True)
    assert code == 1
    assert any(line.startswith(f"ALARM {DAY1}: s3://{BUCKET}/{squatted} already held other bytes") for line in lines)
    assert run_verify(store_a, shipper, DAY1, from_s3=False)[0] == 1  # the store's chain is fine; the alarm is not


def test_a_put_whose_answer_was_lost_is_recognised_by_its_bytes_and_raises_no_alarm(
    aws: AwsClients, sink: S3AuditSink, store_a: SqlStore
) -> None:
    shipper = shipper_for(store_a, sink)
    record(store_a, 2, T0)
    body = b"".join(
        json.dumps(line, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
        for line in _records(store_a)
    )
    aws.s3.put_object(Bucket=BUCKET, Key=shipper.batch_key(DAY1, 1, 2), Body=body)  # as if our put had landed
    assert shipper.ship_pending() == 2
    assert not [e for e in store_a.audit.audit_events() if e.action == AuditAction.AUDIT_OBJECT_CONFLICT]


def _records(store: SqlStore) -> list[dict[str, Any]]:
    from bot.audit_chain import event_record

    keep = ("day", "seq", "at", "actor", "iam_user", "action", "job_id", "detail", "prev_hash", "id", "hash")
    return [{k: event_record(e)[k] for k in keep} for e in store.audit.audit_events()]


# Days linked, closed and checked from S3.


def test_each_day_links_to_the_previous_days_head_and_a_closed_day_gets_a_close_object(
    aws: AwsClients, sink: S3AuditSink, store_any: SqlStore
) -> None:
    store_a = store_any
    shipper = shipper_for(store_a, sink)
    record(store_a, 4, T0)
    record(store_a, 2, T0 + timedelta(days=1))
    assert shipper.ship_pending() == 6
    day1 = [e for e in store_a.audit.audit_events() if e.day == DAY1]
    day2 = [e for e in store_a.audit.audit_events() if e.day == DAY2]
    assert day2[0].prev_hash == day1[-1].hash

    epoch = store_a.outbox.store_epoch()
    close = DayClose.parse(aws.s3.get_object(Bucket=BUCKET, Key=shipper.layout.close_key(epoch, DAY1))["Body"].read())
    assert close == DayClose(DAY1, epoch, 4, str(day1[-1].hash), str(day1[0].prev_hash), None)
    assert shipper.verify_s3(DAY1).ok and shipper.verify_s3(DAY1).note is None
    assert shipper.verify_s3(DAY2).ok and "open day" in str(shipper.verify_s3(DAY2).note)
    assert shipper.ship_pending() == 0 and len(snapshot(aws)) == 4  # the close object is written once


def test_verify_from_s3_catches_the_last_objects_of_a_closed_day_removed(
    aws: AwsClients, sink: S3AuditSink, store_a: SqlStore
) -> None:
    shipper = shipper_for(store_a, sink, batch_size=2)
    record(store_a, 6, T0)
    record(store_a, 1, T0 + timedelta(days=1))
    shipper.ship_pending()
    aws.s3.delete_object(Bucket=BUCKET, Key=shipper.batch_key(DAY1, 5, 6))
    check = shipper.verify_s3_all(DAY1)[0]
    assert (check.ok, check.broken_at, check.events) == (False, "end of trail", 4)
    assert "records 6 event(s)" in str(check.reason)


def test_verify_from_s3_catches_a_cut_object_and_a_removed_previous_day(
    aws: AwsClients, sink: S3AuditSink, store_a: SqlStore
) -> None:
    shipper = shipper_for(store_a, sink, batch_size=10)
    for day in range(3):
        record(store_a, 2, T0 + timedelta(days=day))
    shipper.ship_pending()
    epoch = store_a.outbox.store_epoch()
    assert shipper.verify_s3(DAY2).ok and shipper.verify_s3(DAY2).note is None

    key = shipper.batch_key(DAY1, 1, 2)
    body = aws.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    aws.s3.put_object(Bucket=BUCKET, Key=key, Body=body.splitlines(keepends=True)[0])  # the forger cuts a line
    assert shipper.verify_s3(DAY1).broken_at == "end of trail"

    aws.s3.delete_object(Bucket=BUCKET, Key=shipper.layout.close_key(epoch, DAY1))
    check = shipper.verify_s3(DAY2)
    assert check.broken_at == f"s3://{BUCKET}/{shipper.layout.close_key(epoch, DAY2)}"
    assert f"the previous day {DAY1} has no close object" in str(check.reason)


def test_an_open_days_removed_tail_shows_against_what_the_store_marks_shipped(
    aws: AwsClients, sink: S3AuditSink, store_a: SqlStore
) -> None:
    shipper = shipper_for(store_a, sink, batch_size=2)
    record(store_a, 4, T0)
    shipper.ship_pending()
    aws.s3.delete_object(Bucket=BUCKET, Key=shipper.batch_key(DAY1, 3, 4))
    check = shipper.verify_s3(DAY1)
    assert (check.broken_at, check.events) == ("end of trail", 2)
    assert "the store marks 4 event(s) of the day shipped; S3 holds 2" in str(check.reason)


def test_a_job_record_is_written_once_and_a_grown_record_keeps_the_first(
    aws: AwsClients, sink: S3AuditSink, store_a: SqlStore
) -> None:
    shipper = shipper_for(store_a, sink)
    record(store_a, 2, T0)
    key = shipper.write_job_record("j1")
    first = aws.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    record(store_a, 1, T0 + timedelta(hours=1))  # a later event of the same job
    assert shipper.write_job_record("j1") == key
    assert aws.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == first
    assert not [e for e in store_a.audit.audit_events() if e.action == AuditAction.AUDIT_OBJECT_CONFLICT]


def test_object_lock_retention_from_the_policy_is_set_on_every_trail_object(aws: AwsClients, store_a: SqlStore) -> None:
    aws.s3.create_bucket(Bucket="rdsbot-trail", ObjectLockEnabledForBucket=True)
    sink = S3AuditSink(aws.s3, "rdsbot-trail", retention=ObjectRetention("COMPLIANCE", 400))
    shipper = AuditShipper(store_a.outbox, store_a.audit, store_a.jobs, sink, PREFIX, SystemClock())
    record(store_a, 1, T0)
    record(store_a, 1, T0 + timedelta(days=1))
    assert shipper.ship_pending() == 2
    keys = [o["Key"] for o in aws.s3.list_objects_v2(Bucket="rdsbot-trail")["Contents"]]
    assert len(keys) == 3
    for key in keys:
        head = aws.s3.head_object(Bucket="rdsbot-trail", Key=key)
        assert head["ObjectLockMode"] == "COMPLIANCE"
        assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC) + timedelta(days=399)
    version = aws.s3.head_object(Bucket="rdsbot-trail", Key=keys[0])["VersionId"]
    with pytest.raises(ClientError, match="AccessDenied"):
        aws.s3.delete_object(Bucket="rdsbot-trail", Key=keys[0], VersionId=version)


def test_a_store_upgraded_with_old_days_keeps_their_layout_and_links_its_first_new_day_to_them(
    aws: AwsClients, sink: S3AuditSink, database_url: str
) -> None:
    from alembic import command

    from bot.store.database import alembic_config
    from tests.integration.store_fixtures import seed_at_revision

    rows = [
        {"at": T0 + timedelta(minutes=n), "actor": "U0ALICE", "action": "job.requested", "job_id": "j", "detail": {}}
        for n in range(3)
    ]
    seed_at_revision(database_url, "0001", {"audit_events": rows})
    with SqlStore(database_url) as store:
        shipper = shipper_for(store, sink, batch_size=2)
        record(store, 2, T0 + timedelta(days=1))
        record(store, 1, T0 + timedelta(days=2))  # closes the first day opened after the upgrade
        assert shipper.ship_pending() == 6
        epoch = store.outbox.store_epoch()
        keys = sorted(snapshot(aws))
        day1 = [k.rsplit("/", 1)[1] for k in keys if k.startswith(shipper.day_prefix(DAY1))]
        assert day1 == ["00000001-00000002.jsonl", "00000003-00000003.jsonl"]  # the older layout, no close
        assert shipper.layout.close_key(epoch, DAY2) in keys and shipper.layout.close_key(epoch, DAY1) not in keys
        assert [c.ok for c in shipper.verify_s3_all(DAY1)] == [True]
        linked = shipper.verify_s3(DAY2)
        assert linked.ok and linked.note is None and linked.events == 2

        with store.engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0005")
            assert not sa_inspect(conn).has_table("audit_store")
            assert "start" not in {c["name"] for c in sa_inspect(conn).get_columns("audit_chain_heads")}


def test_a_job_record_whose_key_holds_other_bytes_raises_the_alarm_and_is_not_retried_forever(
    aws: AwsClients, sink: S3AuditSink, store_a: SqlStore
) -> None:
    from bot.domain import EngineBookkeeping, JobStatus, StageOutputs
    from tests.integration.test_store import make_job

    shipper = shipper_for(store_a, sink)
    store_a.jobs.add_job(make_job("j1", JobStatus.SUCCEEDED))
    store_a.jobs.update_outputs("j1", StageOutputs(), EngineBookkeeping(audit_record_pending=True))
    record(store_a, 1, T0)
    aws.s3.put_object(Bucket=BUCKET, Key=shipper.record_key("j1"), Body=b"not this job's events\n")

    shipper.retry_job_records()
    job = store_a.jobs.get_job("j1")
    assert job is not None and not job.engine.audit_record_pending
    alarms = [e for e in store_a.audit.audit_events() if e.action == AuditAction.AUDIT_OBJECT_CONFLICT]
    assert [a.detail["key"] for a in alarms] == [f"s3://{BUCKET}/{shipper.record_key('j1')}"]
    assert aws.s3.get_object(Bucket=BUCKET, Key=shipper.record_key("j1"))["Body"].read() == b"not this job's events\n"
