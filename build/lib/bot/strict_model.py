"""The base of every model read from the YAML policy: a typo'd key is an error, not a silently ignored setting."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Unknown keys are refused and values never change after validation."""

    model_config = ConfigDict(extra="forbid", frozen=True)
