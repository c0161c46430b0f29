"""Deterministic names: every stage looks its resources up by these before creating anything."""

from __future__ import annotations

import hashlib
import re
import secrets

_NOT_IDENT = re.compile(r"[^a-z0-9]+")


def new_job_id() -> str:
    """Short, unguessable, valid inside an RDS identifier (letters and digits only)."""
    return "j" + secrets.token_hex(4)


def key_stem(key: str) -> str:
    """prod/2026/prod-backup.bak -> prod-backup; a multi-file prefix keeps its own stem."""
    name = key.rstrip("/").rsplit("/", 1)[-1]
    return re.sub(r"\.bak\Z", "", name, flags=re.IGNORECASE)


def default_instance_id(key: str, job_id: str, *, drill: bool = False) -> str:
    """rdsbot-<stem>-<job>; drills use rdsbot-drill-... so they can never collide with a real instance."""
    stem = _NOT_IDENT.sub("-", key_stem(key).lower()).strip("-") or "restore"
    prefix = "rdsbot-drill" if drill else "rdsbot"
    room = 63 - len(prefix) - len(job_id) - 2
    stem = stem[:room].strip("-") or "restore"
    return f"{prefix}-{stem}-{job_id}"


def default_database_name(key: str) -> str:
    """A safe SQL Server identifier from the backup's file name: letters, digits, underscores."""
    stem = re.sub(r"[^A-Za-z0-9_]+", "_", key_stem(key)).strip("_") or "restored"
    if not stem[0].isalpha():
        stem = "db_" + stem
    return stem[:128]


def _suffix(role_kms_keys: tuple[str, ...]) -> str:
    # One key hashes as it always did (the names of roles made before the keys were split stay the same).
    keys = "|".join(sorted(set(role_kms_keys)))
    return "" if not keys else "-k" + hashlib.sha256(keys.encode()).hexdigest()[:8]


def restore_role_name(role_kms_keys: tuple[str, ...], *, tde: bool = False) -> str:
    """One role for plain backups; one per set of KMS keys it uses, so granting a key never widens another role;
    a TDE restore's role apart, since importing a certificate needs more of S3 (aws/iam.py)."""
    return "rdsbot-native-restore" + _suffix(role_kms_keys) + ("-tde" if tde else "")


AUDIT_ROLE_NAME = "rdsbot-sqlserver-audit"


def sqlserver_audit_prefix(audit_prefix: str) -> str:
    """Where SQLSERVER_AUDIT puts its files: a sub-prefix of its own, apart from rdsbot's trail (<prefix>/rdsbot/),
    so the audit role's s3:PutObject can be scoped to it and cannot reach (overwrite) rdsbot's own records."""
    return f"{audit_prefix}/sqlserver"


def into_option_group_name(
    instance_id: str, major_version: str, role_kms_keys: tuple[str, ...] = (), *, tde: bool = False
) -> str:
    """The option group rdsbot gives an --into instance lacking SQLSERVER_BACKUP_RESTORE (or, for a TDE restore, a
    role that can import the certificate): one per instance and major version (an option group serves one engine
    major version). A TDE restore's copy names its `-tde` role, so like that role it follows the keys: a later TDE
    restore with other keys gets a copy of its own, never the group the instance is already on. Instance ids have no
    '--' and no trailing '-', so neither has this name (the CreateOptionGroup rules)."""
    base = f"rdsbot-into-{instance_id}-{major_version.replace('.', '-')}"
    return base + _suffix(role_kms_keys) + "-tde" if tde else base


def option_group_name(
    edition_short: str, major_version: str, role_kms_keys: tuple[str, ...], *, tde: bool = False
) -> str:
    """The option group names the restore role, so it follows the role's keys. TDE is a persistent option (it
    cannot be removed while an instance uses the group), so a group with it is never one plain restores share."""
    tde_suffix = "-tde" if tde else ""
    return f"rdsbot-sqlserver-{edition_short}-{major_version.replace('.', '-')}{_suffix(role_kms_keys)}{tde_suffix}"
