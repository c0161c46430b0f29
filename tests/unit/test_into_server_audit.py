"""The finalize stage on an --into instance: SQL Server Audit is switched on only where rdsbot made the instance
(tag managed-by=rdsbot); on another's instance it is skipped, and the completion message and the trail say so."""

from bot import render
from bot.domain import JobStatus
from bot.parser import parse_restore_command
from bot.service import RestoreService
from bot.workflow import Engine
from config.policy_model import parse_policy
from tests.support.factories import BOT_NETWORK
from tests.unit.fakes import FakeAws, FakeClock, RecordingNotifier
from tests.unit.memory_store import MemoryStore
from tests.unit.test_into_rules import RESTORE_OPTION_GROUP, existing

AUDITING = parse_policy(
    {
        "backups": {"default_bucket": "rdsbot-backups"},
        "network": BOT_NETWORK,
        "audit": {"bucket": "rdsbot-audit"},
        "targets": {"existing_instances": ["rdsbot-staging-*"]},
    }
)


def restore_into(instance_tags):
    aws, store, clock = FakeAws(), MemoryStore(), FakeClock()
    aws.option_groups[RESTORE_OPTION_GROUP] = {"SQLSERVER_BACKUP_RESTORE"}
    existing(aws, tags=instance_tags)
    service = RestoreService(store.jobs, store.audit, aws.gateways, AUDITING, clock)
    job = service.submit(parse_restore_command("prod-backup.bak --into rdsbot-staging-1"), "U1", approved=True).job
    Engine(store.jobs, aws.gateways, AUDITING, RecordingNotifier(), clock, poll_seconds=5).run_until_idle(600)
    done = store.jobs.by_id[job.id]
    assert done.status == JobStatus.SUCCEEDED, done.error
    return aws, store, done


def test_another_owners_instance_gets_no_server_audit_and_the_message_says_why():
    aws, store, done = restore_into({})  # listed by targets.existing_instances, not made by rdsbot
    assert "ensure_server_audit" not in aws.calls and aws.server_audits == []
    message = render.completion(done).plain()
    assert "SQL Server Audit: not switched on: rdsbot-staging-1 was not made by rdsbot" in message
    assert done.outputs.sqlserver_audit_url is None
    finalize = [
        e.detail["detail"]
        for e in store.audit.audit_events(done.id)
        if e.action == "stage.succeeded" and e.detail["stage"] == "finalize"
    ]
    assert len(finalize) == 1 and "SQL Server Audit not switched on" in finalize[0]


def test_an_instance_rdsbot_made_gets_its_server_audit_once_more_idempotently():
    aws, _, done = restore_into({"managed-by": "rdsbot", "rdsbot-job-id": "jold"})
    assert aws.calls.count("ensure_server_audit") == 1 and done.outputs.server_audit_skipped is None
    assert "SQL Server Audit:" not in render.completion(done).plain() and done.outputs.sqlserver_audit_url
