"""A drill's messages in Slack (handlers/drill.py SlackDrillReporter): the cleanup follow-up is posted once, also
when a runner restarted before saving the run done tells it again (bot/drills/runner.py)."""

from __future__ import annotations

from bot.slack_text import SlackText
from handlers.drill import SlackDrillReporter
from tests.unit.fakes import FakeClock
from tests.unit.test_slack_outbox import ScriptedClient, outbox


def test_a_cleanup_told_twice_is_posted_once_in_the_reports_thread():
    client = ScriptedClient()
    box = outbox(client, FakeClock())
    reporter = SlackDrillReporter(box)
    reporter.report("#rds-drills", "d1", SlackText("✅ Drill nightly passed"), failed=False)
    reporter.follow_up("#rds-drills", "d1", SlackText("cleaned up: removed instance rdsbot-drill-1"))
    reporter.follow_up("#rds-drills", "d1", SlackText("cleaned up: removed instance rdsbot-drill-1"))  # restarted
    reporter.follow_up("#rds-drills", "d2", SlackText("cleaned up: removed instance rdsbot-drill-2"))  # another run
    for _ in range(4):
        box.step()
    assert sorted(client.texts()) == [  # each once; runs go out side by side, each in its own order
        "cleaned up: removed instance rdsbot-drill-1",
        "cleaned up: removed instance rdsbot-drill-2",
        "✅ Drill nightly passed",
    ]
    assert box.pending == 0
