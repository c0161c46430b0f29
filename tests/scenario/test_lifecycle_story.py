"""A restore's instance does not bill forever, as Slack and AWS see it: `--keep 2m`, a reminder with a button in
the job's thread, then the instance, the subnet group and the security group only it used are gone from the moto
server (a final snapshot kept, with the option group it needs). The bot runs on a clock the test moves forward,
so two minutes pass in no time, while everything else (Bolt, the engine, the lifecycle loop) runs for real."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from aws.clients import AwsClients
from bot.blocks import APPROVE_ACTION, KEEP_ACTION
from bot.clock import SystemClock
from bot.domain import Job, JobStatus
from tests.scenario.conftest import ALICE, BOB, CAROL, Story, ephemeral_text, running_story
from tests.support.fake_slack import RESPONSE_URL, RecordedCall
from tests.support.waiting import eventually


class MovableClock(SystemClock):
    """Wall-clock time plus an offset the test moves forward; sleeps stay real, so loops keep their pace."""

    def __init__(self) -> None:
        self.offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return super().now() + self.offset

    def move_to(self, at: datetime) -> None:
        with self._lock:
            self.offset += max(timedelta(), at - (super().now() + self.offset))


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def story(aws: AwsClients, tmp_path: Path, clock: MovableClock) -> Iterator[Story]:
    with running_story(tmp_path, clock=clock) as running:
        yield running


def restored(story: Story, text: str) -> Job:
    story.command("/rds-restore", text, ALICE)
    _, job_id = story.wait_card()
    story.click(APPROVE_ACTION, job_id, BOB)
    eventually(lambda: story.job(job_id).status.finished, 30, f"job {job_id} finishes")
    job = story.job(job_id)
    assert job.status == JobStatus.SUCCEEDED and job.finished_at is not None
    return job


def in_thread(story: Story, job: Job, text: str) -> RecordedCall:
    _, ts = story.card_of(job.id)
    return story.slack.wait_for(
        "chat.postMessage", lambda c: c.body.get("thread_ts") == ts and text in str(c.body.get("text")), timeout=15
    )


def exists(call: object) -> bool:
    try:
        call()  # type: ignore[operator]
    except ClientError as exc:
        if exc.response["Error"]["Code"] in (
            "DBInstanceNotFound",
            "DBSubnetGroupNotFoundFault",
            "InvalidGroup.NotFound",
        ):
            return False
        raise
    return True


def test_a_restore_kept_2m_is_reminded_in_its_thread_then_deleted_with_what_only_it_used(
    story: Story, aws: AwsClients, clock: MovableClock
):
    job = restored(story, "prod-backup.bak db.m5.large --keep 2m")
    assert job.finished_at is not None
    instance, outputs = job.plan.target_instance_id, job.outputs
    delete_at = job.finished_at + timedelta(minutes=2)
    when = delete_at.strftime("%Y-%m-%d %H:%M UTC")
    assert f"is deleted at {when} (keep 2m)" in in_thread(story, job, "restored prod_backup").body["text"]
    status = story.status("", BOB, "status-goes")
    assert job.id in status and when in status  # /rds-status says when it goes

    clock.move_to(job.finished_at + timedelta(seconds=91))  # the reminder comes 30 s (a quarter) before
    reminder = in_thread(story, job, "⏰")
    buttons = [e for b in reminder.field("blocks") if b["type"] == "actions" for e in b["elements"]]
    assert [(b["action_id"], b["value"], b["text"]["text"]) for b in buttons] == [
        (KEEP_ACTION, job.id, "Keep 24h more")
    ]
    assert "<!date^" in str(reminder.field("blocks"))  # each reader sees the time in their own zone
    assert exists(lambda: aws.rds.describe_db_instances(DBInstanceIdentifier=instance))
    assert story.aws.count("DeleteDBInstance") == 0

    clock.move_to(delete_at + timedelta(seconds=1))
    in_thread(story, job, "✅ deleted")
    assert not exists(lambda: aws.rds.describe_db_instances(DBInstanceIdentifier=instance))
    assert not exists(lambda: aws.rds.describe_db_subnet_groups(DBSubnetGroupName=outputs.subnet_group))
    assert not exists(lambda: aws.ec2.describe_security_groups(GroupIds=[outputs.security_group_id]))
    snapshot = f"rdsbot-final-{job.id}-{instance}"
    assert aws.rds.describe_db_snapshots(DBSnapshotIdentifier=snapshot)["DBSnapshots"]
    assert aws.rds.describe_option_groups(OptionGroupName=outputs.option_group)["OptionGroupsList"]  # the snapshot's
    assert story.aws.count("DeleteDBInstance") == 1
    actions = story.audit_actions(job.id)
    assert actions[-3:] == ["instance.reminded", "instance.delete_started", "instance.deleted"]


def test_the_keep_button_and_delete_command_obey_requester_or_admin(story: Story, aws: AwsClients, clock: MovableClock):
    job = restored(story, "prod-backup.bak db.m5.large --keep 2m")
    assert job.finished_at is not None
    clock.move_to(job.finished_at + timedelta(seconds=91))
    in_thread(story, job, "⏰")

    story.click(KEEP_ACTION, job.id, CAROL)  # neither the requester nor an admin
    refused = story.slack.wait_for("chat.postEphemeral", lambda c: c.body.get("user") == CAROL, timeout=10)
    assert "only the requester or members of rds-admins may keep instance" in refused.body["text"]
    story.click(KEEP_ACTION, job.id, ALICE)  # the requester
    kept = story.slack.wait_for("chat.postEphemeral", lambda c: c.body.get("user") == ALICE, timeout=10)
    later = (job.finished_at + timedelta(days=1, minutes=2)).strftime("%Y-%m-%d %H:%M UTC")
    assert kept.body["text"].endswith(f"is now deleted at {later}")

    clock.move_to(job.finished_at + timedelta(minutes=5))  # past the first end: kept
    status, body = story.command("/rds-restore", f"delete {job.id}", CAROL, response_id="carol")
    assert status == 200 and "Checking whether you may delete" in ephemeral_text(body)
    no = story.slack.wait_for(RESPONSE_URL, lambda c: c.response_id == "carol", timeout=10)
    assert "may delete instance" in no.body["text"]
    assert exists(lambda: aws.rds.describe_db_instances(DBInstanceIdentifier=job.plan.target_instance_id))

    story.command("/rds-restore", f"delete {job.id}", BOB, response_id="bob")  # an admin
    yes = story.slack.wait_for(RESPONSE_URL, lambda c: c.response_id == "bob", timeout=10)
    assert yes.body["text"].startswith(f"deleting {job.plan.target_instance_id}, after a final snapshot")
    in_thread(story, job, "✅ deleted")
    assert story.aws.count("DeleteDBInstance") == 1
    actions = story.audit_actions(job.id)
    for action in (
        "instance.keep_refused",
        "instance.keep_extended",
        "instance.delete_refused",
        "instance.delete_requested",
    ):
        assert action in actions, action
