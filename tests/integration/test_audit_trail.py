"""The audit trail end to end below chat: chained in the store's transaction (SQLite and PostgreSQL), migrated from
0001 without loss, shipped to S3 on the moto server exactly once per key, verified from either side."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from aws.audit_shipper import S3AuditSink
from aws.clients import AwsClients
from bot.audit_outbox import AuditShipper, verify_store
from bot.clock import SystemClock
from bot.domain import AuditEvent, JobStatus
from bot.store import DuplicateJobError, SqlStore
from bot.store.schema import audit_events
from tests.integration.store_fixtures import seed_at_revision, sqlite_url
from tests.integration.test_store import make_job

BUCKET = "rdsbot-audit"
T0 = datetime(2024, 11, 25, 9, 0, tzinfo=UTC)
DAY = "2024-11-25"


@pytest.fixture
def store(database_url: str) -> Iterator[SqlStore]:
    with SqlStore(database_url) as opened:
        yield opened


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqlStore]:
    with SqlStore(sqlite_url(tmp_path)) as opened:
        yield opened


@pytest.fixture
def sink(aws: AwsClients) -> S3AuditSink:
    aws.s3.create_bucket(Bucket=BUCKET)
    return S3AuditSink(aws.s3, BUCKET)


def event(action: str, job_id: str | None = "job-1", at: datetime = T0, **detail: Any) -> AuditEvent:
    return AuditEvent(at=at, actor="U0BOB", action=action, job_id=job_id, detail=detail, iam_user="bob")


def record(store: SqlStore, count: int, at: datetime = T0) -> None:
    for n in range(count):
        store.audit.record_audit([event("approval.ignored", at=at + timedelta(seconds=n), n=n, ratio=n / 3)])


def s3_lines(aws: AwsClients, prefix: str = "rdsbot-audit/rdsbot/2024/") -> list[tuple[str, bytes]]:
    keys = [o["Key"] for o in aws.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]
    return [
        (key, line)
        for key in sorted(keys)
        for line in aws.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().splitlines()
    ]


def test_events_are_chained_with_the_state_change_they_record(store: SqlStore) -> None:
    job = make_job("job-1", JobStatus.AWAITING_APPROVAL)
    store.jobs.add_job(job, [event("job.requested")])
    with pytest.raises(DuplicateJobError):
        store.jobs.add_job(job, [event("job.requested", note="a second time")])  # rolled back: no event, no link
    assert store.jobs.transition("job-1", JobStatus.AWAITING_APPROVAL, JobStatus.QUEUED, [event("job.approved")])
    assert not store.jobs.transition("job-1", JobStatus.AWAITING_APPROVAL, JobStatus.DENIED, [event("job.denied")])
    store.jobs.save_job(job.model_copy(update={"status": JobStatus.RUNNING}), [event("job.started")])

    trail = store.audit.audit_events("job-1")
    assert [(e.action, e.seq) for e in trail] == [("job.requested", 1), ("job.approved", 2), ("job.started", 3)]
    assert trail[0].iam_user == "bob" and trail[1].prev_hash == trail[0].hash
    check = verify_store(store.audit, DAY)
    assert check.ok and check.events == 3


def test_concurrent_writers_append_one_unbroken_chain(store: SqlStore) -> None:
    def writer(n: int) -> None:
        for i in range(15):
            store.audit.record_audit(
                [event("approval.ignored", writer=n, i=i), event("approval.ignored", writer=n, j=i)]
            )

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    events, head = store.audit.audit_day(DAY)
    assert [e.seq for e in events] == list(range(1, 121)) and head == (120, events[-1].hash)
    assert verify_store(store.audit, DAY).ok


def test_a_tampered_row_in_the_store_is_named_by_its_event_id(store: SqlStore) -> None:
    record(store, 4)
    victim = store.audit.audit_events()[2]
    with store.engine.begin() as conn:
        conn.execute(audit_events.update().where(audit_events.c.id == victim.id).values(actor="U0MALLORY"))
    check = verify_store(store.audit, DAY)
    assert check.broken_at == f"event {victim.id}" and "altered" in str(check.reason)


def test_a_0001_database_with_events_upgrades_without_loss_and_verifies(database_url: str) -> None:
    actions = ("job.requested", "job.approved", "job.started", "stage.started")
    rows = [
        {"at": T0 + timedelta(hours=h), "actor": "U0ALICE", "action": action, "job_id": "j", "detail": {"h": h}}
        for h, action in zip((0, 5, 10, 20), actions, strict=True)  # 09:00 + 20 h falls on the next UTC day
    ]
    seed_at_revision(database_url, "0001", {"audit_events": rows})

    with SqlStore(database_url) as upgraded:
        trail = upgraded.audit.audit_events()
        assert [(e.action, e.detail, e.at) for e in trail] == [(r["action"], r["detail"], r["at"]) for r in rows]
        assert [(e.seq, e.actor) for e in trail] == [(1, "U0ALICE"), (2, "U0ALICE"), (3, "U0ALICE"), (1, "U0ALICE")]
        # Stamped on the 25th but written after the 26th opened: it joins the open day, the 25th stays closed.
        upgraded.audit.record_audit([event("job.requested", at=T0 + timedelta(hours=12))])
        upgraded.audit.record_audit([event("job.started", at=T0 + timedelta(days=2))])  # opens the 27th
        assert verify_store(upgraded.audit, DAY).events == 3 and verify_store(upgraded.audit, DAY).ok
        late = upgraded.audit.audit_events()[-2]
        assert (late.day, late.seq, late.at) == ("2024-11-26", 2, T0 + timedelta(hours=12))
        assert verify_store(upgraded.audit, "2024-11-26").events == 2 and verify_store(upgraded.audit, "2024-11-26").ok
        # Days opened before the upgrade start at their genesis; the first day opened after links to the last.
        opened = upgraded.audit.audit_events()[-1]
        assert opened.prev_hash == late.hash and verify_store(upgraded.audit, "2024-11-27").ok


def test_events_ship_in_order_encrypted_and_verify_from_s3(
    aws: AwsClients, sink: S3AuditSink, sqlite_store: SqlStore
) -> None:
    shipper = AuditShipper(
        sqlite_store.outbox, sqlite_store.audit, sqlite_store.jobs, sink, "rdsbot-audit", SystemClock(), batch_size=4
    )
    record(sqlite_store, 10)
    assert shipper.ship_pending() == 10 and sqlite_store.outbox.unshipped_audit_events() == 0
    keys = [key for key, _ in sink.objects(shipper.day_prefix(DAY))]
    epoch = sqlite_store.outbox.store_epoch()
    assert keys == [
        f"rdsbot-audit/rdsbot/2024/11/25/{epoch}/00000001-00000004.jsonl",
        f"rdsbot-audit/rdsbot/2024/11/25/{epoch}/00000005-00000008.jsonl",
        f"rdsbot-audit/rdsbot/2024/11/25/{epoch}/00000009-00000010.jsonl",
    ]
    assert aws.s3.head_object(Bucket=BUCKET, Key=keys[0])["ServerSideEncryption"] == "AES256"
    assert shipper.verify_s3(DAY).ok and shipper.verify_s3(DAY).events == 10

    body = aws.s3.get_object(Bucket=BUCKET, Key=keys[1])["Body"].read().splitlines(keepends=True)
    body[2] = body[2].replace(b'"U0BOB"', b'"U0EVE"')
    aws.s3.put_object(Bucket=BUCKET, Key=keys[1], Body=b"".join(body))
    check = shipper.verify_s3(DAY)
    assert check.broken_at == f"s3://{BUCKET}/{keys[1]} line 3" and check.events == 6


def test_s3_down_for_a_while_then_every_event_arrives_once_and_in_order(
    aws: AwsClients, sink: S3AuditSink, sqlite_store: SqlStore
) -> None:
    shipper = AuditShipper(
        sqlite_store.outbox, sqlite_store.audit, sqlite_store.jobs, sink, "rdsbot-audit", SystemClock(), batch_size=3
    )
    failures = {"left": 4}

    def s3_down(**_: Any) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise EndpointConnectionError(endpoint_url="http://s3.down")

    sink.client.meta.events.register("before-call.s3.PutObject", s3_down, unique_id="s3-down")
    for burst in range(4):  # events keep coming while S3 refuses; each pass tries once and keeps them
        record(sqlite_store, 2, at=T0 + timedelta(minutes=burst))
        shipper.ship_pending()
    assert failures["left"] == 0 and sqlite_store.outbox.unshipped_audit_events() == 8
    assert shipper.ship_pending() == 8
    lines = s3_lines(aws)
    seqs = [audit_line["seq"] for audit_line in map(_parse, (line for _, line in lines))]
    assert seqs == list(range(1, 9)) and shipper.verify_s3(DAY).ok


def test_an_answer_lost_after_s3_accepted_is_retried_with_the_same_key_and_bytes(
    aws: AwsClients, sink: S3AuditSink, sqlite_store: SqlStore
) -> None:
    shipper = AuditShipper(
        sqlite_store.outbox, sqlite_store.audit, sqlite_store.jobs, sink, "rdsbot-audit", SystemClock(), batch_size=100
    )
    lost = {"left": 1}

    def answer_lost(**_: Any) -> None:
        if lost["left"]:
            lost["left"] -= 1
            raise EndpointConnectionError(endpoint_url="http://s3.timeout")

    sink.client.meta.events.register("after-call.s3.PutObject", answer_lost, unique_id="answer-lost")
    record(sqlite_store, 3)
    assert shipper.ship_pending() == 0  # S3 has the object, but we never heard so
    first = s3_lines(aws)
    record(sqlite_store, 2, at=T0 + timedelta(minutes=5))  # newer events must not widen the frozen batch
    assert shipper.ship_pending() == 5
    assert s3_lines(aws)[:3] == first
    assert [key.rsplit("/", 1)[1] for key, _ in s3_lines(aws)] == ["00000001-00000003.jsonl"] * 3 + [
        "00000004-00000005.jsonl"
    ] * 2
    assert shipper.verify_s3(DAY).events == 5


def test_a_configured_kms_key_encrypts_the_trail_with_sse_kms(aws: AwsClients, sqlite_store: SqlStore) -> None:
    import boto3

    aws.s3.create_bucket(Bucket=BUCKET)
    key_id = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
    shipper = AuditShipper(
        sqlite_store.outbox,
        sqlite_store.audit,
        sqlite_store.jobs,
        S3AuditSink(aws.s3, BUCKET, key_id),
        "p",
        SystemClock(),
    )
    record(sqlite_store, 1)
    assert shipper.ship_pending() == 1
    head = aws.s3.head_object(Bucket=BUCKET, Key=shipper.batch_key(DAY, 1, 1))
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key_id)


def _parse(line: bytes) -> dict[str, Any]:
    import json

    parsed: dict[str, Any] = json.loads(line)
    return parsed


def test_the_audit_client_presigns_with_sigv4(aws: AwsClients) -> None:
    # Its own client (aws/audit_shipper.py), so its own config: a SigV2 link would not open an SSE-KMS record.
    from aws.audit_shipper import audit_s3_client

    sink = S3AuditSink(audit_s3_client("us-east-1"), BUCKET)
    url = sink.presigned_url("p/rdsbot/jobs/j1.jsonl", 60)
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url and "AWSAccessKeyId=" not in url
