"""Tokens shaped like Cognito's: RS256 ID and access tokens, and opaque, revocable refresh tokens.

The signing key is kept in the local state folder (so tokens survive a restart) and published as a
JWKS; any standard JWT library verifies the tokens against it, as against Cognito's.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from localpool.errors import not_authorized
from localpool.orchestrator import PoolUser

ACCESS_SCOPE = "aws.cognito.signin.user.admin"


class RsaKey:
    def __init__(self, private_key: rsa.RSAPrivateKey):
        self.private_key = private_key
        self.public_key = private_key.public_key()
        der = self.public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.kid = hashlib.sha256(der).hexdigest()[:16]

    @classmethod
    def load_or_create(cls, path: Path | None, use: str = "id") -> RsaKey:
        """The key kept at `path`, made there on first use; without a path, one key per `use` for every
        pool of this process (making a 2048-bit key takes a quarter of a second, and tests make hundreds of pools)."""
        if path is None:
            return _process_key(use)
        if path.exists():
            kept = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(kept, rsa.RSAPrivateKey):
                raise ValueError(f"{path} does not hold an RSA key; delete it to make a new one")
            return cls(kept)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
            path.touch(mode=0o600)
            path.write_bytes(pem)
        return cls(key)

    def jwk(self) -> dict:
        """The public half, as a JWKS lists it."""
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.public_key, as_dict=True)
        return {**jwk, "alg": "RS256", "use": "sig", "kid": self.kid}


@functools.cache
def _process_key(use: str) -> RsaKey:
    return RsaKey(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@dataclass
class RefreshGrant:
    user_name: str
    client_id: str
    origin_jti: str
    auth_time: int
    revoked: bool = False


@dataclass(frozen=True)
class TokenClaims:
    """What a PreTokenGeneration trigger may change: claims of each token, groups and scopes."""

    id_token: dict
    access_token: dict
    scopes: list[str] = field(default_factory=lambda: [ACCESS_SCOPE])


# (user, client id, trigger source, client metadata, claims) -> claims after PreTokenGeneration
ClaimsHook = Callable[[PoolUser, str, str, Mapping[str, str], TokenClaims], TokenClaims]


class TokenService:
    def __init__(
        self,
        issuer: str,
        key: RsaKey,
        access_key: RsaKey | None = None,
        clock: Callable[[], float] = time.time,
        claims_hook: ClaimsHook | None = None,
        validity_seconds: int = 3600,
    ):
        self.issuer = issuer
        # As Cognito: ID and access tokens are signed with two keys (two kids in the JWKS), so a
        # verifier that picks its key by the token's kid works here as there.
        self.key = key
        self.access_key = access_key or RsaKey.load_or_create(None, "access")
        self._clock = clock
        self.claims_hook = claims_hook
        self._validity = validity_seconds
        self._grants: dict[str, RefreshGrant] = {}
        self._revoked_origins: set[str] = set()
        self._lock = threading.Lock()

    def issue(self, user: PoolUser, client_id: str, trigger_source: str, client_metadata: Mapping[str, str]) -> dict:
        now = int(self._clock())
        origin_jti = str(uuid.uuid4())
        refresh_token = secrets.token_urlsafe(96)
        with self._lock:
            self._grants[refresh_token] = RefreshGrant(user.user_name, client_id, origin_jti, auth_time=now)
        result = self._tokens(user, client_id, trigger_source, client_metadata, origin_jti, now)
        result["RefreshToken"] = refresh_token
        return result

    def refresh(self, refresh_token: str, client_id: str, find_user: Callable[[str], PoolUser | None]) -> dict:
        with self._lock:
            grant = self._grants.get(refresh_token or "")
        if grant is None or grant.client_id != client_id:
            raise not_authorized("Invalid Refresh Token")
        user = find_user(grant.user_name)
        if user is not None and not user.enabled:  # before `revoked`: AdminDisableUser also signs the user out
            raise not_authorized("User is disabled.")
        if user is None or grant.revoked:
            raise not_authorized("Invalid Refresh Token")
        return self._tokens(user, client_id, "TokenGeneration_RefreshTokens", {}, grant.origin_jti, grant.auth_time)

    def revoke(self, refresh_token: str, client_id: str) -> None:
        with self._lock:
            grant = self._grants.get(refresh_token or "")
            if grant is not None and grant.client_id == client_id:
                grant.revoked = True
                self._revoked_origins.add(grant.origin_jti)

    def sign_out(self, user_name: str) -> None:
        """GlobalSignOut: every refresh token of the user, and the access tokens they produced."""
        with self._lock:
            for grant in self._grants.values():
                if grant.user_name == user_name:
                    grant.revoked = True
                    self._revoked_origins.add(grant.origin_jti)

    def read_access_token(self, token: str) -> dict:
        """The claims of a valid, unrevoked access token of this pool (for GetUser, GlobalSignOut)."""
        try:
            # Times are checked against this service's clock (tests and the local pool may move it).
            claims = jwt.decode(
                token,
                self.access_key.public_key,
                algorithms=["RS256"],
                issuer=self.issuer,
                options={"verify_exp": False, "verify_iat": False, "require": ["exp", "iat"]},
            )
        except jwt.PyJWTError:
            raise not_authorized("Invalid Access Token") from None
        if not isinstance(claims["exp"], int) or claims["exp"] <= self._clock():
            raise not_authorized("Access Token has expired")
        if claims.get("token_use") != "access" or claims.get("origin_jti") in self._revoked_origins:
            raise not_authorized("Access Token has been revoked")
        return claims

    def _tokens(self, user, client_id, trigger_source, client_metadata, origin_jti, auth_time) -> dict:
        now = int(self._clock())
        common = {
            "sub": user.attributes.get("sub", user.user_name),
            "iss": self.issuer,
            "origin_jti": origin_jti,
            "event_id": str(uuid.uuid4()),
            "auth_time": auth_time,
            "iat": now,
            "exp": now + self._validity,
        }
        groups = {"cognito:groups": list(user.groups)} if user.groups else {}
        id_claims = {
            **{k: v for k, v in user.attributes.items() if k != "sub"},
            **common,
            **groups,
            "aud": client_id,
            "token_use": "id",
            "cognito:username": user.user_name,
            "jti": str(uuid.uuid4()),
        }
        for flag in ("email_verified", "phone_number_verified"):
            if flag in id_claims:
                id_claims[flag] = str(id_claims[flag]).lower() == "true"
        access_claims = {
            **common,
            **groups,
            "client_id": client_id,
            "token_use": "access",
            "username": user.user_name,
            "jti": str(uuid.uuid4()),
        }
        claims = TokenClaims(id_claims, access_claims)
        if self.claims_hook is not None:
            claims = self.claims_hook(user, client_id, trigger_source, client_metadata, claims)
        access = {**claims.access_token, "scope": " ".join(claims.scopes)}
        return {
            "IdToken": self._sign(claims.id_token, self.key),
            "AccessToken": self._sign(access, self.access_key),
            "ExpiresIn": self._validity,
            "TokenType": "Bearer",
        }

    def jwks(self) -> dict:
        return {"keys": [self.key.jwk(), self.access_key.jwk()]}

    @staticmethod
    def _sign(claims: dict, key: RsaKey) -> str:
        return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})
