"""Restoring a backup of a TDE-encrypted database: the certificate RDS must hold first, and the rules around it. Pure.

SQL Server restores such a backup only on a server holding the certificate that protects its database encryption
key. RDS imports one with msdb.dbo.rds_restore_tde_certificate (AWS guide "TDE.BackupRestoreRDS", "Restoring a TDE
certificate"): @certificate_name (must start with UserTDECertificate_), @certificate_file_s3_arn (the .cer),
@private_key_file_s3_arn (the .pvk, whose S3 metadata x-amz-meta-rds-tde-pwd holds the KMS-encrypted password of
the private key; guide "TDE.BackupRestoreOnPrem") and @kms_password_key_arn (the symmetric key that encrypted it).
The instance's option group must carry both SQLSERVER_BACKUP_RESTORE and TDE (guide "TDE.BackupRestoreRDS",
limitations), and TDE runs only on the editions and versions of guide "Appendix.SQLServer.Options.TDE".
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from bot import kms_keys
from bot.errors import RequestError

# The option's name in the RDS API and CLI (the console calls it TRANSPARENT_DATA_ENCRYPTION). RDS marks it
# Persistent (DescribeOptionGroupOptions): it cannot leave an option group while an instance uses the group, so
# rdsbot keeps TDE restores in option groups of their own (bot/names.py: the `-tde` suffix).
TDE_OPTION = "TDE"
CERTIFICATE_PREFIX = "UserTDECertificate_"
# boto3 reports user metadata without the x-amz-meta- prefix. Only the name is ever read: the value is a secret.
PASSWORD_METADATA = "rds-tde-pwd"
# AWS guide "Appendix.SQLServer.Options.TDE": 2022 and 2019 Standard and Enterprise, 2017 and 2016 Enterprise
# (rdsbot offers 13.00 to 16.00). Engine name -> major versions.
TDE_SUPPORT: dict[str, tuple[str, ...]] = {
    "sqlserver-ee": ("13.00", "14.00", "15.00", "16.00"),
    "sqlserver-se": ("15.00", "16.00"),
}
NEW_INSTANCE = "the new instance"
# flag -> request field, in the order the issue names them
FLAGS = {
    "--tde-certificate": "tde_certificate",
    "--tde-private-key": "tde_private_key",
    "--tde-password-key": "tde_password_key_arn",
}


class TdeCertificate(BaseModel):
    """What rds_restore_tde_certificate is sent: the certificate's name on the instance and where its parts are."""

    model_config = ConfigDict(frozen=True)

    certificate_name: str
    certificate_bucket: str
    certificate_key: str
    private_key_bucket: str
    private_key_key: str
    password_key_arn: str
    # SQL Server's thumbprint of the certificate (sys.certificates: the SHA-1 hash of the certificate), read from the
    # .cer by the preflight: an instance holding it under another name (an --into target restored onto before)
    # needs no second import, which SQL Server would refuse (message 15232).
    thumbprint: str | None = None

    @property
    def certificate_s3_arn(self) -> str:
        return f"arn:aws:s3:::{self.certificate_bucket}/{self.certificate_key}"

    @property
    def private_key_s3_arn(self) -> str:
        return f"arn:aws:s3:::{self.private_key_bucket}/{self.private_key_key}"

    def card_lines(self) -> tuple[str, ...]:
        """What the approver sees: the certificate's name, its two files and the password key, in full."""
        return (
            f"TDE certificate: {self.certificate_name} from s3://{self.certificate_bucket}/{self.certificate_key}",
            f"TDE private key: s3://{self.private_key_bucket}/{self.private_key_key}",
            f"TDE password key: {self.password_key_arn}",
        )


@dataclass(frozen=True)
class StoredObject:
    """What HeadObject says of one certificate file: its bucket's region, its SSE-KMS key, its metadata's names."""

    region: str
    kms_key_arn: str | None
    metadata_names: frozenset[str]
    size: int = 0


# A certificate file (DER) is about a kilobyte; anything far larger is no certificate.
MAX_CERTIFICATE_BYTES = 64 * 1024


def thumbprint_of(certificate_file: bytes) -> str:
    """The thumbprint SQL Server shows for the certificate in a .cer file: 0x and the SHA-1 of its bytes."""
    return "0x" + hashlib.sha1(certificate_file, usedforsecurity=False).hexdigest().upper()


def certificate_name(job_id: str) -> str:
    """The name the certificate gets on the instance: RDS's prefix, then the job, so a resumed job finds its own."""
    return f"{CERTIFICATE_PREFIX}rdsbot_{job_id}"


def given_flags(values: dict[str, object]) -> None:
    """All three TDE flags or none: a certificate without its key or password key cannot be imported."""
    given = [flag for flag, field in FLAGS.items() if values.get(field) is not None]
    if given and len(given) < len(FLAGS):
        missing = next(flag for flag, field in FLAGS.items() if values.get(field) is None)
        raise RequestError(
            FLAGS[missing],
            f"{missing} is missing: a TDE restore needs --tde-certificate, --tde-private-key and --tde-password-key",
            f"add {missing}, or leave out {', '.join(given)}",
        )


def check_password_key(value: str, region: str, accounts: Collection[str]) -> None:
    """A key ARN (IAM grants kms:Decrypt to the restore role by key ARN) in the region, of an allowed account."""
    kms_keys.check_key_arn("tde_password_key_arn", value, region, accounts, alias_allowed=False)


def check_single_az(multi_az: bool, where: str = NEW_INSTANCE) -> None:
    """AWS guide "TDE.BackupRestoreRDS", limitations: no TDE certificate restore on a Multi-AZ instance."""
    if multi_az:
        raise RequestError(
            "multi_az",
            f"RDS does not restore TDE certificates on Multi-AZ instances, and {where} is Multi-AZ",
            "leave out --multi-az and convert the instance to Multi-AZ after the restore"
            if where == NEW_INSTANCE
            else "restore onto a Single-AZ instance",
        )


def check_support(engine: str, major_version: str, where: str = NEW_INSTANCE) -> None:
    """TDE only on the editions and versions RDS offers it for (AWS guide "Appendix.SQLServer.Options.TDE")."""
    versions = TDE_SUPPORT.get(engine, ())
    if major_version in versions:
        return
    if where != NEW_INSTANCE:
        hint = "restore onto an instance running one of those, or leave out the --tde-* flags"
    elif versions:
        hint = f"{engine} supports TDE on {', '.join(versions)}; use --major-version {versions[-1]}"
    else:
        hint = "use --edition ee (2016 to 2022) or --edition se (2019 or 2022)"
    raise RequestError(
        "tde_certificate",
        f"RDS offers TDE on Enterprise 2016-2022 and Standard 2019-2022, not {engine} {major_version} ({where})",
        hint,
    )


def check_objects(
    tde: TdeCertificate, region: str, head: Callable[[str, str, str], StoredObject]
) -> tuple[tuple[str, ...], bool]:
    """Both files exist in the restore's region and the .pvk carries its password; their SSE-KMS keys (the role
    must decrypt them too), and whether the bot may read the .cer: only when it is not under SSE-KMS, since the
    bot's own policy grants no backup bucket's key. `head(bucket, key, field)` raises RequestError(field) for a
    missing object."""
    certificate = head(tde.certificate_bucket, tde.certificate_key, "tde_certificate")
    private_key = head(tde.private_key_bucket, tde.private_key_key, "tde_private_key")
    for field, bucket, stored in (
        ("tde_certificate", tde.certificate_bucket, certificate),
        ("tde_private_key", tde.private_key_bucket, private_key),
    ):
        if stored.region != region:
            raise RequestError(
                field,
                f"bucket {bucket} is in {stored.region} but the restore targets {region}",
                "RDS reads TDE certificate files only from a bucket in the instance's region",
            )
    if certificate.size > MAX_CERTIFICATE_BYTES:
        raise RequestError(
            "tde_certificate",
            f"s3://{tde.certificate_bucket}/{tde.certificate_key} holds {certificate.size} bytes; a certificate file "
            "(BACKUP CERTIFICATE ... TO FILE) holds about a kilobyte",
            "name the .cer file the certificate was backed up to",
        )
    if PASSWORD_METADATA not in private_key.metadata_names:
        raise RequestError(
            "tde_private_key",
            f"s3://{tde.private_key_bucket}/{tde.private_key_key} has no x-amz-meta-{PASSWORD_METADATA} metadata, "
            "so RDS cannot decrypt the private key",
            f"upload the .pvk again with the metadata x-amz-meta-{PASSWORD_METADATA} = the CiphertextBlob of "
            "the data key that encrypted it (AWS guide TDE.BackupRestoreOnPrem)",
        )
    keys = {o.kms_key_arn for o in (certificate, private_key) if o.kms_key_arn}
    return tuple(sorted(keys)), certificate.kms_key_arn is None
