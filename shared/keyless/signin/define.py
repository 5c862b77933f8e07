"""DefineAuthChallenge: the sign-in state machine, pure logic.

Only VerifyAuthChallengeResponse can make a round succeed, and it does so only for a valid link or
code, so a successful last round means tokens. Client metadata (which the client controls) only ever
chooses between "another round" and "fail", never tokens.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

from keyless import methods
from keyless.core import protocol
from keyless.core.events import SessionEntry, TriggerEvent
from keyless.core.observability import count
from keyless.core.settings.define import DefineSettings


@dataclass(frozen=True)
class Decision:
    challenge_name: str = ""
    issue_tokens: bool = False
    fail_authentication: bool = False
    method: str = ""  # the method that decided the sign-in, for metrics
    reason: str = ""  # why the sign-in failed, for metrics

    def as_response(self) -> dict:
        response: dict = {"issueTokens": self.issue_tokens, "failAuthentication": self.fail_authentication}
        if self.challenge_name:
            response["challengeName"] = self.challenge_name
        return response


NEXT_ROUND = Decision(challenge_name=protocol.CUSTOM_CHALLENGE)


@functools.cache
def _settings() -> DefineSettings:
    return DefineSettings.from_env()


def define_auth_challenge(event: TriggerEvent) -> dict:
    """DefineAuthChallenge's response to this event, its outcome counted."""
    decision = decide(event.session, event.client_metadata, _settings().max_code_attempts)
    if decision.issue_tokens:
        count("SignInSucceeded", method=decision.method)
    elif decision.fail_authentication:
        count("SignInFailed", method=decision.method, reason=decision.reason)
    return decision.as_response()


def fail(reason: str, method: str = "") -> Decision:
    return Decision(fail_authentication=True, reason=reason, method=method)


def decide(session: tuple[SessionEntry, ...], client_metadata: Mapping[str, str], max_attempts: int) -> Decision:
    if not session:
        return NEXT_ROUND
    if len(session) > protocol.MAX_ROUNDS:
        return fail("too_many_rounds")
    if any(entry.challenge_name != protocol.CUSTOM_CHALLENGE or entry.step is None for entry in session):
        return fail("unsupported_flow")

    last = session[-1]
    method = _method_of(last, client_metadata)
    if last.challenge_result:
        return Decision(issue_tokens=True, method=method)
    if last.step == protocol.CHOOSE_METHOD:
        chosen = methods.METHODS.get(method)
        if chosen is not None and chosen.answers_round_one:
            return fail(chosen.refused, method)  # its proof was the answer, and it was refused: no email
        if len(session) == 1 and protocol.wants_email(client_metadata):
            return NEXT_ROUND
        return fail(methods.MAGIC_LINK.refused if method == methods.MAGIC_LINK.name else "no_method_chosen", method)
    asked = methods.METHODS.get(last.step or "")
    if asked is None:
        return fail("unsupported_flow")
    if asked.asks_again and protocol.wrong_answers(session, asked.name) < max_attempts:
        return NEXT_ROUND
    return fail(asked.refused, method)


def _method_of(last: SessionEntry, client_metadata: Mapping[str, str]) -> str:
    if last.step in methods.METHODS:
        return last.step
    method = client_metadata.get(protocol.META_METHOD, "")
    return method if method in methods.METHODS else ""
