import pytest

from bot.domain import Edition
from bot.errors import RequestError
from bot.parser import parse_restore_command
from bot.policy import plan_restore
from config.policy_model import parse_policy
from tests.support.factories import BOT_NETWORK

POLICY = parse_policy(
    {
        "region": {"default": "us-east-1", "allowed": ["us-east-1", "us-west-2"]},
        "backups": {"default_bucket": "rdsbot-backups", "allowed_buckets": ["rdsbot-backups", "team-backups"]},
        "audit": {"bucket": "rdsbot-audit", "prefix": "audit"},
        "network": BOT_NETWORK,
    }
)


def plan(text: str, *, drill: bool = False):
    return plan_restore(parse_restore_command(text), POLICY, "jabc12345", drill=drill)


def test_defaults_come_from_policy_and_names_are_deterministic():
    planned = plan("prod-backup.bak db.m6i.large")
    assert planned.region == "us-east-1" and planned.backup_bucket == "rdsbot-backups"
    assert planned.target_instance_id == "rdsbot-prod-backup-jabc12345"
    assert planned.database_name == "prod_backup"
    assert planned.edition == Edition.STANDARD and planned.major_version == "15.00"
    assert planned.s3_arn == "arn:aws:s3:::rdsbot-backups/prod-backup.bak"
    assert planned.warnings == ()


def test_multi_file_arn_ends_with_star():
    assert plan("s3://team-backups/prod_* db.m6i.large").s3_arn == "arn:aws:s3:::team-backups/prod_*"


def test_nitro_classes_carry_the_throttling_warning():
    (warning,) = plan("prod-backup.bak db.m5.large").warnings
    assert "throttled on combined read plus write" in warning


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("prod-backup.bak db.m1.small", "instance_class", "try db.m6i.large"),
        ("prod-backup.bak db.m3.xlarge", "instance_class", "try db.m6i.xlarge"),
        ("prod-backup.bak m5.large", "instance_class", "not an RDS instance class"),
        ("prod-backup.bak db.m5.large --region eu-west-1", "region", "allowed regions: us-east-1, us-west-2"),
        ("s3://other-bucket/x.bak db.m5.large", "backup", "not an allowed backup bucket"),
        ("prod-backup.bak db.m5.large --name 1-bad", "target_instance_id", "not a valid RDS instance identifier"),
        ("prod-backup.bak db.m5.large --name bad--name", "target_instance_id", "not a valid"),
        ("prod-backup.bak db.m5.large --name rdsbot-drill-x", "target_instance_id", "reserved for drills"),
        ("prod-backup.bak db.m5.large --name prod-copy", "target_instance_id", "does not start with rdsbot-"),
        ('prod-backup.bak db.m5.large --db "x\'; DROP DATABASE master; --"', "database_name", "not an allowed"),
        ("prod-backup.bak db.m5.large --db [prod]", "database_name", "not an allowed"),
        ("prod-backup.bak db.m5.large --db msdb", "database_name", "system database"),
        ("prod-backup.bak db.m5.large --storage-type io1", "iops", "needs --iops"),
        ("prod-backup.bak db.m5.large --storage-type gp2 --iops 3000", "iops", "no provisioned IOPS"),
        ("prod-backup.bak db.m5.large --throughput 500 --storage-type io2 --iops 3000", "storage_throughput", "gp3"),
        ("prod-backup.bak db.t3.xlarge --cores 2", "cores", "only on Optimize CPU classes"),
        ("prod-backup.bak db.m5.large --edition web --multi-az", "multi_az", "not offered"),
        ("prod-backup.bak db.m5.large --backup-kms-key notakey", "backup_kms_key_arn", "not a full KMS key ARN"),
    ],
)
def test_policy_refuses_with_the_field_and_a_fix(text, field, words):
    with pytest.raises(RequestError) as caught:
        plan(text)
    assert caught.value.field == field
    assert words in str(caught.value)


def test_drills_are_named_so_they_never_collide_with_real_instances():
    assert plan("prod-backup.bak db.m6i.large", drill=True).target_instance_id.startswith("rdsbot-drill-")


@pytest.mark.parametrize("drill", [False, True])
def test_without_bot_sources_restores_and_drills_are_refused_naming_the_key(drill):
    # Everything else in the request is fine: only the missing bot source can refuse it.
    closed = POLICY.model_copy(update={"network": POLICY.network.model_copy(update={"bot_sources": ()})})
    with pytest.raises(RequestError) as caught:
        plan_restore(parse_restore_command("prod-backup.bak db.m6i.large"), closed, "jabc12345", drill=drill)
    assert caught.value.field == "network.bot_sources"
    assert "port 1433" in str(caught.value) and "network.bot_sources" in str(caught.value.hint)


def test_a_client_source_alone_does_not_let_the_bot_in():
    network = POLICY.network.model_copy(update={"bot_sources": (), "allowed_cidrs": ("10.20.0.0/16",)})
    with pytest.raises(RequestError, match=r"network\.bot_sources"):
        plan_restore(
            parse_restore_command("prod-backup.bak db.m6i.large"), POLICY.model_copy(update={"network": network}), "j1"
        )
