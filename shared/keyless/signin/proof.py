"""What every method shares with the rounds: in CreateAuthChallenge, what making a proof takes and
gives (Issue, Issued); in VerifyAuthChallengeResponse, the verdict, and what follows an accepted proof
(the first proof of an address takes the account back for its owner, its tokens so far, authenticator
app and passkeys included, then marks exactly that address verified)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from keyless.core import protocol
from keyless.core.aws_errors import error_code
from keyless.core.errors import MalformedEvent
from keyless.core.events import TriggerEvent
from keyless.core.observability import count, logger
from keyless.signin import pseudonyms

if TYPE_CHECKING:
    from keyless.aws.runtime import SignInRuntime
    from keyless.core.settings.sign_in import SendSettings


@dataclass(frozen=True)
class Issue:
    """What a method needs to make the proof of one email."""

    event: TriggerEvent
    flow: str
    key: bytes
    now: int
    settings: SendSettings
    sent_to: str = "***"  # the address as the user may be shown it (masked), or *** where names are no addresses


@dataclass(frozen=True)
class Issued:
    fields: dict[str, Any]  # stored on the user's sign-in item: keyed hashes and expiries, never the secret
    secret: str  # the link's token or the code: in the email only
    email: dict[str, str]  # the email template's placeholders it fills (the link's are the page's: see create)
    lifetime_seconds: int  # how long the proof works


@dataclass(frozen=True)
class Verdict:
    correct: bool
    method: str
    reason: str  # why an answer was refused, for logs and metrics; "" when correct


def rejected(method: str, reason: str) -> Verdict:
    return Verdict(False, method, reason)


def accepted(method: str) -> Verdict:
    return Verdict(True, method, "")


def answering_user(event: TriggerEvent) -> str:
    """The table's name for the user answering: the sub, or for an unknown user the name
    CreateAuthChallenge gave them (it knows how the pool compares names)."""
    if not event.user_not_found:
        return event.sub
    user = event.private_parameters.get(protocol.PRIVATE_UNKNOWN_USER, "")
    if not user.startswith(pseudonyms.UNKNOWN_PREFIX):
        raise MalformedEvent("privateChallengeParameters name no unknown user")
    return user


def complete_sign_in(event: TriggerEvent, runtime: SignInRuntime, user: str, flow: str, method: str) -> None:
    """After an accepted proof, before the tokens. The first proof of an address that was never
    verified takes the account back for its owner: if that cannot be done now, the proof is given
    back (it can be used again) and the sign-in fails with the generic message."""
    if event.email_verified:
        return
    try:
        # First: the registrant's ID tokens stop counting for the management API (API Gateway's JWT
        # authorizer takes them until they expire, whatever AdminUserGlobalSignOut says).
        runtime.store.refuse_earlier_tokens(user, runtime.now())
        runtime.directory.claim_account(event.user_pool_id, event.user_name)
        _forget_authenticator_app(runtime, user)
        _forget_passkeys(runtime, user)
    except Exception:
        runtime.store.release_proof(user, flow)
        raise
    count("AccountsClaimed", method=method)
    logger.info("account claimed by the first proof of its address", extra={"user": user, "method": method})
    _mark_verified(event, runtime, user)
    _record_first_proof(runtime, user)


def _forget_authenticator_app(runtime: SignInRuntime, user: str) -> None:
    """An authenticator app set up before the address was proved was set up by whoever registered (or
    changed) it: it goes with the password (if that cannot be done now, the account is not claimed:
    the registrant must not keep a way in)."""
    if not runtime.settings.authenticator_key_secret_id:
        return  # authenticator apps are off: none can be used
    if runtime.authenticator_apps.remove(user):
        logger.info("authenticator app removed: set up before the address was proved", extra={"user": user})


def _forget_passkeys(runtime: SignInRuntime, user: str) -> None:
    """Passkeys registered before the address was proved were registered by whoever registered (or
    changed) it: they go with the password, all or none (if that cannot be done now, the account is
    not claimed)."""
    if not runtime.passkey_settings.enabled:
        return  # passkeys are off: none can be used, and the function may not touch them
    removed = runtime.passkeys.delete_all(user)
    if removed:
        logger.info("passkeys removed: registered before the address was proved", extra={"user": user, "passkeys": removed})


def _mark_verified(event: TriggerEvent, runtime: SignInRuntime, user: str) -> None:
    """If Cognito cannot record it right now, the sign-in still succeeds (the proof was valid and the
    account is already the owner's alone); the next sign-in records it. The metric makes such
    deferrals visible."""
    try:
        runtime.directory.mark_email_verified(
            event.user_pool_id,
            event.user_name,
            event.email,
            unverify_phone=event.user_attributes.get("phone_number_verified") == "true",
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
