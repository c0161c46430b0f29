"""Golden vectors for the audit trail's formats: the chain's hashes and the S3 trail's JSON lines.

The expected bytes and hashes below were computed once, outside rdsbot, by formatting each canonical line by hand
and hashing it with hashlib. They are written here, never recomputed with bot.audit_chain: a change to the
canonical form (a field dropped from the hash, key order, separators, escaping) breaks every trail already
shipped, and must fail here first.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.audit_actions import AuditAction
from bot.audit_chain import canonical, digest, event_record, genesis, jsonl_line, verify_day
from bot.audit_layout import DayClose
from bot.audit_outbox import jsonl
from bot.domain import AuditEvent

DAY = "2024-11-25"
GENESIS = (
    "8b87bf7b52bdd8faabb0f777216b005f24ae7088154a78ff3f6cdfdd07624c1e"  # sha256("rdsbot-audit-chain:v1:2024-11-25")
)
HASHES = (
    "d7e7d37072072b0b483b2b8f0e0499fc8af12f9e8e17eb6bf04a0c22f91fd1b5",
    "bcd83839ab3e2d60cf21d5587fa77f64ababdf94011aee161a1ef492c0fedc4d",
    "36149e28375e049a58c8a50158a1e249c13ea4e70bcd374d16273babb6505c32",
)
FIRST_CANONICAL = (
    '{"action":"job.requested","actor":"U0ALICE","at":"2024-11-25T09:00:00.000000Z","day":"2024-11-25",'
    '"detail":{"backup":"s3://rdsbot-backups/prod-backup.bak","class":"db.m5.large"},"iam_user":null,'
    f'"job_id":"j678a588d","prev_hash":"{GENESIS}","seq":1}}'
).encode()
# The shipped object for the three events (row ids 41..43): one line each, the chain fields plus id and hash.
SHIPPED = (
    '{"action":"job.requested","actor":"U0ALICE","at":"2024-11-25T09:00:00.000000Z","day":"2024-11-25",'
    '"detail":{"backup":"s3://rdsbot-backups/prod-backup.bak","class":"db.m5.large"},'
    f'"hash":"{HASHES[0]}","iam_user":null,"id":41,"job_id":"j678a588d","prev_hash":"{GENESIS}","seq":1}}\n'
    '{"action":"job.approved","actor":"U0BOB","at":"2024-11-25T09:01:30.250000Z","day":"2024-11-25","detail":{},'
    f'"hash":"{HASHES[1]}","iam_user":"bob","id":42,"job_id":"j678a588d","prev_hash":"{HASHES[0]}","seq":2}}\n'
    '{"action":"stage.succeeded","actor":"engine","at":"2024-11-25T09:02:00.000001Z","day":"2024-11-25",'
    '"detail":{"note":"café","seconds":0.25,"stage":"network"},'
    f'"hash":"{HASHES[2]}","iam_user":null,"id":43,"job_id":"j678a588d","prev_hash":"{HASHES[1]}","seq":3}}\n'
).encode()


def events() -> list[AuditEvent]:
    """A fixed day: a request, its approval, a stage (a non-ASCII detail and sub-second times on purpose)."""
    rows: list[tuple[datetime, str, str | None, AuditAction, dict[str, Any]]] = [
        (datetime(2024, 11, 25, 9, 0, tzinfo=UTC), "U0ALICE", None, AuditAction.JOB_REQUESTED,
         {"class": "db.m5.large", "backup": "s3://rdsbot-backups/prod-backup.bak"}),
        (datetime(2024, 11, 25, 9, 1, 30, 250000, tzinfo=UTC), "U0BOB", "bob", AuditAction.JOB_APPROVED, {}),
        (datetime(2024, 11, 25, 9, 2, 0, 1, tzinfo=UTC), "engine", None, AuditAction.STAGE_SUCCEEDED,
         {"stage": "network", "seconds": 0.25, "note": "café"}),
    ]  # fmt: skip
    previous, made = GENESIS, []
    for seq, (at, actor, iam_user, action, detail) in enumerate(rows, start=1):
        made.append(
            AuditEvent(
                id=40 + seq,
                at=at,
                actor=actor,
                iam_user=iam_user,
                action=action,
                job_id="j678a588d",
                detail=detail,
                seq=seq,
                prev_hash=previous,
                hash=HASHES[seq - 1],
            )
        )
        previous = HASHES[seq - 1]
    return made


def records() -> list[dict[str, Any]]:
    return [event_record(event) for event in events()]


def test_each_day_starts_from_the_pinned_genesis_hash() -> None:
    assert genesis(DAY) == GENESIS


def test_the_canonical_form_of_an_event_is_pinned_byte_for_byte() -> None:
    assert canonical(records()[0]) == FIRST_CANONICAL


def test_each_event_hashes_to_its_pinned_value_which_covers_the_previous_hash() -> None:
    assert [digest(record) for record in records()] == list(HASHES)
    relinked = {**records()[1], "prev_hash": GENESIS}  # same content, another predecessor: another hash
    assert digest(relinked) != HASHES[1]


def test_the_pinned_chain_verifies_to_its_head() -> None:
    check = verify_day(DAY, [(f"event {r['id']}", r) for r in records()], head=(3, HASHES[2]))
    assert check.ok and check.events == 3


def test_the_shipped_json_lines_are_pinned_byte_for_byte() -> None:
    assert jsonl(events()) == SHIPPED
    assert jsonl_line(records()[1]) == SHIPPED.splitlines(keepends=True)[1]


def test_a_forged_event_rehashed_and_relinked_fails_at_the_next_event() -> None:
    """The forger changes event 42, recomputes its hash, and points event 43 at it; 43's own hash is left."""
    forged = records()
    forged[1]["actor"] = "U0MALLORY"
    forged[1]["hash"] = digest(forged[1])
    forged[2]["prev_hash"] = forged[1]["hash"]
    check = verify_day(DAY, [(f"event {r['id']}", r) for r in forged], head=(3, HASHES[2]))
    assert (check.ok, check.broken_at, check.events) == (False, "event 43", 2)
    assert "altered" in str(check.reason)


# Days linked (revision 0006): the next day's first event names the pinned head of 2024-11-25, and that day's
# close object is pinned byte for byte. Computed by hand with hashlib, like the vectors above.
NEXT_DAY_FIRST_HASH = "34c30da185a830700f0136e2d5dcdd9dc08940346856a2ca608e12c987c3effb"
CLOSE_OBJECT = (
    '{"day":"2024-11-25","epoch":"0123456789abcdef","events":3,'
    f'"head":"{HASHES[2]}","previous_day":null,"start":"{GENESIS}"}}\n'
).encode()


def next_day_first() -> dict[str, Any]:
    return {
        "day": "2024-11-26",
        "seq": 1,
        "at": "2024-11-26T00:00:00.500000Z",
        "actor": "engine",
        "iam_user": None,
        "action": "job.succeeded",
        "job_id": "j678a588d",
        "detail": {},
        "prev_hash": HASHES[2],
        "id": 44,
        "hash": NEXT_DAY_FIRST_HASH,
    }


def test_the_next_days_first_event_links_to_the_pinned_head_of_the_day_before() -> None:
    assert digest(next_day_first()) == NEXT_DAY_FIRST_HASH
    linked = verify_day("2024-11-26", [("event 44", next_day_first())], head=(1, NEXT_DAY_FIRST_HASH), start=HASHES[2])
    assert linked.ok and linked.events == 1
    unlinked = verify_day("2024-11-26", [("event 44", next_day_first())])  # as if the day started at its genesis
    assert unlinked.broken_at == "event 44" and "prev_hash" in str(unlinked.reason)


def test_the_close_object_is_pinned_byte_for_byte() -> None:
    close = DayClose(DAY, "0123456789abcdef", 3, HASHES[2], GENESIS, None)
    assert close.body() == CLOSE_OBJECT
    assert DayClose.parse(CLOSE_OBJECT) == close


def test_a_day_written_before_days_were_linked_still_verifies_from_its_genesis() -> None:
    """Old trails keep verifying: the three pinned events start at the day's genesis, as they were shipped."""
    assert verify_day(DAY, [(f"event {r['id']}", r) for r in records()], head=(3, HASHES[2]), start=None).ok
    assert verify_day(DAY, [(f"event {r['id']}", r) for r in records()], start=GENESIS).ok
