"""The user pool: the Cognito calls the triggers make (take an account back for the owner of its
address, mark the address verified, add to the default group)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from keyless.core.aws_errors import error_code
from keyless.core.errors import MalformedEvent

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient
    from mypy_boto3_cognito_idp.type_defs import AttributeTypeTypeDef

# Lower, upper, digit and symbol present; 98 characters satisfy a policy's MinimumLength up to 98
# (some emulators refuse 99 or more), and the longer retry the Cognito maximum of 99.
PASSWORD_LENGTHS = (98, 128)


def unusable_password(length: int) -> str:
    """A password nobody keeps, valid under the pool's password policy."""
    return ("Aa1!" + secrets.token_urlsafe(length))[:length]


@dataclass(frozen=True)
class UserNames:
    """How the pool names its users, which decides how an unknown name must be treated to look
    like a known one: folded to one case or not, and whether every name typed is an address."""

    case_sensitive: bool
    are_addresses: bool  # UsernameAttributes has email: users sign in with their email address


class UserDirectory:
    def __init__(self, client: CognitoIdentityProviderClient):
        self._client = client
        self._names: dict[str, UserNames] = {}

    def user_names(self, user_pool_id: str) -> UserNames:
        """Read once per container: Cognito never changes these settings of a pool."""
        if user_pool_id not in self._names:
            try:
                pool: Mapping[str, Any] = self._client.describe_user_pool(UserPoolId=user_pool_id)["UserPool"]
            except Exception as exc:
                # Only an event Cognito did not send names a pool that does not exist.
                if error_code(exc) == "ResourceNotFoundException":
                    raise MalformedEvent("userPoolId names no user pool") from None
                raise
            self._names[user_pool_id] = UserNames(
                # Cognito's API default, when a pool was made without the setting, is case-sensitive.
                case_sensitive=bool((pool.get("UsernameConfiguration") or {}).get("CaseSensitive", True)),
                are_addresses="email" in (pool.get("UsernameAttributes") or []),
            )
        return self._names[user_pool_id]

    def claim_account(self, user_pool_id: str, user_name: str) -> None:
        """Whatever a registrant set up before the owner proved the address stops working: the
        password is replaced with one nobody keeps, and every session is signed out."""
        self.set_unusable_password(user_pool_id, user_name)
        self._client.admin_user_global_sign_out(UserPoolId=user_pool_id, Username=user_name)

    def set_unusable_password(self, user_pool_id: str, user_name: str) -> None:
        """A permanent password nobody keeps (the user is CONFIRMED, as after a passwordless sign-up)."""
        for length in PASSWORD_LENGTHS:
            try:
                self._client.admin_set_user_password(
                    UserPoolId=user_pool_id, Username=user_name, Password=unusable_password(length), Permanent=True
                )
                break
            except Exception as exc:
                if error_code(exc) != "InvalidPasswordException" or length == PASSWORD_LENGTHS[-1]:
                    raise

    def mark_email_verified(self, user_pool_id: str, user_name: str, address: str, unverify_phone: bool = False) -> None:
        """Verified: this address, the one the proof reached (sent together, so a change made in
        between cannot be the one marked). unverify_phone: at an account's first proof, a phone
        number verified before it was verified by whoever registered, and must not recover the
        account (on pools that recover or sign in by phone) until its owner verifies it again."""
        attributes: list[AttributeTypeTypeDef] = [
            {"Name": "email", "Value": address},
            {"Name": "email_verified", "Value": "true"},
        ]
        if unverify_phone:
            attributes.append({"Name": "phone_number_verified", "Value": "false"})
        self._client.admin_update_user_attributes(UserPoolId=user_pool_id, Username=user_name, UserAttributes=attributes)

    def add_to_group(self, user_pool_id: str, user_name: str, group: str) -> None:
        """Idempotent: adding a member again is not an error."""
        self._client.admin_add_user_to_group(UserPoolId=user_pool_id, Username=user_name, GroupName=group)
