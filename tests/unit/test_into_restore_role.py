"""A plain (non-TDE) restore --into an instance whose option group carries SQLSERVER_BACKUP_RESTORE: RDS reads the
backup as that option's IAM role, which needs s3:ListBucket and s3:GetBucketLocation on the bucket, s3:GetObject and
s3:GetObjectAttributes on every object, and kms:Decrypt and kms:DescribeKey on an SSE-KMS key (AWS guide
"SQLServer.Procedural.Importing.Native.Enabling"). A role that could not used to pass every check and fail
rds_restore_database after approval; now what IAM denies it is refused before any card, and what only a key or
bucket policy may grant is a warning on the card."""

from __future__ import annotations

import pytest

from bot.audit_actions import AuditAction
from bot.domain import JobStatus
from bot.errors import RequestError
from bot.names import restore_role_name
from bot.parser import parse_restore_command
from config.policy_model import Policy, parse_policy
from tests.support.factories import BOT_NETWORK
from tests.unit.fakes import FakeAws
from tests.unit.test_into_rules import POLICY, RESTORE_OPTION_GROUP, existing, run, world
from tests.unit.test_tde_rules import KEY, TEAM_ROLE

INTO = "prod-backup.bak --into rdsbot-staging-1"
BACKUP = "arn:aws:s3:::rdsbot-backups/prod-backup.bak"
ALLOW_CHANGE = parse_policy(
    {
        "backups": {"default_bucket": "rdsbot-backups"},
        "network": BOT_NETWORK,
        "targets": {"existing_instances": ["rdsbot-staging-*"], "allow_option_group_change": True},
    }
)


def team_role(aws: FakeAws, decisions: dict[str, str] | None) -> None:
    existing(aws)
    aws.backup_roles[RESTORE_OPTION_GROUP] = TEAM_ROLE
    aws.role_decisions = decisions


def refusal(decisions: dict[str, str] | None, policy: Policy = POLICY) -> RequestError:
    aws, store, _, service = world(policy)
    team_role(aws, decisions)
    with pytest.raises(RequestError) as caught:
        service.submit(parse_restore_command(INTO), "U1")
    # Nothing recorded but the refusal's audit, no job, nothing made on AWS.
    assert [e.action for e in store.audit.events] == [AuditAction.REQUEST_REFUSED]
    assert store.jobs.list_jobs() == [] and aws.mutating == []
    return caught.value


@pytest.mark.parametrize("policy", [POLICY, ALLOW_CHANGE])
def test_a_role_iam_explicitly_denies_reading_the_backup_is_refused_before_any_card_naming_it(policy: Policy) -> None:
    # With targets.allow_option_group_change too: a plain --into copy is named per instance, not per role, so no
    # copy can stand in for the team's role; the refusal says so instead of planning one.
    error = refusal({f"s3:GetObject on {BACKUP}": "explicitDeny"}, policy)
    assert error.field == "into_instance_id"
    assert (
        f"{RESTORE_OPTION_GROUP} runs SQLSERVER_BACKUP_RESTORE as {TEAM_ROLE}, which lacks s3:GetObject on {BACKUP}"
        in error.message
    )
    assert "rds_restore_database" in error.message and "targets.allow_option_group_change" in error.message
    assert f"grant {TEAM_ROLE} what it lacks" in (error.hint or "")


def test_a_bucket_iam_implicitly_denies_listing_is_a_warning_since_a_bucket_policy_may_grant_it() -> None:
    aws, _, _, service = world()
    team_role(aws, {"s3:ListBucket on arn:aws:s3:::rdsbot-backups": "implicitDeny"})
    job = service.submit(parse_restore_command(INTO), "U1").job
    [warning] = [w for w in job.plan.warnings if TEAM_ROLE in w]
    assert (
        "s3:ListBucket on arn:aws:s3:::rdsbot-backups" in warning and "the bucket policy of rdsbot-backups" in warning
    )


def test_an_sse_kms_backup_whose_key_iam_implicitly_denies_is_a_card_warning_and_the_restore_proceeds() -> None:
    aws, store, clock, service = world()
    team_role(aws, {f"kms:Decrypt on {KEY}": "implicitDeny"})
    aws.object_keys["rdsbot-backups/prod-backup.bak"] = KEY
    job = service.submit(parse_restore_command(INTO), "U1", approved=True).job
    [warning] = [w for w in job.plan.warnings if TEAM_ROLE in w]
    assert f"kms:Decrypt on {KEY}" in warning and f"the key policy of {KEY}" in warning
    assert "rds_restore_database fails after approval" in warning
    run(aws, store, clock)
    assert store.jobs.by_id[job.id].status == JobStatus.SUCCEEDED
    assert aws.databases["rdsbot-staging-1"] == {"prod_backup"}


def test_iam_is_asked_for_every_file_of_a_striped_backup_and_every_step_of_a_chain_and_their_keys() -> None:
    aws, _, _, service = world()
    team_role(aws, {})
    for key in ("chain/full-1-of-2.bak", "chain/full-2-of-2.bak", "chain/diff.bak", "chain/log1.trn"):
        aws.objects[f"rdsbot-backups/{key}"] = 10
    aws.object_keys["rdsbot-backups/chain/log1.trn"] = KEY
    service.submit(
        parse_restore_command("chain/full* --into rdsbot-staging-1 --diff chain/diff.bak --log chain/log1.trn"), "U1"
    )
    [(role, needs)] = aws.asked_of_roles
    assert role == TEAM_ROLE
    assert needs.resources() == {  # golden: AWS guide "SQLServer.Procedural.Importing.Native.Enabling"
        ("s3:GetObject", "s3:GetObjectAttributes"): (
            "arn:aws:s3:::rdsbot-backups/chain/full-1-of-2.bak",
            "arn:aws:s3:::rdsbot-backups/chain/full-2-of-2.bak",
            "arn:aws:s3:::rdsbot-backups/chain/diff.bak",
            "arn:aws:s3:::rdsbot-backups/chain/log1.trn",
        ),
        ("s3:GetBucketLocation", "s3:ListBucket"): ("arn:aws:s3:::rdsbot-backups",),
        ("kms:Decrypt", "kms:DescribeKey"): (KEY,),
    }


def test_rdsbots_own_role_is_not_asked_of_iam() -> None:
    aws, _, _, service = world()
    existing(aws)
    aws.role_decisions = {f"s3:GetObject on {BACKUP}": "explicitDeny"}  # would refuse, were IAM asked
    job = service.submit(parse_restore_command(INTO), "U1").job
    assert job.plan.into is not None and aws.asked_of_roles == [] and "missing_permissions" not in aws.calls


def test_a_role_iam_cannot_be_asked_about_goes_ahead_with_what_it_needs_on_the_card() -> None:
    aws, _, _, service = world()
    team_role(aws, None)
    job = service.submit(parse_restore_command(INTO), "U1").job
    [warning] = [w for w in job.plan.warnings if "could not ask IAM" in w]
    assert f"whether {TEAM_ROLE} (the option group's role) may read the backup" in warning
    assert f"s3:GetObject, s3:GetObjectAttributes on {BACKUP}" in warning


def test_an_option_without_a_role_is_refused() -> None:
    aws, store, _, service = world()
    existing(aws)
    aws.backup_roles[RESTORE_OPTION_GROUP] = None
    with pytest.raises(RequestError) as caught:
        service.submit(parse_restore_command(INTO), "U1")
    assert f"{RESTORE_OPTION_GROUP} has SQLSERVER_BACKUP_RESTORE without an IAM_ROLE_ARN" in caught.value.message
    assert aws.mutating == [] and store.jobs.list_jobs() == []


def test_rdsbots_role_for_other_keys_is_not_asked_but_the_card_names_the_key_it_must_decrypt_with() -> None:
    aws, _, _, service = world()
    existing(aws)  # its group names rdsbot's role for no keys (rdsbot-native-restore)
    aws.object_keys["rdsbot-backups/prod-backup.bak"] = KEY
    job = service.submit(parse_restore_command(INTO), "U1").job
    [note] = [w for w in job.plan.warnings if "rdsbot's role for other KMS keys" in w]
    assert f"kms:Decrypt, kms:DescribeKey on {KEY}" in note and aws.asked_of_roles == []


def test_rdsbots_role_for_these_keys_gets_no_note() -> None:
    aws, _, _, service = world()
    existing(aws)
    aws.backup_roles[RESTORE_OPTION_GROUP] = f"arn:aws:iam::123456789012:role/rdsbot/{restore_role_name((KEY,))}"
    aws.object_keys["rdsbot-backups/prod-backup.bak"] = KEY
    job = service.submit(parse_restore_command(INTO), "U1").job
    assert not [w for w in job.plan.warnings if "KMS keys" in w or "could not" in w] and aws.asked_of_roles == []
