"""Slack's escaping rule (doc "Formatting text for app surfaces", "Escaping text": `&`, `<`, `>` become `&amp;`,
`&lt;`, `&gt;`, nothing else is encoded), applied exactly once, over every rendering that carries request text.

Every field a person or an S3 listing controls is given mentions, a disguised link and an ampersand: the
rendering must show each escaped once (never raw, never `&amp;lt;`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from bot import audit_view, blocks, render
from bot.approvals import Outcome
from bot.authz import Authorizer
from bot.commands import HELP, ChatCommands
from bot.doctor import CheckResult, DoctorCommand, Report, Status
from bot.domain import (
    ApprovalDecision,
    AuditAction,
    AuditEvent,
    Job,
    JobStatus,
    Stage,
    StageOutputs,
    StageStatus,
)
from bot.drills import report
from bot.drills.commands import DrillCommands
from bot.drills.runs import BackupUsed, DrillOutcome, DrillRun, Timing
from bot.ports import CheckResult as DrillCheckResult
from bot.slack_text import SlackText, lines, mention, mrkdwn, plain
from config.policy_model import parse_policy
from tests.support.factories import BOT_NETWORK, make_plan
from tests.unit.fakes import FakeClock
from tests.unit.memory_store import MemoryStore
from tests.unit.test_decisions import ADMINS, FakeDirectory, World, no_email

HOSTILE = "<!channel> <https://evil.example|prod.bak> R&D <@U0BOSS>"
ESCAPED = "&lt;!channel&gt; &lt;https://evil.example|prod.bak&gt; R&amp;D &lt;@U0BOSS&gt;"
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
POLICY = parse_policy({"backups": {"default_bucket": "rdsbot-backups"}, "network": BOT_NETWORK})


def assert_escaped_once(text: str, shown: str = ESCAPED) -> None:
    assert isinstance(text, SlackText), f"not SlackText: {text!r}"
    assert shown in text, text
    for raw in ("<!channel>", "<https://evil", "<@U0BOSS>", "&amp;lt;", "&amp;amp;"):
        assert raw not in text, (raw, text)


# -- the rule itself ---------------------------------------------------------------------------------------------


def test_the_three_control_characters_are_escaped_and_nothing_else() -> None:
    assert SlackText.escape("<a & b> 'q' \"d\" *bold* é") == "&lt;a &amp; b&gt; 'q' \"d\" *bold* é"


def test_escaping_twice_changes_nothing_but_a_typed_amp_stays_as_typed() -> None:
    once = SlackText.escape("R&D")
    assert SlackText.escape(once) == "R&amp;D" and SlackText.escape(SlackText.escape(once)) is once
    # Someone who typed "&amp;" sees "&amp;": escaped once, as Slack shows it back.
    assert SlackText.escape("&amp;") == "&amp;amp;" and SlackText.escape("&amp;").plain() == "&amp;"


def test_a_template_escapes_its_fields_and_keeps_its_own_markup() -> None:
    text = mrkdwn("*{}* by {} in {!r}: {:>4}%", "<!here>", mention("U0BOB"), "a&b", 7)
    assert text == "*&lt;!here&gt;* by <@U0BOB> in 'a&amp;b':    7%"
    assert mrkdwn("{}", SlackText("&lt;x&gt;")) == "&lt;x&gt;"  # already escaped: kept


def test_join_and_concatenation_escape_plain_parts_only() -> None:
    joined = lines(["<a>", SlackText("<@U0BOB>")])
    assert joined == "&lt;a&gt;\n<@U0BOB>"
    assert SlackText("ok ") + "<b>" == "ok &lt;b&gt;" and "<c> " + SlackText("ok") == "&lt;c&gt; ok"
    assert isinstance("<c> " + SlackText("ok"), SlackText)


def test_a_mention_needs_a_member_id_anything_else_is_text() -> None:
    assert mention("U0ALICE") == "<@U0ALICE>" and mention("W0GRID1") == "<@W0GRID1>"
    assert mention("alice") == "alice" and mention("<!channel>") == "&lt;!channel&gt;"
    assert mention("U0X> <!channel") == "U0X&gt; &lt;!channel"


def test_clipping_never_leaves_half_an_entity() -> None:
    text = SlackText.escape("ab&cd")  # ab&amp;cd
    assert text.clip(4) == "ab" and text.clip(7) == "ab&amp;" and text.clip(100) is text


def test_the_console_sees_what_a_slack_reader_sees() -> None:
    assert plain(SlackText.escape(HOSTILE)) == HOSTILE
    assert plain("a &amp; b") == "a &amp; b"  # plain text (the console's own) is left as it is


# -- every rendering that takes request text ---------------------------------------------------------------------


def hostile_job(status: JobStatus = JobStatus.FAILED) -> Job:
    plan = make_plan(target=f"rdsbot-{HOSTILE}").model_copy(
        update={"backup_key": f"{HOSTILE}.bak", "database_name": HOSTILE, "warnings": (HOSTILE,)}
    )
    stages = [
        Stage(name="validate", status=StageStatus.SUCCEEDED, started_at=T0, finished_at=T0, detail=HOSTILE),
        Stage(name="network", status=StageStatus.FAILED, started_at=T0, finished_at=T0, error=HOSTILE),
    ]
    return Job(
        id="j1",
        requester=HOSTILE,
        plan=plan,
        status=status,
        created_at=T0,
        started_at=T0,
        finished_at=T0 + timedelta(minutes=3),
        error=HOSTILE,
        stages=stages,
        created_resources={"instance": HOSTILE},
        outputs=StageOutputs(endpoint=HOSTILE, console_url=f"https://console?a=1&b={HOSTILE}"),
    )


@pytest.mark.parametrize(
    "rendering",
    [
        lambda job: render.stage_line(job, job.stages[0]),
        lambda job: render.stage_line(job, job.stages[1]),
        lambda job: render.progress_line(job, 40),
        render.completion,
        lambda job: render.status_table([job], T0),
        render.timeline,
        blocks.card_summary,
        blocks.completion_text,
    ],
    ids=["stage", "stage-failed", "progress", "completion", "status-table", "timeline", "card", "completion-text"],
)
def test_every_job_rendering_escapes_request_fields_once(rendering: Any) -> None:
    text = rendering(hostile_job())
    # The status table cuts the requester to its column; the rest shows the whole field.
    assert_escaped_once(text, "&lt;!channel&gt;" if rendering is not render.completion else ESCAPED)


def test_the_card_and_the_decided_card_carry_only_escaped_fields() -> None:
    job = hostile_job(JobStatus.AWAITING_APPROVAL)
    card = blocks.approval_card(job, job.created_at + timedelta(hours=1))
    assert_escaped_once(card[1]["text"]["text"])
    decision = mrkdwn("⛔ Denied by {} at 10:00 UTC: {}", mention("U0BOB"), HOSTILE)
    decided = blocks.decided_card(job, decision)
    assert_escaped_once(decided[2]["elements"][0]["text"])
    assert decided[2]["elements"][0]["text"].startswith("⛔ Denied by <@U0BOB>")


def test_help_text_shows_its_placeholders_instead_of_slack_links() -> None:
    assert "&lt;backup&gt; &lt;instance-class&gt;" in HELP and "<backup>" not in HELP


def test_decision_messages_escape_the_job_id_typed_by_the_user() -> None:
    world = World()
    assert_escaped_once(world.decisions.decide(HOSTILE, "U0BOB", True, no_email).message)
    cancelled = world.decisions.cancel(HOSTILE, "U0BOB", no_email)
    assert cancelled.outcome == Outcome.UNKNOWN_JOB
    assert cancelled.message == f"No restore job '{ESCAPED}'; /rds-status lists the recent ones"


def test_status_escapes_the_job_id_the_timeline_and_a_deny_reason() -> None:
    store = MemoryStore()
    job = hostile_job(JobStatus.DENIED)
    store.jobs.add_job(job)
    store.approvals.add_approval(job.id, "U0BOB", ApprovalDecision.DENIED, HOSTILE, T0)
    commands = ChatCommands(
        policy=POLICY,
        clock=cast(Any, FakeClock()),
        service=cast(Any, None),
        decisions=cast(Any, None),
        jobs=store.jobs,
        approvals=store.approvals,
        audit_log=store.audit,
        status_notes=[lambda: f"🚨 drill nightly FAILED: {HOSTILE}"],
    )
    assert_escaped_once(commands.status(job.id).text)
    assert "denied by U0BOB" in commands.status(job.id).text
    assert_escaped_once(commands.status(HOSTILE).text)
    assert_escaped_once(commands.status("").text, f"FAILED: {ESCAPED}")


def test_audit_views_escape_what_was_typed() -> None:
    event = AuditEvent(
        at=T0, actor="U0BOB", action=AuditAction.JOB_DENIED, job_id="j1", detail={"reason": HOSTILE}, seq=1
    )
    assert_escaped_once(audit_view.job_trail("j1", [event]))
    assert_escaped_once(audit_view.decisions("2026-11-25", [event]))
    assert_escaped_once(audit_view.job_trail(HOSTILE, []))


def drill_run() -> DrillRun:
    return DrillRun(
        id="d1",
        drill_name="nightly",
        trigger=f"chat:{HOSTILE}",
        created_at=T0,
        rto_minutes=30,
        outcome=DrillOutcome.FAILED,
        error=HOSTILE,
        backup=BackupUsed(bucket="rdsbot-backups", keys=(f"{HOSTILE}.bak",), total_bytes=1),
        restore=Timing(started_at=T0, finished_at=T0),
        checks=[DrillCheckResult(label=HOSTILE, passed=False, detail=HOSTILE, seconds=1.0)],
        removed=[HOSTILE],
    )


def test_drill_reports_escape_backup_keys_check_details_and_errors() -> None:
    run = drill_run()
    assert_escaped_once(report.render_report(run, [run]))
    assert report.render_report(run, [run]).startswith("🚨 *DRILL FAILED* nightly")  # our bold stays bold
    assert_escaped_once(report.cleanup_text(run))


def test_drill_commands_escape_a_drill_name_typed_by_the_user() -> None:
    commands = DrillCommands(
        policy=POLICY,
        clock=cast(Any, FakeClock()),
        audit=cast(Any, None),
        runs=cast(Any, None),
        runner=cast(Any, None),
        authorizer=cast(Any, None),
        scheduled_next_run=lambda name: None,
    )
    assert_escaped_once(commands.history(HOSTILE).text)
    assert "/rds-drill run &lt;name&gt;" in commands.answer("help").text


def test_the_doctor_report_and_its_refusal_are_escaped() -> None:
    result = CheckResult(
        area="buckets", check="audit", status=Status.FAIL, subject=HOSTILE, detail=HOSTILE, fix=HOSTILE
    )
    doctor = DoctorCommand(Authorizer(FakeDirectory(ADMINS), POLICY),
                           lambda: Report((result,)))  # fmt: skip
    assert_escaped_once(doctor.answer(sorted(ADMINS)[0], no_email))
    assert doctor.answer(HOSTILE, no_email).startswith("Refused: only members of")
