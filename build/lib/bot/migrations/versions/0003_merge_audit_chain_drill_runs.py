"""Merge the audit hash chain (0002) and drill runs (0002d), written side by side.

Revision ID: 0003
Revises: 0002, 0002d
Create Date: 2026-11-25
"""

from __future__ import annotations

revision: str = "0003"
down_revision: str | tuple[str, ...] | None = ("0002", "0002d")
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    """Nothing to do: the two branches touch different tables."""


def downgrade() -> None:
    """Nothing to undo."""
