"""`rdsbot audit verify` from outside, as an auditor would run it: a separate process on a SQLite store file whose
rows a forger changed with plain SQL (one event changed and rehashed, the next event relinked to it)."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.audit_chain import event_record
from bot.domain import AuditEvent
from bot.store import SqlStore
from tests.integration.store_fixtures import sqlite_url

DAY = "2024-11-25"
T0 = datetime(2024, 11, 25, 9, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]


def forger_hash(record: dict[str, Any]) -> str:
    """The forger's own SHA-256 of an event (independent of bot.audit_chain): the fields verify hashes."""
    fields = ("day", "seq", "at", "actor", "iam_user", "action", "job_id", "detail", "prev_hash")
    body = json.dumps({k: record[k] for k in fields}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def verify_cli(url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RDSBOT_DATABASE_URL": url, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "bot.entrypoints.cli", "audit", "verify", "--day", DAY]
    return subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=60, check=False)


def test_a_forged_and_relinked_event_fails_audit_verify_naming_the_event_after_it(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    with SqlStore(url) as store:
        for n, action in enumerate(("job.requested", "job.approved", "job.started")):
            store.audit.record_audit(
                [
                    AuditEvent(
                        at=T0 + timedelta(minutes=n),
                        actor="U0BOB",
                        action=action,
                        job_id="j1",
                        detail={"n": n},
                        iam_user="bob",
                    )
                ]
            )
        first, second, third = store.audit.audit_events("j1")
    intact = verify_cli(url)
    assert intact.returncode == 0 and "chain intact, 3 event(s)" in intact.stdout, intact.stdout + intact.stderr

    forged = {**event_record(second), "actor": "U0MALLORY"}
    forged_hash = forger_hash(forged)
    with sqlite3.connect(tmp_path / "rdsbot.db") as db:
        db.execute("UPDATE audit_events SET actor = ?, hash = ? WHERE id = ?", ("U0MALLORY", forged_hash, second.id))
        db.execute("UPDATE audit_events SET prev_hash = ? WHERE id = ?", (forged_hash, third.id))
    assert forger_hash(event_record(second)) == second.hash  # the forger hashes exactly as the store did

    broken = verify_cli(url)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert f"BROKEN {DAY}: chain broken at event {third.id}" in broken.stdout
    assert "altered" in broken.stdout and first.id is not None
