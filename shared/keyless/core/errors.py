"""The messages an end user can see. Cognito shows a trigger's exception message to the client as
"<Trigger> failed with error <message>.", so every message here is short and safe; anything else
becomes UNAVAILABLE, with the details only in the logs."""

from __future__ import annotations

from collections.abc import Sequence

INVALID_REQUEST = "Invalid request"
CHOOSE_METHOD = "Choose a sign-in method: {methods}"  # those this deployment offers (MethodNotChosen)
REDIRECT_NOT_ALLOWED = "This redirect address is not allowed"
UNAVAILABLE = "Sign-in is temporarily unavailable, please try again"
RETRY_AFTER = "Please wait {seconds} seconds before requesting another email"
CODES_LOCKED = "Too many wrong codes. Ask for a sign-in link instead, or try again later"
CODES_LOCKED_NO_LINK = "Too many wrong codes. Try again later"
ADDRESS_NOT_ALLOWED = "Sign-in with this email address is not allowed"
INVALID_EMAIL = "Enter a valid email address"
DOMAIN_NOT_ALLOWED = "Sign-up with this email domain is not allowed"
DISPOSABLE_EMAIL = "Disposable email addresses are not accepted"
PLUS_ALIAS = "Email addresses with a + alias are not accepted"
DEVICE_REQUIRED = "Sign-in links open only in the browser that asks for them; this app cannot ask for one"


class UserFacingError(Exception):
    """An error whose message is fit for the end user."""


class MalformedEvent(UserFacingError):
    def __init__(self, detail: str, message: str = INVALID_REQUEST):
        super().__init__(message)
        self.detail = detail  # for the log line (and the message of an event no user sees)


class RateLimited(UserFacingError):
    def __init__(self, retry_after_seconds: int):
        super().__init__(RETRY_AFTER.format(seconds=retry_after_seconds))
        self.retry_after_seconds = retry_after_seconds


class TemporarilyUnavailable(UserFacingError):
    def __init__(self):
        super().__init__(UNAVAILABLE)


class MethodNotChosen(UserFacingError):
    """signInMethod missing, or not one this deployment offers: the message names those it does, in
    round 1's order ("EMAIL_OTP", "MAGIC_LINK or EMAIL_OTP", "MAGIC_LINK, EMAIL_OTP or FIDO2")."""

    def __init__(self, offered: Sequence[str]):
        *others, last = offered
        names = f"{', '.join(others)} or {last}" if others else last
        super().__init__(CHOOSE_METHOD.format(methods=names))
