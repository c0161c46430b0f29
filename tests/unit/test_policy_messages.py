"""Each request rule alone, with the whole refusal a person reads, and the accepted values at each rule's edge."""

from __future__ import annotations

import pytest

from bot.errors import RequestError
from bot.parser import parse_restore_command
from bot.policy import plan_restore
from tests.unit.test_request_policy import POLICY, plan

BASE = "prod-backup.bak db.m5.large"
INSTANCE_ID_FIX = "use 1-63 letters, digits or hyphens, starting with a letter, no '--', not ending in '-'"
GP3_ONLY = "storage_throughput: throughput can be set only on gp3 storage"
DATABASE_FIX = "use letters, digits and underscores, starting with a letter or underscore (at most 128)"


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        ("--region eu-west-1", "region: eu-west-1 is not allowed by policy; allowed regions: us-east-1, us-west-2"),
        ("--name bad-", f"target_instance_id: 'bad-' is not a valid RDS instance identifier; {INSTANCE_ID_FIX}"),
        ("--name " + "a" * 64,
         f"target_instance_id: '{'a' * 64}' is not a valid RDS instance identifier; {INSTANCE_ID_FIX}"),
        ("--name rdsbot-drill-x", "target_instance_id: names starting rdsbot-drill- are reserved for drills"),
        ("--db 9db", f"database_name: '9db' is not an allowed database name; {DATABASE_FIX}"),
        ("--db " + "a" * 129, f"database_name: '{'a' * 129}' is not an allowed database name; {DATABASE_FIX}"),
        ("--db MSDB", "database_name: MSDB is a system database; choose another name"),
        ("--db master", "database_name: master is a system database; choose another name"),
        ("--db model", "database_name: model is a system database; choose another name"),
        ("--db tempdb", "database_name: tempdb is a system database; choose another name"),
        ("--db rdsadmin", "database_name: rdsadmin is a system database; choose another name"),
        ("--storage-type io1", "iops: io1 storage needs --iops; e.g. --iops 3000"),
        ("--storage-type io2", "iops: io2 storage needs --iops; e.g. --iops 3000"),
        ("--storage-type gp2 --iops 3000", "iops: gp2 storage has no provisioned IOPS; "
                                            "use --storage-type gp3, io1 or io2"),
        ("--throughput 500 --storage-type io2 --iops 3000", GP3_ONLY),
        ("--throughput 500 --storage-type gp2", GP3_ONLY),
        ("--edition web --multi-az", "multi_az: Multi-AZ is not offered for sqlserver-web; use --edition se or ee"),
        ("--edition ex --multi-az", "multi_az: Multi-AZ is not offered for sqlserver-ex; use --edition se or ee"),
        ("--kms-key arn:aws:kms:us-east-1:123456789012:key/x",
         "kms_key: --kms-key is gone: RDS uses different keys for different jobs; write --backup-kms-key KEY-ARN for "
         "a .bak encrypted client-side (rds_backup_database @kms_master_key_arn), --storage-kms-key KEY-ARN for the "
         "new instance's storage; the bucket's SSE-KMS key is read from the backup"),
        ("--backup-kms-key notakey",
         "backup_kms_key_arn: 'notakey' is not a full KMS key ARN; write --backup-kms-key "
         "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab; a bare key id or alias/name "
         "is resolved in whichever account reads it"),
    ],
)  # fmt: skip
def test_a_refused_request_says_which_field_what_is_wrong_and_how_to_fix_it(flags: str, said: str) -> None:
    with pytest.raises(RequestError) as caught:
        plan(f"{BASE} {flags}")
    assert str(caught.value) == said


def test_a_bucket_outside_the_policy_is_refused_naming_the_allowed_ones() -> None:
    with pytest.raises(RequestError) as caught:
        plan("s3://other-bucket/x.bak db.m5.large")
    assert str(caught.value) == (
        "backup: bucket other-bucket is not an allowed backup bucket; allowed buckets: rdsbot-backups, team-backups"
    )


@pytest.mark.parametrize(("flag", "field"), [("--cores 2", "cores"), ("--threads-per-core 2", "threads_per_core")])
def test_processor_features_are_refused_outside_the_optimize_cpu_classes(flag: str, field: str) -> None:
    # AWS guide "SQLServer.Concepts.General.OptimizeCPU": only 7th-generation license-included classes.
    with pytest.raises(RequestError) as caught:
        plan(f"prod-backup.bak db.t3.xlarge {flag}")
    assert str(caught.value) == (
        f"{field}: RDS for SQL Server sets cores and threads per core only on Optimize CPU classes (db.m7i, db.r7i), "
        "not on db.t3.xlarge; drop --cores/--threads-per-core, or use e.g. db.m7i.xlarge"
    )


def test_an_optimize_cpu_class_takes_cores_and_threads() -> None:
    planned = plan("prod-backup.bak db.m7i.2xlarge --cores 4 --threads-per-core 1")
    assert (planned.cores, planned.threads_per_core) == (4, 1)


@pytest.mark.parametrize(
    ("flags", "field", "value"),
    [
        ("--name rdsbot-" + "a" * 56, "target_instance_id", "rdsbot-" + "a" * 56),
        ("--name RdsBot-Restored-1", "target_instance_id", "rdsbot-restored-1"),
        ("--db _" + "a" * 127, "database_name", "_" + "a" * 127),
        ("--db Sales_2026", "database_name", "Sales_2026"),
        ("--storage-kms-key arn:aws:kms:us-east-1:123456789012:alias/x", "storage_kms_key_arn",
         "arn:aws:kms:us-east-1:123456789012:alias/x"),
        ("--backup-kms-key arn:aws:kms:us-east-1:123456789012:key/k", "backup_kms_key_arn",
         "arn:aws:kms:us-east-1:123456789012:key/k"),
        ("--edition ee --multi-az", "multi_az", True),
        ("--edition se --multi-az", "multi_az", True),
        ("--storage-type gp3 --throughput 500", "storage_throughput", 500),
        ("--storage-type io2 --iops 3000", "iops", 3000),
        ("--storage-type gp3 --iops 3000", "iops", 3000),
        ("--region us-west-2", "region", "us-west-2"),
        ("--storage 500", "allocated_storage_gb", 500),
    ],
)  # fmt: skip
def test_values_at_each_rules_edge_are_accepted(flags: str, field: str, value: object) -> None:
    assert getattr(plan(f"{BASE} {flags}"), field) == value


def test_defaults_fill_every_field_the_request_left_open() -> None:
    planned = plan(BASE)
    assert (planned.storage_type, planned.allocated_storage_gb, planned.license_model) == (
        "gp3",
        100,
        "license-included",
    )
    assert (planned.iops, planned.storage_throughput, planned.cores, planned.threads_per_core) == (None,) * 4
    assert (planned.multi_az, planned.engine_version, planned.multi_file) == (False, None, False)
    assert (planned.backup_kms_key_arn, planned.storage_kms_key_arn, planned.role_kms_key_arns) == (None, None, ())
    assert planned.warnings == (
        "db.m5.large runs on the AWS Nitro System: db.m5, db.r5 and db.t3 are throttled on combined read plus write "
        "workload; consider db.m6i or db.r6i for a heavy restore",
    )


def test_a_drill_may_not_take_a_name_outside_the_drill_namespace() -> None:
    with pytest.raises(RequestError) as caught:
        plan(f"{BASE} --name restored-prod", drill=True)
    assert str(caught.value) == "target_instance_id: drill instances are always named rdsbot-drill-..."


def test_a_plan_is_not_a_drill_unless_asked() -> None:
    planned = plan_restore(parse_restore_command(BASE), POLICY, "jabc12345")
    assert planned.target_instance_id == "rdsbot-prod-backup-jabc12345"
