"""How long a restored instance lives: the keep window, its reminder and its extension. Pure.

Every restore is deleted a keep window after it completes (AWS Backup restore testing deletes after a validation
window; an ad-hoc restore should not bill until someone notices). The window is the request's `--keep` within the
policy's `lifecycle.max_keep`, or `lifecycle.default_keep`; the reminder comes a little before the end, and the
reminder's button extends the window, never past the maximum counted from the restore's completion.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from bot.errors import RequestError

_DURATION = re.compile(r"(\d{1,6})([mhd])")
_UNIT = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
# The reminder comes a quarter of the window before the end, but never earlier than this: a 7-day window is
# reminded an hour before, not 42 hours before, when nobody remembers why it was kept.
REMINDER_LEAD_CAP = timedelta(hours=1)
# (suffix, seconds, the fewest written in that unit): days from two on.
_FORMAT_UNITS = (("d", 86400, 2), ("h", 3600, 1), ("m", 60, 1))
KEEP_HINT = "write minutes, hours or days, e.g. --keep 30m, --keep 24h or --keep 7d"


def parse_duration(text: str, field: str = "keep") -> timedelta:
    """`30m`, `24h` or `7d` as a timedelta of at least a minute; RequestError naming `field` otherwise."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise RequestError(field, f"{text!r} is not a duration", KEEP_HINT)
    amount = int(match.group(1))
    if amount == 0:
        raise RequestError(field, "a keep window of zero would delete the instance as soon as it is ready", KEEP_HINT)
    return amount * _UNIT[match.group(2)]


def format_duration(value: timedelta) -> str:
    """The largest whole unit that says it exactly: 2m, 90m, 1h, 24h, 7d (people say "24h", not "1d", for a day)."""
    seconds = int(value.total_seconds())
    for suffix, unit, fewest in _FORMAT_UNITS:
        if seconds % unit == 0 and seconds >= fewest * unit:
            return f"{seconds // unit}{suffix}"
    return f"{seconds}s"


def check_keep(keep: timedelta | None, default: timedelta, maximum: timedelta) -> timedelta:
    """The window a request gets: its own `--keep` if within the maximum, else the default; refused above it."""
    if keep is None:
        return default
    if keep > maximum:
        raise RequestError(
            "keep",
            f"--keep {format_duration(keep)} is longer than the policy's maximum {format_duration(maximum)}",
            f"ask for --keep {format_duration(maximum)} or less; the reminder's button can extend it later, up to "
            f"{format_duration(maximum)} after the restore completes",
        )
    return keep


def reminder_lead(window: timedelta, cap: timedelta = REMINDER_LEAD_CAP) -> timedelta:
    """How long before the deletion the reminder comes: a quarter of the window, at most `cap`."""
    return min(cap, window / 4)


def reminder_due(delete_at: datetime, window: timedelta, now: datetime, cap: timedelta = REMINDER_LEAD_CAP) -> bool:
    """True once the reminder for a deletion at `delete_at` should be posted."""
    return now >= delete_at - reminder_lead(window, cap)


def extended(delete_at: datetime, completed_at: datetime, by: timedelta, maximum: timedelta) -> datetime | None:
    """The new deletion time after one "keep more" click, capped at `maximum` after completion; None when the
    window already reaches the cap (nothing to extend)."""
    cap = completed_at + maximum
    if delete_at >= cap:
        return None
    return min(delete_at + by, cap)
