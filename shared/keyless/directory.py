"""The user pool: the Cognito calls the triggers make (mark the address verified; add to the default group)."""

from __future__ import annotations


class UserDirectory:
    def __init__(self, client):
        self._client = client

    def mark_email_verified(self, user_pool_id: str, user_name: str) -> None:
        self._client.admin_update_user_attributes(
            UserPoolId=user_pool_id,
            Username=user_name,
            UserAttributes=[{"Name": "email_verified", "Value": "true"}],
        )

    def add_to_group(self, user_pool_id: str, user_name: str, group: str) -> None:
        """Idempotent: adding a member again is not an error."""
        self._client.admin_add_user_to_group(UserPoolId=user_pool_id, Username=user_name, GroupName=group)
