"""The drill report, in plain text for Slack and the console: outcome, checks, phase timings, time-to-restore
against the RTO target, the backup's age and the trend of the last runs. Pure."""

from __future__ import annotations

from datetime import datetime

from bot.drills.runs import DrillOutcome, DrillRun, Timing
from bot.render import duration

_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float]) -> str:
    """One block character per value, scaled between the smallest and the largest."""
    if not values:
        return ""
    low, high = min(values), max(values)
    span = high - low
    return "".join(_BARS[0 if span == 0 else round((v - low) / span * (len(_BARS) - 1))] for v in values)


def headline(run: DrillRun) -> str:
    """The first line: loud when the drill failed (no @here: a drill pages nobody by itself)."""
    if run.outcome == DrillOutcome.FAILED:
        return f"🚨 *DRILL FAILED* {run.drill_name} ({run.id}): {run.error}"
    return f"✅ Drill {run.drill_name} passed ({run.id})"


def _clock(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC") if at else "-"


def _phase(name: str, timing: Timing | None) -> str:
    if timing is None:
        return f"  {name:<11} not run"
    end = _clock(timing.finished_at)
    return f"  {name:<11} {_clock(timing.started_at)} → {end}  {duration(timing.seconds)}"


def ttr_line(run: DrillRun) -> str:
    """Measured time-to-restore against the target."""
    target = f"RTO target {duration(run.rto_minutes * 60)}"
    if run.time_to_restore_seconds is None:
        return f"time-to-restore: not measured (the restore did not finish); {target}"
    verdict = "met" if run.met_rto else "MISSED"
    share = 100 * run.time_to_restore_seconds / (run.rto_minutes * 60)
    return f"time-to-restore: {duration(run.time_to_restore_seconds)} vs {target}: {verdict} ({share:.0f}% of target)"


def backup_line(run: DrillRun) -> str:
    if run.backup is None:
        return "backup: none found"
    files = len(run.backup.keys)
    where = f"s3://{run.backup.bucket}/{run.backup.keys[0]}" + (f" (+{files - 1} more files)" if files > 1 else "")
    age = run.backup_age_seconds
    return f"backup: {where}, {run.backup.total_bytes / 2**20:.1f} MiB, " + (
        f"{duration(age)} old" if age is not None else "age unknown"
    )


def trend(history: list[DrillRun]) -> str:
    """Oldest to newest: pass/fail marks and a sparkline of time-to-restore."""
    finished = [r for r in reversed(history) if r.outcome is not None]
    if not finished:
        return "trend: first run"
    marks = "".join("✓" if r.outcome == DrillOutcome.PASSED else "✗" for r in finished)
    times = [r.time_to_restore_seconds for r in finished if r.time_to_restore_seconds is not None]
    line = f"trend (last {len(finished)}, oldest first): {marks}"
    if times:
        line += f"  time-to-restore {sparkline(times)} {duration(min(times))}..{duration(max(times))}"
    return line


def render_report(run: DrillRun, history: list[DrillRun]) -> str:
    """The whole report; `history` is the drill's recent runs, newest first, this one included."""
    lines = [headline(run), f"trigger: {run.trigger}; job {run.job_id or '-'} on {run.instance_id or '-'}"]
    lines += [backup_line(run), ttr_line(run), "phases:"]
    lines += [_phase("restore", run.restore), _phase("validation", run.validation)]
    if run.checks:
        lines.append("checks:")
        for check in run.checks:
            mark = "✓" if check.passed else "✗"
            lines.append(f"  {mark} {check.label}: {check.detail} ({duration(check.seconds)})")
    lines.append(trend(history))
    return "\n".join(lines)


def cleanup_text(run: DrillRun) -> str:
    removed = ", ".join(run.removed) or "nothing"
    text = f"🧹 {run.drill_name} ({run.id}) cleaned up in {duration(run.cleanup.seconds if run.cleanup else None)}"
    text += f": removed {removed}"
    if run.kept:
        text += f"; kept {', '.join(run.kept)}"
    return text


def summary_line(run: DrillRun | None) -> str:
    """One line for /rds-drill list and /rds-status."""
    if run is None:
        return "never run"
    when = run.created_at.strftime("%Y-%m-%d %H:%M UTC")
    if run.outcome is None:
        return f"{run.phase} since {when} ({run.id})"
    ttr = duration(run.time_to_restore_seconds)
    return f"{run.outcome.value.upper()} {when}, time-to-restore {ttr} ({run.id})" + (
        f": {run.error}" if run.error else ""
    )
