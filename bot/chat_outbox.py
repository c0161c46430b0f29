"""The chat outbox's rules, pure: what a queued Slack write is, which Slack errors are worth retrying, how fast each
method may go (per channel or per workspace), and how long to wait after a failure.

Every Slack write of rdsbot is one `OutboxMessage` in the job store; handlers/outbox.py sends them. Slack's limits
come from its documentation ("Rate limits", https://docs.slack.dev/apis/web-api/rate-limits): chat.postMessage about
one message per second per channel with short bursts, the other methods per tier per workspace, and HTTP 429 with
`Retry-After` when an app goes over.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict


class SlackMethod(StrEnum):
    """What a queued write does. RESPONSE_URL falls back to a DM (a post to the user's id) once it has expired."""

    POST = "chat.postMessage"
    UPDATE = "chat.update"
    EPHEMERAL = "chat.postEphemeral"
    RESPONSE_URL = "response_url"
    UPLOAD = "files.upload_v2"


class Delivery(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"  # a permanent error: parked, listed for admins, never retried, never blocking anyone else


class MessageKind(StrEnum):
    """Why the message exists: /rds-status and the metrics count dead letters by it."""

    CARD = "card"
    CARD_UPDATE = "card_update"
    PROGRESS = "progress"
    FINAL = "final"
    REQUESTER = "requester"
    EPHEMERAL = "ephemeral"
    DRILL_REPORT = "drill_report"
    DRILL_CHART = "drill_chart"
    DRILL_FOLLOW_UP = "drill_follow_up"
    LIFECYCLE = "lifecycle"  # the keep reminder and the instance's later life, in the job's thread


class OutboxPayload(BaseModel):
    """The content of one write; which fields matter depends on the method."""

    model_config = ConfigDict(frozen=True)

    text: str = ""
    blocks: list[dict[str, Any]] | None = None
    user: str | None = None  # EPHEMERAL: who sees it; RESPONSE_URL: whom to DM when the URL is no longer valid
    response_url: str | None = None
    response_url_expires_at: datetime | None = None
    file_base64: str | None = None  # UPLOAD
    filename: str | None = None
    title: str | None = None
    alt_text: str | None = None  # UPLOAD: files.getUploadURLExternal `alt_txt`, what a screen reader says


class NewMessage(BaseModel):
    """A write to queue. `key` orders it: writes with one key go out one at a time, oldest first."""

    model_config = ConfigDict(frozen=True)

    key: str
    method: SlackMethod
    kind: MessageKind
    channel: str  # a channel id or #name; for RESPONSE_URL, the channel the command came from (for the record)
    payload: OutboxPayload
    job_id: str | None = None
    # The name under which this message's ts is remembered (e.g. "card:j1"), so later writes can thread under it
    # (`thread_ref`) or edit it (`target_ref`). Refs are unique: a write whose ref is queued is not queued again,
    # which makes a write that must go once (a job's completion) safe to queue twice.
    ref: str | None = None
    thread_ref: str | None = None
    target_ref: str | None = None


class OutboxMessage(NewMessage):
    """A queued write as the store keeps it."""

    id: int
    uid: str  # tags the posted message (metadata), so a retry can tell whether Slack already has it
    state: Delivery = Delivery.PENDING
    attempts: int = 0
    # A post was sent and no answer came back: it may be in Slack. Checked before it is sent again.
    unconfirmed: bool = False
    not_before: datetime | None = None
    first_attempt_at: datetime | None = None
    error: str | None = None
    ts: str | None = None
    posted_channel: str | None = None  # the channel id Slack answered with
    created_at: datetime
    delivered_at: datetime | None = None


class DeadLetter(BaseModel):
    """A parked message, for admins."""

    model_config = ConfigDict(frozen=True)

    id: int
    kind: MessageKind
    job_id: str | None
    channel: str
    error: str
    at: datetime


# Slack errors (the `error` of an ok:false answer) that no retry can fix: the channel, the message or the content
# is wrong. From the "Errors" tables of chat.postMessage, chat.update, chat.postEphemeral and files.* in Slack's
# method reference (https://docs.slack.dev/reference/methods/chat.postMessage and siblings).
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "is_archived",
        "not_in_channel",
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "too_many_attachments",
        "invalid_metadata_format",
        "metadata_too_large",
        "user_not_in_channel",
        "user_not_found",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "restricted_action_non_threadable_channel",
        "cannot_reply_to_message",
        "invalid_arguments",
        "file_not_found",
        "used_url",
        "expired_url",
    }
)
# Wrong for every message at once (a revoked token, a missing scope): parking each message would lose them all
# while an admin fixes the app, so these are retried like an outage, and logged loudly.
APP_ERRORS = frozenset(
    {"not_authed", "invalid_auth", "account_inactive", "token_revoked", "token_expired", "missing_scope"}
)
# An unknown error is retried this many times before it is parked: Slack adds error codes, and one we do not know
# should neither block its thread forever nor be dropped at the first sight.
UNKNOWN_ERROR_ATTEMPTS = 3


class Verdict(StrEnum):
    RETRY = "retry"
    PARK = "park"


def verdict(error: str, attempts: int) -> Verdict:
    """What to do after Slack answered ok:false with `error`, this being attempt number `attempts`."""
    if error in PERMANENT_ERRORS:
        return Verdict.PARK
    if error in APP_ERRORS or error in ("ratelimited", "internal_error", "fatal_error", "service_unavailable"):
        return Verdict.RETRY
    return Verdict.PARK if attempts >= UNKNOWN_ERROR_ATTEMPTS else Verdict.RETRY


def backoff(attempts: int, cap_seconds: float = 60.0) -> timedelta:
    """Wait before retry `attempts + 1`: 0.5, 1, 2 ... seconds, at most `cap_seconds`: a Slack outage ends, and
    once it has, every waiting message should go within a minute."""
    return timedelta(seconds=min(cap_seconds, 0.5 * 2.0 ** max(0, min(attempts - 1, 16))))


@dataclass(frozen=True)
class Rate:
    """`per_minute` on average, with `burst` allowed at once (a token bucket)."""

    per_minute: float
    burst: int

    @property
    def interval(self) -> float:
        return 60.0 / self.per_minute


# Per method: its documented rate, and whether it is counted per channel or per workspace. The tiers are from
# https://docs.slack.dev/apis/web-api/rate-limits (Tier 3 "50+ per minute", Tier 4 "100+ per minute"); posting is
# "1 per second per channel, short bursts >1 allowed" (kept to bursts of 3). Methods absent here are not paced.
RATES: dict[SlackMethod, tuple[Rate, bool]] = {
    SlackMethod.POST: (Rate(per_minute=60, burst=3), True),
    SlackMethod.UPDATE: (Rate(per_minute=50, burst=10), False),
    SlackMethod.EPHEMERAL: (Rate(per_minute=100, burst=20), False),
    SlackMethod.UPLOAD: (Rate(per_minute=20, burst=3), False),  # files.getUploadURLExternal is Tier 4; be modest
}


def pace_scope(method: SlackMethod, channel: str) -> str:
    """The bucket a write draws from: `chat.postMessage C123`, or `chat.update *` for a per-workspace method."""
    per_channel = RATES.get(method, (None, False))[1]
    if method == SlackMethod.RESPONSE_URL:
        return "response_url"
    return f"{method.value} {channel if per_channel else '*'}"


@dataclass
class _Bucket:
    rate: Rate
    tokens: float
    at: float  # when `tokens` was last brought up to date (monotonic seconds)
    paused_until: float = 0.0


@dataclass
class Pacer:
    """Token buckets per scope over a monotonic clock; a 429's Retry-After pauses the scope it came from.

    Deliberately one per process: several replicas each pace themselves, and Slack's 429 (honoured) covers the rest.
    """

    rates: dict[SlackMethod, tuple[Rate, bool]] = field(default_factory=lambda: dict(RATES))
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def _bucket(self, method: SlackMethod, scope: str, now: float) -> _Bucket | None:
        known = self.rates.get(method)
        if known is None:
            return None
        bucket = self._buckets.get(scope)
        if bucket is None:
            bucket = self._buckets[scope] = _Bucket(known[0], float(known[0].burst), now)
        elapsed = max(0.0, now - bucket.at)
        bucket.tokens = min(float(bucket.rate.burst), bucket.tokens + elapsed / bucket.rate.interval)
        bucket.at = now
        return bucket

    def wait(self, method: SlackMethod, channel: str, now: float) -> float:
        """Seconds until a write may go in this scope (0: now)."""
        bucket = self._bucket(method, pace_scope(method, channel), now)
        if bucket is None:
            return 0.0
        paused = max(0.0, bucket.paused_until - now)
        missing = max(0.0, 1.0 - bucket.tokens) * bucket.rate.interval
        return max(paused, missing)

    def take(self, method: SlackMethod, channel: str, now: float) -> None:
        """Count one write against its scope."""
        bucket = self._bucket(method, pace_scope(method, channel), now)
        if bucket is not None:
            bucket.tokens -= 1.0

    def pause(self, method: SlackMethod, channel: str, now: float, retry_after: float) -> None:
        """Slack said 429: nothing more in this scope for `retry_after` seconds, and the burst is spent."""
        bucket = self._bucket(method, pace_scope(method, channel), now)
        if bucket is not None:
            bucket.paused_until = max(bucket.paused_until, now + retry_after)
            bucket.tokens = min(bucket.tokens, 0.0)


def metadata_marker(uid: str) -> dict[str, Any]:
    """The message metadata that tags a post with its outbox uid (https://docs.slack.dev/messaging/message-metadata)."""
    return {"event_type": MARKER_EVENT, "event_payload": {"outbox_uid": uid}}


MARKER_EVENT = "rdsbot_outbox"


def carries_marker(message: dict[str, Any], uid: str) -> bool:
    """Whether a message from conversations.history/replies is the post tagged with `uid`."""
    metadata = message.get("metadata") or {}
    payload = metadata.get("event_payload") or {}
    return bool(metadata.get("event_type") == MARKER_EVENT and payload.get("outbox_uid") == uid)


class SlackOutboxRepository(Protocol):
    """Every Slack write, queued durably; bot/ports.py re-exports it, bot/store/slack_outbox.py implements it."""

    def enqueue(self, message: NewMessage, now: datetime) -> int:
        """Queue a write, unless one with its `ref` is queued already (that one's id is returned); an edit folds into
        a pending edit (or the still unsent post) of the same message."""
        ...

    def revise_unsent(self, target_ref: str, text: str, blocks: list[dict[str, Any]] | None = None) -> bool:
        """Replace the content of message `target_ref` (or its pending edit) if not yet tried; False if too late."""
        ...

    def heads(self, now: datetime, limit: int = 50) -> list[OutboxMessage]:
        """The oldest pending write of each key that is due and not leased, oldest first."""
        ...

    def claim(self, message_id: int, now: datetime, lease_seconds: float) -> OutboxMessage | None:
        """Lease a head for one attempt (None if another sender has it); a post is marked unconfirmed before it
        is sent. Returns the message as it was before the claim, with this attempt counted."""
        ...

    def mark_delivered(self, message_id: int, ts: str | None, channel: str | None, now: datetime) -> None: ...

    def retry_later(self, message_id: int, not_before: datetime, error: str, *, unconfirmed: bool) -> None: ...

    def park(self, message_id: int, error: str, now: datetime) -> None:
        """Make it a dead letter: never sent again, never blocking its key."""
        ...

    def by_ref(self, ref: str) -> OutboxMessage | None: ...

    def channel_id(self, channel: str) -> str | None:
        """The id Slack answered with for a channel name, from an earlier delivery."""
        ...

    def depth(self) -> int:
        """Writes waiting (pending): for the metrics."""
        ...

    def dead_letter_count(self) -> int:
        """Parked writes: for the metrics and /rds-status."""
        ...

    def dead_letters(self, limit: int = 20) -> list[DeadLetter]:
        """Newest first."""
        ...


def undelivered_note(repository: SlackOutboxRepository) -> str | None:
    """/rds-status's warning: how many writes were parked, and each job whose approval card never reached Slack
    (nobody can approve it)."""
    count = repository.dead_letter_count()
    if not count:
        return None
    lines = [f"⚠ {count} Slack message(s) could not be delivered; admins: /rds-status dead-letters"]
    for dead in repository.dead_letters(limit=50):
        if dead.kind == MessageKind.CARD:
            lines.append(
                f"⚠ {dead.job_id}: approval card not posted to {dead.channel} ({dead.error}); nobody can approve it"
            )
    return "\n".join(lines)


def dead_letter_report(repository: SlackOutboxRepository, limit: int = 20) -> str:
    """/rds-status dead-letters (admins): the newest parked writes, what they were for and what Slack said."""
    dead = repository.dead_letters(limit)
    if not dead:
        return "no dead letters: every Slack message was delivered or is on its way"
    lines = [f"{repository.dead_letter_count()} dead letter(s), newest first:"]
    for letter in dead:
        lines.append(
            f"  #{letter.id} {letter.at:%Y-%m-%d %H:%M} UTC {letter.kind} job {letter.job_id or '-'} "
            f"in {letter.channel}: {letter.error}"
        )
    return "\n".join(lines)
