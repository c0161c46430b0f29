"""Opens a console session: on the embedded sandbox (moto on loopback, SQLite, sandbox SQL Server, fast clock) by
default, or on real AWS with the environment's settings. The demo is a scripted console session."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from aws.sandbox.moto_seed import (
    DEMO_TDE_BACKUP_KEY,
    DEMO_TDE_CERTIFICATE_KEY,
    DEMO_TDE_PRIVATE_KEY_KEY,
    SANDBOX_USERS,
    seed_sandbox,
    start_sandbox_aws,
)
from bot.audit_surface import AuditSurface, set_process_surface
from bot.bootstrap import build, build_commands, build_doctor, build_drills, real_console_user
from bot.doctor import DoctorCommand
from bot.domain import JobStatus
from bot.entrypoints.shell import ConsoleDrillReporter, ConsoleNotifier, ConsoleSession, ConsoleUser, run_lines
from bot.errors import ConfigError
from config.policy_model import load_policy
from config.settings import Settings, load_settings, require_policy_file

DEMO_SCRIPT = """\
# a request the policy refuses, with the reason and the fix
/rds-restore prod-backup.bak db.m1.small
# the real request, with why: parsed, checked against S3, an approval card for the admins
/rds-restore prod-backup.bak db.m5.large --reason "INC-1234: check last night's orders"
# the requester cannot approve their own request (two-person rule)
approve {job}
as carol
# carol is not in rds-admins
approve {job}
as bob
approve {job}
wait {job}
/rds-status
/rds-status {job}
/rds-audit {job}
"""


@contextmanager
def console_session(
    write: Callable[[str], None], *, sandbox: bool = True, restore_seconds: float = 3.0, user: str | None = None
) -> Iterator[ConsoleSession]:
    """A ready session with the engine running in the background; everything is torn down on exit."""
    set_process_surface(AuditSurface.CONSOLE)
    aws = start_sandbox_aws() if sandbox else None
    try:
        if sandbox:
            workdir = Path(tempfile.mkdtemp(prefix="rdsbot-console-"))
            settings = Settings(
                database_url=f"sqlite:///{workdir / 'rdsbot.db'}",
                sqlserver_driver="sandbox",
                sandbox_restore_seconds=restore_seconds,
                poll_seconds=0.25,
            )
            seeded = seed_sandbox(load_policy(settings.config))
            users = {
                name: ConsoleUser(name, slack_id, f"{name}@example.com")
                for name, (slack_id, _) in SANDBOX_USERS.items()
            }
            write(
                f"# sandbox: moto at {aws.endpoint if aws else '?'}, job store {settings.database_url}; "
                f"admins: alice, bob; not an admin: carol"
            )
            write(
                f"# TDE demo: /rds-restore {DEMO_TDE_BACKUP_KEY} db.m5.large --tde-certificate "
                f"{DEMO_TDE_CERTIFICATE_KEY} --tde-private-key {DEMO_TDE_PRIVATE_KEY_KEY} "
                f"--tde-password-key {{tde_password_key}}   ({{tde_password_key}} is {seeded.tde_password_key_arn})"
            )
            script_values = {"tde_password_key": seeded.tde_password_key_arn}
        else:
            settings = load_settings()
            require_policy_file(settings, "shell --no-sandbox")
            if user is not None:
                raise ConfigError(
                    "--as is for the sandbox only: on real AWS the console acts as the Slack user your credentials' "
                    "IAM user is tagged with (slack-user-id); hint: drop --as"
                )
            users = {}
            script_values = {}
        app = build(settings)
        commands = build_commands(app)
        if sandbox:
            first = user or "alice"
            current = users.get(first) or ConsoleUser(first, first)
        else:
            iam_user, slack_id = real_console_user(app)
            current = ConsoleUser(iam_user, slack_id)
            write(f"# real AWS: you are IAM user {iam_user}, Slack user {slack_id} (from sts:GetCallerIdentity)")
        users.setdefault(current.name, current)
        session = ConsoleSession(
            commands=commands,
            users=users,
            write=write,
            current=current,
            may_switch=sandbox,
            script_values=script_values,
        )
        app.notifier.add(ConsoleNotifier(session))
        drills = build_drills(app, ConsoleDrillReporter(session), commands)
        session.drills = drills.commands
        no_slack = "the console has no Slack workspace" if sandbox else None
        doctor = build_doctor(settings, no_slack=no_slack)
        session.doctor = DoctorCommand(commands.decisions.authorizer, doctor.run)
        stop = app.start_background()
        drills.start()
        try:
            yield session
        finally:
            drills.stop()
            stop.set()
            app.close()
    finally:
        if aws is not None:
            aws.stop()


def run_demo(write: Callable[[str], None] = print, restore_seconds: float = 3.0) -> int:
    """Play the scripted console session; 0 only when the restore succeeded."""
    began = time.monotonic()
    with console_session(write, restore_seconds=restore_seconds) as session:
        run_lines(session, DEMO_SCRIPT.splitlines(), echo=True)
        job = session.commands.job(session.last_job or "")
        if job is None or job.status != JobStatus.SUCCEEDED:
            write(f"\ndemo FAILED: the restore is {job.status if job else 'missing'}")
            return 1
        restore = (job.finished_at - job.started_at).total_seconds() if job.finished_at and job.started_at else 0
        write(
            f"\nrestore took {restore:.1f} s from approval to restored database "
            f"(demo total {time.monotonic() - began:.1f} s)"
        )
        return 0
