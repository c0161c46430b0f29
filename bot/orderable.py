"""What RDS can order for one engine in one region: every (instance class, engine version) pair that
DescribeOrderableDBInstanceOptions lists for the engine (AWS API reference "API_DescribeOrderableDBInstanceOptions";
moto lists nothing for SQL Server). One listing answers both questions a restore asks, which classes it may name
and which version of its major the class offers, so a preflight pages through the engine's options once instead of
once per question (a policy-pinned version narrows the listing to that version's rows: only they are needed); the
doctor's checks of a region share one listing per engine likewise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.errors import AwsError


@dataclass(frozen=True)
class OrderableOptions:
    """One engine's orderable (class, version) pairs in one region, of one version or class when the listing was
    asked for one (`engine_version`, `instance_class`: the API's filters); empty when the region lists none."""

    engine: str
    pairs: frozenset[tuple[str, str]] = frozenset()
    engine_version: str | None = None
    instance_class: str | None = None

    def classes(self, engine_version: str | None = None) -> set[str]:
        """The classes RDS can order, of `engine_version` when given (as the API's EngineVersion filter does)."""
        return {cls for cls, version in self.pairs if engine_version is None or version == engine_version}

    def versions(self, instance_class: str) -> set[str]:
        """The engine versions RDS can order for `instance_class` (as the API's DBInstanceClass filter does)."""
        return {version for cls, version in self.pairs if cls == instance_class}

    def narrowed(self, engine_version: str | None, instance_class: str | None) -> OrderableOptions:
        """These pairs as a listing asked with those filters would have answered."""
        pairs = frozenset(
            (cls, version)
            for cls, version in self.pairs
            if engine_version in (None, version) and instance_class in (None, cls)
        )
        return OrderableOptions(self.engine, pairs, engine_version, instance_class)


class OrderableListing(Protocol):
    """Where the listing comes from (aws/instances.py Instances; the fakes in tests)."""

    def orderable_options(
        self, engine: str, *, engine_version: str | None = None, instance_class: str | None = None
    ) -> OrderableOptions:
        """Every orderable (class, version) pair of the engine here (of the version or class given), all pages."""
        ...


class ListedOnce:
    """A listing read at most once per engine, for several checks of one region (rdsbot doctor). A failure is kept
    as well: each check then says RDS could not be asked, without asking again."""

    def __init__(self, listing: OrderableListing) -> None:
        self._listing = listing
        self._read: dict[str, OrderableOptions | AwsError] = {}

    @classmethod
    def of(cls, listing: OrderableListing) -> ListedOnce:
        return listing if isinstance(listing, ListedOnce) else cls(listing)

    def orderable_options(
        self, engine: str, *, engine_version: str | None = None, instance_class: str | None = None
    ) -> OrderableOptions:
        """The whole listing of the engine, read once; narrowed here, not by asking again."""
        if engine not in self._read:
            try:
                self._read[engine] = self._listing.orderable_options(engine)
            except AwsError as exc:
                self._read[engine] = exc
        read = self._read[engine]
        if isinstance(read, AwsError):
            raise read
        return read.narrowed(engine_version, instance_class)
