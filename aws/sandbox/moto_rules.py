"""Where moto is kinder than AWS on a call rdsbot depends on, the AWS rule, patched into moto in this process.

Each rule cites the AWS document it models; tests/integration/test_moto_rules.py fails against plain moto. Applied
by the embedded sandbox and the test suite's moto server (both run moto in-process), never by production paths.
"""

from __future__ import annotations

from typing import Any

_applied = False


def apply_aws_rules() -> None:
    """Patch moto's RDS responses once per process (moto is imported here: the sandbox extra only)."""
    global _applied
    if _applied:
        return
    from moto.rds.exceptions import InvalidParameterCombination, OptionGroupNotFoundFaultError
    from moto.rds.responses import RDSResponse

    lenient = RDSResponse.delete_db_instance

    def delete_db_instance(self: Any) -> Any:
        # AWS API reference 'API_DeleteDBInstance': SkipFinalSnapshot defaults to false, and then
        # FinalDBSnapshotIdentifier must be given; giving one while skipping is an error. moto deletes either way,
        # silently without a snapshot, so a caller that forgot the name would pass here and fail on AWS.
        skip = bool(self.params.get("SkipFinalSnapshot", False))
        named = self.params.get("FinalDBSnapshotIdentifier") is not None
        if not skip and not named:
            raise InvalidParameterCombination("FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is set")
        if skip and named:
            raise InvalidParameterCombination("FinalDBSnapshotIdentifier cannot be given when SkipFinalSnapshot is set")
        return lenient(self)

    RDSResponse.delete_db_instance = delete_db_instance  # type: ignore[method-assign]

    from moto.rds.models import DBInstance

    def check_option_group(self: Any, name: str | None, engine: str, version: str) -> None:
        # AWS guide 'USER_WorkingWithOptionGroups': an option group serves one engine and major version, and only an
        # instance of those may use it; an OptionGroupName must name an option group there is
        # (OptionGroupNotFoundFault in 'API_CreateDBInstance' and 'API_ModifyDBInstance'). moto takes any name.
        if name is None:
            return
        major = ".".join(version.split(".")[:2])
        group = self.backend.option_groups.get(name)
        if group is not None:
            serves = (group.engine_name, group.major_engine_version)
        elif name == f"default:{engine}-{major.replace('.', '-')}":
            serves = (engine, major)  # RDS's default group for the instance (moto lists none)
        else:
            raise OptionGroupNotFoundFaultError(name)
        if serves != (engine, major):
            raise InvalidParameterCombination(
                f"The option group {name} is for {serves[0]} {serves[1]} and cannot be used with this DB "
                f"instance ({engine} {major})"
            )

    lenient_create = RDSResponse.create_db_instance

    def create_db_instance(self: Any) -> Any:
        # Without EngineVersion RDS runs the engine's default version (API reference 'API_CreateDBInstance',
        # EngineVersion), here moto's default (11.00 for SQL Server), and the option group must serve that too.
        engine = str(self.params.get("Engine") or "")
        version = self.params.get("EngineVersion") or DBInstance.default_engine_versions.get(engine, "")
        check_option_group(self, self.params.get("OptionGroupName"), engine, str(version))
        return lenient_create(self)

    RDSResponse.create_db_instance = create_db_instance  # type: ignore[method-assign]

    lenient_modify = RDSResponse.modify_db_instance

    def modify_db_instance(self: Any) -> Any:
        # As for CreateDBInstance, against the instance's engine and version ('API_ModifyDBInstance').
        instance = self.backend.databases.get(self.params.get("DBInstanceIdentifier"))
        if instance is not None:
            name = self.params.get("OptionGroupName")
            check_option_group(self, name, str(instance.engine), str(instance.engine_version))
        return lenient_modify(self)

    RDSResponse.modify_db_instance = modify_db_instance  # type: ignore[method-assign]

    lenient_modify_group = RDSResponse.modify_option_group

    def modify_option_group(self: Any) -> Any:
        # AWS API reference 'API_ModifyOptionGroup' and 'API_OptionGroupOption': an option joins only a group whose
        # engine and major version offer it (DescribeOptionGroupOptions; TDE is offered for sqlserver-se only from
        # 15.00), and a Persistent option (TDE) "can't be removed from an option group while DB instances are
        # associated with the option group". moto adds and removes anything. AWS publishes no texts for these.
        group = self.backend.option_groups.get(self.params.get("OptionGroupName"))
        if group is not None:
            offered = {
                o["Name"]: o
                for o in self.backend.describe_option_group_options(group.engine_name, group.major_engine_version)
            }
            for option in self.params.get("OptionsToInclude") or []:
                name = option.get("OptionName") if hasattr(option, "get") else option
                if name not in offered:
                    raise InvalidParameterCombination(
                        f"(sandbox) Option {name} is not offered for {group.engine_name} {group.major_engine_version}"
                    )
            users = [d for d in self.backend.databases.values() if getattr(d, "option_group_name", None) == group.name]
            for name in self.params.get("OptionsToRemove") or []:
                if offered.get(name, {}).get("Persistent") and users:
                    raise InvalidParameterCombination(
                        f"(sandbox) Option {name} is persistent and cannot be removed from option group {group.name} "
                        "while DB instances are associated with it"
                    )
        return lenient_modify_group(self)

    RDSResponse.modify_option_group = modify_option_group  # type: ignore[method-assign]
    _applied = True
