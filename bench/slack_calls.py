"""Slack Web API calls per restore, and how soon completions reach Slack when 20 restores share one channel.

The real Bolt app in HTTP mode, its Web API calls going to the fake Slack (which enforces ~1 chat.postMessage per
second per channel, bursts of 3, and the tiers), AWS on an in-process moto server, the sandbox SQL Server.

  .venv/bin/python -m bench.slack_calls [--restores 5] [--burst 20] [--restore-seconds 0.5 5]

Prints (1) Web API calls per successful restore for each sandbox restore duration, against the target of 6 (and
the 21 measured before the outbox); (2) for `--burst` requests at once in one channel, the seconds from the last
restore's end to the last completion in Slack, against the 60 s target and the floor the channel's pace sets
(the chat.postMessage calls still to make at that moment, at 1 per second).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import sqlalchemy as sa

from aws.sandbox.moto_seed import start_sandbox_aws
from bot.blocks import APPROVE_ACTION
from bot.domain import JobStatus
from bot.store.schema import slack_outbox as t
from tests.scenario.conftest import ALICE, BOB, Story, running_story

TARGET_CALLS, BEFORE_CALLS, TARGET_SECONDS = 6, 21, 60.0
WEB_API = ("chat.postMessage", "chat.update", "chat.postEphemeral", "conversations.history", "conversations.replies")


def _until(condition: object, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("bench waited too long")
        time.sleep(0.02)


def _complete(story: Story, job_id: str) -> bool:
    thread = story.runtime.notifier.thread_of(story.job(job_id))
    if thread is None:
        return False
    return any(str(m.get("text", "")).startswith("<@") for m in story.slack.thread(*thread))


def _fresh_aws() -> None:
    """Each run seeds the sandbox anew."""
    urllib.request.urlopen(urllib.request.Request(f"{os.environ['AWS_ENDPOINT_URL']}/moto-api/reset", method="POST"))


def _pending_posts(story: Story) -> int:
    query = sa.select(sa.func.count()).where(t.c.state == "pending", t.c.method == "chat.postMessage")
    with story.app.store.engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def calls_per_restore(restores: int, restore_seconds: float) -> float:
    _fresh_aws()
    with tempfile.TemporaryDirectory() as tmp, running_story(Path(tmp), restore_seconds=restore_seconds) as story:
        for n in range(restores):
            story.command("/rds-restore", "prod-backup.bak db.m5.large", ALICE, f"r{n}")
            _until(lambda n=n: len(story.app.store.jobs.list_jobs()) == n + 1)
            job_id = story.app.store.jobs.list_jobs()[0].id
            story.card_of(job_id, timeout=60)
            story.click(APPROVE_ACTION, job_id, BOB)
            _until(lambda j=job_id: _complete(story, j) and story.runtime.outbox.pending == 0)
        return len([c for c in story.slack.calls() if c.method in WEB_API]) / restores


def burst(count: int, restore_seconds: float) -> tuple[float, int]:
    """Seconds from the last restore's end to the last completion in Slack, and the posts pending at that end."""
    _fresh_aws()
    with tempfile.TemporaryDirectory() as tmp, running_story(Path(tmp), restore_seconds=restore_seconds) as story:
        senders = [
            threading.Thread(target=story.command, args=("/rds-restore", "prod-backup.bak db.m5.large", ALICE, f"b{n}"))
            for n in range(count)
        ]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        _until(lambda: len(story.app.store.jobs.list_jobs()) == count)
        job_ids = [job.id for job in story.app.store.jobs.list_jobs()]
        for job_id in job_ids:
            story.card_of(job_id, timeout=120)
            story.click(APPROVE_ACTION, job_id, BOB)
        _until(lambda: all(story.job(j).status == JobStatus.SUCCEEDED for j in job_ids))
        last_end = time.monotonic()
        pending_posts = _pending_posts(story)
        _until(lambda: all(_complete(story, j) for j in job_ids))
        return time.monotonic() - last_end, pending_posts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--restores", type=int, default=5)
    parser.add_argument("--burst", type=int, default=20)
    parser.add_argument("--restore-seconds", type=float, nargs="+", default=[0.5, 5.0])
    args = parser.parse_args()
    aws = start_sandbox_aws()
    try:
        print(f"Web API calls per successful restore (target <= {TARGET_CALLS}; {BEFORE_CALLS} before the outbox)")
        for seconds in args.restore_seconds:
            per = calls_per_restore(args.restores, seconds)
            print(f"  restore {seconds:>5.1f} s: {per:5.2f} calls/restore  ratio to target {per / TARGET_CALLS:.2f}")
        late, pending = burst(args.burst, args.restore_seconds[0])
        print(f"{args.burst} requests at once in one channel:")
        print(
            f"  last completion in Slack {late:.1f} s after the last restore ended (target <= {TARGET_SECONDS:.0f} s)"
        )
        floor = max(0, pending - 3)  # a burst of 3, then 1 post per second in the one channel
        print(f"  floor set by the channel's pace: {pending} posts waiting then, {floor} s at 1 post/s after a burst")
        print(f"  ratio to the floor {late / max(floor, 1):.2f}")
    finally:
        aws.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
