"""The passkey routes of the management API, as the `amazon-cognito-passwordless-auth` client (0.17.0)
calls them (all POST): register-authenticator/start and /complete (a fresh sign-in), authenticators/
list, /update and /delete (a sign-in since the user's last sign-out by an operator), and
sign-in-challenge (no token: a usernameless sign-in's challenge, which nothing stores).

The owner of every passkey is the token's `sub`: a route reads and writes only the caller's own items
(keyless.store.passkeys), so another user's credential id is answered as an unknown one. WebAuthn
checks are py_webauthn's (`webauthn`, imported only where a registration is verified).
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from keyless.account.errors import bad_request, not_found
from keyless.account.http import Request, Response, signed_in
from keyless.core.observability import count, logger
from keyless.methods import passkey
from keyless.store.passkeys import MAX_PASSKEYS, Added

if TYPE_CHECKING:
    from keyless.account.caller import Caller
    from keyless.core.settings.passkeys import AccountSettings

REGISTRATION_TIMEOUT_SECONDS = 300  # how long a started registration waits for the authenticator
MAX_NAME_LENGTH = 64
MAX_ATTESTATION_CHARS = 12_000  # base64url; a "none" attestation is a few hundred bytes, a TPM one a few kilobytes


def _settings(request: Request) -> AccountSettings:
    settings = request.runtime.account_settings
    if not settings.enabled:
        raise not_found()  # the API serves another method (passkeys are off): these routes do not exist
    return settings


def _rp_id(request: Request, settings: AccountSettings) -> str:
    rp_id = request.query.get("rpId", "")
    if not rp_id:
        raise bad_request("Missing RP ID")
    if rp_id != settings.rp_id:
        raise bad_request("Unrecognized RP ID")
    return rp_id


def iso_time(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _public(item: Mapping[str, Any]) -> dict[str, Any]:
    """A passkey as the client lists it (never its public key)."""
    shown: dict[str, Any] = {
        "credentialId": item["credentialId"],
        "friendlyName": item.get("friendlyName", ""),
        "createdAt": iso_time(int(item.get("createdAt", 0))),
        "signCount": int(item.get("signCount", 0)),
        "rpId": item.get("rpId", ""),
        "aaguid": item.get("aaguid", ""),
        "flagBackupEligibility": int(bool(item.get("backupEligible"))),
        "flagUserVerified": int(bool(item.get("userVerified"))),
    }
    if item.get("transports"):
        shown["transports"] = list(item["transports"])
    if item.get("lastSignIn"):
        shown["lastSignIn"] = iso_time(int(item["lastSignIn"]))
    return shown


def friendly_name(value: Any) -> str:
    """1 to 64 printable characters, trimmed (no control, format or separator characters but the space)."""
    if not isinstance(value, str):
        raise bad_request("friendlyName must be a string")
    name = value.strip()
    if not 0 < len(name) <= MAX_NAME_LENGTH:
        raise bad_request(f"friendlyName must be 1 to {MAX_NAME_LENGTH} characters")
    if any(unicodedata.category(c)[0] in "CZ" and c != " " for c in name):
        raise bad_request("friendlyName must be printable text")
    return name


def _credential_id(body: Mapping[str, Any]) -> str:
    value = body.get("credentialId")
    if not isinstance(value, str):
        raise bad_request("credentialId must be a string")
    try:
        raw = passkey.from_b64url(value)
    except ValueError:
        raise bad_request("Unknown credential") from None
    if not 0 < len(raw) <= passkey.MAX_CREDENTIAL_ID_BYTES:
        raise bad_request("Unknown credential")
    return passkey.b64url(raw)


# --- registering ----------------------------------------------------------------------------------


def start_registration(caller: Caller | None, request: Request) -> Response:
    settings = _settings(request)
    caller = signed_in(caller)
    rp_id = _rp_id(request, settings)
    caller.require_fresh(settings, request.now)
    store = request.runtime.account_passkeys
    existing = store.of_user(caller.sub)
    if len(existing) >= MAX_PASSKEYS:
        raise bad_request(f"At most {MAX_PASSKEYS} passkeys per user: remove one first")
    challenge = passkey.b64url(secrets.token_bytes(passkey.CHALLENGE_BYTES))
    store.start_registration(caller.sub, challenge, rp_id, request.now + REGISTRATION_TIMEOUT_SECONDS)
    name = caller.email or caller.username
    options = {
        "challenge": challenge,
        "attestation": "none",
        "rp": {"name": settings.rp_name, "id": rp_id},
        # The client turns user.id into bytes character by character: ASCII only (a UUID and a prefix).
        "user": {"id": passkey.user_handle(caller.sub, caller.username), "name": name, "displayName": name},
        "pubKeyCredParams": [{"type": "public-key", "alg": alg} for alg in ALGORITHMS],
        "authenticatorSelection": {
            "residentKey": "preferred",
            "requireResidentKey": False,
            "userVerification": settings.user_verification,
        },
        "timeout": REGISTRATION_TIMEOUT_SECONDS * 1000,
        "excludeCredentials": [
            {
                "id": item["credentialId"],
                "type": "public-key",
                **({"transports": item["transports"]} if item.get("transports") else {}),
            }
            for item in existing
        ],
    }
    count("PasskeyRegistrationStarted")
    return Response(200, options)


# COSE algorithm ids py_webauthn verifies: ES256, EdDSA, RS256 (the browser takes the first it supports).
ALGORITHMS = (-7, -8, -257)


def complete_registration(caller: Caller | None, request: Request) -> Response:
    settings = _settings(request)
    caller = signed_in(caller)
    caller.require_fresh(settings, request.now)
    caller.require_verified_address()
    body = request.json()
    name = friendly_name(body.get("friendlyName"))
    attestation, client_data, transports = _registration_body(body)
    store = request.runtime.account_passkeys
    state = store.state(caller.sub)
    challenge = str(state.get("challenge", ""))
    if not challenge or int(state.get("challengeExpiresAt", 0)) <= request.now:
        raise bad_request("Challenge not found")
    verified = _verify_registration(attestation, client_data, challenge, str(state.get("challengeRpId", "")), settings)
    credential_id = passkey.b64url(verified.credential_id)
    if len(verified.credential_id) > passkey.MAX_CREDENTIAL_ID_BYTES:
        raise bad_request("Credential id too long")
    outcome = store.add(
        caller.sub,
        challenge,
        request.now,
        {
            "credentialId": credential_id,
            "publicKey": passkey.b64url(verified.credential_public_key),
            "signCount": verified.sign_count,
            "friendlyName": name,
            "transports": transports,
            "aaguid": verified.aaguid,
            "rpId": state.get("challengeRpId", settings.rp_id),
            "backupEligible": verified.credential_device_type == "multi_device",
            "userVerified": verified.user_verified,
        },
    )
    if not isinstance(outcome, Added):
        messages = {
            "challenge": "Challenge not found",
            "limit": f"At most {MAX_PASSKEYS} passkeys per user: remove one first",
            "taken": "Credential already registered",
        }
        raise bad_request(messages[outcome.reason])
    count("PasskeyRegistered")
    logger.info("passkey registered", extra={"user": caller.sub})
    return Response(200, _public(outcome.item))


def _registration_body(body: Mapping[str, Any]) -> tuple[bytes, bytes, list[str]]:
    try:
        attestation = passkey.from_b64url(_short_string(body, "attestationObjectB64"))
        client_data = passkey.from_b64url(_short_string(body, "clientDataJSON_B64"))
    except ValueError:
        raise bad_request("Invalid credential") from None
    transports = body.get("transports") or []
    if not isinstance(transports, list) or len(transports) > len(passkey.TRANSPORTS):
        raise bad_request("transports must be a list")
    if any(t not in passkey.TRANSPORTS for t in transports):
        raise bad_request(f"transports may name {', '.join(passkey.TRANSPORTS)}")
    return attestation, client_data, list(dict.fromkeys(transports))


def _short_string(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise bad_request(f"{name} must be a string")
    if len(value) > MAX_ATTESTATION_CHARS:
        raise bad_request(f"{name} is too long")
    return value


def _verify_registration(attestation: bytes, client_data: bytes, challenge: str, rp_id: str, settings: AccountSettings) -> Any:
    from webauthn import verify_registration_response
    from webauthn.helpers.cose import COSEAlgorithmIdentifier
    from webauthn.helpers.exceptions import InvalidRegistrationResponse, WebAuthnException
    from webauthn.helpers.structs import AuthenticatorAttestationResponse, RegistrationCredential

    credential = RegistrationCredential(
        id="",
        raw_id=b"",  # the id is the attested credential data's (py_webauthn reads it from the attestation)
        response=AuthenticatorAttestationResponse(client_data_json=client_data, attestation_object=attestation),
    )
    try:
        return verify_registration_response(
            credential=credential,
            expected_challenge=passkey.from_b64url(challenge),
            expected_rp_id=rp_id or settings.rp_id,
            expected_origin=list(settings.origins),
            require_user_verification=settings.user_verification_required,
            supported_pub_key_algs=[COSEAlgorithmIdentifier(alg) for alg in ALGORITHMS],
        )
    except InvalidRegistrationResponse as exc:
        logger.info("passkey registration refused", extra={"reason": passkey.refusal_reason(str(exc))})
        raise bad_request("Invalid credential") from None
    except (WebAuthnException, ValueError, KeyError, TypeError):
        logger.info("passkey registration refused", extra={"reason": "malformed"})
        raise bad_request("Invalid credential") from None


# --- managing -------------------------------------------------------------------------------------


def list_passkeys(caller: Caller | None, request: Request) -> Response:
    settings = _settings(request)
    caller = signed_in(caller)
    rp_id = _rp_id(request, settings)
    caller.require_signed_in_since_revocation()
    items = request.runtime.account_passkeys.of_user(caller.sub)
    return Response(200, {"authenticators": [_public(item) for item in items if item.get("rpId") == rp_id]})


def rename_passkey(caller: Caller | None, request: Request) -> Response:
    _settings(request)
    caller = signed_in(caller)
    body = request.json()
    credential_id = _credential_id(body)
    name = friendly_name(body.get("friendlyName"))
    caller.require_signed_in_since_revocation()
    if not request.runtime.account_passkeys.rename(caller.sub, credential_id, name):
        raise bad_request("Unknown credential")
    return Response(200, {})


def delete_passkey(caller: Caller | None, request: Request) -> Response:
    """Only the caller's own passkey goes; an id the caller has not (someone else's included) changes
    nothing and is answered the same (204), so a retried delete succeeds too."""
    _settings(request)
    caller = signed_in(caller)
    credential_id = _credential_id(request.json())
    caller.require_signed_in_since_revocation()
    if request.runtime.account_passkeys.delete(caller.sub, credential_id):
        count("PasskeyDeleted")
        logger.info("passkey deleted", extra={"user": caller.sub})
    return Response(204)


# --- usernameless sign-in -------------------------------------------------------------------------


def sign_in_challenge(caller: Caller | None, request: Request) -> Response:
    """No token, and no write: the challenge is a nonce and an expiry MACed under the signing key, so
    nobody can fill the table through this route. VerifyAuthChallengeResponse spends it once."""
    settings = _settings(request)
    key = request.runtime.account_keys.current()
    return Response(
        200,
        {
            "challenge": passkey.usernameless_challenge(key, request.now, settings.sign_in_timeout_seconds),
            "timeout": settings.sign_in_timeout_seconds * 1000,
            "userVerification": settings.user_verification,
            "relyingPartyId": settings.rp_id,
        },
    )


ROUTES = {
    "POST /register-authenticator/start": start_registration,
    "POST /register-authenticator/complete": complete_registration,
    "POST /authenticators/list": list_passkeys,
    "POST /authenticators/update": rename_passkey,
    "POST /authenticators/delete": delete_passkey,
    "POST /sign-in-challenge": sign_in_challenge,
}
