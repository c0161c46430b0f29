"""Every AWS tag rdsbot writes or reads, spelled once. Pure: the core and aws/ both import it.

Changing a key or value here orphans what earlier versions tagged: cleanup and adoption look resources up by
these tags, and admins tag IAM users with the directory keys by hand.
"""

from __future__ import annotations

from collections.abc import Mapping

# On every resource rdsbot creates (instances, option groups, IAM roles, subnet and security groups).
MANAGED_BY = "managed-by"
MANAGED_BY_VALUE = "rdsbot"
MANAGED: Mapping[str, str] = {MANAGED_BY: MANAGED_BY_VALUE}

# On restore instances: which job made it (adoption after a restart, drill cleanup), who asked, drill or not.
JOB_ID = "rdsbot-job-id"
REQUESTER = "rdsbot-requester"
DRILL = "rdsbot-drill"
TRUE = "true"
FALSE = "false"

# On IAM users, set by admins: how a Slack user maps to an IAM user (aws/admin_directory.py).
SLACK_USER_ID = "slack-user-id"
EMAIL = "email"


def instance_tags(job_id: str, requester: str, is_drill: bool) -> dict[str, str]:
    """The tags a job's restore instance carries besides MANAGED."""
    return {JOB_ID: job_id, REQUESTER: requester, DRILL: TRUE if is_drill else FALSE}


def made_by_job(tags: Mapping[str, str], job_id: str) -> bool:
    """The one ownership check: rdsbot made this instance for this job (adoption after a restart, cleanup)."""
    return tags.get(MANAGED_BY) == MANAGED_BY_VALUE and tags.get(JOB_ID) == job_id


def not_made_by_job(instance_id: str, job_id: str) -> str:
    """Why an instance that fails `made_by_job` is left alone, in one wording everywhere."""
    return f"an RDS instance named {instance_id} already exists and was not created by job {job_id}"


def made_by_rdsbot(tags: Mapping[str, str]) -> bool:
    """Tagged managed-by=rdsbot: some job of rdsbot's made it (an --into target may be another's instance)."""
    return tags.get(MANAGED_BY) == MANAGED_BY_VALUE


def is_drill_instance(tags: Mapping[str, str]) -> bool:
    """Tagged as a drill's instance, so the sweeper may remove it."""
    return tags.get(DRILL) == TRUE


def aws_tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """Tags as the AWS APIs take them, in key order so the same tags always make the same request."""
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]
