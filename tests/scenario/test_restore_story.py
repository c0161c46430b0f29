"""The user's story over real HTTP: signed Slack requests -> Bolt -> rdsbot -> moto + sandbox SQL Server, with
every Web API call landing on the fake Slack server."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from datetime import timedelta

from bot.blocks import APPROVE_ACTION, DENY_ACTION, DENY_REASON_BLOCK, DENY_REASON_INPUT, DENY_REASON_VIEW
from bot.domain import JobStatus
from bot.store.schema import jobs
from handlers.server import EVENTS_PATH
from tests.scenario.conftest import ALICE, BOB, CAROL, Story, ephemeral_text
from tests.support.fake_slack import RESPONSE_URL
from tests.support.slack_requests import post, signed_headers, slash_command, view_submission
from tests.support.waiting import holds_throughout


def wait_status(story: Story, job_id: str, status: JobStatus, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while story.job(job_id).status != status:
        assert time.monotonic() < deadline, f"job {job_id} is {story.job(job_id).status}, expected {status}"
        time.sleep(0.05)


def test_request_card_refusals_approval_progress_completion_and_status(story: Story):
    status, body = story.command("/rds-restore", "prod-backup.bak db.m5.large", ALICE)
    assert status == 200 and "Checking s3://" in ephemeral_text(body)

    card, job_id = story.wait_card()
    card_text = str(card.field("blocks"))
    for fact in ("U0ALICE", "prod-backup.bak", "db.m5.large", "us-east-1", "sqlserver-se", "throttled", "expires"):
        assert fact in card_text, fact
    assert "Backup age: " in card_text and "{date_short_pretty} {time}|" in card_text  # dated in the reader's zone
    approve = next(e for b in card.field("blocks") if b["type"] == "actions" for e in b["elements"])
    assert approve["action_id"] == APPROVE_ACTION and "bills" in approve["confirm"]["text"]["text"]
    confirmation = story.slack.wait_for(RESPONSE_URL, lambda c: job_id in str(c.body.get("text")))
    assert "waiting for an admin's approval" in confirmation.body["text"]

    story.click(APPROVE_ACTION, job_id, ALICE)  # the requester, an admin: two-person rule
    own = story.slack.wait_for("chat.postEphemeral", lambda c: c.body.get("user") == ALICE)
    assert "two-person rule" in own.body["text"]
    story.click(APPROVE_ACTION, job_id, CAROL)  # not in rds-admins
    other = story.slack.wait_for("chat.postEphemeral", lambda c: c.body.get("user") == CAROL)
    assert "only members of rds-admins" in other.body["text"]
    assert story.job(job_id).status == JobStatus.AWAITING_APPROVAL and story.aws.count("CreateDBInstance") == 0

    story.click(APPROVE_ACTION, job_id, BOB)
    updated = story.slack.wait_for("chat.update", lambda c: "Approved by <@U0BOB>" in str(c.body.get("text")))
    assert all(b["type"] != "actions" for b in updated.field("blocks"))

    wait_status(story, job_id, JobStatus.SUCCEEDED)
    _, card_ts = story.card_of(job_id)
    done = story.slack.wait_for("chat.postMessage", lambda c: "restored prod_backup" in str(c.body.get("text")))
    assert done.body["thread_ts"] == card_ts
    text = done.body["text"]
    assert "endpoint: rdsbot-prod-backup-" in text and "console.aws.amazon.com/rds" in text
    assert (
        "SQL Server audit logs (.zip, ENABLE_COMPRESSION on; unzip for .sqlaudit): "
        "https://s3.console.aws.amazon.com/s3/buckets/rdsbot-audit" in text
    )
    assert text.startswith(f"<@{ALICE}> your restore is done")  # the final message mentions the requester
    card_channel, _ = story.card_of(job_id)
    story.card_shows(job_id, "✅ Restored")  # the thread's last write, queued after the final message
    story.runtime.outbox.drain(15)
    posted, progress, final = story.slack.thread(card_channel, card_ts)  # one living message, one final message
    assert "✓ instance" in progress["text"] and "✓ finalize" in progress["text"] and "100%" in progress["text"]
    assert final["text"] == text and "✅ Restored prod_backup" in str(posted["blocks"])

    reply = story.status(job_id, BOB, "status-job")
    assert f"{job_id}: succeeded" in reply and "approved by U0BOB" in reply
    table = story.status("", BOB, "status-all")
    assert job_id in table and "succeeded" in table

    actions = story.audit_actions(job_id)
    assert actions.count("approval.refused") == 2 and actions.count("job.approved") == 1
    assert actions[-1] == "job.succeeded"
    assert story.aws.count("CreateDBInstance") == 1


def test_bad_request_is_answered_in_the_ack_and_changes_nothing(story: Story):
    status, body = story.command("/rds-restore", "prod-backup.bak db.m5.large --region eu-west-1", ALICE)
    assert status == 200
    assert "region: eu-west-1 is not allowed by policy; allowed regions: us-east-1, us-west-2" in ephemeral_text(body)
    status, body = story.command("/rds-restore", 'prod-backup.bak db.m5.large --db "x\'; drop table t--"', ALICE)
    assert "database_name" in ephemeral_text(body) and "Traceback" not in body
    # Both refusals were answered inside the ack; watch that no slow lane creates anything after it either.
    holds_throughout(
        lambda: (
            story.aws.calls == []
            and story.app.store.jobs.list_jobs() == []
            and story.slack.calls("chat.postMessage") == []
        ),
        seconds=0.5,
        what="no AWS call, no job, no message after a refused request",
    )


def test_without_bot_sources_a_restore_is_refused_in_the_ack_naming_the_key(story_without_bot_sources: Story):
    story = story_without_bot_sources
    status, body = story.command("/rds-restore", "prod-backup.bak db.m5.large", ALICE)
    assert status == 200
    assert "network.bot_sources" in ephemeral_text(body) and "port 1433" in ephemeral_text(body)
    refused = story.app.store.audit.audit_events()[-1]
    assert refused.action == "request.refused" and refused.detail["field"] == "network.bot_sources"
    assert story.aws.calls == [] and story.app.store.jobs.list_jobs() == []
    assert story.slack.calls("chat.postMessage") == []


def test_missing_backup_is_answered_after_the_ack_with_no_card(story: Story):
    status, _ = story.command("/rds-restore", "nope.bak db.m5.large", ALICE, response_id="missing")
    assert status == 200
    answer = story.slack.wait_for(RESPONSE_URL, lambda c: c.response_id == "missing")
    assert "backup" in answer.body["text"] and "nope.bak" in answer.body["text"]
    assert story.aws.mutating == [] and story.slack.calls("chat.postMessage") == []


def test_forged_or_stale_requests_get_401_and_change_nothing(story: Story):
    forged = slash_command("/rds-restore", "prod-backup.bak db.m5.large", signing_secret="not-the-secret")
    assert post(story.url + EVENTS_PATH, forged.body, forged.headers)[0] == 401
    stale = slash_command("/rds-restore", "prod-backup.bak db.m5.large", timestamp=int(time.time()) - 6 * 60)
    assert post(story.url + EVENTS_PATH, stale.body, stale.headers)[0] == 401
    genuine = slash_command("/rds-restore", "prod-backup.bak db.m5.large")
    tampered = genuine.body.replace(b"db.m5.large", b"db.m5.24xlarge")
    assert post(story.url + EVENTS_PATH, tampered, genuine.headers)[0] == 401
    holds_throughout(
        lambda: (
            story.app.store.jobs.list_jobs() == []
            and story.app.store.audit.audit_events() == []
            and [c for c in story.slack.calls() if c.method != "auth.test"] == []
        ),
        seconds=0.5,
        what="no job, no audit event, no Slack call after a refused signature",
    )


def test_a_double_click_starts_exactly_one_restore(story: Story):
    story.command("/rds-restore", "prod-backup.bak db.m5.large", ALICE)
    _, job_id = story.wait_card()
    story.card_of(job_id)
    clicks = [threading.Thread(target=story.click, args=(APPROVE_ACTION, job_id, BOB)) for _ in range(2)]
    for click in clicks:
        click.start()
    for click in clicks:
        click.join()
    wait_status(story, job_id, JobStatus.SUCCEEDED)
    story.slack.wait_for("chat.postEphemeral", lambda c: "nothing changed" in str(c.body.get("text")))
    actions = story.audit_actions(job_id)
    assert actions.count("job.approved") == 1 and actions.count("approval.ignored") == 1
    assert story.aws.count("CreateDBInstance") == 1
    assert len(story.app.store.approvals.approvals(job_id)) == 1


def test_a_request_nobody_decides_expires_on_time_card_and_requester_told_and_a_late_click_is_answered(
    story: Story,
):
    story.command("/rds-restore", 'prod-backup.bak db.m5.large --reason "INC-7 <!here> & co"', ALICE)
    card, job_id = story.wait_card()
    assert "Reason: INC-7 &lt;!here&gt; &amp; co" in str(card.field("blocks"))  # user text is inert on the card
    channel, card_ts = story.card_of(job_id)
    an_hour_and_more_ago = story.job(job_id).created_at - timedelta(minutes=61)
    with story.app.store.engine.begin() as connection:  # age the request past its 60-minute expiry; no one clicks
        connection.execute(jobs.update().where(jobs.c.id == job_id).values(created_at=an_hour_and_more_ago))
    updated = story.slack.wait_for("chat.update", lambda c: c.body.get("ts") == card_ts, timeout=15)
    assert "Expired" in updated.body["text"] and "nothing was created" in updated.body["text"]
    card_now = story.slack.message(channel, card_ts)
    assert all(b["type"] != "actions" for b in card_now["blocks"])  # no live buttons left
    told = story.slack.wait_for("chat.postMessage", lambda c: c.body.get("channel") == ALICE)
    assert job_id in told.body["text"] and "nothing was created" in told.body["text"]
    assert story.job(job_id).status == JobStatus.EXPIRED
    expired = story.app.store.audit.audit_events(job_id)[-1]
    assert (expired.action, expired.actor) == ("approval.expired", "rdsbot:expiry")

    story.click(APPROVE_ACTION, job_id, BOB)  # a click on a stale client's card: answered, nothing changes
    late = story.slack.wait_for("chat.postEphemeral", lambda c: c.body.get("user") == BOB)
    assert "already expired" in late.body["text"] and "nothing was created" in late.body["text"]
    assert story.audit_actions(job_id)[-2:] == ["approval.expired", "approval.ignored"]
    assert story.aws.count("CreateDBInstance") == 0
    holds_throughout(
        lambda: len([c for c in story.slack.delivered("chat.update") if c.body.get("ts") == card_ts]) == 1,
        seconds=0.5,
        what="the card updated once: neither the sweeper's next loop nor the late click expires it again",
    )


def test_deny_asks_for_a_reason_and_updates_the_card(story: Story):
    story.command("/rds-restore", "prod-backup.bak db.m5.large", ALICE)
    _, job_id = story.wait_card()
    channel, ts = story.card_of(job_id)
    story.click(DENY_ACTION, job_id, CAROL)
    refused = story.slack.wait_for("chat.postEphemeral", lambda c: c.body.get("user") == CAROL)
    assert "only members of rds-admins" in refused.body["text"] and story.slack.calls("views.open") == []

    story.click(DENY_ACTION, job_id, BOB)
    opened = story.slack.wait_for("views.open")
    assert opened.field("view")["private_metadata"] == f"{job_id}|{channel}|{ts}"
    submit = view_submission(
        DENY_REASON_VIEW,
        f"{job_id}|{channel}|{ts}",
        {DENY_REASON_BLOCK: {DENY_REASON_INPUT: "restore window is Friday"}},
        user_id=BOB,
    )
    assert post(story.url + EVENTS_PATH, submit.body, submit.headers)[0] == 200
    denied = story.slack.wait_for("chat.update", lambda c: "Denied by <@U0BOB>" in str(c.body.get("text")))
    assert "restore window is Friday" in denied.body["text"]
    assert story.job(job_id).status == JobStatus.DENIED
    assert "job.denied" in story.audit_actions(job_id) and story.aws.count("CreateDBInstance") == 0


def test_the_ack_never_waits_for_aws(story: Story):
    """AWS calls block until the test has its ack: an ack that needed AWS would time out instead."""
    gate, order = threading.Event(), []

    def hold(**_: object) -> None:
        gate.wait(10)
        order.append("aws")

    for client in story.app.clients_for("us-east-1").all().values():
        client.meta.events.register("before-call", hold, unique_id="gate")
    status, _ = story.command("/rds-restore", "prod-backup.bak db.m5.large", ALICE)
    order.append("ack")
    gate.set()
    assert status == 200
    _, job_id = story.wait_card()
    story.card_of(job_id)
    gate.clear()
    status, _ = story.click(APPROVE_ACTION, job_id, BOB)
    order.append("ack")
    gate.set()
    assert status == 200
    wait_status(story, job_id, JobStatus.SUCCEEDED)
    first_ack = order.index("ack")
    second_ack = order.index("ack", first_ack + 1)
    assert first_ack == 0 and "aws" in order[first_ack:second_ack] and order[second_ack + 1] == "aws"


def test_progress_and_completion_survive_slack_429_and_500(story: Story):
    story.command("/rds-restore", "prod-backup.bak db.m5.large", ALICE)
    _, job_id = story.wait_card()
    story.card_of(job_id)
    story.slack.fail_next("chat.postMessage", status=429, times=2, retry_after=1)
    story.slack.fail_next("chat.postMessage", status=500, times=3)
    story.slack.fail_next("chat.update", status=500, times=2)
    story.click(APPROVE_ACTION, job_id, BOB)
    wait_status(story, job_id, JobStatus.SUCCEEDED)
    done = story.slack.wait_for(
        "chat.postMessage", lambda c: "restored prod_backup" in str(c.body.get("text")), timeout=30
    )
    assert done.status == 200
    failed = [c.status for c in story.slack.calls("chat.postMessage") if c.status != 200]
    assert failed.count(429) >= 2 and failed.count(500) == 3
    assert story.runtime.outbox.drain(15) and story.runtime.outbox.pending == 0
    channel, card_ts = story.card_of(job_id)
    # Each 500 may have hidden a success, so the thread was read before each retry; nothing is there twice.
    assert story.slack.delivered("conversations.replies")
    _card, progress, final = story.slack.thread(channel, card_ts)
    assert "✓ finalize" in progress["text"] and final["text"] == done.body["text"]


def test_signed_headers_helper_is_what_bolt_checks(story: Story):
    body = b"command=%2Frds-status&text=&user_id=U0BOB&team_id=T0RDSBOT&response_url=x&trigger_id=1"
    assert post(story.url + EVENTS_PATH, body, signed_headers(body))[0] == 200


def test_healthz_answers_and_unknown_paths_are_404(story: Story):
    with urllib.request.urlopen(story.url + "/healthz", timeout=5) as response:
        assert response.status == 200 and json.loads(response.read())["ok"] is True
    try:
        urllib.request.urlopen(story.url + "/admin", timeout=5)
    except urllib.error.HTTPError as error:
        assert error.code == 404
    else:
        raise AssertionError("unknown path answered")


def test_help_and_dry_run_create_nothing(story: Story):
    status, body = story.command("/rds-restore", "help", ALICE)
    # Escaped: a raw `<backup>` would reach Slack as a link.
    assert status == 200 and "usage: /rds-restore &lt;backup&gt; &lt;instance-class&gt;" in ephemeral_text(body)
    story.command("/rds-restore", "prod-backup.bak db.r7i.xlarge --cores 2 --dry-run", ALICE, response_id="dry")
    plan = story.slack.wait_for(RESPONSE_URL, lambda c: c.response_id == "dry")
    assert "Dry run, nothing created" in plan.body["text"] and "db.r7i.xlarge, 2 cores" in plan.body["text"]
    assert story.app.store.jobs.list_jobs() == [] and story.aws.mutating == []
    assert story.slack.calls("chat.postMessage") == []


def test_a_failed_restore_says_where_why_and_what_was_left_in_the_thread(story: Story, aws):
    story.command("/rds-restore", "prod-backup.bak db.m5.large", ALICE)
    _, job_id = story.wait_card()
    _, card_ts = story.card_of(job_id)
    aws.s3.delete_object(Bucket="rdsbot-backups", Key="prod-backup.bak")  # gone between request and approval
    story.click(APPROVE_ACTION, job_id, BOB)
    wait_status(story, job_id, JobStatus.FAILED)
    failed = story.slack.wait_for("chat.postMessage", lambda c: "failed after" in str(c.body.get("text")), timeout=30)
    assert failed.body["thread_ts"] == card_ts
    assert "validate: backup: " in failed.body["text"] and "prod-backup.bak" in failed.body["text"]
    assert "left behind: nothing" in failed.body["text"] and "Traceback" not in failed.body["text"]
    assert story.aws.mutating == []


def test_only_the_requester_or_an_admin_may_cancel(story: Story):
    story.command("/rds-restore", "prod-backup.bak db.m5.large", ALICE)
    _, job_id = story.wait_card()
    story.card_of(job_id)
    story.command("/rds-restore", f"cancel {job_id}", CAROL, response_id="carol")
    refused = story.slack.wait_for(RESPONSE_URL, lambda c: c.response_id == "carol" and "only" in c.body["text"])
    assert "only the requester or members of rds-admins may cancel" in refused.body["text"]
    assert story.job(job_id).status == JobStatus.AWAITING_APPROVAL
    story.command("/rds-restore", f"cancel {job_id}", ALICE, response_id="alice")
    withdrawn = story.slack.wait_for(RESPONSE_URL, lambda c: c.response_id == "alice" and "withdrawn" in c.body["text"])
    assert "nothing was created" in withdrawn.body["text"]
    assert story.job(job_id).status == JobStatus.CANCELLED
    # The engine never ran it, so the withdrawal itself brings the card up to date.
    story.slack.wait_for("chat.update", lambda c: "Withdrawn by" in str(c.body), timeout=15)
    story.click(APPROVE_ACTION, job_id, BOB)  # a click from a stale view changes nothing
    story.slack.wait_for("chat.postEphemeral", lambda c: "already cancelled" in str(c.body.get("text")))
    assert story.aws.count("CreateDBInstance") == 0
    assert story.audit_actions(job_id)[-3:] == ["cancel.refused", "job.cancelled", "approval.ignored"]
