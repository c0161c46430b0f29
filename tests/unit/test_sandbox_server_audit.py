"""SQL Server Audit switched on by the driver on the sandbox, and the sandbox refusing what RDS refuses.

Each refusal follows the AWS guide "Appendix.SQLServer.Options.Audit" ("Using SQL Server Audit") or a documented
SQL Server message (Microsoft Learn, "Database engine events and errors"); a lenient sandbox fails these tests.
"""

from __future__ import annotations

import pytest

from aws.native_restore.procedures import NativeRestoreError
from aws.native_restore.server_audit import SqlServerAudit, create_audit, set_audit_state
from aws.sandbox.sql_server import SandboxSqlError, SandboxSqlServer
from bot.domain import InstanceState
from bot.server_audit import DEFAULT_ACTION_GROUPS, ServerAuditSpec

SPEC = ServerAuditSpec("rdsbot_audit", "rdsbot_audit_spec", 10, DEFAULT_ACTION_GROUPS)
GOOD_FILE = "FILEPATH = N'D:\\rdsdbdata\\SQLAudit', MAXSIZE = 10 MB"


def instance() -> InstanceState:
    return InstanceState(
        instance_id="rdsbot-audit-test",
        status="available",
        instance_class="db.m5.large",
        option_group_status="in-sync",
        endpoint_address="rdsbot-audit-test.abc.us-east-1.rds.amazonaws.com",
        endpoint_port=1433,
    )


@pytest.fixture
def server() -> SandboxSqlServer:
    return SandboxSqlServer(clock=lambda: 1_000.0)


def run(server: SandboxSqlServer, *statements: str, database: str = "master") -> None:
    cursor = server.connect(instance()).cursor()
    cursor.execute(f"USE [{database}]", ())
    for sql in statements:
        cursor.execute(sql, ())


def ddl(server: SandboxSqlServer) -> list[str]:
    return [str(call.params["sql"]) for call in server.calls if call.procedure == "audit:ddl"]


def test_the_audit_is_started_writing_where_rds_collects_with_its_specification_on(server):
    state = SqlServerAudit(server.connect).ensure_server_audit(instance(), SPEC)

    assert state.status == "STARTED"
    assert state.file_path.startswith("D:\\rdsdbdata\\SQLAudit\\rdsbot_audit_")
    assert state.specification_enabled and state.action_groups == DEFAULT_ACTION_GROUPS
    assert ddl(server)[0] == (
        "CREATE SERVER AUDIT [rdsbot_audit] TO FILE (FILEPATH = N'D:\\rdsdbdata\\SQLAudit', MAXSIZE = 10 MB) "
        "WITH (ON_FAILURE = CONTINUE)"
    )


def test_a_retry_after_a_crash_between_create_and_enable_finishes_without_a_second_create(server):
    run(server, create_audit(SPEC))  # the first attempt died right after CREATE: the audit exists, disabled

    state = SqlServerAudit(server.connect).ensure_server_audit(instance(), SPEC)

    assert state.status == "STARTED"
    assert sum(s.startswith("CREATE SERVER AUDIT [") for s in ddl(server)) == 1


def test_a_second_run_changes_nothing(server):
    audit = SqlServerAudit(server.connect)
    audit.ensure_server_audit(instance(), SPEC)
    before = len(ddl(server))

    audit.ensure_server_audit(instance(), SPEC)

    assert len(ddl(server)) == before


def test_changed_groups_are_applied_with_the_specification_off_while_it_changes(server):
    audit = SqlServerAudit(server.connect)
    audit.ensure_server_audit(instance(), SPEC)
    narrower = ServerAuditSpec(SPEC.audit_name, SPEC.specification_name, 10, ("FAILED_LOGIN_GROUP", "LOGOUT_GROUP"))

    state = audit.ensure_server_audit(instance(), narrower)

    assert state.action_groups == ("FAILED_LOGIN_GROUP", "LOGOUT_GROUP")
    assert ddl(server)[-3:] == [
        "ALTER SERVER AUDIT SPECIFICATION [rdsbot_audit_spec] WITH (STATE = OFF)",
        ddl(server)[-2],
        "ALTER SERVER AUDIT SPECIFICATION [rdsbot_audit_spec] WITH (STATE = ON)",
    ]
    assert "ADD (LOGOUT_GROUP)" in ddl(server)[-2] and "DROP (SUCCESSFUL_LOGIN_GROUP)" in ddl(server)[-2]


def test_a_specification_of_that_name_on_another_audit_fails_the_stage(server):
    run(
        server,
        create_audit(ServerAuditSpec("other", "x", 10, ("FAILED_LOGIN_GROUP",))),
        "CREATE SERVER AUDIT SPECIFICATION [rdsbot_audit_spec] FOR SERVER AUDIT [other] ADD (FAILED_LOGIN_GROUP)",
    )
    with pytest.raises(NativeRestoreError, match="belongs to audit other"):
        SqlServerAudit(server.connect).ensure_server_audit(instance(), SPEC)


def test_a_disabled_audit_is_not_in_the_status_view(server):
    # sys.dm_server_audit_status: one row per running audit, STARTED or FAILED.
    run(server, create_audit(SPEC))
    cursor = server.connect(instance()).cursor()
    cursor.execute(
        "select status_desc, audit_file_path from sys.dm_server_audit_status where name = %s", ("rdsbot_audit",)
    )
    assert cursor.fetchall() == []
    run(server, set_audit_state(SPEC, on=True))
    cursor.execute(
        "select status_desc, audit_file_path from sys.dm_server_audit_status where name = %s", ("rdsbot_audit",)
    )
    assert [row[0] for row in cursor.fetchall()] == ["STARTED"]


def refused(server: SandboxSqlServer, *statements: str, database: str = "master") -> SandboxSqlError:
    with pytest.raises(SandboxSqlError) as caught:
        run(server, *statements, database=database)
    return caught.value


def test_server_audit_ddl_outside_master_is_refused_with_33074(server):
    error = refused(server, create_audit(SPEC), database="msdb")
    assert error.number == 33074 and "must be performed in the master database" in error.text


@pytest.mark.parametrize(
    "file_options",
    ["FILEPATH = N'C:\\audits', MAXSIZE = 10 MB", "FILEPATH = 'D:\\rdsdbdata\\Log', MAXSIZE = 10 MB"],
)
def test_a_filepath_other_than_the_rds_audit_folder_is_refused(server, file_options):
    error = refused(server, f"CREATE SERVER AUDIT [a] TO FILE ({file_options})")
    assert "FILEPATH must be D:\\rdsdbdata\\SQLAudit" in error.text


def test_the_rds_audit_folder_is_accepted_with_a_trailing_backslash_in_any_case(server):
    run(server, "CREATE SERVER AUDIT a TO FILE (FILEPATH = 'd:\\RDSDBDATA\\sqlaudit\\', MAXSIZE = 2 MB)")


@pytest.mark.parametrize(
    ("maxsize", "number"), [("1 MB", 33070), ("51 MB", 50000), ("1 GB", 50000), ("UNLIMITED", 50000)]
)
def test_maxsize_outside_two_to_fifty_mb_is_refused(server, maxsize, number):
    error = refused(
        server, f"CREATE SERVER AUDIT [a] TO FILE (FILEPATH = N'D:\\rdsdbdata\\SQLAudit', MAXSIZE = {maxsize})"
    )
    assert error.number == number


@pytest.mark.parametrize(
    "statement",
    [
        f"CREATE SERVER AUDIT [RDS_mine] TO FILE ({GOOD_FILE})",
        f"CREATE SERVER AUDIT [rds_mine] TO FILE ({GOOD_FILE})",
        "CREATE SERVER AUDIT SPECIFICATION [RDS_spec] FOR SERVER AUDIT [a] ADD (FAILED_LOGIN_GROUP)",
    ],
)
def test_names_starting_with_rds_are_refused(server, statement):
    run(server, f"CREATE SERVER AUDIT [a] TO FILE ({GOOD_FILE})")
    assert "starts with RDS_" in refused(server, statement).text


def test_an_unknown_action_group_is_refused(server):
    run(server, f"CREATE SERVER AUDIT [a] TO FILE ({GOOD_FILE})")
    error = refused(server, "CREATE SERVER AUDIT SPECIFICATION [s] FOR SERVER AUDIT [a] ADD (FAILED_LOGINS_GROUP)")
    assert error.number == 102 and "FAILED_LOGINS_GROUP" in error.text


@pytest.mark.parametrize(
    ("statement", "text"),
    [
        (f"CREATE SERVER AUDIT [a] TO FILE ({GOOD_FILE}, MAX_ROLLOVER_FILES = 10)", "MAX_ROLLOVER_FILES"),
        (f"CREATE SERVER AUDIT [a] TO FILE ({GOOD_FILE}, MAX_FILES = 10)", "MAX_FILES"),
        (f"CREATE SERVER AUDIT [a] TO FILE ({GOOD_FILE}) WITH (ON_FAILURE = SHUTDOWN)", "SHUTDOWN"),
        ("CREATE SERVER AUDIT [a] TO APPLICATION_LOG", "binary file"),
    ],
)
def test_options_rds_forbids_are_refused(server, statement, text):
    assert text in refused(server, statement).text


def test_a_specification_cannot_change_while_it_is_on(server):
    run(
        server,
        f"CREATE SERVER AUDIT [a] TO FILE ({GOOD_FILE})",
        "CREATE SERVER AUDIT SPECIFICATION [s] FOR SERVER AUDIT [a] ADD (FAILED_LOGIN_GROUP) WITH (STATE = ON)",
    )
    error = refused(server, "ALTER SERVER AUDIT SPECIFICATION [s] ADD (LOGOUT_GROUP)")
    assert error.number == 33071


def test_a_second_audit_of_the_same_name_is_refused_with_15530(server):
    run(server, f"CREATE SERVER AUDIT [a] TO FILE ({GOOD_FILE})")
    assert refused(server, f"CREATE SERVER AUDIT [A] TO FILE ({GOOD_FILE})").number == 15530


def test_the_fifty_first_audit_is_refused(server):
    run(server, *(f"CREATE SERVER AUDIT [a{n}] TO FILE ({GOOD_FILE})" for n in range(50)))
    assert "at most 50 server audits" in refused(server, f"CREATE SERVER AUDIT [a50] TO FILE ({GOOD_FILE})").text


def test_enabling_an_audit_that_does_not_exist_is_refused_with_33073(server):
    assert refused(server, "ALTER SERVER AUDIT [nope] WITH (STATE = ON)").number == 33073
