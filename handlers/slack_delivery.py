"""One Slack write, sent: resolving the message it threads under or edits, looking for an unconfirmed post before
posting it again (handlers/outbox.py explains why), and a requester's answer by response_url or DM."""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.chat_outbox import (
    Delivery,
    OutboxMessage,
    SlackMethod,
    SlackOutboxRepository,
    backoff,
    carries_marker,
    metadata_marker,
)
from bot.clock import Clock

log = logging.getLogger(__name__)
# How far before its first attempt a post is looked for: Slack's ts and our clock may disagree a little.
LOOKBACK = timedelta(minutes=2)


class Retry(Exception):
    """Not sent now; try again after `seconds` (a ref not posted yet)."""

    def __init__(self, reason: str, seconds: float) -> None:
        super().__init__(reason)
        self.seconds = seconds


class Park(Exception):
    """Never sendable (its thread's message was parked, or is unknown)."""


@dataclass
class Attempt:
    posted: bool = False  # the chat.postMessage request has left: from here on, an error leaves it unconfirmed


class SlackDelivery:
    """Sends one claimed write through a Web API client that does not retry by itself."""

    def __init__(self, repository: SlackOutboxRepository, client: Any, clock: Clock) -> None:
        self.repository = repository
        self.client = client
        self.clock = clock

    def _ref(self, ref: str) -> OutboxMessage:
        found = self.repository.by_ref(ref)
        if found is None:
            raise Park(f"{ref} was never queued")
        if found.state == Delivery.DEAD:
            raise Park(f"{ref} could not be posted: {found.error}")
        if found.state == Delivery.PENDING:
            raise Retry(f"waiting for {ref}", 1.0)
        return found

    def send(self, message: OutboxMessage, attempt: Attempt) -> tuple[str | None, str | None]:
        payload = message.payload
        if message.method == SlackMethod.POST:
            return self._post(message, attempt)
        if message.method == SlackMethod.UPDATE:
            target = self._ref(message.target_ref or "")
            self.client.chat_update(
                channel=target.posted_channel, ts=target.ts, text=payload.text, blocks=payload.blocks
            )
            return target.ts, target.posted_channel
        if message.method == SlackMethod.EPHEMERAL:
            self.client.chat_postEphemeral(channel=message.channel, user=payload.user, text=payload.text)
            return None, message.channel
        if message.method == SlackMethod.RESPONSE_URL:
            return self._respond(message)
        # files_upload_v2 shares only to a channel id (files.completeUploadExternal `channel_id`): the id the
        # report's chat.postMessage answered with, never the policy's channel name.
        parent = self._ref(message.thread_ref or "")
        self.client.files_upload_v2(
            channel=parent.posted_channel,
            thread_ts=parent.ts,
            content=base64.b64decode(payload.file_base64 or ""),
            filename=payload.filename,
            title=payload.title,
            **({"alt_txt": payload.alt_text} if payload.alt_text else {}),
        )
        return None, parent.posted_channel

    def _post(self, message: OutboxMessage, attempt: Attempt) -> tuple[str | None, str | None]:
        payload = message.payload
        channel, thread_ts = message.channel, None
        if message.thread_ref:
            parent = self._ref(message.thread_ref)
            channel, thread_ts = parent.posted_channel or channel, parent.ts
        if message.unconfirmed:
            found = self._find_posted(message, channel, thread_ts)
            if found is not None:
                log.info("slack post found already delivered; not re-posted", extra={"outbox_id": message.id})
                return found
        attempt.posted = True
        answer = self.client.chat_postMessage(
            channel=channel,
            text=payload.text,
            blocks=payload.blocks,
            thread_ts=thread_ts,
            metadata=metadata_marker(message.uid),
        )
        return str(answer["ts"]), str(answer["channel"])

    def _find_posted(self, message: OutboxMessage, channel: str, thread_ts: str | None) -> tuple[str, str] | None:
        """The post tagged with this message's uid, if Slack has it (conversations.history/replies need an id)."""
        channel_id = channel if channel[:1] in ("C", "G", "D") else self.repository.channel_id(channel)
        if channel_id is None:
            channel_id = self._channel_id_from_slack(channel)
        if channel_id is None:
            log.warning("cannot look for an unconfirmed post; posting again", extra={"outbox_id": message.id})
            return None
        since = (message.first_attempt_at or message.created_at) - LOOKBACK
        query = {"channel": channel_id, "oldest": f"{since.timestamp():.6f}", "include_all_metadata": True}
        try:
            if thread_ts:
                answer = self.client.conversations_replies(ts=thread_ts, limit=200, **query)
            else:
                answer = self.client.conversations_history(limit=200, **query)
        except SlackApiError as exc:
            if exc.response.get("error") not in ("missing_scope", "not_in_channel", "channel_not_found"):
                raise  # 429, 5xx: look again later, the post still unconfirmed
            # Cannot look (no channels:history / groups:history): a duplicate beats a lost message.
            log.warning("cannot look for an unconfirmed post; posting again", extra={"outbox_id": message.id})
            return None
        for found in answer.get("messages") or []:
            if carries_marker(found, message.uid):
                return str(found["ts"]), channel_id
        return None

    def _channel_id_from_slack(self, name: str) -> str | None:
        wanted = name.removeprefix("#")
        try:
            answer = self.client.conversations_list(types="public_channel,private_channel", limit=1000)
        except SlackApiError as exc:
            if exc.response.get("error") != "missing_scope":
                raise
            return None
        return next((str(c["id"]) for c in answer.get("channels") or [] if c.get("name") == wanted), None)

    def _respond(self, message: OutboxMessage) -> tuple[str | None, str | None]:
        payload = message.payload
        expires = payload.response_url_expires_at
        if payload.response_url and expires is not None and self.clock.now() < expires:
            answer = WebhookClient(payload.response_url).send(
                text=payload.text, response_type="ephemeral", replace_original=False
            )
            if answer.status_code == 200:
                return None, message.channel
            if answer.status_code < 500 and answer.status_code != 429:
                log.info("response_url refused; sending a DM instead", extra={"status": answer.status_code})
            else:
                raise Retry(f"response_url answered {answer.status_code}", backoff(message.attempts).total_seconds())
        # Past its validity (30 minutes, 5 uses) the requester still hears back: in the app's DM with them.
        dm = self.client.chat_postMessage(channel=payload.user, text=payload.text)
        return str(dm["ts"]), str(dm["channel"])
