"""A TDE-encrypted backup over Slack and the console: the card names the certificate, the private key and the
password key; approved, the certificate is restored before the database and the restore succeeds; one flag alone
is refused in the ack naming the missing one; without the flags SQL Server's message 33111 fails the job."""

from __future__ import annotations

from aws.clients import AwsClients
from aws.sandbox.moto_seed import DEMO_TDE_PASSWORD_KEY_ALIAS
from bot.blocks import APPROVE_ACTION
from bot.domain import JobStatus, StageName
from tests.scenario.conftest import ALICE, BOB, Story, ephemeral_text
from tests.scenario.test_console import rdsbot
from tests.scenario.test_restore_story import wait_status

FILES = "--tde-certificate tde/sales-tde.cer --tde-private-key tde/sales-tde.pvk"


def password_key(aws: AwsClients) -> str:
    return str(aws.kms.describe_key(KeyId=DEMO_TDE_PASSWORD_KEY_ALIAS)["KeyMetadata"]["Arn"])


def test_a_tde_backup_is_restored_over_slack_with_its_certificate(story: Story, aws: AwsClients):
    key = password_key(aws)
    status, body = story.command(
        "/rds-restore", f"tde/sales-tde.bak db.m5.large {FILES} --tde-password-key {key}", ALICE
    )
    assert status == 200 and "Traceback" not in body
    card, job_id = story.wait_card()
    card_text = str(card.field("blocks"))
    for fact in (
        f"UserTDECertificate_rdsbot_{job_id}",
        "s3://rdsbot-backups/tde/sales-tde.cer",
        "s3://rdsbot-backups/tde/sales-tde.pvk",
        key,
    ):
        assert fact in card_text, fact
    story.click(APPROVE_ACTION, job_id, BOB)
    wait_status(story, job_id, JobStatus.SUCCEEDED)
    done = story.job(job_id)
    assert str(done.outputs.option_group).endswith("-tde")
    started = done.stage(StageName.RESTORE_START).detail
    assert started.startswith(f"TDE certificate UserTDECertificate_rdsbot_{job_id} restored")
    listed = aws.rds.describe_option_groups(OptionGroupName=str(done.outputs.option_group))["OptionGroupsList"][0]
    assert "TDE" in {option["OptionName"] for option in listed["Options"]}


def test_one_tde_flag_alone_is_refused_in_the_ack_naming_the_missing_ones(story: Story):
    status, body = story.command("/rds-restore", f"tde/sales-tde.bak db.m5.large {FILES}", ALICE)
    assert status == 200
    assert "--tde-password-key is missing" in ephemeral_text(body)
    assert story.aws.calls == [] and story.app.store.jobs.list_jobs() == []


def test_without_the_flags_sql_servers_message_fails_the_job_naming_the_flags(story: Story):
    story.command("/rds-restore", "tde/sales-tde.bak db.m5.large", ALICE)
    _, job_id = story.wait_card()
    story.click(APPROVE_ACTION, job_id, BOB)
    wait_status(story, job_id, JobStatus.FAILED)
    error = str(story.job(job_id).error)
    assert "SQL Server message 33111" in error and "--tde-certificate" in error


def test_the_console_restores_the_seeded_tde_backup_with_the_same_flags():
    script = "\n".join(
        [
            f"/rds-restore tde/sales-tde.bak db.m5.large {FILES} --tde-password-key {{tde_password_key}}",
            "as bob",
            "approve {job}",
            "wait {job}",
        ]
    )
    result = rdsbot("shell", "--restore-seconds", "0.3", stdin=script)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "# TDE demo: /rds-restore tde/sales-tde.bak" in out
    card = out[out.index("┌ approval card") :]
    assert "│ TDE certificate: UserTDECertificate_rdsbot_" in card and "│ TDE password key: arn:aws:kms:" in card
    assert "TDE certificate UserTDECertificate_rdsbot_" in out and "restored from arn:aws:s3:::rdsbot-backups" in out
    assert "is succeeded" in out and "Traceback" not in out + result.stderr
