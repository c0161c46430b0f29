"""/healthz, /readyz and /metrics from their parts: each can fail, and says why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from slack_sdk.http_retry.response import HttpResponse

from bot.domain import JobStatus, Stage, StageName, StageStatus
from bot.metrics import FixedOutbox, Metrics, StoreCollector
from bot.probes import Probes
from handlers.slack_errors import _error_of


class Loop:
    poll_seconds = 1.0

    def __init__(self, alive: bool = True, last_turn: float | None = 100.0) -> None:
        self.loop_alive, self.last_turn = alive, last_turn


def probes(ping=lambda: None, loop=None, stopping=False, now=110.0, leader=True) -> Probes:
    return Probes(ping, loop or Loop(), {"restore engine": lambda: leader}, lambda: stopping, monotonic=lambda: now)


def unreachable() -> None:
    raise ConnectionRefusedError("connection to 127.0.0.1:5432 refused")


def test_ready_when_the_store_answers_and_the_loop_turns_and_leadership_is_reported_not_required():
    report = probes(leader=False).readiness()
    assert report.ok and report.leader == {"restore engine": False}


def test_not_ready_when_the_store_is_unreachable_naming_the_error():
    report = probes(ping=unreachable).readiness()
    assert not report.ok and "ConnectionRefusedError" in report.checks["store"]
    assert probes(ping=unreachable).liveness().ok  # a store outage is not cured by a restart


def test_not_ready_when_the_loop_has_died_or_stalled_or_never_turned():
    assert "not running" in probes(loop=Loop(alive=False)).readiness().checks["engine_loop"]
    assert "not turned" in probes(loop=Loop(last_turn=None)).readiness().checks["engine_loop"]
    stalled = probes(now=100.0 + 121).readiness()
    assert not stalled.ok and "last turned 121 s ago" in stalled.checks["engine_loop"]
    assert probes(now=100.0 + 119).readiness().ok


def test_not_ready_while_shutting_down_yet_still_alive():
    stopping = probes(loop=Loop(alive=False), stopping=True)
    assert not stopping.readiness().ok and "shutting down" in stopping.readiness().checks["shutdown"]
    assert stopping.liveness().ok


def test_not_alive_when_the_loop_has_died():
    assert not probes(loop=Loop(alive=False)).liveness().ok


class Counts:
    def __init__(self, counts=None, fail=False):
        self.counts, self.fail = counts or {}, fail

    def count_by_status(self):
        if self.fail:
            raise ConnectionRefusedError("store down")
        return self.counts


def test_metrics_report_jobs_by_status_outbox_depth_and_dead_letters():
    metrics = Metrics()
    outboxes = {"slack": FixedOutbox(lambda: 3)}
    metrics.register(StoreCollector(Counts({"running": 2, "succeeded": 5}), outboxes))
    text = metrics.exposition().decode()
    assert 'rdsbot_jobs{status="running"} 2.0' in text
    assert 'rdsbot_jobs{status="succeeded"} 5.0' in text
    assert 'rdsbot_jobs{status="failed"} 0.0' in text  # every status, zeros too
    assert 'rdsbot_outbox_depth{outbox="slack"} 3.0' in text
    assert 'rdsbot_outbox_dead_letters{outbox="slack"} 0.0' in text
    assert "rdsbot_store_up 1.0" in text


def test_metrics_say_the_store_is_down_instead_of_failing_the_scrape():
    metrics = Metrics()
    metrics.register(StoreCollector(Counts(fail=True), {}))
    text = metrics.exposition().decode()
    assert "rdsbot_store_up 0.0" in text and "rdsbot_jobs{" not in text


def test_stage_durations_time_to_restore_and_errors_are_counted_as_they_happen():
    from bot.parser import parse_restore_command
    from tests.unit.test_workflow import world

    _, _, _, service = world()
    job = service.submit(parse_restore_command("prod-backup.bak db.m5.large"), "U1", approved=True).job
    began = datetime(2026, 1, 1, tzinfo=UTC)
    metrics = Metrics()
    stage = Stage(name=StageName.NETWORK, status=StageStatus.SUCCEEDED, started_at=began)
    stage.finished_at = began + timedelta(seconds=4)
    metrics.stage_changed(job, stage)
    job.status, job.started_at, job.finished_at = JobStatus.SUCCEEDED, began, began + timedelta(minutes=20)
    metrics.job_finished(job)
    metrics.aws_error("rds", "DBInstanceAlreadyExists")
    metrics.slack_error("chat.postMessage", "ratelimited")
    text = metrics.exposition().decode()
    assert 'rdsbot_stage_duration_seconds_sum{stage="network"} 4.0' in text
    assert 'rdsbot_time_to_restore_seconds_sum{kind="request"} 1200.0' in text
    assert 'rdsbot_jobs_finished_total{kind="request",status="succeeded"} 1.0' in text
    assert 'rdsbot_aws_errors_total{code="DBInstanceAlreadyExists",service="rds"} 1.0' in text
    assert 'rdsbot_slack_errors_total{error="ratelimited",method="chat.postMessage"} 1.0' in text


def Answer(status_code: int, body: dict[str, object] | None = None) -> HttpResponse:
    return HttpResponse(status_code=status_code, headers={}, body=body)


def test_a_slack_error_is_an_http_failure_an_ok_false_answer_or_no_answer():
    assert _error_of(Answer(503), None) == "http_503"
    assert _error_of(Answer(200, {"ok": False, "error": "channel_not_found"}), None) == "channel_not_found"
    assert _error_of(None, TimeoutError("read timed out")) == "TimeoutError"
    assert _error_of(Answer(200, {"ok": True}), None) is None


class History:
    def __init__(self, runs):
        self.runs = runs

    def history(self, drill_name=None, limit=10):
        return [run for run in self.runs if run.drill_name == drill_name][:limit]


def test_metrics_report_each_drills_last_result_time_to_restore_and_target():
    from bot.drills.runs import DrillOutcome, DrillRun

    day = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)

    def run(name, days, outcome, seconds):
        return DrillRun(
            id=f"d{name}{days}",
            drill_name=name,
            trigger="schedule",
            created_at=day + timedelta(days=days),
            rto_minutes=30,
            outcome=outcome,
            time_to_restore_seconds=seconds,
        )

    runs = [
        run("nightly", 0, DrillOutcome.PASSED, 600.0),
        run("nightly", 1, DrillOutcome.FAILED, 2400.0),  # the latest: it is what the gauges say
        run("weekly", 0, None, None),  # still running: no result yet
    ]
    metrics = Metrics()
    metrics.register(StoreCollector(Counts(), {}, History(runs), ["nightly", "weekly"]))
    text = metrics.exposition().decode()
    assert 'rdsbot_drill_last_passed{drill="nightly"} 0.0' in text
    assert 'rdsbot_drill_last_time_to_restore_seconds{drill="nightly"} 2400.0' in text
    assert 'rdsbot_drill_rto_seconds{drill="nightly"} 1800.0' in text
    assert 'drill="weekly"' not in text
