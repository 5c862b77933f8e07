"""The authenticator app: time-based codes (TOTP, RFC 6238) from an app the user enrolled
(keyless.account.authenticator_app), checked with pyotp at the defaults every app supports: 30-second
steps, 6 digits, SHA-1, and one step of clock skew either way.

As a sign-in method (TOTP), its round asks for a code and sends no email. As a second step, its round
(TOTP_STEP_UP) follows an accepted email proof of a user who has an app, when the operator requires it.

A code is accepted once: its time step is recorded on the app's item with a write conditional on
every earlier accepted step being older, so a replay in the same window fails, and of two answers
with the same code only one passes. A wrong code counts against the user's wrong-code budget, which
the email codes share (keyless.store.sign_in); over it even the right code is refused. The second
step's codes count on a budget of their own: only a session whose email proof was accepted reaches
that round, so whatever a stranger spends elsewhere never refuses the owner's second step. A user with no
app, one not confirmed yet, or an unknown user is answered after the same reads and the same check
(against a stand-in secret), and their wrong codes count alike: always refused.

The secret is sealed with AES-GCM (cryptography) under the authenticator key ring's current key
(keyless.aws.authenticator_keys); the associated data names the user's sub and the purpose, so a
sealed secret copied to another user's item does not open. pyotp and cryptography load only here,
on this path.
"""

from __future__ import annotations

import base64
import functools
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from keyless.core import protocol
from keyless.core.aws_errors import error_code
from keyless.core.events import TriggerEvent
from keyless.core.observability import logger
from keyless.methods import TOTP
from keyless.signin import pseudonyms
from keyless.signin.proof import Verdict, accepted, answering_user, rejected
from keyless.store.authenticator_apps import ACTIVE
from keyless.store.sign_in import SECOND_STEP_CODES, SHARED_CODES, Outcome, WrongCodes, wrong_codes_counted

if TYPE_CHECKING:
    import pyotp

    from keyless.aws.authenticator_keys import AuthenticatorKeys
    from keyless.aws.runtime import SignInRuntime
    from keyless.core.budget import Budget
    from keyless.core.settings.sign_in import SignInSettings
    from keyless.store.authenticator_apps import AuthenticatorAppStore
    from keyless.store.sign_in import SignInStore

NAME = TOTP.name
FIELDS: tuple[str, ...] = ()  # nothing of it is on the sign-in item's emails
DIGITS = 6
STEP_SECONDS = 30
SKEW_STEPS = 1  # pyotp's valid_window
NONCE_BYTES = 12
KDF_INFO = b"keyless.authenticator-app.v1"


# --- the secret ------------------------------------------------------------------------------------


def new_secret() -> str:
    """160 random bits in base32, as every authenticator app takes them (pyotp.random_base32: `secrets`)."""
    import pyotp

    return pyotp.random_base32()


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """The otpauth:// URI an app scans."""
    return _totp(secret).provisioning_uri(name=account, issuer_name=issuer)


def _associated_data(sub: str) -> bytes:
    return f"keyless.authenticator-app|{sub}|totp-secret".encode()


@functools.lru_cache(maxsize=16)
def _cipher_key(material: bytes) -> bytes:
    """A ring key is a string of at least 32 bytes; AES-256 takes exactly 32: HKDF-SHA256 derives them."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=KDF_INFO).derive(material)


def seal(secret: str, sub: str, key_id: str, key: bytes) -> dict[str, str]:
    """The item's fields for this secret: the key's id, a fresh nonce, the ciphertext (with its tag)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = AESGCM(_cipher_key(key)).encrypt(nonce, secret.encode(), _associated_data(sub))
    return {"keyId": key_id, "nonce": _b64(nonce), "sealed": _b64(sealed)}


class SecretUnavailable(Exception):
    """The item's secret does not open: its key is not in the ring, or it is not this user's."""


def unseal(item: dict[str, Any], sub: str, keys: AuthenticatorKeys) -> str:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = keys.key(str(item.get("keyId", "")))
    if key is None:
        raise SecretUnavailable("its key is not in the ring")
    try:
        plain = AESGCM(_cipher_key(key)).decrypt(_unb64(item["nonce"]), _unb64(item["sealed"]), _associated_data(sub))
    except (InvalidTag, KeyError, ValueError):
        raise SecretUnavailable("it does not open for this user") from None
    return plain.decode()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _unb64(text: object) -> bytes:
    if not isinstance(text, str):
        raise ValueError("not base64")
    return base64.b64decode(text, validate=True)


# --- codes -----------------------------------------------------------------------------------------


def _totp(secret: str) -> pyotp.TOTP:
    import pyotp

    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)


def matching_step(secret: str, code: str, now: int) -> int | None:
    """The time step whose code this is, within one step of now (newest first); None for none. All
    three are computed whatever matches, so the time taken tells nothing."""
    totp = _totp(secret)
    current = totp.timecode(now)
    found = None
    for step in range(current + SKEW_STEPS, current - SKEW_STEPS - 1, -1):
        if totp.verify(code, for_time=step * STEP_SECONDS) and found is None:
            found = step
    return found


@functools.cache
def _stand_in_secret() -> str:
    """What a code is checked against when the user has no app: the same work, and never a match that counts."""
    return new_secret()


def normalize_answer(answer: str) -> str | None:
    """The code as typed, minus surrounding spaces; only six ASCII digits count."""
    code = answer.strip()
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    return code


def recognizes(answer: str) -> bool:
    return normalize_answer(answer) is not None


def pending_until(item: dict[str, Any], now: int) -> int:
    return 0  # no email, so nothing pending on the sign-in item


def public_parameters(item: dict[str, Any], flow: str, settings: SignInSettings, attempts_left: int) -> dict[str, str]:
    """The same for every user, with an app or without, known or not."""
    return {protocol.PARAM_CODE_LENGTH: str(DIGITS), protocol.PARAM_ATTEMPTS_LEFT: str(attempts_left)}


# --- the method ------------------------------------------------------------------------------------


def verify(event: TriggerEvent, flow: str, runtime: SignInRuntime) -> Verdict:
    """A code as the sign-in's proof (the TOTP method): recorded as its first factor."""
    return _answer(event, flow, runtime, second_step=False)


def verify_second_step(event: TriggerEvent, flow: str, runtime: SignInRuntime) -> Verdict:
    """A code confirming the email proof this sign-in accepted (TOTP_STEP_UP): its second factor."""
    return _answer(event, flow, runtime, second_step=True)


@dataclass(frozen=True)
class CodeCheck:
    """What checking a code takes: the app's store, the sign-in state's (the wrong-code budget: the one
    the email codes share, or the second step's own), the key ring, and the id of the pseudonym key
    wrong codes are counted under."""

    apps: AuthenticatorAppStore
    sign_ins: SignInStore
    keys: AuthenticatorKeys
    count_key: str
    budget: Budget
    counted_in: WrongCodes = SHARED_CODES


@dataclass(frozen=True)
class Checked:
    refused: str  # why the code is refused ("" when it is the right one)
    app: dict[str, Any]  # the app as it was read
    secret: str = ""
    step: int = 0  # the time step of the right code


def check_code(check: CodeCheck, user: str, code: str, now: int, status: str, known: bool = True) -> Checked:
    """Is `code` the current code of the user's app in this `status` (within the wrong-code budget)?
    A wrong one is counted. A user with no app (or an unknown one: known=False) is checked the same
    way, against a stand-in secret, and always refused."""
    app, sign_in = check.apps.read_with_sign_in(user)
    if check.budget.retry_after(wrong_codes_counted(sign_in, check.count_key, check.counted_in), now):
        return Checked("too_many_wrong_codes", app)
    try:
        secret = open_secret(app, user, check.keys)
    except SecretUnavailable as exc:
        logger.error("authenticator secret unavailable", extra={"user": user, "reason": str(exc)})
        return Checked("secret_unavailable", app)  # it cannot tell a right code from a wrong one: nothing counted
    step = matching_step(secret or _stand_in_secret(), code, now)
    if step is None or secret is None or not known or app.get("status") != status:
        expires_at = now + check.budget.window_seconds
        check.sign_ins.record_wrong_code(user, sign_in, now, check.budget, check.count_key, expires_at, "", check.counted_in)
        return Checked("wrong_code", app)
    return Checked("", app, secret, step)


def _answer(event: TriggerEvent, flow: str, runtime: SignInRuntime, second_step: bool) -> Verdict:
    method = NAME
    code = None if event.answer_too_long else normalize_answer(event.answer)
    if code is None:
        return rejected(method, "malformed_code")  # cannot be right: not counted against the budget
    settings, now, user = runtime.settings, runtime.now(), answering_user(event)
    count_key = pseudonyms.key_id(runtime.pseudonym_key.current())
    counted_in = SECOND_STEP_CODES if second_step else SHARED_CODES
    check = CodeCheck(
        runtime.authenticator_apps, runtime.store, runtime.authenticator_keys, count_key, settings.wrong_codes_budget, counted_in
    )
    checked = check_code(check, user, code, now, ACTIVE, known=not event.user_not_found)
    if checked.refused:
        return rejected(method, checked.refused)
    if not runtime.authenticator_apps.spend_step(user, str(checked.app["nonce"]), checked.step):
        return rejected(method, "used")  # this step's code (or a later one) was accepted before
    record = runtime.store.accept_second_step if second_step else runtime.store.accept_authenticator_proof
    outcome: Outcome = record(user, flow, now, check.budget, count_key, method)
    if not outcome.accepted:
        over = check.budget.retry_after(wrong_codes_counted(outcome.item, count_key, counted_in), now)
        return rejected(method, "too_many_wrong_codes" if over else "other_sign_in")
    reseal_under_current_key(runtime.authenticator_apps, runtime.authenticator_keys, user, checked.app, checked.secret)
    return accepted(method)


def is_set_up(user: str, runtime: SignInRuntime) -> bool:
    """The user has an active app (a second step is then required of their email proofs)."""
    return runtime.authenticator_apps.read(user).get("status") == ACTIVE


def open_secret(app: dict[str, Any], sub: str, keys: AuthenticatorKeys) -> str | None:
    """The app's secret (pending or active); None when the user has none. The ring is read and the
    cipher loaded either way, so a user with no app costs the same calls (and a cold container the
    same imports)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: F401

    keys.ring()
    return unseal(app, sub, keys) if app else None


def reseal_under_current_key(
    apps: AuthenticatorAppStore, keys: AuthenticatorKeys, user: str, app: dict[str, Any], secret: str
) -> None:
    """Best effort, after a code was accepted: a secret sealed under an older key of the ring is
    sealed again under the current one (if it is still the one that was read)."""
    key_id, key = keys.current()
    if app.get("keyId") == key_id:
        return
    try:
        apps.reseal(user, str(app["nonce"]), seal(secret, user, key_id, key))
    except (ClientError, BotoCoreError) as exc:
        logger.error("authenticator secret not sealed again", extra={"user": user, "error_code": error_code(exc)})
