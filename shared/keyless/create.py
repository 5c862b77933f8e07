"""CreateAuthChallenge: offer the methods, send the link or code, or ask for the code again.

Round 1 sends nothing. The round after it sends one email, guarded by one conditional write that is
the per-user send limit, the retry guard and the store of the new link or code at once. An unknown
user (PreventUserExistenceErrors) goes through the same write and an imitation of the send's timing,
so neither the answers nor the limit nor the latency tell them apart.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from keyless import codes, errors, identity, links, protocol
from keyless.events import TriggerEvent
from keyless.observability import count, logger
from keyless.redirects import RedirectNotAllowed, check_redirect
from keyless.runtime import SignInRuntime
from keyless.store import AlreadyReserved, Reserved, TooSoon

TTL_MARGIN_SECONDS = 3600


@dataclass(frozen=True)
class Outgoing:
    method: str
    recipient: str  # empty when there is nobody to email
    content: str  # the link URL or the code


def create_challenge(event: TriggerEvent, runtime: SignInRuntime) -> dict:
    if not event.session:
        return _choose_method(runtime)
    first, last = event.session[0], event.session[-1]
    if first.step != protocol.CHOOSE_METHOD or not first.flow:
        raise errors.MalformedEvent("session does not start with our first round")
    if last.step == protocol.CHOOSE_METHOD and len(event.session) == 1:
        return _send(event, first.flow, runtime)
    if last.step == protocol.EMAIL_OTP:
        return _ask_code_again(event, first.flow, runtime)
    raise errors.MalformedEvent("no challenge follows this round")


def _response(public: dict, private: dict, step: str, flow: str) -> dict:
    return {
        "publicChallengeParameters": {protocol.PARAM_STEP: step, **public},
        "privateChallengeParameters": {protocol.PRIVATE_STEP: step, protocol.PRIVATE_FLOW: flow, **private},
        "challengeMetadata": protocol.challenge_metadata(step, flow),
    }


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _choose_method(runtime: SignInRuntime) -> dict:
    flow = secrets.token_urlsafe(16)  # names this sign-in; not a secret (it is in challengeMetadata)
    public = {protocol.PARAM_METHODS: ",".join(runtime.settings.methods)}
    return _response(public, {}, protocol.CHOOSE_METHOD, flow)


def _chosen_method(event: TriggerEvent, runtime: SignInRuntime) -> str:
    method = event.client_metadata.get(protocol.META_METHOD, "")
    if method not in runtime.settings.methods:
        raise errors.UserFacingError(errors.CHOOSE_METHOD)
    return method


def _recipient(event: TriggerEvent) -> str:
    """Where the email goes; for an unknown user, the address they typed (used only for masking)."""
    return event.user_name if event.user_not_found else event.email


def _send(event: TriggerEvent, flow: str, runtime: SignInRuntime) -> dict:
    settings = runtime.settings
    method = _chosen_method(event, runtime)
    redirect_uri = ""
    if method == protocol.MAGIC_LINK:
        try:
            redirect_uri = check_redirect(event.client_metadata.get(protocol.META_REDIRECT_URI, ""), settings.allowed_origins)
        except RedirectNotAllowed as exc:
            logger.info("redirect refused", extra={"reason": str(exc)})
            raise errors.UserFacingError(errors.REDIRECT_NOT_ALLOWED) from None

    user = identity.user_ref(event.user_name)
    now = runtime.now()
    key = runtime.keys.current()
    recipient = _recipient(event)
    fields: dict = {"method": method, "sentTo": identity.mask(recipient)}
    if method == protocol.MAGIC_LINK:
        expires_at = now + settings.link_lifetime_seconds
        token = links.issue(key, event.user_name, expires_at)
        fields.update(linkHash=links.token_hash(key, token), linkExpiresAt=expires_at)
        content = f"{redirect_uri}#{token}"
    else:
        expires_at = now + settings.code_lifetime_seconds
        code = codes.new_code(settings.code_length)
        fields.update(codeHash=codes.code_hash(key, flow, code), codeFlow=flow, codeExpiresAt=expires_at)
        content = code
    fields["expiresAt"] = max(expires_at, now + settings.email_cooldown_seconds) + TTL_MARGIN_SECONDS

    outcome = runtime.store.reserve_send(user, flow, now, settings.email_cooldown_seconds, fields)
    if isinstance(outcome, TooSoon):
        count("RateLimited", method=method)
        logger.info("send refused by the rate limit", extra={"user": user, "retry_after": outcome.retry_after_seconds})
        raise errors.RateLimited(outcome.retry_after_seconds)
    if isinstance(outcome, AlreadyReserved):
        # Cognito retried this call after the first attempt reserved (and sent); answer as it did.
        logger.info("retried send answered without a second email", extra={"user": user})
        fields = outcome.item
    else:
        outgoing = Outgoing(method, "" if event.user_not_found else recipient, content)
        _deliver(outgoing, runtime, user, flow, outcome)
    return _sent_response(method, flow, fields, settings)


def _deliver(outgoing: Outgoing, runtime: SignInRuntime, user: str, flow: str, reservation: Reserved) -> None:
    settings = runtime.settings
    if not outgoing.recipient:
        runtime.mailer.imitate_send()
        logger.info("no email: unknown user or no address", extra={"user": user, "method": outgoing.method})
        return
    try:
        if outgoing.method == protocol.MAGIC_LINK:
            runtime.mailer.send_link(outgoing.recipient, outgoing.content, settings.link_lifetime_seconds)
        else:
            runtime.mailer.send_code(outgoing.recipient, outgoing.content, settings.code_lifetime_seconds)
    except Exception:
        # Not sent, so not counted: the user may ask again at once.
        runtime.store.release_send(user, flow, reservation.previous)
        raise
    count("MagicLinksSent" if outgoing.method == protocol.MAGIC_LINK else "CodesSent")
    logger.info("sign-in email sent", extra={"user": user, "method": outgoing.method})


def _sent_response(method: str, flow: str, item: dict, settings) -> dict:
    public = {protocol.PARAM_SENT_TO: item.get("sentTo", "***")}
    private: dict = {}
    if method == protocol.MAGIC_LINK:
        public[protocol.PARAM_EXPIRES_AT] = _iso(int(item.get("linkExpiresAt", 0)))
    else:
        public.update(_code_parameters(int(item.get("codeExpiresAt", 0)), settings, settings.max_code_attempts))
        private = {
            protocol.PRIVATE_CODE_HASH: item.get("codeHash", ""),
            protocol.PRIVATE_CODE_EXPIRES_AT: str(item.get("codeExpiresAt", 0)),
        }
    return _response(public, private, method, flow)


def _code_parameters(expires_at: int, settings, attempts_left: int) -> dict:
    return {
        protocol.PARAM_EXPIRES_AT: _iso(expires_at),
        protocol.PARAM_CODE_LENGTH: str(settings.code_length),
        protocol.PARAM_ATTEMPTS_LEFT: str(attempts_left),
    }


def _ask_code_again(event: TriggerEvent, flow: str, runtime: SignInRuntime) -> dict:
    """After a wrong code: the same code again, read back from the table. If a newer code (from
    another sign-in) replaced it, this sign-in's code is gone and no answer can succeed."""
    item = runtime.store.read(identity.user_ref(event.user_name))
    if item.get("codeFlow") != flow:
        item = {"sentTo": item.get("sentTo", "***")}
    wrong = sum(1 for entry in event.session if entry.step == protocol.EMAIL_OTP and not entry.challenge_result)
    settings = runtime.settings
    expires_at = int(item.get("codeExpiresAt", 0))
    public = {
        protocol.PARAM_SENT_TO: item.get("sentTo", "***"),
        **_code_parameters(expires_at, settings, max(0, settings.max_code_attempts - wrong)),
    }
    private = {
        protocol.PRIVATE_CODE_HASH: item.get("codeHash", ""),
        protocol.PRIVATE_CODE_EXPIRES_AT: str(expires_at),
    }
    return _response(public, private, protocol.EMAIL_OTP, flow)
