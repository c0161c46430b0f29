"""Scheduled restore drills: restore the newest backup, validate it, time it, report it, clean up after it."""
