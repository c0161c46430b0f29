"""`rdsbot serve` as a real process for scenario tests: a policy file, the environment (file SQLite store, the fake
Slack, the moto server the `aws` fixture started), the process on a port, and waits on what it writes to the store."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from aws.sandbox.moto_seed import SANDBOX_USERS, seed_sandbox
from bot.domain import Job
from bot.store import SqlStore
from config.policy_model import EXAMPLE_POLICY, load_policy
from tests.scenario.conftest import BOT_TOKEN
from tests.support.factories import BOT_NETWORK
from tests.support.fake_slack import FakeSlackApi
from tests.support.slack_requests import SIGNING_SECRET

ROOT = Path(__file__).resolve().parents[2]
ServiceEnv = tuple[dict[str, str], FakeSlackApi, SqlStore]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_policy(tmp_path: Path) -> Path:
    """The example policy without its scheduled drill (a drill would start its own restore), BOT_NETWORK sources."""
    data = yaml.safe_load(EXAMPLE_POLICY.read_text())
    data["drills"] = []
    data["network"] = {**data["network"], **BOT_NETWORK}
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@contextmanager
def service_environment(tmp_path: Path, restore_seconds: float) -> Iterator[ServiceEnv]:
    """What `rdsbot serve` needs in its environment, the fake Slack it talks to, and the job store it writes."""
    policy = write_policy(tmp_path)
    seed_sandbox(load_policy(policy))
    users = {slack_id: f"{name}@example.com" for name, (slack_id, _) in SANDBOX_USERS.items()}
    database_url = f"sqlite:///{tmp_path / 'rdsbot.db'}"
    with FakeSlackApi(users=users) as slack:
        for channel in {load_policy(policy).approvals.channel, *(d.report_channel for d in load_policy(policy).drills)}:
            slack.add_channel(channel)  # the channels the policy names exist, as in the workspace
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "RDSBOT_"))}
        env.update(
            PYTHONPATH=str(ROOT),
            RDSBOT_CONFIG=str(policy),
            RDSBOT_DATABASE_URL=database_url,
            RDSBOT_SLACK_API_URL=slack.base_url,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            RDSBOT_SQLSERVER_DRIVER="sandbox",
            RDSBOT_SANDBOX_RESTORE_SECONDS=str(restore_seconds),
            RDSBOT_POLL_SECONDS="0.2",
            RDSBOT_LOG_FORMAT="json",
        )
        store = SqlStore(database_url)
        try:
            yield env, slack, store
        finally:
            store.close()


@contextmanager
def serving(env: dict[str, str], port: int) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.entrypoints.cli", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_ready(process, f"http://127.0.0.1:{port}/readyz")
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def wait_ready(process: subprocess.Popen[str], url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"rdsbot serve exited with {process.returncode}: {read_all(process)}"
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} never answered 200")


def read_all(process: subprocess.Popen[str]) -> str:
    if process.poll() is None:
        process.kill()
    return process.stdout.read() if process.stdout is not None else ""


def wait_job(store: SqlStore, job_id: str, done: str, check: Callable[[Job], bool], timeout: float = 60.0) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = store.jobs.get_job(job_id)
        if job is not None and check(job):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never {done}: {store.jobs.get_job(job_id)}")


def wait_job_thread(store: SqlStore, job_id: str, timeout: float = 30.0) -> tuple[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        thread = store.chat_threads.find(job_id, "slack")
        if thread is not None:
            return thread.channel, thread.thread_ts
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never recorded its approval card")
