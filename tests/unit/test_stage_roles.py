"""The role stages and what the later stages take from them, each rule alone on the fakes: the restore and audit
roles go under the policy's path and boundary, the option group gets the audit role (ensuring it after an
upgrade) and no audit bucket without one, a stage missing an earlier stage's output is a KeyError naming it, and
the instance and restore stages pass on the policy, the job and the task exactly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.domain import InstanceState, Job, TaskLifecycle, TaskStatus
from bot.errors import RestoreTaskError, StageError
from bot.ports import AuditRoleSpec, OptionGroupSpec, RolePlacement
from bot.stages import (
    Done,
    StageContext,
    Waiting,
    _instance,
    _option_group,
    _restore_role,
    _restore_start,
    _restore_wait,
)
from config.policy_model import Policy, parse_policy
from tests.support.factories import BOT_NETWORK, make_plan
from tests.unit.fakes import FakeAws

BOUNDARY = "arn:aws:iam::123456789012:policy/team-boundary"
PLACEMENT = RolePlacement(path="/team/rdsbot/", permissions_boundary_arn=BOUNDARY)
BACKUPS = {"default_bucket": "acme-backups"}
AUDITED = parse_policy(
    {
        "backups": BACKUPS,
        "network": BOT_NETWORK,
        "audit": {"bucket": "team-audit", "prefix": "trail", "retention_hours": 24},
        "roles": {"path": "/team/rdsbot/", "permissions_boundary_arn": BOUNDARY},
        "engine": {"master_username": "team_restore"},
    }
)
UNAUDITED = parse_policy({"backups": BACKUPS, "network": BOT_NETWORK})
AUDIT_ROLE_ARN = "arn:aws:iam::123456789012:role/rdsbot/rdsbot-sqlserver-audit"


class RecordingAws(FakeAws):
    def __init__(self) -> None:
        super().__init__(region="eu-west-1")
        self.audit_specs: list[AuditRoleSpec] = []
        self.option_group_specs: list[OptionGroupSpec] = []

    def ensure_audit_role(self, spec: AuditRoleSpec) -> str:
        self.audit_specs.append(spec)
        return super().ensure_audit_role(spec)

    def ensure_option_group(self, spec: OptionGroupSpec):
        self.option_group_specs.append(spec)
        return super().ensure_option_group(spec)


def _job(is_drill: bool = False) -> Job:
    return Job(
        id="job-7",
        requester="U7",
        plan=make_plan(),
        created_at=datetime(2026, 11, 25, 9, 0, tzinfo=UTC),
        is_drill=is_drill,
    )


def _ctx(aws: FakeAws, policy: Policy = AUDITED) -> StageContext:
    return StageContext(gateways=aws.gateways(), policy=policy)


# roles: placement and the audit role


def test_restore_role_and_audit_role_go_under_the_policys_path_and_boundary() -> None:
    aws, job = RecordingAws(), _job()
    result = _restore_role(job, _ctx(aws))
    assert [spec.placement for spec in aws.role_specs] == [PLACEMENT]
    assert aws.audit_specs == [
        AuditRoleSpec(
            role_name="rdsbot-sqlserver-audit", bucket="team-audit", key_prefix="trail/sqlserver", placement=PLACEMENT
        )
    ]
    assert result == Done(f"arn:aws:iam::123456789012:role/{aws.role_specs[0].role_name}")
    assert (job.outputs.role_arn, job.outputs.audit_role_arn) == (result.detail, AUDIT_ROLE_ARN)


def test_restore_role_without_an_audit_bucket_makes_no_audit_role() -> None:
    aws, job = RecordingAws(), _job()
    _restore_role(job, _ctx(aws, UNAUDITED))
    assert aws.audit_specs == []
    assert job.outputs.audit_role_arn is None
    assert aws.role_specs[0].placement == RolePlacement(path="/rdsbot/", permissions_boundary_arn=None)


# option group: the audit role and bucket


def test_option_group_ensures_the_audit_role_when_the_role_stage_predates_it() -> None:
    aws, job = RecordingAws(), _job()
    job.outputs.role_arn = "arn:aws:iam::123456789012:role/rdsbot-native-restore"
    _option_group(job, _ctx(aws))
    assert len(aws.audit_specs) == 1
    spec = aws.option_group_specs[0]
    assert (spec.role_arn, spec.audit_role_arn, spec.audit_s3_bucket_arn, spec.audit_retention_hours) == (
        "arn:aws:iam::123456789012:role/rdsbot-native-restore",
        AUDIT_ROLE_ARN,
        "arn:aws:s3:::team-audit/trail/sqlserver",
        24,
    )


def test_option_group_without_an_audit_bucket_has_no_audit_bucket_or_role() -> None:
    aws, job = RecordingAws(), _job()
    job.outputs.role_arn = "arn:aws:iam::123456789012:role/rdsbot-native-restore"
    _option_group(job, _ctx(aws, UNAUDITED))
    spec = aws.option_group_specs[0]
    assert (spec.audit_role_arn, spec.audit_s3_bucket_arn) == (None, None)
    assert aws.audit_specs == []


# a stage missing an earlier stage's output: a KeyError naming it


def test_option_group_without_the_restore_role_is_a_key_error_naming_role_arn() -> None:
    with pytest.raises(KeyError) as excinfo:
        _option_group(_job(), _ctx(RecordingAws()))
    assert excinfo.value.args == ("role_arn",)


@pytest.mark.parametrize("missing", ["subnet_group", "security_group_id", "option_group"])
def test_instance_without_an_earlier_output_is_a_key_error_naming_it(missing: str) -> None:
    job = _job()
    outputs = {"subnet_group": "rdsbot-vpc-1", "security_group_id": "sg-1", "option_group": "og-1"}
    for name, value in outputs.items():
        if name != missing:
            setattr(job.outputs, name, value)
    with pytest.raises(KeyError) as excinfo:
        _instance(job, _ctx(RecordingAws()))
    assert excinfo.value.args == (missing,)


def _ready(job: Job, aws: FakeAws, tags: dict[str, str] | None = None) -> None:
    aws.instances[job.plan.target_instance_id] = InstanceState(
        instance_id=job.plan.target_instance_id,
        status="available",
        instance_class="db.m5.large",
        option_group_status="in-sync",
        endpoint_address="restore-sales.example",
        endpoint_port=1433,
        tags={"managed-by": "rdsbot", "rdsbot-job-id": job.id} if tags is None else tags,
    )


def test_restore_wait_without_a_task_is_a_key_error_naming_task_id() -> None:
    aws, job = RecordingAws(), _job()
    _ready(job, aws)
    with pytest.raises(KeyError) as excinfo:
        _restore_wait(job, _ctx(aws))
    assert excinfo.value.args == ("task_id",)


# instance: what the policy and the job give the create, and the refusals


def _placed(job: Job) -> Job:
    job.outputs.subnet_group, job.outputs.security_group_id, job.outputs.option_group = "sng-1", "sg-1", "og-1"
    return job


@pytest.mark.parametrize(("is_drill", "drill_tag"), [(True, "true"), (False, "false")])
def test_instance_gets_the_policys_master_user_and_the_jobs_tags(is_drill: bool, drill_tag: str) -> None:
    aws, job = RecordingAws(), _placed(_job(is_drill))
    result = _instance(job, _ctx(aws))
    spec = aws.instance_specs[0]
    assert (spec.master_username, spec.subnet_group_name, spec.security_group_ids, spec.option_group_name) == (
        "team_restore",
        "sng-1",
        ("sg-1",),
        "og-1",
    )
    assert spec.tags == {"rdsbot-job-id": "job-7", "rdsbot-requester": "U7", "rdsbot-drill": drill_tag}
    assert job.created_resources == {"instance": "restore-sales"}
    assert result == Waiting("instance creating, option group pending-apply")


def test_instance_waiting_without_an_option_group_status_says_pending() -> None:
    aws, job = RecordingAws(), _placed(_job())
    _ready(job, aws)
    aws.instances["restore-sales"] = aws.instances["restore-sales"].model_copy(
        update={"status": "modifying", "option_group_status": None}
    )
    aws.polls_until_available = 5
    assert _instance(job, _ctx(aws)) == Waiting("instance modifying, option group pending")


def test_instance_of_the_same_name_not_made_by_the_job_is_refused() -> None:
    aws, job = RecordingAws(), _placed(_job())
    _ready(job, aws, tags={"managed-by": "rdsbot", "rdsbot-job-id": "job-other"})
    with pytest.raises(StageError) as excinfo:
        _instance(job, _ctx(aws))
    assert str(excinfo.value) == (
        "an RDS instance named restore-sales already exists and was not created by job job-7; choose another --name"
    )
    assert job.created_resources == {}


def test_restore_start_on_a_vanished_instance_names_it() -> None:
    with pytest.raises(StageError) as excinfo:
        _restore_start(_job(), _ctx(RecordingAws()))
    assert str(excinfo.value) == "instance restore-sales disappeared; it was deleted outside rdsbot"


# restore wait: a failed task keeps RDS's task_info


@pytest.mark.parametrize("lifecycle", [TaskLifecycle.ERROR, TaskLifecycle.CANCELLED])
def test_a_failed_restore_task_carries_its_reason_and_task_info(lifecycle: TaskLifecycle) -> None:
    aws, job = RecordingAws(), _job()
    _ready(job, aws)
    aws.tasks[3] = TaskStatus(
        task_id=3,
        database_name="sales",
        lifecycle=lifecycle,
        percent_complete=40,
        task_info="Aborted the task because of a task failure",
        reason="the backup is damaged",
    )
    job.outputs.task_id = 3
    with pytest.raises(RestoreTaskError) as excinfo:
        _restore_wait(job, _ctx(aws))
    assert (excinfo.value.reason, excinfo.value.task_info) == (
        "the backup is damaged",
        "Aborted the task because of a task failure",
    )
