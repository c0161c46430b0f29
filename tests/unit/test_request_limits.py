"""Limits RDS for SQL Server enforces, refused at request time: before an approval is asked, nothing created.

Each rule cites the AWS page it models.
"""

from __future__ import annotations

import pytest

from bot import instance_classes
from bot.domain import Edition
from bot.errors import RequestError
from bot.parser import parse_restore_command
from bot.policy import plan_restore
from config.policy_model import parse_policy
from tests.support.factories import BOT_NETWORK

POLICY = parse_policy(
    {
        "region": {"default": "us-east-1", "allowed": ["us-east-1", "us-west-2"]},
        "backups": {"default_bucket": "rdsbot-backups"},
        "network": BOT_NETWORK,
    }
)


def plan(text: str, policy=POLICY):
    return plan_restore(parse_restore_command(text), policy, "jabc12345")


def refused(text: str, policy=POLICY) -> RequestError:
    with pytest.raises(RequestError) as caught:
        plan(text, policy)
    return caught.value


# Processor features: AWS guide "SQLServer.Concepts.General.OptimizeCPU" (only 7th-generation license-included).


def test_optimize_cpu_cores_on_db_m5_large_are_refused_naming_the_classes_that_allow_them():
    # db.m5.large is orderable and not burstable: only the Optimize CPU rule can refuse it.
    error = refused("prod-backup.bak db.m5.large --cores 2")
    assert error.field == "cores"
    assert "only on Optimize CPU classes (db.m7i, db.r7i), not on db.m5.large" in error.message
    assert "drop --cores/--threads-per-core" in (error.hint or "")


def test_threads_per_core_alone_is_refused_on_a_class_without_optimize_cpu():
    assert refused("prod-backup.bak db.r6i.xlarge --threads-per-core 1").field == "threads_per_core"


def test_optimize_cpu_class_takes_cores_up_to_its_own():
    planned = plan("prod-backup.bak db.m7i.8xlarge --cores 8 --threads-per-core 1")
    assert (planned.cores, planned.threads_per_core) == (8, 1)
    assert plan("prod-backup.bak db.r7i.8xlarge --cores 16").cores == 16


def test_more_cores_than_the_class_has_are_refused():
    error = refused("prod-backup.bak db.m7i.2xlarge --cores 8")
    assert error.field == "cores" and "db.m7i.2xlarge has 4 cores" in error.message and "1 to 4" in (error.hint or "")


def test_optimize_cpu_classes_are_in_the_builtin_table_with_their_cores():
    assert instance_classes.OPTIMIZE_CPU["db.m7i.8xlarge"] == instance_classes.ProcessorShape(vcpus=32, cores=16)
    assert instance_classes.OPTIMIZE_CPU["db.r7i.large"].cores == 1
    se = instance_classes.BUILTIN_ORDERABLE[Edition.STANDARD]
    assert {"db.m7i.8xlarge", "db.r7i.2xlarge"} <= se


def test_optimize_cpu_needs_license_included():
    byol = parse_policy(
        {
            "backups": {"default_bucket": "b"},
            "network": BOT_NETWORK,
            "engine": {"license_model": "bring-your-own-license"},
        }
    )
    error = refused("prod-backup.bak db.m7i.xlarge --cores 1", byol)
    assert error.field == "cores" and "license-included" in error.message


# Major versions: AWS guide "SQLServer.Concepts.General.VersionSupport".


def test_major_version_16_is_offered():
    planned = plan("prod-backup.bak db.m6i.large --major-version 16.00")
    assert planned.major_version == "16.00" and planned.engine_version is None


@pytest.mark.parametrize(("major", "name"), [("11.00", "SQL Server 2012"), ("12.00", "SQL Server 2014")])
def test_end_of_support_majors_are_refused_with_a_newer_one(major, name):
    error = refused(f"prod-backup.bak db.m6i.large --major-version {major}")
    assert error.field == "major_version" and f"{major} ({name}) has reached end of support" in error.message
    assert "16.00" in (error.hint or "")


def test_a_policy_naming_an_end_of_support_major_stops_the_bot_at_start():
    from bot.errors import ConfigError

    with pytest.raises(ConfigError, match=r"engine\.major_version: 12\.00 \(SQL Server 2014\) has reached end"):
        parse_policy({"backups": {"default_bucket": "b"}, "network": BOT_NETWORK, "engine": {"major_version": "12.00"}})


def test_a_pinned_minor_version_is_kept_only_for_its_own_major():
    pinned = parse_policy(
        {
            "backups": {"default_bucket": "b"},
            "network": BOT_NETWORK,
            "engine": {"major_version": "15.00", "engine_version": "15.00.4345.5.v1"},
        }
    )
    assert plan("prod-backup.bak db.m6i.large", pinned).engine_version == "15.00.4345.5.v1"
    assert plan("prod-backup.bak db.m6i.large --major-version 16.00", pinned).engine_version is None


# KMS keys: full ARNs in the target region, of an allowed account (AWS KMS guide "alias-authorization" for why the
# backup key must be a key ARN: IAM does not match key use against an alias ARN).

KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ALIAS = "arn:aws:kms:us-east-1:111122223333:alias/rds-storage"
ALLOWING = parse_policy(
    {
        "region": {"default": "us-east-1", "allowed": ["us-east-1", "us-west-2"]},
        "backups": {"default_bucket": "rdsbot-backups"},
        "network": BOT_NETWORK,
        "kms": {"allowed_accounts": ["111122223333"]},
    }
)


def test_each_key_lands_in_its_own_plan_field():
    planned = plan(f"prod-backup.bak db.m6i.large --backup-kms-key {KEY} --storage-kms-key {ALIAS}", ALLOWING)
    assert planned.backup_kms_key_arn == KEY and planned.storage_kms_key_arn == ALIAS
    assert planned.role_kms_key_arns == (KEY,)  # the storage key is RDS's business, not the restore role's


@pytest.mark.parametrize(
    ("flags", "field", "words"),
    [
        ("--backup-kms-key alias/backups", "backup_kms_key_arn", "not a full KMS key ARN"),
        ("--storage-kms-key 1234abcd-12ab-34cd-56ef-1234567890ab", "storage_kms_key_arn", "not a full KMS key ARN"),
        (f"--backup-kms-key {ALIAS}", "backup_kms_key_arn", "is an alias"),
        (f"--storage-kms-key {KEY.replace('us-east-1', 'us-west-2')}", "storage_kms_key_arn", "is in us-west-2"),
        (f"--backup-kms-key {KEY.replace('111122223333', '999999999999')}", "backup_kms_key_arn", "999999999999"),
        (f"--storage-kms-key {KEY.replace(':aws:', ':aws-cn:')}", "storage_kms_key_arn", "is in partition aws-cn"),
    ],
)
def test_a_key_in_the_wrong_form_region_or_account_is_refused(flags, field, words):
    error = refused(f"prod-backup.bak db.m6i.large {flags}", ALLOWING)
    assert error.field == field and words in str(error)


def test_the_account_hint_names_the_policy_key():
    error = refused(f"prod-backup.bak db.m6i.large --storage-kms-key {KEY.replace('1111', '9999')}", ALLOWING)
    assert "kms.allowed_accounts" in (error.hint or "")


def test_an_alias_arn_is_fine_for_the_storage_key():
    assert plan(f"prod-backup.bak db.m6i.large --storage-kms-key {ALIAS}", ALLOWING).storage_kms_key_arn == ALIAS


def test_kms_allowed_accounts_must_be_account_ids():
    from bot.errors import ConfigError

    with pytest.raises(ConfigError, match=r"kms\.allowed_accounts: 'acme' is not a 12-digit AWS account id"):
        parse_policy(
            {"backups": {"default_bucket": "b"}, "network": BOT_NETWORK, "kms": {"allowed_accounts": ["acme"]}}
        )
