"""Cron lines as people write them, turned into what APScheduler 3 reads. Pure.

In cron the day of the week counts from Sunday: 0 and 7 are Sunday, 1 is Monday, so `0 3 * * 1-5` means
weekdays. APScheduler 3 counts from Monday (0 is Monday), so handed over as is, that line runs Tuesday to Saturday;
its maintainers keep 3.x that way (agronholm/apscheduler #286). The day-of-week field is therefore rewritten as
weekday names, which both read alike. Cron also runs a line whose day of month and day of week are both restricted
on either day, where APScheduler needs both at once: such a line is refused rather than run on other days.
"""

from __future__ import annotations

import re

# Cron's numbering: Sunday is 0 (and 7).
_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_ITEM = re.compile(r"(?P<range>\*|(?P<low>\w+)(?:-(?P<high>\w+))?)(?:/(?P<step>\d+))?")


def _day_number(text: str, *, end_of_range: bool = False) -> int:
    lowered = text.lower()
    if lowered in _NAMES:
        number = _NAMES.index(lowered)
        return 7 if end_of_range and number == 0 else number  # `fri-sun`: Sunday as the end of the week
    if text.isdigit() and int(text) <= 7:
        return int(text)
    raise ValueError(f"day of week {text!r} is not 0-7 (0 and 7 are Sunday) or a name such as mon")


def weekdays(field: str) -> set[int]:
    """The days (0 = Sunday .. 6 = Saturday) a cron day-of-week field names; ValueError naming the bad part."""
    days: set[int] = set()
    for item in field.split(","):
        match = _ITEM.fullmatch(item)
        if not match:
            raise ValueError(f"day of week {item!r} is not a day, a range such as 1-5, or a step such as */2")
        step = int(match["step"] or 1)
        if step < 1:
            raise ValueError(f"day of week {item!r}: a step must be 1 or more")
        if match["range"] == "*":
            low, high = 0, 6
        else:
            low = _day_number(match["low"])
            high = _day_number(match["high"], end_of_range=True) if match["high"] else (6 if match["step"] else low)
        if low > high:
            raise ValueError(f"day of week {item!r} runs backwards; write it as a list, such as 5,6,0")
        days |= {day % 7 for day in range(low, high + 1, step)}
    return days


def for_apscheduler(cron: str) -> str:
    """The five-field line with its day of week as names, meaning what cron means; ValueError when cron and
    APScheduler would disagree."""
    fields = cron.split()
    if len(fields) != 5:
        raise ValueError(f"cron {cron!r} needs five fields: minute hour day-of-month month day-of-week")
    day_of_month, day_of_week = fields[2], fields[4]
    if day_of_week == "*":
        return " ".join(fields)
    if day_of_month != "*":
        raise ValueError(
            f"cron {cron!r} restricts both the day of month and the day of week: cron runs on either, the scheduler "
            "only on both; keep one of them *"
        )
    names = ",".join(_NAMES[day] for day in sorted(weekdays(day_of_week)))
    return " ".join([*fields[:4], names])
