"""The user pool: the Cognito calls the triggers make (take an account back for the owner of its
address, mark the address verified, add to the default group)."""

from __future__ import annotations

import secrets

from keyless.aws_errors import error_code

# Lower, upper, digit and symbol present; 98 characters satisfy a policy's MinimumLength up to 98
# (some emulators refuse 99 or more), and the longer retry the Cognito maximum of 99.
PASSWORD_LENGTHS = (98, 128)


def unusable_password(length: int) -> str:
    """A password nobody keeps, valid under the pool's password policy."""
    return ("Aa1!" + secrets.token_urlsafe(length))[:length]


class UserDirectory:
    def __init__(self, client):
        self._client = client

    def claim_account(self, user_pool_id: str, user_name: str) -> None:
        """Whatever a registrant set up before the owner proved the address stops working: the
        password is replaced with one nobody keeps, and every session is signed out."""
        for length in PASSWORD_LENGTHS:
            try:
                self._client.admin_set_user_password(
                    UserPoolId=user_pool_id, Username=user_name, Password=unusable_password(length), Permanent=True
                )
                break
            except Exception as exc:
                if error_code(exc) != "InvalidPasswordException" or length == PASSWORD_LENGTHS[-1]:
                    raise
        self._client.admin_user_global_sign_out(UserPoolId=user_pool_id, Username=user_name)

    def mark_email_verified(self, user_pool_id: str, user_name: str, address: str, unverify_phone: bool = False) -> None:
        """Verified: this address, the one the proof reached (sent together, so a change made in
        between cannot be the one marked). unverify_phone: at an account's first proof, a phone
        number verified before it was verified by whoever registered, and must not recover the
        account (on pools that recover or sign in by phone) until its owner verifies it again."""
        attributes = [{"Name": "email", "Value": address}, {"Name": "email_verified", "Value": "true"}]
        if unverify_phone:
            attributes.append({"Name": "phone_number_verified", "Value": "false"})
        self._client.admin_update_user_attributes(UserPoolId=user_pool_id, Username=user_name, UserAttributes=attributes)

    def add_to_group(self, user_pool_id: str, user_name: str, group: str) -> None:
        """Idempotent: adding a member again is not an error."""
        self._client.admin_add_user_to_group(UserPoolId=user_pool_id, Username=user_name, GroupName=group)
