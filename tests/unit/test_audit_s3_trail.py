"""The S3 side of the trail on a write-once fake: its key layout, and what `verify --from-s3` catches per store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot import audit_chain
from bot.audit_actions import AuditAction
from bot.audit_layout import LEGACY, DayClose, TrailLayout, is_epoch, new_epoch
from bot.audit_verify import OPEN_DAY, conflict_alarms, verify_every_trail, verify_trail
from bot.domain import AuditEvent
from tests.unit.fakes import WriteOnceSink
from tests.unit.memory_store import InMemoryAuditLog

LAYOUT = TrailLayout("audit")
A, B = "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"
DAY1, DAY2 = "2024-11-25", "2024-11-26"


def chain(day: str, count: int, start: str | None = None, actor: str = "U0BOB") -> list[dict[str, Any]]:
    records, previous = [], start or audit_chain.genesis(day)
    for seq in range(1, count + 1):
        record: dict[str, Any] = {
            "day": day,
            "seq": seq,
            "at": f"{day}T09:00:0{seq}.000000Z",
            "actor": actor,
            "iam_user": None,
            "action": "job.approved",
            "job_id": "j1",
            "detail": {},
            "prev_hash": previous,
            "id": seq,
        }
        record["hash"] = previous = audit_chain.digest(record)
        records.append(record)
    return records


def ship(sink: WriteOnceSink, epoch: str, day: str, records: list[dict[str, Any]], per_object: int = 2) -> None:
    for n in range(0, len(records), per_object):
        part = records[n : n + per_object]
        body = b"".join(audit_chain.jsonl_line(r) for r in part)
        sink.put_new(LAYOUT.batch_key(epoch, day, part[0]["seq"], part[-1]["seq"]), body)


def close(sink: WriteOnceSink, epoch: str, day: str, records: list[dict[str, Any]], previous: str | None) -> DayClose:
    closed = DayClose(day, epoch, len(records), records[-1]["hash"], records[0]["prev_hash"], previous)
    sink.put_new(LAYOUT.close_key(epoch, day), closed.body())
    return closed


def two_closed_days(sink: WriteOnceSink, epoch: str = A) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    first = chain(DAY1, 4)
    second = chain(DAY2, 3, start=first[-1]["hash"])
    ship(sink, epoch, DAY1, first)
    close(sink, epoch, DAY1, first, None)
    ship(sink, epoch, DAY2, second)
    close(sink, epoch, DAY2, second, DAY1)
    return first, second


def test_every_key_carries_the_store_epoch_and_the_older_layout_keeps_its_keys() -> None:
    assert LAYOUT.batch_key(A, DAY1, 1, 20) == f"audit/rdsbot/2024/11/25/{A}/00000001-00000020.jsonl"
    assert LAYOUT.batch_key(LEGACY, DAY1, 1, 20) == "audit/rdsbot/2024/11/25/00000001-00000020.jsonl"
    assert LAYOUT.close_key(A, DAY1) == f"audit/rdsbot/2024/11/25/{A}/close.json"
    assert LAYOUT.record_key(A, "j1") == f"audit/rdsbot/jobs/{A}/j1.jsonl"
    drawn = {new_epoch() for _ in range(50)}
    assert len(drawn) == 50 and all(is_epoch(e) for e in drawn)
    assert not is_epoch(A + "\n") and not is_epoch("AAAAAAAAAAAAAAAA") and not is_epoch(A[:-1])


def test_a_days_keys_are_sorted_by_store_and_strangers_are_set_apart() -> None:
    prefix = LAYOUT.day_prefix(DAY1)
    keys = [
        f"{prefix}{B}/00000001-00000002.jsonl",
        f"{prefix}{A}/close.json",
        f"{prefix}{A}/00000003-00000004.jsonl",
        f"{prefix}{A}/00000001-00000002.jsonl",
        f"{prefix}00000001-00000009.jsonl",
        f"{prefix}close.json",  # a close object belongs in a store's folder
        f"{prefix}{A}/notes.txt",
        f"{prefix}not-an-epoch/00000001-00000002.jsonl",
    ]
    found, strangers = LAYOUT.day_objects(DAY1, keys)
    assert sorted(found) == [LEGACY, A, B]
    assert found[A].batches == [f"{prefix}{A}/00000001-00000002.jsonl", f"{prefix}{A}/00000003-00000004.jsonl"]
    assert found[A].close == f"{prefix}{A}/close.json" and found[B].close is None
    assert found[LEGACY].batches == [f"{prefix}00000001-00000009.jsonl"]
    assert strangers == [
        f"{prefix}{A}/notes.txt",
        f"{prefix}close.json",
        f"{prefix}not-an-epoch/00000001-00000002.jsonl",
    ]


def test_two_stores_days_verify_each_on_its_own() -> None:
    sink = WriteOnceSink()
    two_closed_days(sink, A)
    two_closed_days(sink, B)
    checks = verify_every_trail(sink, LAYOUT, DAY2)
    assert [(c.trail, c.ok, c.events, c.note) for c in checks] == [
        (f"store {A}", True, 3, None),
        (f"store {B}", True, 3, None),
    ]
    assert checks[0].summary() == f"{DAY2} (store {A}): chain intact, 3 event(s)"


def test_an_object_no_store_writes_fails_the_check() -> None:
    sink = WriteOnceSink()
    two_closed_days(sink)
    sink.objects[f"{LAYOUT.day_prefix(DAY1)}{A}/extra.jsonl"] = b"{}\n"
    stranger = verify_every_trail(sink, LAYOUT, DAY1)[-1]
    assert (stranger.ok, stranger.trail) == (False, "unknown") and "no rdsbot store writes" in str(stranger.reason)


def test_a_closed_days_removed_last_object_is_caught_by_its_close_object() -> None:
    sink = WriteOnceSink()
    two_closed_days(sink)
    del sink.objects[LAYOUT.batch_key(A, DAY1, 3, 4)]
    check = verify_trail(sink, LAYOUT, DAY1, A)
    assert (check.broken_at, check.events) == ("end of trail", 2)


def test_an_altered_or_foreign_close_object_is_named() -> None:
    sink = WriteOnceSink()
    first, _ = two_closed_days(sink)
    key = LAYOUT.close_key(A, DAY1)
    sink.objects[key] = sink.objects[key][:-10]
    assert verify_trail(sink, LAYOUT, DAY1, A).reason == "not this day's close object (altered or cut)"
    sink.objects[key] = DayClose(DAY2, A, 4, first[-1]["hash"], first[0]["prev_hash"], None).body()  # another day's
    check = verify_trail(sink, LAYOUT, DAY1, A)
    assert (check.broken_at, check.reason) == (f"s3://trail/{key}", "not this day's close object (altered or cut)")


def test_a_rewritten_previous_day_breaks_the_next_days_first_link() -> None:
    sink = WriteOnceSink()
    two_closed_days(sink)
    forged = chain(DAY1, 4, actor="U0MALLORY")  # the forger rewrites the whole day, close object included
    for key in LAYOUT.day_objects(DAY1, sink.keys(LAYOUT.day_prefix(DAY1)))[0][A].batches:
        del sink.objects[key]
    del sink.objects[LAYOUT.close_key(A, DAY1)]
    ship(sink, A, DAY1, forged)
    close(sink, A, DAY1, forged, None)
    assert verify_trail(sink, LAYOUT, DAY1, A).ok  # the forged day is consistent in itself...
    check = verify_trail(sink, LAYOUT, DAY2, A)  # ...but the next day began at the real head
    assert check.reason == f"the day does not start at the head of {DAY1} (a day before it was rewritten)"


def test_a_removed_previous_day_is_named() -> None:
    sink = WriteOnceSink()
    two_closed_days(sink)
    for key in sink.keys(LAYOUT.day_prefix(DAY1)):
        del sink.objects[key]
    check = verify_trail(sink, LAYOUT, DAY2, A)
    assert check.reason == f"the previous day {DAY1} has no close object or trail in S3 (removed?)"


def test_a_first_day_must_start_at_its_genesis() -> None:
    sink = WriteOnceSink()
    records = chain(DAY1, 2, start="0" * 64)
    ship(sink, A, DAY1, records)
    close(sink, A, DAY1, records, None)
    assert verify_trail(sink, LAYOUT, DAY1, A).reason == "the day's start is neither its genesis nor a day's head"


def test_a_day_after_one_in_the_older_layout_links_to_its_last_line() -> None:
    sink = WriteOnceSink()
    legacy = chain(DAY1, 3)
    ship(sink, LEGACY, DAY1, legacy)
    linked = chain(DAY2, 2, start=legacy[-1]["hash"])
    ship(sink, A, DAY2, linked)
    close(sink, A, DAY2, linked, DAY1)
    assert verify_trail(sink, LAYOUT, DAY2, A).ok
    legacy_check = verify_trail(sink, LAYOUT, DAY1, A)  # this store's older day: the older layout, from genesis
    assert (legacy_check.ok, legacy_check.events, legacy_check.trail) == (True, 3, "written before store epochs")


def test_an_open_day_says_what_it_cannot_see_and_is_held_to_what_the_store_shipped() -> None:
    sink = WriteOnceSink()
    records = chain(DAY1, 4)
    ship(sink, A, DAY1, records)
    open_day = verify_trail(sink, LAYOUT, DAY1, A, shipped=4)
    assert (open_day.ok, open_day.note) == (True, OPEN_DAY) and open_day.summary().endswith(OPEN_DAY)
    del sink.objects[LAYOUT.batch_key(A, DAY1, 3, 4)]
    cut = verify_trail(sink, LAYOUT, DAY1, A, shipped=4)
    assert cut.reason == "the store marks 4 event(s) of the day shipped; S3 holds 2 (objects removed)"
    assert verify_trail(sink, LAYOUT, DAY1, A, shipped=2).ok and not verify_trail(sink, LAYOUT, DAY1, A, shipped=3).ok
    del sink.objects[LAYOUT.batch_key(A, DAY1, 1, 2)]
    assert verify_trail(sink, LAYOUT, DAY1, A, shipped=None).ok  # nothing left, and no store to ask


def test_a_day_with_nothing_shipped_is_an_intact_empty_chain() -> None:
    check = verify_trail(WriteOnceSink(), LAYOUT, DAY1, A)
    assert (check.ok, check.events) == (True, 0)


def test_conflict_alarms_are_listed_for_the_day_they_concern() -> None:
    audit = InMemoryAuditLog()
    at = datetime(2024, 11, 26, 8, 0, tzinfo=UTC)
    key = f"s3://trail/{LAYOUT.batch_key(A, DAY1, 1, 2)}"
    audit.record_audit(
        [
            AuditEvent(at=at, actor="audit-shipper", action=AuditAction.AUDIT_OBJECT_CONFLICT, detail={"key": key}),
            AuditEvent(
                at=at + timedelta(minutes=1), actor="U0BOB", action=AuditAction.JOB_APPROVED, detail={"key": key}
            ),
        ]
    )
    alarms = conflict_alarms(audit, DAY1, LAYOUT.day_prefix(DAY1))
    assert alarms == [
        f"ALARM {DAY1}: {key} already held other bytes; nothing was overwritten (event 1, {at.isoformat()})"
    ]
    assert conflict_alarms(audit, DAY2, LAYOUT.day_prefix(DAY2)) == []


def test_object_lock_needs_a_trail_bucket_apart_from_sql_server_audits() -> None:
    import pytest

    from bot.errors import ConfigError
    from config.policy_model import parse_policy

    base = {"backups": {"default_bucket": "b"}}
    lock = {"mode": "governance", "retention_days": 400}
    with pytest.raises(ConfigError, match=r"audit: object_lock: SQL Server Audit cannot write to a bucket with Object"):
        parse_policy({**base, "audit": {"bucket": "rdsbot-audit", "object_lock": lock}})
    locked = parse_policy(
        {**base, "audit": {"bucket": "rdsbot-audit", "trail_bucket": "rdsbot-trail", "object_lock": lock}}
    )
    assert locked.audit.shipping_bucket == "rdsbot-trail"
    assert locked.audit.object_lock is not None and locked.audit.object_lock.mode == "GOVERNANCE"
    only_trail = parse_policy({**base, "audit": {"trail_bucket": "rdsbot-trail", "object_lock": lock}})
    assert only_trail.audit.shipping_bucket == "rdsbot-trail" and only_trail.audit.bucket is None
    assert parse_policy({**base, "audit": {"bucket": "rdsbot-audit"}}).audit.shipping_bucket == "rdsbot-audit"
    for bad, why in (({"mode": "LEGAL_HOLD", "retention_days": 1}, "mode"), ({"retention_days": 0}, "retention_days")):
        with pytest.raises(ConfigError, match=rf"audit\.object_lock\.{why}"):
            parse_policy({**base, "audit": {"trail_bucket": "t", "object_lock": bad}})
