"""The passkey (WebAuthn): a key pair an authenticator the user holds made for this relying party,
registered through the management API (keyless.account.passkeys) and used to answer round 1. No
email, no further round: the answer is the assertion, or the sign-in fails.

Round 1 (CreateAuthChallenge) offers `fido2options` to every user alike: a fresh challenge bound to
this Cognito session (privateChallengeParameters), the relying party, and the user's credential ids,
or for a user without any (an unknown user included, named as the pool compares names) a stable
decoy, keyed under the pseudonym key, its length keyed too.
VerifyAuthChallengeResponse checks the assertion with py_webauthn (`webauthn`, imported here only
when an assertion is checked): the credential is the answering user's own (read for every user
alike, before anything that depends on who answers), the user handle (if sent) is theirs,
clientData's type, origin and challenge (the round's own, or a usernameless challenge of the
management API's /sign-in-challenge, used once), the relying party id's hash, user presence, user
verification when required, the signature and the signature counter; then the backup eligibility
is the one registered, and one transaction records the use: the counter moves on from the value
verified against (a cloned authenticator's second use fails it) and the sign-in item records the
accepted proof (the sign_in_method claim).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from keyless.core import protocol
from keyless.core.events import TriggerEvent
from keyless.methods import PASSKEY
from keyless.signin import pseudonyms
from keyless.signin.proof import Verdict, accepted, answering_user, rejected

if TYPE_CHECKING:
    from keyless.aws.runtime import SignInRuntime

NAME = PASSKEY.name
FIELDS: tuple[str, ...] = ()  # no proof on the sign-in item: the passkeys are items of their own
PARAM_OPTIONS = "fido2options"  # publicChallengeParameters: the WebAuthn request options, as JSON
PRIVATE_CHALLENGE = "fido2Challenge"  # privateChallengeParameters: this round's challenge
CHALLENGE_BYTES = 32
DECOY_TRANSPORTS = ("hybrid", "internal")  # a platform passkey's, the most common kind (sorted, as all are)
# A decoy id is as long as one of these, chosen per user (keyed): lengths real authenticators' ids have.
DECOY_ID_LENGTHS = (16, 32, 48, 64)
TRANSPORTS = ("ble", "hybrid", "internal", "nfc", "usb")
MAX_CREDENTIAL_ID_BYTES = 512  # WebAuthn allows 1023; the table's sort key and Cognito's answer size do not
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# A usernameless challenge: nonce, expiry (8 bytes, big-endian epoch seconds), MAC of both.
_NONCE_BYTES, _MAC_BYTES = 16, 32
USERNAMELESS_CHALLENGE_BYTES = _NONCE_BYTES + 8 + _MAC_BYTES
CHALLENGE_RECORD_MARGIN_SECONDS = 3600  # the record of a used challenge outlives its expiry


# --- encoding -------------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def from_b64url(text: str) -> bytes:
    """base64url (padding optional; standard base64's + and / accepted, as browsers' polyfills send);
    ValueError for anything else."""
    if not isinstance(text, str) or not re.fullmatch(r"[A-Za-z0-9_\-+/]*={0,2}", text):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text.replace("+", "-").replace("/", "_").rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


# --- who -----------------------------------------------------------------------------------------


def user_handle(sub: str, username: str) -> str:
    """The WebAuthn user.id of a user, as AWS's sample makes it (its client reads the user name back
    from it for a usernameless sign-in): the sub when the user name is the sub, `u|<user name>` when
    the user name is another opaque UUID, else `s|<sub>` (no usernameless sign-in). Never an address."""
    if username == sub:
        return sub
    if _UUID.match(username):
        return f"u|{username}"
    return f"s|{sub}"


def decoy_credential_id(key: bytes, user: str) -> str:
    """A stable, plausible credential id for a user without passkeys (known or not): keyed bytes,
    of a length also keyed per user among DECOY_ID_LENGTHS (256 is a multiple of their number)."""

    def block(label: str) -> bytes:
        return hmac.new(key, f"keyless.passkey-decoy|{label}|{user}".encode(), hashlib.sha256).digest()

    length = DECOY_ID_LENGTHS[block("length")[0] % len(DECOY_ID_LENGTHS)]
    return b64url((block("id-1") + block("id-2"))[:length])


def _transports(named: Iterable[str]) -> list[str]:
    """Known transports, sorted, as a browser's getTransports() gives them (a decoy's are listed alike)."""
    return sorted({t for t in named if t in TRANSPORTS})


# --- round 1 (CreateAuthChallenge) ----------------------------------------------------------------


def round_one(event: TriggerEvent, runtime: SignInRuntime) -> tuple[dict[str, str], dict[str, str]]:
    """The public (`fido2options`) and private (the challenge; an unknown user's table name)
    parameters round 1 adds when passkeys are on. Every user costs one query (an unknown one's finds
    nothing) and the pool's naming settings (read once per container): an unknown name is keyed as
    the pool compares names, so its spellings get decoys as a known name's do."""
    settings = runtime.passkey_settings
    key = runtime.pseudonym_key.current()
    user = pseudonyms.sign_in_user(event, key, runtime.directory.user_names(event.user_pool_id).case_sensitive)
    credentials = [
        {"id": item["credentialId"], "transports": _transports(item.get("transports") or ())}
        for item in runtime.passkeys.of_user(user)
    ] or [{"id": decoy_credential_id(key, user), "transports": _transports(DECOY_TRANSPORTS)}]
    challenge = b64url(secrets.token_bytes(CHALLENGE_BYTES))
    options = {
        "relyingPartyId": settings.rp_id,
        "challenge": challenge,
        "credentials": credentials,
        "timeout": settings.sign_in_timeout_seconds * 1000,
        "userVerification": settings.user_verification,
    }
    private = {PRIVATE_CHALLENGE: challenge}
    if event.user_not_found:
        private[protocol.PRIVATE_UNKNOWN_USER] = user
    return {PARAM_OPTIONS: json.dumps(options, separators=(",", ":"))}, private


# --- usernameless challenges (the management API's /sign-in-challenge) ----------------------------


def _challenge_mac(key: bytes, nonce: bytes, expiry: bytes) -> bytes:
    return hmac.new(key, b"keyless.passkey-challenge|" + nonce + expiry, hashlib.sha256).digest()


def usernameless_challenge(key: bytes, now: int, lifetime_seconds: int) -> str:
    """A challenge nothing stores: a nonce and its expiry, MACed under the signing key."""
    nonce, expiry = secrets.token_bytes(_NONCE_BYTES), struct.pack(">Q", now + lifetime_seconds)
    return b64url(nonce + expiry + _challenge_mac(key, nonce, expiry))


@dataclass(frozen=True)
class UsernamelessChallenge:
    nonce: str
    expires_at: int


def check_usernameless(raw: bytes, keys: Iterable[bytes], now: int) -> UsernamelessChallenge | None:
    """The challenge, when it is one this deployment made (under a current or previous signing key)
    and it has not expired; None otherwise. Whether it was used is the store's to say."""
    if len(raw) != USERNAMELESS_CHALLENGE_BYTES:
        return None
    nonce, expiry, mac = raw[:_NONCE_BYTES], raw[_NONCE_BYTES : _NONCE_BYTES + 8], raw[_NONCE_BYTES + 8 :]
    if not any(hmac.compare_digest(_challenge_mac(key, nonce, expiry), mac) for key in keys):
        return None
    (expires_at,) = struct.unpack(">Q", expiry)
    return UsernamelessChallenge(b64url(nonce), expires_at) if now < expires_at else None


# --- the answer (VerifyAuthChallengeResponse) -----------------------------------------------------


@dataclass(frozen=True)
class Assertion:
    credential_id: str  # base64url, as stored
    raw_id: bytes
    authenticator_data: bytes
    client_data: bytes
    signature: bytes
    user_handle: bytes | None

    @classmethod
    def parse(cls, answer: str) -> Assertion | None:
        """The assertion as AWS's client sends it: {credentialIdB64, authenticatorDataB64,
        clientDataJSON_B64, signatureB64, userHandleB64?}; None for anything else."""
        try:
            value = json.loads(answer)
        except ValueError:
            return None
        if not isinstance(value, Mapping):
            return None
        try:
            fields = {
                name: from_b64url(value[name])
                for name in ("credentialIdB64", "authenticatorDataB64", "clientDataJSON_B64", "signatureB64")
            }
            handle = value.get("userHandleB64")
            user_handle = None if handle is None else from_b64url(handle)
        except (KeyError, ValueError):
            return None
        raw_id = fields["credentialIdB64"]
        if not 0 < len(raw_id) <= MAX_CREDENTIAL_ID_BYTES:
            return None
        return cls(
            b64url(raw_id),
            raw_id,
            fields["authenticatorDataB64"],
            fields["clientDataJSON_B64"],
            fields["signatureB64"],
            user_handle or None,
        )

    def challenge(self) -> bytes | None:
        """The challenge clientDataJSON says was signed (checked again, with the rest, by py_webauthn)."""
        try:
            client_data = json.loads(self.client_data)
            return from_b64url(client_data["challenge"]) if isinstance(client_data, dict) else None
        except (ValueError, KeyError, TypeError):
            return None


def recognizes(answer: str) -> bool:
    return answer.lstrip().startswith("{") and "credentialIdB64" in answer


def verify(event: TriggerEvent, flow: str, runtime: SignInRuntime) -> Verdict:
    settings = runtime.passkey_settings
    if not settings.enabled:
        return rejected(NAME, "not_offered")
    assertion = None if event.answer_too_long else Assertion.parse(event.answer)
    if assertion is None:
        return rejected(NAME, "malformed_assertion")
    user = answering_user(event)
    now = runtime.now()
    signed = assertion.challenge()
    own = event.private_parameters.get(PRIVATE_CHALLENGE, "")
    usernameless = None
    if signed is None:
        return rejected(NAME, "malformed_assertion")
    if not (own and hmac.compare_digest(signed, from_b64url(own))):
        usernameless = check_usernameless(signed, runtime.keys.candidates(), now)
        if usernameless is None:
            return rejected(NAME, "wrong_challenge")
    # The same work for everyone: an unknown user's name holds no passkey, and a known user's handle
    # is compared only after the same read (a refusal before it would tell who exists by its speed).
    stored = runtime.passkeys.get(user, assertion.credential_id)
    if not stored or event.user_not_found:
        return rejected(NAME, "unknown_credential")
    if assertion.user_handle is not None and not hmac.compare_digest(
        assertion.user_handle, user_handle(event.sub, event.user_name).encode()
    ):
        return rejected(NAME, "wrong_user_handle")
    reason, new_count = _check_signature(assertion, signed, stored, settings)
    if reason:
        return rejected(NAME, reason)
    if usernameless is not None and not runtime.passkeys.spend_challenge(
        usernameless.nonce, usernameless.expires_at + CHALLENGE_RECORD_MARGIN_SECONDS
    ):
        return rejected(NAME, "challenge_used")
    if not runtime.passkeys.record_use(user, assertion.credential_id, int(stored.get("signCount", 0)), new_count, now, NAME):
        return rejected(NAME, "counter_raced")  # another use verified against the same counter won
    # No account claim and no email_verified here (keyless.signin.proof.complete_sign_in): a passkey
    # proves a device, not a mailbox; adding one needed a verified address.
    return accepted(NAME)


def _check_signature(assertion: Assertion, challenge: bytes, stored: Mapping[str, Any], settings: Any) -> tuple[str, int]:
    """("", the authenticator's new counter) when py_webauthn accepts the assertion for this stored
    passkey and its backup eligibility is the one registered; (why not, 0) otherwise."""
    from webauthn import verify_authentication_response
    from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidBackupFlags
    from webauthn.helpers.structs import (
        AuthenticationCredential,
        AuthenticatorAssertionResponse,
        CredentialDeviceType,
    )

    credential = AuthenticationCredential(
        id=assertion.credential_id,
        raw_id=assertion.raw_id,
        response=AuthenticatorAssertionResponse(
            client_data_json=assertion.client_data,
            authenticator_data=assertion.authenticator_data,
            signature=assertion.signature,
            user_handle=assertion.user_handle,
        ),
    )
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=settings.rp_id,
            expected_origin=list(settings.origins),
            credential_public_key=from_b64url(stored["publicKey"]),
            credential_current_sign_count=int(stored.get("signCount", 0)),
            require_user_verification=settings.user_verification_required,
        )
    except InvalidAuthenticationResponse as exc:
        return refusal_reason(str(exc)), 0
    except (InvalidBackupFlags, ValueError, KeyError, TypeError):
        return "malformed_assertion", 0
    eligible = verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE
    if eligible != bool(stored.get("backupEligible", False)):
        return "backup_eligibility_changed", 0
    return "", verified.new_sign_count


# py_webauthn's refusals (registration and sign-in), by how their messages start, as the reasons
# logs and metrics name (the messages quote values from the answer: never logged).
_REASONS = (
    ("Response sign count of", "sign_count"),
    ("Unexpected client data origin", "wrong_origin"),
    ("Unexpected RP ID hash", "wrong_rp_id"),
    ("User was not present", "user_not_present"),
    ("User presence was required", "user_not_present"),
    ("User verification is required", "user_not_verified"),
    ("Could not verify authentication signature", "bad_signature"),
    ("Client data challenge was not expected challenge", "wrong_challenge"),
    ("Unexpected client data type", "wrong_type"),
    ("Unsupported credential public key alg", "unsupported_algorithm"),
)


def refusal_reason(message: str) -> str:
    """The reason of a py_webauthn refusal, from its message."""
    return next((reason for start, reason in _REASONS if message.startswith(start)), "invalid")


# --- what a method module offers the rounds, for a method that sends no email ---------------------


def pending_until(item: dict[str, Any], now: int) -> int:
    """Nothing is pending on the sign-in item: a passkey is no email's proof."""
    return 0
