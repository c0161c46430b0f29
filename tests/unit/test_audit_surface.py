"""Every audit event says where it came in (slack, console, drill, cli, engine), without breaking old trails.

The surface is hashed only when present: an event from before surfaces keeps its canonical bytes and hash (the
golden vectors in test_audit_golden.py still pass), while a new event's surface is covered by its hash. The
expected bytes and hash below were computed by hand with hashlib, never with bot.audit_chain.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from bot.audit_actions import AuditAction
from bot.audit_chain import canonical, digest, event_record, jsonl_line, verify_day
from bot.audit_surface import AuditSurface, audit_surface, current_surface
from bot.domain import AuditEvent

GENESIS = "8b87bf7b52bdd8faabb0f777216b005f24ae7088154a78ff3f6cdfdd07624c1e"
CONSOLE_CANONICAL = (
    '{"action":"job.approved","actor":"U0BOB","at":"2024-11-25T09:01:30.250000Z","day":"2024-11-25","detail":{},'
    f'"iam_user":"bob","job_id":"j678a588d","prev_hash":"{GENESIS}","seq":1,"surface":"console"}}'
).encode()
CONSOLE_HASH = "bbba1eed7b1a64ff3d7903ea56bd4b800523eda150c51de5bf98a06876839b0f"
# The same event with no surface: the shape of every event written before surfaces existed.
UNSURFACED_HASH = "e4f383a647e68af2bb2f9dafd6aa38249b08885fd26dc4e348bedfb52fed6d98"


def approval(surface: AuditSurface | None) -> AuditEvent:
    return AuditEvent(
        id=7,
        at=datetime(2024, 11, 25, 9, 1, 30, 250000, tzinfo=UTC),
        actor="U0BOB",
        iam_user="bob",
        action=AuditAction.JOB_APPROVED,
        job_id="j678a588d",
        seq=1,
        prev_hash=GENESIS,
        surface=surface,
    )


def test_a_surfaced_event_hashes_its_surface_pinned_byte_for_byte():
    record = event_record(approval(AuditSurface.CONSOLE))
    assert canonical(record) == CONSOLE_CANONICAL
    assert digest(record) == CONSOLE_HASH


def test_an_event_without_a_surface_hashes_exactly_as_before_surfaces_existed():
    record = event_record(approval(None))
    assert b"surface" not in canonical(record) and b"surface" not in jsonl_line({**record, "hash": "h"})
    assert digest(record) == UNSURFACED_HASH


def test_stripping_or_changing_a_surface_breaks_the_chain_at_that_event():
    good = {**event_record(approval(AuditSurface.CONSOLE)), "hash": CONSOLE_HASH}
    assert verify_day("2024-11-25", [("event 7", good)]).ok
    for forged in ({**good, "surface": None}, {**good, "surface": "slack"}):
        check = verify_day("2024-11-25", [("event 7", forged)])
        assert not check.ok and check.broken_at == "event 7" and "altered" in str(check.reason)


def test_events_take_the_innermost_surface_of_their_thread():
    assert AuditEvent(at=datetime.now(UTC), actor="x", action=AuditAction.JOB_REQUESTED).surface == current_surface()
    with audit_surface(AuditSurface.DRILL):
        made = AuditEvent(at=datetime.now(UTC), actor="drill:nightly", action=AuditAction.JOB_REQUESTED)
        elsewhere: list[AuditSurface | None] = []
        other = threading.Thread(target=lambda: elsewhere.append(current_surface()))
        other.start()
        other.join()
    assert made.surface == AuditSurface.DRILL
    assert elsewhere == [current_surface()]  # another thread is not inside this block


def test_the_engine_names_its_own_events_whatever_process_it_runs_in():
    from bot.parser import parse_restore_command
    from tests.unit.test_workflow import engine, world

    aws, store, clock, service = world()
    job = service.submit(parse_restore_command("prod-backup.bak db.m5.large"), "U1", approved=True).job
    engine(aws, store, clock).run_until_idle(timeout_seconds=600)
    engine_events = [e for e in store.audit.audit_events(job.id) if e.actor == "rdsbot"]
    assert engine_events and {e.surface for e in engine_events} == {AuditSurface.ENGINE}
