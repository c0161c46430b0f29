"""The TDE certificate procedures (AWS guide "TDE.BackupRestoreRDS"): import a user TDE certificate with
rds_restore_tde_certificate (no task: it answers at once) and list them with rds_fn_list_user_tde_certificates()."""

from __future__ import annotations

from aws.native_restore.procedures import KMS_ARN, S3_ARN, Statement
from bot.errors import RequestError
from bot.tde import CERTIFICATE_PREFIX, TdeCertificate

RESTORE_TDE_CERTIFICATE = "msdb.dbo.rds_restore_tde_certificate"
# Not a procedure: a function; only the columns rdsbot reads.
LIST_USER_TDE_CERTIFICATES = "SELECT certificate_name, thumbprint FROM msdb.dbo.rds_fn_list_user_tde_certificates()"


def restore_tde_certificate(certificate: TdeCertificate) -> Statement:
    """`rds_restore_tde_certificate` with its four parameters, all required (AWS guide "TDE.BackupRestoreRDS")."""
    if not certificate.certificate_name.startswith(CERTIFICATE_PREFIX):
        raise RequestError("tde_certificate", f"RDS names user TDE certificates {CERTIFICATE_PREFIX}...")
    for field, arn in (
        ("tde_certificate", certificate.certificate_s3_arn),
        ("tde_private_key", certificate.private_key_s3_arn),
    ):
        if not S3_ARN.fullmatch(arn):
            raise RequestError(field, f"{arn!r} is not an S3 object ARN")
    if not KMS_ARN.fullmatch(certificate.password_key_arn):
        raise RequestError("tde_password_key_arn", f"{certificate.password_key_arn!r} is not a KMS key ARN")
    return Statement(
        RESTORE_TDE_CERTIFICATE,
        (
            ("certificate_name", certificate.certificate_name),
            ("certificate_file_s3_arn", certificate.certificate_s3_arn),
            ("private_key_file_s3_arn", certificate.private_key_s3_arn),
            ("kms_password_key_arn", certificate.password_key_arn),
        ),
    )
