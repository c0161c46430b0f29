"""The core is provably pure: each core module, imported alone in a fresh interpreter, loads no persistence,
AWS SDK, Slack, scheduler, adapter or wiring module, directly or through anything it imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

CORE = [
    "bot.domain",
    "bot.parser",
    "bot.policy",
    "bot.instance_classes",
    "bot.kms_keys",
    "bot.names",
    "bot.errors",
    "bot.stages",
    "bot.workflow",
    "bot.service",
    "bot.authz",
    "bot.approvals",
    "bot.commands",
    "bot.render",
    "bot.blocks",
    "bot.ports",
    "bot.audit_chain",
    "bot.doctor",
    "bot.chat_outbox",
    "bot.progress_message",
]
# Top-level packages the core may not load, and modules of our own it may not load (adapters and the root).
FORBIDDEN_PACKAGES = ["sqlalchemy", "alembic", "boto3", "botocore", "slack_bolt", "slack_sdk", "apscheduler", "moto"]
FORBIDDEN_OWN = ["aws", "handlers", "bot.bootstrap", "bot.store", "bot.entrypoints"]

PROBE = """
import json, sys
packages, own = set(sys.argv[2].split(",")), sys.argv[3].split(",")
__import__(sys.argv[1])
def forbidden(name):
    return name.split(".")[0] in packages or any(name == o or name.startswith(o + ".") for o in own)
print(json.dumps(sorted(m for m in sys.modules if forbidden(m))))
"""


def loaded_forbidden(module: str, packages: list[str] = FORBIDDEN_PACKAGES) -> list[str]:
    args = [sys.executable, "-c", PROBE, module, ",".join(packages), ",".join(FORBIDDEN_OWN)]
    probe = subprocess.run(args, capture_output=True, text=True, check=True)
    found: list[str] = json.loads(probe.stdout)
    return found


@pytest.mark.parametrize("module", CORE)
def test_a_core_module_loads_nothing_impure(module: str) -> None:
    found = loaded_forbidden(module)
    assert found == [], f"{module} pulls in {', '.join(found[:8])}"


def test_the_probe_sees_a_forbidden_import_when_there_is_one() -> None:
    # The composition root wires everything: if the probe passed it, it would pass anything.
    assert "sqlalchemy" in loaded_forbidden("bot.bootstrap")
    assert {"bot.store", "aws.instances"} <= set(loaded_forbidden("bot.bootstrap"))


def test_only_entrypoints_import_the_composition_root() -> None:
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    importers = []
    for package in ("bot", "handlers", "aws", "config"):
        for path in sorted((root / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                names += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
                if any(name == "bot.bootstrap" or name.startswith("bot.bootstrap.") for name in names):
                    importers.append(str(path.relative_to(root)))
    outside = [p for p in importers if not p.startswith(("bot/entrypoints/", "bot/bootstrap/"))]
    assert any(p.startswith("bot/entrypoints/") for p in importers) and outside == [], outside
