"""/rds-drill from Slack: list, an admin-only run whose report lands in the drill's channel, history, and a
failed drill shouting in /rds-status."""

from __future__ import annotations

import json
import time

from aws.sandbox.backup_content import manifest_bytes
from bot.drills.runs import DrillPhase
from tests.scenario.conftest import ALICE, CAROL, Story, ephemeral_text
from tests.support.fake_slack import CHANNEL_ID, RESPONSE_URL


def drive_drills(story: Story) -> None:
    """Tick the drill runner until every run is done (the engine runs in the story's background thread)."""
    drills = story.runtime.drills
    assert drills is not None
    deadline = time.monotonic() + 60
    while drills.runner.tick():
        assert time.monotonic() < deadline, "drill never finished"
        time.sleep(0.05)


def test_admins_run_a_drill_from_slack_and_its_report_and_cleanup_reach_the_channel(story: Story):
    listed = story.answered("/rds-drill", "list", ALICE, "list")
    assert "prod-nightly: `30 4 * * *` Europe/Berlin" in listed and "last: never run" in listed

    story.command("/rds-drill", "run prod-nightly", CAROL, response_id="carol")
    refused = story.slack.wait_for(RESPONSE_URL, lambda c: c.response_id == "carol")
    assert "only members of rds-admins may run drill" in refused.body["text"]
    assert story.runtime.drills is not None and story.runtime.drills.runs.history() == []

    status, body = story.command("/rds-drill", "run prod-nightly", ALICE, response_id="alice")
    assert status == 200 and "Starting drill prod-nightly" in ephemeral_text(body)
    started = story.slack.wait_for(RESPONSE_URL, lambda c: c.response_id == "alice", timeout=15)
    assert "Drill prod-nightly started" in started.body["text"] and "#rds-drills" in started.body["text"]
    drive_drills(story)

    report = story.slack.wait_for("chat.postMessage", lambda c: c.body.get("channel") == "#rds-drills", timeout=15)
    assert "✅ Drill prod-nightly passed" in report.body["text"] and "trigger: chat:U0ALICE" in report.body["text"]
    cleaned = story.slack.wait_for("chat.postMessage", lambda c: "cleaned up" in str(c.body.get("text")), timeout=15)
    assert cleaned.body["thread_ts"] is not None
    chart = story.slack.wait_for("files.completeUploadExternal", timeout=15)
    # The report went to #rds-drills by name; the chart to the id Slack answered with, since files_upload_v2
    # shares only to a channel id.
    assert chart.body["thread_ts"] == cleaned.body["thread_ts"] and chart.body["channel_id"] == story.slack.channel_id(
        "#rds-drills"
    )
    assert CHANNEL_ID.match(chart.body["channel_id"])
    file_id = json.loads(chart.body["files"])[0]["id"]
    assert (story.slack.uploaded(file_id) or b"").startswith(b"\x89PNG\r\n\x1a\n")
    assert "time-to-restore for the last 1 run(s) of drill prod-nightly" in (story.slack.alt_text(file_id) or "")
    history = story.answered("/rds-drill", "history prod-nightly", ALICE, "history")
    assert "PASSED" in history and "trend (last 1" in history
    refusals = [e for e in story.app.store.audit.audit_events() if e.action == "drill.refused"]
    assert [e.actor for e in refusals] == [CAROL]


def test_a_failed_drill_is_loud_in_its_channel_and_in_rds_status(story: Story):
    # Last night's backup lost its orders table.
    empty = manifest_bytes({"tables": {}, "django_migrations": []}, 4096)
    s3 = story.app.clients_for("us-east-1").s3
    s3.put_object(Bucket="rdsbot-backups", Key="prod-backup.bak", Body=empty)
    story.command("/rds-drill", "run prod-nightly", ALICE, response_id="alice")
    story.slack.wait_for(RESPONSE_URL, lambda c: c.response_id == "alice", timeout=15)
    drive_drills(story)
    assert story.runtime.drills is not None
    run = story.runtime.drills.runs.history("prod-nightly")[0]
    assert run.phase == DrillPhase.DONE and run.failed

    report = story.slack.wait_for("chat.postMessage", lambda c: c.body.get("channel") == "#rds-drills", timeout=15)
    assert report.body["text"].startswith("🚨 *DRILL FAILED* prod-nightly")
    assert "✗ table dbo.orders exists: no table dbo.orders" in report.body["text"]
    assert "🚨 drill prod-nightly FAILED" in story.status("", ALICE, "status")
