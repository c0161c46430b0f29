"""The real rdsbot Slack app for bench/ack_latency.py: `--app bench.rdsbot_app:make_wsgi_app`.

It runs on the embedded sandbox (moto on loopback, a temporary SQLite store, the sandbox SQL Server), so each
/rds-restore it acknowledges also does its real slow part afterwards: preflight against moto, the job row, the card.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aws.sandbox.moto_seed import SANDBOX_ENV, seed_sandbox
from bot.bootstrap import build, build_slack_app
from bot.domain import Job, JobStatus
from config.policy_model import load_policy
from config.settings import load_settings
from handlers.server import wsgi_app
from tests.support.factories import make_plan


def _moto_in_its_own_process() -> None:
    """AWS is remote in production: give moto its own process so it does not share this one's GIL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-c", f"from moto.server import main; main(['-p', '{port}'])"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    atexit.register(server.terminate)
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(100):
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):
            break
        time.sleep(0.1)
    os.environ.update({**SANDBOX_ENV, "AWS_ENDPOINT_URL": endpoint})


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
STATUS_JOBS = 40  # /rds-status lists the running jobs and the last 10: a store with some history to read


def _app(jobs: int = 0) -> WsgiApp:
    _moto_in_its_own_process()
    workdir = Path(tempfile.mkdtemp(prefix="rdsbot-bench-"))
    settings = load_settings(
        database_url=f"sqlite:///{workdir / 'rdsbot.db'}", sqlserver_driver="sandbox", log_level="WARNING"
    )
    seed_sandbox(load_policy(settings.config))
    app = build(settings)
    started = datetime.now(UTC)
    for n in range(jobs):
        status = JobStatus.RUNNING if n % 4 == 0 else JobStatus.SUCCEEDED
        plan = make_plan(target=f"rdsbot-bench-{n}")
        app.store.jobs.add_job(Job(id=f"jbench{n:03d}", requester="U0ALICE", plan=plan, status=status,
                                   created_at=started - timedelta(minutes=n)))  # fmt: skip
    return wsgi_app(build_slack_app(app).bolt)


def make_wsgi_app() -> WsgiApp:
    return _app()


def make_status_wsgi_app() -> WsgiApp:
    """The same app with a job history, for `--command /rds-status --text ""`."""
    return _app(STATUS_JOBS)
