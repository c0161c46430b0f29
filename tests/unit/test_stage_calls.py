"""What each stage asks of AWS for a request with every option set: the plan's values reach the right argument of
the right call, and each stage says what it did. On the in-memory fakes, recording every argument."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain import BackupLocation, InstanceState, NetworkPlacement, StageName, TaskLifecycle, TaskStatus
from bot.errors import RequestError
from bot.orderable import OrderableOptions
from bot.parser import parse_restore_command
from bot.ports import AuditRoleSpec, InstanceSpec, NetworkSpec, OptionGroupSpec, RolePlacement, RoleSpec
from bot.service import RestoreService
from bot.workflow import Engine
from config.policy_model import parse_policy
from tests.support.factories import BOT_NETWORK
from tests.unit.fakes import FakeAws, FakeClock, RecordingNotifier
from tests.unit.memory_store import MemoryStore

POLICY = parse_policy(
    {
        "backups": {"default_bucket": "rdsbot-backups", "allowed_buckets": ["rdsbot-backups", "team-backups"]},
        "audit": {"bucket": "rdsbot-audit", "prefix": "sqlaudit", "retention_hours": 48},
        "engine": {"engine_version": "15.00.4345.5.v1"},
        "network": {"vpc_id": "vpc-9", "subnet_ids": ["subnet-a", "subnet-b"],
                    "allowed_source_security_groups": ["sg-app"], "allowed_cidrs": ["10.0.0.0/16"], **BOT_NETWORK},
        "roles": {"permissions_boundary_arn": "arn:aws:iam::123456789012:policy/rdsbot-role-boundary"},
    }
)  # fmt: skip
BACKUP_KMS = "arn:aws:kms:us-east-1:123456789012:key/abc-123"  # the .bak's own key: @kms_master_key_arn
STORAGE_KMS = "arn:aws:kms:us-east-1:123456789012:alias/rdsbot-storage"  # the instance's KmsKeyId
BUCKET_KMS = "arn:aws:kms:us-east-1:123456789012:key/bucket-456"  # the backup object's SSE-KMS key
COMMAND = (
    "s3://team-backups/sql/prod.bak db.m7i.xlarge --name rdsbot-restored-prod --db Prod_2026 --edition ee "
    "--storage-type io1 --storage 500 --iops 3000 --cores 2 --threads-per-core 1 --multi-az "
    f"--backup-kms-key {BACKUP_KMS} --storage-kms-key {STORAGE_KMS}"
)
INSTANCE = "rdsbot-restored-prod"
# The restore role uses the backup's key and the bucket's, never the storage key; the names hash those two.
ROLE = "rdsbot-native-restore-k256626c7"
ROLE_ARN = f"arn:aws:iam::123456789012:role/{ROLE}"
AUDIT_ROLE_ARN = "arn:aws:iam::123456789012:role/rdsbot/rdsbot-sqlserver-audit"
OPTION_GROUP = "rdsbot-sqlserver-ee-15-00-k256626c7"
PLACEMENT = RolePlacement(
    path="/rdsbot/", permissions_boundary_arn="arn:aws:iam::123456789012:policy/rdsbot-role-boundary"
)


class RecordingAws(FakeAws):
    """The fakes, keeping every argument; the network stage reports it created both groups."""

    def __init__(self) -> None:
        super().__init__(objects={"team-backups/sql/prod.bak": 3 * 2**30 // 2})
        self.object_keys = {"team-backups/sql/prod.bak": BUCKET_KMS}
        self.args: list[tuple[Any, ...]] = []

    def resolve(self, location: BackupLocation, default_bucket: str | None):
        self.args.append(("resolve", location, default_bucket))
        return super().resolve(location, default_bucket)

    def orderable_options(
        self, engine: str, *, engine_version: str | None = None, instance_class: str | None = None
    ) -> OrderableOptions:
        self.args.append(("orderable_options", engine, engine_version, instance_class))
        self.orderable = {"db.m7i.xlarge", "db.m6i.xlarge"}
        return super().orderable_options(engine, engine_version=engine_version, instance_class=instance_class)

    def ensure_placement(self, spec: NetworkSpec) -> NetworkPlacement:
        self.args.append(("ensure_placement", spec))
        placed = super().ensure_placement(spec)
        return placed.model_copy(update={"created": ("subnet_group", "security_group")})

    def ensure_restore_role(self, spec: RoleSpec) -> str:
        self.args.append(("ensure_restore_role", spec))
        return super().ensure_restore_role(spec)

    def ensure_audit_role(self, spec: AuditRoleSpec) -> str:
        self.args.append(("ensure_audit_role", spec))
        return super().ensure_audit_role(spec)

    def ensure_option_group(self, spec: OptionGroupSpec):
        self.args.append(("ensure_option_group", spec))
        return super().ensure_option_group(spec).model_copy(update={"created": True})

    def create(self, spec: InstanceSpec) -> InstanceState:
        self.args.append(("create", spec))
        created = (
            super().create(spec).model_copy(update={"arn": f"arn:aws:rds:us-east-1:123456789012:db:{spec.instance_id}"})
        )
        self.instances[spec.instance_id] = created
        return created

    def find_task(self, instance: InstanceState, database_name: str) -> TaskStatus | None:
        self.args.append(("find_task", instance.instance_id, database_name))
        return super().find_task(instance, database_name)

    def start_restore(self, instance: InstanceState, database_name: str, s3_arn: str, kms_key_arn: str | None = None):
        self.args.append(("start_restore", instance.instance_id, database_name, s3_arn, kms_key_arn))
        return super().start_restore(instance, database_name, s3_arn, kms_key_arn)

    def task_status(self, instance: InstanceState, task_id: int) -> TaskStatus:
        self.args.append(("task_status", instance.instance_id, task_id))
        return super().task_status(instance, task_id)


def restore() -> tuple[RecordingAws, Any]:
    aws, store, clock = RecordingAws(), MemoryStore(), FakeClock()
    service = RestoreService(store.jobs, store.audit, aws.gateways, POLICY, clock)
    job = service.submit(parse_restore_command(COMMAND), "U1", approved=True).job
    Engine(store.jobs, aws.gateways, POLICY, RecordingNotifier(), clock, poll_seconds=5).run_until_idle(
        timeout_seconds=600
    )
    return aws, store.jobs.by_id[job.id]


def calls(aws: RecordingAws, name: str) -> list[tuple[Any, ...]]:
    return [args[1:] for args in aws.args if args[0] == name]


def test_validation_asks_for_the_plans_backup_and_the_editions_classes() -> None:
    aws, _ = restore()
    location = BackupLocation(bucket="team-backups", key="sql/prod.bak", multi_file=False)
    assert set(calls(aws, "resolve")) == {(location, "rdsbot-backups")}
    # One listing each, the card's and the stage's, of the pinned version's rows only.
    assert calls(aws, "orderable_options") == [("sqlserver-ee", "15.00.4345.5.v1", None)] * 2
    # kms.allowed_accounts is empty, so the keys are held to the bot's own account, asked of STS.
    assert "account_id" in aws.calls


def test_the_plan_keeps_the_three_keys_apart() -> None:
    _, job = restore()
    assert (job.plan.backup_kms_key_arn, job.plan.storage_kms_key_arn) == (BACKUP_KMS, STORAGE_KMS)
    assert job.plan.bucket_kms_key_arns == (BUCKET_KMS,)
    assert job.plan.role_kms_key_arns == (BACKUP_KMS, BUCKET_KMS)


def test_the_network_role_and_option_group_carry_the_policy_and_the_plan() -> None:
    aws, job = restore()
    assert calls(aws, "ensure_placement") == [
        (
            NetworkSpec(
                vpc_id="vpc-9",
                subnet_ids=("subnet-a", "subnet-b"),
                bot_sources=("10.0.0.10/32",),
                allowed_source_security_groups=("sg-app",),
                allowed_cidrs=("10.0.0.0/16",),
            ),
        )
    ]
    assert calls(aws, "ensure_restore_role") == [
        (
            RoleSpec(
                role_name=ROLE,
                backup_buckets=("rdsbot-backups", "team-backups"),
                kms_key_arns=(BACKUP_KMS, BUCKET_KMS),
                placement=PLACEMENT,
            ),
        )
    ]
    assert calls(aws, "ensure_audit_role") == [
        (
            AuditRoleSpec(
                role_name="rdsbot-sqlserver-audit",
                bucket="rdsbot-audit",
                key_prefix="sqlaudit/sqlserver",
                placement=PLACEMENT,
            ),
        )
    ]
    assert (job.outputs.role_arn, job.outputs.audit_role_arn) == (ROLE_ARN, AUDIT_ROLE_ARN)
    assert calls(aws, "ensure_option_group") == [
        (
            OptionGroupSpec(
                name=OPTION_GROUP,
                engine="sqlserver-ee",
                major_version="15.00",
                role_arn=ROLE_ARN,
                audit_s3_bucket_arn="arn:aws:s3:::rdsbot-audit/sqlaudit/sqlserver",
                audit_role_arn=AUDIT_ROLE_ARN,
                audit_retention_hours=48,
            ),
        )
    ]
    assert job.created_resources == {"subnet_group": "rdsbot-vpc-1", "security_group": "sg-1",
                                     "option_group": OPTION_GROUP, "instance": INSTANCE}  # fmt: skip


def test_the_instance_is_created_with_every_option_of_the_plan() -> None:
    aws, job = restore()
    [(spec,)] = calls(aws, "create")
    assert spec == InstanceSpec(
        instance_id=INSTANCE, instance_class="db.m7i.xlarge", engine="sqlserver-ee",
        engine_version="15.00.4345.5.v1",
        license_model="license-included", storage_type="io1", allocated_storage_gb=500, iops=3000,
        storage_throughput=None, cores=2, threads_per_core=1, multi_az=True, kms_key_id=STORAGE_KMS,
        subnet_group_name="rdsbot-vpc-1", security_group_ids=("sg-1",), option_group_name=OPTION_GROUP,
        master_username="rdsadmin_restore",
        tags={"rdsbot-job-id": job.id, "rdsbot-requester": "U1", "rdsbot-drill": "false"},
    )  # fmt: skip
    assert job.outputs.instance_arn == f"arn:aws:rds:us-east-1:123456789012:db:{INSTANCE}"


def test_the_restore_task_is_started_and_polled_on_that_instance() -> None:
    aws, _ = restore()
    assert calls(aws, "find_task") == [(INSTANCE, "Prod_2026")]
    assert calls(aws, "start_restore") == [
        (INSTANCE, "Prod_2026", "arn:aws:s3:::team-backups/sql/prod.bak", BACKUP_KMS)
    ]
    assert set(calls(aws, "task_status")) == {(INSTANCE, 1)}


def test_each_stage_says_what_it_did() -> None:
    _, job = restore()
    details = {stage.name: stage.detail for stage in job.stages}
    assert str(details[StageName.VALIDATE]).startswith("1 file(s), 1.50 GiB")
    assert details == {
        **details,
        StageName.NETWORK: "vpc-1, subnet group rdsbot-vpc-1, sg-1",
        StageName.RESTORE_ROLE: ROLE_ARN,
        StageName.OPTION_GROUP: OPTION_GROUP,
        StageName.INSTANCE: f"{INSTANCE} available at {INSTANCE}.example:1433",
        StageName.RESTORE_START: "rds_restore_database task 1: arn:aws:s3:::team-backups/sql/prod.bak -> Prod_2026",
        StageName.RESTORE_WAIT: "task 1 SUCCESS",
        StageName.FINALIZE: f"Prod_2026 restored on {INSTANCE}.example:1433; server audit rdsbot_audit STARTED",
    }


def preflight_refusal(aws: FakeAws, command: str) -> str:
    service = RestoreService(MemoryStore().jobs, MemoryStore().audit, aws.gateways, POLICY, FakeClock())
    try:
        service.submit(parse_restore_command(command), "U1", approved=True)
    except RequestError as refused:
        return str(refused)
    raise AssertionError("the request was accepted")


def test_a_bucket_in_another_region_is_refused_with_both_regions_and_the_fix() -> None:
    aws = FakeAws(objects={"rdsbot-backups/prod-backup.bak": 1}, region="eu-west-1")
    assert preflight_refusal(aws, "prod-backup.bak db.m5.large") == (
        "backup: bucket rdsbot-backups is in eu-west-1 but the restore targets us-east-1; "
        "RDS restores only from a bucket in the instance's region; copy the backup or pick that region"
    )


def test_a_class_the_region_does_not_offer_is_refused_with_a_close_one_or_without_when_there_is_none() -> None:
    aws = FakeAws(objects={"rdsbot-backups/prod-backup.bak": 1})
    aws.orderable = {"db.m6i.xlarge", "db.r6i.large"}
    assert preflight_refusal(aws, "prod-backup.bak db.m5.xlarge") == (
        "instance_class: db.m5.xlarge is not orderable for sqlserver-se in us-east-1; try db.m6i.xlarge"
    )
    aws.orderable = {"db.x2iedn.large"}
    assert preflight_refusal(aws, "prod-backup.bak db.m5.xlarge --edition ee") == (
        "instance_class: db.m5.xlarge is not orderable for sqlserver-ee in us-east-1; try db.x2iedn.large"
    )


def test_the_builtin_table_note_names_the_region_and_edition() -> None:
    aws, store, clock = FakeAws(objects={"rdsbot-backups/prod-backup.bak": 2**30}), MemoryStore(), FakeClock()
    service = RestoreService(store.jobs, store.audit, aws.gateways, POLICY, clock)
    submitted = service.submit(parse_restore_command("prod-backup.bak db.m6i.large"), "U1", approved=True)
    assert submitted.preflight.notes == (
        "us-east-1 listed no orderable classes for sqlserver-se; checked against rdsbot's built-in table",
    )
    Engine(store.jobs, aws.gateways, POLICY, RecordingNotifier(), clock, poll_seconds=5).run_until_idle(
        timeout_seconds=600
    )
    validate = store.jobs.by_id[submitted.job.id].stage(StageName.VALIDATE).detail
    assert validate == "1 file(s), 1.00 GiB; " + submitted.preflight.notes[0]


def run_with_a_task_left_behind(lifecycle: TaskLifecycle) -> tuple[FakeAws, Any]:
    """A previous process started the restore and died before saving the task id: the task is on the instance."""
    aws, store, clock = FakeAws(), MemoryStore(), FakeClock()
    aws.tasks[7] = TaskStatus(task_id=7, database_name="prod_backup", lifecycle=lifecycle, percent_complete=40)
    service = RestoreService(store.jobs, store.audit, aws.gateways, POLICY, clock)
    job = service.submit(parse_restore_command("prod-backup.bak db.m6i.large"), "U1", approved=True).job
    Engine(store.jobs, aws.gateways, POLICY, RecordingNotifier(), clock, poll_seconds=5).run_until_idle(
        timeout_seconds=600
    )
    return aws, store.jobs.by_id[job.id]


def test_a_running_task_left_by_a_dead_process_is_adopted_not_started_again() -> None:
    aws, job = run_with_a_task_left_behind(TaskLifecycle.IN_PROGRESS)
    assert "rds_restore_database" not in aws.calls and job.outputs.task_id == 7
    assert job.stage(StageName.RESTORE_START).detail == "task 7 already sent for prod_backup"
    assert job.status == "succeeded"


@pytest.mark.parametrize("lifecycle", [TaskLifecycle.ERROR, TaskLifecycle.CANCELLED])
def test_a_failed_or_cancelled_task_left_behind_is_not_adopted(lifecycle: TaskLifecycle) -> None:
    aws, job = run_with_a_task_left_behind(lifecycle)
    assert aws.calls.count("rds_restore_database") == 1 and job.outputs.task_id not in (None, 7)


def test_waiting_stages_say_what_they_wait_for_and_the_end_links_the_instances_audit_folder() -> None:
    aws, store, clock = FakeAws(), MemoryStore(), FakeClock()
    aws.polls_until_available, aws.polls_until_restored = 2, 4
    service = RestoreService(store.jobs, store.audit, aws.gateways, POLICY, clock)
    job = service.submit(parse_restore_command("prod-backup.bak db.m6i.large"), "U1", approved=True).job
    engine = Engine(store.jobs, aws.gateways, POLICY, RecordingNotifier(), clock, poll_seconds=5)
    seen: set[tuple[StageName, str | None]] = set()
    for _ in range(50):
        engine.tick()
        current = store.jobs.by_id[job.id]
        seen |= {(stage.name, stage.detail) for stage in current.stages}
        clock.sleep(5)
    assert (StageName.INSTANCE, "instance creating, option group pending-apply") in seen
    assert (StageName.RESTORE_WAIT, "IN_PROGRESS 25%") in seen
    done = store.jobs.by_id[job.id]
    # AWS guide "Appendix.SQLServer.Options.Audit": files land at bucket/prefix/instance-name/audit-name/...
    assert done.outputs.sqlserver_audit_url == (
        f"https://console.example/rdsbot-audit/sqlaudit/sqlserver/{done.plan.target_instance_id}/rdsbot_audit/"
    )
    assert done.outputs.sqlserver_audit_extension == ".zip"
    assert [spec.audit_name for spec in aws.server_audits] == ["rdsbot_audit"]


def test_gp3_throughput_and_a_multi_file_backup_reach_aws() -> None:
    aws, store, clock = RecordingAws(), MemoryStore(), FakeClock()
    aws.objects = {f"team-backups/sql/prod_{n}.bak": 2**30 for n in (1, 2)}
    service = RestoreService(store.jobs, store.audit, aws.gateways, POLICY, clock)
    command = "s3://team-backups/sql/prod_* db.m6i.xlarge --storage-type gp3 --throughput 500"
    service.submit(parse_restore_command(command), "U1", approved=True)
    Engine(store.jobs, aws.gateways, POLICY, RecordingNotifier(), clock, poll_seconds=5).run_until_idle(
        timeout_seconds=600
    )
    assert {location.multi_file for location, _ in calls(aws, "resolve")} == {True}
    [(spec,)] = calls(aws, "create")
    assert (spec.storage_type, spec.storage_throughput) == ("gp3", 500)
