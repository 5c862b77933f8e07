"""RotateSigningKey's settings."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar

from keyless.core.settings import Env, required


@dataclass(frozen=True)
class RotationSettings:
    """RotateSigningKey: the one secret it rotates (Secrets Manager names it in each event too)."""

    VARIABLES: ClassVar = ("SIGNING_KEY_SECRET_ID",)
    signing_key_secret_id: str

    @classmethod
    def from_env(cls, env: Env = os.environ) -> RotationSettings:
        return cls(signing_key_secret_id=required(env, "SIGNING_KEY_SECRET_ID"))
