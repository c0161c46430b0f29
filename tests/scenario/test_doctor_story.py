"""rdsbot doctor from outside: the CLI against the moto server and the fake Slack Web API, configured only by the
environment variables the README names; and /rds-doctor through the signed Slack request path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from aws.clients import AwsClients
from aws.sandbox.moto_seed import SANDBOX_USERS, seed_sandbox
from bot.bootstrap import build_doctor
from bot.entrypoints import cli
from bot.store import SqlStore
from config.policy_model import EXAMPLE_POLICY, load_policy
from handlers.slack_readiness import manifest_bot_scopes
from tests.scenario.conftest import CAROL, Story, ephemeral_text
from tests.support.aws_calls import CallRecorder
from tests.support.fake_slack import FakeSlackApi

# Slack methods that only read; anything else the doctor sent would be a write.
READ_ONLY_SLACK = {"auth.test", "conversations.list", "usergroups.list", "usergroups.users.list"}


@dataclass
class World:
    aws: AwsClients
    slack: FakeSlackApi

    def doctor(self, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
        code = cli.main(["doctor", *args])
        return code, capsys.readouterr().out


@pytest.fixture
def world(aws: AwsClients, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """A well set up account and workspace: the sandbox seed, every manifest scope, both channels joined."""
    seed_sandbox(load_policy(None))
    database_url = f"sqlite:///{tmp_path / 'rdsbot.db'}"
    SqlStore(database_url).close()  # the store at its latest migration, as a started bot leaves it
    with FakeSlackApi(scopes=manifest_bot_scopes()) as slack:
        slack.add_channel("rds-approvals")
        slack.add_channel("rds-drills")
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-doctor-test")
        monkeypatch.setenv("RDSBOT_SLACK_API_URL", slack.base_url)
        monkeypatch.setenv("RDSBOT_DATABASE_URL", database_url)
        # `rdsbot doctor` refuses to start without a policy file of its own; the sandbox seed matches the example.
        monkeypatch.setenv("RDSBOT_CONFIG", str(EXAMPLE_POLICY))
        yield World(aws, slack)


def _fail_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("FAIL")]


def test_a_well_set_up_world_exits_0_with_no_fail(world: World, capsys: pytest.CaptureFixture[str]):
    code, out = world.doctor(capsys)
    assert _fail_lines(out) == []
    assert code == 0
    # moto cannot simulate permissions: said as a warn, never as ok.
    assert any(line.startswith("warn  identity  permissions") for line in out.splitlines())
    assert "ok    slack     token scopes" in out
    assert "ok    slack     channel: approvals.channel: #rds-approvals" in out


def test_the_json_report_is_the_same_checks_as_objects(world: World, capsys: pytest.CaptureFixture[str]):
    code, out = world.doctor(capsys, "--json")
    report = json.loads(out)
    assert code == 0
    assert {r["status"] for r in report} <= {"ok", "warn"}
    assert {"area", "check", "status", "subject", "detail", "fix"} == set(report[0])
    assert any(r["area"] == "approvers" and r["subject"] == "IAM group rds-admins" for r in report)
    # The version a restore gets, per region: the drill's class at home, the usage lines' class where no drill runs.
    # moto lists no SQL Server orderable options, so RDS's own default of the major is what the doctor can say.
    versions = {r["subject"]: (r["status"], r["detail"]) for r in report if r["check"] == "engine version"}
    default = "RDS lists none: the instance gets RDS's default 15.00 version, as none is listed to choose from"
    assert versions == {
        "sqlserver-se 15.00 on db.m6i.large in us-east-1 (drills prod-nightly)": ("warn", default),
        "sqlserver-se 15.00 on db.m5.large in us-west-2 (no drill here; the usage lines' class)": ("warn", default),
    }


def test_a_deleted_audit_bucket_fails_naming_the_bucket(world: World, capsys: pytest.CaptureFixture[str]):
    world.aws.s3.delete_bucket(Bucket="rdsbot-audit")
    code, out = world.doctor(capsys)
    assert code == 1
    [line] = _fail_lines(out)
    assert "audit bucket: s3://rdsbot-audit" in line and "does not exist" in line


def test_an_emptied_admin_group_fails_naming_the_group(world: World, capsys: pytest.CaptureFixture[str]):
    for name, (_, admin) in SANDBOX_USERS.items():
        if admin:
            world.aws.iam.remove_user_from_group(GroupName="rds-admins", UserName=name)
    code, out = world.doctor(capsys)
    assert code == 1
    [line] = _fail_lines(out)
    assert "IAM group rds-admins" in line and "no members" in line


def test_a_token_without_chat_write_fails_naming_the_scope(world: World, capsys: pytest.CaptureFixture[str]):
    world.slack.scopes = [s for s in manifest_bot_scopes() if s != "chat:write"]
    code, out = world.doctor(capsys)
    assert code == 1
    [line] = _fail_lines(out)
    assert "token scopes" in line and "missing chat:write" in line


def test_the_doctor_changes_nothing_in_aws_or_slack(world: World):
    doctor = build_doctor()
    assert doctor.clients_for is not None
    recorders = [CallRecorder(doctor.clients_for(region)) for region in ("us-east-1", "us-west-2")]
    report = doctor.run()
    calls = [call for recorder in recorders for call in recorder.calls]
    # SimulatePrincipalPolicy only evaluates policies ("The simulation does not perform the API operations").
    mutating = [c for r in recorders for c in r.mutating if c != ("iam", "SimulatePrincipalPolicy")]
    looked_at = {operation for _, operation in calls}
    assert {
        "GetCallerIdentity",
        "GetBucketLocation",
        "GetGroup",
        "DescribeVpcs",
        "DescribeOptionGroupOptions",
        "DescribeOrderableDBInstanceOptions",
    } <= looked_at
    assert report.exit_code == 0
    assert mutating == []
    slack_methods = {c.method for c in world.slack.calls()}
    assert "auth.test" in slack_methods
    assert slack_methods <= READ_ONLY_SLACK


def test_rds_doctor_from_a_non_admin_is_refused(story: Story):
    status, body = story.command("/rds-doctor", "", CAROL, response_id="doc")
    assert status == 200 and "Checking" in ephemeral_text(body)
    answer = story.slack.wait_for("response_url", lambda c: c.response_id == "doc", timeout=15)
    assert str(answer.body.get("text", "")).startswith("Refused: only members of rds-admins may run doctor")


def test_a_drill_channel_the_bot_is_not_in_fails_naming_the_channel(world: World, capsys: pytest.CaptureFixture[str]):
    world.slack.reset()  # forget the channels; add them back with the bot outside #rds-drills
    world.slack.add_channel("rds-approvals")
    world.slack.add_channel("rds-drills", is_member=False)
    code, out = world.doctor(capsys)
    assert code == 1
    [line] = _fail_lines(out)
    assert "drills.prod-nightly.report_channel: #rds-drills" in line and "not a member" in line
    assert "/invite @rdsbot in #rds-drills" in out
