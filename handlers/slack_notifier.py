"""Engine progress into the request's Slack thread: one living progress message, one final message mentioning the
requester, and the approval card brought up to date; all through the durable outbox (handlers/outbox.py).

Every write of one job shares the outbox key `job:<id>`, so the card, its updates and the thread go out in order;
the requester's own answers use `requester:<id>`, so a card that cannot be posted never holds them back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from bot import blocks, progress_message, render
from bot.chat_outbox import Delivery, MessageKind, NewMessage, OutboxMessage, OutboxPayload, SlackMethod
from bot.decision_notice import decided_text
from bot.domain import Approval, Job, JobStatus, Stage
from bot.lifecycle.model import InstanceLifecycle
from bot.ports import ApprovalRepository, ChatThreads
from bot.slack_text import SlackText, mrkdwn
from handlers.outbox import SlackOutbox

# This surface's key in ChatThreads.
SURFACE = "slack"
_LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)  # a response_url "expired" at once: the answer goes as a DM


def job_key(job_id: str) -> str:
    return f"job:{job_id}"


def requester_key(job_id: str) -> str:
    return f"requester:{job_id}"


def card_ref(job_id: str) -> str:
    return f"card:{job_id}"


def progress_ref(job_id: str) -> str:
    return f"progress:{job_id}"


def finish_ref(job_id: str, part: str) -> str:
    """The ref of one write of a job's end (`final`, `progress`, `card`; an expiry's `card`, `requester`):
    announced again after a crash, each is queued once (the outbox does not queue a ref twice)."""
    return f"finish-{part}:{job_id}"


def decision_ref(job_id: str) -> str:
    """The ref of an approval's or a denial's card update: queued once, however often it is announced."""
    return f"decision-card:{job_id}"


def keep_reminder_ref(job_id: str, delete_at: datetime) -> str:
    """One keep reminder per deadline: reminded again after a crash or a failed save, it is not queued twice; a
    deadline moved by "keep longer" is a new one, reminded anew."""
    return f"keep-reminder:{job_id}:{int(delete_at.timestamp())}"


class SlackNotifier:
    def __init__(
        self,
        outbox: SlackOutbox,
        threads: ChatThreads,
        approvals: ApprovalRepository | None = None,
        edit_seconds: float = 5.0,
        interim_edit_budget: int = 0,
        monotonic: Callable[[], float] = time.monotonic,
        extend_by: str = "24h",
    ) -> None:
        """`interim_edit_budget`: edits of the sent progress message before its final one (each one Web API call
        more than the 6 a restore costs); at most one every `edit_seconds`. `extend_by`: the keep reminder button's
        label, how much longer one click keeps the instance."""
        self.extend_by = extend_by
        self.outbox = outbox
        self.threads = threads
        self.approvals = approvals
        self.edit_seconds = edit_seconds
        self.interim_edit_budget = interim_edit_budget
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._edits: dict[str, tuple[int, float, str]] = {}  # job id -> (interim edits queued, when, last text)
        # Jobs whose progress message went out with no interim edit allowed: until the finish, a tick has nothing
        # to do for them, not even a read of the outbox (a restart forgets, and reads once more).
        self._settled: set[str] = set()
        # Called before a decision's card update is queued (the sandbox's SIGKILL hook; none in production).
        self.before_decision: list[Callable[[Job], None]] = []
        outbox.on_delivered.append(self._delivered)
        outbox.on_parked.append(self._parked)

    # -- the card ------------------------------------------------------------------------------------------------

    def post_card(
        self, job: Job, channel: str, expires: datetime, response_url: str | None, response_expires: datetime | None
    ) -> None:
        """Queue the approval card; the requester's response_url rides along, to tell them if it cannot be posted."""
        payload = OutboxPayload(
            text=mrkdwn("RDS {} request {} needs approval", job.kind.value, job.id),
            blocks=blocks.approval_card(job, expires),
            user=job.requester,
            response_url=response_url,
            response_url_expires_at=response_expires,
        )
        card = NewMessage(
            key=job_key(job.id),
            method=SlackMethod.POST,
            kind=MessageKind.CARD,
            channel=channel,
            payload=payload,
            job_id=job.id,
            ref=card_ref(job.id),
        )
        self.outbox.put(card)

    def card_decided(self, job: Job, channel: str, decision: SlackText, ref: str | None = None) -> None:
        """The card once decided (approved, denied, expired, withdrawn): the facts and the decision, no buttons."""
        self.outbox.update(
            job_key(job.id),
            MessageKind.CARD_UPDATE,
            channel,
            card_ref(job.id),
            decision,
            blocks.decided_card(job, decision),
            job_id=job.id,
            ref=ref,
        )

    def request_decided(self, job: Job) -> None:
        """An approval or a denial: the card loses its buttons and shows who decided (bot/decision_notice.py).
        Queued once by its ref, also when the leader announces it again after a crash."""
        channel = self.card_channel(job)
        if channel is None:
            return
        for hook in self.before_decision:
            hook(job)
        self.card_decided(job, channel, decided_text(job, self._approvals(job)), decision_ref(job.id))

    def thread_of(self, job: Job) -> tuple[str, str] | None:
        """Where the job's card was posted (channel id, ts), once Slack has it."""
        ref = self.threads.find(job.id, SURFACE)
        return (ref.channel, ref.thread_ts) if ref else None

    def card_channel(self, job: Job) -> str | None:
        """The channel the job's card was queued for, if it was (drills have none) and could be posted."""
        card = self.outbox.repository.by_ref(card_ref(job.id))
        return None if card is None or card.state == Delivery.DEAD else card.channel

    def _delivered(self, message: OutboxMessage, ts: str | None, channel: str | None) -> None:
        if message.kind == MessageKind.CARD and message.job_id and ts and channel:
            self.threads.save(message.job_id, SURFACE, channel, ts)

    def _parked(self, message: OutboxMessage, error: str) -> None:
        """A card Slack refused: nobody can approve the job, so its requester must hear it."""
        payload = message.payload
        if message.kind != MessageKind.CARD or not message.job_id or not payload.user:
            return
        text = mrkdwn(
            "Your request {} could not be shown to the approvers: Slack answered {} for {}. Nobody can approve it "
            "there; ask an admin to fix approvals.channel in the policy (or invite the bot), then request again.",
            message.job_id,
            error,
            message.channel,
        )
        self.outbox.respond(
            requester_key(message.job_id),
            payload.response_url or "",
            payload.response_url_expires_at or _LONG_AGO,
            payload.user,
            text,
            job_id=message.job_id,
        )

    # -- the Notifier port ---------------------------------------------------------------------------------------

    def stage_changed(self, job: Job, stage: Stage) -> None:
        self._living(job)

    def progress(self, job: Job, percent: int) -> None:
        self._living(job)

    def job_finished(self, job: Job) -> None:
        """The progress message's last edit, the final message, the card's outcome: each queued once, also when the
        engine announces the finish again after a crash (by their refs; an edit that folded into an unsent write
        of the same message may go once more after such a crash, with the same content)."""
        channel = self.card_channel(job)
        if channel is None:
            return
        key, progress = job_key(job.id), progress_ref(job.id)
        if self.outbox.repository.by_ref(progress) is not None:
            text = progress_message.progress_text(job)
            ref = finish_ref(job.id, "progress")
            self.outbox.update(key, MessageKind.PROGRESS, channel, progress, text, job_id=job.id, ref=ref)
        final = progress_message.final_text(job)
        # A failed or cancelled restore that made something offers to delete it (an --into job made nothing).
        failed = job.status in (JobStatus.FAILED, JobStatus.CANCELLED)
        offer = blocks.cleanup_offer(job, final) if failed and job.created_resources and job.plan.into is None else None
        refs = {"job_id": job.id, "thread_ref": card_ref(job.id), "ref": finish_ref(job.id, "final")}
        self.outbox.post(key, MessageKind.FINAL, channel, final, offer, **refs)
        outcome = progress_message.card_outcome(job)
        approvals = self._approvals(job)
        if approvals:  # the decided card's own line, so the end keeps every approver it named (two-person rule)
            outcome = decided_text(job, approvals) + SlackText(" · ") + outcome
        self.card_decided(job, channel, outcome, finish_ref(job.id, "card"))
        with self._lock:
            self._edits.pop(job.id, None)
            self._settled.discard(job.id)

    def _living(self, job: Job) -> None:
        if job.id in self._settled:
            return
        channel = self.card_channel(job)
        if channel is None:
            return
        text = progress_message.progress_text(job)
        ref = progress_ref(job.id)
        posted = self.outbox.repository.by_ref(ref)
        if posted is None:
            key, thread = job_key(job.id), card_ref(job.id)
            self.outbox.post(key, MessageKind.PROGRESS, channel, text, job_id=job.id, ref=ref, thread_ref=thread)
            with self._lock:
                self._edits[job.id] = (0, self.monotonic(), text)
            return
        if self.interim_edit_budget == 0 and (posted.state != Delivery.PENDING or posted.attempts):
            # Sent (or on its way), and no edit of it may be queued before the final one: nothing left to revise,
            # so no write transaction per progress tick only to hear no. The finish edits it (job_finished).
            with self._lock:
                self._settled.add(job.id)
            return
        if self.outbox.repository.revise_unsent(ref, text):
            return  # not sent yet: it will go out with this content, at no extra call
        with self._lock:
            edits, at, last = self._edits.get(job.id, (0, float("-inf"), ""))
            now = self.monotonic()
            if text == last or edits >= self.interim_edit_budget or now - at < self.edit_seconds:
                return
            self._edits[job.id] = (edits + 1, now, text)
        self.outbox.update(job_key(job.id), MessageKind.PROGRESS, channel, ref, text, job_id=job.id)

    def request_expired(self, job: Job, deadline: datetime) -> None:
        """Nobody decided in time: the card loses its buttons, and the requester hears it in a direct message
        (a user id as `channel` posts in the app's DM with that user; Slack doc "chat.postMessage", channel)."""
        channel = self.card_channel(job)
        if channel is not None:
            self.card_decided(job, channel, blocks.expired_text(deadline), finish_ref(job.id, "card"))
        notice = mrkdwn(
            "⌛ Your {} request {} ({}) expired {} with nobody deciding; nothing was created. Ask again with /rds-{}.",
            job.kind.value,
            job.id,
            job.plan.target_instance_id,
            blocks.slack_date(deadline),
            job.kind.value,
        )
        ref = finish_ref(job.id, "requester")
        self.outbox.respond(requester_key(job.id), "", _LONG_AGO, job.requester, notice, job_id=job.id, ref=ref)

    def keep_reminder(self, job: Job, lifecycle: InstanceLifecycle) -> None:
        channel = self.card_channel(job)
        if channel is None or lifecycle.delete_at is None:
            return
        text = render.keep_reminder(job, lifecycle.delete_at)
        reminder = blocks.keep_reminder(job, lifecycle.delete_at, self.extend_by)
        refs = {"job_id": job.id, "thread_ref": card_ref(job.id), "ref": keep_reminder_ref(job.id, lifecycle.delete_at)}
        self.outbox.post(job_key(job.id), MessageKind.LIFECYCLE, channel, text, reminder, **refs)

    def lifecycle_changed(self, job: Job, lifecycle: InstanceLifecycle, text: str) -> None:
        channel = self.card_channel(job)
        if channel is None:
            return
        line = mrkdwn("[{}] {}", job.id, SlackText(text))  # the lifecycle's own lines: ids and mentions it made
        key, thread = job_key(job.id), card_ref(job.id)
        self.outbox.post(key, MessageKind.LIFECYCLE, channel, line, job_id=job.id, thread_ref=thread)

    def _approvals(self, job: Job) -> list[Approval]:
        return self.approvals.approvals(job.id) if self.approvals else []
