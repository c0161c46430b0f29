"""Restore instances on RDS, against a moto server over HTTP."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from aws.clients import AwsClients
from aws.instances import Instances, create_arguments
from aws.network import Network
from aws.option_groups import OptionGroups
from aws.secrets import master_credentials
from bot.errors import AwsError, StageError
from bot.ports import InstanceSpec, NetworkSpec, OptionGroupSpec
from tests.support.aws_calls import CallRecorder

OPTION_GROUP = "rdsbot-sqlserver-se-15-00"
VERSIONS = ("15.00.4415.2.v1", "16.00.4140.3.v1", "15.00.4430.1.v1")


@pytest.fixture
def instances(aws: AwsClients) -> Instances:
    return Instances(aws.rds)


@pytest.fixture
def spec(aws: AwsClients) -> InstanceSpec:
    return placed_spec(aws)


def placed_spec(aws: AwsClients) -> InstanceSpec:
    """An instance spec whose subnet group, security group and option group exist on the moto server."""
    placement = Network(aws.ec2, aws.rds).ensure_placement(NetworkSpec(allowed_cidrs=("10.20.0.0/16",)))
    OptionGroups(aws.rds).ensure_option_group(
        OptionGroupSpec(
            name=OPTION_GROUP,
            engine="sqlserver-se",
            major_version="15.00",
            role_arn="arn:aws:iam::123456789012:role/rdsbot-restore",
            audit_s3_bucket_arn=None,
        )
    )
    return InstanceSpec(
        instance_id="restore-sales-1",
        instance_class="db.m5.large",
        engine="sqlserver-se",
        engine_version="15.00.4415.2.v1",
        license_model="license-included",
        storage_type="gp3",
        allocated_storage_gb=100,
        iops=3000,
        storage_throughput=125,
        cores=2,
        threads_per_core=1,
        subnet_group_name=placement.subnet_group_name,
        security_group_ids=(placement.security_group_id,),
        option_group_name=OPTION_GROUP,
        tags={"rdsbot-job-id": "job-1", "rdsbot-requester": "U123", "rdsbot-drill": "false"},
    )


def named(spec: InstanceSpec, instance_id: str) -> InstanceSpec:
    return spec.model_copy(update={"instance_id": instance_id})


def test_created_instance_carries_the_jobs_tags_and_the_option_group(instances, spec):
    state = instances.create(spec)

    found = instances.find(spec.instance_id)
    assert found == state
    assert state.status == "available"  # moto: instances are available at once
    assert state.instance_class == "db.m5.large"
    assert state.tags == {
        "rdsbot-job-id": "job-1",
        "rdsbot-requester": "U123",
        "rdsbot-drill": "false",
        "managed-by": "rdsbot",
    }
    assert (state.option_group_name, state.option_group_status) == (OPTION_GROUP, "in-sync")
    assert state.endpoint_address and state.endpoint_port == 1433
    assert state.arn and state.arn.endswith(":db:restore-sales-1")
    assert state.ready


def test_instance_is_private_encrypted_and_placed_in_our_network(aws, instances, spec):
    instances.create(spec)

    raw = aws.rds.describe_db_instances(DBInstanceIdentifier=spec.instance_id)["DBInstances"][0]
    assert raw["PubliclyAccessible"] is False
    assert raw["StorageEncrypted"] is True
    assert raw["CopyTagsToSnapshot"] is True
    assert raw["MultiAZ"] is False
    assert (raw["StorageType"], raw["AllocatedStorage"], raw["Iops"], raw["StorageThroughput"]) == (
        "gp3",
        100,
        3000,
        125,
    )
    assert raw["LicenseModel"] == "license-included"
    assert raw["DBSubnetGroup"]["DBSubnetGroupName"] == spec.subnet_group_name
    assert [g["VpcSecurityGroupId"] for g in raw["VpcSecurityGroups"]] == list(spec.security_group_ids)


def test_create_asks_for_a_managed_password_and_the_requested_cores(spec):
    # moto accepts ProcessorFeatures but does not echo them, so the request itself is checked.
    args = create_arguments(spec)

    assert args["ManageMasterUserPassword"] is True
    assert "MasterUserPassword" not in args
    assert args["ProcessorFeatures"] == [{"Name": "coreCount", "Value": "2"}, {"Name": "threadsPerCore", "Value": "1"}]
    assert "KmsKeyId" not in args


def test_master_credentials_come_from_the_rds_managed_secret(aws, instances, spec):
    state = instances.create(spec)

    assert state.master_secret_arn
    username, password = master_credentials(aws.secretsmanager, state.master_secret_arn)
    # moto writes its own fixed username into the secret rather than MasterUsername; real RDS writes ours.
    assert username and password


def test_unreadable_secret_does_not_leak_its_text(aws):
    arn = aws.secretsmanager.create_secret(Name="not-rds", SecretString="hunter2-not-json")["ARN"]

    with pytest.raises(StageError) as caught:
        master_credentials(aws.secretsmanager, arn)

    assert "hunter2" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_describe_many_makes_one_call_for_three_instances(aws, instances, spec):
    for name in ("restore-a", "restore-b", "restore-c"):
        instances.create(named(spec, name))
    calls = CallRecorder(aws)

    states = instances.describe_many(["restore-a", "restore-b", "restore-c", "restore-gone"])

    assert calls.calls == [("rds", "DescribeDBInstances")]
    assert set(states) == {"restore-a", "restore-b", "restore-c"}
    assert all(s.option_group_name == OPTION_GROUP for s in states.values())


def test_describe_many_with_no_ids_calls_nothing(aws, instances):
    calls = CallRecorder(aws)

    assert instances.describe_many([]) == {}
    assert calls.calls == []


def test_find_returns_none_for_an_unknown_instance(instances):
    assert instances.find("restore-never") is None


def test_create_again_for_the_same_job_returns_the_instance_without_a_second_one(aws, instances, spec):
    first = instances.create(spec)
    calls = CallRecorder(aws)

    again = instances.create(spec)

    assert again == first
    assert calls.count("CreateDBInstance") == 1
    assert len(aws.rds.describe_db_instances()["DBInstances"]) == 1


def test_an_instance_with_that_id_made_by_someone_else_is_not_adopted(aws, instances, spec):
    aws.rds.create_db_instance(
        DBInstanceIdentifier=spec.instance_id,
        DBInstanceClass="db.m5.large",
        Engine="sqlserver-se",
        MasterUsername="someone",
        ManageMasterUserPassword=True,
        AllocatedStorage=20,
    )

    with pytest.raises(StageError, match="already exists and was not created by job"):
        instances.create(spec)


def test_missing_option_group_fails_with_the_aws_error_code(instances, spec):
    with pytest.raises(AwsError) as caught:
        instances.create(spec.model_copy(update={"option_group_name": "no-such-group"}))

    assert caught.value.operation == "CreateDBInstance"
    assert caught.value.code == "OptionGroupNotFoundFault"
    assert caught.value.request_id


def test_create_always_sends_the_engine_version_so_rds_runs_the_option_groups_major(instances, spec):
    # Without EngineVersion RDS runs the engine's default version (API reference "API_CreateDBInstance"), which the
    # 15.00 option group does not serve; the major alone lets RDS pick its default minor of that major.
    assert create_arguments(spec)["EngineVersion"] == "15.00.4415.2.v1"
    exact = instances.create(spec)
    major_only = instances.create(named(spec, "restore-sales-2").model_copy(update={"engine_version": "15.00"}))
    assert (exact.engine_version, major_only.engine_version) == ("15.00.4415.2.v1", "15.00")


def test_one_listing_reads_every_page_of_the_engines_classes_and_versions(aws):
    # API reference "API_DescribeOrderableDBInstanceOptions": answers are paged by Marker, MaxRecords at most 1000.
    # moto lists nothing for SQL Server, so the pages are stubbed on a real client; Stubber refuses any other call
    # or parameter, so this is the whole listing: the engine alone, the largest page.
    stubber = Stubber(aws.rds)
    wanted = {"Engine": "sqlserver-se", "MaxRecords": 1000}
    options = [
        {"Engine": "sqlserver-se", "DBInstanceClass": cls, "EngineVersion": v}
        for cls in ("db.m5.large", "db.r6i.xlarge")
        for v in VERSIONS
    ]
    options.append({"Engine": "sqlserver-se", "DBInstanceClass": "db.m5.large", "EngineVersion": VERSIONS[0]})
    stubber.add_response(
        "describe_orderable_db_instance_options", {"OrderableDBInstanceOptions": options[:4], "Marker": "m"}, wanted
    )
    stubber.add_response(
        "describe_orderable_db_instance_options", {"OrderableDBInstanceOptions": options[4:]}, {**wanted, "Marker": "m"}
    )
    with stubber:
        listed = Instances(aws.rds).orderable_options("sqlserver-se")
    stubber.assert_no_pending_responses()
    assert listed.versions("db.m5.large") == listed.versions("db.r6i.xlarge") == set(VERSIONS)
    assert listed.classes() == {"db.m5.large", "db.r6i.xlarge"}
    assert listed.classes("16.00.4140.3.v1") == {"db.m5.large", "db.r6i.xlarge"}
    assert listed.classes("14.00.3465.1.v1") == set() and listed.versions("db.t3.small") == set()


def test_the_listing_is_empty_when_the_region_answers_nothing(instances):
    # moto answers nothing for SQL Server; the workflow then checks against the built-in table instead.
    assert instances.orderable_options("sqlserver-se").pairs == frozenset()


def test_delete_removes_the_instance_and_tolerates_it_being_gone(instances, spec):
    instances.create(spec)

    instances.delete(spec.instance_id)
    instances.delete(spec.instance_id)

    assert instances.find(spec.instance_id) is None


def test_find_reports_the_engine_an_into_target_must_run(instances, spec):
    # --into refuses an instance that does not run sqlserver-*: the engine comes from DescribeDBInstances.
    instances.create(spec)
    found = instances.find(spec.instance_id)
    assert found is not None and found.engine == spec.engine and found.engine_version
