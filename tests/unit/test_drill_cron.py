"""Drill cron lines mean what cron means: weekdays count from Sunday (0 and 7), whatever APScheduler 3 counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from bot.drills.commands import DrillCommands
from bot.drills.cron import for_apscheduler, weekdays
from bot.drills.spec import Schedule
from bot.errors import ConfigError
from config.policy_model import parse_policy
from tests.support.factories import drill_data
from tests.unit.fakes import FakeClock

SUNDAY = datetime(2024, 11, 24, 12, 0, tzinfo=UTC)  # a Sunday noon


def fire_times(cron: str, days: int = 7, timezone: str = "UTC") -> list[datetime]:
    trigger, times, now = Schedule(cron=cron, timezone=timezone).trigger(), [], SUNDAY
    while (upcoming := trigger.get_next_fire_time(None, now)) < SUNDAY + timedelta(days=days):
        times.append(upcoming)
        now = upcoming + timedelta(seconds=1)
    return times


def test_one_to_five_runs_monday_to_friday_not_tuesday_to_saturday() -> None:
    assert for_apscheduler("0 3 * * 1-5") == "0 3 * * mon,tue,wed,thu,fri"
    runs = fire_times("0 3 * * 1-5")
    assert [run.strftime("%a") for run in runs] == ["Mon", "Tue", "Wed", "Thu", "Fri"]
    assert all((run.hour, run.minute) == (3, 0) for run in runs)


@pytest.mark.parametrize(
    ("field", "days"),
    [
        ("0", {0}),
        ("7", {0}),
        ("1", {1}),
        ("6", {6}),
        ("5-7", {5, 6, 0}),
        ("fri-sun", {5, 6, 0}),
        ("*/2", {0, 2, 4, 6}),
        ("1-5/2", {1, 3, 5}),
        ("1/2", {1, 3, 5}),
        ("0,6", {0, 6}),
        ("MON,wed", {1, 3}),
        ("sun", {0}),
    ],
)
def test_each_cron_weekday_form_names_the_days_cron_means(field: str, days: set[int]) -> None:
    assert weekdays(field) == days


def test_sunday_is_both_zero_and_seven_and_fires_on_a_sunday() -> None:
    sundays = fire_times("0 3 * * 0", days=14)
    assert [run.strftime("%a %d") for run in sundays] == ["Sun 01", "Sun 08"]
    assert fire_times("0 3 * * 7", days=14) == sundays


def test_a_line_without_a_weekday_is_left_as_written() -> None:
    assert for_apscheduler("30 4 * * *") == "30 4 * * *"
    assert for_apscheduler("0 3 1 * *") == "0 3 1 * *"


@pytest.mark.parametrize(
    ("cron", "why"),
    [
        ("0 3 * * 8", "is not 0-7"),
        ("0 3 * * funday", "is not 0-7"),
        ("0 3 * * 5-1", "runs backwards; write it as a list"),
        ("0 3 * * 1-", "is not a day, a range"),
        ("0 3 * * */0", "a step must be 1 or more"),
        ("0 3 1 * 1", "restricts both the day of month and the day of week"),
        ("0 3 * *", "needs five fields"),
    ],
)
def test_a_weekday_cron_and_apscheduler_would_read_differently_is_refused(cron: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        for_apscheduler(cron)


def test_the_policy_names_the_drill_and_the_field_of_a_refused_cron() -> None:
    drill = drill_data(name="weekly", schedule={"cron": "0 3 1 * 1"})
    with pytest.raises(ConfigError, match=r"drills\.0\.schedule: cron '0 3 1 \* 1' restricts both"):
        parse_policy({"backups": {"default_bucket": "b"}, "drills": [drill]})


class NoRuns:
    def history(self, drill_name: str | None = None, limit: int = 10) -> list[Any]:
        return []


def test_drill_list_shows_a_monday_drill_next_running_on_a_monday() -> None:
    drill = drill_data(name="weekly", schedule={"cron": "0 3 * * 1", "timezone": "America/New_York"})
    policy = parse_policy({"backups": {"default_bucket": "b"}, "drills": [drill]})
    clock = FakeClock()
    clock.current = SUNDAY
    unused = cast(Any, None)  # list() reads the policy, the clock and the runs only
    commands = DrillCommands(
        policy, clock, unused, cast(Any, NoRuns()), unused, unused, scheduled_next_run=lambda _: None
    )
    text = commands.list().text
    assert "next: Mon 2024-11-25 03:00 EST" in text, text
    upcoming = commands.next_run("weekly")
    assert upcoming is not None and upcoming.weekday() == 0
