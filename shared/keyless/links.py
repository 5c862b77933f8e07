"""Magic link tokens: `<base64url JSON payload>.<signature>`, signed with itsdangerous.

The payload names the user twice: by user name `u` (so the page a link opens can start a fresh
sign-in) and by the immutable `sub` `s` (which VerifyAuthChallengeResponse compares with the user
signing in: on a case-sensitive pool `alice` and `Alice` are two people). Then the expiry `e` and a
random nonce `n`. It is readable by the client, and only the signature makes it worth anything. The
table stores an HMAC of the whole token, never the token, so the table alone cannot mint a link.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from itsdangerous import BadData, Serializer, URLSafeSerializer
from itsdangerous.encoding import base64_encode

SALT = "keyless.magic-link.v1"
MAX_TOKEN_LENGTH = 1024
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+$")


class _Serializer(URLSafeSerializer):
    """Never zlib-compressed, so any client can read the payload with plain base64url + JSON."""

    def dump_payload(self, obj) -> bytes:
        return base64_encode(Serializer.dump_payload(self, obj))


def _serializer(key: bytes) -> _Serializer:
    return _Serializer(key, salt=SALT, signer_kwargs={"digest_method": hashlib.sha256})


class InvalidLink(ValueError):
    pass


@dataclass(frozen=True)
class LinkClaims:
    user_name: str
    sub: str
    expires_at: int


def issue(key: bytes, user_name: str, sub: str, expires_at: int) -> str:
    payload = {"u": user_name, "s": sub, "e": expires_at, "n": secrets.token_urlsafe(12)}
    return _serializer(key).dumps(payload)


def read(token: str, keys: Iterable[bytes]) -> tuple[LinkClaims, bytes]:
    """The claims and the key that signed them; raises InvalidLink for anything not signed by us."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or not _TOKEN_SHAPE.match(token):
        raise InvalidLink("not a link token")
    for key in keys:
        try:
            payload = _serializer(key).loads(token)
        except BadData:
            continue
        if not isinstance(payload, dict):
            break
        user_name, sub, expires_at = payload.get("u"), payload.get("s"), payload.get("e")
        if not isinstance(user_name, str) or not isinstance(sub, str) or not isinstance(expires_at, int) or isinstance(expires_at, bool):
            break
        return LinkClaims(user_name, sub, expires_at), key
    raise InvalidLink("bad signature or payload")


def token_hash(key: bytes, token: str) -> str:
    return hmac.new(key, b"keyless.magic-link-hash|" + token.encode(), hashlib.sha256).hexdigest()
