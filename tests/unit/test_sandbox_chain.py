"""The sandbox's side of a restore chain, held to the AWS guide "SQLServer.Procedural.Importing.Native.Using":
rds_restore_log's @stopat is taken and shows in rds_task_status (a sandbox that parsed @stopat and dropped it, as
this one did, fails here), and rds_task_status @db_name lists every step's task with its type and S3 ARN, which is
what a resumed chain matches its sent steps by."""

from __future__ import annotations

from aws.native_restore import procedures
from bot.restore_chain import ChainStep, StepKind
from tests.unit.test_sandbox_procedures_strict import ARN, finish_all, instance, world  # noqa: F401 (fixture)

STOP = "2026-11-26 03:57:09"
STEPS = (
    ChainStep(kind=StepKind.FULL, s3_arn=ARN),
    ChainStep(kind=StepKind.DIFFERENTIAL, s3_arn=ARN),
    ChainStep(kind=StepKind.LOG, s3_arn=ARN, stop_at=STOP),
    ChainStep(kind=StepKind.FINISH),
)


def test_each_chain_step_is_one_documented_statement_with_values_bound():
    sent = [procedures.chain_statement("Prod", step) for step in STEPS]
    assert [(s.procedure, dict(s.params).get("type"), dict(s.params).get("with_norecovery")) for s in sent] == [
        (procedures.RESTORE_DATABASE, "FULL", 1),
        (procedures.RESTORE_DATABASE, "DIFFERENTIAL", 1),
        (procedures.RESTORE_LOG, None, 1),
        (procedures.FINISH_RESTORE, None, None),
    ]
    assert dict(sent[2].params)["stopat"] == STOP and STOP not in sent[2].sql


def test_stopat_shows_in_rds_task_status_and_every_step_is_listed_by_database(world):
    clock, _, server, client = world
    target = instance()
    task_ids = []
    for step in STEPS:
        task_ids.append(client.start_chain_step(target, "Prod", step))
        finish_all(clock)
    tasks = client.tasks_for(target, "prod")  # names compare case-insensitively, as RDS's lookup does
    assert [(t.task_id, t.task_type, t.s3_object_arn) for t in tasks] == [
        (task_ids[0], "RESTORE_DB_NORECOVERY", ARN),
        (task_ids[1], "RESTORE_DB_DIFFERENTIAL_NORECOVERY", ARN),
        (task_ids[2], "RESTORE_DB_LOG_NORECOVERY", ARN),
        (task_ids[3], "FINISH_RESTORE", None),
    ]
    assert f"stopped at {STOP}" in tasks[2].task_info
    assert all("stopped at" not in t.task_info for t in (tasks[0], tasks[1]))
    assert "Prod" in server.databases(target.endpoint_address or "")
