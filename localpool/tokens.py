"""Tokens shaped like Cognito's: RS256 ID and access tokens, and opaque, revocable refresh tokens,
each lasting as long as its app client says (AWS::Cognito::UserPoolClient's AccessTokenValidity,
IdTokenValidity, RefreshTokenValidity and TokenValidityUnits; Cognito's defaults where it says
nothing), and rotated when the client enables RefreshTokenRotation.

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
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from localpool.errors import CognitoError, not_authorized
from localpool.orchestrator import PoolUser

ACCESS_SCOPE = "aws.cognito.signin.user.admin"
UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
DAY = UNIT_SECONDS["days"]


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


class ClientSettingsError(ValueError):
    """An app client setting Cognito refuses when the client is created (so the stack would not deploy)."""


@dataclass(frozen=True)
class Lifetime:
    """How long one kind of token lasts, as an app client states it: a number and its unit."""

    value: int
    unit: str

    @property
    def seconds(self) -> int:
        return self.value * UNIT_SECONDS[self.unit]


@dataclass(frozen=True)
class Rotation:
    """The client's RefreshTokenRotation, as it states it."""

    feature: str  # ENABLED | DISABLED
    retry_grace_seconds: int = 0  # how long a rotated-out refresh token still works


@dataclass(frozen=True)
class ClientTokenSettings:
    """What an app client says about its tokens; Cognito's documented defaults where it says nothing
    (access and ID tokens an hour, refresh tokens 30 days, revocation on, no rotation)."""

    access: Lifetime = Lifetime(1, "hours")
    id: Lifetime = Lifetime(1, "hours")
    refresh: Lifetime = Lifetime(30, "days")
    revocation: bool = True
    rotation: Rotation | None = None  # None: the client does not mention rotation

    @property
    def rotation_grace_seconds(self) -> int | None:
        """How long a rotated-out refresh token still works; None when the client does not rotate them."""
        if self.rotation is None or self.rotation.feature != "ENABLED":
            return None
        return self.rotation.retry_grace_seconds

    @property
    def rotates(self) -> bool:
        return self.rotation_grace_seconds is not None

    @classmethod
    def from_client(cls, props: Mapping[str, Any]) -> ClientTokenSettings:
        """The settings of an AWS::Cognito::UserPoolClient's (resolved) properties, checked against
        the ranges Cognito documents: access and ID tokens 5 minutes to 1 day, refresh tokens 60
        minutes to 10 years (0 means the default, 30 days), a grace period of 0 to 60 seconds."""
        units = props.get("TokenValidityUnits") or {}
        defaults = cls()
        rotation = props.get("RefreshTokenRotation")
        return cls(
            access=_lifetime(props, "AccessTokenValidity", units.get("AccessToken"), defaults.access, (300, DAY)),
            id=_lifetime(props, "IdTokenValidity", units.get("IdToken"), defaults.id, (300, DAY)),
            refresh=_lifetime(props, "RefreshTokenValidity", units.get("RefreshToken"), defaults.refresh, (3600, 3650 * DAY)),
            revocation=_flag(props.get("EnableTokenRevocation", True), "EnableTokenRevocation"),
            rotation=None if rotation is None else _rotation(rotation),
        )

    def describe(self) -> dict:
        """The fields DescribeUserPoolClient shows for these settings."""
        described: dict[str, Any] = {
            "AccessTokenValidity": self.access.value,
            "IdTokenValidity": self.id.value,
            "RefreshTokenValidity": self.refresh.value,
            "TokenValidityUnits": {"AccessToken": self.access.unit, "IdToken": self.id.unit, "RefreshToken": self.refresh.unit},
            "EnableTokenRevocation": self.revocation,
        }
        if self.rotation is not None:
            described["RefreshTokenRotation"] = {
                "Feature": self.rotation.feature,
                "RetryGracePeriodSeconds": self.rotation.retry_grace_seconds,
            }
        return described


def _lifetime(props: Mapping[str, Any], name: str, unit: object, default: Lifetime, bounds: tuple[int, int]) -> Lifetime:
    if unit is not None and unit not in UNIT_SECONDS:
        raise ClientSettingsError(f"TokenValidityUnits for {name}: {unit!r} is not one of {', '.join(UNIT_SECONDS)}")
    raw = props.get(name)
    if raw is None:
        return default
    value = _whole_number(raw, name)
    if value == 0 and name == "RefreshTokenValidity":
        return default  # documented: Cognito replaces 0 with the default, 30 days
    lifetime = Lifetime(value, str(unit or default.unit))
    low, high = bounds
    if not low <= lifetime.seconds <= high:
        raise ClientSettingsError(
            f"Invalid range for token validity: {name} {value} {lifetime.unit} is outside {low} to {high} seconds"
        )
    return lifetime


def _rotation(rotation: object) -> Rotation:
    if not isinstance(rotation, Mapping):
        raise ClientSettingsError("RefreshTokenRotation must be a map with Feature and RetryGracePeriodSeconds")
    feature = rotation.get("Feature", "DISABLED")
    if feature not in ("ENABLED", "DISABLED"):
        raise ClientSettingsError(f"RefreshTokenRotation Feature {feature!r} is not ENABLED or DISABLED")
    grace = _whole_number(rotation.get("RetryGracePeriodSeconds", 0), "RetryGracePeriodSeconds")
    if not 0 <= grace <= 60:
        raise ClientSettingsError(f"RetryGracePeriodSeconds {grace} is outside 0 to 60")
    return Rotation(str(feature), grace)


def _whole_number(raw: object, name: str) -> int:
    """A number property; a template's Ref resolves to its parameter's string."""
    if isinstance(raw, bool) or not isinstance(raw, int | str) or not str(raw).strip().isdigit():
        raise ClientSettingsError(f"{name} must be a whole number, not {raw!r}")
    return int(raw)


def _flag(raw: object, name: str) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise ClientSettingsError(f"{name} must be true or false, not {raw!r}")


DEFAULT_SETTINGS = ClientTokenSettings()


@dataclass
class RefreshGrant:
    user_name: str
    client_id: str
    origin_jti: str  # the sign-in's: every refresh token rotated from it, and every token they produce, share it
    auth_time: int
    expires_at: float
    rotated_out_until: float | None = None  # once rotation replaced it: usable until the client's grace period ends


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
    ):
        self.issuer = issuer
        # As Cognito: ID and access tokens are signed with two keys (two kids in the JWKS), so a
        # verifier that picks its key by the token's kid works here as there.
        self.key = key
        self.access_key = access_key or RsaKey.load_or_create(None, "access")
        self._clock = clock
        self.claims_hook = claims_hook
        self._clients: dict[str, ClientTokenSettings] = {}
        self._grants: dict[str, RefreshGrant] = {}
        self._revoked_origins: set[str] = set()
        self._lock = threading.Lock()

    def configure_client(self, client_id: str, settings: ClientTokenSettings) -> None:
        self._clients[client_id] = settings

    def settings(self, client_id: str) -> ClientTokenSettings:
        """The client's token settings (Cognito's defaults for a client configured with none)."""
        return self._clients.get(client_id, DEFAULT_SETTINGS)

    def issue(self, user: PoolUser, client_id: str, trigger_source: str, client_metadata: Mapping[str, str]) -> dict:
        now = int(self._clock())
        origin_jti = str(uuid.uuid4())
        result = self._tokens(user, client_id, trigger_source, client_metadata, origin_jti, now)
        result["RefreshToken"] = self._new_refresh_token(user.user_name, client_id, origin_jti, now)
        return result

    def refresh(
        self,
        refresh_token: str,
        client_id: str,
        find_user: Callable[[str], PoolUser | None],
        client_metadata: Mapping[str, str] | None = None,
    ) -> dict:
        """New ID and access tokens for a refresh token (PreTokenGeneration runs as
        TokenGeneration_RefreshTokens). On a client that rotates refresh tokens, a new refresh token
        too, and the one given works only for the client's grace period from its first rotation."""
        grace = self.settings(client_id).rotation_grace_seconds
        now = self._clock()
        rotating_out = False
        with self._lock:
            given = self._grants.get(refresh_token)
        owner = find_user(given.user_name) if given is not None and given.client_id == client_id else None
        if owner is not None and not owner.enabled:  # before revocation: AdminDisableUser also signs the user out
            raise not_authorized("User is disabled.")
        with self._lock:
            grant = self._usable_grant(refresh_token, client_id, now)
            # Under the lock: two requests at once cannot both use a token whose grace period is 0.
            if grace is not None and grant.rotated_out_until is None:
                grant.rotated_out_until = now + grace
                rotating_out = True
        try:
            user = find_user(grant.user_name)
            if user is None or not user.enabled:
                raise not_authorized("Invalid Refresh Token")
            metadata = client_metadata or {}
            result = self._tokens(user, client_id, "TokenGeneration_RefreshTokens", metadata, grant.origin_jti, grant.auth_time)
        except Exception:
            if rotating_out:  # no new tokens, so the one given is not replaced
                with self._lock:
                    grant.rotated_out_until = None
            raise
        if grace is not None:
            result["RefreshToken"] = self._new_refresh_token(grant.user_name, client_id, grant.origin_jti, grant.auth_time)
        return result

    def revoke(self, refresh_token: str, client_id: str) -> None:
        """RevokeToken: the refresh token's sign-in ends (its refresh tokens, rotated ones included,
        and the access tokens they produced). A token that could not refresh for this client
        (unknown, another client's, expired, revoked) changes nothing."""
        with self._lock:
            try:
                grant = self._usable_grant(refresh_token, client_id, self._clock())
            except CognitoError:
                return
            self._revoked_origins.add(grant.origin_jti)

    def sign_out(self, user_name: str) -> None:
        """GlobalSignOut: every refresh token of the user, and the access tokens they produced."""
        with self._lock:
            for grant in self._grants.values():
                if grant.user_name == user_name:
                    self._revoked_origins.add(grant.origin_jti)

    def jwt_use(self, token: str) -> str | None:
        """ "id" or "access" for an ID or access token this pool signed (expired or revoked ones too); else None."""
        for key in (self.key, self.access_key):
            try:
                claims = jwt.decode(
                    token,
                    key.public_key,
                    algorithms=["RS256"],
                    issuer=self.issuer,
                    options={"verify_exp": False, "verify_iat": False, "verify_aud": False},
                )
            except jwt.PyJWTError:
                continue
            if claims.get("token_use") in ("id", "access"):
                return str(claims["token_use"])
        return None

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

    def _new_refresh_token(self, user_name: str, client_id: str, origin_jti: str, auth_time: int) -> str:
        """A refresh token lasting the client's RefreshTokenValidity from now."""
        token = secrets.token_urlsafe(96)
        expires_at = self._clock() + self.settings(client_id).refresh.seconds
        with self._lock:
            self._grants[token] = RefreshGrant(user_name, client_id, origin_jti, auth_time, expires_at)
        return token

    def _usable_grant(self, refresh_token: str, client_id: str, now: float) -> RefreshGrant:
        """The refresh token's grant, if it may still be used (call with the lock held)."""
        grant = self._grants.get(refresh_token)
        if grant is None or grant.client_id != client_id or grant.origin_jti in self._revoked_origins:
            raise not_authorized("Invalid Refresh Token")
        if grant.rotated_out_until is not None and now >= grant.rotated_out_until:
            raise CognitoError("RefreshTokenReuseException", "Refresh Token has been rotated")
        if now >= grant.expires_at:
            raise not_authorized("Refresh Token has expired")
        return grant

    def _tokens(self, user, client_id, trigger_source, client_metadata, origin_jti, auth_time) -> dict:
        now = int(self._clock())
        settings = self.settings(client_id)
        common = {
            "sub": user.attributes.get("sub", user.user_name),
            "iss": self.issuer,
            "origin_jti": origin_jti,
            "event_id": str(uuid.uuid4()),
            "auth_time": auth_time,
            "iat": now,
        }
        groups = {"cognito:groups": list(user.groups)} if user.groups else {}
        id_claims = {
            **{k: v for k, v in user.attributes.items() if k != "sub"},
            **common,
            **groups,
            "exp": now + settings.id.seconds,
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
            "exp": now + settings.access.seconds,
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
            "ExpiresIn": settings.access.seconds,  # the access token's lifetime, as OAuth's expires_in
            "TokenType": "Bearer",
        }

    def jwks(self) -> dict:
        return {"keys": [self.key.jwk(), self.access_key.jwk()]}

    @staticmethod
    def _sign(claims: dict, key: RsaKey) -> str:
        return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})
