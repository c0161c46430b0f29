"""`/rds-restore cancel <job> --rollback` over Slack on the moto server and the sandbox SQL Server: a restore that
is running is stopped, then its instance (with no final snapshot) and the groups only it used are deleted, each
deletion audited; what it did not create stays. And `--into` over Slack: an existing database is refused before
any card, naming --replace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from aws.clients import AwsClients
from bot.blocks import APPROVE_ACTION, CLEANUP_ACTION
from bot.domain import JobStatus, StageName, StageStatus
from bot.lifecycle.model import LifecyclePhase
from tests.scenario.conftest import ALICE, BOB, CAROL, Story, running_story
from tests.support.fake_slack import RESPONSE_URL
from tests.support.waiting import eventually


@pytest.fixture
def slow_story(aws: AwsClients, tmp_path: Path) -> Iterator[Story]:
    # A restore long enough to be cancelled while it runs; the test waits on its stage, never on the clock.
    with running_story(tmp_path, restore_seconds=600) as running:
        yield running


def gone(call) -> bool:
    try:
        call()
    except ClientError as exc:
        return exc.response["Error"]["Code"] in (
            "DBInstanceNotFound",
            "DBSubnetGroupNotFoundFault",
            "InvalidGroup.NotFound",
            "OptionGroupNotFoundFault",
        )
    return False


def test_cancel_with_rollback_deletes_what_the_running_restore_created_and_nothing_else(slow_story, aws):
    story = slow_story
    # Something the job did not create, in the same VPC: it must survive the rollback.
    vpc = aws.ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    bystander = aws.ec2.create_security_group(GroupName="not-rdsbots", Description="x", VpcId=vpc)["GroupId"]
    story.command("/rds-restore", "prod-backup.bak db.m5.large --name rdsbot-rollback", ALICE)
    _, job_id = story.wait_card()
    story.click(APPROVE_ACTION, job_id, BOB)
    eventually(
        lambda: story.job(job_id).stage(StageName.RESTORE_WAIT).status == StageStatus.RUNNING, 30, "restore running"
    )
    made = story.job(job_id).created_resources
    assert made["instance"] == "rdsbot-rollback"

    status, _ = story.command("/rds-restore", f"cancel {job_id} --rollback", ALICE, response_id="rb")
    assert status == 200
    reply = story.slack.wait_for(RESPONSE_URL, lambda c: c.response_id == "rb", timeout=15)
    assert f"rolling back {job_id}" in str(reply.body["text"])

    eventually(lambda: story.job(job_id).status == JobStatus.CANCELLED, 30, "the job stops")
    # The cancelled job's last message offers the same clean-up as a button; someone else's click changes nothing.
    _, card_ts = story.card_of(job_id)
    offer = story.slack.wait_for(
        "chat.postMessage", lambda c: c.body.get("thread_ts") == card_ts and bool(c.field("blocks")), timeout=15
    )
    buttons = [e for b in offer.field("blocks") if b["type"] == "actions" for e in b["elements"]]
    assert [(b["action_id"], b["value"], b["text"]["text"]) for b in buttons] == [(CLEANUP_ACTION, job_id, "Clean up")]
    story.click(CLEANUP_ACTION, job_id, CAROL)
    refused = story.slack.wait_for("chat.postEphemeral", lambda c: c.body.get("user") == CAROL, timeout=15)
    assert "rds-admins" in str(refused.body["text"])
    records = story.app.store.lifecycles
    eventually(lambda: (r := records.get(job_id)) is not None and r.phase == LifecyclePhase.DELETED, 30, "rolled back")
    assert gone(lambda: aws.rds.describe_db_instances(DBInstanceIdentifier="rdsbot-rollback"))
    assert aws.rds.describe_db_snapshots(DBInstanceIdentifier="rdsbot-rollback")["DBSnapshots"] == []
    if "subnet_group" in made:
        assert gone(lambda: aws.rds.describe_db_subnet_groups(DBSubnetGroupName=made["subnet_group"]))
    if "security_group" in made:
        assert gone(lambda: aws.ec2.describe_security_groups(GroupIds=[made["security_group"]]))
    assert aws.ec2.describe_security_groups(GroupIds=[bystander])["SecurityGroups"]
    actions = story.audit_actions(job_id)
    assert "restore_task.cancel_sent" in actions and "instance.delete_requested" in actions
    # Carol's refused click is audited too, before or after the deletion (the rollback does not wait for it).
    events = story.app.store.audit.audit_events(job_id)
    refusals = [e for e in events if e.action == "instance.delete_refused"]
    assert [e.actor for e in refusals] == [CAROL]
    assert actions.count("instance.deleted") == 1
    deleted = next(e for e in events if e.action == "instance.deleted").detail
    assert "instance rdsbot-rollback" in deleted["removed"] and deleted["final_snapshot"] is None


def test_into_an_instance_holding_the_database_is_refused_before_any_card(story, aws):
    story.command("/rds-restore", "prod-backup.bak db.m5.large --name rdsbot-first", ALICE)
    _, job_id = story.wait_card()
    story.click(APPROVE_ACTION, job_id, BOB)
    eventually(lambda: story.job(job_id).status.finished, 30, "first restore")
    assert story.job(job_id).status == JobStatus.SUCCEEDED
    cards = len([c for c in story.slack.calls("chat.postMessage") if c.field("blocks")])

    story.command("/rds-restore", "prod-backup.bak --into rdsbot-first", ALICE, response_id="into")
    refusal = story.slack.wait_for(RESPONSE_URL, lambda c: c.response_id == "into" and "Cannot" in str(c.body), 15)
    assert "database prod_backup already exists on rdsbot-first" in str(refusal.body["text"])
    assert "--replace" in str(refusal.body["text"])
    assert len([c for c in story.slack.calls("chat.postMessage") if c.field("blocks")]) == cards
