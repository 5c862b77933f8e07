"""The sign-in protocol: the names clients and triggers agree on.

Round 1 (InitiateAuth CUSTOM_AUTH) offers the methods. The answer to round 1 carries the client's
choice in ClientMetadata, because InitiateAuth's ClientMetadata never reaches the challenge triggers.
Round 2 emails the link or code; round 3 (and, for codes, later rounds) takes the answer. A magic
link may also be answered straight away in round 2 of a fresh sign-in (ALREADY_HAVE_MAGIC_LINK).

This module is pure data: DefineAuthChallenge imports it, and DefineAuthChallenge loads no boto3.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from keyless.methods import METHODS, NAMES, STEP_UPS, Method  # the methods are named in keyless.methods, and only there

CUSTOM_CHALLENGE = "CUSTOM_CHALLENGE"


# Steps, recorded by CreateAuthChallenge in challengeMetadata as "<step>:<flow id>", or
# "<step>:<flow id>:<method>" when an email proof accepted in that round must be followed by a second
# step, the round of that method's step_up (the user has one, and the operator requires it).
CHOOSE_METHOD = "CHOOSE_METHOD"
STEPS = (CHOOSE_METHOD, *NAMES, *STEP_UPS)  # every method's name is also the step of its round

# ClientMetadata keys of RespondToAuthChallenge.
META_METHOD = "signInMethod"
META_REDIRECT_URI = "redirectUri"
META_ALREADY_HAVE_LINK = "alreadyHaveMagicLink"
YES = "yes"
# The browser that asks for a link keeps a random device secret and sends only its hash when it asks
# (base64url SHA-256 of the secret's ASCII); opening the link, it may send the secret itself.
META_DEVICE_HASH = "deviceHash"
META_DEVICE_SECRET = "deviceSecret"

# publicChallengeParameters keys (Cognito adds USERNAME).
PARAM_STEP = "step"
PARAM_METHODS = "methods"
PARAM_SENT_TO = "sentTo"
PARAM_EXPIRES_AT = "expiresAt"
PARAM_ATTEMPTS_LEFT = "attemptsLeft"
PARAM_CODE_LENGTH = "codeLength"

# privateChallengeParameters keys (only VerifyAuthChallengeResponse sees them).
PRIVATE_STEP = "step"
PRIVATE_FLOW = "flow"
PRIVATE_CODE_HASH = "codeHash"
PRIVATE_CODE_EXPIRES_AT = "codeExpiresAt"
# The table's name for an unknown user, as CreateAuthChallenge named them (it knows how the pool
# compares names; VerifyAuthChallengeResponse then need not ask the pool).
PRIVATE_UNKNOWN_USER = "unknownUser"

# A sign-in never takes more rounds than this: choose, send, and a few code attempts.
MAX_ROUNDS = 10


def challenge_metadata(step: str, flow: str, then: str = "") -> str:
    return f"{step}:{flow}:{then}" if then else f"{step}:{flow}"


def parse_challenge_metadata(metadata: object) -> tuple[str, str, str] | None:
    """(step, flow, then) from a session entry's challengeMetadata, or None if it is not ours; `then`
    is the method of the second step an email proof of that round needs ("" when none)."""
    if not isinstance(metadata, str):
        return None
    step, sep, rest = metadata.partition(":")
    flow, _, then = rest.partition(":")
    if not sep or step not in STEPS or not flow:
        return None
    if then and then not in {method.name for method in STEP_UPS.values()}:
        return None
    return step, flow, then


def round_one_method(client_metadata: Mapping[str, str]) -> Method | None:
    """The method whose proof answers round 1 itself (the passkey), when the answer names one:
    VerifyAuthChallengeResponse checks such an answer with that method, and DefineAuthChallenge then
    knows the accepted proof was no email's (no second step follows it)."""
    chosen = METHODS.get(client_metadata.get(META_METHOD, ""))
    return chosen if chosen is not None and chosen.answers_round_one else None


def wants_email(client_metadata: Mapping[str, str]) -> bool:
    """True when the answer to round 1 asks for an email rather than presenting a link: CreateAuthChallenge
    then sends it, or, without a method it offers, says which ones there are."""
    return client_metadata.get(META_ALREADY_HAVE_LINK) != YES


def wrong_answers(session: Iterable[Any], step: str) -> int:
    """The wrong answers given in this sign-in to rounds of this step (session entries)."""
    return sum(1 for entry in session if entry.step == step and not entry.challenge_result)
