"""CreateAuthChallenge: offer the methods, send the link or code, or ask for the code again.

Round 1 sends nothing. The round after it sends one email, guarded by two conditional writes: the
user's (one email per cooldown, the retry guard, and the store of the new link or code with a keyed
hash of the address it goes to), then the mailbox's (a small burst per window, shared by every user
whose address lands in that mailbox). Every email carries a link when links are offered, so whoever
owns the mailbox can sign in with the newest email even while someone else keeps asking for emails.
An unknown user (PreventUserExistenceErrors) goes through the same writes and an imitation of the
send's timing, so neither the answers nor the limits nor the latency tell them apart. So does a
user whose address hard-bounced or complained lately (keyless.aws.email_events): no email goes to it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import NoReturn

from keyless import methods
from keyless.aws.mailer import MaybeSent
from keyless.aws.runtime import SignInRuntime
from keyless.core import addresses, errors, protocol
from keyless.core.events import TriggerEvent
from keyless.core.observability import count, logger
from keyless.core.settings.sign_in import SendSettings
from keyless.methods import magic_link
from keyless.signin import pseudonyms
from keyless.signin.proof import Issue, Issued
from keyless.signin.redirects import RedirectNotAllowed, check_redirect, default_redirect
from keyless.signup import rules
from keyless.store.sign_in import AlreadyReserved, CodesLocked, Reserved, TooSoon, wrong_codes_counted

TTL_MARGIN_SECONDS = 3600


@dataclass(frozen=True)
class Outgoing:
    method: methods.Method
    recipient: str  # empty when there is nobody to email
    kind: str  # the email template
    values: dict[str, str] = field(default_factory=dict)  # its placeholders: link, code, ...
    default_link: str = ""  # the same link on the first allowed page, when the link opens another one
    lifetime_seconds: int = 0  # how long the chosen method's proof works (the email says so)


def create_challenge(event: TriggerEvent, runtime: SignInRuntime) -> dict:
    if not event.session:
        return _choose_method(event, runtime)
    first, last = event.session[0], event.session[-1]
    if first.step != protocol.CHOOSE_METHOD or not first.flow:
        raise errors.MalformedEvent("session does not start with our first round")
    if last.challenge_result and last.then:
        return _second_step(event, first.flow, methods.METHODS[last.then], runtime)
    if last.step == protocol.CHOOSE_METHOD and len(event.session) == 1:
        return _send(event, first.flow, first.then, runtime)
    if last.step in methods.METHODS and methods.METHODS[last.step].asks_again:
        return _ask_again(event, first.flow, last.step, methods.METHODS[last.step], runtime)
    if last.step in methods.STEP_UPS:
        return _ask_again(event, first.flow, last.step, methods.STEP_UPS[last.step], runtime)
    raise errors.MalformedEvent("no challenge follows this round")


def _response(public: dict, private: dict, step: str, flow: str, then: str = "") -> dict:
    return {
        "publicChallengeParameters": {protocol.PARAM_STEP: step, **public},
        "privateChallengeParameters": {protocol.PRIVATE_STEP: step, protocol.PRIVATE_FLOW: flow, **private},
        "challengeMetadata": protocol.challenge_metadata(step, flow, then),
    }


def _choose_method(event: TriggerEvent, runtime: SignInRuntime) -> dict:
    """Round 1: the methods offered. The email methods need nothing here (no AWS call); a method
    whose proof answers this round (the passkey, when on) adds what answering it takes."""
    flow = secrets.token_urlsafe(16)  # names this sign-in; not a secret (it is in challengeMetadata)
    public: dict[str, str] = {}
    private: dict[str, str] = {}
    for method in _answering_round_one(runtime):
        method_public, method_private = method.logic().round_one(event, runtime)
        public.update(method_public)
        private.update(method_private)
    then = _second_step_of(event, runtime)
    offered = ",".join(_offered(runtime))
    return _response({protocol.PARAM_METHODS: offered, **public}, private, protocol.CHOOSE_METHOD, flow, then)


def _answering_round_one(runtime: SignInRuntime) -> list[methods.Method]:
    """The methods offered whose proof answers round 1 (the passkey, when on)."""
    if not runtime.passkey_settings.enabled:
        return []
    return [method for method in methods.METHODS.values() if method.answers_round_one]


def _offered(runtime: SignInRuntime) -> list[str]:
    """The names of the methods this deployment offers, as round 1 lists them."""
    return [*runtime.send_settings.methods, *(method.name for method in _answering_round_one(runtime))]


def _second_step_of(event: TriggerEvent, runtime: SignInRuntime) -> str:
    """The method of the second step this user's email proofs need: the operator's, when the user
    has it set up ("" otherwise). Read once, in round 1 (whose answer may be a link), and carried by
    every later round of the sign-in in its challengeMetadata, which only the triggers see: the rounds
    look the same to a client whether or not the user has one. Every user costs the same read, an
    unknown one too."""
    second = runtime.send_settings.second_step
    if second is None:
        return ""
    case_sensitive = runtime.directory.user_names(event.user_pool_id).case_sensitive
    user = pseudonyms.sign_in_user(event, runtime.pseudonym_key.current(), case_sensitive)
    needed = second.logic().is_set_up(user, runtime)
    # An address never proved: its first proof takes the account back for its owner and removes an
    # app set up before it (keyless.signin.proof), so no second step can follow it.
    return second.name if needed and not event.user_not_found and event.email_verified else ""


def _second_step(event: TriggerEvent, flow: str, method: methods.Method, runtime: SignInRuntime) -> dict:
    """After an accepted email proof of a user who has the second step: its round (no email)."""
    settings = runtime.send_settings
    public = method.logic().public_parameters({}, flow, settings, settings.max_code_attempts)
    return _response(public, {}, method.step_up, flow)


def _holder_round(event: TriggerEvent, flow: str, method: methods.Method, runtime: SignInRuntime) -> dict:
    """The round of a method that sends no email (an authenticator app's code): the same for every
    user, one with the method set up or without, known or not. Over the wrong-code budget (which its
    answers count against), it is refused as a code's email is."""
    settings = runtime.send_settings
    pseudonym_key = runtime.pseudonym_key.current()
    user = pseudonyms.sign_in_user(event, pseudonym_key, runtime.directory.user_names(event.user_pool_id).case_sensitive)
    wrong = wrong_codes_counted(runtime.store.read(user), pseudonyms.key_id(pseudonym_key))
    if method.guessable and settings.wrong_codes_budget.retry_after(wrong, runtime.now()):
        count("RateLimited", method=method.name, reason="wrong_codes")
        raise errors.UserFacingError(errors.CODES_LOCKED if settings.links_offered else errors.CODES_LOCKED_NO_LINK)
    public = method.logic().public_parameters({}, flow, settings, settings.max_code_attempts)
    return _response(public, _private(user), method.name, flow)


def _chosen_method(event: TriggerEvent, runtime: SignInRuntime) -> methods.Method:
    name = event.client_metadata.get(protocol.META_METHOD, "")
    if name not in runtime.send_settings.methods:
        raise errors.MethodNotChosen(_offered(runtime))
    return methods.METHODS[name]


def _redirect_uri(event: TriggerEvent, method: methods.Method, settings: SendSettings) -> str:
    """Where the email's link points: the client's redirectUri (required for a link, optional with
    another method), checked against the allowlist; without one, the first allowed entry."""
    if not settings.links_offered:
        return ""
    if settings.same_device_links_only and not magic_link.is_device_hash(event.client_metadata.get(protocol.META_DEVICE_HASH)):
        # A link no browser could open: none for a code's email, and a clear refusal for a link's.
        if method is methods.MAGIC_LINK:
            raise errors.UserFacingError(errors.DEVICE_REQUIRED)
        return ""
    requested = event.client_metadata.get(protocol.META_REDIRECT_URI, "")
    if not requested and method is not methods.MAGIC_LINK:
        return default_redirect(settings.allowed_origins)
    try:
        return check_redirect(requested, settings.allowed_origins)
    except RedirectNotAllowed as exc:
        logger.info("redirect refused", extra={"reason": str(exc)})
        raise errors.UserFacingError(errors.REDIRECT_NOT_ALLOWED) from None


def _send(event: TriggerEvent, flow: str, then: str, runtime: SignInRuntime) -> dict:
    settings = runtime.send_settings
    asked = _chosen_method(event, runtime)
    if not asked.sends_email:
        return _holder_round(event, flow, asked, runtime)
    redirect_uri = _redirect_uri(event, asked, settings)
    names = runtime.directory.user_names(event.user_pool_id)
    # An unknown user's address is the name typed where names are addresses, so it has the limits of a
    # real one. Where they are plain names, a name is no address: spending the mailbox of whatever
    # was typed would tell which known user's address lands in that mailbox.
    address = event.email if not event.user_not_found else event.user_name if names.are_addresses else ""
    _check_address_rules(address, event.user_not_found, runtime)
    now = runtime.now()
    key = runtime.keys.current()  # signs this email's proofs
    # What outlives a signing key rotation (the unknown user's item, the wrong-code count, the
    # mailbox's budget, a suppression) is keyed under the pseudonym key instead (keyless.signin.pseudonyms).
    pseudonym_key = runtime.pseudonym_key.current()
    user = pseudonyms.sign_in_user(event, pseudonym_key, names.case_sensitive)
    # An address that hard-bounced or complained lately gets no email, and whoever asked is answered
    # as an unknown user is (the same writes, answer and send time). Read for every address, an
    # unknown one's too, so the calls tell nothing either (an unknown plain name has no address: no
    # read, as no mailbox write); read before anything is reserved, so a failed read leaves nothing
    # to give back.
    suppressed = bool(address) and runtime.suppressions.is_suppressed(pseudonyms.suppression(pseudonym_key, address), now)
    # A mailbox's own address keeps one email per window that others cannot spend (below). With links
    # any browser may open, every email is one its owner can use (it opens the first allowed page too),
    # so each counts as that email; with codes only (or links only for the asking browser), an email
    # someone else asked for is no use to the owner.
    primary = bool(address) and pseudonyms.is_primary(address)
    # Where users type their address, show where it went; where they type a user name, a known user's
    # masked address would tell them apart from unknown names, so nobody's is shown.
    sent_to = addresses.mask(address) if names.are_addresses else "***"
    common = email_fields(address, sent_to, key, now, settings)
    if primary and settings.any_browser_links:
        common["reservedAt"] = now
    for method in _round_methods(asked, redirect_uri, settings):
        fields: dict = {"method": method.name, **common}
        proofs = _issue_proofs(method, redirect_uri, Issue(event, flow, key, now, settings, sent_to=sent_to))
        for issued in proofs.values():
            fields.update(issued.fields)
        removed = superseded(fields)
        budget = settings.wrong_codes_budget if method.guessable else None
        outcome = runtime.store.reserve_send(
            user, flow, now, settings.email_cooldown_seconds, fields, removed, budget, pseudonyms.key_id(pseudonym_key)
        )
        if not (isinstance(outcome, CodesLocked) and method is not asked):
            break  # else: over the wrong-code budget, the link's email goes without its code
    if isinstance(outcome, AlreadyReserved):
        # Cognito retried this call after the first attempt reserved (and sent); answer as it did.
        logger.info("retried send answered without a second email", extra={"user": user})
        return _sent_response(
            methods.METHODS.get(outcome.item.get("method", ""), method), flow, outcome.item, settings, user, then
        )
    if isinstance(outcome, CodesLocked):
        count("RateLimited", method=asked.name, reason="wrong_codes")
        logger.info("code refused: too many wrong codes", extra={"user": user})
        raise errors.UserFacingError(errors.CODES_LOCKED if settings.links_offered else errors.CODES_LOCKED_NO_LINK)
    if isinstance(outcome, TooSoon):
        _refuse_too_soon(user, asked.name, "user", outcome)
    assert isinstance(outcome, Reserved)
    touched = reserved_fields(fields, removed)

    slot = None
    if address:  # users without an address get no email, and share no mailbox
        mailbox = pseudonyms.mailbox(pseudonym_key, address)
        expires_at = now + settings.email_burst_window_seconds + TTL_MARGIN_SECONDS
        slot = runtime.store.reserve_mailbox(
            mailbox, flow, now, settings.email_cooldown_seconds, settings.mailbox_budget, expires_at
        )
        if isinstance(slot, TooSoon):
            if not (primary and _own_email_is_free(outcome.previous, now, settings)):
                runtime.store.release_send(user, flow, outcome.previous, touched)
                _refuse_too_soon(user, asked.name, "mailbox", slot)
            # The email this user's own address keeps per window, whatever others spent. Whoever asked
            # for it may have chosen the link's page; this one opens the first allowed page.
            count("OwnEmailSent", method=asked.name)
            redirect_uri = default_redirect(settings.allowed_origins) if redirect_uri else ""
            if "reservedAt" not in fields:
                runtime.store.record_own_email(user, flow, now)
                touched += ("reservedAt",)
    recipient = "" if event.user_not_found or suppressed else address
    outgoing = _outgoing(asked, method, recipient, proofs, redirect_uri, settings)
    try:
        _deliver(outgoing, runtime, user, suppressed and not event.user_not_found)
    except MaybeSent:
        # SES may have taken it: counted as sent, so the link it carries works and the limits hold.
        logger.warning("email may have been sent: counted as sent", extra={"user": user, "method": asked.name})
        count("EmailMaybeSent", method=asked.name)
    except Exception:
        # Not sent, so not counted: the user may ask again at once, and the previous email works again.
        runtime.store.release_send(user, flow, outcome.previous, touched)
        if isinstance(slot, Reserved):
            runtime.store.release_mailbox(mailbox, flow, slot.previous)
        raise
    return _sent_response(method, flow, fields, settings, user, then)


def email_fields(address: str, sent_to: str, key: bytes, now: int, settings: SendSettings) -> dict:
    """What the write of every email stores besides its proofs: where it went (as shown, and keyed),
    under which key, and how long the item lives."""
    return {
        "sentTo": sent_to,
        "recipient": pseudonyms.recipient(key, address),
        "keyId": pseudonyms.key_id(key),
        # The item outlives whatever it holds: the link, the code, the send limit, the wrong-code count.
        "expiresAt": now + _longest_window(settings) + TTL_MARGIN_SECONDS,
    }


def proof_fields() -> tuple[str, ...]:
    """Every field of the sign-in item that holds a proof (a link or a code), whatever the method."""
    return tuple(name for method in methods.METHODS.values() if method.sends_email for name in method.logic().FIELDS)


def superseded(fields: dict) -> tuple[str, ...]:
    """The proof fields a new email's write removes: it replaces the old email's proofs, which stop
    working (only the newest email works)."""
    return tuple(name for name in proof_fields() if name not in fields)


def reserved_fields(fields: dict, removed: tuple[str, ...]) -> tuple[str, ...]:
    """What a reservation wrote, given back if nothing is sent (the TTL is left as it is: a wrong code
    counted meanwhile may have pushed it further)."""
    return tuple(name for name in (*fields, "sentAt", "sendId", *removed) if name != "expiresAt")


def _round_methods(asked: methods.Method, redirect_uri: str, settings: SendSettings) -> tuple[methods.Method, ...]:
    """Whose answer the round after the email takes, best first. A link's email also carries a code
    (LINK_EMAIL_CODE, when codes are offered) that the window which asked can type, the way in when a
    mail scanner has used the link up: that round is a code's round (the link works anywhere, as
    every email's does). Over the wrong-code budget, the link goes alone."""
    carries_code = settings.link_email_code and methods.EMAIL_OTP.name in settings.methods and bool(redirect_uri)
    if asked is methods.MAGIC_LINK and carries_code:
        return (methods.EMAIL_OTP, methods.MAGIC_LINK)
    return (asked,)


def _issue_proofs(method: methods.Method, redirect_uri: str, request: Issue) -> dict[str, Issued]:
    """The chosen method's proof, and a link in every email while links are offered (it is how an owner
    whose own requests someone else holds up signs in with the newest email)."""
    proofs = {}
    if redirect_uri:
        proofs[magic_link.NAME] = magic_link.issue(request)
    if method is not methods.MAGIC_LINK:
        proofs[method.name] = method.logic().issue(request)
    return proofs


def _outgoing(
    asked: methods.Method,
    method: methods.Method,
    recipient: str,
    proofs: dict[str, Issued],
    redirect_uri: str,
    settings: SendSettings,
) -> Outgoing:
    """The email: the template of what was asked for (a link's, with its code when the round takes
    one), the link on the page the client chose, and the same link on the first allowed page when that
    is another (whoever asked chose the page: the owner can always open the one the operator named first)."""
    values = {name: value for issued in proofs.values() for name, value in issued.email.items()}
    link = proofs.get(magic_link.NAME)
    default_link = ""
    if link is not None:
        values["link"] = f"{redirect_uri}#{link.secret}"
        default_page = default_redirect(settings.allowed_origins)
        default_link = f"{default_page}#{link.secret}" if redirect_uri != default_page else ""
    kind = method.logic().email_kind(link is not None)
    if method is not asked:  # a link's email that carries the round's code
        kind = magic_link.EMAIL_KIND_WITH_CODE
        values["code_expires_in_minutes"] = str(max(1, proofs[method.name].lifetime_seconds // 60))
    return Outgoing(asked, recipient, kind, values, default_link, proofs[asked.name].lifetime_seconds)


def _own_email_is_free(previous: dict, now: int, settings: SendSettings) -> bool:
    """This user has had no email in the mailbox budget's window (reservedAt is the last one)."""
    last = previous.get("reservedAt")
    return not isinstance(last, int) or last <= now - settings.email_burst_window_seconds


def _check_address_rules(address: str, user_not_found: bool, runtime: SignInRuntime) -> None:
    """The sign-up rules hold for every sign-in too: an address changed after sign-up (or a domain
    blocked since) gets no email. A user without an address, or an unknown name that is no address
    (a pool with plain user names), has nothing to check: either gets no email anyway."""
    if not address or (user_not_found and "@" not in address):
        return
    try:
        rules.check_address(address, rules.address_rules())
    except rules.SignUpRefused as refused:
        count("SignInRefused", reason=refused.reason)
        raise errors.UserFacingError(errors.ADDRESS_NOT_ALLOWED) from None


def _longest_window(settings: SendSettings) -> int:
    return max(
        settings.link_lifetime_seconds,
        settings.code_lifetime_seconds,
        settings.email_cooldown_seconds,
        settings.wrong_code_window_seconds,
    )


def _refuse_too_soon(user: str, method: str, limit: str, outcome: TooSoon) -> NoReturn:
    count("RateLimited", method=method, reason=limit)
    extra = {"user": user, "limit": limit, "retry_after": outcome.retry_after_seconds}
    logger.info("send refused by the rate limit", extra=extra)
    raise errors.RateLimited(outcome.retry_after_seconds)


def _deliver(outgoing: Outgoing, runtime: SignInRuntime, user: str, suppressed: bool) -> None:
    method = outgoing.method
    if not outgoing.recipient:
        runtime.mailer.imitate_send()
        if suppressed:
            count("EmailSuppressed", method=method.name)
            logger.info("no email: the address hard-bounced or complained lately", extra={"user": user, "method": method.name})
        else:
            logger.info("no email: unknown user or no address", extra={"user": user, "method": method.name})
        return
    runtime.mailer.send(outgoing.kind, outgoing.recipient, outgoing.lifetime_seconds, outgoing.default_link, **outgoing.values)
    count(method.sent_metric)
    logger.info("sign-in email sent", extra={"user": user, "method": method.name})


def _private(user: str) -> dict:
    return {protocol.PRIVATE_UNKNOWN_USER: user} if user.startswith(pseudonyms.UNKNOWN_PREFIX) else {}


def _sent_response(
    method: methods.Method, flow: str, item: dict, settings: SendSettings, user: str, then: str, attempts_left: int | None = None
) -> dict:
    left = settings.max_code_attempts if attempts_left is None else attempts_left
    public = {protocol.PARAM_SENT_TO: item.get("sentTo", "***"), **method.logic().public_parameters(item, flow, settings, left)}
    return _response(public, _private(user), method.name, flow, then)


def _ask_again(event: TriggerEvent, flow: str, step: str, method: methods.Method, runtime: SignInRuntime) -> dict:
    """After a wrong answer: the same proof again (VerifyAuthChallengeResponse checks it against the
    table). For an email's proof, the table is read only for what the client is shown: where the email
    went, and when its proof expires; if a newer email replaced it, no answer can succeed, and the
    shapes stay the same. A round that sent no email reads nothing."""
    case_sensitive = runtime.directory.user_names(event.user_pool_id).case_sensitive
    user = pseudonyms.sign_in_user(event, runtime.pseudonym_key.current(), case_sensitive)
    settings = runtime.send_settings
    left = max(0, settings.max_code_attempts - protocol.wrong_answers(event.session, step))
    if not method.sends_email:
        public = method.logic().public_parameters({}, flow, settings, left)
        return _response(public, {} if step != method.name else _private(user), step, flow)
    return _sent_response(method, flow, runtime.store.read(user), settings, user, event.session[0].then, left)
