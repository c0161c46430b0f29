"""A request withdrawn before approval (`/rds-restore cancel <job>`) loses its Approve / Deny buttons even if the
process dies right after the withdrawal is saved: the compare-and-set to cancelled carries the mark, the leader's
DecisionAnnouncer updates the card once after the restart (who withdrew it, when), and the engine, whose own
cancels share the status, never takes a withdrawal for a finish of its own."""

from __future__ import annotations

import pytest

from bot.decision_notice import DecisionAnnouncer
from bot.workflow import Engine
from handlers.slack_notifier import decision_ref
from tests.unit.fakes import FakeAws, RecordingNotifier
from tests.unit.test_decision_announced import Chat, DiesBeforeAnnouncing, SweptDuringWrites, marked
from tests.unit.test_decisions import ADMIN, REQUESTER, World, no_email
from tests.unit.test_workflow import SimulatedCrash


@pytest.mark.parametrize("who", [REQUESTER, ADMIN], ids=["requester", "admin"])
def test_a_withdrawal_killed_before_its_card_update_is_announced_once_after_the_restart(who: str) -> None:
    world = World()
    job = world.request()
    chat = Chat(world, job)
    withdrawal = world.decisions.cancel(job.id, who, no_email)
    assert withdrawal.job is not None and withdrawal.job.withdrawn and marked(world, job)  # in the same write
    with pytest.raises(SimulatedCrash):
        DecisionAnnouncer(world.store.jobs, DiesBeforeAnnouncing()).announce(withdrawal.job)
    assert chat.card_updates() == [] and marked(world, job)

    leader = DecisionAnnouncer(world.store.jobs, chat.restart())
    assert [leader.sweep(), leader.sweep(), leader.sweep()] == [0, 1, 0]  # from the second sweep, once
    [update] = chat.card_updates()
    assert update.ref == decision_ref(job.id) and not marked(world, job)
    text = update.payload.text
    assert text.startswith(f"🛑 Withdrawn by <@{who}> <!date^") and text.endswith("; nothing was created"), text
    buttons = [e for b in update.payload.blocks or [] for e in b.get("elements", []) if e.get("type") == "button"]
    assert buttons == []


def test_a_sweep_at_any_moment_of_a_withdrawal_never_shows_the_card_withdrawn_by_nobody() -> None:
    # The same race a decision had: the status saved with its mark, then the row naming who withdrew it in a
    # second write; a leader sweeping between them put a bare "🛑 Withdrawn" on the card. One write now.
    world = World()
    job = world.request()
    swept = SweptDuringWrites(world)
    world.decisions.approvals = swept
    world.decisions.cancel(job.id, REQUESTER, no_email)
    swept.sweep_twice()  # the leader's next sweeps announce the withdrawal the click left marked
    assert len(swept.shown) == 1 and swept.shown[0].startswith(f"🛑 Withdrawn by <@{REQUESTER}>"), swept.shown


def test_a_withdrawal_announced_at_once_is_not_announced_again() -> None:
    world = World()
    job = world.request()
    chat = Chat(world, job)
    withdrawal = world.decisions.cancel(job.id, REQUESTER, no_email)
    assert withdrawal.job is not None
    DecisionAnnouncer(world.store.jobs, chat.notifier).announce(withdrawal.job)
    leader = DecisionAnnouncer(world.store.jobs, chat.restart())
    assert [leader.sweep(), leader.sweep()] == [0, 0] and len(chat.card_updates()) == 1


def test_the_engine_leaves_a_marked_withdrawal_to_the_decision_sweep_and_keeps_its_own_cancels() -> None:
    """A withdrawal is cancelled like a job the engine stopped, but nothing ran: no final message, no metric."""
    world = World()
    withdrawn, stopped = world.request(), world.request()
    world.decisions.cancel(withdrawn.id, REQUESTER, no_email)
    world.decisions.decide(stopped.id, ADMIN, True, no_email)
    world.decisions.cancel(stopped.id, REQUESTER, no_email)  # approved, then cancelled: the engine's to stop
    told = RecordingNotifier()
    Engine(world.store.jobs, FakeAws().gateways, world.policy, told, world.clock, 5).tick()
    assert told.messages == ["finished cancelled"]  # the stopped one only
    assert marked(world, withdrawn) and not marked(world, stopped)
    decided = world.store.jobs.finished_unannounced(frozenset(), withdrawals=True)
    assert [j.id for j in decided] == [withdrawn.id]
