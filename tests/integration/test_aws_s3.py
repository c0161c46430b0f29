"""Backups in S3, against a moto server over HTTP."""

from __future__ import annotations

import time
import urllib.request

import boto3
import pytest

from aws.clients import AwsClients
from aws.errors import aws_call
from aws.s3 import S3Backups, multi_file_prefix
from bot.domain import BackupLocation
from bot.errors import AwsError, RequestError

BUCKET = "sql-backups"


@pytest.fixture
def store(aws: AwsClients) -> S3Backups:
    aws.s3.create_bucket(Bucket=BUCKET)
    return S3Backups(aws.s3)


def put(aws: AwsClients, key: str, size: int = 10, bucket: str = BUCKET) -> None:
    aws.s3.put_object(Bucket=bucket, Key=key, Body=b"x" * size)


def next_second() -> None:
    # S3 (and moto) report LastModified to the second; newer must mean a later second.
    time.sleep(1.05)


def test_bare_key_resolves_in_the_default_bucket_with_size_and_region(aws, store):
    put(aws, "sales/full.bak", size=1234)

    backup = store.resolve(BackupLocation(key="sales/full.bak"), default_bucket=BUCKET)

    assert (backup.bucket, backup.keys, backup.total_bytes, backup.region) == (
        BUCKET,
        ("sales/full.bak",),
        1234,
        "us-east-1",
    )


def test_s3_url_uses_its_own_bucket_and_reports_that_buckets_region(aws, store):
    eu = boto3.client("s3", region_name="eu-west-1")
    eu.create_bucket(Bucket="eu-backups", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    put(aws, "hr.bak", bucket="eu-backups")

    backup = store.resolve(BackupLocation(bucket="eu-backups", key="hr.bak"), default_bucket=BUCKET)

    assert (backup.bucket, backup.region) == ("eu-backups", "eu-west-1")


def test_multi_file_prefix_gathers_every_part_and_their_total_size(aws, store):
    for i in (1, 2, 3):
        put(aws, f"sales/full_{i}.bak", size=100)

    backup = store.resolve(BackupLocation(key="sales/full_", multi_file=True), default_bucket=BUCKET)

    assert backup.keys == ("sales/full_1.bak", "sales/full_2.bak", "sales/full_3.bak")
    assert backup.total_bytes == 300


def test_a_backups_last_modified_time_comes_with_the_head_object_already_made(aws, store):
    put(aws, "sales/full.bak")
    head = aws.s3.head_object(Bucket=BUCKET, Key="sales/full.bak")

    backup = store.resolve(BackupLocation(key="sales/full.bak"), default_bucket=BUCKET)

    assert backup.last_modified == head["LastModified"] and backup.last_modified.tzinfo is not None


def test_a_striped_backups_last_modified_time_is_its_newest_files(aws, store):
    put(aws, "sales/full_1.bak")
    next_second()
    put(aws, "sales/full_2.bak")
    older, newer = (aws.s3.head_object(Bucket=BUCKET, Key=f"sales/full_{i}.bak")["LastModified"] for i in (1, 2))

    backup = store.resolve(BackupLocation(key="sales/full_", multi_file=True), default_bucket=BUCKET)

    assert backup.last_modified == newer and newer > older


def test_eleven_files_behind_a_prefix_are_refused_naming_the_ten_file_limit(aws, store):
    for i in range(1, 12):
        put(aws, f"big/part_{i}.bak")

    with pytest.raises(RequestError) as caught:
        store.resolve(BackupLocation(key="big/part_", multi_file=True), default_bucket=BUCKET)

    assert caught.value.field == "backup"
    assert "at most 10 files" in caught.value.message
    assert f"s3://{BUCKET}/big/part_*" in caught.value.message


def test_exactly_ten_files_behind_a_prefix_are_accepted(aws, store):
    for i in range(1, 11):
        put(aws, f"big/part_{i}.bak")

    backup = store.resolve(BackupLocation(key="big/part_", multi_file=True), default_bucket=BUCKET)

    assert len(backup.keys) == 10


def test_missing_object_is_a_backup_error_naming_the_s3_url(store):
    with pytest.raises(RequestError) as caught:
        store.resolve(BackupLocation(key="nope/missing.bak"), default_bucket=BUCKET)

    assert caught.value.field == "backup"
    assert f"s3://{BUCKET}/nope/missing.bak does not exist" in caught.value.message


def test_prefix_matching_nothing_is_a_backup_error(store):
    with pytest.raises(RequestError, match=r"no objects match s3://sql-backups/ghost_\*"):
        store.resolve(BackupLocation(key="ghost_", multi_file=True), default_bucket=BUCKET)


def test_missing_bucket_is_a_backup_error_naming_the_bucket(store):
    with pytest.raises(RequestError) as caught:
        store.resolve(BackupLocation(bucket="no-such-bucket", key="a.bak"), default_bucket=BUCKET)

    assert caught.value.field == "backup"
    assert "bucket no-such-bucket does not exist" in caught.value.message


def test_no_bucket_and_no_default_bucket_is_a_backup_error(store):
    with pytest.raises(RequestError, match="no default bucket"):
        store.resolve(BackupLocation(key="a.bak"), default_bucket=None)


def test_latest_backup_counts_a_striped_set_as_one_backup_and_newer_files_win(aws, store):
    put(aws, "sales/monday.bak")
    next_second()
    for i in (1, 2, 3):
        put(aws, f"sales/tuesday_{i}.bak", size=50)
    put(aws, "sales/readme.txt")

    striped = store.latest_backup(BUCKET, "sales/")
    assert striped is not None
    assert striped.keys == ("sales/tuesday_1.bak", "sales/tuesday_2.bak", "sales/tuesday_3.bak")
    assert striped.total_bytes == 150
    assert multi_file_prefix(striped) == "sales/tuesday_"

    next_second()
    put(aws, "sales/wednesday.bak", size=7)
    newest = store.latest_backup(BUCKET, "sales/")
    assert newest is not None
    assert (newest.keys, newest.total_bytes) == (("sales/wednesday.bak",), 7)


def test_latest_backup_recognises_rds_native_n_of_m_stripes(aws, store):
    put(aws, "db/full1-of-2.bak")
    put(aws, "db/full2-of-2.bak")

    backup = store.latest_backup(BUCKET, "db/")

    assert backup is not None
    assert backup.keys == ("db/full1-of-2.bak", "db/full2-of-2.bak")


def test_dated_backups_are_not_mistaken_for_a_striped_set(aws, store):
    for month in ("01", "02", "03"):
        put(aws, f"monthly/sales_2024_{month}.bak")

    backup = store.latest_backup(BUCKET, "monthly/")

    assert backup is not None
    assert len(backup.keys) == 1


def test_incomplete_striped_backup_is_never_offered(aws, store):
    put(aws, "db/old.bak")
    put(aws, "db/new1-of-3.bak")
    put(aws, "db/new2-of-3.bak")

    backup = store.latest_backup(BUCKET, "db/")

    assert backup is not None
    assert backup.keys == ("db/old.bak",)


def test_striped_set_sharing_its_prefix_with_another_file_is_not_offered_as_a_set(aws, store):
    # rds_restore_database would read sales_old.bak too through `sales_*`.
    for key in ("sales_1.bak", "sales_2.bak", "sales_old.bak"):
        put(aws, key)

    backup = store.latest_backup(BUCKET, "")

    assert backup is not None
    assert len(backup.keys) == 1


def test_latest_backup_is_none_when_no_bak_file_exists(aws, store):
    put(aws, "notes.txt")

    assert store.latest_backup(BUCKET, "") is None


def test_presigned_url_downloads_the_object(aws, store):
    aws.s3.put_object(Bucket=BUCKET, Key="small.bak", Body=b"backup bytes")

    url = store.presigned_url(BUCKET, "small.bak", expires_seconds=60)

    with urllib.request.urlopen(url) as response:
        assert response.read() == b"backup bytes"


def test_console_url_opens_the_prefix_in_the_buckets_region(aws, store):
    put(aws, "sales/full.bak")
    store.resolve(BackupLocation(key="sales/full.bak"), default_bucket=BUCKET)

    url = store.console_url(BUCKET, "sales/full_*")

    assert url == f"https://s3.console.aws.amazon.com/s3/buckets/{BUCKET}?prefix=sales%2Ffull_&region=us-east-1"


def test_client_error_becomes_aws_error_keeping_code_and_request_id(aws):
    with pytest.raises(AwsError) as caught, aws_call("ListObjectsV2"):
        aws.s3.list_objects_v2(Bucket="no-such-bucket")

    assert caught.value.code == "NoSuchBucket"
    assert caught.value.operation == "ListObjectsV2"
    assert caught.value.request_id
    assert str(caught.value).startswith("ListObjectsV2 failed (NoSuchBucket)")


def test_latest_backup_in_a_missing_bucket_is_a_backup_error(store):
    with pytest.raises(RequestError, match="bucket no-such-bucket does not exist"):
        store.latest_backup("no-such-bucket", "")


def test_clients_reach_the_endpoint_from_aws_endpoint_url_with_standard_retries(aws, moto_server):
    for client in aws.all().values():
        assert client.meta.endpoint_url == moto_server
        assert client.meta.region_name == "us-east-1"
        # botocore counts max_attempts as retries: 5 retries after the first try.
        assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 6}


# The bucket's SSE-KMS key, read from HeadObject (AWS guide "SQLServer.Procedural.Importing.Native.Enabling": the
# restore role must be allowed to use the key the backup is stored under).


def sse_kms_key(region: str = "us-east-1") -> str:
    arn: str = boto3.client("kms", region_name=region).create_key()["KeyMetadata"]["Arn"]
    return arn


def test_an_sse_kms_backup_reports_its_key_arn(aws, store):
    key = sse_kms_key()
    aws.s3.put_object(Bucket=BUCKET, Key="kms/full.bak", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    put(aws, "plain/full.bak")

    assert store.resolve(BackupLocation(key="kms/full.bak"), default_bucket=BUCKET).kms_key_arns == (key,)
    assert store.resolve(BackupLocation(key="plain/full.bak"), default_bucket=BUCKET).kms_key_arns == ()


def test_every_file_of_a_striped_backup_is_asked_for_its_key(aws, store):
    first, second = sse_kms_key(), sse_kms_key()
    for index, key in ((1, first), (2, second), (3, first)):
        aws.s3.put_object(
            Bucket=BUCKET, Key=f"set/db_{index}.bak", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key
        )

    backup = store.resolve(BackupLocation(key="set/db_", multi_file=True), default_bucket=BUCKET)

    assert backup.kms_key_arns == tuple(sorted({first, second}))


def test_presigned_links_are_signed_with_sigv4_and_open_an_sse_kms_object(aws, store):
    # botocore presigns S3 with SigV2 unless configured; SSE-KMS objects refuse SigV2 (FACTS, issue 11 item 9).
    key = sse_kms_key()
    aws.s3.put_object(
        Bucket=BUCKET, Key="kms/small.bak", Body=b"secret", ServerSideEncryption="aws:kms", SSEKMSKeyId=key
    )

    url = store.presigned_url(BUCKET, "kms/small.bak", expires_seconds=60)

    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url and "Signature=" not in url.replace("X-Amz-Signature=", "")
    with urllib.request.urlopen(url) as response:
        assert response.read() == b"secret"
