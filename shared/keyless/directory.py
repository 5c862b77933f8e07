"""The user pool: the one Cognito call the sign-in makes."""

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
