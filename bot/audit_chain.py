"""The tamper-evident form of the audit trail: canonical bytes, the per-day SHA-256 chain and its check. Pure.

Each event names its day (UTC), its position `seq` in that day's chain, and `prev_hash`, the SHA-256 of the
previous event's canonical form. A day's first event links to the day's start: the head of the store's previous
day, or the day's genesis value when the store has no earlier day (and for every day written before days were
linked, which therefore keep verifying as they were shipped). Changing, removing, inserting or reordering any event
breaks the link after it; removing or rewriting a whole day breaks the next day's first link. The canonical form
is a contract: old trails must keep verifying, so it never changes shape; a new shape would need a new genesis
prefix.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.domain import AuditEvent

GENESIS_PREFIX = "rdsbot-audit-chain:v1:"
# The hashed fields. The row id is not among them: the database assigns it inside the insert, after the hash.
CHAIN_FIELDS = ("day", "seq", "at", "actor", "iam_user", "action", "job_id", "detail", "prev_hash")
# Hashed when the event has one, absent otherwise: events written before surfaces existed keep their canonical
# bytes (and hashes) unchanged, while a later event's surface is as tamper-evident as its actor. Stripping it
# from such an event changes the bytes hashed, so its hash no longer matches: no downgrade goes unseen.
OPTIONAL_CHAIN_FIELDS = ("surface",)


def day_of(at: datetime) -> str:
    """The UTC day an event belongs to, as YYYY-MM-DD."""
    if at.utcoffset() is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return at.astimezone(UTC).date().isoformat()


def timestamp(at: datetime) -> str:
    """A fixed-width UTC timestamp with microseconds, the precision both SQLite and PostgreSQL keep."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def genesis(day: str) -> str:
    """The `prev_hash` of a day's first event; distinct per day, so a day's chain cannot be spliced into another."""
    return hashlib.sha256(f"{GENESIS_PREFIX}{day}".encode()).hexdigest()


def json_value(value: Any) -> Any:
    """`value` as it will read back from a JSON column: the hash must be of what the store returns."""
    return json.loads(json.dumps(value, allow_nan=False, default=str))


def _dumps(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _chain_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    fields = {name: record.get(name) for name in CHAIN_FIELDS}
    fields.update({name: record[name] for name in OPTIONAL_CHAIN_FIELDS if record.get(name) is not None})
    return fields


def canonical(record: Mapping[str, Any]) -> bytes:
    """The bytes that are hashed: the chain fields (the optional ones when set), keys sorted, no whitespace, UTF-8."""
    return _dumps(_chain_fields(record))


def digest(record: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the record's canonical form."""
    return hashlib.sha256(canonical(record)).hexdigest()


def jsonl_line(record: Mapping[str, Any]) -> bytes:
    """One line of a shipped object: the chain fields, the row id and the event's own hash; deterministic bytes."""
    fields = {**_chain_fields(record), "id": record.get("id"), "hash": record.get("hash")}
    return _dumps(fields) + b"\n"


@dataclass(frozen=True)
class ChainLink:
    """Where a day's chain begins: the previous day it links to (None: it starts at its genesis) and the hash its
    first event must name; `start` is None when the previous day's head is gone."""

    previous_day: str | None
    start: str | None


@dataclass(frozen=True)
class ChainCheck:
    """The outcome of checking one day's chain: how many events were good, and the first broken link if any."""

    day: str
    events: int
    broken_at: str | None = None  # "event 17", "s3://bucket/key line 3"
    reason: str | None = None
    trail: str = ""  # which store's trail, when S3 holds several ("store 3f9c...")
    note: str | None = None  # what this check could not see

    @property
    def ok(self) -> bool:
        return self.broken_at is None

    def summary(self) -> str:
        label = f"{self.day} ({self.trail})" if self.trail else self.day
        if self.ok:
            return f"{label}: chain intact, {self.events} event(s)" + (f"; {self.note}" if self.note else "")
        return f"{label}: chain broken at {self.broken_at}: {self.reason} ({self.events} event(s) before it)"


def verify_day(
    day: str,
    records: Iterable[tuple[str, Mapping[str, Any] | None]],
    head: tuple[int, str] | None = None,
    start: str | None = None,
) -> ChainCheck:
    """Walk `(location, record)` pairs in chain order; a record of None is a line that did not parse.

    `head` is the (seq, hash) the writer last recorded for the day; when given, a trail cut short is caught too.
    `start` is what the first event must link to: the previous day's head, or (the default) the day's genesis.
    """
    expected_seq, previous, good = 1, start or genesis(day), 0
    for where, record in records:
        problem = _problem(day, record, expected_seq, previous)
        if problem:
            return ChainCheck(day, good, where, problem)
        assert record is not None
        previous, expected_seq, good = str(record["hash"]), expected_seq + 1, good + 1
    if head is not None and (good != head[0] or (good and previous != head[1])):
        reason = f"the chain head records {head[0]} event(s) ending in hash {head[1][:12]}; the trail does not match"
        return ChainCheck(day, good, "end of trail", reason)
    return ChainCheck(day, good)


def _problem(day: str, record: Mapping[str, Any] | None, seq: int, previous: str) -> str | None:
    if record is None:
        return "not a JSON object (altered or truncated)"
    if record.get("day") != day:
        return f"belongs to day {record.get('day')!r}, not {day}"
    if record.get("seq") != seq:
        return f"seq {record.get('seq')!r} where {seq} was expected (an event is missing, repeated or moved)"
    if record.get("prev_hash") != previous:
        return "prev_hash is not the previous event's hash (an event before it was removed or altered)"
    if record.get("hash") != digest(record):
        return "hash does not match the event's content (the event was altered)"
    return None


def parse_line(line: bytes) -> dict[str, Any] | None:
    """A shipped line back as a record, or None when it is not a JSON object."""
    try:
        parsed = json.loads(line)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def event_record(event: AuditEvent) -> dict[str, Any]:
    """A stored event as one chain record (what is hashed, plus its id and hash): the shape shipped to S3."""
    return {
        "id": event.id,
        # The chain's day, as stored: an event stamped just before midnight but written after the next day opened
        # joins the open day (bot/store/audit_log.py), so it is not always the day of `at`.
        "day": event.day or day_of(event.at),
        "seq": event.seq,
        "at": timestamp(event.at),
        "actor": event.actor,
        "iam_user": event.iam_user,
        "action": event.action,
        "job_id": event.job_id,
        "detail": event.detail,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
        "surface": event.surface.value if event.surface is not None else None,
    }
