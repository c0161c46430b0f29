"""The AWS option-group rules TDE depends on, which plain moto lacks (aws/sandbox/moto_rules.py): an option joins
only a group whose engine and major version offer it (DescribeOptionGroupOptions: TDE on sqlserver-se from 15.00),
and TDE, a Persistent option, cannot leave a group an instance uses (AWS API reference 'API_OptionGroupOption')."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from aws.clients import AwsClients


def group(aws: AwsClients, name: str, engine: str, version: str) -> str:
    aws.rds.create_option_group(
        OptionGroupName=name, EngineName=engine, MajorEngineVersion=version, OptionGroupDescription="test"
    )
    return name


def include(aws: AwsClients, name: str, option: str) -> None:
    aws.rds.modify_option_group(OptionGroupName=name, OptionsToInclude=[{"OptionName": option}], ApplyImmediately=True)


def test_tde_joins_a_standard_2019_group_but_not_a_standard_2017_one(aws):
    include(aws, group(aws, "se-15", "sqlserver-se", "15.00"), "TDE")
    with pytest.raises(ClientError) as caught:
        include(aws, group(aws, "se-14", "sqlserver-se", "14.00"), "TDE")
    assert caught.value.response["Error"]["Code"] == "InvalidParameterCombination"
    include(aws, group(aws, "ee-14", "sqlserver-ee", "14.00"), "TDE")


def test_tde_cannot_leave_a_group_an_instance_uses_but_can_leave_an_unused_one(aws):
    used = group(aws, "ee-15-used", "sqlserver-ee", "15.00")
    include(aws, used, "TDE")
    aws.rds.create_db_instance(
        DBInstanceIdentifier="uses-tde",
        DBInstanceClass="db.m5.large",
        Engine="sqlserver-ee",
        EngineVersion="15.00.4415.2.v1",
        MasterUsername="admin_user",
        MasterUserPassword="not-a-secret-1",
        AllocatedStorage=100,
        LicenseModel="license-included",
        OptionGroupName=used,
    )
    with pytest.raises(ClientError) as caught:
        aws.rds.modify_option_group(OptionGroupName=used, OptionsToRemove=["TDE"], ApplyImmediately=True)
    assert "persistent" in caught.value.response["Error"]["Message"]
    unused = group(aws, "ee-15-unused", "sqlserver-ee", "15.00")
    include(aws, unused, "TDE")
    aws.rds.modify_option_group(OptionGroupName=unused, OptionsToRemove=["TDE"], ApplyImmediately=True)
