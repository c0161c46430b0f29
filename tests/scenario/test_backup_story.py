"""/rds-backup's round trip, over Slack (signed requests -> Bolt -> rdsbot -> moto + sandbox SQL Server -> fake Slack)
and over the console: restore prod-backup.bak, back that database up to s3://rdsbot-backups/copies/prod-copy.bak,
see the object in the bucket, and restore it --into the first instance as another database."""

from __future__ import annotations

import time

from bot.blocks import APPROVE_ACTION
from bot.domain import JobStatus
from tests.scenario.conftest import ALICE, BOB, Story, ephemeral_text
from tests.scenario.test_console import rdsbot
from tests.support.fake_slack import RESPONSE_URL, RecordedCall

COPY = "s3://rdsbot-backups/copies/prod-copy.bak"


def wait_status(story: Story, job_id: str, status: JobStatus, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while story.job(job_id).status != status:
        assert story.job(job_id).status not in (JobStatus.FAILED, JobStatus.CANCELLED), story.job(job_id).error
        assert time.monotonic() < deadline, f"job {job_id} is {story.job(job_id).status}, expected {status}"
        time.sleep(0.05)


def new_card(story: Story, known: set[str]) -> tuple[RecordedCall, str]:
    """The next approval card, for a job not in `known`."""

    def job_of(call: RecordedCall) -> str | None:
        blocks = call.field("blocks") or []
        return next((e["value"] for b in blocks if b["type"] == "actions" for e in b["elements"]), None)

    card = story.slack.wait_for("chat.postMessage", lambda c: job_of(c) not in (None, *known), timeout=15)
    job_id = job_of(card)
    assert job_id is not None
    known.add(job_id)
    return card, job_id


def approved(story: Story, command: str, text: str, known: set[str]) -> tuple[RecordedCall, str]:
    status, body = story.command(command, text, ALICE)
    assert status == 200 and "Checking" in ephemeral_text(body), body
    card, job_id = new_card(story, known)
    story.click(APPROVE_ACTION, job_id, BOB)
    wait_status(story, job_id, JobStatus.SUCCEEDED)
    return card, job_id


def test_backup_round_trip_over_slack(story: Story):
    known: set[str] = set()
    _, first = approved(story, "/rds-restore", "prod-backup.bak db.m5.large --name rdsbot-first", known)

    # Refused before any card: the destination is not under backups.allowed_destinations.
    status, body = story.command("/rds-backup", "rdsbot-first prod_backup s3://rdsbot-backups/elsewhere/x.bak", ALICE)
    assert status == 200 and "Cannot back up: destination: s3://rdsbot-backups/elsewhere/x.bak is not under" in (
        ephemeral_text(body)
    )

    card, backup = approved(story, "/rds-backup", f"rdsbot-first prod_backup {COPY}", known)
    assert card.field("blocks")[0]["text"]["text"] == f"RDS backup request {backup}"
    assert f"Destination: {COPY} (1 file; allowed by s3://rdsbot-backups/copies/*)" in str(card.field("blocks"))
    s3 = story.app.clients_for("us-east-1").s3
    head = s3.head_object(Bucket="rdsbot-backups", Key="copies/prod-copy.bak")
    done = story.slack.wait_for("chat.postMessage", lambda c: f"[{backup}] backed up prod_backup" in str(c.body))
    assert f"object: {COPY}" in done.body["text"] and f"{head['ContentLength']} bytes" in done.body["text"]
    assert story.aws.count("CreateDBInstance") == 1  # the first restore's only
    actions = story.audit_actions(backup)
    assert actions[:2] == ["backup.requested", "backup.approved"] and actions[-1] == "backup.completed"
    status_text = story.status(backup, ALICE, "status-backup")
    assert "backup_wait" in status_text and f"backing up prod_backup on rdsbot-first to {COPY}" in status_text

    # The same object again: refused, naming --overwrite.
    status, body = story.command("/rds-backup", f"rdsbot-first prod_backup {COPY}", ALICE, "again")
    assert status == 200
    again = story.slack.wait_for(RESPONSE_URL, lambda c: c.response_id == "again" and "Cannot" in str(c.body))
    assert f"overwrite: {COPY} already exists; add --overwrite" in again.body["text"]

    _, copy = approved(story, "/rds-restore", f"{COPY} --into rdsbot-first --db prod_copy", known)
    restored = story.slack.wait_for("chat.postMessage", lambda c: f"[{copy}] restored prod_copy" in str(c.body))
    assert "on rdsbot-first" in restored.body["text"]
    assert story.job(first).status == JobStatus.SUCCEEDED


SCRIPT = "\n".join(
    [
        "/rds-restore prod-backup.bak db.m5.large --name rdsbot-first",
        "as bob",
        "approve {job}",
        "wait {job}",
        "as alice",
        f"/rds-backup rdsbot-first prod_backup {COPY}",
        "as bob",
        "approve {job}",
        "wait {job}",
        "as alice",
        f"/rds-backup rdsbot-first prod_backup {COPY} --type differential --overwrite",
        f"/rds-backup rdsbot-first prod_backup {COPY} --overwrite",
        "/rds-status",
        f"/rds-restore {COPY} --into rdsbot-first --db prod_copy",
        "as bob",
        "approve {job}",
        "wait {job}",
    ]
)


def test_backup_round_trip_over_the_console():
    result = rdsbot("shell", "--restore-seconds", "0.5", stdin=SCRIPT, timeout=300)
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "approval card in #rds-approvals: RDS backup request" in out
    assert "backed up prod_backup on rdsbot-first" in out and f"  object: {COPY}" in out
    # A differential is a backup of what changed since a full one taken here: the restore's snapshot is no base.
    assert "│ Type: DIFFERENTIAL; overwrite yes" in out and "Cannot back up: type" not in out
    assert f"│ OVERWRITES {COPY} (--overwrite)" in out  # the second card says what it replaces
    assert "restored prod_copy on rdsbot-first" in out
    assert sum(line.endswith(" is succeeded") for line in out.splitlines()) == 3, out
    assert "Traceback" not in out + result.stderr
