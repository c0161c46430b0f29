"""The rules of SQL Server Audit on RDS as the policy applies them: names, MAXSIZE, documented action groups, and
the link text that follows ENABLE_COMPRESSION (AWS guide "Appendix.SQLServer.Options.Audit"; Microsoft Learn
"SQL Server Audit Action Groups and Actions")."""

from __future__ import annotations

import pytest

from bot import server_audit
from bot.errors import ConfigError, RequestError
from bot.server_audit import ServerAuditSpec, audit_file_extension, audit_link_text
from config.policy_model import parse_policy


def policy_with(**server_audit_keys):
    return parse_policy(
        {"backups": {"default_bucket": "team-backups"}, "audit": {"bucket": "a", "server_audit": server_audit_keys}}
    )


def refusal(**server_audit_keys) -> str:
    with pytest.raises(ConfigError) as caught:
        policy_with(**server_audit_keys)
    return str(caught.value)


def test_the_default_audit_has_the_documented_groups_a_legal_name_and_size():
    spec = policy_with().audit.server_audit.spec()
    assert spec == ServerAuditSpec(
        audit_name="rdsbot_audit",
        specification_name="rdsbot_audit_spec",
        max_size_mb=10,
        action_groups=server_audit.DEFAULT_ACTION_GROUPS,
    )
    assert set(spec.action_groups) <= server_audit.SERVER_ACTION_GROUPS
    assert {"SUCCESSFUL_LOGIN_GROUP", "FAILED_LOGIN_GROUP", "AUDIT_CHANGE_GROUP"} <= set(spec.action_groups)


def test_an_unknown_action_group_is_refused_naming_the_key_and_the_nearest_group():
    text = refusal(action_groups=["FAILED_LOGINS_GROUP"])
    assert "audit.server_audit.action_groups" in text
    assert "'FAILED_LOGINS_GROUP' is not a server-level audit action group" in text
    assert "did you mean FAILED_LOGIN_GROUP?" in text


def test_a_group_only_sql_server_2022_has_is_refused_with_the_version():
    text = refusal(action_groups=["BATCH_COMPLETED_GROUP"])
    assert "BATCH_COMPLETED_GROUP exists only on SQL Server 16.00 and later" in text


def test_groups_are_read_case_insensitively_and_once():
    groups = policy_with(action_groups=["failed_login_group", "FAILED_LOGIN_GROUP"]).audit.server_audit.action_groups
    assert groups == ("FAILED_LOGIN_GROUP",)


def test_an_empty_group_list_is_refused():
    assert "name at least one action group" in refusal(action_groups=[])


@pytest.mark.parametrize("name", ["RDS_audit", "rds_mine"])
def test_a_name_with_the_prefix_rds_keeps_is_refused(name):
    text = refusal(name=name)
    assert "audit.server_audit.name" in text and "starts with RDS_" in text


@pytest.mark.parametrize("name", ["x]; DROP LOGIN sa; --", "1audit", "audit name", "a" * 101])
def test_a_name_that_is_not_a_plain_identifier_is_refused(name):
    assert "is not a plain SQL Server name" in refusal(name=name)


def test_rdsbot_itself_is_not_the_reserved_prefix():
    assert policy_with(name="rdsbot").audit.server_audit.name == "rdsbot"


@pytest.mark.parametrize("size", [1, 51])
def test_maxsize_outside_two_to_fifty_mb_is_refused(size):
    assert f"{size} MB is outside the 2 to 50 MB" in refusal(max_size_mb=size)


@pytest.mark.parametrize("size", [2, 50])
def test_maxsize_at_the_edges_is_accepted(size):
    assert policy_with(max_size_mb=size).audit.server_audit.max_size_mb == size


def test_a_spec_built_in_code_is_checked_too():
    with pytest.raises(RequestError, match="must be upper case"):
        ServerAuditSpec("a", "a_spec", 10, ("failed_login_group",))
    with pytest.raises(RequestError, match="the list is empty"):
        ServerAuditSpec("a", "a_spec", 10, ())


def test_the_link_names_zip_files_with_compression_and_sqlaudit_files_without():
    # AWS guide "Appendix.SQLServer.Options.Audit", "Configuring an S3 bucket": ext zip if compressed, else sqlaudit.
    assert audit_file_extension(True) == ".zip" and audit_file_extension(False) == ".sqlaudit"
    assert audit_link_text(".zip") == "SQL Server audit logs (.zip, ENABLE_COMPRESSION on; unzip for .sqlaudit)"
    assert audit_link_text(".sqlaudit") == "SQL Server audit logs (.sqlaudit files)"


def test_compression_defaults_to_rds_default_and_can_be_switched_off():
    assert policy_with().audit.compression is True
    policy = parse_policy(
        {"backups": {"default_bucket": "team-backups"}, "audit": {"bucket": "a", "compression": False}}
    )
    assert policy.audit.compression is False
