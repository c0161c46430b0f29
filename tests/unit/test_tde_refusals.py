"""What a TDE refusal tells the requester, rule by rule (bot/tde.py): the field at fault, the reason and the hint,
pinned as written, since the card and the ack show them verbatim. The rules in a whole request: test_tde_rules.py."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.errors import RequestError
from bot.tde import (
    StoredObject,
    TdeCertificate,
    check_objects,
    check_password_key,
    check_single_az,
    check_support,
    given_flags,
    thumbprint_of,
)

KEY = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
CERT_KEY = "arn:aws:kms:us-east-1:123456789012:key/cccccccc-2222-3333-4444-555555555555"
PVK_KEY = "arn:aws:kms:us-east-1:123456789012:key/pppppppp-2222-3333-4444-555555555555"
TDE = TdeCertificate(
    certificate_name="UserTDECertificate_rdsbot_j1",
    certificate_bucket="certs",
    certificate_key="tde/db.cer",
    private_key_bucket="keys",
    private_key_key="tde/db.pvk",
    password_key_arn=KEY,
)
PASSWORD = frozenset({"rds-tde-pwd"})


def refusal(call: object) -> tuple[str, str, str | None]:
    with pytest.raises(RequestError) as refused:
        call()  # type: ignore[operator]
    return refused.value.field, refused.value.message, refused.value.hint


def heads(certificate: StoredObject, private_key: StoredObject) -> Callable[[str, str, str], StoredObject]:
    """HeadObject over the two files, by bucket."""
    stored = {"certs": certificate, "keys": private_key}
    return lambda bucket, key, field: stored[bucket]


def test_thumbprint_is_0x_and_the_upper_case_sha1_of_the_file():
    # Golden: sha1(b"") is da39a3ee5e6b4b0d3255bfef95601890afd80709.
    assert thumbprint_of(b"") == "0xDA39A3EE5E6B4B0D3255BFEF95601890AFD80709"


def test_a_missing_flag_is_named_with_the_ones_given():
    given: dict[str, object] = {"tde_certificate": "tde/db.cer", "tde_private_key": None, "tde_password_key_arn": KEY}
    assert refusal(lambda: given_flags(given)) == (
        "tde_private_key",
        "--tde-private-key is missing: a TDE restore needs --tde-certificate, --tde-private-key and --tde-password-key",
        "add --tde-private-key, or leave out --tde-certificate, --tde-password-key",
    )
    given_flags({"tde_certificate": None, "tde_private_key": None, "tde_password_key_arn": None})  # none: fine
    given_flags({"tde_certificate": "a.cer", "tde_private_key": "a.pvk", "tde_password_key_arn": KEY})  # all: fine


def test_the_password_key_must_be_a_key_arn_not_an_alias_of_an_allowed_account():
    field, message, _ = refusal(lambda: check_password_key("alias/tde", "us-east-1", {"123456789012"}))
    assert field == "tde_password_key_arn" and "alias" in message
    alias_arn = "arn:aws:kms:us-east-1:123456789012:alias/tde"
    assert refusal(lambda: check_password_key(alias_arn, "us-east-1", {"123456789012"}))[1] == (
        f"{alias_arn} is an alias; the restore role's grant must name the key itself"
    )
    field, message, _ = refusal(lambda: check_password_key(KEY, "us-east-1", {"999999999999"}))
    assert field == "tde_password_key_arn" and "123456789012" in message
    check_password_key(KEY, "us-east-1", {"123456789012"})


def test_a_missing_private_key_file_is_refused_naming_its_flag():
    def head(bucket: str, key: str, field: str) -> StoredObject:
        if bucket == "keys":
            raise RequestError(field, f"s3://{bucket}/{key} does not exist")
        return StoredObject("us-east-1", None, frozenset())

    assert refusal(lambda: check_objects(TDE, "us-east-1", head))[:2] == (
        "tde_private_key",
        "s3://keys/tde/db.pvk does not exist",
    )


def test_multi_az_is_refused_with_a_hint_for_a_new_instance_and_another_for_an_existing_one():
    assert refusal(lambda: check_single_az(True)) == (
        "multi_az",
        "RDS does not restore TDE certificates on Multi-AZ instances, and the new instance is Multi-AZ",
        "leave out --multi-az and convert the instance to Multi-AZ after the restore",
    )
    assert refusal(lambda: check_single_az(True, "rdsbot-first")) == (
        "multi_az",
        "RDS does not restore TDE certificates on Multi-AZ instances, and rdsbot-first is Multi-AZ",
        "restore onto a Single-AZ instance",
    )
    check_single_az(False)


def test_an_unsupported_edition_or_version_names_what_would_do():
    reason = "RDS offers TDE on Enterprise 2016-2022 and Standard 2019-2022, not {} ({})"
    assert refusal(lambda: check_support("sqlserver-se", "14.00")) == (
        "tde_certificate",
        reason.format("sqlserver-se 14.00", "the new instance"),
        "sqlserver-se supports TDE on 15.00, 16.00; use --major-version 16.00",
    )
    assert refusal(lambda: check_support("sqlserver-web", "16.00")) == (
        "tde_certificate",
        reason.format("sqlserver-web 16.00", "the new instance"),
        "use --edition ee (2016 to 2022) or --edition se (2019 or 2022)",
    )
    assert refusal(lambda: check_support("sqlserver-se", "14.00", "rdsbot-first")) == (
        "tde_certificate",
        reason.format("sqlserver-se 14.00", "rdsbot-first"),
        "restore onto an instance running one of those, or leave out the --tde-* flags",
    )
    assert refusal(lambda: check_support("sqlserver-ee", "12.00"))[2] == (
        "sqlserver-ee supports TDE on 13.00, 14.00, 15.00, 16.00; use --major-version 16.00"  # the newest
    )
    check_support("sqlserver-ee", "13.00")
    check_support("sqlserver-se", "16.00")


@pytest.mark.parametrize("wrong", ["certs", "keys"])
def test_either_file_in_another_region_is_refused_naming_its_bucket(wrong: str):
    here, there = StoredObject("us-east-1", None, PASSWORD), StoredObject("eu-west-1", None, PASSWORD)
    head = heads(there if wrong == "certs" else here, there if wrong == "keys" else here)
    assert refusal(lambda: check_objects(TDE, "us-east-1", head)) == (
        "tde_certificate" if wrong == "certs" else "tde_private_key",
        f"bucket {wrong} is in eu-west-1 but the restore targets us-east-1",
        "RDS reads TDE certificate files only from a bucket in the instance's region",
    )


def test_a_certificate_file_over_64_kib_is_refused_and_one_of_64_kib_is_not():
    big = StoredObject("us-east-1", None, frozenset(), size=64 * 1024 + 1)
    assert refusal(lambda: check_objects(TDE, "us-east-1", heads(big, StoredObject("us-east-1", None, PASSWORD)))) == (
        "tde_certificate",
        "s3://certs/tde/db.cer holds 65537 bytes; a certificate file (BACKUP CERTIFICATE ... TO FILE) holds about "
        "a kilobyte",
        "name the .cer file the certificate was backed up to",
    )
    largest = StoredObject("us-east-1", None, frozenset(), size=64 * 1024)
    check_objects(TDE, "us-east-1", heads(largest, StoredObject("us-east-1", None, PASSWORD)))


def test_a_private_key_without_its_password_metadata_is_refused_saying_how_to_upload_it():
    plain = StoredObject("us-east-1", None, frozenset({"other"}))
    assert refusal(lambda: check_objects(TDE, "us-east-1", heads(plain, plain))) == (
        "tde_private_key",
        "s3://keys/tde/db.pvk has no x-amz-meta-rds-tde-pwd metadata, so RDS cannot decrypt the private key",
        "upload the .pvk again with the metadata x-amz-meta-rds-tde-pwd = the CiphertextBlob of the data key that "
        "encrypted it (AWS guide TDE.BackupRestoreOnPrem)",
    )


def test_the_files_sse_kms_keys_go_to_the_role_and_the_bot_reads_only_a_certificate_without_one():
    both = check_objects(
        TDE,
        "us-east-1",
        heads(StoredObject("us-east-1", CERT_KEY, frozenset()), StoredObject("us-east-1", PVK_KEY, PASSWORD)),
    )
    assert both == ((CERT_KEY, PVK_KEY), False)
    plain_certificate = check_objects(
        TDE,
        "us-east-1",
        heads(StoredObject("us-east-1", None, frozenset()), StoredObject("us-east-1", PVK_KEY, PASSWORD)),
    )
    assert plain_certificate == ((PVK_KEY,), True)
