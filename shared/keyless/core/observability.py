"""One Logger and one Metrics for every function (service name from POWERTOOLS_SERVICE_NAME).

Logs name users by their sub (or, unknown ones, by a keyed pseudonym), never by address, and carry
no link, code or hash of them.
The X-Ray tracer lives in keyless.core.tracing, apart, because it loads the X-Ray SDK and patches
botocore: it is imported only when tracing is on (template.yaml's Tracing parameter, off by default).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice

Handler = TypeVar("Handler", bound=Callable)

logger = Logger()
metrics = Metrics(namespace="Keyless")


def count(name: str, **dimensions: str) -> None:
    """A metric with its own dimensions (method, reason), flushed at once as one EMF line."""
    with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace="Keyless") as metric:
        for key, value in dimensions.items():
            metric.add_dimension(name=key, value=value or "none")


def tracing_on() -> bool:
    """Whether the functions that call AWS are traced: unless POWERTOOLS_TRACE_DISABLED is true (read
    as Powertools' Tracer reads it), which template.yaml sets from its Tracing parameter."""
    return not resolve_truthy_env_var_choice(env=os.getenv("POWERTOOLS_TRACE_DISABLED", "false"))


def traced(handler: Handler) -> Handler:
    """The handler inside the tracer's segment when tracing is on. Decided as the handler's module
    loads: off, the X-Ray SDK is never imported and botocore never patched (a shorter cold start)."""
    if not tracing_on():
        return handler
    from keyless.core.tracing import tracer

    # The response is the whole event (address, answer, code hash) and errors carry messages:
    # neither goes in a trace (keyless.core.tracing).
    return tracer.capture_lambda_handler(handler, capture_response=False, capture_error=False)
