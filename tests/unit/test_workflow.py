import pytest

from bot.domain import STAGE_ORDER, JobStatus, StageName, StageStatus, TaskLifecycle
from bot.errors import RequestError
from bot.parser import parse_restore_command
from bot.service import RestoreService
from bot.workflow import Engine
from config.policy_model import parse_policy
from tests.support.factories import BOT_NETWORK
from tests.unit.fakes import FakeAws, FakeClock, RecordingNotifier
from tests.unit.memory_store import MemoryStore

POLICY = parse_policy(
    {"backups": {"default_bucket": "rdsbot-backups"}, "audit": {"bucket": "rdsbot-audit"}, "network": BOT_NETWORK}
)


class SimulatedCrash(BaseException):
    """The process dies: not an Exception, so nothing in the engine may swallow it."""


class CrashingNotifier(RecordingNotifier):
    def __init__(self, after: StageName | None = None, on_progress: int | None = None) -> None:
        super().__init__()
        self.after, self.on_progress = after, on_progress

    def stage_changed(self, job, stage):
        super().stage_changed(job, stage)
        if stage.name == self.after and stage.status == StageStatus.SUCCEEDED:
            raise SimulatedCrash(stage.name)

    def progress(self, job, percent):
        super().progress(job, percent)
        if self.on_progress is not None and percent >= self.on_progress:
            raise SimulatedCrash("restore_wait")


def world():
    aws, store, clock = FakeAws(), MemoryStore(), FakeClock()
    service = RestoreService(store.jobs, store.audit, aws.gateways, POLICY, clock)
    return aws, store, clock, service


def engine(aws, store, clock, notifier=None):
    return Engine(store.jobs, aws.gateways, POLICY, notifier or RecordingNotifier(), clock, poll_seconds=5)


def test_a_restore_runs_every_stage_in_order_and_times_each():
    aws, store, clock, service = world()
    job = service.submit(parse_restore_command("prod-backup.bak db.m5.large"), "U1", approved=True).job
    engine(aws, store, clock).run_until_idle(timeout_seconds=600)
    done = store.jobs.by_id[job.id]
    assert done.status == JobStatus.SUCCEEDED and done.percent_complete == 100
    assert [s.status for s in done.stages] == [StageStatus.SUCCEEDED] * 8
    assert all(s.seconds is not None for s in done.stages)
    assert done.outputs.endpoint == f"{done.plan.target_instance_id}.example:1433"
    assert done.created_resources == {"instance": done.plan.target_instance_id}
    assert aws.mutating.count("create_instance") == 1 and aws.mutating.count("rds_restore_database") == 1


def test_jobs_awaiting_approval_are_not_run():
    aws, store, clock, service = world()
    job = service.submit(parse_restore_command("prod-backup.bak db.m5.large"), "U1").job
    assert engine(aws, store, clock).tick() == 0
    assert store.jobs.by_id[job.id].status == JobStatus.AWAITING_APPROVAL and aws.mutating == []


def test_waiting_jobs_share_one_describe_per_tick():
    aws, store, clock, service = world()
    aws.polls_until_available = 3
    for _ in range(3):
        service.submit(parse_restore_command("prod-backup.bak db.m5.large"), "U1", approved=True)
    eng = engine(aws, store, clock)
    eng.tick()
    aws.calls.clear()
    eng.tick()
    assert aws.calls.count("describe_many:3") == 1 and "find" not in aws.calls


@pytest.mark.parametrize("crash_after", list(STAGE_ORDER)[:-1])
def test_restart_after_any_stage_resumes_without_a_second_instance_or_restore(crash_after):
    aws, store, clock, service = world()
    job = service.submit(parse_restore_command("prod-backup.bak db.m5.large"), "U1", approved=True).job
    with pytest.raises(SimulatedCrash):
        engine(aws, store, clock, CrashingNotifier(after=crash_after)).run_until_idle(timeout_seconds=600)
    assert store.jobs.by_id[job.id].stage(crash_after).status == StageStatus.SUCCEEDED
    engine(aws, store, clock).run_until_idle(timeout_seconds=600)
    assert store.jobs.by_id[job.id].status == JobStatus.SUCCEEDED
    assert aws.mutating.count("create_instance") == 1
    assert aws.mutating.count("rds_restore_database") == 1


def test_restart_inside_restore_wait_keeps_polling_the_same_task():
    aws, store, clock, service = world()
    aws.polls_until_restored = 4
    job = service.submit(parse_restore_command("prod-backup.bak db.m5.large"), "U1", approved=True).job
    with pytest.raises(SimulatedCrash):
        engine(aws, store, clock, CrashingNotifier(on_progress=50)).run_until_idle(timeout_seconds=600)
    assert store.jobs.by_id[job.id].current_stage.name == StageName.RESTORE_WAIT
    engine(aws, store, clock).run_until_idle(timeout_seconds=600)
    assert store.jobs.by_id[job.id].status == JobStatus.SUCCEEDED
    assert aws.mutating.count("rds_restore_database") == 1 and len(aws.tasks) == 1


def test_a_failed_restore_task_fails_the_job_with_the_reason_and_what_was_left():
    aws, store, clock, service = world()
    job = service.submit(parse_restore_command("prod-backup.bak db.m5.large"), "U1", approved=True).job
    original = aws.task_status

    def failing(instance, task_id):
        status = original(instance, task_id)
        return status.model_copy(update={"lifecycle": TaskLifecycle.ERROR, "task_info": "Database already exists"})

    aws.task_status = failing
    notifier = RecordingNotifier()
    engine(aws, store, clock, notifier).run_until_idle(timeout_seconds=600)
    failed = store.jobs.by_id[job.id]
    assert failed.status == JobStatus.FAILED
    assert failed.stage(StageName.RESTORE_WAIT).status == StageStatus.FAILED
    assert "Database already exists" in (failed.error or "")
    assert failed.created_resources == {"instance": failed.plan.target_instance_id}
    assert store.events[-1].action == "job.failed"
    assert store.events[-1].detail["left_behind"] == {"instance": failed.plan.target_instance_id}
    assert notifier.messages[-1] == "finished failed"


def test_an_instance_name_taken_by_someone_else_is_never_adopted():
    aws, store, clock, service = world()
    first = service.submit(parse_restore_command("prod-backup.bak db.m5.large --name rdsbot-sh"), "U1", approved=True)
    engine(aws, store, clock).run_until_idle(timeout_seconds=600)
    second = service.submit(parse_restore_command("prod-backup.bak db.m5.large --name rdsbot-sh"), "U2", approved=True)
    engine(aws, store, clock).run_until_idle(timeout_seconds=600)
    assert store.jobs.by_id[first.job.id].status == JobStatus.SUCCEEDED
    assert store.jobs.by_id[second.job.id].status == JobStatus.FAILED
    assert "already exists and was not created by job" in (store.jobs.by_id[second.job.id].error or "")
    assert aws.mutating.count("create_instance") == 1


@pytest.mark.parametrize(
    ("text", "objects", "orderable", "field"),
    [
        ("missing.bak db.m5.large", None, None, "backup"),
        ("prod* db.m5.large", {f"rdsbot-backups/prod_{i}.bak": 1 for i in range(11)}, None, "backup"),
        ("prod-backup.bak db.m5.large", None, {"db.m6i.large"}, "instance_class"),
        ("prod-backup.bak db.x9.large", None, None, "instance_class"),
        ("prod-backup.bak db.m1.small", None, None, "instance_class"),
        ("prod-backup.bak db.m5.large --region us-west-2", None, None, "region"),
    ],
)
def test_bad_requests_make_no_mutating_call_and_create_no_job(text, objects, orderable, field):
    aws, store, _clock, service = world()
    if objects is not None:
        aws.objects = objects
    aws.orderable = orderable
    with pytest.raises(RequestError) as caught:
        service.submit(parse_restore_command(text), "U1", approved=True)
    assert caught.value.field == field
    assert aws.mutating == [] and store.jobs.by_id == {}
    assert store.events[-1].action == "request.refused" and store.events[-1].detail["field"] == field


def test_bucket_in_another_region_is_refused_before_anything_is_created():
    aws, _store, _clock, service = world()
    aws.region = "us-west-2"
    with pytest.raises(RequestError, match="RDS restores only from a bucket in the instance's region"):
        service.submit(parse_restore_command("prod-backup.bak db.m5.large"), "U1", approved=True)
    assert aws.mutating == []


def test_builtin_class_table_is_used_and_said_when_the_region_lists_nothing():
    _aws, _store, _clock, service = world()
    submitted = service.submit(parse_restore_command("prod-backup.bak db.m6i.large"), "U1", approved=True)
    assert any("built-in table" in w for w in submitted.job.plan.warnings)


def test_dry_run_plans_and_stores_nothing():
    aws, store, _clock, service = world()
    submitted = service.submit(parse_restore_command("prod-backup.bak db.m6i.large --dry-run"), "U1")
    assert submitted.job.plan.target_instance_id.startswith("rdsbot-prod-backup-")
    assert store.jobs.by_id == {} and aws.mutating == []


def test_a_connection_blip_while_waiting_is_retried_not_fatal():
    from bot.errors import TransientError

    aws, store, clock, service = world()
    job = service.submit(parse_restore_command("prod-backup.bak db.m5.large"), "U1", approved=True).job
    original, blips = aws.task_status, [2]

    def flaky(instance, task_id):
        if blips[0]:
            blips[0] -= 1
            raise TransientError("cannot reach SQL Server")
        return original(instance, task_id)

    aws.task_status = flaky
    engine(aws, store, clock).run_until_idle(timeout_seconds=600)
    assert store.jobs.by_id[job.id].status == JobStatus.SUCCEEDED
    assert store.jobs.by_id[job.id].engine.transient_failures == 0


def test_an_endpoint_that_never_answers_fails_the_job_in_the_end():
    from bot.errors import TransientError
    from bot.workflow import MAX_TRANSIENT_FAILURES

    aws, store, clock, service = world()
    job = service.submit(parse_restore_command("prod-backup.bak db.m5.large"), "U1", approved=True).job

    def down(instance, task_id):
        raise TransientError("cannot reach SQL Server")

    aws.task_status = down
    engine(aws, store, clock).run_until_idle(timeout_seconds=6000)
    failed = store.jobs.by_id[job.id]
    assert failed.status == JobStatus.FAILED and f"{MAX_TRANSIENT_FAILURES} attempts" in (failed.error or "")


def test_cancel_during_restore_wait_cancels_the_task_once_and_reports_what_was_left():
    aws, store, clock, service = world()
    aws.polls_until_restored = 10
    job = service.submit(parse_restore_command("prod-backup.bak db.m5.large"), "U1", approved=True).job
    eng = engine(aws, store, clock)
    while (
        store.jobs.by_id[job.id].current_stage.name != StageName.RESTORE_WAIT
        or not store.jobs.by_id[job.id].percent_complete
    ):
        eng.tick()
    stale = store.jobs.unfinished_jobs()[0]  # the engine's copy, loaded before the cancel request
    assert store.jobs.request_cancel(job.id, "U2")
    store.jobs.save_job(stale)  # an engine save after the request must not undo it
    eng.run_until_idle(timeout_seconds=600)
    cancelled = store.jobs.by_id[job.id]
    assert cancelled.status == JobStatus.CANCELLED and cancelled.error == "cancelled by U2 during restore_wait"
    assert cancelled.stage(StageName.RESTORE_WAIT).status == StageStatus.FAILED
    assert aws.calls.count("rds_cancel_task") == 1
    assert store.events[-1].action == "job.cancelled"
    assert store.events[-1].detail["left_behind"] == {"instance": cancelled.plan.target_instance_id}


def test_cancel_before_the_first_stage_touches_nothing():
    aws, store, clock, service = world()
    job = service.submit(parse_restore_command("prod-backup.bak db.m5.large"), "U1", approved=True).job
    aws.calls.clear()
    assert store.jobs.request_cancel(job.id, "U1")
    engine(aws, store, clock).run_until_idle(timeout_seconds=60)
    assert store.jobs.by_id[job.id].status == JobStatus.CANCELLED
    assert store.jobs.by_id[job.id].error == "cancelled by U1 before it started"
    assert aws.mutating == [] and not store.jobs.request_cancel(job.id, "U1")


def test_the_success_event_records_the_set_outputs_as_plain_json():
    aws, store, clock, service = world()
    job = service.submit(parse_restore_command("prod-backup.bak db.m5.large"), "U1", approved=True).job
    engine(aws, store, clock).run_until_idle(timeout_seconds=600)
    [succeeded] = [e for e in store.events if e.action == "job.succeeded" and e.job_id == job.id]
    outputs = succeeded.detail["outputs"]
    # The trail's shape from before outputs were typed: only keys a stage set, JSON values, no bookkeeping
    # (the fake instance has no ARN, so instance_arn is left out).
    assert sorted(outputs) == [
        "audit_role_arn",
        "backup_bytes",
        "backup_files",
        "console_url",
        "endpoint",
        "notes",
        "option_group",
        "role_arn",
        "security_group_id",
        "sqlserver_audit_extension",
        "sqlserver_audit_url",
        "subnet_group",
        "task_id",
        "vpc_id",
    ]
    assert type(outputs["task_id"]) is int and type(outputs["notes"]) is list
