"""The management API's authenticator-app routes' settings (keyless.account.authenticator_app)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar

from keyless.core.budget import Budget
from keyless.core.settings import Env, key_cache_seconds, max_wrong_codes, required, whole_number, wrong_code_window_seconds


@dataclass(frozen=True)
class AuthenticatorAppSettings:
    VARIABLES: ClassVar[tuple[str, ...]] = (
        "TABLE_NAME", "PSEUDONYM_KEY_SECRET_ID", "AUTHENTICATOR_KEY_SECRET_ID", "SIGNING_KEY_CACHE_SECONDS",
        "MAX_WRONG_CODES", "WRONG_CODE_WINDOW_SECONDS", "APP_NAME", "FRESH_SIGN_IN_SECONDS",
    )  # fmt: skip
    table_name: str
    pseudonym_key_secret_id: str  # what wrong codes are counted under (as the sign-in functions count them)
    authenticator_key_secret_id: str  # the key ring secrets are sealed under ("": authenticator apps are off)
    key_cache_seconds: int
    max_wrong_codes: int
    wrong_code_window_seconds: int
    app_name: str  # the issuer an app shows beside its codes
    fresh_sign_in_seconds: int  # setting up or removing an app needs a sign-in this recent

    @property
    def enabled(self) -> bool:
        return bool(self.authenticator_key_secret_id)

    @property
    def wrong_codes_budget(self) -> Budget:
        return Budget(self.max_wrong_codes, self.wrong_code_window_seconds)

    @classmethod
    def from_env(cls, env: Env = os.environ) -> AuthenticatorAppSettings:
        return cls(
            table_name=required(env, "TABLE_NAME"),
            pseudonym_key_secret_id=required(env, "PSEUDONYM_KEY_SECRET_ID"),
            authenticator_key_secret_id=env.get("AUTHENTICATOR_KEY_SECRET_ID", "").strip(),
            key_cache_seconds=key_cache_seconds(env),
            max_wrong_codes=max_wrong_codes(env),
            wrong_code_window_seconds=wrong_code_window_seconds(env),
            app_name=env.get("APP_NAME", "").strip() or "Keyless",
            fresh_sign_in_seconds=whole_number(env, "FRESH_SIGN_IN_SECONDS", 300, 60, 3600),
        )
