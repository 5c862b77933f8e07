"""What every Keyless handler shares: the trigger sources it accepts, and the rule that only
user-facing messages leave a trigger. Anything else is logged without its message (AWS error texts
can quote the address) and replaced by a generic one."""

from __future__ import annotations

import functools

from keyless.core import errors
from keyless.core.aws_errors import failure_details
from keyless.core.observability import logger, metrics, traced
from keyless.core.settings import ConfigurationError

# Every trigger source Keyless answers, named here only (each handler refuses the others).
SIGN_UP = "PreSignUp_SignUp"
ADMIN_CREATE_USER = "PreSignUp_AdminCreateUser"
EXTERNAL_PROVIDER = "PreSignUp_ExternalProvider"
CONFIRM_SIGN_UP = "PostConfirmation_ConfirmSignUp"
CONFIRM_FORGOT_PASSWORD = "PostConfirmation_ConfirmForgotPassword"
TOKEN_AUTHENTICATION = "TokenGeneration_Authentication"
TOKEN_CLIENT_CREDENTIALS = "TokenGeneration_ClientCredentials"

DEFINE = ("DefineAuthChallenge_Authentication",)
CREATE = ("CreateAuthChallenge_Authentication",)
VERIFY = ("VerifyAuthChallengeResponse_Authentication",)
PRE_SIGN_UP = (SIGN_UP, ADMIN_CREATE_USER, EXTERNAL_PROVIDER)
POST_CONFIRMATION = (CONFIRM_SIGN_UP, CONFIRM_FORGOT_PASSWORD)
PRE_TOKEN_GENERATION = (
    "TokenGeneration_HostedAuth",
    TOKEN_AUTHENTICATION,
    "TokenGeneration_NewPasswordChallenge",
    "TokenGeneration_AuthenticateDevice",
    "TokenGeneration_RefreshTokens",
    TOKEN_CLIENT_CREDENTIALS,
)


def safe(handler):
    @functools.wraps(handler)
    def wrapper(event, context):
        try:
            return handler(event, context)
        except errors.MalformedEvent as exc:
            logger.warning("malformed event refused", extra={"detail": exc.detail})
            raise
        except errors.UserFacingError:
            raise
        except ConfigurationError as exc:
            # Its message names the variable and the rule it breaks, never a value that could be secret.
            logger.error("configuration error", extra={"detail": str(exc)})
            raise errors.TemporarilyUnavailable() from None
        except Exception as exc:
            logger.error("trigger failed", extra=failure_details(exc))
            raise errors.TemporarilyUnavailable() from None

    return wrapper


def entry_point(handler):
    """The decorators every trigger handler wears, outermost first: the Lambda context in every log
    line, metrics flushed, only safe errors out."""
    return logger.inject_lambda_context(metrics.log_metrics(safe(handler)))


def traced_entry_point(handler):
    """entry_point for the functions that call AWS: inside the X-Ray tracer's segment (each AWS call
    a subsegment) when tracing is on."""
    return logger.inject_lambda_context(traced(metrics.log_metrics(safe(handler))))
