"""A restore chain end to end on a moto server and the sandbox SQL Server: FULL and DIFFERENTIAL WITH NORECOVERY,
two logs (the last stopped at a time), rds_finish_restore, in that order (AWS guide
"SQLServer.Procedural.Importing.Native.Using"); a bot killed between two steps sends no step twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from aws.clients import AwsClients
from aws.native_restore.client import SqlNativeRestore
from aws.sandbox.moto_seed import seed_sandbox
from bot.bootstrap import Rdsbot
from bot.domain import Job, JobStatus, StageName
from bot.errors import RequestError
from bot.parser import parse_restore_command
from config.policy_model import load_policy
from config.settings import Settings
from tests.integration.test_restore_end_to_end import CrashOn, SimulatedCrash, sql, started

CHAIN = (
    "chain/full.bak db.m5.large --diff chain/diff.bak --log chain/log1.trn --log chain/log2.trn "
    "--stop-at 2026-11-26T03:57:09+01:00"
)
ARN = "arn:aws:s3:::rdsbot-backups/chain/"
# What SQL Server must see, in this order: (procedure, @type, @with_norecovery, ARN, @stopat).
EXPECTED = [
    ("msdb.dbo.rds_restore_database", "FULL", 1, ARN + "full.bak", None),
    ("msdb.dbo.rds_restore_database", "DIFFERENTIAL", 1, ARN + "diff.bak", None),
    ("msdb.dbo.rds_restore_log", None, 1, ARN + "log1.trn", None),
    ("msdb.dbo.rds_restore_log", None, 1, ARN + "log2.trn", "2026-11-26 02:57:09"),  # the +01:00 time, in UTC
    ("msdb.dbo.rds_finish_restore", None, None, None, None),
]
_STEPS = {proc for proc, *_ in EXPECTED}


@pytest.fixture
def chain_settings(aws: AwsClients, database_url: str, tmp_path: Path) -> Settings:
    seed_sandbox(load_policy(None))  # seeds the chain/ objects too, as the demo and the shell have them
    return Settings(
        database_url=database_url,
        sqlserver_driver="sandbox",
        sandbox_restore_seconds=0.3,  # five tasks one after another: quicker than one restore's 0.6 s
        sandbox_state_path=tmp_path / "sandbox.json",
        poll_seconds=0.05,
    )


def run_to_success(app: Rdsbot, job_id: str) -> Job:
    app.engine.run_until_idle(timeout_seconds=60)
    done: Job | None = app.store.jobs.get_job(job_id)
    assert done is not None and done.status == JobStatus.SUCCEEDED, done.error if done else None
    return done


def chain_calls(app) -> list[tuple[object, ...]]:
    return [
        (
            c.procedure,
            c.params.get("type"),
            c.params.get("with_norecovery"),
            c.params.get("s3_arn_to_restore_from"),
            c.params.get("stopat"),
        )
        for c in sql(app).calls
        if c.procedure in _STEPS
    ]


def test_a_chain_sends_full_diff_two_logs_and_finish_in_order_and_opens_the_database(chain_settings: Settings):
    app, _ = started(chain_settings)
    job = app.service.submit(parse_restore_command(CHAIN), "U0ALICE", approved=True).job
    done = run_to_success(app, job.id)
    assert chain_calls(app) == EXPECTED
    assert done.outputs.chain_tasks is not None and len(done.outputs.chain_tasks) == 5
    # The stop time reached SQL Server and rds_task_status shows where the last log stopped.
    gateways = app.gateways_for("us-east-1")
    state = gateways.instances.find(done.plan.target_instance_id)
    assert state is not None
    tasks = {t.task_id: t for t in gateways.native_restore.tasks_for(state, done.plan.database_name)}
    last_log = tasks[done.outputs.chain_tasks[3]]
    assert last_log.task_type == "RESTORE_DB_LOG_NORECOVERY" and "stopped at 2026-11-26 02:57:09" in last_log.task_info
    assert tasks[done.outputs.chain_tasks[4]].task_type == "FINISH_RESTORE"


def _crash_after_sending(step: int):
    """The process dies right after SQL Server took step `step` (1-based), before the bot saved its task id."""
    original = SqlNativeRestore.start_chain_step
    sent = 0

    def sending_then_dying(self, *args, **kwargs):
        nonlocal sent
        task_id = original(self, *args, **kwargs)
        sent += 1
        if sent == step:
            raise SimulatedCrash(f"after sending step {step}")
        return task_id

    return sending_then_dying


@pytest.mark.parametrize("step", [1, 2, 3, 4, 5], ids=lambda s: f"after-sending-step-{s}")
def test_a_bot_killed_right_after_sending_a_step_resumes_without_sending_it_again(
    chain_settings: Settings, monkeypatch: pytest.MonkeyPatch, step: int
):
    first, _ = started(chain_settings)
    job = first.service.submit(parse_restore_command(CHAIN), "U0ALICE", approved=True).job
    with monkeypatch.context() as patched, pytest.raises(SimulatedCrash):
        patched.setattr(SqlNativeRestore, "start_chain_step", _crash_after_sending(step))
        first.engine.run_until_idle(timeout_seconds=60)
    first.close()
    assert len(chain_calls(first)) == step  # the step reached SQL Server; its task id was never saved

    second, _ = started(chain_settings)
    run_to_success(second, job.id)
    assert chain_calls(second) == EXPECTED


def test_a_bot_killed_between_two_steps_while_waiting_resumes_from_the_saved_step(chain_settings: Settings):
    first, _ = started(chain_settings)
    first.notifier.add(CrashOn(percent=50))  # past the middle of the chain: step 3 of 5 under way
    job = first.service.submit(parse_restore_command(CHAIN), "U0ALICE", approved=True).job
    with pytest.raises(SimulatedCrash):
        first.engine.run_until_idle(timeout_seconds=60)
    first.close()

    second, _ = started(chain_settings)
    halfway = second.store.jobs.get_job(job.id)
    assert halfway is not None and halfway.current_stage is not None
    assert halfway.current_stage.name == StageName.RESTORE_WAIT and len(halfway.outputs.chain_tasks or ()) >= 3
    run_to_success(second, job.id)
    assert chain_calls(second) == EXPECTED


def test_a_missing_log_is_refused_at_request_naming_the_flag_and_nothing_is_stored(chain_settings: Settings):
    app, calls = started(chain_settings)
    with pytest.raises(RequestError) as refused:
        app.service.submit(
            parse_restore_command("chain/full.bak db.m5.large --log chain/log1.trn --log chain/log9.trn"),
            "U0ALICE",
            approved=True,
        )
    assert refused.value.field == "logs" and "chain/log9.trn does not exist" in refused.value.message
    assert app.store.jobs.unfinished_jobs() == [] and calls.count("CreateDBInstance") == 0


def test_chain_prefix_finds_the_seeded_full_diff_and_logs_by_last_modified_and_restores_them(chain_settings: Settings):
    app, _ = started(chain_settings)
    text = "--chain chain/ db.m5.large --stop-at 2026-11-26T03:57:09+01:00"
    job = app.service.submit(parse_restore_command(text), "U0ALICE", approved=True).job
    run_to_success(app, job.id)
    assert chain_calls(app) == EXPECTED
