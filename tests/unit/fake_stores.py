"""In-memory fakes of the small stores and sinks: chat threads, the drill resources, the audit trail's write-once
sink. Split from fakes.py (the AWS fake), which re-exports them."""

from __future__ import annotations

from bot.errors import AwsError, TrailObjectExists
from bot.ports import InstanceUse, ThreadRef


class MemoryChatThreads:
    """ChatThreads in a dict, keyed like the table: (job id, surface)."""

    def __init__(self) -> None:
        self.threads: dict[tuple[str, str], ThreadRef] = {}

    def save(self, job_id: str, surface: str, channel: str, thread_ts: str) -> None:
        self.threads[(job_id, surface)] = ThreadRef(surface=surface, channel=channel, thread_ts=thread_ts)

    def find(self, job_id: str, surface: str) -> ThreadRef | None:
        return self.threads.get((job_id, surface))


class FakeSharedResources:
    """DrillResources that records what it deleted; the option group refuses `busy_option_group` times first, as
    RDS does while a snapshot still refers to it."""

    def __init__(self, *users: InstanceUse, busy_option_group: int = 0) -> None:
        self.users = list(users)
        self.busy_option_group = busy_option_group
        self.deleted: list[str] = []

    def instances(self) -> list[InstanceUse]:
        return self.users

    def option_group_exists(self, name: str) -> bool:
        return True

    def delete_option_group(self, name: str) -> None:
        if self.busy_option_group:
            self.busy_option_group -= 1
            raise AwsError("DeleteOptionGroup", "InvalidOptionGroupStateFault", "in use by a snapshot")
        self.deleted.append(name)

    def delete_subnet_group(self, name: str) -> None:
        self.deleted.append(name)

    def delete_security_group(self, group_id: str) -> None:
        self.deleted.append(group_id)


class WriteOnceSink:
    """An AuditSink in memory, as strict as S3 with If-None-Match: * (AWS S3 guide "conditional-writes"): a put
    on a key it holds is refused, whatever the bytes. `objects` is open to tests that play the forger."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put_new(self, key: str, body: bytes) -> None:
        if key in self.objects:
            raise TrailObjectExists(self.location(key))
        self.objects[key] = bytes(body)

    def read(self, key: str) -> bytes | None:
        return self.objects.get(key)

    def keys(self, prefix: str) -> list[str]:
        return sorted(key for key in self.objects if key.startswith(prefix))

    def presigned_url(self, key: str, expires_seconds: int) -> str:
        return f"https://presigned.example/{key}?expires={expires_seconds}"

    def console_url(self, key_or_prefix: str) -> str:
        return f"https://console.example/{key_or_prefix}"

    def location(self, key: str) -> str:
        return f"s3://trail/{key}"
