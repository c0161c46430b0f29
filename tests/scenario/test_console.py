"""`rdsbot shell` and `rdsbot demo` as a newcomer runs them: real processes, the embedded sandbox, stdin scripts."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import IO

import pytest

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SLACK_", "RDSBOT_"))}


def rdsbot(*args: str, stdin: str = "", timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.entrypoints.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=CLEAN_ENV,
        check=False,
    )


def test_console_applies_the_same_approval_rules_as_slack():
    script = "\n".join(
        [
            "/rds-restore prod-backup.bak db.m5.large",
            "approve {job}",  # alice requested it: two-person rule
            "as carol",
            "approve {job}",  # carol is not an admin
            "deny {job} not mine to decide",
            "/rds-status {job}",
            "as bob",
            "approve {job}",
            "approve {job}",  # a second click changes nothing
            "wait {job}",
            "/rds-status {job}",
        ]
    )
    result = rdsbot("shell", "--restore-seconds", "0.5", stdin=script)
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "you requested this restore; another admin must approve it (two-person rule)" in out
    assert out.count("only members of rds-admins") == 2
    assert "awaiting_approval" in out  # carol's clicks changed nothing
    assert "card " in out and "approved by bob" in out
    assert "already queued" in out or "already running" in out or "already succeeded" in out
    assert "is succeeded" in out and "approved by U0BOB" in out
    assert "Traceback" not in out + result.stderr


def test_console_deletes_an_instance_for_its_requester_only():
    script = "\n".join(
        [
            "/rds-restore prod-backup.bak db.m5.large --keep 2m",
            "as bob",
            "approve {job}",
            "wait {job}",
            "as carol",
            "delete {job}",  # neither the requester nor an admin
            "keep {job}",
            "as alice",
            "delete {job}",  # the requester
            "wait {job}",
            "/rds-status {job}",
        ]
    )
    result = rdsbot("shell", "--restore-seconds", "0.5", stdin=script)
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "Keep: 2m after the restore completes, then deleted after a final snapshot" in out  # the card
    assert "only the requester or members of rds-admins may delete instance" in out
    assert "only the requester or members of rds-admins may keep instance" in out
    assert "deleting rdsbot-prod-backup-" in out and "after a final snapshot rdsbot-final-" in out
    assert "✅ deleted: instance rdsbot-prod-backup-" in out
    assert "instance goes: deleted " in out
    assert "Traceback" not in out + result.stderr


def test_console_refuses_bad_input_with_the_field_and_changes_nothing():
    result = rdsbot("shell", stdin="/rds-restore prod-backup.bak db.m5.large --region ap-south-1\n/rds-status\n")
    assert "region: ap-south-1 is not allowed by policy" in result.stdout
    assert "no restore jobs yet" in result.stdout
    assert result.returncode == 0 and "Traceback" not in result.stdout + result.stderr


def test_the_console_card_carries_what_the_slack_card_does_as_text():
    result = rdsbot("shell", stdin='/rds-restore prod-backup.bak db.m5.large --reason "INC-7 <!here> & co"\n')
    card = result.stdout[result.stdout.index("┌ approval card") :]
    for fact in (
        "│ Requester: U0ALICE",
        "│ Reason: INC-7 <!here> & co",  # as typed: a terminal has no mentions to fire
        "│ Backup age: under a minute at request (last modified ",
        "│ KMS: Storage key none (RDS uses the account's aws/rds key)",
        "│ KMS: Backup key (@kms_master_key_arn) none",
        "│ KMS: Bucket SSE-KMS key none",
        "│ approving means: This creates rdsbot-prod-backup-",
    ):
        assert fact in card, fact
    assert re.search(r"│ Requested \d{4}-\d\d-\d\d \d\d:\d\d UTC; expires \d{4}-\d\d-\d\d \d\d:\d\d UTC", card)
    assert result.returncode == 0 and "Traceback" not in result.stdout + result.stderr


def test_demo_plays_the_whole_story_and_exits_zero():
    result = rdsbot("demo", "--restore-seconds", "0.5")
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    for step in (
        "previous-generation class",
        "approval card in #rds-approvals",
        # The replies, not the demo's echoed script comments (one of which also says "two-person rule").
        "(only you can see this) you requested this restore; another admin must approve it (two-person rule)",
        "(only you can see this) only members of rds-admins may approve",
        "approved by bob",
        "✓ restore_wait",
        "SQL Server audit logs (.zip",
        "succeeded",
        "restore took",
    ):
        assert step in out, step


def test_console_runs_a_drill_for_admins_only_and_cleans_up():
    script = "\n".join(
        [
            "as carol",
            "/rds-drill run prod-nightly",  # not an admin
            "as bob",
            "/rds-drill run prod-nightly",
            "wait",
        ]
    )
    shell = Shell("shell", "--restore-seconds", "0.5")
    try:
        shell.send(script + "\n")
        # The drill reports from the scheduler thread: read until its cleanup line, or fail at the deadline.
        shell.wait_for_line(lambda line: "cleaned up" in line or "Traceback" in line, timeout=120)
        shell.send("/rds-drill history prod-nightly\nquit\n", close=True)
        assert shell.wait(timeout=60) == 0
    finally:
        shell.kill()
    seen, err = shell.stdout(), shell.stderr()
    assert "only members of rds-admins may run drill" in seen
    assert "Drill prod-nightly passed" in seen and "time-to-restore" in seen
    assert "cleaned up" in seen and "removed instance rdsbot-drill-" in seen
    assert "PASSED" in seen and "Traceback" not in seen + err


class Shell:
    """`rdsbot shell` as a child process whose output is read by threads, so every wait has a deadline and a full
    stderr pipe can never stall the child."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.entrypoints.cli", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=CLEAN_ENV,
        )
        self._lines: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._changed = threading.Condition()
        self._readers = [
            threading.Thread(target=self._drain, args=(name, getattr(self.process, name)), daemon=True)
            for name in self._lines
        ]
        for reader in self._readers:
            reader.start()

    def _drain(self, name: str, pipe: IO[str]) -> None:
        for line in pipe:
            with self._changed:
                self._lines[name].append(line)
                self._changed.notify_all()

    def send(self, text: str, close: bool = False) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text)
        self.process.stdin.flush()
        if close:
            self.process.stdin.close()

    def wait_for_line(self, matches: Callable[[str], bool], timeout: float) -> None:
        with self._changed:
            found = self._changed.wait_for(lambda: any(map(matches, self._lines["stdout"])), timeout=timeout)
        assert found, f"no such line within {timeout} s; output so far:\n{self.stdout()}"

    def wait(self, timeout: float) -> int:
        code = self.process.wait(timeout=timeout)
        for reader in self._readers:  # the pipes close with the child: the readers end promptly
            reader.join(timeout=10)
            assert not reader.is_alive(), "the child exited but its output never ended"
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stdout(self) -> str:
        with self._changed:
            return "".join(self._lines["stdout"])

    def stderr(self) -> str:
        with self._changed:
            return "".join(self._lines["stderr"])


@pytest.mark.parametrize("command", ["demo", "shell"])
def test_without_the_sandbox_extra_the_console_says_how_to_install_it(command):
    # moto made unimportable in the child, as on an install without the `sandbox` extra.
    run_without_moto = (
        "import sys; sys.modules['moto'] = None; from bot.entrypoints.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", run_without_moto, command],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        env=CLEAN_ENV,
        check=False,
    )
    [line] = result.stderr.strip().splitlines()  # one line, no traceback
    assert line.startswith("rdsbot: the embedded sandbox needs moto (")
    assert line.endswith("; install it with: pip install 'rdsbot[sandbox]'")
    assert result.returncode == 2


def test_console_doctor_passes_on_the_sandbox_with_simulation_and_slack_as_warnings():
    result = rdsbot("shell", stdin="/rds-doctor\nas carol\n/rds-doctor\n")
    out = result.stdout
    assert result.returncode == 0, result.stderr
    report = out.split("alice> /rds-doctor", 1)[1].split("carol>", 1)[0]
    assert not [line for line in report.splitlines() if line.startswith("FAIL")]
    assert " 0 FAIL" in report
    assert "warn  identity  permissions" in report and "could not simulate" in report
    assert "warn  slack     Slack checks: SLACK_BOT_TOKEN: skipped" in report
    assert "ok    approvers admin group: IAM group rds-admins" in report
    assert (
        "warn  rds       engine version: sqlserver-se 15.00 on db.m6i.large in us-east-1 (drills prod-nightly): "
        "RDS lists none: the instance gets RDS's default 15.00 version" in report
    )
    assert "Refused: only members of rds-admins may run doctor" in out.split("carol> /rds-doctor", 1)[1]
    assert "Traceback" not in out + result.stderr
