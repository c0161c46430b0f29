"""Small builders for domain values that several test files need."""

from __future__ import annotations

from typing import Any

from bot.domain import Edition, RestorePlan, StorageType

# Where the bot runs in tests' policies: without one, every restore is refused before approval.
BOT_NETWORK = {"bot_sources": ["10.0.0.10/32"]}


def make_plan(target: str = "restore-sales") -> RestorePlan:
    return RestorePlan(
        backup_bucket="acme-backups",
        backup_key="sales/2024-11-24.bak",
        multi_file=False,
        instance_class="db.m5.large",
        target_instance_id=target,
        database_name="sales",
        edition=Edition.STANDARD,
        major_version="15.00",
        engine_version=None,
        license_model="license-included",
        storage_type=StorageType.GP3,
        allocated_storage_gb=100,
        iops=None,
        storage_throughput=None,
        cores=None,
        threads_per_core=None,
        multi_az=False,
        region="eu-west-1",
        warnings=("backup is 3 days old",),
    )


def drill_data(**overrides: Any) -> dict[str, Any]:
    """A valid drill as the policy YAML states it; each override replaces a whole key."""
    return {
        "name": "nightly",
        "schedule": {"cron": "0 3 * * *", "timezone": "Europe/Berlin"},
        "source": {"prefix": "prod-"},
        "instance_class": "db.m6i.large",
        "rto_minutes": 60,
        "report_channel": "#rds-drills",
        **overrides,
    }
