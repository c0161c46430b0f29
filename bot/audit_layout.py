"""Where the audit trail lives in S3, and the day-close object. Pure.

    <prefix>/rdsbot/YYYY/MM/DD/<epoch>/<first-seq>-<last-seq>.jsonl   a batch; key order is chain order
    <prefix>/rdsbot/YYYY/MM/DD/<epoch>/close.json                     the day's head, once the day is closed
    <prefix>/rdsbot/YYYY/MM/DD/<first-seq>-<last-seq>.jsonl           a batch of a day chained before epochs
    <prefix>/rdsbot/jobs/<epoch>/<job>.jsonl                          a finished job's own record

The epoch is a random id a job store draws once (bot/store/audit_outbox.py). Every key the store writes carries
it, so a second bot with a fresh store (a redeploy without its volume) writes beside the first one's objects, never
over them; every put is conditional as well (If-None-Match: *), so even a key reused by mistake is refused.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

LEGACY = ""  # the epoch of objects written before keys carried one
CLOSE_NAME = "close.json"
_EPOCH = re.compile(r"[0-9a-f]{16}")
_BATCH = re.compile(r"(?P<first>\d{8})-(?P<last>\d{8})\.jsonl")


def new_epoch() -> str:
    """A store epoch: 64 random bits as 16 hex digits, so two stores never draw the same one in practice."""
    return secrets.token_hex(8)


def is_epoch(text: str) -> bool:
    return bool(_EPOCH.fullmatch(text))


@dataclass(frozen=True)
class DayClose:
    """What a closed day ended with: written once, when the store's next day opens, so nothing is added after it.

    `verify --from-s3` checks the day's objects against it (a missing or cut object changes the count or the last
    hash) and the next day's first link against `head`.
    """

    day: str
    epoch: str
    events: int
    head: str
    start: str  # what the day's first event links to: the previous day's head, or the day's genesis
    previous_day: str | None

    def body(self) -> bytes:
        """Deterministic bytes: a retried put sends the same object."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode() + b"\n"

    @classmethod
    def parse(cls, body: bytes) -> DayClose | None:
        """The close object back, or None when it is not one (altered or cut)."""
        try:
            data = json.loads(body)
        except ValueError:
            return None
        if not isinstance(data, dict) or set(data) != {f.name for f in fields(cls)} or not _close_shape(data):
            return None
        return cls(**data)


def _close_shape(data: Mapping[str, Any]) -> bool:
    texts = all(isinstance(data.get(name), str) for name in ("day", "epoch", "head", "start"))
    previous = data.get("previous_day")
    events = data.get("events")
    return (
        texts and isinstance(events, int) and not isinstance(events, bool) and isinstance(previous, (str, type(None)))
    )


@dataclass
class DayObjects:
    """One store epoch's objects of one day: batches in key order, and the close object if written."""

    epoch: str
    batches: list[str] = field(default_factory=list)
    close: str | None = None


@dataclass(frozen=True)
class TrailLayout:
    prefix: str

    def day_prefix(self, day: str) -> str:
        """Where one UTC day's objects live, every epoch's: <prefix>/rdsbot/YYYY/MM/DD/."""
        return f"{self.prefix}/rdsbot/{day.replace('-', '/')}/"

    def batch_key(self, epoch: str, day: str, first_seq: int, last_seq: int) -> str:
        # Zero-padded chain positions: key order is chain order, and a gap between two keys is visible by eye.
        folder = f"{epoch}/" if epoch else ""
        return f"{self.day_prefix(day)}{folder}{first_seq:08d}-{last_seq:08d}.jsonl"

    def close_key(self, epoch: str, day: str) -> str:
        return f"{self.day_prefix(day)}{epoch}/{CLOSE_NAME}"

    def record_key(self, epoch: str, job_id: str) -> str:
        """A job's own record: its events, each line identical to its line in the day objects."""
        return f"{self.prefix}/rdsbot/jobs/{epoch}/{job_id}.jsonl"

    def day_objects(self, day: str, keys: Iterable[str]) -> tuple[dict[str, DayObjects], list[str]]:
        """The day's keys sorted by epoch (LEGACY for the older layout), and the keys that fit no layout."""
        found: dict[str, DayObjects] = {}
        strangers: list[str] = []
        prefix = self.day_prefix(day)
        for key in sorted(keys):
            rest = key.removeprefix(prefix)
            epoch, _, name = rest.rpartition("/")
            if (epoch and not is_epoch(epoch)) or not (_BATCH.fullmatch(name) or (epoch and name == CLOSE_NAME)):
                strangers.append(key)
                continue
            objects = found.setdefault(epoch, DayObjects(epoch))
            if name == CLOSE_NAME:
                objects.close = key
            else:
                objects.batches.append(key)
        return found, strangers
