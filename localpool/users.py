"""The pool's users, kept by moto's Cognito (the same store the triggers' admin calls change)."""

from __future__ import annotations

import functools

from localpool.orchestrator import PoolUser


class CognitoDirectory:
    def __init__(self, client, pool_id: str):
        self._client = client
        self._pool_id = pool_id

    @functools.cached_property
    def case_sensitive(self) -> bool:
        pool = self._client.describe_user_pool(UserPoolId=self._pool_id)["UserPool"]
        return bool(pool.get("UsernameConfiguration", {}).get("CaseSensitive", True))

    def find(self, username: str) -> PoolUser | None:
        # A case-insensitive pool matches user names and email aliases in any case; moto matches
        # exactly. On a case-sensitive pool "alice" and "Alice" are two people.
        candidates = [username] if self.case_sensitive else [username, username.strip().lower()]
        for candidate in dict.fromkeys(candidates):
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
