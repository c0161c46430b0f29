"""Golden vector for the keep reminder: the Block Kit posted in a job's thread before its instance is deleted,
written out by hand (the button's action id and value route the click back to the bot), and the card's keep line."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.blocks import card_summary, keep_reminder
from bot.domain import Job, JobStatus
from tests.support.factories import make_plan

DELETE_AT = datetime(2026, 11, 26, 8, 12, 30, tzinfo=UTC)  # 1795680750


def job(keep_seconds: int | None = 120, final_snapshot: bool | None = True) -> Job:
    plan = make_plan("rdsbot-sales-j678a588d").model_copy(
        update={"keep_seconds": keep_seconds, "final_snapshot": final_snapshot}
    )
    created = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    return Job(id="j678a588d", requester="U0ALICE", plan=plan, status=JobStatus.SUCCEEDED, created_at=created)


def test_the_reminder_blocks_are_exactly_these() -> None:
    assert keep_reminder(job(), DELETE_AT, "24h") == [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "⏰ *rdsbot-sales-j678a588d* is deleted "
                "<!date^1795680750^{date_short_pretty} {time}|2026-11-26 08:12 UTC> (2026-11-26 08:12 UTC), "
                "when its keep window ends. <@U0ALICE> or an admin can keep it longer, or delete it now with "
                "`/rds-restore delete j678a588d`.",
            },
        },
        {
            "type": "actions",
            "block_id": "keep:j678a588d",
            "elements": [
                {
                    "type": "button",
                    "action_id": "rds_instance_keep",
                    "value": "j678a588d",
                    "text": {"type": "plain_text", "text": "Keep 24h more"},
                }
            ],
        },
    ]


def test_the_card_says_how_long_the_instance_is_kept_and_whether_a_snapshot_is_taken() -> None:
    lines = card_summary(job()).splitlines()
    assert "Keep: 2m after the restore completes, then deleted after a final snapshot" in lines
    no_snapshot = card_summary(job(keep_seconds=7 * 86400, final_snapshot=False)).splitlines()
    assert "Keep: 7d after the restore completes, then deleted with no final snapshot" in no_snapshot
    assert not [line for line in card_summary(job(keep_seconds=None)).splitlines() if line.startswith("Keep")]
