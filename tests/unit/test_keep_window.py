"""The keep window's rules alone: durations, the policy's maximum, when the reminder comes, how far a click extends.
Each case picks values only the rule under test can decide (a default that differs from --keep, a cap that is
not a multiple of the extension)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import ConfigError, RequestError
from bot.keep_window import check_keep, extended, format_duration, parse_duration, reminder_due, reminder_lead
from bot.parser import parse_restore_command
from bot.policy import plan_restore
from bot.service import RestoreService
from config.policy_model import parse_policy
from tests.support.factories import BOT_NETWORK
from tests.unit.fakes import FakeAws, FakeClock
from tests.unit.memory_store import MemoryStore

DONE = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def policy(**lifecycle: object):
    return parse_policy(
        {"backups": {"default_bucket": "rdsbot-backups"}, "network": BOT_NETWORK, "lifecycle": lifecycle}
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2m", timedelta(minutes=2)), ("24h", DAY), ("7d", 7 * DAY), ("90M", timedelta(minutes=90)), (" 3h ", 3 * HOUR)],
)
def test_durations_in_minutes_hours_or_days(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["24", "1w", "h", "-2h", "1.5h", "2 h", "0m", "1234567d"])
def test_anything_else_is_refused_naming_the_field_with_a_hint(text: str) -> None:
    with pytest.raises(RequestError) as refused:
        parse_duration(text)
    assert refused.value.field == "keep" and "30m, --keep 24h or --keep 7d" in str(refused.value)


def test_a_zero_window_is_refused_saying_why() -> None:
    with pytest.raises(RequestError) as refused:
        parse_duration("0h")
    assert refused.value.message == "a keep window of zero would delete the instance as soon as it is ready"


def test_the_parser_reads_keep_and_names_the_field_when_it_cannot() -> None:
    assert parse_restore_command("prod-backup.bak db.m5.large --keep 36h").keep == 36 * HOUR
    with pytest.raises(RequestError) as refused:
        parse_restore_command("prod-backup.bak db.m5.large --keep 1w")
    assert (
        str(refused.value)
        == "keep: '1w' is not a duration; write minutes, hours or days, e.g. --keep 30m, --keep 24h or --keep 7d"
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(minutes=2), "2m"),
        (DAY, "24h"),
        (30 * HOUR, "30h"),
        (2 * DAY, "2d"),
        (timedelta(minutes=90), "90m"),
        (HOUR, "1h"),
        (2 * HOUR, "2h"),
        (7 * DAY, "7d"),
    ],
)
def test_a_duration_is_written_in_its_largest_exact_unit(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


def test_no_keep_takes_the_default_and_a_keep_within_the_maximum_is_kept() -> None:
    assert check_keep(None, 5 * HOUR, 7 * DAY) == 5 * HOUR
    assert check_keep(7 * DAY, 5 * HOUR, 7 * DAY) == 7 * DAY  # the maximum itself is allowed


def test_a_keep_over_the_maximum_is_refused_naming_keep_and_the_maximum() -> None:
    with pytest.raises(RequestError) as refused:
        check_keep(8 * DAY, 5 * HOUR, 7 * DAY)
    assert refused.value.field == "keep"
    assert str(refused.value).startswith("keep: --keep 8d is longer than the policy's maximum 7d; ask for --keep 7d")


def test_a_keep_over_the_maximum_is_refused_before_approval_and_changes_nothing() -> None:
    aws, store = FakeAws(), MemoryStore()
    service = RestoreService(store.jobs, store.audit, aws.gateways, policy(max_keep="2d"), FakeClock())
    with pytest.raises(RequestError):
        service.submit(parse_restore_command("prod-backup.bak db.m5.large --keep 3d"), "U1")
    assert aws.calls == [] and store.jobs.list_jobs() == []  # no AWS call, nothing stored
    assert [e.detail["field"] for e in store.events] == ["keep"]  # the one audit of a refusal


def test_the_plan_carries_the_window_and_the_final_snapshot_choice_drills_carry_none() -> None:
    chosen = policy(default_keep="5h", final_snapshot=False)
    plan = plan_restore(parse_restore_command("prod-backup.bak db.m5.large --keep 2m"), chosen, "j1")
    assert (plan.keep_seconds, plan.final_snapshot) == (120, False)
    default = plan_restore(parse_restore_command("prod-backup.bak db.m5.large"), chosen, "j1")
    assert default.keep_seconds == 5 * 3600
    drill = plan_restore(parse_restore_command("prod-backup.bak db.m5.large"), chosen, "j1", drill=True)
    assert (drill.keep_seconds, drill.final_snapshot) == (None, None)


def test_a_policy_whose_default_exceeds_its_maximum_does_not_start() -> None:
    with pytest.raises(ConfigError) as refused:
        policy(default_keep="8d", max_keep="7d")
    assert str(refused.value) == "policy: lifecycle: default_keep 8d is longer than max_keep 7d"
    with pytest.raises(ConfigError) as bad:
        policy(max_keep="a week")
    assert str(bad.value) == (
        "policy: lifecycle.max_keep: 'a week' is not a duration; write minutes, hours or days, e.g. 30m, 24h or 7d"
    )


def test_the_reminder_comes_a_quarter_of_the_window_before_at_most_an_hour() -> None:
    assert reminder_lead(timedelta(minutes=2)) == timedelta(seconds=30)
    assert reminder_lead(2 * HOUR) == timedelta(minutes=30)
    assert reminder_lead(7 * DAY) == HOUR  # not 42 hours before
    delete_at = DONE + timedelta(minutes=2)
    assert not reminder_due(delete_at, timedelta(minutes=2), delete_at - timedelta(seconds=31))
    assert reminder_due(delete_at, timedelta(minutes=2), delete_at - timedelta(seconds=30))


def test_keeping_longer_adds_the_extension_but_never_past_the_maximum_from_completion() -> None:
    assert extended(DONE + DAY, DONE, DAY, 7 * DAY) == DONE + 2 * DAY
    # Five hours short of the cap: the click gives those five hours, not a whole day.
    assert extended(DONE + 7 * DAY - 5 * HOUR, DONE, DAY, 7 * DAY) == DONE + 7 * DAY
    assert extended(DONE + 7 * DAY, DONE, DAY, 7 * DAY) is None  # at the cap: nothing to extend
