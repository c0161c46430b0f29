"""`--into` from the console on the embedded sandbox (moto server + the SQL Server emulator): restore, restore again
into the first instance as another database, refuse an existing database without --replace, and drop it with."""

from __future__ import annotations

from tests.scenario.test_console import rdsbot

SCRIPT = "\n".join(
    [
        "/rds-restore prod-backup.bak db.m5.large --name rdsbot-first",
        "as bob",
        "approve {job}",
        "wait {job}",
        "as alice",
        "/rds-restore prod-backup.bak --into rdsbot-first --db other",
        "as bob",
        "approve {job}",
        "wait {job}",
        "as alice",
        "/rds-restore prod-backup.bak --into rdsbot-first",  # prod_backup is there now
        "/rds-status",
        "/rds-restore prod-backup.bak --into rdsbot-first --replace",
        "as bob",
        "approve {job}",
        "wait {job}",
        "/rds-status {job}",
        "/rds-restore cancel {job} --rollback",  # an --into job created nothing: nothing of it is deleted
        "cleanup {job}",
    ]
)


def _after(out: str, prompt: str) -> str:
    """What the console said after `prompt` up to the next prompt."""
    tail = out.split(prompt, 1)[1]
    return tail.split("\nalice> ", 1)[0].split("\nbob> ", 1)[0]


def test_into_round_trip_refusal_and_replace_over_the_console():
    result = rdsbot("shell", "--restore-seconds", "0.5", stdin=SCRIPT, timeout=300)
    out = result.stdout
    assert result.returncode == 0, result.stderr
    # The round trip: both restores succeed, the second onto the first's instance, creating nothing.
    assert sum(line.endswith(" is succeeded") for line in out.splitlines()) == 3, out
    second = _after(out, "alice> /rds-restore prod-backup.bak --into rdsbot-first --db other")
    assert "Target: existing instance rdsbot-first (tag managed-by=rdsbot) / database other, new" in second
    assert "restored other on rdsbot-first" in out
    assert "rdsbot-first reused (tag managed-by=rdsbot)" in out and out.count("create_instance") == 0
    # Refused before any card, naming --replace; nothing recorded as a job.
    refused = _after(out, "alice> /rds-restore prod-backup.bak --into rdsbot-first\n")
    assert "Cannot restore: replace: database prod_backup already exists on rdsbot-first; add --replace" in refused
    assert "approve " not in refused
    # With --replace the card says so first, and rds_drop_database runs before the restore in the same stage.
    replace = _after(out, "alice> /rds-restore prod-backup.bak --into rdsbot-first --replace")
    card = replace.split("│ ", 1)[1]
    assert card.startswith("REPLACES database prod_backup on rdsbot-first: rds_drop_database drops it first")
    assert "dropped prod_backup with rds_drop_database (--replace); rds_restore_database task" in out
    assert out.count("it created nothing, and rdsbot deletes only instances its jobs created") == 2
    assert "Traceback" not in out + result.stderr
