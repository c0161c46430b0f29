"""--into with a new option group, run by an IAM user holding only config/rdsbot-iam-policy.json while moto enforces
IAM (see test_restore_as_least_privileged_user.py for how, and for what moto cannot evaluate: resources off S3 and
conditions, checked statically in tests/unit/test_bot_iam_policy.py). ModifyDBInstance is the one new call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aws.clients import AwsClients
from bot.bootstrap import build
from bot.domain import JobStatus
from bot.parser import parse_restore_command
from config.settings import Settings
from tests.integration.test_into_option_group_change import INSTANCE, NEW_GROUP, team_world
from tests.integration.test_restore_as_least_privileged_user import (  # noqa: F401 (enforce_iam is a fixture)
    enforce_iam,
    moto_variant,
    shipped_policy,
)


@pytest.fixture
def settings(aws: AwsClients, tmp_path: Path) -> Settings:
    return team_world(aws, f"sqlite:///{tmp_path / 'jobs.db'}", tmp_path)


def _restore_into(settings: Settings) -> Any:
    app = build(settings)
    try:
        request = parse_restore_command(f"prod-backup.bak --into {INSTANCE}")
        job = app.service.submit(request, "U0ALICE", approved=True).job
        app.engine.run_until_idle(timeout_seconds=60)
        return app.store.jobs.get_job(job.id)
    finally:
        app.close()


def test_the_shipped_policy_suffices_to_give_an_into_instance_its_new_option_group(
    settings,
    enforce_iam,  # noqa: F811 (the fixture)
    aws,
    monkeypatch,
):
    enforce_iam(moto_variant(shipped_policy()), monkeypatch)

    done = _restore_into(settings)

    assert done is not None and done.status == JobStatus.SUCCEEDED, done.error if done else None
    assert done.outputs.option_group == NEW_GROUP


def test_without_modify_db_instance_the_change_is_denied(
    settings,
    enforce_iam,  # noqa: F811 (the fixture)
    aws,
    monkeypatch,
):
    enforce_iam(moto_variant(shipped_policy(), without="rds:ModifyDBInstance"), monkeypatch)

    done = _restore_into(settings)

    assert done is not None and done.status == JobStatus.FAILED, done.status
    assert "AccessDenied" in str(done.error) and "rds:ModifyDBInstance" in str(done.error), done.error
