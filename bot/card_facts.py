"""What an approver weighs, written once for every surface: who asks and why, the backup and its age, the target
and what it will cost, the three KMS keys, the warnings, and when the request lapses. Slack renders the lines as
mrkdwn (date tokens, escaped user text; bot/blocks.py), the console as plain text (`rdsbot shell`). Pure."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot import chain_stages, into_option_group, names, render
from bot.domain import STAGE_ORDER, Job, stage_order
from bot.into_target import IntoTarget
from bot.keep_window import format_duration


class CardStyle(Protocol):
    """How one surface writes the parts that differ between surfaces."""

    def time(self, at: datetime) -> str:
        """A moment, with its date."""
        ...

    def user(self, user_id: str) -> str: ...

    def line(self, template: str, *parts: str) -> str:
        """Our template filled with parts: for Slack, outside text in `parts` is escaped, this style's own markup
        (a mention, a date token) kept; a line without markup is returned as a plain `str`."""
        ...


class PlainStyle:
    """The console: UTC times, raw ids, text as typed."""

    def time(self, at: datetime) -> str:
        return render.utc_time(at)

    def user(self, user_id: str) -> str:
        return user_id

    def line(self, template: str, *parts: str) -> str:
        return template.format(*parts)


PLAIN = PlainStyle()


def _size(total_bytes: int) -> str:
    size = float(total_bytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def _storage(job: Job) -> str:
    plan = job.plan
    return f"{plan.storage_type} {plan.allocated_storage_gb} GiB" + (f", {plan.iops} IOPS" if plan.iops else "")


def _backup_age(job: Job, style: CardStyle) -> str:
    modified = job.outputs.backup_last_modified
    if modified is None:
        return "Backup age: unknown (S3 gave no last-modified time)"
    # Aged at the request, not at each render: the card must say the same thing however late it is read.
    age = render.age(job.created_at - modified)
    return style.line("Backup age: {} at request (last modified {})", age, style.time(modified))


def _key_lines(job: Job) -> list[str]:
    """All three KMS keys, each in full or "none": an approver must see whose keys the restore will use."""
    plan = job.plan
    # Storage is always encrypted (StorageEncrypted=True); without a key of its own, under the account's aws/rds.
    storage = plan.storage_kms_key_arn or "none (RDS uses the account's aws/rds key)"
    backup = plan.backup_kms_key_arn or "none (the .bak is not encrypted client-side)"
    bucket = ", ".join(plan.bucket_kms_key_arns) or "none (the backup is not stored under SSE-KMS)"
    return [
        f"KMS: Storage key {storage}",
        f"KMS: Backup key (@kms_master_key_arn) {backup}",
        f"KMS: Bucket SSE-KMS key {bucket}",
    ]


def _chain_lines(job: Job) -> list[str]:
    """Every statement of a restore chain, in the order it is sent: the approver sees the point in time too."""
    steps = chain_stages.steps_of(job.plan)
    return [f"Step {number} of {len(steps)}: {step.label()}" for number, step in enumerate(steps, start=1)]


def _keep_line(job: Job) -> list[str]:
    keep = job.plan.keep
    if keep is None:
        return []
    snapshot = "after a final snapshot" if job.plan.final_snapshot else "with no final snapshot"
    return [f"Keep: {format_duration(keep)} after the restore completes, then deleted {snapshot}"]


def card_lines(job: Job, style: CardStyle) -> list[str]:
    """The facts of the card, one per line, in the order an approver reads them. Lines that are plain `str` hold
    outside text (keys, names, the reason, warnings) unescaped: Slack's card escapes them once when it joins them."""
    plan = job.plan
    files = job.outputs.backup_files if job.outputs.backup_files is not None else 1
    size = _size(job.outputs.backup_bytes or 0)
    processor = f", {plan.cores} cores x {plan.threads_per_core or 'default'} threads" if plan.cores else ""
    reason = plan.reason or "none given"
    multi_az = "yes" if plan.multi_az else "no"
    if plan.into is not None:
        return _into_lines(job, style) + [f"⚠ {warning}" for warning in plan.warnings]
    if plan.backup is not None:
        return _backup_lines(job, style) + [f"⚠ {warning}" for warning in plan.warnings]
    lines = [
        style.line("Requester: {}", style.user(job.requester)),
        f"Reason: {reason}",
        f"Backup: {plan.s3_arn.replace('arn:aws:s3:::', 's3://')} ({files} file(s), {size})",
        _backup_age(job, style),
        f"Target: {plan.target_instance_id} / database {plan.database_name}",
        f"Class: {plan.instance_class}{processor}; storage {_storage(job)}; Multi-AZ {multi_az}",
        # The exact version the instance will run, when known (bot/engine_versions.py): what the approver approves.
        f"Region: {plan.region}; engine {plan.edition.value} {plan.engine_version or plan.major_version} "
        f"({plan.license_model})",
        *_keep_line(job),
        f"Plan: {' → '.join(STAGE_ORDER)}",
        *_chain_lines(job),
        *_key_lines(job),
        *(plan.tde.card_lines() if plan.tde else ()),
    ]
    return lines + [f"⚠ {warning}" for warning in plan.warnings]


def _into_lines(job: Job, style: CardStyle) -> list[str]:
    """An --into card: a replace says so first, since it destroys a database; no instance is created or deleted."""
    plan = job.plan
    into = plan.into or IntoTarget()
    first = (
        [f"REPLACES database {plan.database_name} on {plan.target_instance_id}: rds_drop_database drops it first"]
        if into.replace
        else []
    )
    existed = {True: "exists (replaced)", False: "new", None: "not checked yet (the bot could not reach it)"}
    return [
        *first,
        style.line("Requester: {}", style.user(job.requester)),
        f"Reason: {plan.reason or 'none given'}",
        f"Backup: {plan.s3_arn.replace('arn:aws:s3:::', 's3://')} ({_size(job.outputs.backup_bytes or 0)})",
        _backup_age(job, style),
        f"Target: existing instance {plan.target_instance_id} ({into.allowed_by}) / database {plan.database_name}, "
        f"{existed[into.database_existed]}",
        f"Instance: {plan.instance_class}, {plan.edition.value} {plan.engine_version or plan.major_version}, "
        + (
            f"option group {into.option_group}; rdsbot creates, changes and deletes no instance, network or option "
            "group"
            if into.new_option_group is None
            else "rdsbot creates and deletes no instance or network; it changes the option group (next line)"
        ),
        *_option_group_change(job),
        f"Region: {plan.region}",
        *_chain_lines(job),
        *_key_lines(job)[1:],
        *(plan.tde.card_lines() if plan.tde else ()),
    ]


def _option_group_change(job: Job) -> list[str]:
    """An --into card whose instance gets a new option group (targets.allow_option_group_change) says exactly what
    changes, before anyone approves it."""
    into = job.plan.into
    if into is None or into.new_option_group is None:
        return []
    role = names.restore_role_name(job.plan.role_kms_key_arns, tde=job.plan.tde is not None)
    return [f"CHANGES option group: {into_option_group.change_summary(job.plan.target_instance_id, into, role)}"]


def _backup_lines(job: Job, style: CardStyle) -> list[str]:
    """A /rds-backup card: an overwrite says so first, since it replaces objects; nothing else is changed."""
    plan = job.plan
    backup = plan.backup
    if backup is None:
        return []
    first = [f"OVERWRITES {', '.join(backup.overwrites)} (--overwrite)"] if backup.overwrites else []
    files = (
        f"{backup.files} files named 1-of-{backup.files} ... {backup.files}-of-{backup.files}"
        if backup.files > 1
        else "1 file"
    )
    return [
        *first,
        style.line("Requester: {}", style.user(job.requester)),
        f"Reason: {plan.reason or 'none given'}",
        f"Source: database {plan.database_name} on {plan.target_instance_id} ({backup.allowed_by})",
        f"Destination: {backup.url} ({files}; allowed by {backup.destination_pattern})",
        f"Type: {backup.backup_type.value}; overwrite {'yes' if backup.overwrite else 'no'}",
        f"Region: {plan.region}; engine {plan.edition.value} {plan.engine_version or plan.major_version}",
        f"Plan: {' → '.join(stage_order(job.kind))}",
        _key_lines(job)[1],
        f"Role: {backup.role_note or backup.role_arn or 'none'}",
    ]


def deadline_line(job: Job, expires: datetime, style: CardStyle) -> str:
    return style.line("Requested {}; expires {} if nobody decides.", style.time(job.created_at), style.time(expires))


# Slack caps a confirmation dialog's text at 300 characters (doc "Confirmation dialog object").
CONFIRM_TEXT_CHARS = 300


def approve_confirmation(job: Job) -> str:
    """What Approve sets going, said once more before it does: it is the click that starts the bill."""
    plan = job.plan
    multi_az = ", Multi-AZ" if plan.multi_az else ""
    if plan.backup is not None:
        over = f", overwriting {len(plan.backup.overwrites)} object(s)" if plan.backup.overwrites else ""
        text = f"This backs up {plan.database_name} on {plan.target_instance_id} to {plan.backup.url}{over}."
        return text if len(text) <= CONFIRM_TEXT_CHARS else text[: CONFIRM_TEXT_CHARS - 1] + "…"
    if plan.into is not None:
        verb = "drops and restores" if plan.into.replace else "restores"
        changes = f", after giving it option group {plan.into.new_option_group}" if plan.into.new_option_group else ""
        text = f"This {verb} {plan.database_name} on the existing instance {plan.target_instance_id}{changes}."
        return text[:CONFIRM_TEXT_CHARS]
    text = (
        f"This creates {plan.target_instance_id} ({plan.instance_class}, {_storage(job)}{multi_az}) in {plan.region} "
        f"and restores {plan.database_name} onto it. RDS bills for the instance from the moment it exists until "
        "someone deletes it."
    )
    return text if len(text) <= CONFIRM_TEXT_CHARS else text[: CONFIRM_TEXT_CHARS - 1] + "…"
