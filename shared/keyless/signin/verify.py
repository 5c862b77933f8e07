"""VerifyAuthChallengeResponse: is this answer the newest link or code sent to this user, at the
address the user has now?

A link is checked in memory first (shape, signature, the user's sub, expiry); then one conditional
write makes it single-use, only if it is the newest link and went to the user's current address. A
code is one conditional write: the newest code, of this sign-in, unused, unexpired, sent to the
current address, and the user's wrong codes within their budget; a wrong code is counted against
that budget (per user, across sessions), an over-budget user is refused even the right code.

Only after that: the first proof of a never-verified address takes the account back for its owner
(password replaced, other sessions signed out), then marks exactly that address verified.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from keyless.core import protocol
from keyless.methods import email_otp, magic_link
from keyless.signin import pseudonyms
from keyless.core.aws_errors import error_code
from keyless.core.budget import Budget
from keyless.core.errors import MalformedEvent
from keyless.core.events import TriggerEvent
from keyless.core.observability import count, logger
from keyless.aws.runtime import SignInRuntime
from keyless.store.sign_in import wrong_codes_counted


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
    if event.answer_too_long:
        return rejected(method, "too_long")
    try:
        claims, key = _read_link(event.answer, runtime)
    except magic_link.InvalidLink:
        return rejected(method, "bad_link")
    subject = claims.subject
    if event.user_not_found or not hmac.compare_digest(subject.sub.encode(), event.sub.encode()):
        return rejected(method, "other_user")
    if subject.pool_id != event.user_pool_id or subject.client_id != event.client_id:
        return rejected(method, "other_pool_or_client")  # redeemed only where it was issued
    now = runtime.now()
    if claims.expires_at <= now:
        return rejected(method, "expired")
    user = event.sub
    recipient = pseudonyms.recipient(key, event.email)
    outcome = runtime.store.consume_link(user, magic_link.token_hash(key, event.answer), recipient, flow, now, method)
    if not outcome.accepted:
        return rejected(method, _why_link_refused(outcome.item, recipient, now))
    _complete_sign_in(event, runtime, user, flow, method)
    return Verdict(True, method, "")


def _read_link(answer: str, runtime: SignInRuntime) -> tuple[magic_link.LinkClaims, bytes]:
    """A link signed by a key this container does not hold yet (another container's, after a
    rotation) is read again with the keys as they are now."""
    try:
        return magic_link.read(answer, runtime.keys.candidates())
    except magic_link.InvalidLink:
        named = magic_link.signing_key_id(answer)
        if not named or named in {pseudonyms.key_id(key) for key in runtime.keys.candidates()} or not runtime.keys.refresh():
            raise
        return magic_link.read(answer, runtime.keys.candidates())


def _why_link_refused(item: dict[str, Any], recipient: str, now: int) -> str:
    if not item.get("linkHash"):
        return "superseded"
    if item.get("recipient") != recipient:
        return "address_changed"  # or superseded by an email to another address
    if int(item.get("linkExpiresAt", 0)) <= now:
        return "expired"
    return "used_or_superseded"


def _verify_code(event: TriggerEvent, flow: str, runtime: SignInRuntime) -> Verdict:
    method = protocol.EMAIL_OTP
    code = None if event.answer_too_long else email_otp.normalize_answer(event.answer, runtime.settings.code_length)
    if code is None:
        return rejected(method, "malformed_code")  # cannot be right: not counted against the budget
    settings, now = runtime.settings, runtime.now()
    budget = settings.wrong_codes_budget
    current = runtime.keys.current()
    key_id = pseudonyms.key_id(current)
    if event.user_not_found:
        user = event.private_parameters.get(protocol.PRIVATE_UNKNOWN_USER, "")
        if not user.startswith(pseudonyms.UNKNOWN_PREFIX):
            raise MalformedEvent("privateChallengeParameters name no unknown user")
    else:
        user = event.sub
    address = event.user_name if event.user_not_found else event.email
    outcome = runtime.store.accept_code(
        user, email_otp.code_hash(current, flow, code), pseudonyms.recipient(current, address), flow, now, budget, key_id, method
    )
    if not outcome.accepted:
        item = outcome.item
        reason = _why_code_refused(item, flow, now, budget, key_id)
        if reason:
            return rejected(method, reason)
        key = _key_of_code(item, flow, code, runtime)
        if key is None:
            if item.get("keyId") not in _held_key_ids(runtime):
                # Made under a key this container cannot read even now: it cannot tell a right code
                # from a wrong one, so it counts nothing (the sign-in fails; the next answer may land
                # on a container that holds the key).
                return rejected(method, "key_unavailable")
            runtime.store.record_wrong_code(user, item, now, budget, key_id, now + budget.window_seconds, flow)
            return rejected(method, "wrong_code")
        if key == current:
            return rejected(method, "address_changed")  # the right code, sent to another address
        # Made with another key than this container's current one (a rotation): the same checks
        # under the key it was made with.
        outcome = runtime.store.accept_code(
            user, email_otp.code_hash(key, flow, code), pseudonyms.recipient(key, address), flow, now, budget, key_id, method
        )
        if not outcome.accepted:
            return rejected(method, _why_code_refused(outcome.item, flow, now, budget, key_id) or "address_changed")
    if event.user_not_found:
        return rejected(method, "wrong_code")  # nobody was sent this code; a lucky guess is still wrong
    _forgive_own_typos(runtime, user, outcome.item, key_id)
    _complete_sign_in(event, runtime, user, flow, method)
    return Verdict(True, method, "")


def _why_code_refused(item: dict[str, Any], flow: str, now: int, budget: Budget, key_id: str) -> str:
    """Why an answer cannot be right whatever the code; "" when only the code itself can be wrong."""
    if budget.retry_after(wrong_codes_counted(item, key_id), now):
        return "too_many_wrong_codes"
    if item.get("codeFlow") != flow or not item.get("codeHash"):
        return "superseded"
    if int(item.get("codeExpiresAt", 0)) <= now:
        return "expired"
    if item.get("codeUsedAt") is not None and item.get("codeUsedBy") != flow:
        return "used"
    return ""


def _key_of_code(item: dict[str, Any], flow: str, code: str, runtime: SignInRuntime) -> bytes | None:
    """The signing key the stored code hash was made with, if the answer is that code. A code made
    under a key this container does not hold yet (another container's, after a rotation) is checked
    again with the keys as they are now; the key id comes from the table, so no answer can ask for
    that reading (trusted=True: links can only spend the once-a-minute one)."""
    stored = str(item.get("codeHash", ""))
    for attempt in range(2):
        for key in runtime.keys.candidates():
            if hmac.compare_digest(email_otp.code_hash(key, flow, code), stored):
                return key
        if attempt or item.get("keyId") in _held_key_ids(runtime) or not runtime.keys.refresh(trusted=True):
            break
    return None


def _held_key_ids(runtime: SignInRuntime) -> set[str]:
    return {pseudonyms.key_id(key) for key in runtime.keys.candidates()}


def _forgive_own_typos(runtime: SignInRuntime, user: str, item: dict[str, Any], key_id: str) -> None:
    """Best effort, after the proof was accepted: if it cannot be done now, the typos keep counting
    (never fewer guesses for anyone), and the sign-in goes on."""
    try:
        runtime.store.forgive_own_typos(user, item, key_id)
    except (ClientError, BotoCoreError, RuntimeError) as exc:
        logger.error("typos not forgiven", extra={"user": user, "error_code": error_code(exc) or type(exc).__name__})


def _complete_sign_in(event: TriggerEvent, runtime: SignInRuntime, user: str, flow: str, method: str) -> None:
    """After an accepted proof, before the tokens. The first proof of an address that was never
    verified takes the account back for its owner: if that cannot be done now, the proof is given
    back (it can be used again) and the sign-in fails with the generic message."""
    if event.email_verified:
        return
    try:
        runtime.directory.claim_account(event.user_pool_id, event.user_name)
    except Exception:
        runtime.store.release_proof(user, flow)
        raise
    count("AccountsClaimed", method=method)
    logger.info("account claimed by the first proof of its address", extra={"user": user, "method": method})
    _mark_verified(event, runtime, user)
    _record_first_proof(runtime, user)


def _mark_verified(event: TriggerEvent, runtime: SignInRuntime, user: str) -> None:
    """If Cognito cannot record it right now, the sign-in still succeeds (the proof was valid and the
    account is already the owner's alone); the next sign-in records it. The metric makes such
    deferrals visible."""
    try:
        runtime.directory.mark_email_verified(
            event.user_pool_id, event.user_name, event.email, unverify_phone=event.user_attributes.get("phone_number_verified") == "true"
        )
    except (ClientError, BotoCoreError) as exc:
        code = error_code(exc) or type(exc).__name__
        logger.error("email_verified not recorded", extra={"user": user, "error_code": code})
        count("EmailVerificationDeferred")


def _record_first_proof(runtime: SignInRuntime, sub: str) -> None:
    """The profile says when the address was first proved (attributes set before are not trusted)."""
    try:
        runtime.profiles.record_email_proved(sub, runtime.now())
    except (ClientError, BotoCoreError) as exc:
        logger.error("first proof not recorded in the profile", extra={"user": sub, "error_code": error_code(exc)})
