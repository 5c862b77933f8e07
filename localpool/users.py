"""The pool's users, kept by moto's Cognito (the same store the triggers' admin calls change)."""

from __future__ import annotations

from localpool.orchestrator import PoolUser


class CognitoDirectory:
    def __init__(self, client, pool_id: str):
        self._client = client
        self._pool_id = pool_id

    def find(self, username: str) -> PoolUser | None:
        # Cognito matches user names and email aliases case-insensitively; moto matches exactly.
        for candidate in dict.fromkeys([username, username.strip().lower()]):
            if not candidate:
                continue
            try:
                found = self._client.admin_get_user(UserPoolId=self._pool_id, Username=candidate)
            except self._client.exceptions.UserNotFoundException:
                continue
            groups = self._client.admin_list_groups_for_user(UserPoolId=self._pool_id, Username=found["Username"])
            return PoolUser(
                user_name=found["Username"],
                attributes={a["Name"]: a["Value"] for a in found.get("UserAttributes", [])},
                status=found.get("UserStatus", "CONFIRMED"),
                enabled=found.get("Enabled", True),
                groups=tuple(g["GroupName"] for g in groups.get("Groups", [])),
            )
        return None
