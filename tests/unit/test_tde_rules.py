"""A backup of a TDE-encrypted database: the three --tde-* flags, the request-time checks before any card (AWS guide
"Appendix.SQLServer.Options.TDE" for editions and versions, "TDE.BackupRestoreRDS" for the certificate and the
options, "TDE.BackupRestoreOnPrem" for the .pvk's x-amz-meta-rds-tde-pwd), and the certificate step of restore_start,
sent once even across a crash."""

from __future__ import annotations

import pytest

from bot import card_facts
from bot.domain import AuditAction, JobStatus, StageName
from bot.errors import RequestError
from bot.parser import parse_restore_command
from bot.service import RestoreService
from bot.workflow import Engine
from config.policy_model import parse_policy
from tests.support.factories import BOT_NETWORK
from tests.unit.fakes import FakeAws, FakeClock, RecordingNotifier
from tests.unit.memory_store import MemoryStore
from tests.unit.test_into_rules import existing as existing_instance

POLICY = parse_policy(
    {
        "backups": {"default_bucket": "rdsbot-backups", "allowed_buckets": ["rdsbot-backups", "rdsbot-certs"]},
        "network": BOT_NETWORK,
        "targets": {"existing_instances": ["rdsbot-staging-*"]},
    }
)
KEY = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
FLAGS = f"--tde-certificate tde/db.cer --tde-private-key s3://rdsbot-certs/tde/db.pvk --tde-password-key {KEY}"
TDE_RESTORE = f"tde/db.bak db.m5.large --edition ee {FLAGS}"


def world() -> tuple[FakeAws, MemoryStore, FakeClock, RestoreService]:
    aws, store, clock = FakeAws(), MemoryStore(), FakeClock()
    for key in ("rdsbot-backups/tde/db.bak", "rdsbot-backups/tde/db.cer", "rdsbot-certs/tde/db.pvk"):
        aws.objects[key] = 4096
    aws.metadata["rdsbot-certs/tde/db.pvk"] = {"rds-tde-pwd"}
    return aws, store, clock, RestoreService(store.jobs, store.audit, aws.gateways, POLICY, clock)


def refusal(text: str, aws_setup: object = None) -> RequestError:
    aws, store, _, service = world()
    if callable(aws_setup):
        aws_setup(aws)
    with pytest.raises(RequestError) as caught:
        service.submit(parse_restore_command(text), "U1")
    # Nothing recorded but the refusal's audit, no job, nothing made on AWS.
    assert [e.action for e in store.audit.events] == [AuditAction.REQUEST_REFUSED]
    assert store.jobs.list_jobs() == [] and aws.mutating == []
    return caught.value


def test_the_three_flags_reach_the_plan_with_a_certificate_name_rds_accepts() -> None:
    _, _, _, service = world()
    job = service.submit(parse_restore_command(TDE_RESTORE), "U1").job
    tde = job.plan.tde
    assert tde is not None
    assert tde.certificate_name == f"UserTDECertificate_rdsbot_{job.id}"
    assert tde.certificate_s3_arn == "arn:aws:s3:::rdsbot-backups/tde/db.cer"
    assert tde.private_key_s3_arn == "arn:aws:s3:::rdsbot-certs/tde/db.pvk"
    assert job.plan.role_kms_key_arns == (KEY,)  # the restore role may decrypt the .pvk's password


@pytest.mark.parametrize(
    ("leave_out", "missing"),
    [
        ("--tde-certificate", "tde_certificate"),
        ("--tde-private-key", "tde_private_key"),
        ("--tde-password-key", "tde_password_key_arn"),
    ],
)
def test_one_flag_without_the_others_is_refused_naming_the_missing_one(leave_out: str, missing: str) -> None:
    words = FLAGS.split()
    at = words.index(leave_out)
    del words[at : at + 2]
    with pytest.raises(RequestError) as caught:
        parse_restore_command("tde/db.bak db.m5.large " + " ".join(words))
    assert caught.value.field == missing
    assert f"{leave_out} is missing" in caught.value.message


def test_a_certificate_flag_needs_its_own_kind_of_file() -> None:
    with pytest.raises(RequestError) as caught:
        parse_restore_command(TDE_RESTORE.replace("tde/db.cer", "tde/db.pvk", 1))
    assert caught.value.field == "tde_certificate" and ".cer" in caught.value.message
    with pytest.raises(RequestError) as prefix:
        parse_restore_command(TDE_RESTORE.replace("tde/db.cer", "tde/db*", 1))
    assert prefix.value.field == "tde_certificate"


@pytest.mark.parametrize(
    ("flags", "accepted"),
    [
        ("--edition ee --major-version 13.00", True),  # 2016 Enterprise
        ("--edition ee --major-version 16.00", True),
        ("--edition se --major-version 15.00", True),  # 2019 Standard
        ("--edition se --major-version 14.00", False),  # 2017 Standard: Enterprise only
        ("--edition se --major-version 13.00", False),
        ("--edition web --major-version 16.00", False),
        ("--edition ex --major-version 15.00", False),
    ],
)
def test_tde_only_on_the_editions_and_versions_rds_offers_it_for(flags: str, accepted: bool) -> None:
    text = f"tde/db.bak db.m5.large {flags} {FLAGS}"
    if accepted:
        _, _, _, service = world()
        assert service.submit(parse_restore_command(text), "U1").job.plan.tde is not None
    else:
        error = refusal(text)
        assert error.field == "tde_certificate" and "TDE" in error.message


def test_the_same_edition_and_version_without_tde_is_not_refused() -> None:
    _, _, _, service = world()
    job = service.submit(parse_restore_command("tde/db.bak db.m5.large --edition se --major-version 14.00"), "U1").job
    assert job.plan.tde is None


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("arn:aws:kms:us-east-1:123456789012:alias/tde", "alias"),
        ("arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555", "eu-west-1"),
        ("11111111-2222-3333-4444-555555555555", "not a full KMS key ARN"),
        ("arn:aws:kms:us-east-1:999999999999:key/11111111-2222-3333-4444-555555555555", "999999999999"),
    ],
)
def test_the_password_key_is_checked_like_every_kms_key(key: str, why: str) -> None:
    error = refusal(TDE_RESTORE.replace(KEY, key))
    assert error.field == "tde_password_key_arn" and why in error.message
    assert "--tde-password-key" in (error.hint or "") or why != "not a full KMS key ARN"


def test_a_multi_az_tde_restore_is_refused_but_a_multi_az_plain_one_is_not() -> None:
    # AWS guide "TDE.BackupRestoreRDS", limitations: no TDE certificate restore on Multi-AZ instances.
    error = refusal(f"{TDE_RESTORE} --multi-az")
    assert error.field == "multi_az" and "Multi-AZ" in error.message
    _, _, _, service = world()
    assert service.submit(parse_restore_command("tde/db.bak db.m5.large --edition ee --multi-az"), "U1").job


def test_a_certificate_file_outside_the_allowed_buckets_is_refused() -> None:
    error = refusal(TDE_RESTORE.replace("s3://rdsbot-certs/", "s3://elsewhere/"))
    assert error.field == "tde_private_key" and "elsewhere" in error.message


def test_a_missing_certificate_file_is_refused_before_any_card() -> None:
    error = refusal(TDE_RESTORE, lambda aws: aws.objects.pop("rdsbot-backups/tde/db.cer"))
    assert error.field == "tde_certificate" and "does not exist" in error.message


def test_a_private_key_without_its_password_metadata_is_refused() -> None:
    error = refusal(TDE_RESTORE, lambda aws: aws.metadata.pop("rdsbot-certs/tde/db.pvk"))
    assert error.field == "tde_private_key" and "x-amz-meta-rds-tde-pwd" in error.message


def test_certificate_files_in_another_region_are_refused() -> None:
    def elsewhere(aws: FakeAws) -> None:
        aws.region = "eu-west-1"  # every bucket answers eu-west-1, the restore targets us-east-1

    error = refusal(TDE_RESTORE, elsewhere)
    assert "eu-west-1" in error.message


def test_the_card_names_the_certificate_the_private_key_and_the_password_key() -> None:
    _, _, _, service = world()
    job = service.submit(parse_restore_command(TDE_RESTORE), "U1").job
    lines = card_facts.card_lines(job, card_facts.PLAIN)
    assert f"TDE certificate: UserTDECertificate_rdsbot_{job.id} from s3://rdsbot-backups/tde/db.cer" in lines
    assert "TDE private key: s3://rdsbot-certs/tde/db.pvk" in lines
    assert f"TDE password key: {KEY}" in lines


def run(aws: FakeAws, store: MemoryStore, clock: FakeClock) -> None:
    Engine(store.jobs, aws.gateways, POLICY, RecordingNotifier(), clock, poll_seconds=5).run_until_idle(600)


def test_the_certificate_is_restored_into_a_tde_option_group_before_the_database() -> None:
    aws, store, clock, service = world()
    job = service.submit(parse_restore_command(TDE_RESTORE), "U1", approved=True).job
    run(aws, store, clock)
    done = store.jobs.get_job(job.id)
    assert done is not None and done.status == JobStatus.SUCCEEDED, done.error if done else None
    order = [c for c in aws.calls if c.startswith("rds_")]
    assert order[:3] == ["rds_fn_list_user_tde_certificates", "rds_restore_tde_certificate", "rds_restore_database"]
    assert done.outputs.option_group is not None and done.outputs.option_group.endswith("-tde")
    assert aws.role_specs[-1].tde and KEY in aws.role_specs[-1].kms_key_arns


def test_a_plain_restore_never_shares_the_tde_option_group() -> None:
    aws, store, clock, service = world()
    plain = service.submit(parse_restore_command("tde/db.bak db.m5.large --edition ee"), "U1", approved=True).job
    run(aws, store, clock)
    done = store.jobs.get_job(plain.id)
    assert done is not None and done.outputs.option_group == "rdsbot-sqlserver-ee-15-00"
    assert "rds_restore_tde_certificate" not in aws.calls


def test_a_restart_after_the_certificate_was_restored_does_not_send_it_twice() -> None:
    aws, store, clock, service = world()
    job = service.submit(parse_restore_command(TDE_RESTORE), "U1", approved=True).job
    # The bot died after rds_restore_tde_certificate answered and before restore_start was saved.
    aws.tde_certificates[job.plan.target_instance_id] = {f"UserTDECertificate_rdsbot_{job.id}": "0xAB"}
    run(aws, store, clock)
    done = store.jobs.get_job(job.id)
    assert done is not None and done.status == JobStatus.SUCCEEDED, done.error if done else None
    assert "rds_restore_tde_certificate" not in aws.calls
    assert "found, not restored again" in done.stage(StageName.RESTORE_START).detail


# The role a team's option group runs SQLSERVER_BACKUP_RESTORE as; IAM says it may import (FakeAws.role_decisions).
TEAM_ROLE = "arn:aws:iam::123456789012:role/team-sql-restore"


def existing(aws: FakeAws, *, options: set[str], version: str = "15.00.4415.2.v1", multi_az: bool = False) -> None:
    aws.option_groups["team-og"] = options
    aws.backup_roles["team-og"] = TEAM_ROLE
    existing_instance(aws, group="team-og")
    state = aws.instances["rdsbot-staging-1"]
    aws.instances[state.instance_id] = state.model_copy(update={"engine_version": version, "multi_az": multi_az})


INTO = f"tde/db.bak --into rdsbot-staging-1 {FLAGS}"


def test_into_an_instance_whose_option_group_lacks_tde_is_refused_naming_the_option() -> None:
    error = refusal(INTO, lambda aws: existing(aws, options={"SQLSERVER_BACKUP_RESTORE"}))
    assert error.field == "tde_certificate" and "lacks the TDE option" in error.message and "team-og" in error.message


def test_into_a_standard_2017_instance_is_refused_for_its_version() -> None:
    error = refusal(
        INTO,
        lambda aws: existing(aws, options={"SQLSERVER_BACKUP_RESTORE", "TDE"}, version="14.00.3381.3.v1"),
    )
    assert error.field == "tde_certificate" and "sqlserver-se 14.00" in error.message


def test_into_a_multi_az_instance_with_tde_is_refused() -> None:
    error = refusal(INTO, lambda aws: existing(aws, options={"SQLSERVER_BACKUP_RESTORE", "TDE"}, multi_az=True))
    assert error.field == "multi_az" and "rdsbot-staging-1 is Multi-AZ" in error.message


def test_into_an_instance_with_tde_restores_the_certificate_there() -> None:
    aws, store, clock, service = world()
    existing(aws, options={"SQLSERVER_BACKUP_RESTORE", "TDE"})
    job = service.submit(parse_restore_command(INTO), "U1", approved=True).job
    run(aws, store, clock)
    done = store.jobs.get_job(job.id)
    assert done is not None and done.status == JobStatus.SUCCEEDED, done.error if done else None
    assert list(aws.tde_certificates["rdsbot-staging-1"]) == [f"UserTDECertificate_rdsbot_{job.id}"]


def test_a_tde_chain_imports_the_certificate_before_its_first_step() -> None:
    aws, store, clock, service = world()
    aws.objects["rdsbot-backups/tde/db.trn"] = 1024
    job = service.submit(parse_restore_command(f"{TDE_RESTORE} --log tde/db.trn"), "U1", approved=True).job
    run(aws, store, clock)
    done = store.jobs.get_job(job.id)
    assert done is not None and done.status == JobStatus.SUCCEEDED, done.error if done else None
    sent = [c for c in aws.calls if c.startswith(("rds_restore_tde", "chain:"))]
    assert sent[:2] == ["rds_restore_tde_certificate", "chain:RESTORE_DB_NORECOVERY"]


def test_the_plan_carries_the_thumbprint_sql_server_gives_the_certificate() -> None:
    aws, _, _, service = world()
    aws.bodies["rdsbot-backups/tde/db.cer"] = b"DER bytes"
    job = service.submit(parse_restore_command(TDE_RESTORE), "U1").job
    # sys.certificates.thumbprint: the SHA-1 hash of the certificate (golden value of sha1(b"DER bytes")).
    assert job.plan.tde is not None
    assert job.plan.tde.thumbprint == "0xB4FC812F0957FF513C44F9B0B4183319B1D3A73D"


def test_a_file_far_larger_than_a_certificate_is_refused() -> None:
    def huge(aws: FakeAws) -> None:
        aws.objects["rdsbot-backups/tde/db.cer"] = 5 * 2**20

    error = refusal(TDE_RESTORE, huge)
    assert error.field == "tde_certificate" and "5242880 bytes" in error.message


def test_an_instance_holding_the_certificate_under_another_name_is_not_sent_it_again() -> None:
    aws, store, clock, service = world()
    existing(aws, options={"SQLSERVER_BACKUP_RESTORE", "TDE"})
    job = service.submit(parse_restore_command(INTO), "U1", approved=True).job
    assert job.plan.tde is not None and job.plan.tde.thumbprint
    # An earlier job restored the same certificate there (SQL Server would refuse a second copy: message 15232).
    aws.tde_certificates["rdsbot-staging-1"] = {"UserTDECertificate_rdsbot_jearlier": job.plan.tde.thumbprint}
    run(aws, store, clock)
    done = store.jobs.get_job(job.id)
    assert done is not None and done.status == JobStatus.SUCCEEDED, done.error if done else None
    assert "rds_restore_tde_certificate" not in aws.calls
    assert "already held as UserTDECertificate_rdsbot_jearlier" in done.stage(StageName.RESTORE_START).detail


def test_a_certificate_file_replaced_after_approval_fails_the_job_before_anything_is_created() -> None:
    aws, store, clock, service = world()
    job = service.submit(parse_restore_command(TDE_RESTORE), "U1", approved=True).job
    aws.bodies["rdsbot-backups/tde/db.cer"] = b"another certificate"
    run(aws, store, clock)
    done = store.jobs.get_job(job.id)
    assert done is not None and done.status == JobStatus.FAILED
    assert "TDE certificate file now has thumbprint" in str(done.error)
    assert aws.mutating == []


def test_a_certificate_under_sse_kms_is_not_read_by_the_bot_and_its_key_goes_to_the_role() -> None:
    bucket_key = "arn:aws:kms:us-east-1:123456789012:key/99999999-2222-3333-4444-555555555555"
    aws, _, _, service = world()
    aws.object_keys["rdsbot-backups/tde/db.cer"] = bucket_key
    job = service.submit(parse_restore_command(TDE_RESTORE), "U1").job
    assert "read_object" not in aws.calls  # the bot's policy grants no backup bucket's key
    assert job.plan.tde is not None and job.plan.tde.thumbprint is None
    assert bucket_key in job.plan.role_kms_key_arns  # RDS reads the .cer as the restore role
