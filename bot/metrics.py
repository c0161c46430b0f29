"""Prometheus metrics of one rdsbot process (GET /metrics): an adapter, like bot/store; the core never imports it.

State that outlives the process (jobs by status, outbox depth, the last drill of each name) is read from the store
at scrape time, so every replica reports the same truth after any restart. Events (stage durations, time to
restore, AWS and Slack errors) are counted as they happen in this process; Prometheus sums replicas.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bot.domain import Job, JobStatus, Stage, StageStatus
from bot.drills.runs import DrillRun
from bot.lifecycle.model import InstanceLifecycle

log = logging.getLogger(__name__)
# Restores run minutes to hours; a stage from milliseconds (a name lookup) to hours (restore_wait).
SECONDS_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800)
# The classic text format every Prometheus (2.x and 3.x) scrapes; generate_latest writes it for our ASCII names.
# prometheus-client's CONTENT_TYPE_LATEST says version=1.0.0, which Prometheus 2 does not know.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class JobCounts(Protocol):
    def count_by_status(self) -> Mapping[str, int]: ...


class OutboxGauge(Protocol):
    """An outbox as metrics see it; the Slack and audit outboxes each provide one."""

    def depth(self) -> int: ...

    def dead_letter_count(self) -> int: ...


class DrillHistory(Protocol):
    def history(self, drill_name: str | None = None, limit: int = 10) -> list[DrillRun]: ...


class StoreCollector(Collector):
    """Gauges read from the store at each scrape; a store that does not answer is `rdsbot_store_up 0`."""

    def __init__(
        self,
        jobs: JobCounts,
        outboxes: Mapping[str, OutboxGauge],
        drills: DrillHistory | None = None,
        drill_names: Iterable[str] = (),
    ) -> None:
        self._jobs = jobs
        self._outboxes = outboxes
        self._drills = drills
        self._drill_names = tuple(drill_names)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("rdsbot_store_up", "1 when the job store answered this scrape")
        try:
            families = [self._jobs_family(), *self._outbox_families(), *self._drill_families()]
        except Exception as exc:
            log.warning("metrics could not read the store", extra={"error": str(exc)})
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _jobs_family(self) -> GaugeMetricFamily:
        jobs = GaugeMetricFamily("rdsbot_jobs", "Restore jobs in the store by status", labels=["status"])
        counts = self._jobs.count_by_status()
        for status in JobStatus:  # every status, zeros included, so a rate over a missing series never lies
            jobs.add_metric([status.value], counts.get(status.value, 0))
        return jobs

    def _outbox_families(self) -> list[GaugeMetricFamily]:
        depth = GaugeMetricFamily("rdsbot_outbox_depth", "Messages waiting in an outbox", labels=["outbox"])
        dead = GaugeMetricFamily("rdsbot_outbox_dead_letters", "Messages an outbox gave up on", labels=["outbox"])
        for name, outbox in self._outboxes.items():
            depth.add_metric([name], outbox.depth())
            dead.add_metric([name], outbox.dead_letter_count())
        return [depth, dead]

    def _drill_families(self) -> list[GaugeMetricFamily]:
        passed = GaugeMetricFamily("rdsbot_drill_last_passed", "1 when the drill's last run passed", labels=["drill"])
        restore = GaugeMetricFamily(
            "rdsbot_drill_last_time_to_restore_seconds", "Time to restore of the drill's last run", labels=["drill"]
        )
        rto = GaugeMetricFamily("rdsbot_drill_rto_seconds", "The drill's RTO target", labels=["drill"])
        drills = self._drills
        if drills is None:
            return [passed, restore, rto]
        for name in self._drill_names:
            finished = [run for run in drills.history(name, limit=10) if run.outcome is not None]
            if not finished:
                continue
            last = max(finished, key=lambda run: run.created_at)
            passed.add_metric([name], 0 if last.failed else 1)
            rto.add_metric([name], last.rto_minutes * 60)
            if last.time_to_restore_seconds is not None:
                restore.add_metric([name], last.time_to_restore_seconds)
        return [passed, restore, rto]


class Metrics:
    """One registry per wired app (tests build many); the event metrics, and the listener that feeds them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.jobs_finished = Counter(
            "rdsbot_jobs_finished", "Jobs this process saw finish", ["status", "kind"], registry=self.registry
        )
        self.stage_seconds = Histogram(
            "rdsbot_stage_duration_seconds",
            "Duration of each succeeded stage",
            ["stage"],
            buckets=SECONDS_BUCKETS,
            registry=self.registry,
        )
        self.time_to_restore = Histogram(
            "rdsbot_time_to_restore_seconds",
            "From a job's start to its restored database",
            ["kind"],
            buckets=SECONDS_BUCKETS,
            registry=self.registry,
        )
        self.aws_errors = Counter(
            "rdsbot_aws_errors", "Failed AWS call attempts", ["service", "code"], registry=self.registry
        )
        self.slack_errors = Counter(
            "rdsbot_slack_errors", "Failed Slack Web API attempts", ["method", "error"], registry=self.registry
        )

    def register(self, collector: Collector) -> None:
        self.registry.register(collector)

    def aws_error(self, service: str, code: str) -> None:
        self.aws_errors.labels(service, code).inc()

    def slack_error(self, method: str, error: str) -> None:
        self.slack_errors.labels(method, error).inc()

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        return generate_latest(self.registry)

    # The Notifier port: the engine reports to us as it reports to chat.

    def stage_changed(self, job: Job, stage: Stage) -> None:
        if stage.status == StageStatus.SUCCEEDED and stage.seconds is not None:
            self.stage_seconds.labels(stage.name).observe(stage.seconds)

    def progress(self, job: Job, percent: int) -> None:
        """Progress is not a metric: the stage durations say it better."""

    def request_expired(self, job: Job, deadline: datetime) -> None:
        """A request nobody decided on ends here, not in job_finished."""
        self.jobs_finished.labels(JobStatus.EXPIRED.value, "drill" if job.is_drill else "request").inc()

    def keep_reminder(self, job: Job, lifecycle: InstanceLifecycle) -> None:
        """A reminder is chat, not a metric."""

    def lifecycle_changed(self, job: Job, lifecycle: InstanceLifecycle, text: str) -> None:
        """The instance's life after its job is in the trail; jobs_finished already counted the job."""

    def job_finished(self, job: Job) -> None:
        kind = "drill" if job.is_drill else "backup" if job.plan.backup is not None else "request"
        self.jobs_finished.labels(job.status.value, kind).inc()
        # A backup is no restore: its duration would skew the time-to-restore an operator watches.
        if job.status == JobStatus.SUCCEEDED and job.started_at and job.finished_at and kind != "backup":
            self.time_to_restore.labels(kind).observe((job.finished_at - job.started_at).total_seconds())


class FixedOutbox:
    """An OutboxGauge over a depth callable, for outboxes that never give up on a message (no dead letters)."""

    def __init__(self, depth: Callable[[], int]) -> None:
        self._depth = depth

    def depth(self) -> int:
        return self._depth()

    def dead_letter_count(self) -> int:
        return 0
