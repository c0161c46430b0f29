"""The `rdsbot` command refuses unsafe starts, as an operator would meet them: a real process, a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.scenario.test_console import CLEAN_ENV

ROOT = Path(__file__).resolve().parents[2]


def rdsbot(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.entrypoints.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**CLEAN_ENV, "PYTHONPATH": str(ROOT), **env},
        cwd=ROOT,
        check=False,
    )


def test_version_prints_the_installed_version():
    result = rdsbot("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"rdsbot {version('rdsbot')}"


@pytest.mark.parametrize("command", ["serve", "worker", "doctor"])
def test_production_commands_refuse_to_start_without_rdsbot_config(command: str):
    result = rdsbot(command)
    assert result.returncode != 0
    assert "RDSBOT_CONFIG is not set" in result.stderr and "Traceback" not in result.stderr


def test_the_sandbox_sql_driver_is_refused_against_a_non_loopback_endpoint(tmp_path: Path):
    result = rdsbot(
        "worker",
        "--once",
        RDSBOT_CONFIG=str(ROOT / "config" / "rdsbot.example.yaml"),
        RDSBOT_DATABASE_URL=f"sqlite:///{tmp_path / 'rdsbot.db'}",
        RDSBOT_SQLSERVER_DRIVER="sandbox",
        AWS_ENDPOINT_URL="https://rds.us-east-1.amazonaws.com",
    )
    assert result.returncode != 0
    assert "RDSBOT_SQLSERVER_DRIVER=sandbox is refused" in result.stderr
    assert "AWS_ENDPOINT_URL=https://rds.us-east-1.amazonaws.com" in result.stderr
    assert not os.path.exists(tmp_path / "rdsbot.db")  # refused before anything was opened


def test_the_console_on_real_aws_takes_no_identity_from_the_command_line():
    no_policy = rdsbot("shell", "--no-sandbox")
    assert no_policy.returncode != 0 and "RDSBOT_CONFIG is not set" in no_policy.stderr
    claimed = rdsbot("shell", "--no-sandbox", "--as", "U0ADMIN", RDSBOT_CONFIG=str(ROOT / "config/rdsbot.example.yaml"))
    assert claimed.returncode != 0 and "--as is for the sandbox only" in claimed.stderr
