"""The embedded stand-ins the demo, the console and the tests run on, in place of AWS and RDS SQL Server.

moto_seed starts moto on loopback and seeds it; backup_content is what a sandbox backup holds; sql_server/
emulates the RDS SQL Server procedures. moto comes with the `sandbox` extra (pip install 'rdsbot[sandbox]'), and no
production code path imports this package: bot.bootstrap loads the emulator only inside its sandbox branch, and
tests/unit/test_sandbox_stays_out_of_production.py keeps it that way.
"""
