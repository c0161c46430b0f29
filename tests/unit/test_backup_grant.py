"""What the option group's role is granted to write one backup (bot/backup_target.py BackupGrant): the AWS guide
"SQLServer.Procedural.Importing.Native.Enabling" actions on the objects, the bucket and, when the backup is
encrypted, the KMS key; golden ARNs, since aws/backup_role.py writes them into the role's policy as they are."""

from __future__ import annotations

from bot.backup_target import BackupGrant

KEY = "arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-aaaa-bbbb-cccc-1234567890ab"
OBJECTS = ("s3:PutObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload")
BUCKET = ("s3:ListBucket", "s3:GetBucketLocation")


def test_an_unencrypted_backup_needs_its_objects_and_its_bucket_only():
    grant = BackupGrant(bucket="rdsbot-backups", object_pattern="copies/prod-*", kms_key_arn=None)
    assert grant.resources() == {
        OBJECTS: ("arn:aws:s3:::rdsbot-backups/copies/prod-*",),
        BUCKET: ("arn:aws:s3:::rdsbot-backups",),
    }


def test_an_encrypted_backup_also_needs_its_key():
    grant = BackupGrant(bucket="rdsbot-backups", object_pattern="copies/prod.bak", kms_key_arn=KEY)
    assert grant.resources() == {
        OBJECTS: ("arn:aws:s3:::rdsbot-backups/copies/prod.bak",),
        BUCKET: ("arn:aws:s3:::rdsbot-backups",),
        ("kms:DescribeKey", "kms:GenerateDataKey", "kms:Encrypt"): (KEY,),
    }
