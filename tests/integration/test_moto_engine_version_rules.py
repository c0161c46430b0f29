"""The AWS rule a new instance's option group depends on, which plain moto lacks (aws/sandbox/moto_rules.py): an
option group serves one engine and major version, and CreateDBInstance refuses a group of another engine or major than
the instance's version, RDS's default version when EngineVersion is not sent (AWS guide
'USER_WorkingWithOptionGroups'; API reference 'API_CreateDBInstance', EngineVersion and OptionGroupName)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from aws.clients import AwsClients
from aws.instances import create_arguments
from tests.integration.test_aws_instances import placed_spec


def create(aws: AwsClients, **args: Any) -> dict[str, Any]:
    base = {
        "DBInstanceIdentifier": "new-instance",
        "DBInstanceClass": "db.m5.large",
        "Engine": "sqlserver-se",
        "MasterUsername": "admin_user",
        "ManageMasterUserPassword": True,
        "AllocatedStorage": 100,
        "LicenseModel": "license-included",
    }
    result: dict[str, Any] = aws.rds.create_db_instance(**{**base, **args})["DBInstance"]
    return result


def group(aws: AwsClients, name: str, engine: str, major: str) -> str:
    aws.rds.create_option_group(
        OptionGroupName=name, EngineName=engine, MajorEngineVersion=major, OptionGroupDescription="test"
    )
    return name


def refusal(aws: AwsClients, **args: Any) -> str:
    with pytest.raises(ClientError) as caught:
        create(aws, **args)
    return str(caught.value.response["Error"]["Code"])


def test_the_old_create_call_without_engine_version_is_refused_for_a_2019_option_group(aws):
    # rdsbot used to leave EngineVersion out unless the policy pinned one: RDS (and moto) then run the default
    # version, 11.00 on moto, which rdsbot's 15.00 option group does not serve.
    args = create_arguments(placed_spec(aws))
    del args["EngineVersion"]
    with pytest.raises(ClientError) as caught:
        aws.rds.create_db_instance(**args)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterCombination"
    assert "sqlserver-se 15.00" in caught.value.response["Error"]["Message"]
    assert aws.rds.describe_db_instances()["DBInstances"] == []


def test_an_exact_or_major_only_version_of_the_groups_major_is_accepted(aws):
    name = group(aws, "se-15", "sqlserver-se", "15.00")
    assert create(aws, OptionGroupName=name, EngineVersion="15.00.4415.2.v1")["EngineVersion"] == "15.00.4415.2.v1"
    assert create(aws, DBInstanceIdentifier="second", OptionGroupName=name, EngineVersion="15.00")["EngineVersion"]


def test_another_major_or_engine_than_the_groups_is_refused(aws):
    name = group(aws, "se-14", "sqlserver-se", "14.00")
    assert refusal(aws, OptionGroupName=name, EngineVersion="15.00.4415.2.v1") == "InvalidParameterCombination"
    assert refusal(aws, OptionGroupName=name, Engine="sqlserver-ee", EngineVersion="14.00.3465.1.v1") == (
        "InvalidParameterCombination"
    )
    assert aws.rds.describe_db_instances()["DBInstances"] == []
