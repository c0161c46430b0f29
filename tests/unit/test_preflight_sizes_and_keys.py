"""The preflight's size and key rules, each alone on the fakes: SQL Server Express holds at most 10 GB, the storage
must hold the backup (with a suggested size), every KMS key is a full ARN in the region and of an allowed account,
and the validate stage refuses a backup whose SSE-KMS keys changed since the request. Whole values pinned."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.domain import Edition, Job, RestorePlan
from bot.errors import RequestError, StageError
from bot.stages import Done, StageContext, _validate, preflight
from config.policy_model import Policy, parse_policy
from tests.support.factories import BOT_NETWORK, make_plan
from tests.unit.fakes import FakeAws

GIB = 2**30
OBJECT = "acme-backups/sales/2024-11-24.bak"  # make_plan's backup
BACKUPS = {"default_bucket": "acme-backups"}
POLICY = parse_policy({"backups": BACKUPS, "network": BOT_NETWORK})
OWN_KEY = "arn:aws:kms:eu-west-1:123456789012:key/own-1"  # the fakes' account, the plan's region
OWN_KEY_2 = "arn:aws:kms:eu-west-1:123456789012:key/own-2"
FOREIGN_KEY = "arn:aws:kms:eu-west-1:999999999999:key/foreign-1"
OTHER_REGION_KEY = "arn:aws:kms:us-east-1:123456789012:key/east-1"
FOREIGN_HINT = "allowed accounts (kms.allowed_accounts): 123456789012"


def _aws(size_bytes: int = 5 * GIB, object_key: str | None = None) -> FakeAws:
    """The plan's backup of `size_bytes`, stored under the SSE-KMS key `object_key` when given."""
    aws = FakeAws(objects={OBJECT: size_bytes}, region="eu-west-1")
    aws.object_keys = {OBJECT: object_key} if object_key else {}
    return aws


def _plan(**changes: object) -> RestorePlan:
    return make_plan().model_copy(update=changes)


def _refused(plan: RestorePlan, aws: FakeAws, policy: Policy = POLICY) -> tuple[str, str, str | None]:
    with pytest.raises(RequestError) as excinfo:
        preflight(plan, aws.gateways(), policy)
    return excinfo.value.field, excinfo.value.message, excinfo.value.hint


# Express: at most 10 GB per database


def test_express_refuses_a_backup_over_10_gib() -> None:
    assert _refused(_plan(edition=Edition.EXPRESS), _aws(int(12.5 * GIB))) == (
        "edition",
        "the backup holds 12.5 GiB and SQL Server Express restores at most 10 GB per database",
        "use --edition web, se or ee",
    )


def test_express_takes_a_backup_of_exactly_10_gib() -> None:
    assert preflight(_plan(edition=Edition.EXPRESS), _aws(10 * GIB).gateways(), POLICY).backup.total_bytes == 10 * GIB


def test_express_refuses_one_byte_over_10_gib() -> None:
    field, _, _ = _refused(_plan(edition=Edition.EXPRESS), _aws(10 * GIB + 1))
    assert field == "edition"


def test_other_editions_take_a_backup_over_10_gib() -> None:
    checked = preflight(_plan(edition=Edition.STANDARD), _aws(int(12.5 * GIB)).gateways(), POLICY)
    assert checked.backup.total_bytes == int(12.5 * GIB)


# storage must hold the backup, a quarter more suggested


def test_storage_smaller_than_the_backup_is_refused_with_a_quarter_more_rounded_up() -> None:
    assert _refused(_plan(allocated_storage_gb=20), _aws(30 * GIB)) == (
        "allocated_storage_gb",
        "20 GiB of storage cannot hold the 30.0 GiB backup",
        "ask for --storage 38 or more",
    )


def test_storage_exactly_the_backups_size_passes() -> None:
    assert preflight(_plan(allocated_storage_gb=20), _aws(20 * GIB).gateways(), POLICY).backup.total_bytes == 20 * GIB


def test_storage_one_byte_short_is_refused() -> None:
    field, message, hint = _refused(_plan(allocated_storage_gb=20), _aws(20 * GIB + 1))
    assert (field, message, hint) == (
        "allocated_storage_gb",
        "20 GiB of storage cannot hold the 20.0 GiB backup",
        "ask for --storage 26 or more",
    )


def test_the_suggested_storage_is_at_least_20_gib() -> None:
    assert _refused(_plan(allocated_storage_gb=10), _aws(12 * GIB)) == (
        "allocated_storage_gb",
        "10 GiB of storage cannot hold the 12.0 GiB backup",
        "ask for --storage 20 or more",
    )


def test_the_suggested_storage_is_at_most_16384_gib() -> None:
    assert _refused(_plan(allocated_storage_gb=100), _aws(16000 * GIB)) == (
        "allocated_storage_gb",
        "100 GiB of storage cannot hold the 16000.0 GiB backup",
        "ask for --storage 16384 or more",
    )


# KMS keys: full ARN, the plan's region, an allowed account (the bot's own by default)


def test_a_requested_backup_key_in_another_region_is_refused_under_its_own_field() -> None:
    assert _refused(_plan(backup_kms_key_arn=OTHER_REGION_KEY), _aws()) == (
        "backup_kms_key_arn",
        f"key {OTHER_REGION_KEY} is in us-east-1, but the restore targets eu-west-1",
        "use a key in eu-west-1: RDS uses KMS keys only in the instance's region",
    )


def test_a_requested_storage_key_of_another_account_is_refused_under_its_own_field() -> None:
    assert _refused(_plan(storage_kms_key_arn=FOREIGN_KEY), _aws()) == (
        "storage_kms_key_arn",
        f"key {FOREIGN_KEY} belongs to account 999999999999, which the policy does not allow",
        FOREIGN_HINT,
    )


def test_a_requested_key_of_another_account_is_refused_by_default() -> None:
    assert _refused(_plan(backup_kms_key_arn=FOREIGN_KEY), _aws()) == (
        "backup_kms_key_arn",
        f"key {FOREIGN_KEY} belongs to account 999999999999, which the policy does not allow",
        FOREIGN_HINT,
    )


def test_the_buckets_key_of_another_account_is_refused_as_the_backups() -> None:
    assert _refused(_plan(), _aws(object_key=FOREIGN_KEY)) == (
        "backup",
        f"the backup is stored with SSE-KMS, and its key {FOREIGN_KEY} belongs to account 999999999999, "
        "which the policy does not allow",
        FOREIGN_HINT,
    )


def test_the_buckets_key_in_another_region_is_refused_as_the_backups() -> None:
    assert _refused(_plan(), _aws(object_key=OTHER_REGION_KEY)) == (
        "backup",
        f"the backup is stored with SSE-KMS, and its key {OTHER_REGION_KEY} is in us-east-1, "
        "but the restore targets eu-west-1",
        "use a key in eu-west-1: RDS uses KMS keys only in the instance's region",
    )


def test_a_listed_account_allows_its_keys_and_the_bot_is_not_asked() -> None:
    policy = parse_policy({"backups": BACKUPS, "network": BOT_NETWORK, "kms": {"allowed_accounts": ["999999999999"]}})
    aws = _aws(object_key=FOREIGN_KEY)
    checked = preflight(_plan(storage_kms_key_arn=FOREIGN_KEY), aws.gateways(), policy)
    assert checked.backup.kms_key_arns == (FOREIGN_KEY,)
    assert "account_id" not in aws.calls


def test_own_account_keys_pass_by_default() -> None:
    aws = _aws(object_key=OWN_KEY)
    checked = preflight(_plan(backup_kms_key_arn=OWN_KEY, storage_kms_key_arn=OWN_KEY_2), aws.gateways(), POLICY)
    assert checked.backup.kms_key_arns == (OWN_KEY,)
    assert aws.calls.count("account_id") == 1


# validate: the bucket's keys must still be those the approver saw


def _job(plan: RestorePlan) -> Job:
    return Job(id="job-1", requester="U1", plan=plan, created_at=datetime(2026, 11, 25, 9, 0, tzinfo=UTC))


def _two_file_aws(*keys: str) -> FakeAws:
    """The plan's backup as two 1 GiB files, the first stored under keys[0], the second under keys[1]."""
    aws = FakeAws(objects={f"{OBJECT}.1": GIB, f"{OBJECT}.2": GIB}, region="eu-west-1")
    aws.object_keys = {f"{OBJECT}.{n}": key for n, key in enumerate(keys, start=1)}
    return aws


def test_validate_refuses_a_backup_whose_keys_were_removed_since_the_request() -> None:
    job = _job(_plan(multi_file=True, bucket_kms_key_arns=(OWN_KEY, OWN_KEY_2)))
    with pytest.raises(StageError) as excinfo:
        _validate(job, StageContext(gateways=_two_file_aws().gateways(), policy=POLICY))
    assert str(excinfo.value) == (
        f"the backup's SSE-KMS key is now none, not {OWN_KEY}, {OWN_KEY_2} as when it was requested; "
        "request the restore again"
    )


def test_validate_refuses_a_backup_that_gained_keys_since_the_request() -> None:
    job = _job(_plan(multi_file=True))
    aws = _two_file_aws(OWN_KEY, OWN_KEY_2)
    with pytest.raises(StageError) as excinfo:
        _validate(job, StageContext(gateways=aws.gateways(), policy=POLICY))
    assert str(excinfo.value) == (
        f"the backup's SSE-KMS key is now {OWN_KEY}, {OWN_KEY_2}, not none as when it was requested; "
        "request the restore again"
    )


def test_validate_records_the_backup_and_says_what_it_checked() -> None:
    job = _job(_plan(multi_file=True, bucket_kms_key_arns=(OWN_KEY,)))
    aws = _two_file_aws(OWN_KEY, OWN_KEY)
    result = _validate(job, StageContext(gateways=aws.gateways(), policy=POLICY))
    note = "eu-west-1 listed no orderable classes for sqlserver-se; checked against rdsbot's built-in table"
    version = "the instance gets RDS's default 15.00 version, as none is listed to choose from"
    assert result == Done(f"2 file(s), 2.00 GiB; {note}; {version}")
    assert (job.outputs.backup_files, job.outputs.backup_bytes, job.outputs.notes) == (2, 2 * GIB, (note, version))
