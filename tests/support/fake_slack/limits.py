"""The fake Slack's rate limits, as Slack documents them (https://docs.slack.dev/apis/web-api/rate-limits):

- limits apply "per API method per workspace/team per app" by tier: Tier 2 "20+ per minute", Tier 3 "50+ per
  minute", Tier 4 "100+ per minute", bursts tolerated;
- chat.postMessage is special: "1 per second per channel, short bursts >1 allowed" (the fake allows bursts of 3);
- going over answers HTTP 429 with `{"ok": false, "error": "ratelimited"}` and a `Retry-After` header in seconds.

Modelled as token buckets on the fake's own monotonic clock. The tier of each method is from its reference page
(https://docs.slack.dev/reference/methods/<method>).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

POST_PER_CHANNEL = "chat.postMessage"
POST_BURST = 3
TIER_PER_MINUTE = {2: 20, 3: 50, 4: 100}
METHOD_TIERS = {
    "chat.update": 3,
    "chat.delete": 3,
    "chat.postEphemeral": 4,
    "chat.getPermalink": 4,
    "conversations.history": 3,
    "conversations.replies": 3,
    "conversations.list": 2,
    "conversations.open": 3,
    "users.info": 4,
    "users.lookupByEmail": 3,
    "usergroups.list": 2,
    "usergroups.users.list": 2,
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
    "views.open": 4,
    "views.update": 4,
}


@dataclass
class _Bucket:
    capacity: float
    per_second: float
    tokens: float
    at: float


class RateLimits:
    """Decides, per call, whether Slack would answer 429; `retry_after` is whole seconds, as Slack sends it."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.enabled = True
        self._monotonic = monotonic
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def reset(self) -> None:
        self._buckets.clear()

    def check(self, method: str, channel: str | None) -> int | None:
        """None when the call may go on (and it is counted), else the Retry-After seconds of a 429."""
        if not self.enabled:
            return None
        if method == POST_PER_CHANNEL:
            key, capacity, per_second = (method, channel or ""), float(POST_BURST), 1.0
        elif method in METHOD_TIERS:
            per_minute = TIER_PER_MINUTE[METHOD_TIERS[method]]
            key, capacity, per_second = (method, "*"), float(per_minute), per_minute / 60.0
        else:
            return None
        now = self._monotonic()
        bucket = self._buckets.setdefault(key, _Bucket(capacity, per_second, capacity, now))
        bucket.tokens = min(bucket.capacity, bucket.tokens + (now - bucket.at) * bucket.per_second)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - bucket.tokens) / bucket.per_second))
