"""`rdsbot shell` on the embedded sandbox restores the seeded chain (chain/full.bak, chain/diff.bak, chain/log1.trn,
chain/log2.trn) with the same flags as Slack: the card lists every step, progress says which step, the job ends
with the database open."""

from __future__ import annotations

from tests.scenario.test_console import rdsbot


def test_console_restores_a_chain_to_a_point_in_time_step_by_step():
    script = "\n".join(
        [
            "/rds-restore chain/full.bak db.m5.large --diff chain/diff.bak --log chain/log* "
            "--stop-at 2026-11-26T03:57:09Z",
            "as bob",
            "approve {job}",
            "wait {job}",
            "/rds-status {job}",
        ]
    )
    result = rdsbot("shell", "--restore-seconds", "0.3", stdin=script)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    card = out[out.index("┌ approval card") :]
    for step in (
        "│ Step 1 of 5: full s3://rdsbot-backups/chain/full.bak NORECOVERY",
        "│ Step 2 of 5: differential s3://rdsbot-backups/chain/diff.bak NORECOVERY",
        "│ Step 3 of 5: log s3://rdsbot-backups/chain/log1.trn NORECOVERY",
        "│ Step 4 of 5: log s3://rdsbot-backups/chain/log2.trn NORECOVERY, stop at 2026-11-26 03:57:09 UTC",
        "│ Step 5 of 5: rds_finish_restore",
    ):
        assert step in card, step
    assert "% (step 3 of 5)" in out  # progress says which statement RDS is on
    assert "5 steps done" in out and "full is open" in out
    assert "is succeeded" in out and "Traceback" not in out + result.stderr


def test_console_refuses_a_stop_time_without_a_log_naming_the_flag():
    result = rdsbot(
        "shell", stdin="/rds-restore chain/full.bak db.m5.large --stop-at 2026-11-26T03:57:09Z\n/rds-status\n"
    )
    assert "stop_at: --stop-at stops a transaction log restore, and no --log was given" in result.stdout
    assert "no restore jobs yet" in result.stdout
    assert result.returncode == 0 and "Traceback" not in result.stdout + result.stderr
