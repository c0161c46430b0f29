"""The /rds-backup half of FakeAws: the destination's objects and bucket region, the option group's role and its
grants, the database's state, rds_backup_database tasks that write their objects when they succeed."""

from __future__ import annotations

from bot.backup_target import BackupGrant, BackupTarget, BackupType
from bot.domain import InstanceState, TaskLifecycle, TaskStatus
from bot.role_evaluation import ALLOWED, RoleGaps, SimulatedPermission
from bot.role_needs import RoleNeeds

# What a group's SQLSERVER_BACKUP_RESTORE names when a test does not say: rdsbot's own plain restore role.
DEFAULT_BACKUP_ROLE = "arn:aws:iam::123456789012:role/rdsbot/rdsbot-native-restore"


class FakeBackupPorts:
    """Mixed into FakeAws, whose state (objects, tasks, databases, calls) it shares."""

    objects: dict[str, int]
    tasks: dict[int, TaskStatus]
    calls: list[str]
    region: str

    def __init__(self) -> None:
        # bucket -> region (default: self.region); option group -> IAM_ROLE_ARN; what was granted; database -> its
        # state_desc where not ONLINE; IAM's EvalDecision for each "action on resource" a role's own policies do not
        # allow (implicitDeny or explicitDeny; None: IAM cannot evaluate it).
        self.bucket_regions: dict[str, str] = {}
        self.backup_roles: dict[str, str | None] = {}  # None: the option names no role
        self.grants: list[tuple[str, BackupGrant]] = []
        self.database_states: dict[str, str] = {}
        self.role_decisions: dict[str, str] | None = {}
        self.asked_of_roles: list[tuple[str, RoleNeeds]] = []  # what IAM was asked of which role
        self.backups: dict[int, BackupTarget] = {}

    def database_exists(self, instance: InstanceState, database_name: str) -> bool:
        raise NotImplementedError

    def bucket_region(self, bucket: str) -> str:
        return self.bucket_regions.get(bucket, self.region)

    def existing_objects(self, bucket: str, keys: tuple[str, ...]) -> dict[str, int]:
        self.calls.append("existing_objects")
        return {key: self.objects[f"{bucket}/{key}"] for key in keys if f"{bucket}/{key}" in self.objects}

    def database_state(self, instance: InstanceState, database_name: str) -> str | None:
        if not self.database_exists(instance, database_name):
            return None
        return self.database_states.get(database_name, "ONLINE")

    def start_backup(
        self, instance: InstanceState, database_name: str, target: BackupTarget, kms_key_arn: str | None
    ) -> int:
        self.calls.append("rds_backup_database")
        task_id = len(self.tasks) + 1
        task_type = "BACKUP_DB" if target.backup_type == BackupType.FULL else "BACKUP_DB_DIFFERENTIAL"
        self.tasks[task_id] = TaskStatus(
            task_id=task_id,
            database_name=database_name,
            lifecycle=TaskLifecycle.CREATED,
            percent_complete=0,
            task_type=task_type,
            s3_object_arn=target.s3_arn,
        )
        self.backups[task_id] = target
        return task_id

    def backup_written(self, task_id: int) -> bool:
        """A succeeded backup task's objects land in the bucket; False when the task is no backup."""
        target = self.backups.get(task_id)
        if target is None:
            return False
        for key in target.object_keys():
            self.objects[f"{target.bucket}/{key}"] = 1000
        return True

    def grant_backup_writes(self, role_arn: str, grant: BackupGrant) -> None:
        self.calls.append("grant_backup_writes")
        self.grants.append((role_arn, grant))

    def missing_permissions(self, role_arn: str, needs: RoleNeeds) -> RoleGaps | None:
        """As iam:SimulatePrincipalPolicy answers: one decision per action and resource, sorted as aws/ sorts them."""
        self.calls.append("missing_permissions")
        self.asked_of_roles.append((role_arn, needs))
        if self.role_decisions is None:
            return None
        decisions = self.role_decisions
        return RoleGaps.from_simulation(
            SimulatedPermission(action, resource, decisions.get(f"{action} on {resource}", ALLOWED))
            for actions, resources in needs.resources().items()
            for action in actions
            for resource in resources
        )
