"""Cognito's user attributes: which exist, which an app client may write, and the codes that prove
an email address (UpdateUserAttributes, GetUserAttributeVerificationCode, VerifyUserAttribute)."""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from localpool.errors import CognitoError, code_mismatch, invalid_parameter, not_authorized

STANDARD_ATTRIBUTES = frozenset(
    {
        "address", "birthdate", "email", "email_verified", "family_name", "gender", "given_name", "locale", "middle_name",
        "name", "nickname", "phone_number", "phone_number_verified", "picture", "preferred_username", "profile", "sub",
        "updated_at", "website", "zoneinfo",
    }
)  # fmt: skip
CODE_SECONDS = 24 * 3600  # Cognito's attribute verification codes last 24 hours
MAX_WRONG_CODES = 5  # then the code is dropped and a new one must be asked for
MAX_CODES_PER_HOUR = 5  # new codes per user: more, and each would be 5 more guesses and one more email


def attribute_changes(body: Mapping, name: str = "UserAttributes") -> dict[str, str]:
    """A request's [{"Name", "Value"}] list as a dict."""
    value = body.get(name)
    if not isinstance(value, list) or not all(
        isinstance(a, dict) and isinstance(a.get("Name"), str) and isinstance(a.get("Value", ""), str) for a in value
    ):
        raise invalid_parameter(f"Missing required parameter {name}")
    return {a["Name"]: a.get("Value", "") for a in value}


def check_in_schema(names: Iterable[str], custom_attributes: frozenset[str]) -> None:
    """Each attribute must be a standard one or one of the pool's own (custom:...)."""
    for name in names:
        if name not in STANDARD_ATTRIBUTES and name not in custom_attributes:
            raise invalid_parameter(f"Attributes did not conform to the schema: {name}: Attribute does not exist in the schema.")


def check_writable(names: Iterable[str], custom_attributes: frozenset[str], write_attributes: tuple[str, ...] | None) -> None:
    """Each attribute must exist in the pool and be one the app client may write (all but `sub`
    when the client names none)."""
    names = list(names)
    check_in_schema(names, custom_attributes)
    for name in names:
        if name == "sub" or (write_attributes is not None and name not in write_attributes):
            raise not_authorized("A client attempted to write unauthorized attribute")


def code_delivery(address: str) -> dict:
    local, _, domain = address.partition("@")
    return {"Destination": f"{local[:1]}***@{domain[:1]}***", "DeliveryMedium": "EMAIL", "AttributeName": "email"}


@dataclass
class EmailCode:
    address: str  # where the code was sent
    pending: bool  # the address is a new email waiting for this code before it replaces the old one
    code: str | None  # None after too many wrong answers: a new code must be asked for
    expires_at: float
    wrong_answers: int = 0


class EmailCodes:
    """One live email verification code per user (the newest), keyed by Cognito's user name. A
    pending address stays until it is proved or replaced, whatever happens to its code."""

    def __init__(self) -> None:
        self._codes: dict[str, EmailCode] = {}
        self._issued: dict[str, list[float]] = {}  # when each user's recent codes were made
        self._lock = threading.Lock()

    def issue(self, user_name: str, address: str, pending: bool, now: float) -> str:
        """A new code replacing the user's last; LimitExceededException past MAX_CODES_PER_HOUR."""
        code = f"{secrets.randbelow(10**6):06d}"
        with self._lock:
            recent = [t for t in self._issued.get(user_name, []) if t > now - 3600]
            if len(recent) >= MAX_CODES_PER_HOUR:
                raise _attempt_limit()
            self._issued[user_name] = [*recent, now]
            self._codes[user_name] = EmailCode(address, pending, code, now + CODE_SECONDS)
        return code

    def pending_address(self, user_name: str) -> str | None:
        with self._lock:
            found = self._codes.get(user_name)
        return found.address if found is not None and found.pending else None

    def discard(self, user_name: str) -> None:
        with self._lock:
            self._codes.pop(user_name, None)

    def redeem(self, user_name: str, code: str, now: float) -> EmailCode:
        """The code's record, removed, if `code` is right and alive; Cognito's error otherwise."""
        with self._lock:
            found = self._codes.get(user_name)
            if found is None:
                raise code_mismatch()
            if found.code is None:
                raise _attempt_limit()
            if not hmac.compare_digest(found.code.encode(), code.strip().encode()):
                found.wrong_answers += 1
                if found.wrong_answers >= MAX_WRONG_CODES:
                    found.code = None
                    raise _attempt_limit()
                raise code_mismatch()
            if found.expires_at <= now:
                raise CognitoError("ExpiredCodeException", "Invalid code provided, please request a code again.")
            del self._codes[user_name]
            return found


def _attempt_limit() -> CognitoError:
    return CognitoError("LimitExceededException", "Attempt limit exceeded, please try after some time.")
