"""One Logger and one Metrics for every function (service name from POWERTOOLS_SERVICE_NAME).

Logs name users by their sub (or, unknown ones, by a keyed pseudonym), never by address, and carry
no link, code or hash of them.
Tracing lives in keyless.tracing, apart, because it loads the X-Ray SDK, which
DefineAuthChallenge does without.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

logger = Logger()
metrics = Metrics(namespace="Keyless")


def count(name: str, **dimensions: str) -> None:
    """A metric with its own dimensions (method, reason), flushed at once as one EMF line."""
    with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace="Keyless") as metric:
        for key, value in dimensions.items():
            metric.add_dimension(name=key, value=value or "none")
