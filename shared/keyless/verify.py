"""VerifyAuthChallengeResponse: is this answer a valid link or code for this user and this sign-in?

Answers are checked cheapest first (shape, signature, expiry) and only a fully valid link costs a
write: the single conditional update that makes it single-use, made last, so a link is never
marked used unless the sign-in then succeeds.
"""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from keyless import codes, identity, links, protocol
from keyless.aws_errors import error_code
from keyless.errors import MalformedEvent
from keyless.events import TriggerEvent
from keyless.observability import count, logger
from keyless.runtime import SignInRuntime


@dataclass(frozen=True)
class Verdict:
    correct: bool
    method: str
    reason: str  # why an answer was refused, for logs and metrics; "" when correct


def rejected(method: str, reason: str) -> Verdict:
    return Verdict(False, method, reason)


def verify_answer(event: TriggerEvent, runtime: SignInRuntime) -> Verdict:
    step = event.private_parameters.get(protocol.PRIVATE_STEP)
    flow = event.private_parameters.get(protocol.PRIVATE_FLOW, "")
    if step not in protocol.STEPS or not flow:
        raise MalformedEvent("privateChallengeParameters are not ours")
    if step == protocol.CHOOSE_METHOD:
        if event.client_metadata.get(protocol.META_ALREADY_HAVE_LINK) != protocol.YES:
            return rejected("", "request")  # a request for an email, not an answer: Define goes on
        return _verify_link(event, flow, runtime)
    if step == protocol.MAGIC_LINK:
        return _verify_link(event, flow, runtime)
    return _verify_code(event, flow, runtime)


def _verify_link(event: TriggerEvent, flow: str, runtime: SignInRuntime) -> Verdict:
    method = protocol.MAGIC_LINK
    try:
        claims, key = links.read(event.answer, runtime.keys.candidates())
    except links.InvalidLink:
        return rejected(method, "bad_link")
    if event.user_not_found or identity.normalized(claims.user_name) != identity.normalized(event.user_name):
        return rejected(method, "other_user")
    now = runtime.now()
    if claims.expires_at <= now:
        return rejected(method, "expired")
    _prove_address(event, runtime)
    if not runtime.store.consume_link(identity.user_ref(event.user_name), links.token_hash(key, event.answer), flow, now):
        return rejected(method, "used_or_superseded")
    return Verdict(True, method, "")


def _verify_code(event: TriggerEvent, flow: str, runtime: SignInRuntime) -> Verdict:
    method = protocol.EMAIL_OTP
    code = codes.normalize_answer(event.answer, runtime.settings.code_length)
    if code is None:
        return rejected(method, "malformed_code")
    try:
        expires_at = int(event.private_parameters.get(protocol.PRIVATE_CODE_EXPIRES_AT, "0"))
    except ValueError:
        raise MalformedEvent("code expiry is not a number") from None
    if expires_at <= runtime.now():
        return rejected(method, "expired")
    expected = event.private_parameters.get(protocol.PRIVATE_CODE_HASH, "")
    if not codes.matches(runtime.keys.candidates(), flow, code, expected) or event.user_not_found:
        return rejected(method, "wrong_code")
    _prove_address(event, runtime)
    return Verdict(True, method, "")


def _prove_address(event: TriggerEvent, runtime: SignInRuntime) -> None:
    """Holding the link or code proves control of the address: mark it verified, once.

    If Cognito cannot record it right now, the sign-in still succeeds (the proof was valid, and a
    failed code sign-in would cost the user a new email and the send limit); the next sign-in
    records it. The metric makes such deferrals visible.
    """
    if event.email_verified:
        return
    try:
        runtime.directory.mark_email_verified(event.user_pool_id, event.user_name)
    except (ClientError, BotoCoreError) as exc:
        code = error_code(exc) or type(exc).__name__
        logger.error("email_verified not recorded", extra={"user": identity.user_ref(event.user_name), "error_code": code})
        count("EmailVerificationDeferred")
