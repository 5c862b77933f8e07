"""DefineAuthChallenge's settings."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar

from keyless.core.settings import Env, max_code_attempts


@dataclass(frozen=True)
class DefineSettings:
    VARIABLES: ClassVar = ("MAX_CODE_ATTEMPTS",)
    max_code_attempts: int

    @classmethod
    def from_env(cls, env: Env = os.environ) -> DefineSettings:
        return cls(max_code_attempts=max_code_attempts(env))
