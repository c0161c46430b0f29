import pytest

from bot.domain import Edition, StorageType
from bot.errors import RequestError
from bot.parser import parse_restore_command


def test_the_users_own_command_parses_with_defaults_left_open():
    request = parse_restore_command("prod-backup.bak db.m5.large")
    assert request.backup.bucket is None
    assert request.backup.key == "prod-backup.bak"
    assert request.instance_class == "db.m5.large"
    assert request.region is None and request.database_name is None and not request.dry_run


def test_every_flag_lands_in_its_field():
    request = parse_restore_command(
        "s3://team-backups/sql/prod* db.r7i.xlarge --region us-west-2 --name restored-prod --db Prod_2026 "
        "--edition ee --storage-type io1 --storage 500 --iops 3000 --cores 2 --threads-per-core=1 --multi-az "
        "--major-version 16.00 --backup-kms-key arn:aws:kms:us-west-2:123456789012:key/abc-123 "
        "--storage-kms-key arn:aws:kms:us-west-2:123456789012:alias/rds-storage --dry-run"
    )
    assert request.backup.bucket == "team-backups" and request.backup.key == "sql/prod" and request.backup.multi_file
    assert request.region == "us-west-2" and request.target_instance_id == "restored-prod"
    assert request.database_name == "Prod_2026" and request.edition == Edition.ENTERPRISE
    assert request.storage_type == StorageType.IO1 and request.allocated_storage_gb == 500 and request.iops == 3000
    assert request.cores == 2 and request.threads_per_core == 1 and request.multi_az and request.dry_run
    assert request.major_version == "16.00"
    assert request.backup_kms_key_arn == "arn:aws:kms:us-west-2:123456789012:key/abc-123"
    assert request.storage_kms_key_arn == "arn:aws:kms:us-west-2:123456789012:alias/rds-storage"


def test_the_old_kms_key_flag_is_refused_naming_both_new_flags():
    # One key did three jobs (issue 11): the user must now say which key is which.
    with pytest.raises(RequestError) as caught:
        parse_restore_command("prod-backup.bak db.m5.large --kms-key arn:aws:kms:us-east-1:123456789012:key/abc")
    assert caught.value.field == "kms_key"
    assert "--backup-kms-key" in str(caught.value) and "--storage-kms-key" in str(caught.value)


def test_usage_lists_the_new_flags_and_not_the_old_one():
    from bot.parser import USAGE

    assert "--backup-kms-key" in USAGE and "--storage-kms-key" in USAGE and "--major-version" in USAGE
    assert "--kms-key " not in USAGE


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("", "backup", "missing"),
        ("prod-backup.bak", "instance_class", "missing"),
        ("prod-backup.tar db.m5.large", "backup", "not a .bak"),
        ("s3://Bad_Bucket/x.bak db.m5.large", "backup", "not an S3 bucket"),
        ("pro*d.bak db.m5.large", "backup", "may only end"),
        ("prod-backup.bak db.m5.large --cores two", "cores", "not a whole number"),
        ("prod-backup.bak db.m5.large --threads-per-core 4", "threads_per_core", "out of range"),
        ("prod-backup.bak db.m5.large --edition developer", "edition", "not a SQL Server edition"),
        ("prod-backup.bak db.m5.large --storage-type magnetic", "storage_type", "not a storage type"),
        ("prod-backup.bak db.m5.large --colour blue", "command", "unknown flag --colour"),
        ("prod-backup.bak db.m5.large --region", "region", "needs a value"),
        ("prod-backup.bak db.m5.large extra", "command", "unexpected word"),
        ("prod-backup.bak db.m5.large --db 'unterminated", "command", "cannot read"),
    ],
)
def test_bad_input_names_the_field(text, field, words):
    with pytest.raises(RequestError) as caught:
        parse_restore_command(text)
    assert caught.value.field == field
    assert words in str(caught.value)
