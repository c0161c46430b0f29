"""Production code paths never load the embedded stand-ins: importing what `rdsbot serve` and `rdsbot worker` run
loads no aws.sandbox module, no moto and none of its web stack (Flask, Werkzeug), so an install without the
`sandbox` extra works and ships no emulator."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENTRY_MODULES = [
    "bot.bootstrap",
    "handlers.server",
    "handlers.slack_app",
    "bot.workflow",
    "aws.native_restore",
    "bot.entrypoints.cli",
]

# Runs in a fresh interpreter: imports one module and prints each sandbox or moto module that import loaded, with
# the line that first imported it, as JSON.
PROBE = """
import importlib, json, sys, traceback

def forbidden(name):
    top = name.split(".")[0]
    return name == "aws.sandbox" or name.startswith("aws.sandbox.") or top in ("moto", "flask", "werkzeug")

class ImportSites:
    sites = {}

    def find_spec(self, name, path=None, target=None):
        if forbidden(name) and name not in self.sites:
            frames = [f for f in traceback.extract_stack()[:-1] if not f.filename.startswith("<")]
            self.sites[name] = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
        return None  # only watching: the regular finders still load the module

sys.meta_path.insert(0, ImportSites())
importlib.import_module(sys.argv[1])
print(json.dumps({name: ImportSites.sites.get(name, "?") for name in sorted(sys.modules) if forbidden(name)}))
"""


@pytest.mark.parametrize("module", ENTRY_MODULES)
def test_importing_a_production_entry_module_loads_no_sandbox_and_no_moto(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, module], cwd=ROOT, capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr
    pulled = json.loads(result.stdout)
    assert pulled == {}, f"importing {module} loaded " + ", ".join(f"{name} (from {at})" for name, at in pulled.items())
