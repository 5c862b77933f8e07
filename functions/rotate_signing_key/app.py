"""RotateSigningKey: Secrets Manager's rotation steps for the signing key, on the template's schedule
or when an operator runs rotate-secret."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keyless.aws.runtime import default_runtime
from keyless.core.triggers import traced_entry_point

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@traced_entry_point
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    return default_runtime().key_rotation.step(event)
