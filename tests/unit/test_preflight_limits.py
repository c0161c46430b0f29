"""What the preflight checks against the backup itself (size, SSE-KMS keys) and the account, and where each KMS key
goes afterwards: refused at submit with nothing created, or carried to exactly the call that needs it."""

from __future__ import annotations

import pytest

from bot import blocks
from bot.domain import JobStatus
from bot.errors import RequestError
from bot.parser import parse_restore_command
from bot.service import RestoreService
from bot.workflow import Engine
from config.policy_model import parse_policy
from tests.support.factories import BOT_NETWORK
from tests.unit.fakes import FakeAws, FakeClock, RecordingNotifier
from tests.unit.memory_store import MemoryStore

GIB = 2**30
BOT_ACCOUNT = "123456789012"
BUCKET_KEY = f"arn:aws:kms:us-east-1:{BOT_ACCOUNT}:key/0000aaaa-bucket"
BACKUP_KEY = f"arn:aws:kms:us-east-1:{BOT_ACCOUNT}:key/1111bbbb-backup"
STORAGE_KEY = f"arn:aws:kms:us-east-1:{BOT_ACCOUNT}:key/2222cccc-storage"
OTHER_ACCOUNT_KEY = "arn:aws:kms:us-east-1:444455556666:key/3333dddd-partner"
POLICY = parse_policy(
    {"backups": {"default_bucket": "rdsbot-backups"}, "network": BOT_NETWORK, "audit": {"bucket": "rdsbot-audit"}}
)


def world(size_gib: float = 5, policy=POLICY):
    aws, store, clock = FakeAws({"rdsbot-backups/prod-backup.bak": int(size_gib * GIB)}), MemoryStore(), FakeClock()
    return aws, store, clock, RestoreService(store.jobs, store.audit, aws.gateways, policy, clock)


def refused(service: RestoreService, text: str) -> RequestError:
    with pytest.raises(RequestError) as caught:
        service.submit(parse_restore_command(text), "U1")
    return caught.value


# Express: 10 GB per database (AWS guide "SQLServer.Procedural.Importing", limitations).


def test_express_is_refused_for_a_backup_over_10_gb():
    aws, store, _, service = world(size_gib=12)
    error = refused(service, "prod-backup.bak db.m5.large --edition ex")
    assert error.field == "edition" and "12.0 GiB" in error.message and "at most 10 GB" in error.message
    assert store.jobs.by_id == {} and aws.mutating == []


def test_express_takes_a_backup_under_10_gb_and_other_editions_a_bigger_one():
    _, _, _, small = world(size_gib=9)
    assert small.submit(parse_restore_command("prod-backup.bak db.m5.large --edition ex"), "U1").job
    _, _, _, big = world(size_gib=12)
    assert big.submit(parse_restore_command("prod-backup.bak db.m5.large --edition web"), "U1").job


# Storage: the database takes at least the backup's size (AWS guide "SQLServer.Procedural.Importing").


def test_storage_smaller_than_the_backup_is_refused_with_a_size_that_fits():
    _, store, _, service = world(size_gib=150)
    error = refused(service, "prod-backup.bak db.m5.large --storage 100")
    assert error.field == "allocated_storage_gb" and "100 GiB of storage cannot hold the 150.0 GiB backup" in str(error)
    assert error.hint == "ask for --storage 188 or more"
    assert store.jobs.by_id == {}


def test_storage_as_big_as_the_backup_passes():
    _, _, _, service = world(size_gib=100)
    assert service.submit(parse_restore_command("prod-backup.bak db.m5.large --storage 100"), "U1").job


# The bucket's SSE-KMS key (AWS guide "SQLServer.Procedural.Importing.Native.Enabling": the role needs the key).


def test_the_bucket_key_joins_the_plan_and_the_card():
    aws, _, _, service = world()
    aws.object_keys["rdsbot-backups/prod-backup.bak"] = BUCKET_KEY
    job = service.submit(parse_restore_command("prod-backup.bak db.m5.large"), "U1").job
    assert job.plan.bucket_kms_key_arns == (BUCKET_KEY,)
    assert f"KMS: Bucket SSE-KMS key {BUCKET_KEY}" in blocks.card_summary(job)


def test_a_bucket_key_of_another_account_is_refused_by_default():
    aws, store, _, service = world()
    aws.object_keys["rdsbot-backups/prod-backup.bak"] = OTHER_ACCOUNT_KEY
    error = refused(service, "prod-backup.bak db.m5.large")
    assert error.field == "backup" and "stored with SSE-KMS" in error.message and "444455556666" in error.message
    assert "kms.allowed_accounts" in (error.hint or "") and store.jobs.by_id == {}


def test_the_bots_own_account_is_the_default_for_requested_keys_too():
    _, _, _, service = world()
    error = refused(service, f"prod-backup.bak db.m5.large --storage-kms-key {OTHER_ACCOUNT_KEY}")
    assert error.field == "storage_kms_key_arn" and f"allowed accounts (kms.allowed_accounts): {BOT_ACCOUNT}" in str(
        error
    )


def test_a_listed_account_is_allowed_and_the_caller_is_not_asked():
    policy = parse_policy(
        {
            "backups": {"default_bucket": "rdsbot-backups"},
            "network": BOT_NETWORK,
            "kms": {"allowed_accounts": ["444455556666"]},
        }
    )
    aws, _, _, service = world(policy=policy)
    aws.object_keys["rdsbot-backups/prod-backup.bak"] = OTHER_ACCOUNT_KEY
    assert service.submit(parse_restore_command("prod-backup.bak db.m5.large"), "U1").job
    assert "account_id" not in aws.calls


def test_a_plain_backup_asks_nobody_who_the_bot_is():
    aws, _, _, service = world()
    service.submit(parse_restore_command("prod-backup.bak db.m5.large"), "U1")
    assert "account_id" not in aws.calls


# Where each key goes once approved.


def test_each_key_reaches_only_the_call_that_needs_it():
    aws, store, clock, service = world()
    aws.object_keys["rdsbot-backups/prod-backup.bak"] = BUCKET_KEY
    text = f"prod-backup.bak db.m5.large --backup-kms-key {BACKUP_KEY} --storage-kms-key {STORAGE_KEY}"
    job = service.submit(parse_restore_command(text), "U1", approved=True).job
    card = blocks.card_summary(job)
    assert f"KMS: Backup key (@kms_master_key_arn) {BACKUP_KEY}" in card and f"KMS: Storage key {STORAGE_KEY}" in card
    Engine(store.jobs, aws.gateways, POLICY, RecordingNotifier(), clock, poll_seconds=5).run_until_idle(600)
    assert store.jobs.by_id[job.id].status == JobStatus.SUCCEEDED
    (role,) = aws.role_specs
    assert role.kms_key_arns == (BUCKET_KEY, BACKUP_KEY)  # the role decrypts the backup; never the storage key
    assert role.role_name.startswith("rdsbot-native-restore-k")
    assert [spec.kms_key_id for spec in aws.instance_specs] == [STORAGE_KEY]
    assert aws.restore_keys == [BACKUP_KEY]


def test_a_bucket_key_changed_after_approval_fails_the_job_before_anything_is_made():
    aws, store, clock, service = world()
    aws.object_keys["rdsbot-backups/prod-backup.bak"] = BUCKET_KEY
    job = service.submit(parse_restore_command("prod-backup.bak db.m5.large"), "U1", approved=True).job
    aws.object_keys["rdsbot-backups/prod-backup.bak"] = BACKUP_KEY  # re-encrypted under another key
    Engine(store.jobs, aws.gateways, POLICY, RecordingNotifier(), clock, poll_seconds=5).run_until_idle(600)
    failed = store.jobs.by_id[job.id]
    assert failed.status == JobStatus.FAILED and "SSE-KMS key is now" in (failed.error or "")
    assert aws.mutating == []
