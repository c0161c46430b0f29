"""The sandbox's rds_restore_tde_certificate and rds_fn_list_user_tde_certificates() held to the AWS guide
"TDE.BackupRestoreRDS" (exactly four required parameters, the UserTDECertificate_ prefix, SQLSERVER_BACKUP_RESTORE
and TDE in the option group, the .pvk's x-amz-meta-rds-tde-pwd, a usable KMS key), and a TDE-encrypted backup that
SQL Server restores only once the certificate with its thumbprint is there (message 33111). A lenient sandbox
(any name, any option group, no metadata, restores without the certificate) fails these."""

from __future__ import annotations

import pytest

from aws.native_restore import tde
from aws.sandbox.backup_content import certificate_bytes, certificate_thumbprint, manifest_bytes
from aws.sandbox.sql_server import SandboxSqlError, SandboxSqlServer
from bot.domain import TaskLifecycle
from bot.errors import RestoreTaskError
from bot.tde import TdeCertificate, thumbprint_of
from tests.unit import test_sandbox_procedures_strict as strict

BUCKET, KEY_ARN = strict.BUCKET, strict.KEY_ARN
world = strict.world  # the strict procedures' fixture, used by tde_world
CER = certificate_bytes("CN=test TDE certificate")
THUMBPRINT = certificate_thumbprint(CER)
NAME = "UserTDECertificate_rdsbot_j1"


INSTANCE = strict.instance(instance_id="rdsbot-tde", option_group_name="rdsbot-og-tde")
CERTIFICATE = TdeCertificate(
    certificate_name=NAME,
    certificate_bucket=BUCKET,
    certificate_key="tde/db.cer",
    private_key_bucket=BUCKET,
    private_key_key="tde/db.pvk",
    password_key_arn=KEY_ARN,
)


@pytest.fixture
def tde_world(world):
    """The strict procedures' sandbox (a MemoryAwsView behind it) with a TDE backup, its .cer and .pvk, and an
    option group carrying both options."""
    clock, aws, server, client = world
    aws.options["rdsbot-og-tde"] = {"SQLSERVER_BACKUP_RESTORE", "TDE"}
    for key, body in (
        ("tde/db.bak", manifest_bytes({"tables": {"dbo.orders": 5}, "tde_thumbprint": THUMBPRINT})),
        ("tde/db.cer", CER),
        ("tde/db.pvk", b"private key"),
    ):
        aws.put_object(BUCKET, key, body)
    aws.metadata[f"{BUCKET}/tde/db.pvk"] = {"rds-tde-pwd": "AQIDAHim..."}
    return clock, aws, server, client


def refused(server: SandboxSqlServer, **changes: str | None) -> SandboxSqlError:
    values = dict(tde.restore_tde_certificate(CERTIFICATE).params) | changes
    names = [name for name in values if values[name] is not None]
    sql = f"exec {tde.RESTORE_TDE_CERTIFICATE} " + ", ".join(f"@{name}=%s" for name in names)
    with pytest.raises(SandboxSqlError) as caught:
        server.execute(INSTANCE, True, sql, [values[name] for name in names])
    return caught.value


def test_the_certificate_is_restored_and_listed(tde_world):
    _, _, _, client = tde_world
    assert client.user_tde_certificates(INSTANCE) == {}
    client.restore_tde_certificate(INSTANCE, CERTIFICATE)
    # SQL Server's thumbprint is the SHA-1 of the certificate: the bot computes the same from the .cer.
    assert client.user_tde_certificates(INSTANCE) == {NAME: thumbprint_of(CER)}


def test_each_of_the_four_parameters_is_required(tde_world):
    _, _, server, _ = tde_world
    for name in ("certificate_name", "certificate_file_s3_arn", "private_key_file_s3_arn", "kms_password_key_arn"):
        error = refused(server, **{name: None})
        assert error.number == 201 and f"@{name}" in error.text


def test_an_undocumented_parameter_is_refused(tde_world):
    _, _, server, _ = tde_world
    assert refused(server, overwrite="1").number == 8145


def test_a_name_without_rds_prefix_is_refused(tde_world):
    _, _, server, _ = tde_world
    assert "UserTDECertificate_" in refused(server, certificate_name="MyCert").text


@pytest.mark.parametrize("options", [{"SQLSERVER_BACKUP_RESTORE"}, {"TDE"}])
def test_both_options_must_be_in_the_option_group(tde_world, options):
    _, aws, server, _ = tde_world
    aws.options["rdsbot-og-tde"] = options
    missing = ({"SQLSERVER_BACKUP_RESTORE", "TDE"} - options).pop()
    assert missing in refused(server).text


def test_missing_files_missing_metadata_and_an_unusable_key_are_refused(tde_world):
    _, aws, server, _ = tde_world
    assert "does not exist" in refused(server, certificate_file_s3_arn=f"arn:aws:s3:::{BUCKET}/tde/nope.cer").text
    aws.key_problems[KEY_ARN] = f"Key {KEY_ARN} is Disabled"
    assert "Disabled" in refused(server).text
    aws.key_problems.clear()
    aws.metadata.clear()
    assert "x-amz-meta-rds-tde-pwd" in refused(server).text


def test_a_second_certificate_of_that_name_or_thumbprint_is_refused_as_sql_server_does(tde_world):
    _, _, server, client = tde_world
    client.restore_tde_certificate(INSTANCE, CERTIFICATE)
    assert refused(server).number == 15232
    assert refused(server, certificate_name="UserTDECertificate_other").number == 15232
    with pytest.raises(RestoreTaskError):  # the client says so in the server's words
        client.restore_tde_certificate(INSTANCE, CERTIFICATE)


def test_a_tde_backup_fails_without_its_certificate_with_sql_servers_message(tde_world):
    clock, _, _, client = tde_world
    task = client.start_restore(INSTANCE, "db", f"arn:aws:s3:::{BUCKET}/tde/db.bak")
    clock.now += 100
    status = client.task_status(INSTANCE, task)
    assert status.lifecycle == TaskLifecycle.ERROR
    assert f"Cannot find server certificate with thumbprint '{THUMBPRINT}'" in status.task_info
    assert "33111" in (status.reason or "") and "--tde-certificate" in (status.reason or "")


def test_a_tde_backup_restores_once_the_certificate_is_there(tde_world):
    clock, _, server, client = tde_world
    client.restore_tde_certificate(INSTANCE, CERTIFICATE)
    task = client.start_restore(INSTANCE, "db", f"arn:aws:s3:::{BUCKET}/tde/db.bak")
    clock.now += 100
    assert client.task_status(INSTANCE, task).lifecycle == TaskLifecycle.SUCCESS
    assert "db" in server.databases(INSTANCE.endpoint_address or "")


@pytest.mark.parametrize(
    "name",
    ["UserTDECertificate_a-b", "UserTDECertificate_RDSTDECertificate1", "UserTDECertificate_x y"],
)
def test_the_names_rds_forbids_are_refused(tde_world, name):
    _, _, server, _ = tde_world
    assert "(sandbox) The certificate name" in refused(server, certificate_name=name).text


def test_files_without_the_cer_and_pvk_extensions_are_refused(tde_world):
    _, aws, server, _ = tde_world
    aws.put_object(BUCKET, "tde/db.key", b"private key")
    aws.metadata[f"{BUCKET}/tde/db.key"] = {"rds-tde-pwd": "AQIDAHim..."}
    assert ".pvk" in refused(server, private_key_file_s3_arn=f"arn:aws:s3:::{BUCKET}/tde/db.key").text


def test_no_certificate_restore_on_a_multi_az_instance(tde_world):
    _, _, _, client = tde_world
    with pytest.raises(RestoreTaskError) as caught:
        client.restore_tde_certificate(INSTANCE.model_copy(update={"multi_az": True}), CERTIFICATE)
    assert "Multi-AZ" in str(caught.value)


def test_at_most_ten_user_certificates(tde_world):
    _, aws, server, client = tde_world
    for number in range(11):
        aws.put_object(BUCKET, f"tde/c{number}.cer", certificate_bytes(f"0x{number:040X}"))
        certificate = CERTIFICATE.model_copy(
            update={"certificate_name": f"UserTDECertificate_c{number}", "certificate_key": f"tde/c{number}.cer"}
        )
        if number < 10:
            client.restore_tde_certificate(INSTANCE, certificate)
    assert len(client.user_tde_certificates(INSTANCE)) == 10
    assert (
        "10 user TDE certificates"
        in refused(
            server,
            certificate_name="UserTDECertificate_c10",
            certificate_file_s3_arn=f"arn:aws:s3:::{BUCKET}/tde/c10.cer",
        ).text
    )


def test_the_import_is_refused_when_the_option_groups_role_may_not_read_or_decrypt(tde_world):
    """RDS imports as the SQLSERVER_BACKUP_RESTORE role (guide "TDE.BackupRestoreRDS", prerequisites): a role that
    may not decrypt with the password key gets no certificate, and nothing is imported."""
    _, aws, server, client = tde_world
    aws.role_gaps["rdsbot-og-tde"] = [f"kms:Decrypt on {KEY_ARN}"]
    error = refused(server)
    assert f"cannot import the certificate: it is not allowed kms:Decrypt on {KEY_ARN}" in error.text
    assert client.user_tde_certificates(INSTANCE) == {}
