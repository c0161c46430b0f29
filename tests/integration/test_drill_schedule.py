"""Drill schedules live in the database: a restart keeps each stored next run, a changed cron reschedules, a drill
taken out of the policy stops being scheduled, and a due drill fires once on the leader's runner."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.drills.scheduler import DrillScheduler
from bot.drills.spec import DrillSpec
from tests.integration.store_fixtures import sqlite_url
from tests.support.waiting import holds_throughout


def spec(name: str, cron: str) -> DrillSpec:
    return DrillSpec.model_validate(
        {
            "name": name,
            "schedule": {"cron": cron, "timezone": "America/New_York"},
            "source": {"prefix": "prod-"},
            "instance_class": "db.m6i.large",
            "rto_minutes": 60,
            "report_channel": "#rds-drills",
        }
    )


class Starter:
    def __init__(self) -> None:
        self.started: list[tuple[str, str]] = []

    def start(self, name: str, trigger: str) -> object:
        self.started.append((name, trigger))
        return None


def test_schedules_survive_a_restart_and_follow_policy_changes(tmp_path: Path):
    url = sqlite_url(tmp_path)
    first = DrillScheduler((spec("nightly", "30 4 * * *"), spec("weekly", "0 6 * * 0")), url, Starter())
    first.start()
    nightly, weekly = first.next_run("nightly"), first.next_run("weekly")
    assert nightly is not None and (nightly.hour, nightly.minute) == (4, 30)
    assert str(nightly.tzinfo) == "America/New_York"
    first.stop()

    again = DrillScheduler(
        (spec("nightly", "30 4 * * *"), spec("weekly", "0 7 * * 0"), spec("new", "0 1 * * *")), url, Starter()
    )
    again.start()
    try:
        assert again.next_run("nightly") == nightly  # kept from the store, not recomputed
        moved = again.next_run("weekly")
        assert moved is not None and moved != weekly and moved.hour == 7
        assert again.next_run("new") is not None
    finally:
        again.stop()

    third = DrillScheduler((spec("new", "0 1 * * *"),), url, Starter())
    third.start()
    try:
        assert third.next_run("nightly") is None and third.next_run("weekly") is None
    finally:
        third.stop()


def test_a_due_drill_fires_once_on_this_process_runner(tmp_path: Path):
    starter = Starter()
    scheduler = DrillScheduler((spec("nightly", "30 4 * * *"),), sqlite_url(tmp_path), starter)
    scheduler.start()
    try:
        scheduler.fire_now("nightly")
        deadline = time.monotonic() + 10
        while not starter.started and time.monotonic() < deadline:
            time.sleep(0.02)
        # Once: no second start follows the first while the scheduler keeps running.
        holds_throughout(lambda: len(starter.started) == 1, 0.5, "exactly one start of the fired drill")
    finally:
        scheduler.stop()
    assert starter.started == [("nightly", "schedule")]
    assert scheduler.next_run("nightly") is None  # stopped: this process no longer schedules


def test_a_monday_drill_is_scheduled_on_a_monday_even_where_an_older_release_stored_tuesday(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from apscheduler.triggers.cron import CronTrigger

    from bot.drills import scheduler as scheduling

    url = sqlite_url(tmp_path)
    # What releases before bot/drills/cron.py stored: the cron line handed to APScheduler as written.
    monkeypatch.setattr(
        scheduling, "trigger_for", lambda s: CronTrigger.from_crontab(s.schedule.cron, timezone=s.schedule.timezone)
    )
    older = DrillScheduler((spec("weekly", "0 3 * * 1"),), url, Starter())
    older.start()
    stored = older.next_run("weekly")
    older.stop()
    assert stored is not None and stored.strftime("%a") == "Tue"  # the bug: a day late
    monkeypatch.undo()

    fixed = DrillScheduler((spec("weekly", "0 3 * * 1"),), url, Starter())
    fixed.start()
    try:
        upcoming = fixed.next_run("weekly")
        assert upcoming is not None and upcoming.strftime("%a %H:%M") == "Mon 03:00"
        assert str(upcoming.tzinfo) == "America/New_York"
    finally:
        fixed.stop()
