"""The core (parsing, policy, the stage machine, rendering, approvals) imports neither Slack nor boto3."""

from __future__ import annotations

import subprocess
import sys

CORE = [
    "bot.domain",
    "bot.parser",
    "bot.policy",
    "bot.instance_classes",
    "bot.names",
    "bot.stages",
    "bot.workflow",
    "bot.service",
    "bot.render",
    "bot.blocks",
    "bot.authz",
    "bot.approvals",
    "bot.store",
    "bot.ports",
]


def test_importing_the_core_loads_no_slack_or_aws_sdk():
    probe = (
        "import sys\n"
        f"for name in {CORE!r}: __import__(name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'slack_bolt', 'slack_sdk')))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"
