"""Small fakes for the ports: they keep state like AWS would and record every call the engine makes."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bot.aws_values import OptionGroupState
from bot.domain import (
    BackupLocation,
    BackupSet,
    InstanceState,
    NetworkPlacement,
    TaskLifecycle,
    TaskStatus,
)
from bot.errors import AwsError, RequestError, RestoreTaskError, StageError
from bot.orderable import OrderableOptions
from bot.ports import (
    AuditRoleSpec,
    EnsuredOptionGroup,
    InstanceSpec,
    NetworkSpec,
    OptionGroupCopySpec,
    OptionGroupSpec,
    RoleSpec,
)
from bot.restore_chain import ChainStep, ListedObject
from bot.server_audit import ServerAuditSpec, ServerAuditState
from bot.stages import Gateways
from bot.tde import StoredObject, TdeCertificate
from tests.unit.fake_backups import DEFAULT_BACKUP_ROLE, FakeBackupPorts

# Re-exported: the clock, notifier and stores' fakes live beside, and tests import them from here as always.
from tests.unit.fake_engine_ports import FakeClock as FakeClock, RecordingNotifier as RecordingNotifier
from tests.unit.fake_stores import (
    FakeSharedResources as FakeSharedResources,
    MemoryChatThreads as MemoryChatThreads,
    WriteOnceSink as WriteOnceSink,
)

# DBSnapshotIdentifier (AWS API reference 'API_DeleteDBInstance', FinalDBSnapshotIdentifier): 1-255 letters, digits,
# hyphens; a letter first; no two hyphens in a row; no hyphen last.
SNAPSHOT_ID = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,254}(?<!-)$")


class FakeAws(FakeBackupPorts):
    """All six ports over one dict of state, with an ordered call log."""

    def __init__(self, objects: dict[str, int] | None = None, region: str = "us-east-1") -> None:
        self.objects = objects if objects is not None else {"rdsbot-backups/prod-backup.bak": 5 * 2**30}
        self.region = region
        self.calls: list[str] = []
        self.instances: dict[str, InstanceState] = {}
        self.tasks: dict[int, TaskStatus] = {}
        self.polls_until_available = 1
        self.polls_until_restored = 2
        self.polls_until_deleted = 0  # looks an instance stays `deleting` after DeleteDBInstance
        self.snapshots: dict[str, dict[str, str]] = {}  # final snapshot name -> the tags it copied
        self._polls: dict[str, int] = {}
        self._task_instance: dict[int, str] = {}
        self.orderable: set[str] | None = None
        # What DescribeOrderableDBInstanceOptions lists for each class in `orderable` (nothing when that is None).
        self.engine_versions = {"14.00.3465.1.v1", "15.00.4345.5.v1", "15.00.4415.2.v1", "16.00.4140.3.v1"}
        self.listings_asked: list[str] = []  # the engines whose DescribeOrderableDBInstanceOptions listing was read
        self.account = "123456789012"
        # bucket/key -> the SSE-KMS key HeadObject would report for it
        self.object_keys: dict[str, str] = {}
        self.last_modified: datetime | None = None  # what S3 would say of the newest file
        self.modified: dict[str, datetime] = {}  # bucket/key -> LastModified in a listing (default: 2026-01-01)
        # What the stages asked for, to check which key went where.
        self.role_specs: list[RoleSpec] = []
        self.instance_specs: list[InstanceSpec] = []
        self.restore_keys: list[str | None] = []
        self.server_audits: list[ServerAuditSpec] = []
        # instance id -> its databases; option group -> its options (as RDS's own: SQLSERVER_BACKUP_RESTORE ...)
        self.databases: dict[str, set[str]] = {}
        self.option_groups: dict[str, set[str]] = {}
        self.option_group_copies: list[OptionGroupCopySpec] = []
        FakeBackupPorts.__init__(self)
        # bucket/key -> the names of its user metadata (rds-tde-pwd ...); instance id -> its user TDE certificates
        self.metadata: dict[str, set[str]] = {}
        self.bodies: dict[str, bytes] = {}  # bucket/key -> what GetObject reads (a certificate file)
        self.tde_certificates: dict[str, dict[str, str]] = {}  # instance id -> name -> thumbprint

    # BackupStore
    def resolve(self, location: BackupLocation, default_bucket: str | None) -> BackupSet:
        self.calls.append("resolve")
        bucket = location.bucket or default_bucket or ""
        prefix = f"{bucket}/{location.key}"
        keys = [k for k in self.objects if (k.startswith(prefix) if location.multi_file else k == prefix)]
        if not keys:
            raise RequestError("backup", f"s3://{prefix} does not exist")
        if len(keys) > 10:
            raise RequestError("backup", f"{len(keys)} files share the prefix; RDS restores at most 10")
        return BackupSet(
            bucket=bucket,
            keys=tuple(k.split("/", 1)[1] for k in keys),
            total_bytes=sum(self.objects[k] for k in keys),
            region=self.region,
            kms_key_arns=tuple(sorted({self.object_keys[k] for k in keys if k in self.object_keys})),
            last_modified=self.last_modified,
        )

    def read_object(self, bucket: str, key: str) -> bytes:
        self.calls.append("read_object")
        return self.bodies.get(f"{bucket}/{key}", f"certificate {bucket}/{key}".encode())

    def head_object(self, bucket: str, key: str, field: str) -> StoredObject:
        self.calls.append("head_object")
        if f"{bucket}/{key}" not in self.objects:
            raise RequestError(field, f"s3://{bucket}/{key} does not exist")
        return StoredObject(
            region=self.region,
            kms_key_arn=self.object_keys.get(f"{bucket}/{key}"),
            metadata_names=frozenset(self.metadata.get(f"{bucket}/{key}", set())),
            size=self.objects[f"{bucket}/{key}"],
        )

    # AccountIdentity
    def account_id(self) -> str:
        self.calls.append("account_id")
        return self.account

    def latest_backup(self, bucket: str, prefix: str) -> BackupSet | None:
        return None

    def list_objects(self, bucket: str, prefix: str) -> list[ListedObject]:
        self.calls.append("list_objects")
        start = f"{bucket}/{prefix}"
        epoch = datetime(2026, 1, 1, tzinfo=UTC)
        return [
            ListedObject(key=k.split("/", 1)[1], modified=self.modified.get(k, epoch))
            for k in sorted(self.objects)
            if k.startswith(start)
        ]

    def console_url(self, bucket: str, key_or_prefix: str) -> str:
        return f"https://console.example/{bucket}/{key_or_prefix}"

    def presigned_url(self, bucket: str, key: str, expires_seconds: int = 900) -> str:
        return f"https://presigned.example/{bucket}/{key}"

    # NetworkGateway, RoleGateway, OptionGroupGateway
    def ensure_placement(self, spec: NetworkSpec) -> NetworkPlacement:
        self.calls.append("ensure_placement")
        return NetworkPlacement(vpc_id="vpc-1", subnet_group_name="rdsbot-vpc-1", security_group_id="sg-1")

    def ensure_restore_role(self, spec: RoleSpec) -> str:
        self.calls.append("ensure_restore_role")
        self.role_specs.append(spec)
        return f"arn:aws:iam::123456789012:role/{spec.role_name}"

    def ensure_audit_role(self, spec: AuditRoleSpec) -> str:
        self.calls.append("ensure_audit_role")
        return f"arn:aws:iam::123456789012:role/rdsbot/{spec.role_name}"

    def ensure_option_group(self, spec: OptionGroupSpec) -> EnsuredOptionGroup:
        self.calls.append("ensure_option_group")
        self.option_groups.setdefault(spec.name, {"SQLSERVER_BACKUP_RESTORE"})
        return EnsuredOptionGroup(name=spec.name, created=False)

    def describe(self, name: str) -> OptionGroupState | None:
        self.calls.append("describe_option_group")
        found = self.option_groups.get(name)
        if found is None:
            return None
        # RDS requires IAM_ROLE_ARN on SQLSERVER_BACKUP_RESTORE (AWS guide "SQLServer.Procedural.Importing.Native.
        # Enabling"): a group with the option names rdsbot's plain restore role unless a test names another (or None).
        role = self.backup_roles.get(name, DEFAULT_BACKUP_ROLE if "SQLSERVER_BACKUP_RESTORE" in found else None)
        return OptionGroupState(name=name, options=frozenset(found), backup_restore_role_arn=role)

    def ensure_copy(self, spec: OptionGroupCopySpec) -> EnsuredOptionGroup:
        self.calls.append("ensure_copy_option_group")
        self.option_group_copies.append(spec)
        created = spec.name not in self.option_groups
        copied = self.option_groups.get(spec.source or "", set())
        self.option_groups[spec.name] = {*copied, "SQLSERVER_BACKUP_RESTORE"}
        self.backup_roles[spec.name] = spec.role_arn
        return EnsuredOptionGroup(name=spec.name, created=created)

    def apply_option_group(self, instance_id: str, option_group: str) -> None:
        """As ModifyDBInstance with OptionGroupName and ApplyImmediately: the group must exist; the instance is
        `modifying`, its new group `pending-apply`, until `polls_until_available` looks have passed."""
        self.calls.append("apply_option_group")
        if option_group not in self.option_groups:
            raise AwsError("ModifyDBInstance", "OptionGroupNotFoundFault", f"{option_group} not found")
        state = self.instances[instance_id]
        self._polls[instance_id] = 0
        self.instances[instance_id] = state.model_copy(
            update={"status": "modifying", "option_group_name": option_group, "option_group_status": "pending-apply"}
        )

    # InstanceGateway
    def find(self, instance_id: str) -> InstanceState | None:
        self.calls.append("find")
        return self._step(instance_id)

    def create(self, spec: InstanceSpec) -> InstanceState:
        self.calls.append("create_instance")
        self.instance_specs.append(spec)
        state = InstanceState(
            instance_id=spec.instance_id,
            status="creating",
            instance_class=spec.instance_class,
            option_group_name=spec.option_group_name,
            option_group_status="pending-apply",
            engine=spec.engine,
            engine_version="15.00.4415.2.v1",
            tags={**spec.tags, "managed-by": "rdsbot"},  # as aws/instances.py tags every instance
        )
        self.instances[spec.instance_id] = state
        return state

    def describe_many(self, instance_ids: list[str]) -> dict[str, InstanceState]:
        self.calls.append(f"describe_many:{len(instance_ids)}")
        return {i: s for i in instance_ids if (s := self._step(i)) is not None}

    def _step(self, instance_id: str) -> InstanceState | None:
        state = self.instances.get(instance_id)
        if state is not None and state.status == "deleting":
            looks = self._polls[f"delete:{instance_id}"] = self._polls.get(f"delete:{instance_id}", 0) + 1
            if looks > self.polls_until_deleted:
                self.instances.pop(instance_id, None)
                return None
            return state
        if state is None or state.ready:
            return state
        self._polls[instance_id] = self._polls.get(instance_id, 0) + 1
        if self._polls[instance_id] > self.polls_until_available:
            state = state.model_copy(
                update={
                    "status": "available",
                    "option_group_status": "in-sync",
                    "endpoint_address": f"{instance_id}.example",
                    "endpoint_port": 1433,
                }
            )
            self.instances[instance_id] = state
        return state

    def orderable_options(
        self, engine: str, *, engine_version: str | None = None, instance_class: str | None = None
    ) -> OrderableOptions:
        """As RDS: each class in `orderable` with each of `engine_versions` (nothing when `orderable` is None),
        narrowed by the filters given."""
        self.calls.append("orderable_options")
        self.listings_asked.append(engine)
        pairs = frozenset((cls, version) for cls in self.orderable or () for version in self.engine_versions)
        return OrderableOptions(engine, pairs).narrowed(engine_version, instance_class)

    def delete(self, instance_id: str, final_snapshot_id: str | None = None) -> None:
        """As DeleteDBInstance: a final snapshot name must obey the DBSnapshotIdentifier rules (AWS API reference
        'API_DeleteDBInstance'); the instance lingers in `deleting` for `polls_until_deleted` looks."""
        if final_snapshot_id is not None and not SNAPSHOT_ID.match(final_snapshot_id):
            raise AwsError(
                "DeleteDBInstance", "InvalidParameterValue", f"{final_snapshot_id} is not a valid identifier"
            )
        self.calls.append("delete_instance")  # every call, so a test sees a second one asked of a deleting instance
        state = self.instances.get(instance_id)
        if state is None or state.status == "deleting":
            return
        if final_snapshot_id is not None:
            self.snapshots[final_snapshot_id] = dict(state.tags)
        if self.polls_until_deleted:
            self.instances[instance_id] = state.model_copy(update={"status": "deleting"})
            self._polls[f"delete:{instance_id}"] = 0
        else:
            self.instances.pop(instance_id, None)

    # NativeRestore
    def start_restore(
        self, instance: InstanceState, database_name: str, s3_arn: str, kms_key_arn: str | None = None
    ) -> int:
        self.calls.append("rds_restore_database")
        self.restore_keys.append(kms_key_arn)
        if self.database_exists(instance, database_name):
            # "Database ... already exists" (AWS guide "SQLServer.Procedural.Importing", limitations): no task.
            raise RestoreTaskError(f"Database {database_name} already exists", "already exists")
        task_id = len(self.tasks) + 1
        self.tasks[task_id] = TaskStatus(
            task_id=task_id, database_name=database_name, lifecycle=TaskLifecycle.CREATED, percent_complete=0
        )
        self._task_instance[task_id] = instance.instance_id
        return task_id

    def start_chain_step(
        self, instance: InstanceState, database_name: str, step: ChainStep, kms_key_arn: str | None = None
    ) -> int:
        self.calls.append(f"chain:{step.task_type}" + (f"@stopat={step.stop_at}" if step.stop_at else ""))
        task_id = len(self.tasks) + 1
        self.tasks[task_id] = TaskStatus(
            task_id=task_id,
            database_name=database_name,
            lifecycle=TaskLifecycle.CREATED,
            percent_complete=0,
            task_type=step.task_type,
            s3_object_arn=step.s3_arn,
        )
        return task_id

    def tasks_for(self, instance: InstanceState, database_name: str) -> list[TaskStatus]:
        return [t for t in self.tasks.values() if t.database_name == database_name]

    def database_exists(self, instance: InstanceState, database_name: str) -> bool:
        # Names differing only in case collide under the default collation (same guide).
        return database_name.casefold() in {d.casefold() for d in self.databases.get(instance.instance_id, set())}

    def drop_database(self, instance: InstanceState, database_name: str) -> None:
        self.calls.append("rds_drop_database")
        if not self.database_exists(instance, database_name):
            # SQL Server message 3701, as the sandbox's rds_drop_database answers.
            raise StageError(f"Cannot drop the database '{database_name}', because it does not exist.")
        held = self.databases[instance.instance_id]
        held -= {d for d in held if d.casefold() == database_name.casefold()}

    def user_tde_certificates(self, instance: InstanceState) -> dict[str, str]:
        self.calls.append("rds_fn_list_user_tde_certificates")
        return dict(self.tde_certificates.get(instance.instance_id, {}))

    def restore_tde_certificate(self, instance: InstanceState, certificate: TdeCertificate) -> None:
        self.calls.append("rds_restore_tde_certificate")
        held = self.tde_certificates.setdefault(instance.instance_id, {})
        if certificate.certificate_name in held or certificate.thumbprint in held.values():  # message 15232
            raise RestoreTaskError(f"certificate {certificate.certificate_name} already exists", "already exists")
        held[certificate.certificate_name] = certificate.thumbprint or ""

    def find_task(self, instance: InstanceState, database_name: str) -> TaskStatus | None:
        matching = [t for t in self.tasks.values() if t.database_name == database_name]
        return matching[-1] if matching else None

    def task_status(self, instance: InstanceState, task_id: int) -> TaskStatus:
        task = self.tasks[task_id]
        if not task.finished:
            percent = min(100, task.percent_complete + 100 // self.polls_until_restored)
            lifecycle = TaskLifecycle.SUCCESS if percent >= 100 else TaskLifecycle.IN_PROGRESS
            task = task.model_copy(update={"percent_complete": percent, "lifecycle": lifecycle})
            self.tasks[task_id] = task
            if lifecycle == TaskLifecycle.SUCCESS and not self.backup_written(task_id):
                self.databases.setdefault(self._task_instance.get(task_id, ""), set()).add(task.database_name)
        return task

    def cancel(self, instance: InstanceState, task_id: int) -> None:
        self.calls.append("rds_cancel_task")
        task = self.tasks[task_id]
        if not task.finished:
            self.tasks[task_id] = task.model_copy(update={"lifecycle": TaskLifecycle.CANCELLED})

    # ServerAuditGateway
    def ensure_server_audit(self, instance: InstanceState, spec: ServerAuditSpec) -> ServerAuditState:
        self.calls.append("ensure_server_audit")
        self.server_audits.append(spec)
        return ServerAuditState(
            audit_name=spec.audit_name,
            status="STARTED",
            file_path=f"D:\\rdsdbdata\\SQLAudit\\{spec.audit_name}_0.sqlaudit",
            specification_enabled=True,
            action_groups=spec.action_groups,
        )

    def gateways(self, region: str = "us-east-1") -> Gateways:
        return Gateways(
            backups=self,
            network=self,
            roles=self,
            option_groups=self,
            instances=self,
            native_restore=self,
            identity=self,
            server_audit=self,
        )

    @property
    def mutating(self) -> list[str]:
        return [
            c
            for c in self.calls
            if c.startswith("chain:")  # a restore chain step sent
            or c
            in {
                "ensure_placement",
                "ensure_restore_role",
                "ensure_audit_role",
                "ensure_option_group",
                "ensure_copy_option_group",
                "apply_option_group",
                "create_instance",
                "delete_instance",
                "rds_restore_database",
                "rds_cancel_task",
                "ensure_server_audit",
                "rds_restore_tde_certificate",
            }
        ]
