"""`rdsbot audit verify --from-s3`: a day's chain as S3 holds it, one check per store epoch. Pure over a sink.

A closed day is checked end to end: its first event against the head of the day before (that day's close object,
or its last line in the older layout), its last against its own close object, so a removed, cut or rewritten
object shows. An open day has no close object yet; the store can say how much of it S3 should already hold.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from bot.audit_actions import AuditAction
from bot.audit_chain import ChainCheck, genesis, parse_line, verify_day
from bot.audit_layout import LEGACY, DayClose, DayObjects, TrailLayout
from bot.ports import AuditLog, AuditSink

OPEN_DAY = "open day: no close object yet, so a cut tail shows only against the store or once the day closes"


def verify_trail(sink: AuditSink, layout: TrailLayout, day: str, epoch: str, shipped: int | None = None) -> ChainCheck:
    """One store's chain of `day` (its epoch's objects, else the older layout's); `shipped`: how many events of the
    day that store marks as accepted by S3, so an open day's missing tail shows too."""
    trails, _ = layout.day_objects(day, sink.keys(layout.day_prefix(day)))
    objects = trails.get(epoch) or trails.get(LEGACY) or DayObjects(epoch)
    check = _check(sink, layout, day, objects)
    if check.ok and shipped is not None and check.events < shipped:
        reason = f"the store marks {shipped} event(s) of the day shipped; S3 holds {check.events} (objects removed)"
        return replace(check, broken_at="end of trail", reason=reason)
    return check


def verify_every_trail(sink: AuditSink, layout: TrailLayout, day: str) -> list[ChainCheck]:
    """Every store's chain of `day`, each on its own, and a failed check for each key no rdsbot store writes."""
    trails, strangers = layout.day_objects(day, sink.keys(layout.day_prefix(day)))
    checks = [_check(sink, layout, day, objects) for _, objects in sorted(trails.items())]
    reason = "an object no rdsbot store writes (neither a batch nor a close object)"
    return checks + [ChainCheck(day, 0, sink.location(key), reason, trail="unknown") for key in strangers]


def _check(sink: AuditSink, layout: TrailLayout, day: str, objects: DayObjects) -> ChainCheck:
    trail = f"store {objects.epoch}" if objects.epoch else "written before store epochs"
    lines = list(_lines(sink, objects.batches))
    if objects.epoch == LEGACY:  # days chained before days were linked: each starts at its genesis
        return replace(verify_day(day, lines), trail=trail)
    if objects.close is None:
        first = lines[0][1] if lines else None
        start = str(first.get("prev_hash")) if first else None
        return replace(verify_day(day, lines, start=start), trail=trail, note=OPEN_DAY)
    where = sink.location(objects.close)
    close = DayClose.parse(sink.read(objects.close) or b"")
    if close is None or (close.day, close.epoch) != (day, objects.epoch):
        return ChainCheck(day, 0, where, "not this day's close object (altered or cut)", trail=trail)
    problem = _link_problem(sink, layout, close)
    if problem:
        return ChainCheck(day, 0, where, problem, trail=trail)
    return replace(verify_day(day, lines, head=(close.events, close.head), start=close.start), trail=trail)


def _link_problem(sink: AuditSink, layout: TrailLayout, close: DayClose) -> str | None:
    if close.previous_day is None:
        return None if close.start == genesis(close.day) else "the day's start is neither its genesis nor a day's head"
    held = _head_of(sink, layout, close.epoch, close.previous_day)
    if held is None:
        return f"the previous day {close.previous_day} has no close object or trail in S3 (removed?)"
    if held != close.start:
        return f"the day does not start at the head of {close.previous_day} (a day before it was rewritten)"
    return None


def _head_of(sink: AuditSink, layout: TrailLayout, epoch: str, day: str) -> str | None:
    """The last hash of `day` as S3 holds it: its close object, or the last line of a day in the older layout."""
    close = DayClose.parse(sink.read(layout.close_key(epoch, day)) or b"")
    if close is not None and (close.day, close.epoch) == (day, epoch):
        return close.head
    trails, _ = layout.day_objects(day, sink.keys(layout.day_prefix(day)))
    legacy = trails.get(LEGACY)
    if legacy is None or not legacy.batches:
        return None
    last = (sink.read(legacy.batches[-1]) or b"").splitlines()
    record = parse_line(last[-1]) if last else None
    return str(record.get("hash")) if record else None


def _lines(sink: AuditSink, keys: list[str]) -> Iterator[tuple[str, dict[str, Any] | None]]:
    for key in keys:
        for number, line in enumerate((sink.read(key) or b"").splitlines(), start=1):
            yield f"{sink.location(key)} line {number}", parse_line(line)


def conflict_alarms(audit: AuditLog, day: str, day_prefix: str) -> list[str]:
    """The object conflicts the shipper recorded on `day` or for one of that day's keys, as lines to print."""
    since = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return [
        f"ALARM {day}: {event.detail.get('key')} already held other bytes; nothing was overwritten "
        f"(event {event.id}, {event.at.isoformat()})"
        for event in audit.audit_events(since=since)
        if event.action == AuditAction.AUDIT_OBJECT_CONFLICT
        and (event.day == day or f"/{day_prefix}" in str(event.detail.get("key", "")))
    ]
