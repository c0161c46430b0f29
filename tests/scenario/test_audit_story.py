"""The audit trail as people meet it: every decision and stage recorded, shipped to S3 even through an outage,
verifiable by `rdsbot audit verify`, linked from the completion message, and free of secrets."""

from __future__ import annotations

import json
import logging
import re
import urllib.request
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from bot.domain import STAGE_ORDER, JobStatus, StageStatus
from bot.entrypoints.cli import main
from bot.logs import JsonLinesFormatter
from bot.slack_text import SlackText
from tests.scenario.audit_fixtures import (
    S3Outage,
    deny,
    restore,
    shipped_records,
    shipper_of,
    trail_days,
)
from tests.scenario.conftest import ALICE, BOB, BOT_TOKEN, Story
from tests.support.slack_requests import SIGNING_SECRET

AUDIT_BUCKET = "rdsbot-audit"


def verify_cli(story: Story, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str):
    monkeypatch.setenv("RDSBOT_DATABASE_URL", story.app.settings.database_url)
    codes = [main(["audit", "verify", "--day", day, *args]) for day in trail_days(story)]
    return codes, capsys.readouterr().out


def test_a_restore_and_a_denial_leave_a_chain_verify_accepts_and_a_changed_line_is_named(
    story: Story, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    restore(story)
    deny(story)
    shipper_of(story).ship_pending()
    assert story.app.store.outbox.unshipped_audit_events() == 0

    for source in ((), ("--from-s3",)):
        codes, out = verify_cli(story, monkeypatch, capsys, *source)
        assert set(codes) == {0} and "chain intact" in out, out

    key, line, _ = shipped_records(story)[1]
    s3 = boto3.client("s3")
    lines = s3.get_object(Bucket=AUDIT_BUCKET, Key=key)["Body"].read().splitlines(keepends=True)
    lines[line - 1] = lines[line - 1].replace(b'"action":"', b'"action":"x', 1)
    s3.put_object(Bucket=AUDIT_BUCKET, Key=key, Body=b"".join(lines))
    codes, out = verify_cli(story, monkeypatch, capsys, "--from-s3")
    assert 1 in codes and f"chain broken at s3://{AUDIT_BUCKET}/{key} line {line}" in out, out
    codes, _ = verify_cli(story, monkeypatch, capsys)
    assert set(codes) == {0}  # the store's copy is untouched


def test_the_completion_links_resolve_to_the_jobs_record_and_the_sqlserver_audit_folder(story: Story):
    job_id = restore(story)
    done = story.slack.wait_for("chat.postMessage", lambda c: "restored prod_backup" in str(c.body.get("text")))
    # Sent escaped (a presigned URL's `&` as `&amp;`, Slack's rule); followed as a Slack reader sees it.
    assert "&amp;X-Amz-" in done.body["text"]
    text = SlackText(done.body["text"]).plain()
    record_url = re.search(r"rdsbot audit record: (\S+)", text)
    console_url = re.search(r"rdsbot audit record in the S3 console: (\S+)", text)
    assert record_url and console_url and "SQL Server audit logs (.zip" in text

    with urllib.request.urlopen(record_url.group(1)) as answer:  # presigned, against the moto server
        records = [json.loads(line) for line in answer.read().splitlines()]
    assert {r["job_id"] for r in records} == {job_id}
    assert [r["action"] for r in records] == [e.action for e in story.app.store.audit.audit_events(job_id)]
    assert records[-1]["action"] == "job.succeeded"
    # SigV4 (an SSE-KMS record refuses SigV2): a lifetime in seconds from X-Amz-Date, not an absolute Expires.
    signed = parse_qs(urlsplit(record_url.group(1)).query)
    assert signed["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert int(signed["X-Amz-Expires"][0]) <= 900  # a short-lived link; the console link is the lasting one

    console = urlsplit(console_url.group(1))
    assert console.path == f"/s3/buckets/{AUDIT_BUCKET}"
    epoch = story.app.store.outbox.store_epoch()  # the store's epoch keeps a fresh store's job ids off these keys
    assert parse_qs(console.query)["prefix"] == [f"rdsbot-audit/rdsbot/jobs/{epoch}/{job_id}.jsonl"]
    sqlserver = urlsplit(re.search(r"SQL Server audit logs \([^)]*\): (\S+)", text).group(1))  # type: ignore[union-attr]
    instance = story.job(job_id).plan.target_instance_id
    # AWS guide "Appendix.SQLServer.Options.Audit": bucket/prefix/instance-name/audit-name/node_file-name.ext
    assert parse_qs(sqlserver.query)["prefix"] == [f"rdsbot-audit/sqlserver/{instance}/rdsbot_audit/"]
    # The folder fills only because a server audit runs inside the instance (the sandbox's status view says so).
    assert "audit:status" in [call.procedure for call in story.app.sandbox_sql.calls]  # type: ignore[union-attr]


def test_a_successful_restore_over_slack_has_an_audit_event_for_every_state_change_and_aws_request(story: Story):
    # Success only, end to end; failure, cancel, expiry and denial: tests/unit/test_audit_replay.py.
    job_id = restore(story)
    job, trail = story.job(job_id), story.app.store.audit.audit_events(job_id)
    # Replay the trail from nothing: it must arrive at exactly the state the store holds.
    status, stages = None, {}
    transitions = {
        "job.requested": JobStatus.AWAITING_APPROVAL,
        "job.approved": JobStatus.QUEUED,
        "job.started": JobStatus.RUNNING,
        "job.succeeded": JobStatus.SUCCEEDED,
    }
    history = []
    for event in trail:
        if event.action in transitions:
            status = transitions[event.action]
            history.append(status)
        elif event.action == "stage.started":
            stages[event.detail["stage"]] = StageStatus.RUNNING
        elif event.action == "stage.succeeded":
            assert stages.get(event.detail["stage"]) == StageStatus.RUNNING, "finished before it started"
            stages[event.detail["stage"]] = StageStatus.SUCCEEDED
    assert history == [JobStatus.AWAITING_APPROVAL, JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.SUCCEEDED]
    assert status == job.status
    assert stages == {stage.name.value: stage.status for stage in job.stages}
    assert [e.detail["stage"] for e in trail if e.action == "stage.succeeded"] == [s.value for s in STAGE_ORDER]
    approved = next(e for e in trail if e.action == "job.approved")
    assert (approved.actor, approved.iam_user) == (BOB, "bob")
    created = [r for e in trail for r in e.detail.get("aws_requests", [])]
    create_instance = [r for r in created if r["operation"] == "rds:CreateDBInstance"]
    assert len(create_instance) == 1 and create_instance[0]["request_id"]


def test_a_restore_completes_through_an_s3_outage_and_every_event_then_ships_once_in_order(story: Story):
    shipper = shipper_of(story)
    outage = S3Outage(shipper)
    outage.start()
    job_id = restore(story)
    done = story.slack.wait_for("chat.postMessage", lambda c: "restored prod_backup" in str(c.body.get("text")))
    assert "rdsbot audit record:" in done.body["text"]  # the link is there; the record follows when S3 is back
    assert outage.refused > 0 and story.app.store.outbox.unshipped_audit_events() > 0
    assert story.job(job_id).engine.audit_record_pending is True
    outage.end()

    shipper.ship_pending()
    shipper.retry_job_records()
    stored = {(e.at.date().isoformat(), e.seq): e.hash for e in story.app.store.audit.audit_events()}
    shipped = [(r["day"], r["seq"]) for _, _, r in shipped_records(story)]
    assert shipped == sorted(stored) and len(set(shipped)) == len(shipped)  # all of them, once, in order
    assert {(r["day"], r["seq"]): r["hash"] for _, _, r in shipped_records(story)} == stored
    assert all(shipper.verify_s3(day).ok for day in trail_days(story))
    assert story.job(job_id).engine.audit_record_pending is False
    record = boto3.client("s3").get_object(Bucket=AUDIT_BUCKET, Key=shipper.record_key(job_id))["Body"].read()
    assert record.splitlines()[-1].startswith(b"{") and b"job.succeeded" in record


def test_audit_command_shows_a_jobs_events_in_order_and_todays_decisions(story: Story):
    job_id = restore(story)
    denied = deny(story, reason="change freeze")
    trail = story.answered("/rds-audit", job_id, BOB, "trail")
    actions = [e.action for e in story.app.store.audit.audit_events(job_id)]
    positions = [trail.index(f" {action} {job_id}") for action in dict.fromkeys(actions)]
    assert positions == sorted(positions) and "U0BOB (bob) job.approved" in trail
    assert "aws=CreateDBInstance" in trail

    decisions = story.answered("/rds-audit", "", ALICE, "decisions")
    assert f"job.approved {job_id}" in decisions and f"job.denied {denied} reason=change freeze" in decisions
    assert "approval.refused" not in decisions and "stage.started" not in decisions
    assert "no audit events for j-nope" in story.answered("/rds-audit", "j-nope", ALICE, "nope")


def test_nothing_secret_reaches_the_trail_the_logs_s3_or_chat(story: Story, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO)
    job_id = restore(story)
    deny(story)
    shipper_of(story).ship_pending()
    story.runtime.outbox.drain(10)

    rds, secrets = boto3.client("rds"), boto3.client("secretsmanager")
    instance = rds.describe_db_instances(DBInstanceIdentifier=story.job(job_id).plan.target_instance_id)
    secret_arn = instance["DBInstances"][0]["MasterUserSecret"]["SecretArn"]
    password = json.loads(secrets.get_secret_value(SecretId=secret_arn)["SecretString"])["password"]
    assert len(password) >= 8
    secret_values = {"bot token": BOT_TOKEN, "signing secret": SIGNING_SECRET, "master password": password}

    s3 = boto3.client("s3")
    listed = s3.list_objects_v2(Bucket=AUDIT_BUCKET, Prefix="rdsbot-audit/rdsbot/").get("Contents", [])
    assert listed
    recorded = {
        "audit rows": [e.model_dump_json() for e in story.app.store.audit.audit_events()],
        "s3 objects": [s3.get_object(Bucket=AUDIT_BUCKET, Key=o["Key"])["Body"].read().decode() for o in listed],
        "logs": [JsonLinesFormatter().format(r) for r in caplog.records] + [str(r.__dict__) for r in caplog.records],
        "slack calls": [c.raw.decode(errors="replace") + json.dumps(c.body) for c in story.slack.calls()],
    }
    assert recorded["logs"] and recorded["slack calls"]
    hits = [
        (where, name)
        for where, texts in recorded.items()
        for name, value in secret_values.items()
        if any(value in text for text in texts)
    ]
    assert hits == []
