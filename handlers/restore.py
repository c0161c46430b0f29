"""/rds-restore, its approval card and the Approve / Deny buttons.

Every listener acks with only pure work done (parse, policy), and hands the slow part (AWS, Slack Web API) to the
slow lane, so Slack gets its answer well within 3 seconds and never waits on AWS. What the slow part has to say goes
through the durable outbox (handlers/outbox.py); only the deny modal opens directly, since its trigger_id lasts 3 s.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot import blocks
from bot.approvals import Outcome
from bot.authz import Action, Forbidden
from bot.commands import ChatCommands, Reply
from bot.domain import Job, RestoreRequest
from handlers.slack_notifier import SlackNotifier, requester_key
from handlers.slow_lane import SlowLane

log = logging.getLogger(__name__)
# Slack: a response_url takes up to 5 answers within 30 minutes (https://docs.slack.dev/interactivity/handling-user-interaction).
RESPONSE_URL_VALIDITY = timedelta(minutes=30)


def email_lookup(client: WebClient, user_id: str) -> Callable[[], str | None]:
    """Fetch the Slack profile email only when the directory needs it (no IAM tag matched)."""

    def lookup() -> str | None:
        profile = client.users_info(user=user_id)["user"].get("profile", {})
        email = profile.get("email")
        return str(email) if email else None

    return lookup


def register_restore(bolt: App, commands: ChatCommands, notifier: SlackNotifier, lane: SlowLane) -> None:
    channel = commands.policy.approvals.channel

    def ack_restore(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        received = commands.clock.now()
        words = command.get("text", "").split()
        if words[:1] == ["cancel"]:
            if len(words) != 2:
                ack(response_type="ephemeral", text="usage: /rds-restore cancel <job-id>")
                return
            lane.submit(f"cancel by {command['user_id']}", cancel_restore, words[1], command, received, client)
            ack(response_type="ephemeral", text=f"Checking whether you may cancel {words[1]}…")
            return
        checked = commands.check_restore(command.get("text", ""), command["user_id"])
        if isinstance(checked, Reply):
            ack(response_type="ephemeral", text=checked.text)
            return
        lane.submit(f"/rds-restore by {command['user_id']}", submit_restore, checked, command, received)
        ack(
            response_type="ephemeral",
            text=f"Checking {checked.backup.display(commands.policy.backups.default_bucket)} for a restore to "
            f"{checked.instance_class}…",
        )

    def submit_restore(checked: RestoreRequest, command: dict[str, Any], received: datetime) -> None:
        result = commands.submit_restore(checked, command["user_id"], command.get("text", ""))
        if isinstance(result, Reply):
            answer(command, received, result.text)
            return
        job = result.job
        if checked.dry_run:
            answer(command, received, f"Dry run, nothing created. The plan:\n{blocks.card_summary(job)}", job.id)
            return
        expires = commands.decisions.expires_at(job)
        # Queued, not posted: the outbox paces the channel and keeps the card through a Slack outage or a restart.
        url, url_expires = command.get("response_url"), received + RESPONSE_URL_VALIDITY
        notifier.post_card(job, channel, expires, url, url_expires)
        waiting = f"Request {job.id} is waiting for an admin's approval in {channel} (expires {expires})."
        answer(command, received, waiting, job.id)

    def answer(command: dict[str, Any], received: datetime, text: str, job_id: str | None = None) -> None:
        """The requester's follow-up, through the outbox: the response_url while valid, else a DM."""
        user = command["user_id"]
        key = requester_key(job_id) if job_id else f"user:{user}"
        url = str(command.get("response_url") or "")
        notifier.outbox.respond(key, url, received + RESPONSE_URL_VALIDITY, user, text, job_id=job_id)

    def cancel_restore(job_id: str, command: dict[str, Any], received: datetime, client: WebClient) -> None:
        user = command["user_id"]
        reply = commands.cancel(job_id, user, email_lookup(client, user))
        answer(command, received, reply.text, job_id if reply.ok else None)
        job = commands.job(job_id)
        card_channel = notifier.card_channel(job) if job is not None else None
        if reply.ok and job is not None and job.started_at is None and card_channel is not None:
            # Withdrawn before approval: the engine never ran it, so the card is brought up to date here.
            when = commands.clock.now().strftime("%Y-%m-%d %H:%M UTC")
            notifier.card_decided(job, card_channel, f"🛑 Withdrawn by <@{user}> at {when}; nothing was created")

    bolt.command("/rds-restore")(ack_restore)

    def approve(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        lane.submit(f"approve by {body['user']['id']}", _decide, commands, notifier, client, body, True, None)

    bolt.action(blocks.APPROVE_ACTION)(approve)

    def open_deny_reason(body: dict[str, Any], client: WebClient) -> None:
        user, job_id = body["user"]["id"], body["actions"][0]["value"]
        job = commands.job(job_id)
        try:
            commands.decisions.authorizer.check(Action.DENY, user, email_lookup(client, user), job)
        except Forbidden as refused:
            commands.decide(job_id, user, False, email_lookup(client, user))  # audited refusal, no change
            notifier.outbox.ephemeral(f"user:{user}", body["channel"]["id"], user, refused.reason, job_id=job_id)
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
        lane.submit(f"deny by {body['user']['id']}", _decide, commands, notifier, client, card, False, reason or None)

    bolt.view(blocks.DENY_REASON_VIEW)(deny)


def _decide(
    commands: ChatCommands,
    notifier: SlackNotifier,
    client: WebClient,
    body: dict[str, Any],
    approve: bool,
    reason: str | None,
) -> None:
    user, job_id = body["user"]["id"], body["actions"][0]["value"]
    channel = body["channel"]["id"]
    decision = commands.decide(job_id, user, approve, email_lookup(client, user), reason)
    job: Job | None = decision.job
    if decision.changed_job and job is not None:
        when = commands.clock.now().strftime("%Y-%m-%d %H:%M UTC")
        text = {
            Outcome.APPROVED: f"✅ Approved by <@{user}> at {when}",
            Outcome.DENIED: f"⛔ Denied by <@{user}> at {when}" + (f": {reason}" if reason else ""),
            Outcome.EXPIRED: f"⌛ Expired at {commands.decisions.expires_at(job)}; nothing was created",
        }
        notifier.card_decided(job, channel, text[decision.outcome])
    else:
        notifier.outbox.ephemeral(f"user:{user}", channel, user, decision.message, job_id=job_id)
