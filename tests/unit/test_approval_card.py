"""What the approval card tells an approver, on both surfaces: the backup's age, the three KMS keys (each or
"none"), the requester's reason (escaped in Slack), times as Slack date tokens with a UTC fallback, and a
confirmation dialog on Approve only. The whole card is pinned in test_blocks_golden.py; these are the rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot import blocks, card_facts, render
from bot.domain import Job, JobStatus, StageOutputs
from bot.parser import parse_restore_command
from bot.service import RestoreService
from bot.slack_text import SlackText
from config.policy_model import parse_policy
from tests.support.factories import BOT_NETWORK, make_plan
from tests.unit.fakes import FakeAws, FakeClock
from tests.unit.memory_store import MemoryStore

REQUESTED = datetime(2024, 11, 25, 9, 0, tzinfo=UTC)
STORAGE_KEY = "arn:aws:kms:eu-west-1:111122223333:key/2222cccc-storage"
BACKUP_KEY = "arn:aws:kms:eu-west-1:111122223333:key/1111bbbb-backup"
BUCKET_KEYS = ("arn:aws:kms:eu-west-1:111122223333:key/0000aaaa-a", "arn:aws:kms:eu-west-1:111122223333:key/0000aaaa-b")


def job(*, modified: datetime | None = None, target: str = "rdsbot-sales", **plan: object) -> Job:
    return Job(
        id="j0000card",
        requester="U0ALICE",
        plan=make_plan(target).model_copy(update=plan),
        status=JobStatus.AWAITING_APPROVAL,
        created_at=REQUESTED,
        outputs=StageOutputs(backup_files=1, backup_bytes=2**30, backup_last_modified=modified),
    )


def line(lines: list[str], start: str) -> str:
    return next(text for text in lines if text.startswith(start))


def test_the_backup_age_is_counted_from_s3s_last_modified_to_the_request() -> None:
    modified = REQUESTED - timedelta(days=3, hours=4, minutes=59)
    age = line(card_facts.card_lines(job(modified=modified), card_facts.PLAIN), "Backup age:")
    assert age == "Backup age: 3 d 4 h at request (last modified 2024-11-22 04:01 UTC)"


def test_a_backup_without_a_last_modified_time_says_its_age_is_unknown() -> None:
    age = line(card_facts.card_lines(job(), card_facts.PLAIN), "Backup age:")
    assert age == "Backup age: unknown (S3 gave no last-modified time)"


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=59), "under a minute"),
        (timedelta(minutes=1), "1 min"),
        (timedelta(minutes=59, seconds=59), "59 min"),
        (timedelta(hours=1), "1 h 0 min"),
        (timedelta(hours=23, minutes=59), "23 h 59 min"),
        (timedelta(days=1), "1 d 0 h"),
        (timedelta(days=400, hours=5), "400 d 5 h"),
        (timedelta(minutes=-5), "under a minute"),  # a backup stamped after the request: clocks differ, not a bug
    ],
)
def test_an_age_is_said_to_the_precision_an_approver_needs(delta: timedelta, text: str) -> None:
    assert render.age(delta) == text


def test_all_three_kms_keys_are_shown_in_full() -> None:
    keyed = job(storage_kms_key_arn=STORAGE_KEY, backup_kms_key_arn=BACKUP_KEY, bucket_kms_key_arns=BUCKET_KEYS)
    keys = [text for text in card_facts.card_lines(keyed, card_facts.PLAIN) if text.startswith("KMS:")]
    assert keys == [
        f"KMS: Storage key {STORAGE_KEY}",
        f"KMS: Backup key (@kms_master_key_arn) {BACKUP_KEY}",
        f"KMS: Bucket SSE-KMS key {BUCKET_KEYS[0]}, {BUCKET_KEYS[1]}",
    ]


def test_each_missing_kms_key_is_shown_as_none_not_left_out() -> None:
    keys = [text for text in card_facts.card_lines(job(), card_facts.PLAIN) if text.startswith("KMS:")]
    assert keys == [
        "KMS: Storage key none (RDS uses the account's aws/rds key)",
        "KMS: Backup key (@kms_master_key_arn) none (the .bak is not encrypted client-side)",
        "KMS: Bucket SSE-KMS key none (the backup is not stored under SSE-KMS)",
    ]


def test_the_reason_is_escaped_for_slack_and_shown_as_typed_in_the_console() -> None:
    typed = "INC-9 <!channel> <https://evil.example|the runbook> & more"
    asked = job(reason=typed)
    assert line(card_facts.card_lines(asked, card_facts.PLAIN), "Reason:") == f"Reason: {typed}"
    slack = line(blocks.card_summary(asked).splitlines(), "Reason:")
    assert slack == "Reason: INC-9 &lt;!channel&gt; &lt;https://evil.example|the runbook&gt; &amp; more"
    assert "<" not in slack and ">" not in slack  # no mention, no link: Slack parses only what < > enclose


def test_no_reason_is_said_plainly() -> None:
    assert line(card_facts.card_lines(job(), card_facts.PLAIN), "Reason:") == "Reason: none given"


def test_escaping_touches_only_ampersand_and_angle_brackets_and_ampersand_first() -> None:
    assert SlackText.escape("a&b <c> 'd' \"e\" *f* _g_") == "a&amp;b &lt;c&gt; 'd' \"e\" *f* _g_"
    assert SlackText.escape("&lt;") == "&amp;lt;"  # typed literally, shown literally


def test_slack_times_are_date_tokens_with_a_utc_fallback_whatever_the_zone_given() -> None:
    in_berlin = datetime(2024, 11, 25, 11, 0, tzinfo=timezone(timedelta(hours=1)))  # 10:00 UTC
    assert blocks.slack_date(in_berlin) == "<!date^1732528800^{date_short_pretty} {time}|2024-11-25 10:00 UTC>"


def test_the_card_says_when_it_was_asked_and_when_it_lapses_as_date_tokens() -> None:
    card = blocks.approval_card(job(), REQUESTED + timedelta(hours=1))
    [context] = [b for b in card if b["type"] == "context"]
    assert context["elements"][0]["text"] == (
        "Requested <!date^1732525200^{date_short_pretty} {time}|2024-11-25 09:00 UTC>; "
        "expires <!date^1732528800^{date_short_pretty} {time}|2024-11-25 10:00 UTC> if nobody decides."
    )


def test_the_console_writes_the_same_deadline_with_dates() -> None:
    text = card_facts.deadline_line(job(), REQUESTED + timedelta(hours=1), card_facts.PLAIN)
    assert text == "Requested 2024-11-25 09:00 UTC; expires 2024-11-25 10:00 UTC if nobody decides."


def test_the_console_card_carries_every_fact_of_the_slack_card() -> None:
    modified = REQUESTED - timedelta(hours=5)
    asked = job(modified=modified, reason="INC-9", backup_kms_key_arn=BACKUP_KEY)
    slack, plain = blocks.card_summary(asked).splitlines(), card_facts.card_lines(asked, card_facts.PLAIN)
    assert [text.split(":")[0] for text in slack] == [text.split(":")[0] for text in plain]
    differing = {(s, p) for s, p in zip(slack, plain, strict=True) if s != p}
    assert differing == {  # only the styling differs: a mention and a date token against an id and UTC text
        ("Requester: <@U0ALICE>", "Requester: U0ALICE"),
        (
            "Backup age: 5 h 0 min at request (last modified "
            "<!date^1732507200^{date_short_pretty} {time}|2024-11-25 04:00 UTC>)",
            "Backup age: 5 h 0 min at request (last modified 2024-11-25 04:00 UTC)",
        ),
    }


def buttons(card: list[blocks.Block]) -> dict[str, blocks.Block]:
    [actions] = [b for b in card if b["type"] == "actions"]
    return {element["action_id"]: element for element in actions["elements"]}


def test_approve_asks_for_confirmation_naming_what_it_creates_and_that_it_bills() -> None:
    confirm = buttons(blocks.approval_card(job(multi_az=True), REQUESTED))[blocks.APPROVE_ACTION]["confirm"]
    assert confirm["title"] == {"type": "plain_text", "text": "Approve restore j0000card?"}
    assert confirm["text"]["text"] == (
        "This creates rdsbot-sales (db.m5.large, gp3 100 GiB, Multi-AZ) in eu-west-1 and restores sales onto it. "
        "RDS bills for the instance from the moment it exists until someone deletes it."
    )
    assert (confirm["confirm"]["text"], confirm["deny"]["text"]) == ("Approve and create", "Not yet")


def test_deny_has_no_confirmation_it_opens_a_modal_of_its_own() -> None:
    assert "confirm" not in buttons(blocks.approval_card(job(), REQUESTED))[blocks.DENY_ACTION]


def test_the_confirmation_stays_within_slacks_limits_for_the_longest_names() -> None:
    # Slack doc "Confirmation dialog object": every part plain_text; title <= 100, text <= 300, buttons <= 30.
    longest = job(target="rdsbot-" + "x" * 56, database_name="d" * 128, iops=256000, storage_type="io2")
    confirm = buttons(blocks.approval_card(longest, REQUESTED))[blocks.APPROVE_ACTION]["confirm"]
    limits = {"title": 100, "text": 300, "confirm": 30, "deny": 30}
    assert {part: confirm[part]["type"] for part in limits} == dict.fromkeys(limits, "plain_text")
    assert all(len(confirm[part]["text"]) <= most for part, most in limits.items())
    assert confirm["text"]["text"].endswith("…")  # cut, and visibly so


def test_an_expired_card_keeps_the_facts_and_loses_the_buttons() -> None:
    deadline = REQUESTED + timedelta(hours=1)
    card = blocks.decided_card(job(), blocks.expired_text(deadline))
    assert all(b["type"] != "actions" for b in card)
    assert card[-1]["elements"][0]["text"] == (
        "⌛ Expired <!date^1732528800^{date_short_pretty} {time}|2024-11-25 10:00 UTC> with no decision; "
        "nothing was created."
    )


def test_the_backups_last_modified_time_comes_from_the_preflights_lookup_onto_the_job() -> None:
    aws, store, clock = FakeAws(), MemoryStore(), FakeClock()
    aws.last_modified = clock.now() - timedelta(days=2)
    policy = parse_policy({"backups": {"default_bucket": "rdsbot-backups"}, "network": BOT_NETWORK})
    submitted = RestoreService(store.jobs, store.audit, aws.gateways, policy, clock).submit(
        parse_restore_command("prod-backup.bak db.m5.large"), "U0ALICE"
    )
    stored = store.jobs.get_job(submitted.job.id)
    assert stored is not None and stored.outputs.backup_last_modified == aws.last_modified
    assert "Backup age: 2 d 0 h at request" in blocks.card_summary(stored)
