"""RotateSigningKey's settings."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar

from keyless.core.settings import Env, required


@dataclass(frozen=True)
class RotationSettings:
    """RotateSigningKey: the secrets it rotates (Secrets Manager names one in each event too)."""

    VARIABLES: ClassVar = ("SIGNING_KEY_SECRET_ID", "AUTHENTICATOR_KEY_SECRET_ID")
    signing_key_secret_id: str
    authenticator_key_secret_id: str  # the authenticator apps' key ring ("": authenticator apps are off)

    @classmethod
    def from_env(cls, env: Env = os.environ) -> RotationSettings:
        return cls(
            signing_key_secret_id=required(env, "SIGNING_KEY_SECRET_ID"),
            authenticator_key_secret_id=env.get("AUTHENTICATOR_KEY_SECRET_ID", "").strip(),
        )
