"""The pool's users, kept by moto's Cognito (the same store the triggers' admin calls change)."""

from __future__ import annotations

from localpool.orchestrator import PoolUser


class CognitoDirectory:
    def __init__(self, client, pool_id: str):
        self._client = client
        self._pool_id = pool_id

    def find(self, username: str) -> PoolUser | None:
        """The user of this name or sign-in alias, compared as the pool compares names (in any case
        unless it is case-sensitive: localpool.moto_fixes); names are not trimmed, as Cognito's are not."""
        if not username:
            return None
        try:
            found = self._client.admin_get_user(UserPoolId=self._pool_id, Username=username)
        except self._client.exceptions.UserNotFoundException:
            return None
        groups = self._client.admin_list_groups_for_user(UserPoolId=self._pool_id, Username=found["Username"])
        return PoolUser(
            user_name=found["Username"],
            attributes={a["Name"]: a["Value"] for a in found.get("UserAttributes", [])},
            status=found.get("UserStatus", "CONFIRMED"),
            enabled=found.get("Enabled", True),
            groups=tuple(g["GroupName"] for g in groups.get("Groups", [])),
        )
