"""The store keeps each event's surface, and a day mixing events with and without one still verifies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.audit_actions import AuditAction
from bot.audit_chain import event_record, verify_day
from bot.audit_surface import AuditSurface
from bot.domain import AuditEvent
from bot.store import SqlStore


def test_surfaces_round_trip_and_a_mixed_day_verifies(database_url: str):
    at = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    with SqlStore(database_url) as store:
        store.audit.record_audit(
            [
                AuditEvent(at=at, actor="U0ALICE", action=AuditAction.JOB_REQUESTED, surface=None),  # an older event
                AuditEvent(at=at + timedelta(seconds=1), actor="U0BOB", action=AuditAction.JOB_APPROVED,
                           surface=AuditSurface.CONSOLE),
                AuditEvent(at=at + timedelta(seconds=2), actor="rdsbot", action=AuditAction.JOB_STARTED,
                           surface=AuditSurface.ENGINE),
            ]
        )  # fmt: skip
        events, head = store.audit.audit_day("2026-11-26")
    assert [e.surface for e in events] == [None, AuditSurface.CONSOLE, AuditSurface.ENGINE]
    check = verify_day("2026-11-26", [(f"event {e.id}", event_record(e)) for e in events], head)
    assert check.ok and check.events == 3
