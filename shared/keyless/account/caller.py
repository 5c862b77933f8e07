"""Who calls the management API: the claims API Gateway's JWT authorizer checked (an HTTP API hands
them over as strings, in requestContext.authorizer.jwt.claims). The owner of whatever a route
touches is always the token's `sub`; nothing in the request body names a user."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from keyless.account.errors import VERIFY_ADDRESS, ApiError, bad_request, forbidden, unauthorized

_SUB = re.compile(r"^[A-Za-z0-9-]{1,128}$")  # Cognito subs are UUIDs; anything else is refused
_WHOLE = re.compile(r"^[0-9]{1,12}$")


class FreshnessSettings(Protocol):
    @property
    def fresh_sign_in_seconds(self) -> int: ...


@dataclass(frozen=True)
class Caller:
    sub: str
    username: str  # cognito:username
    email: str
    email_verified: bool  # the token says the address was proved
    auth_time: int  # when the user signed in (Cognito keeps it through refreshes)
    # The revocation the token says it was made after (PreTokenGeneration's after_revocation; 0: none).
    after_revocation: int = 0
    # When the user's tokens so far were revoked (their sign-in item's revokedAt: an operator's
    # sign-out, an account's claim; 0: never), read only when a route asks.
    revoked_at: Callable[[], int] = field(default=lambda: 0, compare=False, repr=False)

    def require_signed_in_since_revocation(self) -> None:
        """A token from a sign-in before the last revocation is refused (403). auth_time tells only
        the second: in the revocation's own second, only a token made after it (it says so) passes."""
        revoked = self.revoked_at()
        if self.auth_time < revoked or (self.auth_time == revoked and self.after_revocation != revoked):
            raise forbidden()

    def require_verified_address(self) -> None:
        """Adding a way into the account (a passkey, an authenticator app) is for the proven owner of
        its address only: the token must say the address was verified (400 otherwise)."""
        if not self.email_verified:
            raise bad_request(VERIFY_ADDRESS)

    def require_fresh(self, settings: FreshnessSettings, now: int) -> None:
        """A sign-in within settings.fresh_sign_in_seconds, and none before an operator's sign-out:
        403 "Sign in again to do this" otherwise."""
        if not now - settings.fresh_sign_in_seconds <= self.auth_time <= now + 60:  # a minute of clock skew
            raise forbidden()
        self.require_signed_in_since_revocation()


def caller_from(claims: Mapping[str, Any], revoked_at: Callable[[str], int]) -> Caller:
    """The caller of an authorized route. An access token is refused (401): its claims name no
    address, and the sample's client sends the ID token."""
    if claims.get("token_use") != "id":
        raise unauthorized()
    sub = _string(claims, "sub")
    if not _SUB.match(sub):
        raise ApiError(401, "Unauthorized")
    auth_time = _string(claims, "auth_time")
    if not _WHOLE.match(auth_time):
        raise ApiError(401, "Unauthorized")
    after_revocation = _string(claims, "after_revocation")
    return Caller(
        sub=sub,
        username=_string(claims, "cognito:username") or sub,
        email=_string(claims, "email"),
        email_verified=_string(claims, "email_verified") == "true",
        auth_time=int(auth_time),
        after_revocation=int(after_revocation) if _WHOLE.match(after_revocation) else 0,
        revoked_at=lambda: revoked_at(sub),
    )


def _string(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):  # a test's event; API Gateway sends strings
        value = str(int(value))
    if not isinstance(value, str) or len(value) > 2048:
        raise bad_request("Invalid token")
    return value
