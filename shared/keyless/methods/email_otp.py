"""The email one-time code: drawn uniformly with `secrets`, stored and compared only as a keyed hash
bound to its sign-in; a wrong one is counted against the user's wrong-code budget (across
sessions), and the owner's own typos are forgiven by the right one."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from keyless.core import protocol
from keyless.core.aws_errors import error_code
from keyless.core.budget import Budget
from keyless.core.events import TriggerEvent
from keyless.core.observability import logger
from keyless.methods import EMAIL_OTP, magic_link
from keyless.signin import pseudonyms
from keyless.signin.proof import Issue, Issued, Verdict, accepted, answering_user, complete_sign_in, rejected
from keyless.store.sign_in import wrong_codes_counted

if TYPE_CHECKING:
    from keyless.aws.runtime import SignInRuntime
    from keyless.core.settings.sign_in import SignInSettings

NAME = EMAIL_OTP.name
FIELDS = ("codeHash", "codeFlow", "codeExpiresAt", "codeUsedAt", "codeUsedBy", "codeWrongs")


def new_code(length: int) -> str:
    return f"{secrets.randbelow(10**length):0{length}d}"


def code_hash(key: bytes, flow: str, code: str) -> str:
    """Bound to the sign-in flow, so a code is worth nothing in another Cognito session."""
    return hmac.new(key, f"keyless.email-otp|{flow}|{code}".encode(), hashlib.sha256).hexdigest()


def normalize_answer(answer: str, length: int) -> str | None:
    """The code as typed, minus surrounding spaces; only ASCII digits of the right length count."""
    code = answer.strip()
    if len(code) != length or not code.isascii() or not code.isdigit():
        return None
    return code


def recognizes(answer: str) -> bool:
    """Digits, as a code is typed (its length is checked by verify)."""
    code = answer.strip()
    return 0 < len(code) <= 32 and code.isascii() and code.isdigit()


def matches(keys: Iterable[bytes], flow: str, code: str, expected_hash: str) -> bool:
    if not expected_hash:
        return False
    return any(hmac.compare_digest(code_hash(key, flow, code), expected_hash) for key in keys)


# --- the method -----------------------------------------------------------------------------------


def issue(request: Issue) -> Issued:
    settings = request.settings
    code = new_code(settings.code_length)
    fields = {
        "codeHash": code_hash(request.key, request.flow, code),
        "codeFlow": request.flow,
        "codeExpiresAt": request.now + settings.code_lifetime_seconds,
    }
    return Issued(fields, code, email={"code": code}, lifetime_seconds=settings.code_lifetime_seconds)


def email_kind(with_link: bool) -> str:
    return "email_otp" if with_link else "email_otp_only"


def pending_until(item: dict[str, Any], now: int) -> int:
    """When the newest email's code expires, while it is unused and unexpired; else 0."""
    expires_at = int(item.get("codeExpiresAt", 0))
    return expires_at if item.get("codeHash") and "codeUsedAt" not in item and expires_at > now else 0


def public_parameters(item: dict[str, Any], flow: str, settings: SignInSettings, attempts_left: int) -> dict[str, str]:
    """When this sign-in's code expires (the epoch if a newer email replaced it: no answer can succeed
    then, and the shapes stay the same), its length, and the answers left in this sign-in."""
    expires_at = int(item.get("codeExpiresAt", 0)) if item.get("codeFlow") == flow else 0
    return {
        protocol.PARAM_EXPIRES_AT: magic_link.iso_time(expires_at),
        protocol.PARAM_CODE_LENGTH: str(settings.code_length),
        protocol.PARAM_ATTEMPTS_LEFT: str(attempts_left),
    }


def verify(event: TriggerEvent, flow: str, runtime: SignInRuntime) -> Verdict:
    method = NAME
    code = None if event.answer_too_long else normalize_answer(event.answer, runtime.settings.code_length)
    if code is None:
        return rejected(method, "malformed_code")  # cannot be right: not counted against the budget
    settings, now = runtime.settings, runtime.now()
    budget = settings.wrong_codes_budget
    current = runtime.keys.current()
    # Wrong codes are counted under the pseudonym key, which a signing key rotation leaves alone.
    count_key = pseudonyms.key_id(runtime.pseudonym_key.current())
    user = answering_user(event)
    address = event.user_name if event.user_not_found else event.email
    outcome = runtime.store.accept_code(
        user, code_hash(current, flow, code), pseudonyms.recipient(current, address), flow, now, budget, count_key, method
    )
    if not outcome.accepted:
        item = outcome.item
        reason = _why_code_refused(item, flow, now, budget, count_key)
        if reason:
            return rejected(method, reason)
        key = _key_of_code(item, flow, code, runtime)
        if key is None:
            if item.get("keyId") not in _held_key_ids(runtime):
                # Made under a key this container cannot read even now: it cannot tell a right code
                # from a wrong one, so it counts nothing (the sign-in fails; the next answer may land
                # on a container that holds the key).
                return rejected(method, "key_unavailable")
            runtime.store.record_wrong_code(user, item, now, budget, count_key, now + budget.window_seconds, flow)
            return rejected(method, "wrong_code")
        if key == current:
            return rejected(method, "address_changed")  # the right code, sent to another address
        # Made with another key than this container's current one (a rotation): the same checks
        # under the key it was made with.
        outcome = runtime.store.accept_code(
            user, code_hash(key, flow, code), pseudonyms.recipient(key, address), flow, now, budget, count_key, method
        )
        if not outcome.accepted:
            return rejected(method, _why_code_refused(outcome.item, flow, now, budget, count_key) or "address_changed")
    if event.user_not_found:
        return rejected(method, "wrong_code")  # nobody was sent this code; a lucky guess is still wrong
    _forgive_own_typos(runtime, user, outcome.item, count_key)
    complete_sign_in(event, runtime, user, flow, method)
    return accepted(method)


def _why_code_refused(item: dict[str, Any], flow: str, now: int, budget: Budget, count_key: str) -> str:
    """Why an answer cannot be right whatever the code; "" when only the code itself can be wrong."""
    if budget.retry_after(wrong_codes_counted(item, count_key), now):
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
            if hmac.compare_digest(code_hash(key, flow, code), stored):
                return key
        if attempt or item.get("keyId") in _held_key_ids(runtime) or not runtime.keys.refresh(trusted=True):
            break
    return None


def _held_key_ids(runtime: SignInRuntime) -> set[str]:
    return {pseudonyms.key_id(key) for key in runtime.keys.candidates()}


def _forgive_own_typos(runtime: SignInRuntime, user: str, item: dict[str, Any], count_key: str) -> None:
    """Best effort, after the proof was accepted: if it cannot be done now, the typos keep counting
    (never fewer guesses for anyone), and the sign-in goes on."""
    try:
        runtime.store.forgive_own_typos(user, item, count_key)
    except (ClientError, BotoCoreError, RuntimeError) as exc:
        logger.error("typos not forgiven", extra={"user": user, "error_code": error_code(exc) or type(exc).__name__})
