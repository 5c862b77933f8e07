"""PostConfirmation: the user's profile made once, and the default group joined.

The profile is one item per user (pk PROFILE#<sub>, sk PROFILE; keyless.store.profiles reads and
writes it), created once when the user is confirmed:
  sub, email, createdAt (epoch seconds)   from Cognito, at creation
  emailProvedAt (epoch seconds)           when the address was first proved (a link or code that
                                          reached it, or Cognito's own confirmation code); anything
                                          the user set before then was set by whoever registered
  the operator's defaults                 ProfileDefaults, e.g. {"tenant": ..., "roles": [...], "plan": ...}
Creating it is a single conditional PutItem (attribute_not_exists), so Cognito's retries and the
token-time self-heal can run it any number of times and only the first one writes. Changing a
profile afterwards (a plan upgrade, new roles) is the operator's business; the next token, a refresh
included, carries the change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from keyless.aws.directory import UserDirectory
from keyless.core import triggers
from keyless.core.events import TriggerEvent
from keyless.core.observability import count, logger
from keyless.core.settings.profiles import ProfileSettings
from keyless.store.profiles import ProfileStore

SORT_KEY = "PROFILE"


def new_profile(sub: str, email: str, now: int, defaults: Mapping[str, Any], email_proved: bool = False) -> dict[str, Any]:
    profile = {**defaults, "sub": sub, "email": email.strip(), "createdAt": now}
    if email_proved:
        profile["emailProvedAt"] = now
    return profile


@dataclass(frozen=True)
class Provisioned:
    profile: dict[str, Any]
    created: bool


class Provisioner:
    """Provisioning a confirmed user: the default group (if any), then the profile. PostConfirmation
    and PreTokenGeneration's self-heal both come here, so a user gets the same whichever ran."""

    def __init__(
        self,
        store: ProfileStore,
        profile_settings: ProfileSettings,
        directory: Callable[[], UserDirectory],
        clock: Callable[[], int],
    ):
        """`directory` is called only when a default group is configured: a pool without one never
        pays for creating a Cognito client."""
        self._store = store
        self._settings = profile_settings
        self._directory = directory
        self._clock = clock

    def provision(self, event: TriggerEvent) -> Provisioned:
        sub = event.sub
        group = self._settings.default_group
        if group:
            # Before the profile: if this fails, no profile exists and the next attempt (a retry, or
            # the first token generation) does both again. Adding a member twice is not an error.
            self._directory().add_to_group(event.user_pool_id, event.user_name, group)
        profile, created = self._store.create(
            new_profile(sub, event.email, self._clock(), self._settings.defaults, email_proved=event.email_verified)
        )
        user = sub
        if created:
            count("ProfilesCreated")
            logger.info("profile created", extra={"user": user, "group": group or None})
        else:
            logger.info("profile already exists", extra={"user": user})
        return Provisioned(profile, created)


def on_confirmation(event: TriggerEvent, provisioner: Provisioner) -> dict:
    """PostConfirmation: provision a newly confirmed user; a password reset provisions nothing.

    A failure is logged and swallowed: raising would fail the user's sign-up call after Cognito had
    already confirmed them, and their first token generation provisions them through the same code.
    """
    if event.trigger_source == triggers.CONFIRM_FORGOT_PASSWORD:
        return {}
    _ = event.sub  # a malformed event is refused, not deferred
    try:
        provisioner.provision(event)
    except Exception as exc:
        count("ProvisioningDeferred")
        logger.error(
            "provisioning failed; deferred to the first token generation",
            extra={"user": event.user_attributes.get("sub", ""), "error_type": type(exc).__name__},
        )
    return {}
