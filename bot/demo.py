"""`rdsbot demo`: a whole restore on the embedded defaults (SQLite, the moto sandbox, the sandbox SQL Server)."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from aws.sandbox import DEMO_BACKUP_KEY, seed_sandbox, start_sandbox_aws
from bot import render
from bot.bootstrap import build
from bot.domain import JobStatus
from bot.errors import RequestError
from bot.notifiers import PrintNotifier
from bot.parser import parse_restore_command
from config.policy import load_policy
from config.settings import Settings


def run_demo(write: Callable[[str], None] = print, restore_seconds: float = 3.0) -> int:
    """Play the scripted restore; 0 only when the restore succeeded."""
    began = time.monotonic()
    sandbox = start_sandbox_aws()
    workdir = Path(tempfile.mkdtemp(prefix="rdsbot-demo-"))
    try:
        settings = Settings(
            database_url=f"sqlite:///{workdir / 'rdsbot.db'}",
            sqlserver_driver="sandbox",
            sandbox_restore_seconds=restore_seconds,
            poll_seconds=0.25,
        )
        seed_sandbox(load_policy(settings.config))
        app = build(settings)
        app.notifier.add(PrintNotifier(write))
        write(f"# AWS sandbox: moto at {sandbox.endpoint}; job store: {settings.database_url}")

        bad = "prod-backup.bak db.m1.small"
        write(f"\n$ /rds-restore {bad}")
        try:
            app.service.submit(parse_restore_command(bad), "alice")
        except RequestError as exc:
            write(f"refused: {exc}")

        command = f"{DEMO_BACKUP_KEY} db.m5.large"
        write(f"\n$ /rds-restore {command}")
        submitted = app.service.submit(parse_restore_command(command), "alice", approved=True)
        job = submitted.job
        write(f"job {job.id}: {job.plan.s3_arn} -> {job.plan.target_instance_id} ({job.plan.instance_class})")
        for warning in job.plan.warnings:
            write(f"warning: {warning}")

        restore_began = time.monotonic()
        app.engine.run_until_idle(timeout_seconds=120)
        restore_took = time.monotonic() - restore_began
        finished = app.store.get_job(job.id)
        assert finished is not None
        write("\n$ /rds-status")
        write(render.status_table(app.store.list_jobs(), app.clock.now()))
        write(f"\n$ /rds-status {job.id}")
        write(render.timeline(finished))
        write(f"\nrestore took {restore_took:.1f} s (demo total {time.monotonic() - began:.1f} s)")
        app.close()
        return 0 if finished.status == JobStatus.SUCCEEDED else 1
    finally:
        sandbox.stop()
