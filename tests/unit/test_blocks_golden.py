"""Golden vector for the approval card: the Block Kit Slack receives for one fixed request, written out in full.

Slack renders these dicts and the buttons' action ids route the clicks back to the bot, so the whole structure is
a contract; it is written here by hand, not rebuilt with bot.blocks.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.blocks import approval_card, decided_card
from bot.domain import Job, JobStatus, StageOutputs
from tests.support.factories import make_plan

# Updated on purpose (issue 13): the reason (escaped), the backup's age, all three KMS keys each or "none", date
# tokens for the request and expiry times, and a confirmation dialog on Approve.
SUMMARY = (
    "Requester: <@U0ALICE>\n"
    "Reason: INC-7 &lt;!channel&gt; &amp; the sales numbers\n"
    "Backup: s3://acme-backups/sales/2024-11-24.bak (3 file(s), 1.5 GiB)\n"
    "Backup age: 1 d 2 h at request (last modified "
    "<!date^1732429800^{date_short_pretty} {time}|2024-11-24 06:30 UTC>)\n"
    "Target: restore-sales / database sales\n"
    "Class: db.m5.large, 4 cores x 2 threads; storage io1 500 GiB, 3000 IOPS; Multi-AZ yes\n"
    "Region: eu-west-1; engine sqlserver-se 15.00 (license-included)\n"
    "Plan: validate → network → restore_role → option_group → instance → restore_start → restore_wait → finalize\n"
    "KMS: Storage key none (RDS uses the account's aws/rds key)\n"
    "KMS: Backup key (@kms_master_key_arn) none (the .bak is not encrypted client-side)\n"
    "KMS: Bucket SSE-KMS key none (the backup is not stored under SSE-KMS)\n"
    "⚠ backup is 3 days old"
)
DEADLINE = (
    "Requested <!date^1732525200^{date_short_pretty} {time}|2024-11-25 09:00 UTC>; "
    "expires <!date^1732528800^{date_short_pretty} {time}|2024-11-25 10:00 UTC> if nobody decides."
)
CONFIRM = (
    "This creates restore-sales (db.m5.large, io1 500 GiB, 3000 IOPS, Multi-AZ) in eu-west-1 and restores sales "
    "onto it. RDS bills for the instance from the moment it exists until someone deletes it."
)
CARD = [
    {"type": "header", "text": {"type": "plain_text", "text": "RDS restore request j678a588d"}},
    {"type": "section", "text": {"type": "mrkdwn", "text": SUMMARY}},
    {"type": "context", "elements": [{"type": "mrkdwn", "text": DEADLINE}]},
    {
        "type": "actions",
        "block_id": "decide:j678a588d",
        "elements": [
            {
                "type": "button",
                "action_id": "rds_restore_approve",
                "style": "primary",
                "value": "j678a588d",
                "text": {"type": "plain_text", "text": "Approve"},
                "confirm": {
                    "title": {"type": "plain_text", "text": "Approve restore j678a588d?"},
                    "text": {"type": "plain_text", "text": CONFIRM},
                    "confirm": {"type": "plain_text", "text": "Approve and create"},
                    "deny": {"type": "plain_text", "text": "Not yet"},
                    "style": "primary",
                },
            },
            {
                "type": "button",
                "action_id": "rds_restore_deny",
                "style": "danger",
                "value": "j678a588d",
                "text": {"type": "plain_text", "text": "Deny"},
            },
        ],
    },
]


def fixed_job() -> Job:
    plan = make_plan().model_copy(
        update={
            "storage_type": "io1",
            "allocated_storage_gb": 500,
            "iops": 3000,
            "cores": 4,
            "threads_per_core": 2,
            "multi_az": True,
            "reason": "INC-7 <!channel> & the sales numbers",
        }
    )
    return Job(
        id="j678a588d",
        requester="U0ALICE",
        plan=plan,
        status=JobStatus.AWAITING_APPROVAL,
        created_at=datetime(2024, 11, 25, 9, 0, tzinfo=UTC),
        outputs=StageOutputs(
            backup_files=3,
            backup_bytes=3 * 512 * 1024**2,
            backup_last_modified=datetime(2024, 11, 24, 6, 30, tzinfo=UTC),
        ),
    )


def test_the_approval_card_for_a_fixed_request_is_pinned_block_for_block() -> None:
    assert approval_card(fixed_job(), datetime(2024, 11, 25, 10, 0, tzinfo=UTC)) == CARD


def test_the_decided_card_keeps_the_facts_and_drops_the_buttons() -> None:
    decided = decided_card(fixed_job(), "Approved by <@U0BOB>")
    assert decided == [*CARD[:2], {"type": "context", "elements": [{"type": "mrkdwn", "text": "Approved by <@U0BOB>"}]}]
