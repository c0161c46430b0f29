"""Restore drills end to end: moto server, the sandbox SQL Server on a fast clock, the job store on SQLite and
PostgreSQL. Each story ends by proving no rdsbot drill resource is left behind."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from aws.clients import AwsClients
from aws.sandbox.backup_content import manifest_bytes
from aws.sandbox.moto_seed import DEMO_DATABASE, seed_sandbox
from bot.bootstrap import Drills, Rdsbot, build, build_commands, build_drills
from bot.domain import JobStatus
from bot.drills.chart import TrendChart
from bot.drills.report import render_report
from bot.drills.runs import DrillOutcome, DrillPhase, DrillRun
from bot.parser import parse_restore_command
from bot.render import duration
from bot.slack_text import SlackText
from config.policy_model import EXAMPLE_POLICY
from config.settings import Settings

OPTION_GROUP = "rdsbot-sqlserver-se-15-00"
DJANGO_APPS = {"auth": "0012_alter_user_first_name_max_length", "orders": "0031_add_invoice_number"}


# A minute no test run meets (29 February, 04:00 Berlin): the tests bring a drill's cron minute with fire_now. Every
# drill here used to run every minute, so a test crossing a minute boundary also got all four drills fired by the
# clock, with runs and instances it did not ask for (CI saw the end-to-end drill test fail that way).
NEVER_DURING_A_TEST = "0 4 29 2 *"


def drill(
    name: str, prefix: str, checks: list[dict[str, object]], cron: str = NEVER_DURING_A_TEST
) -> dict[str, object]:
    return {
        "name": name,
        "schedule": {"cron": cron, "timezone": "Europe/Berlin"},
        "source": {"prefix": prefix, "max_age_days": 1},
        "instance_class": "db.m6i.large",
        "checks": checks,
        "rto_minutes": 30,
        "keep_minutes": 0,
        "report_channel": "#rds-drills",
    }


GOOD_CHECKS: list[dict[str, object]] = [
    {"kind": "table_exists", "table": "dbo.orders"},
    {"kind": "row_count", "table": "orders", "at_least": 1000},
    {"kind": "django_migrations", "apps": DJANGO_APPS},
    {"kind": "dbcc_checkdb"},
]
DRILLS = [
    drill("nightly", "prod-", GOOD_CHECKS),
    drill("too-strict", "prod-", [{"kind": "row_count", "table": "dbo.orders", "at_least": 10**6}]),
    drill("broken", "broken-", [{"kind": "table_exists", "table": "dbo.orders"}]),
    drill("striped", "nightly/", [{"kind": "django_migrations", "apps": {"orders": "0032_not_yet_written"}}]),
]


class RecordingReporter:
    """A DrillReporter that keeps what it was told."""

    def __init__(self) -> None:
        self.reports: list[tuple[str, str, str, bool]] = []
        self.follow_ups: list[tuple[str, str, str]] = []
        self.charts: dict[str, TrendChart | None] = {}

    def report(
        self, channel: str, run_id: str, text: SlackText, *, failed: bool, chart: TrendChart | None = None
    ) -> None:
        self.reports.append((channel, run_id, text, failed))
        self.charts[run_id] = chart

    def follow_up(self, channel: str, run_id: str, text: str) -> None:
        self.follow_ups.append((channel, run_id, text))

    def of(self, run_id: str) -> tuple[str, str, str, bool]:
        return next(r for r in self.reports if r[1] == run_id)


class CrashingReporter(RecordingReporter):
    """The process dies while reporting: after validation, before cleanup."""

    def report(
        self, channel: str, run_id: str, text: SlackText, *, failed: bool, chart: TrendChart | None = None
    ) -> None:
        raise SimulatedCrash("died before the report and the cleanup")


class SimulatedCrash(BaseException):
    """Not an Exception: nothing in rdsbot may catch it, as nothing catches a killed process."""


def policy_file(tmp_path: Path) -> Path:
    data = yaml.safe_load(EXAMPLE_POLICY.read_text())
    data["drills"] = DRILLS
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def settings(aws: AwsClients, database_url: str, tmp_path: Path) -> Settings:
    path = policy_file(tmp_path)
    from config.policy_model import load_policy

    seed_sandbox(load_policy(path))
    broken = {**DEMO_DATABASE, "fail_restore": "The media family on device 'broken-backup.bak' is incorrectly formed."}
    aws.s3.put_object(Bucket="rdsbot-backups", Key="broken-backup.bak", Body=manifest_bytes(broken, 4096))
    return Settings(
        config=path,
        database_url=database_url,
        sqlserver_driver="sandbox",
        sandbox_restore_seconds=0.3,
        sandbox_state_path=tmp_path / "sandbox.json",
        poll_seconds=0.05,
    )


def drills_of(app: Rdsbot, reporter: RecordingReporter, **kwargs: object) -> Drills:
    return build_drills(app, reporter, build_commands(app), **kwargs)  # type: ignore[arg-type]


def drill_leftovers(aws: AwsClients) -> list[str]:
    """Every rdsbot drill resource still in the account: instances tagged as drills, and the shared resources."""
    left = [
        f"instance {i['DBInstanceIdentifier']}"
        for i in aws.rds.describe_db_instances()["DBInstances"]
        if {"Key": "rdsbot-drill", "Value": "true"} in i.get("TagList", [])
    ]
    # moto answers DescribeOptionGroups without a name with HTTP 500, so ask for the one name rdsbot uses here.
    try:
        groups = aws.rds.describe_option_groups(OptionGroupName=OPTION_GROUP)["OptionGroupsList"]
    except aws.rds.exceptions.OptionGroupNotFoundFault:
        groups = []
    left += [f"option group {g['OptionGroupName']}" for g in groups]
    left += [f"subnet group {g['DBSubnetGroupName']}" for g in aws.rds.describe_db_subnet_groups()["DBSubnetGroups"]]
    groups = aws.ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["rdsbot-*"]}])
    left += [f"security group {g['GroupId']}" for g in groups["SecurityGroups"]]
    return left


def wait_for(condition: Callable[[], object], timeout: float = 30.0) -> None:
    """Poll until `condition` holds; a deadline for a hung test, not an assertion about speed."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition never held")
        time.sleep(0.05)


def finished(drills: Drills, run_id: str) -> DrillRun:
    run = drills.runs.get(run_id)
    assert run is not None and run.phase == DrillPhase.DONE, run
    return run


def test_a_drill_whose_cron_minute_comes_runs_validates_reports_and_leaves_nothing_behind(settings: Settings, aws):
    app = build(settings)
    reporter = RecordingReporter()
    drills = drills_of(app, reporter)
    stop_engine = app.engine.start_background()
    drills.start()  # SQLite and PostgreSQL alike: this one process is elected
    try:
        wait_for(lambda: drills.scheduler.running)
        assert drills.scheduler.next_run("nightly") is not None
        drills.scheduler.fire_now("nightly")  # its cron minute has come
        wait_for(lambda: drills.runs.history("nightly") and drills.runs.history("nightly")[0].phase == "done")
    finally:
        drills.stop()
        stop_engine.set()
    run = drills.runs.history("nightly")[0]
    assert run.outcome == DrillOutcome.PASSED, run.error
    assert run.trigger == "schedule"
    assert [c.passed for c in run.checks] == [True, True, True, True]
    assert run.instance_id is not None and run.instance_id.startswith("rdsbot-drill-prod-backup-")
    channel, _, text, failed = reporter.of(run.id)
    assert channel == "#rds-drills" and not failed
    chart = reporter.charts[run.id]
    assert chart is not None and chart.png.startswith(b"\x89PNG\r\n\x1a\n") and run.drill_name in chart.alt_text
    assert "✅ Drill nightly passed" in text and "✓ orders has at least 1000 rows: 1500 rows" in text
    assert drill_leftovers(aws) == []
    assert any("removed instance " + run.instance_id in f[2] for f in reporter.follow_ups)

    job = app.store.jobs.get_job(run.job_id or "")
    assert job is not None and job.is_drill and job.requester == "drill:nightly"
    trail = app.store.audit.audit_events()
    started = next(e for e in trail if e.action == "drill.started")
    assert started.actor == "drill:nightly" and started.detail["pre_approved_by"] == "policy drills[nightly]"
    requested = next(e for e in trail if e.action == "job.requested" and e.job_id == job.id)
    assert requested.actor == "drill:nightly" and requested.detail["pre_approved"] is True
    assert [e.action for e in trail if e.actor == "drill:nightly"][-1] == "drill.cleaned_up"
    app.close()


def test_the_reported_time_to_restore_equals_the_stage_timestamps_in_the_store(settings: Settings):
    app = build(settings)
    reporter = RecordingReporter()
    drills = drills_of(app, reporter)
    run = drills.runner.start("nightly", "test").run
    drills.run_until_idle(app)
    run = finished(drills, run.id)
    job = app.store.jobs.get_job(run.job_id or "")
    assert job is not None
    first_start = min(s.started_at for s in job.stages if s.started_at)
    last_end = max(s.finished_at for s in job.stages if s.finished_at)
    assert run.time_to_restore_seconds == (last_end - first_start).total_seconds()
    assert run.restore is not None and (run.restore.started_at, run.restore.finished_at) == (first_start, last_end)
    text = reporter.of(run.id)[2]
    assert f"time-to-restore: {duration(run.time_to_restore_seconds)} vs RTO target 30m00s: met" in text
    assert text == render_report(run.model_copy(update={"phase": DrillPhase.REPORTING}), [run])
    app.close()


def test_a_drill_whose_check_fails_is_reported_failed_and_still_cleaned_up(settings: Settings, aws):
    app = build(settings)
    reporter = RecordingReporter()
    drills = drills_of(app, reporter)
    run = drills.runner.start("too-strict", "test").run
    drills.run_until_idle(app)
    run = finished(drills, run.id)
    assert run.outcome == DrillOutcome.FAILED
    assert run.error == "1 of 1 checks failed: dbo.orders has at least 1000000 rows"
    _, _, text, failed = reporter.of(run.id)
    assert failed and text.startswith("🚨 *DRILL FAILED* too-strict")
    assert "✗ dbo.orders has at least 1000000 rows: 1500 rows (at least 1000000 expected)" in text
    assert drill_leftovers(aws) == []
    assert "drill.failed" in [e.action for e in app.store.audit.audit_events()]
    app.close()


def test_a_striped_backup_is_one_backup_and_a_missing_migration_fails_the_drill(settings: Settings, aws):
    app = build(settings)
    drills = drills_of(app, RecordingReporter())
    run = drills.runner.start("striped", "test").run
    drills.run_until_idle(app)
    run = finished(drills, run.id)
    assert run.backup is not None and len(run.backup.keys) == 3
    assert run.outcome == DrillOutcome.FAILED
    assert run.checks[0].detail == "orders lacks 0032_not_yet_written (newest applied: 0031_add_invoice_number)"
    assert drill_leftovers(aws) == []
    app.close()


def test_a_drill_whose_restore_fails_is_cleaned_up_too(settings: Settings, aws):
    app = build(settings)
    reporter = RecordingReporter()
    drills = drills_of(app, reporter)
    run = drills.runner.start("broken", "test").run
    drills.run_until_idle(app)
    run = finished(drills, run.id)
    job = app.store.jobs.get_job(run.job_id or "")
    assert job is not None and job.status == JobStatus.FAILED and "instance" in job.created_resources
    assert run.outcome == DrillOutcome.FAILED and run.error is not None and "restore failed" in run.error
    assert run.checks == [] and run.time_to_restore_seconds is None
    assert reporter.of(run.id)[3] is True
    assert "not measured" in reporter.of(run.id)[2]
    assert drill_leftovers(aws) == []
    app.close()


def test_a_restart_between_restore_and_cleanup_still_ends_with_the_resources_gone(settings: Settings, aws):
    first = build(settings)
    doomed = drills_of(first, CrashingReporter())
    run = doomed.runner.start("nightly", "test").run
    with pytest.raises(SimulatedCrash):
        doomed.run_until_idle(first)
    first.close()
    stalled = doomed.runs.get(run.id)
    assert stalled is not None and stalled.phase == DrillPhase.REPORTING
    assert any(left.startswith("instance rdsbot-drill-") for left in drill_leftovers(aws))

    second = build(settings)  # a new process: new store connection, new clients, same sandbox SQL Server
    reporter = RecordingReporter()
    drills = drills_of(second, reporter)
    drills.run_until_idle(second)
    done = finished(drills, run.id)
    assert done.outcome == DrillOutcome.PASSED and reporter.of(run.id)[3] is False
    assert drill_leftovers(aws) == []
    second.close()


class DiesSavingDone:
    """The drill runs' store, in a process killed as it saves a run done: everything before that write happened."""

    def __init__(self, runs: object) -> None:
        self.runs = runs

    def __getattr__(self, name: str) -> object:
        return getattr(self.runs, name)

    def save(self, run: DrillRun) -> None:
        if run.phase == DrillPhase.DONE:
            raise SimulatedCrash("died saving the run done")
        self.runs.save(run)  # type: ignore[attr-defined]


def test_a_run_read_as_done_has_its_cleanup_told_and_audited_even_across_a_crash(settings: Settings, aws):
    # CI read a run as done before its "cleaned up" follow-up and audit event existed: they came after the save,
    # and a crash there lost them for good. They now come first; a crash there repeats the (empty) cleanup pass.
    first = build(settings)
    reporter = RecordingReporter()
    doomed = drills_of(first, reporter)
    doomed.runner.runs = DiesSavingDone(doomed.runner.runs)  # type: ignore[assignment]
    run = doomed.runner.start("nightly", "test").run
    with pytest.raises(SimulatedCrash):
        doomed.run_until_idle(first)
    assert [f[1] for f in reporter.follow_ups] == [run.id] and "cleaned up" in reporter.follow_ups[0][2]
    audited = [e.action for e in first.store.audit.audit_events() if e.actor == "drill:nightly"]
    assert audited[-1] == "drill.cleaned_up" and drill_leftovers(aws) == []
    first.close()

    second = build(settings)  # the restart finds the run cleaning, with nothing left to remove, and ends it
    drills = drills_of(second, RecordingReporter())
    drills.run_until_idle(second)
    assert finished(drills, run.id).outcome == DrillOutcome.PASSED and drill_leftovers(aws) == []
    second.close()


def test_two_drills_side_by_side_share_the_network_and_option_group_and_leave_nothing(settings: Settings, aws):
    # Every drill spec here is due each minute, so two of them start together: one makes the shared option group,
    # subnet group and security group, the other reuses them. Whichever finishes last removes them.
    app = build(settings)
    drills = drills_of(app, RecordingReporter())
    runs = [drills.runner.start(name, "schedule").run for name in ("nightly", "too-strict")]
    drills.run_until_idle(app)
    done = [finished(drills, run.id) for run in runs]
    jobs = [app.store.jobs.get_job(run.job_id or "") for run in done]
    makers = [job for job in jobs if job is not None and "subnet_group" in job.created_resources]
    assert len(makers) == 1 and "option_group" in makers[0].created_resources  # one made them, one reused them
    assert drill_leftovers(aws) == []
    app.close()


def test_a_drill_never_overlaps_itself(settings: Settings):
    app = build(settings)
    drills = drills_of(app, RecordingReporter())
    first = drills.runner.start("nightly", "schedule")
    again = drills.runner.start("nightly", "chat:U0ALICE")
    assert first.started and not again.started and again.run.id == first.run.id
    drills.run_until_idle(app)
    assert len(drills.runs.history("nightly")) == 1
    skipped = [e for e in app.store.audit.audit_events() if e.action == "drill.skipped"]
    assert skipped[0].detail["running"] == first.run.id
    app.close()


def test_the_sweeper_removes_a_leaked_drill_instance_and_reports_it(settings: Settings, aws):
    app = build(settings)
    reporter = RecordingReporter()
    drills = drills_of(app, reporter, sweeper_min_age=timedelta(0))
    # A drill restore whose runner never came back (no drill run at all), next to a real restore.
    command = parse_restore_command("prod-backup.bak db.m5.large")
    leaked = app.service.submit(command, "drill:x", approved=True, drill=True)
    real = app.service.submit(parse_restore_command("prod-backup.bak db.m5.large"), "U0ALICE", approved=True)
    app.engine.run_until_idle(timeout_seconds=60)
    removed = drills.sweeper.sweep()
    assert removed == [leaked.job.plan.target_instance_id]
    assert reporter.reports[-1][2].startswith("🧹 drill sweeper removed 1 leaked drill instance(s)")
    assert not [left for left in drill_leftovers(aws) if left.startswith("instance")]
    assert aws.rds.describe_db_instances(DBInstanceIdentifier=real.job.plan.target_instance_id)["DBInstances"]
    assert drills.sweeper.sweep() == []
    app.close()
