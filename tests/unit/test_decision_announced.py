"""An approver's decision survives a crash: Approve and Deny save the new status with the mark `finish_unannounced`
in one compare-and-set, and a process killed before the card update was queued has it queued once after the
restart by the leader's DecisionAnnouncer; a crash after the queueing queues nothing twice. A click that finds the
request lapsed is marked the same way and told by the expiry sweeper."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from bot.chat_outbox import MessageKind, OutboxMessage
from bot.decision_notice import DecisionAnnouncer, decided_text
from bot.domain import Approval, EngineBookkeeping, Job, JobStatus, StageOutputs
from bot.expiry import ExpirySweeper, tell_expired
from bot.into_target import IntoTarget
from config.policy_model import parse_policy
from handlers.slack_notifier import SlackNotifier, decision_ref
from tests.support.factories import BOT_NETWORK, make_plan
from tests.unit.fakes import MemoryChatThreads
from tests.unit.memory_store import InMemorySlackOutbox
from tests.unit.test_decisions import ADMIN, OTHER_ADMIN, REQUESTER, World, no_email
from tests.unit.test_finish_announced import DiesBeforeClearing  # dies after the queueing, before the clearing
from tests.unit.test_slack_outbox import ScriptedClient, outbox
from tests.unit.test_workflow import SimulatedCrash

SOON = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class DiesBeforeAnnouncing:
    """The process dies as the saved decision reaches chat: nothing is queued."""

    def request_decided(self, job: Job) -> None:
        raise SimulatedCrash(job.id)


class Chat:
    """A Slack outbox (in memory) with the job's card already in the channel, and a notifier over it."""

    def __init__(self, world: World, job: Job) -> None:
        self.world = world
        self.box = outbox(ScriptedClient(), world.clock)
        self.notifier = self.restart()
        self.notifier.post_card(job, "#rds-approvals", SOON, None, None)
        self.box.step()

    def restart(self) -> SlackNotifier:
        """A new process on the same outbox table and store."""
        return SlackNotifier(self.box, MemoryChatThreads(), self.world.store.approvals)

    def rows(self) -> dict[int, OutboxMessage]:
        """Every write queued so far, by outbox id."""
        repository = self.box.repository
        assert isinstance(repository, InMemorySlackOutbox)
        return repository.rows

    def card_updates(self) -> list[OutboxMessage]:
        return [m for m in self.rows().values() if m.kind == MessageKind.CARD_UPDATE]


class SweptDuringWrites:
    """The store's approvals, with the leader's decision sweep run twice as each of its writes begins: what the
    card would show if the engine loop swept just then (a clicking thread descheduled on a loaded machine)."""

    def __init__(self, world: World) -> None:
        self.inner = world.store.approvals
        self.leader = DecisionAnnouncer(world.store.jobs, self)
        self.shown: list[str] = []

    def request_decided(self, job: Job) -> None:
        """The leader's chat: the decision line it would put on the card."""
        self.shown.append(str(decided_text(job, self.inner.approvals(job.id))))

    def sweep_twice(self) -> None:
        self.leader.sweep()
        self.leader.sweep()

    def add_approval(self, *args: object) -> Approval:
        self.sweep_twice()
        return self.inner.add_approval(*args)  # type: ignore[arg-type]

    def decide(self, *args: object, **kwargs: object) -> Approval | None:
        self.sweep_twice()
        return self.inner.decide(*args, **kwargs)  # type: ignore[arg-type]

    def approvals(self, job_id: str) -> list[Approval]:
        return self.inner.approvals(job_id)


@pytest.mark.parametrize("approve", [True, False], ids=["approve", "deny"])
def test_a_sweep_at_any_moment_of_a_click_never_shows_the_card_decided_by_nobody(approve: bool) -> None:
    # CI saw a card updated to a bare "✅ Approved": the leader swept between the status write and the approver's
    # row, and the click's own update (same ref) was then never queued. The row now comes in the status's write.
    world = World()
    job = world.request()
    swept = SweptDuringWrites(world)
    world.decisions.approvals = swept
    world.decisions.decide(job.id, ADMIN, approve, no_email, None if approve else "change freeze")
    swept.sweep_twice()  # the leader's next sweeps announce the decision the click left marked
    verb = "✅ Approved" if approve else "⛔ Denied"
    assert len(swept.shown) == 1 and swept.shown[0].startswith(f"{verb} by <@{ADMIN}>"), swept.shown


def marked(world: World, job: Job) -> bool:
    return world.store.jobs.by_id[job.id].engine.finish_unannounced


@pytest.mark.parametrize("approve", [True, False], ids=["approve", "deny"])
def test_a_decision_killed_before_its_card_update_is_announced_once_after_the_restart(approve: bool) -> None:
    world = World()
    job = world.request()
    chat = Chat(world, job)
    decision = world.decisions.decide(job.id, ADMIN, approve, no_email, None if approve else "<!channel> not today")
    assert decision.job is not None and marked(world, job)  # saved with the decision, in the same write
    with pytest.raises(SimulatedCrash):
        DecisionAnnouncer(world.store.jobs, DiesBeforeAnnouncing()).announce(decision.job)
    assert chat.card_updates() == [] and marked(world, job)

    leader = DecisionAnnouncer(world.store.jobs, chat.restart())
    assert [leader.sweep(), leader.sweep(), leader.sweep()] == [0, 1, 0]  # from the second sweep, once
    updates = chat.card_updates()
    assert len(updates) == 1 and updates[0].ref == decision_ref(job.id) and not marked(world, job)
    text = updates[0].payload.text
    if approve:
        assert text.startswith(f"✅ Approved by <@{ADMIN}> <!date^")
    else:  # the reason typed by the approver, escaped once: no mention of the whole channel
        assert text.startswith(f"⛔ Denied by <@{ADMIN}> <!date^") and text.endswith(": &lt;!channel&gt; not today")
    buttons = [e for b in updates[0].payload.blocks or [] for e in b.get("elements", []) if e.get("type") == "button"]
    assert buttons == []  # the decided card has no Approve / Deny left


def test_a_decision_queued_before_a_crash_is_not_queued_again() -> None:
    world = World()
    world.store.jobs = DiesBeforeClearing(world.store.audit)
    world.decisions.jobs = world.store.jobs
    world.store.approvals.jobs = world.store.jobs
    job = world.request()
    chat = Chat(world, job)
    decision = world.decisions.decide(job.id, ADMIN, False, no_email, "wrong backup")
    assert decision.job is not None
    with pytest.raises(SimulatedCrash):
        DecisionAnnouncer(world.store.jobs, chat.notifier).announce(decision.job)
    assert len(chat.card_updates()) == 1 and marked(world, job)
    queued = sorted(chat.rows())

    leader = DecisionAnnouncer(world.store.jobs, chat.restart())
    leader.sweep()
    leader.sweep()
    assert sorted(chat.rows()) == queued and not marked(world, job)
    for _ in range(5):
        chat.box.step()
    assert chat.box.repository.depth() == 0


def test_a_decision_announced_at_once_is_not_announced_again() -> None:
    world = World()
    job = world.request()
    chat = Chat(world, job)
    decision = world.decisions.decide(job.id, ADMIN, True, no_email)
    assert decision.job is not None
    DecisionAnnouncer(world.store.jobs, chat.notifier).announce(decision.job)
    assert not marked(world, job)
    leader = DecisionAnnouncer(world.store.jobs, chat.restart())
    assert [leader.sweep(), leader.sweep()] == [0, 0]
    assert len(chat.card_updates()) == 1


def test_a_sweep_racing_a_live_click_leaves_the_announcement_to_the_click() -> None:
    """The leader's sweep may run between the compare-and-set and the clicker's announcement: it only notes the
    mark, so the card is written once, by the clicking process, with its approver."""
    world = World()
    job = world.request()
    chat = Chat(world, job)
    leader = DecisionAnnouncer(world.store.jobs, chat.restart())
    decision = world.decisions.decide(job.id, ADMIN, True, no_email)
    assert decision.job is not None
    assert leader.sweep() == 0 and chat.card_updates() == []
    DecisionAnnouncer(world.store.jobs, chat.notifier).announce(decision.job)
    assert leader.sweep() == 0
    assert [m.payload.text.startswith(f"✅ Approved by <@{ADMIN}>") for m in chat.card_updates()] == [True]


def test_a_refused_or_ignored_click_marks_nothing() -> None:
    world = World()
    job = world.request()
    world.decisions.decide(job.id, REQUESTER, True, no_email)  # the requester is no admin: refused
    assert world.status(job) == JobStatus.AWAITING_APPROVAL and not marked(world, job)
    world.decisions.decide(job.id, ADMIN, False, no_email)
    world.store.jobs.update_outputs(job.id, StageOutputs(), EngineBookkeeping(finish_unannounced=False))
    world.decisions.decide(job.id, OTHER_ADMIN, True, no_email)  # already denied: ignored
    assert world.status(job) == JobStatus.DENIED and not marked(world, job)


def two_approver_request() -> tuple[World, Job, Chat]:
    """An --into --replace request under approvals.replace_approvers 2, its card in the channel."""
    policy = parse_policy(
        {"backups": {"default_bucket": "rdsbot-backups"}, "network": BOT_NETWORK, "approvals": {"replace_approvers": 2}}
    )
    world = World(policy)
    plan = make_plan().model_copy(update={"into": IntoTarget(replace=True, allowed_by="tag managed-by=rdsbot")})
    job = Job(
        id="j-two", requester=REQUESTER, plan=plan, status=JobStatus.AWAITING_APPROVAL, created_at=world.clock.now()
    )
    world.store.jobs.add_job(job)
    return world, job, Chat(world, job)


def test_two_approvers_the_final_approval_is_announced_with_both_after_a_crash() -> None:
    """approvals.replace_approvers 2: the first approval changes no status and marks nothing (its only message is
    the clicker's own answer); the second is the decision, guaranteed like any other, naming both admins."""
    world, job, chat = two_approver_request()
    world.decisions.decide(job.id, ADMIN, True, no_email)
    assert world.status(job) == JobStatus.AWAITING_APPROVAL and not marked(world, job)
    final = world.decisions.decide(job.id, OTHER_ADMIN, True, no_email)
    assert final.job is not None and marked(world, job)
    with pytest.raises(SimulatedCrash):
        DecisionAnnouncer(world.store.jobs, DiesBeforeAnnouncing()).announce(final.job)
    leader = DecisionAnnouncer(world.store.jobs, chat.restart())
    leader.sweep()
    leader.sweep()
    [update] = chat.card_updates()
    assert update.payload.text.startswith(f"✅ Approved by <@{ADMIN}> and <@{OTHER_ADMIN}> <!date^")


def test_two_approvers_the_finished_card_still_names_both_in_the_decided_cards_words() -> None:
    """The finished card replaces the decided one: it keeps the same decision line (both admins, the same date
    token), joined to the outcome, instead of naming only the last approver."""
    world, job, chat = two_approver_request()
    world.decisions.decide(job.id, ADMIN, True, no_email)
    world.clock.current += timedelta(minutes=3)
    final = world.decisions.decide(job.id, OTHER_ADMIN, True, no_email)
    assert final.job is not None
    chat.notifier.request_decided(final.job)
    [decided] = (m.payload.text for m in chat.card_updates())
    finished = final.job.model_copy(
        update={"status": JobStatus.SUCCEEDED, "finished_at": world.clock.now() + timedelta(hours=1)}
    )
    chat.notifier.job_finished(finished)
    ended = chat.card_updates()[-1].payload.text  # folded into the unsent update, or queued after it
    assert ended.startswith(f"{decided} · ✅ Restored "), ended
    assert decided.startswith(f"✅ Approved by <@{ADMIN}> and <@{OTHER_ADMIN}> <!date^")


def test_a_running_job_whose_approval_was_never_announced_is_announced_and_a_finished_one_is_left_to_its_finish():
    world = World()
    running, done = world.request(), world.request()
    chat = Chat(world, running)
    Chat(world, done)
    for job in (running, done):
        world.decisions.decide(job.id, ADMIN, True, no_email)
    world.store.jobs.transition(running.id, JobStatus.QUEUED, JobStatus.RUNNING)  # the engine started it
    world.store.jobs.transition(done.id, JobStatus.QUEUED, JobStatus.SUCCEEDED)  # its finish carries the decision
    leader = DecisionAnnouncer(world.store.jobs, chat.restart())
    leader.sweep()
    assert leader.sweep() == 1
    assert [m.job_id for m in chat.card_updates()] == [running.id]


def test_a_click_that_finds_the_request_lapsed_is_told_once_by_the_sweeper_after_a_crash() -> None:
    world = World()
    job = world.request()
    world.clock.current += timedelta(hours=2)
    chat = Chat(world, job)
    decision = world.decisions.decide(job.id, ADMIN, True, no_email)
    assert decision.job is not None and world.status(job) == JobStatus.EXPIRED and marked(world, job)
    # killed before tell_expired: the sweeper, on the leader, tells it once
    sweeper = ExpirySweeper(world.store.jobs, chat.restart(), world.policy, world.clock)
    sweeper.sweep()
    sweeper.sweep()
    tell_expired(world.store.jobs, chat.restart(), decision.job, world.policy)  # a late repeat queues nothing
    kinds = Counter(m.kind for m in chat.rows().values())
    assert kinds[MessageKind.CARD_UPDATE] == 1 and kinds[MessageKind.REQUESTER] == 1 and not marked(world, job)
