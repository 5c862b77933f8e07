"""EmailEvents' settings."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar

from keyless.core.settings import Env, key_cache_seconds, required, whole_number


@dataclass(frozen=True)
class EmailEventsSettings:
    """EmailEvents: where an address's suppression is kept (hashed under the pseudonym key, as every
    address in the table), and how long a hard bounce or a complaint stops sign-in emails to it."""

    VARIABLES: ClassVar = ("TABLE_NAME", "PSEUDONYM_KEY_SECRET_ID", "SIGNING_KEY_CACHE_SECONDS", "EMAIL_SUPPRESSION_DAYS")
    table_name: str
    pseudonym_key_secret_id: str
    key_cache_seconds: int
    suppression_seconds: int

    @classmethod
    def from_env(cls, env: Env = os.environ) -> EmailEventsSettings:
        return cls(
            table_name=required(env, "TABLE_NAME"),
            pseudonym_key_secret_id=required(env, "PSEUDONYM_KEY_SECRET_ID"),
            key_cache_seconds=key_cache_seconds(env),
            suppression_seconds=whole_number(env, "EMAIL_SUPPRESSION_DAYS", 14, 1, 365) * 86400,
        )
