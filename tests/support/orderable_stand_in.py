"""DescribeOrderableDBInstanceOptions answered as RDS answers it in a region that offers SQL Server, which moto does
not model (it lists nothing for SQL Server). Attached to a real boto3 RDS client at `before-send`, so the request is
serialized by botocore, every `before-call` hook (the tests' CallRecorder) sees it, and the XML answer goes through
botocore's own parser; the other RDS calls still reach whatever endpoint the client has (the moto server).

The rules modelled, from the RDS API reference "API_DescribeOrderableDBInstanceOptions": Engine is required;
EngineVersion, DBInstanceClass and LicenseModel filter the rows; MaxRecords defaults to 100 and must lie between 20
and 1000 (else InvalidParameterValue); a Marker in the answer means more rows, asked for with that Marker.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from botocore.awsrequest import AWSResponse

_NS = "http://rds.amazonaws.com/doc/2014-10-31/"
_FILTERS = ("Engine", "EngineVersion", "DBInstanceClass", "LicenseModel")
DEFAULT_PAGE, MIN_PAGE, MAX_PAGE = 100, 20, 1000


@dataclass(frozen=True)
class Offer:
    """One row of the listing."""

    Engine: str
    EngineVersion: str
    DBInstanceClass: str
    StorageType: str = "gp3"
    LicenseModel: str = "license-included"
    MultiAZCapable: bool = True


def offers(engine: str, classes: Sequence[str], versions: Sequence[str], storage_types: Sequence[str]) -> list[Offer]:
    """A region's rows: one per class, version and storage type (RDS lists each combination it sells)."""
    return [Offer(engine, v, c, s) for c in classes for v in versions for s in storage_types]


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


@dataclass
class OrderableStandIn:
    rows: list[Offer]
    requests: list[dict[str, str]] = field(default_factory=list)  # every request's parameters, in order

    def attach(self, rds: Any) -> None:
        rds.meta.events.register("before-send.rds.DescribeOrderableDBInstanceOptions", self._answer)

    def _answer(self, request: Any, **_: Any) -> AWSResponse:
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
        params = {key: values[0] for key, values in parse_qs(body).items()}
        self.requests.append(params)
        if "Engine" not in params:
            return _error("MissingParameter", "The request must contain the parameter Engine")
        size = int(params.get("MaxRecords", DEFAULT_PAGE))
        if not MIN_PAGE <= size <= MAX_PAGE:
            return _error("InvalidParameterValue", f"Invalid value {size} for MaxRecords. Must be between 20 and 1000")
        wanted = [
            row for row in self.rows if all(getattr(row, key) == params[key] for key in _FILTERS if key in params)
        ]
        start = int(params.get("Marker", "0"))
        page, more = wanted[start : start + size], start + size < len(wanted)
        items = "".join(_row(row) for row in page)
        marker = f"<Marker>{start + size}</Marker>" if more else ""
        xml = (
            f'<DescribeOrderableDBInstanceOptionsResponse xmlns="{_NS}"><DescribeOrderableDBInstanceOptionsResult>'
            f"<OrderableDBInstanceOptions>{items}</OrderableDBInstanceOptions>{marker}"
            "</DescribeOrderableDBInstanceOptionsResult><ResponseMetadata><RequestId>stand-in</RequestId>"
            "</ResponseMetadata></DescribeOrderableDBInstanceOptionsResponse>"
        )
        return AWSResponse(request.url, 200, {"x-amzn-requestid": "stand-in"}, _Body(xml.encode()))


def _row(row: Offer) -> str:
    fields = "".join(
        f"<{key}>{escape(str(value).lower() if isinstance(value, bool) else str(value))}</{key}>"
        for key, value in vars(row).items()
    )
    return f"<OrderableDBInstanceOption>{fields}</OrderableDBInstanceOption>"


def _error(code: str, message: str) -> AWSResponse:
    xml = (
        f'<ErrorResponse xmlns="{_NS}"><Error><Type>Sender</Type><Code>{code}</Code><Message>{escape(message)}'
        "</Message></Error><RequestId>stand-in</RequestId></ErrorResponse>"
    )
    return AWSResponse(None, 400, {"x-amzn-requestid": "stand-in"}, _Body(xml.encode()))
