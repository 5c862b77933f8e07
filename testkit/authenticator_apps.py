"""Authenticator apps for the tests: a user's app set up through the management API's real handler
(testkit.passkeys.ManagementApi: HTTP API 2.0 events with the claims of a real ID token of the served
pool), and its codes made with pyotp at the times a test chooses (the served pool's clock)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyotp

from testkit.passkeys import Passkeys

START, CONFIRM = "POST /authenticator-app/start", "POST /authenticator-app/confirm"
REMOVE, STATUS = "POST /authenticator-app/remove", "POST /authenticator-app/status"
TOTP = {"signInMethod": "TOTP"}


@dataclass
class App:
    """The app on a user's phone: the secret it scanned."""

    secret: str
    clock: Callable[[], float]

    def code(self, offset_steps: int = 0) -> str:
        """The code it shows now (or offset_steps 30-second steps from now: a phone's clock off)."""
        return pyotp.TOTP(self.secret).at(self.clock(), counter_offset=offset_steps)


class AuthenticatorApps(Passkeys):
    """A served pool, its management API, and what a test does with both (user() and signed_in(): the
    claims of an ID token after an email code, as for passkeys)."""

    def start(self, claims: dict[str, str]) -> dict[str, Any]:
        status, body = self.api.call(START, claims)
        assert status == 200, body
        return body

    def set_up(self, claims: dict[str, str]) -> App:
        """Begun and confirmed with the app's first code, as a user scanning the QR code does."""
        app = App(self.start(claims)["secret"], self.clock)
        status, body = self.api.call(CONFIRM, claims, {"code": app.code()})
        assert (status, body) == (200, {"status": "active"})
        self.clock.advance(30)  # the next code is a new one (the first was used to confirm)
        return app

    def ask_for_code(self, username: str) -> dict[str, Any]:
        """Round 2 of a sign-in with the app: no email, a round asking for its code."""
        return self.app.respond(self.app.start(username), "-", TOTP)

    def answer(self, challenge: dict[str, Any], code: str) -> dict[str, Any]:
        return self.app.respond(challenge, code, TOTP)
