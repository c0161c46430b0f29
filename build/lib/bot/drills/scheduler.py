"""Drills on APScheduler 3: one cron job per drill in a SQLAlchemy job store on rdsbot's own database (so next
run times survive restarts), plus the reconcile tick and the sweeper in memory. Only the leader runs it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.drills.spec import DrillSpec

log = logging.getLogger(__name__)
DRILL_STORE = "drills"
TABLE = "rdsbot_drill_schedule"
# A drill due while no replica led (a restart, a failover) still runs if noticed within this window; later, the
# missed run is skipped rather than started at an odd hour. coalesce folds several missed runs into one.
MISFIRE_GRACE_SECONDS = 15 * 60
SCHEDULED = "schedule"


class DrillStarter(Protocol):
    def start(self, name: str, trigger: str) -> object: ...


# The process's leading scheduler: jobs in the shared store name only a function and a drill, never an object,
# so whichever replica leads runs them with its own runner.
_active: DrillStarter | None = None
_active_lock = threading.Lock()


def fire_drill(name: str) -> None:
    """The stored job's target: start the drill on this process's runner."""
    with _active_lock:
        starter = _active
    if starter is None:
        log.warning("drill %s is due but this process is not scheduling drills", name)
        return
    starter.start(name, SCHEDULED)


def trigger_for(spec: DrillSpec) -> CronTrigger:
    return CronTrigger.from_crontab(spec.schedule.cron, timezone=spec.schedule.timezone)


def _job_store_engine(database_url: str) -> sa.Engine:
    url = sa.make_url(database_url)
    if url.get_backend_name() == "sqlite":
        # Wait for the job store's writers instead of failing with "database is locked".
        return sa.create_engine(url, connect_args={"timeout": 30})
    return sa.create_engine(url, pool_pre_ping=True, pool_size=2)


class DrillScheduler:
    def __init__(
        self,
        drills: tuple[DrillSpec, ...],
        database_url: str,
        starter: DrillStarter,
        periodic: dict[str, tuple[Callable[[], object], float]] | None = None,
    ) -> None:
        """`periodic`: name -> (function, every seconds), run in memory (the reconcile tick, the sweeper)."""
        self.drills = drills
        self.database_url = database_url
        self.starter = starter
        self.periodic = periodic or {}
        self._scheduler: BackgroundScheduler | None = None
        self._engine: sa.Engine | None = None
        # The elector's thread starts and stops this; a shutdown stops it too. One at a time, and `running` only
        # once the stored jobs are in line with the policy.
        self._lock = threading.RLock()
        self._ready = False

    @property
    def running(self) -> bool:
        return self._ready

    def start(self) -> None:
        """Begin scheduling: bring the stored drill jobs in line with the policy, then run them when due."""
        with self._lock:
            self._start()

    def _start(self) -> None:
        global _active
        if self._scheduler is not None:
            return
        self._engine = _job_store_engine(self.database_url)
        scheduler = BackgroundScheduler(
            jobstores={
                DRILL_STORE: SQLAlchemyJobStore(engine=self._engine, tablename=TABLE),
                "default": MemoryJobStore(),
            },
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_SECONDS},
            timezone="UTC",
        )
        with _active_lock:
            _active = self.starter
        self._scheduler = scheduler
        try:
            scheduler.start(paused=True)
            self._sync(scheduler)
            for name, (function, seconds) in self.periodic.items():
                scheduler.add_job(function, "interval", seconds=seconds, id=name, replace_existing=True)
            scheduler.resume()
        except Exception:
            self.stop()
            raise
        self._ready = True
        log.info("drill scheduler started with %d drill(s)", len(self.drills))

    def stop(self, *, wait: bool = False) -> None:
        """Stop scheduling; `wait` lets a running tick finish first (a process shutting down)."""
        with self._lock:
            self._ready = False
            self._stop(wait)

    def _stop(self, wait: bool) -> None:
        global _active
        scheduler, self._scheduler = self._scheduler, None
        with _active_lock:
            if _active is self.starter:
                _active = None
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=wait)
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def next_run(self, name: str) -> datetime | None:
        """When the drill next runs, from the running scheduler; None when not scheduling here."""
        if self._scheduler is None:
            return None
        job = self._scheduler.get_job(_job_id(name), jobstore=DRILL_STORE)
        return job.next_run_time if job is not None else None

    def fire_now(self, name: str) -> None:
        """Make the stored drill job due now, as if its cron time had come (tests, and a hand-kicked run)."""
        if self._scheduler is None:
            raise RuntimeError("this replica is not scheduling drills")
        self._scheduler.modify_job(_job_id(name), jobstore=DRILL_STORE, next_run_time=datetime.now().astimezone())
        self._scheduler.wakeup()

    def _sync(self, scheduler: BackgroundScheduler) -> None:
        stored: dict[str, Any] = {job.id: job for job in scheduler.get_jobs(jobstore=DRILL_STORE)}
        wanted = {_job_id(spec.name): spec for spec in self.drills}
        for job_id in stored:
            if job_id not in wanted:
                scheduler.remove_job(job_id, jobstore=DRILL_STORE)
        for job_id, spec in wanted.items():
            trigger = trigger_for(spec)
            job = stored.get(job_id)
            if job is None:
                scheduler.add_job(
                    fire_drill, trigger, args=(spec.name,), id=job_id, name=f"drill {spec.name}", jobstore=DRILL_STORE
                )
            elif repr(job.trigger) != repr(trigger):  # repr, unlike str, includes the time zone
                # Only a changed schedule is rescheduled: an unchanged one keeps its stored next run across restarts.
                scheduler.reschedule_job(job_id, jobstore=DRILL_STORE, trigger=trigger)


def _job_id(name: str) -> str:
    return f"drill:{name}"
