"""What a person reads when the command is wrong, pinned whole (field, words and the fix), and every range at its
edges: the parser's messages are its interface in chat."""

from __future__ import annotations

import pytest

from bot.errors import RequestError
from bot.parser import USAGE, parse_restore_command

NEEDS_USAGE = f"; usage: {USAGE}"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("", "backup: is missing" + NEEDS_USAGE),
        ("prod-backup.bak", "instance_class: is missing" + NEEDS_USAGE),
        ("prod-backup.tar db.m5.large",
         "backup: 'prod-backup.tar' is not a .bak file; name a native SQL Server backup, or a prefix ending in *"),
        ("s3://Bad_Bucket/x.bak db.m5.large",
         "backup: 'Bad_Bucket' is not an S3 bucket name; write s3://bucket/path/file.bak"),
        ("s3://bucket db.m5.large",
         "backup: 's3://bucket' names no object; write prod-backup.bak or s3://bucket/file.bak"),
        ("s3://bucket/ db.m5.large",
         "backup: 's3://bucket/' names no object; write prod-backup.bak or s3://bucket/file.bak"),
        ("pro*d.bak db.m5.large", "backup: a `*` may only end a multi-file prefix; write s3://bucket/prod-backup*"),
        ("prod-backup.bak db.m5.large --cores two", "cores: 'two' is not a whole number"),
        ("prod-backup.bak db.m5.large --cores 0", "cores: 0 is out of range; use 1 to 128"),
        ("prod-backup.bak db.m5.large --cores 129", "cores: 129 is out of range; use 1 to 128"),
        ("prod-backup.bak db.m5.large --threads-per-core 3", "threads_per_core: 3 is out of range; use 1 to 2"),
        ("prod-backup.bak db.m5.large --storage 19", "allocated_storage_gb: 19 is out of range; use 20 to 16384"),
        ("prod-backup.bak db.m5.large --storage 16385",
         "allocated_storage_gb: 16385 is out of range; use 20 to 16384"),
        ("prod-backup.bak db.m5.large --iops 999", "iops: 999 is out of range; use 1000 to 256000"),
        ("prod-backup.bak db.m5.large --throughput=4001", "storage_throughput: 4001 is out of range; use 125 to 4000"),
        ("prod-backup.bak db.m5.large --edition developer",
         "edition: 'developer' is not a SQL Server edition; use ex, web, se or ee"),
        ("prod-backup.bak db.m5.large --storage-type magnetic",
         "storage_type: 'magnetic' is not a storage type; use gp2, gp3, io1 or io2"),
        ("prod-backup.bak db.m5.large --colour blue", "command: unknown flag --colour" + NEEDS_USAGE),
        ("prod-backup.bak db.m5.large --region", "region: --region needs a value" + NEEDS_USAGE),
        ("prod-backup.bak db.m5.large --multi-az=yes", "multi_az: --multi-az takes no value"),
        ("prod-backup.bak db.m5.large extra", "command: unexpected word 'extra'" + NEEDS_USAGE),
        ("prod-backup.bak db.m5.large --db 'unterminated",
         "command: cannot read the command (No closing quotation)" + NEEDS_USAGE),
    ],
)  # fmt: skip
def test_a_bad_command_says_which_field_what_is_wrong_and_how_to_fix_it(text: str, said: str) -> None:
    with pytest.raises(RequestError) as caught:
        parse_restore_command(text)
    assert str(caught.value) == said
    assert caught.value.field == said.split(":", 1)[0]


@pytest.mark.parametrize(
    ("flags", "field", "value"),
    [
        ("--cores 1", "cores", 1),
        ("--cores 128", "cores", 128),
        ("--threads-per-core 1", "threads_per_core", 1),
        ("--threads-per-core 2", "threads_per_core", 2),
        ("--storage 20", "allocated_storage_gb", 20),
        ("--storage=16384", "allocated_storage_gb", 16384),
        ("--iops 1000", "iops", 1000),
        ("--iops 256000", "iops", 256000),
        ("--throughput 125", "storage_throughput", 125),
        ("--throughput 4000", "storage_throughput", 4000),
    ],
)
def test_each_range_accepts_its_edges(flags: str, field: str, value: int) -> None:
    assert getattr(parse_restore_command(f"prod-backup.bak db.m5.large {flags}"), field) == value


@pytest.mark.parametrize(
    ("backup", "bucket", "key", "multi_file"),
    [
        ("s3://team-backups//sql/x.bak", "team-backups", "sql/x.bak", False),
        ("s3://team-backups/sql/prod*", "team-backups", "sql/prod", True),
        ("sql/prod.bak", None, "sql/prod.bak", False),
    ],
)
def test_backups_read_as_bucket_key_and_multi_file(backup: str, bucket, key: str, multi_file: bool) -> None:
    parsed = parse_restore_command(f"{backup} DB.M5.LARGE").backup
    assert (parsed.bucket, parsed.key, parsed.multi_file) == (bucket, key, multi_file)


def test_only_the_slashes_after_the_bucket_are_dropped_from_the_key() -> None:
    parsed = parse_restore_command("s3://team-backups//Xylo/prod.bak db.m5.large").backup
    assert (parsed.bucket, parsed.key) == ("team-backups", "Xylo/prod.bak")
