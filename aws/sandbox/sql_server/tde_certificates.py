"""User TDE certificates on the emulated instance: rds_restore_tde_certificate and
rds_fn_list_user_tde_certificates() (AWS guide "TDE.BackupRestoreRDS": "Restoring a TDE certificate", "Viewing
restored TDE certificates", limitations), and what a TDE-encrypted backup needs when its restore starts.

The guide lists the parameters, the UserTDECertificate_ prefix and the name's characters, the two options the option
group must carry, no Multi-AZ, at most 10 user certificates, .cer and .pvk files, the .pvk's x-amz-meta-rds-tde-pwd
metadata and the symmetric KMS key, but publishes no error texts for them: those below are the sandbox's own
wording ("(sandbox)"). SQL Server's own messages (15232, 33111) are SQL Server's.
"""

from __future__ import annotations

import re

from aws.native_restore.tde import LIST_USER_TDE_CERTIFICATES
from aws.sandbox.backup_content import certificate_thumbprint, tde_thumbprint
from aws.sandbox.sql_server.aws_view import AwsView, bucket_and_key
from aws.sandbox.sql_server.procedure_calls import bound_text
from aws.sandbox.sql_server.results import ResultSet, SandboxSqlError, SqlParam
from aws.sandbox.sql_server.state_file import EmulatedInstance, RestoreTask
from bot.domain import InstanceState
from bot.role_needs import TdeImportNeeds
from bot.tde import CERTIFICATE_PREFIX, PASSWORD_METADATA, TDE_OPTION

REQUIRED_OPTIONS = ("SQLSERVER_BACKUP_RESTORE", TDE_OPTION)
LIST_QUERY = LIST_USER_TDE_CERTIFICATES
# Limitations of the guide: at most 10 user certificates; a-z, 0-9, @, $, # and _ in the name (the prefix itself has
# capitals, so the letters are taken case-insensitively); never the keyword RDSTDECERTIFICATE; .cer and .pvk files.
MAX_USER_CERTIFICATES = 10
_NAME = re.compile(r"[a-z0-9@$#_]+", re.I)


def restore_tde_certificate(
    server: EmulatedInstance, instance: InstanceState, bound: dict[str, SqlParam], aws: AwsView
) -> list[ResultSet]:
    """Import a user TDE certificate, refusing what RDS refuses; it answers at once (no task)."""
    name = bound_text(bound, "certificate_name")
    if not name.startswith(CERTIFICATE_PREFIX) or "RDSTDECERTIFICATE" in name.upper():
        raise SandboxSqlError(
            50000,
            f"(sandbox) The certificate name '{name}' must start with {CERTIFICATE_PREFIX} and must not include "
            "RDSTDECERTIFICATE.",
        )
    if not _NAME.fullmatch(name):
        raise SandboxSqlError(50000, f"(sandbox) The certificate name '{name}' may hold only a-z, 0-9, @, $, # and _.")
    if instance.multi_az:
        raise SandboxSqlError(50000, "(sandbox) TDE certificate restore is not supported on Multi-AZ DB instances.")
    if len(server.tde_certificates) >= MAX_USER_CERTIFICATES:
        raise SandboxSqlError(
            50000,
            f"(sandbox) The instance holds {MAX_USER_CERTIFICATES} user TDE certificates, the most RDS supports; "
            "drop unused ones with rds_drop_tde_certificate.",
        )
    options = aws.option_names(instance)
    missing = [option for option in REQUIRED_OPTIONS if option not in options]
    if missing:
        raise SandboxSqlError(
            50000,
            f"(sandbox) Restoring a TDE certificate needs the {' and '.join(missing)} option(s) in the option group "
            f"{instance.option_group_name or '(none)'}.",
        )
    certificate_arn = bound_text(bound, "certificate_file_s3_arn")
    private_key_arn = bound_text(bound, "private_key_file_s3_arn")
    for arn, extension in ((certificate_arn, ".cer"), (private_key_arn, ".pvk")):
        if ":s3:::" not in arn or not arn.startswith("arn:aws") or "/" not in arn:
            raise SandboxSqlError(50000, f"(sandbox) The S3 ARN '{arn}' is not valid.")
        if not arn.lower().endswith(extension):
            raise SandboxSqlError(50000, f"(sandbox) The file extension of {arn} must be {extension}.")
        if aws.object_metadata(*bucket_and_key(arn)) is None:
            raise SandboxSqlError(
                50000,
                "Error making request with Error Code NotFound and Http Status Code NotFound. "
                f"The specified key does not exist: {arn}",
            )
    if PASSWORD_METADATA not in (aws.object_metadata(*bucket_and_key(private_key_arn)) or {}):
        raise SandboxSqlError(
            50000,
            f"(sandbox) The private key file {private_key_arn} has no x-amz-meta-{PASSWORD_METADATA} metadata; "
            "it must hold the encrypted password of the private key.",
        )
    key_arn = bound_text(bound, "kms_password_key_arn")
    if problem := aws.kms_key_problem(key_arn):
        raise SandboxSqlError(50000, problem)
    # RDS reads both files and decrypts the password as the option group's role (guide, prerequisites).
    needs = TdeImportNeeds(
        certificate_s3_arn=certificate_arn, private_key_s3_arn=private_key_arn, password_key_arn=key_arn
    )
    if lacks := aws.role_lacks(instance, needs):
        raise SandboxSqlError(
            50000,
            f"(sandbox) The IAM role of SQLSERVER_BACKUP_RESTORE in {instance.option_group_name} cannot import the "
            f"certificate: it is not allowed {'; '.join(lacks)}.",
        )
    thumbprint = certificate_thumbprint(aws.object_body(*bucket_and_key(certificate_arn)))
    if thumbprint is None:
        raise SandboxSqlError(50000, f"(sandbox) {certificate_arn} is not a certificate file.")
    if name in server.tde_certificates or thumbprint in server.tde_certificates.values():
        raise SandboxSqlError(
            15232, f"A certificate with name '{name}' already exists or this certificate already has been added."
        )
    server.tde_certificates[name] = thumbprint
    return [ResultSet(None, [])]


def list_user_tde_certificates(server: EmulatedInstance) -> list[ResultSet]:
    """The columns rdsbot reads of rds_fn_list_user_tde_certificates(), one row per user certificate."""
    rows = [(name, thumbprint) for name, thumbprint in sorted(server.tde_certificates.items())]
    return [ResultSet(("certificate_name", "thumbprint"), rows)]


def missing_certificate(server: EmulatedInstance, task: RestoreTask) -> str | None:
    """SQL Server's refusal to restore a TDE-encrypted backup without its certificate (messages 33111, 3013)."""
    needed = tde_thumbprint(task.content)
    if needed is None or needed in server.tde_certificates.values():
        return None
    return (
        f"Msg 33111: Cannot find server certificate with thumbprint '{needed}'. "
        "Msg 3013: RESTORE DATABASE is terminating abnormally."
    )
