"""`rdsbot shell`: talk to rdsbot in a terminal, as Slack would, before any workspace exists.

The console is one more chat surface over ChatCommands: parsing, policy, authorization and approvals are the same
code Slack's handlers call. Cards print as text, buttons become `approve <job>` / `deny <job> <reason>`, and
`as <user>` switches identity so the approval rules can be felt.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from bot import card_facts
from bot.approvals import Outcome
from bot.commands import ChatCommands, Reply
from bot.doctor import DoctorCommand
from bot.domain import Job, JobStatus
from bot.drills.chart import TrendChart
from bot.drills.commands import DrillCommands
from bot.lifecycle.model import InstanceLifecycle, LifecyclePhase
from bot.notifiers import PrintNotifier
from bot.slack_text import SlackText, plain

SHELL_HELP = """commands:
  /rds-restore <backup> <instance-class> [flags]   request a restore (/rds-restore help for the flags)
  /rds-restore <backup> --into <instance> [--replace] [--diff/--log/--stop-at]
                                                  restore (a chain too) onto an existing instance
  /rds-backup <instance> <database> [s3://bucket/key] [flags]
                                                  back up a database to S3 (/rds-backup help for the flags)
  /rds-status [job]                               recent jobs, or one job's stage timeline
  /rds-audit [job]                                a job's audit trail, or today's decisions
  /rds-drill list | run <name> | history <name>   restore drills (run: admins only)
  /rds-doctor                                     check the account, workspace and policy (admins only),
                                                  and the engine version a restore would get per region
  approve <job>  |  deny <job> [reason]           press the card's buttons
  cancel <job> [--rollback]                       call off a restore (the requester or an admin); --rollback
                                                  also deletes what it created
  cleanup <job>                                   delete what a failed or cancelled restore created
  delete <job>                                    delete a restore's instance now (the requester or an admin)
  keep <job>                                      press the reminder's "keep more" button
  as <user>                                       switch identity ({users})
  whoami  |  wait [job] (until it ends, or its instance is deleted)  |  help  |  quit"""


@dataclass
class ConsoleUser:
    name: str
    slack_id: str
    email: str | None = None


@dataclass
class ConsoleSession:
    """One console conversation; `handle` takes a line and writes the bot's answers through `write`."""

    commands: ChatCommands
    users: dict[str, ConsoleUser]
    write: Callable[[str], None]
    current: ConsoleUser
    last_job: str | None = None
    drills: DrillCommands | None = None
    doctor: DoctorCommand | None = None
    # `as <user>` is the sandbox's way to feel the approval rules; on real AWS the console is who the credentials say.
    may_switch: bool = True
    # Values a script may name as {name}: the sandbox's seeded TDE password key ({tde_password_key}).
    script_values: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _announced: set[str] = field(default_factory=set)
    _deletions_started: set[str] = field(default_factory=set)
    _deletions_told: set[str] = field(default_factory=set)
    _announcement: threading.Condition = field(default_factory=threading.Condition)

    def announced(self, job_id: str) -> None:
        """The completion of `job_id` has been printed; `wait` may return."""
        with self._announcement:
            self._announced.add(job_id)
            self._announcement.notify_all()

    def deletion_told(self, job_id: str, ended: bool) -> None:
        """The deletion of `job_id`'s instance was claimed (`ended` False) or its end printed; `wait` waits from
        the one to the other."""
        with self._announcement:
            (self._deletions_told if ended else self._deletions_started).add(job_id)
            self._announcement.notify_all()

    def say(self, text: str) -> None:
        """Write a line; the bot's Slack texts (SlackText) are shown as a Slack reader would see them."""
        with self._lock:  # progress arrives from the engine thread while we answer a command
            self.write(plain(text))

    def expand(self, line: str) -> str:
        """Scripts say {job} for the job the session created last, and {name} for a sandbox's seeded value."""
        line = line.strip().replace("{job}", self.last_job or "{job}")
        for name, value in self.script_values.items():
            line = line.replace("{" + name + "}", value)
        return line

    def handle(self, line: str) -> bool:
        """Act on one line; False when the session should end."""
        line = self.expand(line)
        if not line or line.startswith("#"):
            return True
        word, _, rest = line.partition(" ")
        rest = rest.strip()
        if word in ("quit", "exit"):
            return False
        handlers: dict[str, Callable[[str], None]] = {
            "/rds-restore": self._restore,
            "/rds-backup": self._backup,
            "/rds-status": self._status,
            "/rds-audit": lambda text: self.say(self.commands.audit(text).text),
            "/rds-drill": self._drill,
            "/rds-doctor": self._doctor,
            "approve": lambda text: self._decide(text, approve=True),
            "deny": lambda text: self._decide(text, approve=False),
            "as": self._switch,
            "cancel": self._cancel,
            "delete": lambda text: self._on_job("delete", text, self.commands.delete),
            "cleanup": lambda text: self._on_job("cleanup", text, self.commands.clean_up),
            "keep": lambda text: self._on_job("keep", text, self.commands.keep_more),
            "whoami": lambda _: self.say(f"you are {self.current.name} ({self.current.slack_id})"),
            "wait": self._wait,
            "help": lambda _: self.say(SHELL_HELP.format(users=", ".join(self.users))),
        }
        handler = handlers.get(word)
        if handler is None:
            self.say(f"unknown command {word!r}; type help")
        else:
            handler(rest)
        return True

    def _restore(self, text: str) -> None:
        user = self.current
        verb = self.commands.job_command(text, user.slack_id, lambda: user.email)
        if verb is not None:
            self.say(verb.text)
            return
        checked = self.commands.check_restore(text, self.current.slack_id)
        if isinstance(checked, Reply):
            self.say(checked.text)
            return
        backup = checked.backup.display(self.commands.policy.backups.default_bucket)
        self.say(f"(ack) checking {backup} for a restore to {checked.destination}…")
        result = self.commands.submit_restore(checked, self.current.slack_id, text)
        if isinstance(result, Reply):
            self.say(result.text)
            return
        job = result.job
        if checked.dry_run:
            self.say("Dry run, nothing created. The plan:\n" + "\n".join(card_facts.card_lines(job, card_facts.PLAIN)))
            return
        self._card(job)

    def _backup(self, text: str) -> None:
        checked = self.commands.check_backup(text, self.current.slack_id)
        if isinstance(checked, Reply):
            self.say(checked.text)
            return
        where = checked.destination or "the default destination"
        self.say(f"(ack) checking {checked.database_name} on {checked.instance_id} for a backup to {where}…")
        result = self.commands.submit_backup(checked, self.current.slack_id, text)
        if isinstance(result, Reply):
            self.say(result.text)
            return
        self._card(result)

    def _card(self, job: Job) -> None:
        """The approval card, as text; buttons become `approve <job>` / `deny <job> <reason>`."""
        self.last_job = job.id
        channel = self.commands.policy.approvals.channel
        expires = self.commands.decisions.expires(job)
        lines = [
            *card_facts.card_lines(job, card_facts.PLAIN),
            card_facts.deadline_line(job, expires, card_facts.PLAIN),
        ]
        self.say(
            f"┌ approval card in {channel}: RDS {job.kind} request {job.id}\n"
            + "\n".join(f"│ {line}" for line in lines)
            + f"\n│ approving means: {card_facts.approve_confirmation(job)}"
            + f"\n└ [approve {job.id}]  [deny {job.id} <reason>]"
        )

    def _decide(self, text: str, *, approve: bool) -> None:
        job_id, _, reason = text.partition(" ")
        if not job_id:
            self.say(f"usage: {'approve <job>' if approve else 'deny <job> [reason]'}")
            return
        user = self.current
        decision = self.commands.decide(job_id, user.slack_id, approve, lambda: user.email, reason.strip() or None)
        if decision.outcome in (Outcome.APPROVED, Outcome.DENIED):
            self.say(f"card {job_id}: {decision.outcome} by {user.name}" + (f": {reason}" if reason else ""))
        else:
            self.say(f"(only you can see this) {decision.message}")

    def _drill(self, text: str) -> None:
        if self.drills is None:
            self.say("drills are not available in this console")
            return
        if self.drills.is_run(text):
            user, words = self.current, text.split()
            name = words[1] if len(words) > 1 else ""
            self.say(self.drills.run(name, user.slack_id, lambda: user.email).text)
        else:
            self.say(self.drills.answer(text).text)

    def _doctor(self, _: str) -> None:
        if self.doctor is None:
            self.say("the doctor is not available in this console")
            return
        user = self.current
        self.say(self.doctor.answer(user.slack_id, lambda: user.email))

    def _cancel(self, text: str) -> None:
        user = self.current
        reply = self.commands.job_command(f"cancel {text}", user.slack_id, lambda: user.email)
        self.say(reply.text if reply is not None else "usage: cancel <job> [--rollback]")

    def _on_job(self, verb: str, job_id: str, act: Callable[[str, str, Callable[[], str | None]], Reply]) -> None:
        if not job_id:
            self.say(f"usage: {verb} <job>")
            return
        user = self.current
        self.say(act(job_id, user.slack_id, lambda: user.email).text)

    def _status(self, text: str) -> None:
        self.say(self.commands.status(text).text)

    def _switch(self, name: str) -> None:
        if not self.may_switch:
            self.say(f"(only you can see this) `as` is for the sandbox; on real AWS you are {self.current.name}")
            return
        user = self.users.get(name) or next((u for u in self.users.values() if u.slack_id == name), None)
        if user is None:
            user = ConsoleUser(name=name, slack_id=name)  # a raw Slack id, for real workspaces
            self.users[name] = user
        self.current = user
        self.say(f"you are now {user.name} ({user.slack_id})")

    def _wait(self, text: str, timeout: float = 300.0) -> None:
        job_id = text or self.last_job
        if not job_id:
            self.say("no job to wait for")
            return
        deadline = time.monotonic() + timeout
        while (job := self.commands.job(job_id)) is not None and not job.status.finished:
            if time.monotonic() > deadline:
                self.say(f"{job_id} still {job.status} after {timeout:.0f} s")
                return
            time.sleep(0.1)
        if job is not None and job.status not in (JobStatus.DENIED, JobStatus.EXPIRED, JobStatus.CANCELLED):
            with self._announcement:  # the engine writes the status, then tells the listeners: wait for them
                self._announcement.wait_for(
                    lambda: job_id in self._announced, timeout=max(1.0, deadline - time.monotonic())
                )
        lifecycle = self.commands.lifecycle
        # Once its deletion was asked for, a job's story ends when its instance is gone.
        while lifecycle and (record := lifecycle.lifecycles.get(job_id)) and record.phase == LifecyclePhase.DELETING:
            if time.monotonic() > deadline:
                self.say(f"{job_id}'s instance still deleting after {timeout:.0f} s")
                return
            time.sleep(0.1)
        # ... and, for one this session saw begin, once its end is printed: the runner saves the end before it
        # tells the listeners, so the store alone lets a script's last `wait` (and the session) end first.
        with self._announcement:
            if job_id in self._deletions_started:
                self._announcement.wait_for(
                    lambda: job_id in self._deletions_told, timeout=max(1.0, deadline - time.monotonic())
                )
        self.say(f"{job_id} is {job.status if job else 'unknown'}")


class ConsoleNotifier(PrintNotifier):
    """Prints progress like PrintNotifier, and tells the session when a completion has been printed."""

    def __init__(self, session: ConsoleSession) -> None:
        super().__init__(session.say)
        self.session = session

    def job_finished(self, job: Job) -> None:
        super().job_finished(job)
        self.session.announced(job.id)

    def lifecycle_changed(self, job: Job, lifecycle: InstanceLifecycle, text: str) -> None:
        super().lifecycle_changed(job, lifecycle, text)
        if lifecycle.phase == LifecyclePhase.DELETING or lifecycle.phase.finished:  # claimed; deleted or left alone
            self.session.deletion_told(job.id, ended=lifecycle.phase.finished)


class ConsoleDrillReporter:
    """Drill reports as console text (the PNG trend chart is Slack-only)."""

    def __init__(self, session: ConsoleSession) -> None:
        self.session = session

    def report(
        self, channel: str, run_id: str, text: SlackText, *, failed: bool, chart: TrendChart | None = None
    ) -> None:
        self.session.say(f"[{channel}] {text.plain()}")

    def follow_up(self, channel: str, run_id: str, text: SlackText) -> None:
        self.session.say(f"[{channel}] {text.plain()}")


def run_lines(session: ConsoleSession, lines: Iterable[str], echo: bool) -> None:
    """Feed lines to the session (a script, or stdin that is not a terminal), echoing them like a transcript."""
    for line in lines:
        if echo and line.strip():
            session.say(f"\n{session.current.name}> {session.expand(line)}")
        if not session.handle(line):
            return


def interactive(session: ConsoleSession) -> None:
    """A readline prompt with history in ~/.rdsbot_history."""
    import os
    import readline

    history = os.path.expanduser("~/.rdsbot_history")
    with contextlib.suppress(OSError):  # no history yet
        readline.read_history_file(history)
    session.say(SHELL_HELP.format(users=", ".join(session.users)))
    try:
        while True:
            try:
                line = input(f"{session.current.name}> ")
            except EOFError:
                break
            if not session.handle(line):
                break
    finally:
        readline.write_history_file(history)
