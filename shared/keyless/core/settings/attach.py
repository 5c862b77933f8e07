"""AttachTriggers' settings."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar

from keyless.core.settings import Env, required


@dataclass(frozen=True)
class AttachSettings:
    """AttachTriggers: the table where a pool's previous triggers are kept."""

    VARIABLES: ClassVar = ("TABLE_NAME",)
    table_name: str

    @classmethod
    def from_env(cls, env: Env = os.environ) -> AttachSettings:
        return cls(table_name=required(env, "TABLE_NAME"))
