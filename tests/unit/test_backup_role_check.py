"""/rds-backup onto an option group whose role rdsbot does not manage: IAM's simulation (iam:SimulatePrincipalPolicy)
reads only the role's own policies (IAM API reference "SimulatePrincipalPolicy": a resource-based policy is simulated
for IAM users only), so a role the bucket policy lets write, or the backup key's policy lets encrypt, reads
implicitDeny there. Only an explicit deny refuses; the rest is a warning on the card saying where it may be granted."""

from __future__ import annotations

from bot.card_facts import PLAIN, card_lines
from bot.domain import JobStatus
from tests.unit.fakes import FakeClock
from tests.unit.test_backup_rules import COPY, GROUP, KEY, TEAM_ROLE, refused, run, submit, world

WRITE = "s3:PutObject on arn:aws:s3:::rdsbot-backups/copies/*"


def test_a_role_only_the_bucket_policy_lets_write_is_a_warning_and_the_backup_runs():
    aws, store, _, service = world()
    aws.backup_roles[GROUP] = TEAM_ROLE
    aws.role_decisions = {WRITE: "implicitDeny"}
    job = submit(service, f"rdsbot-first Prod {COPY}")
    lines = card_lines(job, PLAIN)
    [warning] = [line for line in lines if line.startswith("⚠") and "could not confirm" in line]
    assert f"Role: {warning.removeprefix('⚠ ')}" in lines  # the card's Role line says the same
    assert warning.startswith(f"⚠ rdsbot could not confirm that {TEAM_ROLE} may write {COPY}: ")
    assert f"do not allow {WRITE}, which the bucket policy of rdsbot-backups may grant" in warning
    assert warning.endswith("if none does, rds_backup_database fails after approval")
    store.jobs.transition(job.id, JobStatus.AWAITING_APPROVAL, JobStatus.QUEUED, [])
    run(aws, store, FakeClock())
    assert store.jobs.get_job(job.id).status == JobStatus.SUCCEEDED
    assert aws.grants == []  # not rdsbot's role: checked, never changed


def test_a_backup_key_only_its_key_policy_lets_the_role_use_is_a_warning_naming_the_key():
    aws, _, _, service = world()
    aws.backup_roles[GROUP] = TEAM_ROLE
    aws.role_decisions = {f"kms:GenerateDataKey on {KEY}": "implicitDeny"}
    job = submit(service, f"rdsbot-first Prod {COPY} --backup-kms-key {KEY}")
    assert any(f"kms:GenerateDataKey on {KEY}, which the key policy of {KEY} may grant" in w for w in job.plan.warnings)


def test_a_role_iam_explicitly_denies_to_write_is_refused_naming_the_action():
    aws, store, _, service = world()
    aws.backup_roles[GROUP] = TEAM_ROLE
    aws.role_decisions = {WRITE: "explicitDeny", "s3:ListBucket on arn:aws:s3:::rdsbot-backups": "implicitDeny"}
    error = refused(service, store, aws, f"rdsbot-first Prod {COPY}")
    assert error.field == "instance"
    assert f"{TEAM_ROLE} (the option group's role, not rdsbot's) lacks {WRITE}" in str(error)
    assert "s3:ListBucket" not in str(error)  # a bucket policy may grant that one: not a reason to refuse
