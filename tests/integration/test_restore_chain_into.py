"""A restore chain onto an instance that exists (--into), on a moto server and the sandbox SQL Server: with
--replace, rds_drop_database first, then FULL and DIFFERENTIAL WITH NORECOVERY, two logs, rds_finish_restore, in
that order (AWS guide "SQLServer.Procedural.Importing.Native.Using"). The instance already ran the same chain into
the same name, so its task history holds a finished task for every step: a resumed job must neither take those
for its own nor send a step (or the drop) twice."""

from __future__ import annotations

import pytest

from aws.native_restore.client import SqlNativeRestore
from bot.bootstrap import Rdsbot
from bot.parser import parse_restore_command
from config.settings import Settings
from tests.integration.test_restore_chain_end_to_end import (
    CHAIN,
    EXPECTED,
    _crash_after_sending,
    chain_calls,
    chain_settings,  # noqa: F401 (a fixture)
    run_to_success,
)
from tests.integration.test_restore_end_to_end import CrashOn, SimulatedCrash, sql, started

DROP = "msdb.dbo.rds_drop_database"
_CHAIN_FLAGS = CHAIN.removeprefix("chain/full.bak db.m5.large")


def first_restore(app: Rdsbot) -> tuple[str, int]:
    """A chain into database `sales` on a new instance, which the --into chain then replaces; the number of
    procedure calls it made."""
    job = app.service.submit(parse_restore_command(f"{CHAIN} --db sales"), "U0ALICE", approved=True).job
    done = run_to_success(app, job.id)
    return done.plan.target_instance_id, len(sql(app).calls)


def into_chain(instance_id: str) -> str:
    return f"chain/full.bak --into {instance_id} --db sales --replace{_CHAIN_FLAGS}"


def test_a_chain_into_an_existing_instance_drops_then_sends_every_step_in_order(chain_settings: Settings):  # noqa: F811
    app, _ = started(chain_settings)
    instance_id, start = first_restore(app)
    job = app.service.submit(parse_restore_command(into_chain(instance_id)), "U0ALICE", approved=True).job
    assert job.plan.into is not None and job.plan.into.database_existed is True and job.plan.chain is not None
    done = run_to_success(app, job.id)
    new_calls = sql(app).calls[start:]
    procedures = [c.procedure for c in new_calls if c.procedure in {DROP, *(e[0] for e in EXPECTED)}]
    assert procedures == [DROP, *(e[0] for e in EXPECTED)]
    assert chain_calls(app)[-5:] == EXPECTED and len(chain_calls(app)) == 10
    assert done.created_resources == {} and done.outputs.task_floor is not None
    assert min(done.outputs.chain_tasks or ()) > done.outputs.task_floor


@pytest.mark.parametrize("step", [1, 3], ids=lambda s: f"after-sending-step-{s}")
def test_a_chain_into_an_existing_instance_resumes_after_a_crash_without_a_second_drop_or_step(
    chain_settings: Settings,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    step: int,
):
    first, _ = started(chain_settings)
    instance_id, start = first_restore(first)
    job = first.service.submit(parse_restore_command(into_chain(instance_id)), "U0ALICE", approved=True).job
    with monkeypatch.context() as patched, pytest.raises(SimulatedCrash):
        patched.setattr(SqlNativeRestore, "start_chain_step", _crash_after_sending(step))
        first.engine.run_until_idle(timeout_seconds=60)
    first.close()

    second, _ = started(chain_settings)
    run_to_success(second, job.id)
    new_calls = [c.procedure for c in sql(second).calls[start:]]
    assert new_calls.count(DROP) == 1
    assert chain_calls(second)[-5:] == EXPECTED and len(chain_calls(second)) == 10


def test_a_chain_into_an_existing_instance_killed_while_waiting_mid_chain_resumes_from_the_saved_step(
    chain_settings: Settings,  # noqa: F811
):
    first, _ = started(chain_settings)
    instance_id, start = first_restore(first)
    first.notifier.add(CrashOn(percent=50))  # past the middle of the chain: step 3 of 5 under way
    job = first.service.submit(parse_restore_command(into_chain(instance_id)), "U0ALICE", approved=True).job
    with pytest.raises(SimulatedCrash):
        first.engine.run_until_idle(timeout_seconds=60)
    first.close()

    second, _ = started(chain_settings)
    halfway = second.store.jobs.get_job(job.id)
    assert halfway is not None and len(halfway.outputs.chain_tasks or ()) >= 3
    run_to_success(second, job.id)
    new_calls = [c.procedure for c in sql(second).calls[start:]]
    assert new_calls.count(DROP) == 1
    assert chain_calls(second)[-5:] == EXPECTED and len(chain_calls(second)) == 10
