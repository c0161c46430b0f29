"""Restore chains (AWS guide "SQLServer.Procedural.Importing.Native.Using"): --diff, --log, --stop-at parsed and
checked before anything is stored, a log prefix expanded in name order, the step plan FULL -> DIFFERENTIAL -> logs
(the last with @stopat) -> rds_finish_restore, all WITH NORECOVERY, and a resumed job that sends no step twice."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot import card_facts, render
from bot.chain_stages import steps_of
from bot.domain import JobStatus, StageName, TaskLifecycle
from bot.errors import RequestError
from bot.parser import parse_restore_command
from bot.restore_chain import ChainSource, RestoreChain, StepKind, chain_steps
from tests.unit.fakes import FakeAws
from tests.unit.test_workflow import CrashingNotifier, SimulatedCrash, engine, world

B = "rdsbot-backups"
FULL = f"arn:aws:s3:::{B}/c/full.bak"
CHAIN_OBJECTS = {f"{B}/c/full.bak": 2**30, f"{B}/c/diff.bak": 2**20, f"{B}/c/log2.trn": 10, f"{B}/c/log1.trn": 10}
TEXT = "c/full.bak db.m5.large --diff c/diff.bak --log c/log* --stop-at 2026-11-26T03:57:09Z"
TYPES = [
    "chain:RESTORE_DB_NORECOVERY",
    "chain:RESTORE_DB_DIFFERENTIAL_NORECOVERY",
    "chain:RESTORE_DB_LOG_NORECOVERY",
    "chain:RESTORE_DB_LOG_NORECOVERY@stopat=2026-11-26 03:57:09",
    "chain:FINISH_RESTORE",
]


def chain_world():
    aws, store, clock, service = world()
    aws.objects.update(CHAIN_OBJECTS)
    return aws, store, clock, service


# Parsing.


def test_log_is_repeatable_and_keeps_the_order_given():
    request = parse_restore_command("f.bak db.m5.large --log b.trn --log a.trn --log s3://rdsbot-backups/x/l*")
    assert [(log.bucket, log.key, log.multi_file) for log in request.logs] == [
        (None, "b.trn", False),
        (None, "a.trn", False),
        ("rdsbot-backups", "x/l", True),
    ]


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("f.bak db.m5.large --log l.bak", "logs", "is not a .trn file"),
        ("f.bak db.m5.large --diff d.trn", "diff", "is not a .bak file"),
        ("f.bak db.m5.large --diff d.bak --diff e.bak", "diff", "--diff is given twice"),
        ("f.bak db.m5.large --log l.trn --stop-at yesterday", "stop_at", "is not an ISO-8601 time"),
        ("f.bak db.m5.large --log c/*x", "logs", "a `*` may only end"),
    ],
)
def test_bad_chain_flags_name_the_flag(text, field, words):
    with pytest.raises(RequestError) as refused:
        parse_restore_command(text)
    assert refused.value.field == field and words in str(refused.value)


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("2026-11-26T03:57:09Z", "2026-11-26 03:57:09"),
        ("2026-11-26T03:57:09+02:00", "2026-11-26 01:57:09"),
        ("2026-11-26T03:57:09", "2026-11-26 03:57:09"),  # no offset: UTC, the instance's time zone
    ],
)
def test_stop_at_is_sent_in_utc_in_sql_servers_form(given, sent):
    assert parse_restore_command(f"f.bak db.m5.large --log l.trn --stop-at {given}").stop_at == sent


# Request-time checks: refused before any card, nothing stored, no mutating call.


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("c/full.bak db.m5.large --stop-at 2026-11-26T03:57:09Z", "stop_at", "no --log was given"),
        ("c/full.bak db.m5.large --log c/log3.trn", "logs", "c/log3.trn does not exist"),
        ("c/full.bak db.m5.large --diff c/nodiff.bak", "diff", "does not exist"),
        ("c/full.bak db.m5.large --log s3://someone-else/l.trn", "logs", "not an allowed backup bucket"),
        ("c/full.bak db.m5.large --log c/*", "logs", "is not a .trn file"),  # the prefix matches the .bak files too
    ],
)
def test_a_bad_chain_is_refused_at_request_and_nothing_is_stored(text, field, words):
    aws, store, _, service = chain_world()
    with pytest.raises(RequestError) as refused:
        service.submit(parse_restore_command(text), "U1", approved=True)
    assert refused.value.field == field and words in str(refused.value)
    assert store.jobs.by_id == {} and aws.mutating == []


def test_more_than_ten_logs_under_one_prefix_are_refused_as_rds_limits_a_restore_to_ten_files():
    aws, store, _, service = chain_world()
    aws.objects.update({f"{B}/many/l{n:02}.trn": 1 for n in range(11)})
    with pytest.raises(RequestError) as refused:
        service.submit(parse_restore_command("c/full.bak db.m5.large --log many/l*"), "U1", approved=True)
    assert refused.value.field == "logs" and store.jobs.by_id == {}


def test_a_log_prefix_expands_to_its_logs_in_name_order_on_the_plan_and_the_card():
    _, _, _, service = chain_world()
    job = service.submit(parse_restore_command(TEXT), "U1").job
    assert job.plan.chain is not None
    assert [log.key for log in job.plan.chain.logs] == ["c/log1.trn", "c/log2.trn"]
    lines = [line for line in card_facts.card_lines(job, card_facts.PLAIN) if line.startswith("Step ")]
    assert lines == [
        "Step 1 of 5: full s3://rdsbot-backups/c/full.bak NORECOVERY",
        "Step 2 of 5: differential s3://rdsbot-backups/c/diff.bak NORECOVERY",
        "Step 3 of 5: log s3://rdsbot-backups/c/log1.trn NORECOVERY",
        "Step 4 of 5: log s3://rdsbot-backups/c/log2.trn NORECOVERY, stop at 2026-11-26 03:57:09 UTC",
        "Step 5 of 5: rds_finish_restore",
    ]


# The step plan.


def test_steps_run_full_then_diff_then_logs_with_stopat_only_on_the_last_then_finish():
    chain = RestoreChain(
        diff=ChainSource(bucket=B, key="d.bak"),
        logs=(ChainSource(bucket=B, key="1.trn"), ChainSource(bucket=B, key="2.trn")),
        stop_at="2026-11-26 03:57:09",
    )
    steps = chain_steps(FULL, chain)
    assert [(s.kind, s.s3_arn, s.stop_at) for s in steps] == [
        (StepKind.FULL, FULL, None),
        (StepKind.DIFFERENTIAL, f"arn:aws:s3:::{B}/d.bak", None),
        (StepKind.LOG, f"arn:aws:s3:::{B}/1.trn", None),
        (StepKind.LOG, f"arn:aws:s3:::{B}/2.trn", "2026-11-26 03:57:09"),
        (StepKind.FINISH, None, None),
    ]


def test_a_chain_without_a_differential_goes_from_the_full_to_the_logs():
    steps = chain_steps(FULL, RestoreChain(logs=(ChainSource(bucket=B, key="1.trn"),)))
    assert [s.task_type for s in steps] == ["RESTORE_DB_NORECOVERY", "RESTORE_DB_LOG_NORECOVERY", "FINISH_RESTORE"]


# Running and resuming.


def test_a_chain_sends_each_step_once_in_order_and_progress_says_which_step():
    aws, store, clock, service = chain_world()
    job = service.submit(parse_restore_command(TEXT), "U1", approved=True).job
    engine(aws, store, clock).run_until_idle(timeout_seconds=600)
    done = store.jobs.by_id[job.id]
    assert done.status == JobStatus.SUCCEEDED and done.percent_complete == 100
    assert [c for c in aws.calls if c.startswith("chain:")] == TYPES
    assert "rds_restore_database" not in aws.calls  # the full goes WITH NORECOVERY, as step 1
    halfway = done.model_copy(update={"outputs": done.outputs.model_copy(update={"chain_tasks": (1, 2, 3)})})
    assert str(render.progress_line(halfway, 50)).endswith("50% (step 3 of 5)")


@pytest.mark.parametrize("percent", [20, 40, 60, 80])
def test_a_crash_between_steps_resumes_without_sending_any_step_twice(percent):
    aws, store, clock, service = chain_world()
    job = service.submit(parse_restore_command(TEXT), "U1", approved=True).job
    with pytest.raises(SimulatedCrash):
        engine(aws, store, clock, CrashingNotifier(on_progress=percent)).run_until_idle(timeout_seconds=600)
    engine(aws, store, clock).run_until_idle(timeout_seconds=600)
    assert store.jobs.by_id[job.id].status == JobStatus.SUCCEEDED
    assert [c for c in aws.calls if c.startswith("chain:")] == TYPES


def test_a_step_sent_but_not_saved_is_found_by_type_and_arn_and_not_sent_again():
    aws, store, clock, service = chain_world()
    job = service.submit(parse_restore_command(TEXT), "U1", approved=True).job
    eng = engine(aws, store, clock)
    while store.jobs.by_id[job.id].current_stage.name != StageName.RESTORE_WAIT:
        eng.tick()
    saved = store.jobs.by_id[job.id]
    # The bot sent step 2 and died before saving: SQL Server has the task, the store does not.
    aws.tasks[1] = aws.tasks[1].model_copy(update={"lifecycle": TaskLifecycle.SUCCESS, "percent_complete": 100})
    step2 = steps_of(saved.plan)[1]
    aws.start_chain_step(None, saved.plan.database_name, step2)
    eng.run_until_idle(timeout_seconds=600)
    assert [c for c in aws.calls if c.startswith("chain:")] == TYPES


def test_a_failed_log_says_the_database_is_restoring_and_how_to_finish_or_drop_it():
    aws, store, clock, service = chain_world()
    job = service.submit(parse_restore_command(TEXT), "U1", approved=True).job
    original = FakeAws.task_status

    def log_fails(self, instance, task_id):
        status = original(self, instance, task_id)
        if status.task_type.startswith("RESTORE_DB_LOG"):
            return status.model_copy(update={"lifecycle": TaskLifecycle.ERROR, "reason": "the log is not next"})
        return status

    aws.task_status = log_fails.__get__(aws)
    engine(aws, store, clock).run_until_idle(timeout_seconds=600)
    failed = store.jobs.by_id[job.id]
    assert failed.status == JobStatus.FAILED
    assert "step 3 of 5 (log s3://rdsbot-backups/c/log1.trn NORECOVERY) failed: the log is not next" in str(
        failed.error
    )
    assert "left RESTORING" in str(failed.error)
    assert "exec msdb.dbo.rds_finish_restore @db_name='full'" in str(failed.error)
    assert "exec msdb.dbo.rds_drop_database @db_name='full'" in str(failed.error)
    assert "chain:FINISH_RESTORE" not in aws.calls


# --chain PREFIX: picked by S3 LastModified (ties by key), a file's kind by its name.


def at(day: int) -> datetime:
    return datetime(2026, 11, day, tzinfo=UTC)


def test_chain_takes_the_newest_full_then_the_newest_diff_after_it_then_the_logs_after_that():
    aws, _, _, service = world()
    listing = {
        "n/FULL_1.bak": at(1),  # an older full, and its diff and log: not this chain
        "n/DIFF_1.bak": at(2),
        "n/LOG_1.trn": at(2),
        "n/FULL_2.bak": at(3),
        "n/LOG_2.trn": at(4),  # before the diff: the diff holds it already
        "n/DIFF_2.bak": at(5),
        "n/LOG_4.trn": at(7),  # out of name order: LastModified decides
        "n/LOG_3.trn": at(6),
        "n/notes.txt": at(8),
    }
    for key, modified in listing.items():
        aws.objects[f"{B}/{key}"] = 10
        aws.modified[f"{B}/{key}"] = modified
    job = service.submit(parse_restore_command("--chain n/ db.m5.large --stop-at 2026-11-07T01:00:00Z"), "U1").job
    assert job.plan.backup_key == "n/FULL_2.bak" and job.plan.chain is not None
    assert job.plan.chain.diff is not None and job.plan.chain.diff.key == "n/DIFF_2.bak"
    assert [log.key for log in job.plan.chain.logs] == ["n/LOG_3.trn", "n/LOG_4.trn"]
    assert job.plan.chain.stop_at == "2026-11-07 01:00:00"


def test_chain_on_the_seeded_names_with_one_upload_time_orders_by_key():
    _, _, _, service = chain_world()  # every object at the fake's one LastModified, as a quick upload makes them
    job = service.submit(parse_restore_command("--chain c/ db.m5.large"), "U1").job
    assert job.plan.backup_key == "c/full.bak" and job.plan.chain is not None
    assert job.plan.chain.diff is not None and job.plan.chain.diff.key == "c/diff.bak"
    assert [log.key for log in job.plan.chain.logs] == ["c/log1.trn", "c/log2.trn"]


@pytest.mark.parametrize(
    ("text", "words", "listed"),
    [
        ("--chain c/ db.m5.large --log c/log1.trn", "--chain finds the differential and the logs itself", False),
        ("--chain c/ full.bak db.m5.large", "takes the instance class as its only other word", False),
        ("--chain s3://someone-else/c/ db.m5.large", "not an allowed backup bucket", False),
        ("--chain nothing/ db.m5.large", "no full backup", True),
    ],
)
def test_a_bad_chain_prefix_is_refused_naming_chain_and_a_refused_bucket_is_never_listed(text, words, listed):
    aws, store, _, service = chain_world()
    with pytest.raises(RequestError) as refused:
        service.submit(parse_restore_command(text), "U1", approved=True)
    assert refused.value.field == "chain" and words in str(refused.value)
    assert ("list_objects" in aws.calls) == listed and store.jobs.by_id == {}
