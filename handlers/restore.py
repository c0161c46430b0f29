"""/rds-restore, its approval card and the Approve / Deny buttons.

Every listener acks with only pure work done (parse, policy), and hands the slow part (AWS, Slack Web API) to the
slow lane, so Slack gets its answer well within 3 seconds and never waits on AWS. What the slow part has to say goes
through the durable outbox (handlers/outbox.py); only the deny modal opens directly, since its trigger_id lasts 3 s.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot import blocks
from bot.approvals import Outcome
from bot.authz import Action, Forbidden
from bot.commands import JOB_VERBS, ChatCommands, Reply, job_ids_of
from bot.decision_notice import DecisionAnnouncer
from bot.domain import Job, RestoreRequest
from bot.expiry import tell_expired
from bot.slack_text import SlackText, mrkdwn
from handlers.requester_reply import RESPONSE_URL_VALIDITY, reply_to_requester
from handlers.slack_directory import email_lookup as profile_email
from handlers.slack_notifier import SlackNotifier, requester_key
from handlers.slow_lane import SlowLane
from handlers.workspace import OwnWorkspace

log = logging.getLogger(__name__)


def register_restore(
    bolt: App, commands: ChatCommands, notifier: SlackNotifier, lane: SlowLane, own: OwnWorkspace
) -> None:

    def email_lookup(client: WebClient, user_id: str) -> Callable[[], str | None]:
        return profile_email(client, user_id, own)

    def ack_restore(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        received = commands.clock.now()
        words = command.get("text", "").split()
        if words[:1] and words[0] in JOB_VERBS:
            verb = words[0]
            job_ids = job_ids_of(verb, words[1:])
            if len(job_ids) != 1:
                ack(response_type="ephemeral", text=SlackText.escape(f"usage: /rds-restore {JOB_VERBS[verb]}"))
                return
            lane.submit(f"{verb} by {command['user_id']}", job_verb, command, received, client)
            ack(response_type="ephemeral", text=mrkdwn("Checking whether you may {} {}…", verb, job_ids[0]))
            return
        checked = commands.check_restore(command.get("text", ""), command["user_id"])
        if isinstance(checked, Reply):
            ack(response_type="ephemeral", text=checked.text)
            return
        lane.submit(f"/rds-restore by {command['user_id']}", submit_restore, checked, command, received)
        backup = checked.backup.display(commands.policy.backups.default_bucket)
        ack(response_type="ephemeral", text=mrkdwn("Checking {} for a restore to {}…", backup, checked.destination))

    def submit_restore(checked: RestoreRequest, command: dict[str, Any], received: datetime) -> None:
        result = commands.submit_restore(checked, command["user_id"], command.get("text", ""))
        if isinstance(result, Reply):
            answer(command, received, result.text)
            return
        job = result.job
        if checked.dry_run:
            answer(
                command, received, mrkdwn("Dry run, nothing created. The plan:\n{}", blocks.card_summary(job)), job.id
            )
            return
        ask_approval(commands, notifier, job, command, received)

    def answer(command: dict[str, Any], received: datetime, text: SlackText, job_id: str | None = None) -> None:
        answer_requester(notifier, command, received, text, job_id)

    def job_verb(command: dict[str, Any], received: datetime, client: WebClient) -> None:
        """cancel [--rollback], delete, cleanup: the rules are in bot/commands.py."""
        user, words = command["user_id"], command.get("text", "").split()
        reply = commands.job_command(" ".join(words), user, email_lookup(client, user))
        if reply is None:
            return
        job_ids = job_ids_of(words[0], words[1:])
        job = commands.job(job_ids[0]) if len(job_ids) == 1 else None
        answer(command, received, reply.text, job.id if reply.ok and job is not None else None)
        if words[0] == "cancel" and reply.ok and job is not None and job.withdrawn:
            # Withdrawn before approval: the engine never ran it, so the card is brought up to date here, like a
            # decision; a kill before this is announced by the leader after the restart (bot/decision_notice.py).
            DecisionAnnouncer(commands.decisions.jobs, notifier).announce(job)

    bolt.command("/rds-restore")(ack_restore)

    def job_button(verb: str, act: Callable[[str, str, Callable[[], str | None]], Reply]) -> Callable[..., None]:
        """A button carrying a job id (Keep longer, Clean up): ack at once, act in the slow lane, answer privately."""

        def carry_out(body: dict[str, Any], client: WebClient) -> None:
            user, job_id = body["user"]["id"], body["actions"][0]["value"]
            reply = act(job_id, user, email_lookup(client, user))
            notifier.outbox.ephemeral(f"user:{user}", body["channel"]["id"], user, reply.text, job_id=job_id)

        def clicked(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
            ack()
            lane.submit(f"{verb} by {body['user']['id']}", carry_out, body, client)

        return clicked

    bolt.action(blocks.KEEP_ACTION)(job_button("keep", commands.keep_more))
    bolt.action(blocks.CLEANUP_ACTION)(job_button("cleanup", commands.clean_up))

    def approve(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        lane.submit(f"approve by {body['user']['id']}", _decide, commands, notifier, own, client, body, True, None)

    bolt.action(blocks.APPROVE_ACTION)(approve)

    def open_deny_reason(body: dict[str, Any], client: WebClient) -> None:
        user, job_id = body["user"]["id"], body["actions"][0]["value"]
        job = commands.job(job_id)
        try:
            commands.decisions.authorizer.check(Action.DENY, user, email_lookup(client, user), job)
        except Forbidden as refused:
            commands.decide(job_id, user, False, email_lookup(client, user))  # audited refusal, no change
            refusal = SlackText.escape(refused.reason)
            notifier.outbox.ephemeral(f"user:{user}", body["channel"]["id"], user, refusal, job_id=job_id)
            return
        client.views_open(
            trigger_id=body["trigger_id"],
            view=blocks.deny_reason_view(job_id, body["channel"]["id"], body["message"]["ts"]),
        )

    def deny_clicked(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()  # the modal opens from the lane: trigger_id stays valid for 3 s, ample for a short queue
        lane.submit(f"deny click by {body['user']['id']}", open_deny_reason, body, client)

    bolt.action(blocks.DENY_ACTION)(deny_clicked)

    def deny(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        job_id, channel_id, message_ts = body["view"]["private_metadata"].split("|")
        state = body["view"]["state"]["values"]
        reason = (state.get(blocks.DENY_REASON_BLOCK, {}).get(blocks.DENY_REASON_INPUT, {}).get("value") or "").strip()
        card = {
            "user": body["user"],
            "actions": [{"value": job_id}],
            "channel": {"id": channel_id},
            "message": {"ts": message_ts},
        }
        lane.submit(
            f"deny by {body['user']['id']}", _decide, commands, notifier, own, client, card, False, reason or None
        )

    bolt.view(blocks.DENY_REASON_VIEW)(deny)


def ask_approval(
    commands: ChatCommands, notifier: SlackNotifier, job: Job, command: dict[str, Any], received: datetime
) -> None:
    """Queue the job's approval card and tell the requester where it waits (a restore's or a backup's)."""
    channel = commands.policy.approvals.channel
    expires = commands.decisions.expires(job)
    # Queued, not posted: the outbox paces the channel and keeps the card through a Slack outage or a restart.
    url, url_expires = command.get("response_url"), received + RESPONSE_URL_VALIDITY
    notifier.post_card(job, channel, expires, url, url_expires)
    waiting = mrkdwn(
        "Request {} is waiting for an admin's approval in {} (expires {}).",
        job.id,
        channel,
        blocks.slack_date(expires),
    )
    answer_requester(notifier, command, received, waiting, job.id)


def answer_requester(
    notifier: SlackNotifier, command: dict[str, Any], received: datetime, text: SlackText, job_id: str | None = None
) -> None:
    """The requester's follow-up to a slash command, through the outbox: the response_url while valid, else a DM."""
    key = requester_key(job_id) if job_id else None
    reply_to_requester(notifier.outbox, command, received, text, key=key, job_id=job_id)


def _decide(
    commands: ChatCommands,
    notifier: SlackNotifier,
    own: OwnWorkspace,
    client: WebClient,
    body: dict[str, Any],
    approve: bool,
    reason: str | None,
) -> None:
    user, job_id = body["user"]["id"], body["actions"][0]["value"]
    channel = body["channel"]["id"]
    decision = commands.decide(job_id, user, approve, profile_email(client, user, own), reason)
    job: Job | None = decision.job
    decisions = commands.decisions
    if decision.outcome == Outcome.EXPIRED and job is not None:
        # The click came before the sweeper: the same expiry as the sweeper's, card and requester included.
        tell_expired(decisions.jobs, notifier, job, decisions.policy)
        notifier.outbox.ephemeral(f"user:{user}", channel, user, decision.message, job_id=job_id)
    elif decision.changed_job and job is not None:
        # The card update is queued by its ref and the decision's mark cleared after; a kill in between is
        # announced by the leader after the restart (bot/decision_notice.py).
        DecisionAnnouncer(decisions.jobs, notifier).announce(job)
    else:
        notifier.outbox.ephemeral(f"user:{user}", channel, user, decision.message, job_id=job_id)
