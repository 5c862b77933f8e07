"""Reading AWS failures one way everywhere. Pure Python (no botocore import), so DefineAuthChallenge
and PreSignUp, which load no AWS SDK, can use it too."""

from __future__ import annotations

import traceback
from collections.abc import Callable

CONDITION_FAILED = "ConditionalCheckFailedException"


def error_code(exc: BaseException | None) -> str:
    """The AWS error code of a botocore ClientError; "" for any other exception."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def condition_failed(exc: BaseException) -> bool:
    return error_code(exc) == CONDITION_FAILED


def written(write: Callable[[], object]) -> bool:
    """Make a conditional write: True when it was made, False when its condition refused it (nothing
    changed); any other failure raises."""
    try:
        write()
    except Exception as exc:
        if not condition_failed(exc):
            raise
        return False
    return True


def failure_details(exc: BaseException) -> dict[str, str]:
    """A log line's account of an unexpected failure: type, AWS code and stack, never the message
    (AWS puts addresses and keys in it)."""
    return {
        "error_type": type(exc).__name__,
        "error_code": error_code(exc),
        "stack": "".join(traceback.format_tb(exc.__traceback__)),
    }
