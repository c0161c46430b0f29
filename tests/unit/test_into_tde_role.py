"""A TDE restore --into an instance whose option group already carries SQLSERVER_BACKUP_RESTORE and TDE: RDS imports
the certificate as that option's IAM role, which must read the .cer and .pvk, decrypt with the password key, and
call s3:GetBucketAcl and s3:ListAllMyBuckets (AWS guide "TDE.BackupRestoreRDS", prerequisites). A role that cannot
used to pass every check and fail rds_restore_tde_certificate after approval; now it is refused before any card,
naming what it lacks and targets.allow_option_group_change, or, with that key, the card plans a copy of the group
naming rdsbot's own -tde role."""

from __future__ import annotations

import pytest

from bot import card_facts, names
from bot.domain import JobStatus
from bot.parser import parse_restore_command
from bot.service import RestoreService
from bot.workflow import Engine
from config.policy_model import Policy, parse_policy
from tests.support.factories import BOT_NETWORK
from tests.unit.fakes import FakeAws, RecordingNotifier
from tests.unit.test_tde_rules import INTO, KEY, POLICY, TEAM_ROLE, existing, refusal, world

BOTH = {"SQLSERVER_BACKUP_RESTORE", "TDE"}
LACKS = f"kms:Decrypt on {KEY}"
DENIED = {LACKS: "explicitDeny"}  # a Deny statement in the role's own policies: no key policy can undo it
PLAIN_ROLE = "arn:aws:iam::123456789012:role/rdsbot/rdsbot-native-restore"
ALLOW_CHANGE = parse_policy(
    {
        "backups": {"default_bucket": "rdsbot-backups", "allowed_buckets": ["rdsbot-backups", "rdsbot-certs"]},
        "network": BOT_NETWORK,
        "targets": {"existing_instances": ["rdsbot-staging-*"], "allow_option_group_change": True},
    }
)


def team_group(aws: FakeAws, *, role: str | None = TEAM_ROLE, decisions: dict[str, str] | None = None) -> None:
    existing(aws, options=set(BOTH))
    if role is None:
        aws.backup_roles["team-og"] = None
    else:
        aws.backup_roles["team-og"] = role
    aws.role_decisions = decisions


def test_a_role_iam_explicitly_denies_decrypting_the_password_is_refused_before_any_card_naming_it() -> None:
    error = refusal(INTO, lambda aws: team_group(aws, decisions=DENIED))
    assert error.field == "into_instance_id"
    assert f"team-og runs SQLSERVER_BACKUP_RESTORE as {TEAM_ROLE}, which lacks {LACKS}" in error.message
    assert "rds_restore_tde_certificate" in error.message
    assert "targets.allow_option_group_change: true" in (error.hint or "")
    assert f"rdsbot's role {names.restore_role_name((KEY,), tde=True)}" in (error.hint or "")


def test_iam_is_asked_exactly_what_the_guide_says_the_import_needs() -> None:
    aws, _, _, service = world()
    team_group(aws, decisions={})
    service.submit(parse_restore_command(INTO), "U1")
    [(role, needs)] = aws.asked_of_roles
    assert role == TEAM_ROLE
    assert needs.resources() == {  # golden: AWS guide "TDE.BackupRestoreRDS", prerequisites, and native restore's reads
        ("s3:GetObject", "s3:GetObjectAttributes"): (
            "arn:aws:s3:::rdsbot-backups/tde/db.cer",
            "arn:aws:s3:::rdsbot-certs/tde/db.pvk",
        ),
        ("s3:GetBucketLocation", "s3:ListBucket", "s3:GetBucketAcl"): (
            "arn:aws:s3:::rdsbot-backups",
            "arn:aws:s3:::rdsbot-certs",
        ),
        ("s3:ListAllMyBuckets",): ("*",),
        ("kms:Decrypt", "kms:DescribeKey"): (KEY,),
    }


def test_with_the_key_the_card_plans_a_copy_naming_rdsbots_tde_role_and_the_restore_uses_it() -> None:
    aws, store, clock, _ = world()
    service = RestoreService(store.jobs, store.audit, aws.gateways, ALLOW_CHANGE, clock)
    team_group(aws, decisions=DENIED)
    job = service.submit(parse_restore_command(INTO), "U1", approved=True).job
    into, role = job.plan.into, names.restore_role_name((KEY,), tde=True)
    assert into is not None and into.new_option_group is not None
    assert into.new_option_group.startswith("rdsbot-into-rdsbot-staging-1-15-00-k")
    assert into.new_option_group.endswith("-tde")
    assert (into.copied_options, into.replaced_role_arn, into.replaced_role_lacks) == (("TDE",), TEAM_ROLE, (LACKS,))
    [change] = [line for line in card_facts.card_lines(job, card_facts.PLAIN) if line.startswith("CHANGES")]
    assert (
        f"team-og's SQLSERVER_BACKUP_RESTORE runs as {TEAM_ROLE}, which cannot import the TDE certificate "
        f"(it lacks {LACKS}): rdsbot creates option group {into.new_option_group} (a copy of team-og's options [TDE] "
        f"plus SQLSERVER_BACKUP_RESTORE with IAM role {role})"
    ) in change
    Engine(store.jobs, aws.gateways, ALLOW_CHANGE, RecordingNotifier(), clock, poll_seconds=5).run_until_idle(600)
    done = store.jobs.get_job(job.id)
    assert done is not None and done.status == JobStatus.SUCCEEDED, done.error if done else None
    [copy] = aws.option_group_copies
    assert (copy.source, copy.role_arn.rpartition("/")[2]) == ("team-og", role)
    assert done.outputs.previous_option_group == "team-og"
    assert list(aws.tde_certificates["rdsbot-staging-1"]) == [f"UserTDECertificate_rdsbot_{job.id}"]


def test_rdsbots_own_tde_role_for_these_keys_is_trusted_without_asking_iam() -> None:
    aws, _, _, service = world()
    team_group(aws, role=f"arn:aws:iam::123456789012:role/rdsbot/{names.restore_role_name((KEY,), tde=True)}")
    job = service.submit(parse_restore_command(INTO), "U1").job
    assert job.plan.into is not None and job.plan.into.new_option_group is None
    assert aws.asked_of_roles == []


def test_rdsbots_plain_restore_role_is_refused_even_when_iam_cannot_be_asked() -> None:
    # e.g. a non-TDE --into once gave the instance a copy of a team group carrying TDE, with the plain role.
    error = refusal(INTO, lambda aws: team_group(aws, role=PLAIN_ROLE, decisions=None))
    assert "s3:GetBucketAcl (rdsbot grants it only to its -tde roles)" in error.message
    assert "s3:ListAllMyBuckets" in error.message and PLAIN_ROLE in error.message


def test_an_option_without_a_role_is_refused() -> None:
    error = refusal(INTO, lambda aws: team_group(aws, role=None))
    assert "team-og has SQLSERVER_BACKUP_RESTORE without an IAM_ROLE_ARN" in error.message
    assert "set IAM_ROLE_ARN" in (error.hint or "")


def test_a_role_iam_cannot_be_asked_about_goes_ahead_with_what_it_needs_on_the_card() -> None:
    aws, _, _, service = world()
    team_group(aws, decisions=None)
    job = service.submit(parse_restore_command(INTO), "U1").job
    [warning] = [w for w in job.plan.warnings if "could not ask IAM" in w]
    assert f"whether {TEAM_ROLE} (the option group's role) may import the TDE certificate" in warning
    assert f"kms:Decrypt, kms:DescribeKey on {KEY}" in warning


def test_a_tde_copy_follows_the_keys_so_another_key_never_names_the_group_the_instance_is_on() -> None:
    other = KEY.replace("11111111", "99999999")
    first = names.into_option_group_name("rdsbot-staging-1", "15.00", (KEY,), tde=True)
    assert first != names.into_option_group_name("rdsbot-staging-1", "15.00", (other,), tde=True)
    assert names.into_option_group_name("rdsbot-staging-1", "15.00") == "rdsbot-into-rdsbot-staging-1-15-00"


@pytest.mark.parametrize("policy", [POLICY, ALLOW_CHANGE])
def test_a_role_iam_finds_complete_changes_nothing(policy: Policy) -> None:
    aws, store, clock, _ = world()
    team_group(aws, decisions={})
    service = RestoreService(store.jobs, store.audit, aws.gateways, policy, clock)
    job = service.submit(parse_restore_command(INTO), "U1").job
    assert job.plan.into is not None and job.plan.into.new_option_group is None
    assert not [line for line in card_facts.card_lines(job, card_facts.PLAIN) if line.startswith("CHANGES")]
    assert [role for role, _ in aws.asked_of_roles] == [TEAM_ROLE]


def test_a_role_that_loses_a_grant_after_approval_fails_validate_before_anything_changes() -> None:
    """Approved with no option-group change (IAM then said the role could import); by validate it cannot: the job
    stops there, naming the change it would now need, instead of failing at the certificate import."""
    aws, store, clock, _ = world()
    service = RestoreService(store.jobs, store.audit, aws.gateways, ALLOW_CHANGE, clock)
    team_group(aws, decisions={})
    job = service.submit(parse_restore_command(INTO), "U1", approved=True).job
    assert job.plan.into is not None and job.plan.into.new_option_group is None
    aws.role_decisions = DENIED
    Engine(store.jobs, aws.gateways, ALLOW_CHANGE, RecordingNotifier(), clock, poll_seconds=5).run_until_idle(600)
    done = store.jobs.get_job(job.id)
    assert done is not None and done.status == JobStatus.FAILED
    assert "rdsbot-staging-1 now needs option group rdsbot-into-rdsbot-staging-1-15-00-k" in (done.error or "")
    assert f"({TEAM_ROLE} lacks {LACKS}), not none as approved; nothing was changed" in (done.error or "")
    assert aws.mutating == [] and "rds_restore_tde_certificate" not in aws.calls


# IAM API reference "SimulatePrincipalPolicy": a resource-based policy is simulated for IAM users only, so a role made
# a user of the password key in the key policy, as AWS guide "TDE.BackupRestoreRDS" (prerequisites) has it, reads
# implicitDeny for kms:Decrypt there although RDS may decrypt as it.
KEY_POLICY_ONLY = {LACKS: "implicitDeny"}


@pytest.mark.parametrize("policy", [POLICY, ALLOW_CHANGE])
def test_a_role_granted_decrypt_in_the_key_policy_goes_ahead_with_a_warning_and_no_option_group_change(
    policy: Policy,
) -> None:
    aws, store, clock, _ = world()
    team_group(aws, decisions=KEY_POLICY_ONLY)
    service = RestoreService(store.jobs, store.audit, aws.gateways, policy, clock)
    job = service.submit(parse_restore_command(INTO), "U1", approved=True).job
    assert job.plan.into is not None and job.plan.into.new_option_group is None
    [warning] = [w for w in job.plan.warnings if "could not confirm" in w]
    assert f"that {TEAM_ROLE} (the option group's role) may import the TDE certificate" in warning
    assert f"do not allow {LACKS}, which the key policy of {KEY} may grant" in warning
    assert warning.endswith("if none does, rds_restore_tde_certificate fails after approval")
    assert f"⚠ {warning}" in card_facts.card_lines(job, card_facts.PLAIN)
    Engine(store.jobs, aws.gateways, policy, RecordingNotifier(), clock, poll_seconds=5).run_until_idle(600)
    done = store.jobs.get_job(job.id)
    assert done is not None and done.status == JobStatus.SUCCEEDED, done.error if done else None
    assert aws.option_group_copies == []  # the customer's instance stays on its own group


def test_a_bucket_acl_read_only_a_bucket_policy_grants_is_a_warning_naming_that_bucket() -> None:
    aws, _, _, service = world()
    team_group(aws, decisions={"s3:GetBucketAcl on arn:aws:s3:::rdsbot-certs": "implicitDeny"})
    job = service.submit(parse_restore_command(INTO), "U1").job
    [warning] = [w for w in job.plan.warnings if "could not confirm" in w]
    assert "s3:GetBucketAcl on arn:aws:s3:::rdsbot-certs, which the bucket policy of rdsbot-certs may grant" in warning


def test_listing_buckets_no_resource_policy_can_grant_is_still_refused_when_iam_implicitly_denies_it() -> None:
    error = refusal(INTO, lambda aws: team_group(aws, decisions={"s3:ListAllMyBuckets on *": "implicitDeny"}))
    assert f"{TEAM_ROLE}, which lacks s3:ListAllMyBuckets on *" in error.message


def test_an_explicit_deny_refuses_even_beside_what_a_key_policy_may_grant() -> None:
    bucket_denied = "s3:GetObject on arn:aws:s3:::rdsbot-certs/tde/db.pvk"
    error = refusal(INTO, lambda aws: team_group(aws, decisions={**KEY_POLICY_ONLY, bucket_denied: "explicitDeny"}))
    assert f"which lacks {bucket_denied}, so RDS would refuse" in error.message
