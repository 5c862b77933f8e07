"""PreTokenGeneration: the claims a user's tokens carry, from their profile (read through ProfileStore).

Which profile fields become which claims is configuration (ClaimMapping: {"field": "claim"}), and so
are the scopes each role grants (RoleScopes) and whether the profile's roles replace the user's
Cognito groups (GroupsFromRoles). The event's version picks the answer's shape:
  V1_0 ("1"): claimsOverrideDetails, ID token only, every value a string
              (numbers and booleans as text, lists and objects as compact JSON);
  V2_0/V3_0 ("2"/"3"): claimsAndScopeOverrideDetails, ID and access token, values keep their JSON
              types, and the access token gets the scopes of the profile's roles.
Reserved claims are filtered out of every override, whatever the configuration says: Cognito owns
them, and a token that authorizes on them must not be shaped by a profile.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from keyless import methods
from keyless.core import triggers
from keyless.core.observability import count, logger
from keyless.core.settings.profiles import TOKEN_VERSIONS, ClaimsSettings
from keyless.core.token_events import GroupConfiguration, TokenGenerationEvent
from keyless.profiles.provisioning import Provisioner
from keyless.store.profiles import ProfileStore

if TYPE_CHECKING:
    from keyless.aws.runtime import SignInRuntime

V1, V2 = TOKEN_VERSIONS
V2_EVENT_VERSIONS = ("2", "3")  # V3_0's event is V2_0's, for client-credentials grants as well

# Claims no trigger may add, override or suppress (cognito-triggers.md, "Pre token generation").
RESERVED_CLAIMS = frozenset(
    {
        "sub", "iss", "aud", "client_id", "token_use", "exp", "iat", "nbf", "auth_time", "jti",
        "origin_jti", "event_id", "username", "cognito:username", "nonce", "at_hash", "acr", "amr",
        "azp", "identities", "device_key", "version",
    }
)  # fmt: skip
# cognito:groups, cognito:roles and cognito:preferred_role change only through groupOverrideDetails;
# every other cognito:* claim is Cognito's. So no cognito:* name is ever a claim override here.
COGNITO_PREFIX = "cognito:"

SIGN_IN_METHOD_CLAIM = "sign_in_method"
# The factors this sign-in's proofs took, first first (["magic_link", "totp"]): what an "amr" claim
# would say, which Cognito owns.
SIGN_IN_FACTORS_CLAIM = "sign_in_factors"
# The user's last revocation (an operator's sign-out, an account's claim: the sign-in item's
# revokedAt) that was already recorded when the tokens were made. auth_time tells only the second: the
# management API takes a token of the revocation's own second only when it says it came after it.
AFTER_REVOCATION_CLAIM = "after_revocation"
# The claims only Keyless sets, from what it recorded: no profile field becomes one (ClaimMapping).
KEYLESS_CLAIMS = frozenset({SIGN_IN_METHOD_CLAIM, SIGN_IN_FACTORS_CLAIM, AFTER_REVOCATION_CLAIM})
PROOF_FRESH_SECONDS = 60  # tokens follow the accepted answer within the same API call
ROLES_FIELD = "roles"


def is_reserved(claim: str) -> bool:
    return claim in RESERVED_CLAIMS or claim.startswith(COGNITO_PREFIX)


def _clean(claims: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The claims minus reserved ones; a dropped claim is a configuration mistake worth a log line."""
    dropped = sorted(name for name in claims if is_reserved(name))
    if dropped:
        logger.warning("reserved claims left out", extra={"claims": dropped, "where": where})
    return {name: value for name, value in claims.items() if not is_reserved(name)}


def _roles(profile: Mapping[str, Any]) -> list[str]:
    roles = profile.get(ROLES_FIELD)
    if isinstance(roles, str):
        roles = [roles]
    if not isinstance(roles, list):
        return []
    return [role for role in dict.fromkeys(roles) if isinstance(role, str) and role]


def profile_claims(
    profile: Mapping[str, Any],
    claims_settings: ClaimsSettings,
    sign_in_method: str = "",
    factors: tuple[str, ...] = (),
    after_revocation: str = "",
) -> dict[str, Any]:
    """The mapped profile fields (missing or null ones left out, and none onto KEYLESS_CLAIMS),
    sign_in_method, sign_in_factors and after_revocation, JSON-typed."""
    claims = {
        claim: profile[name]
        for name, claim in claims_settings.mapping.items()
        if profile.get(name) is not None and claim not in KEYLESS_CLAIMS
    }
    if sign_in_method:
        claims[SIGN_IN_METHOD_CLAIM] = sign_in_method
    if factors:
        claims[SIGN_IN_FACTORS_CLAIM] = list(factors)
    if after_revocation:
        claims[AFTER_REVOCATION_CLAIM] = after_revocation
    return claims


def revocation_seen(sign_in: Mapping[str, Any]) -> str:
    """The after_revocation claim: the user's revokedAt as these tokens find it (text in every token
    version, as API Gateway hands claims over); "" when there was none. Refreshed tokens carry it
    too: a session that began before the revocation has no refresh token left (the sign-out or the
    claim signed the user out), and one that began in its second after it must keep its way in."""
    revoked = sign_in.get("revokedAt")
    return str(revoked) if isinstance(revoked, int) and not isinstance(revoked, bool) and revoked > 0 else ""


def accepted_method(event: TokenGenerationEvent, sign_in: Mapping[str, Any], now: int) -> str:
    """The sign_in_method claim: the method VerifyAuthChallengeResponse accepted for this sign-in
    (recorded with the proof, moments before the tokens), never what the client said. Refreshed
    tokens carry none: which proof started that session is not known any more."""
    if event.trigger.trigger_source != triggers.TOKEN_AUTHENTICATION:
        return ""
    proven_at = sign_in.get("provenAt")
    if not isinstance(proven_at, int) or not now - PROOF_FRESH_SECONDS <= proven_at <= now:
        return ""
    proven = methods.METHODS.get(str(sign_in.get("provenMethod", "")))
    return proven.claim if proven else ""


def accepted_factors(event: TokenGenerationEvent, sign_in: Mapping[str, Any], now: int) -> tuple[str, ...]:
    """The sign_in_factors claim: every method VerifyAuthChallengeResponse accepted in this sign-in,
    the first factor first (recorded with each proof, never taken from the client); none when
    accepted_method gives none. Factors recorded for another proof than the last one are not these."""
    first = accepted_method(event, sign_in, now)
    if not first:
        return ()
    recorded = sign_in.get("provenFactors")
    if not isinstance(recorded, list) or not recorded or recorded[0] != sign_in.get("provenMethod"):
        return (first,)
    found = [methods.METHODS.get(name) if isinstance(name, str) else None for name in recorded]
    return tuple(method.claim for method in found if method is not None)


def scopes_for(profile: Mapping[str, Any], claims_settings: ClaimsSettings) -> list[str]:
    scopes: dict[str, None] = {}
    for role in _roles(profile):
        scopes.update(dict.fromkeys(claims_settings.role_scopes.get(role, ())))
    return list(scopes)


def as_string(value: Any) -> str:
    """A V1_0 claim value: V1 tokens carry only strings."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _group_override(profile: Mapping[str, Any], groups: GroupConfiguration) -> dict[str, Any]:
    """The profile's roles as the user's groups; the IAM roles Cognito proposed are kept as they are."""
    override: dict[str, Any] = {"groupsToOverride": _roles(profile), "iamRolesToOverride": list(groups.iam_roles)}
    if groups.preferred_role is not None:
        override["preferredRole"] = groups.preferred_role
    return override


def uses_v2(event: TokenGenerationEvent, claims_settings: ClaimsSettings) -> bool:
    if event.version in V2_EVENT_VERSIONS:
        return True
    if event.version == "1":
        return False
    return claims_settings.lambda_version == V2


def token_response(
    event: TokenGenerationEvent,
    profile: Mapping[str, Any],
    claims_settings: ClaimsSettings,
    sign_in_method: str = "",
    factors: tuple[str, ...] = (),
    after_revocation: str = "",
) -> dict:
    """The PreTokenGeneration response for this event's version."""
    claims = _clean(profile_claims(profile, claims_settings, sign_in_method, factors, after_revocation), "claimsToAddOrOverride")
    groups = _group_override(profile, event.group_configuration) if claims_settings.groups_from_roles else None
    if not uses_v2(event, claims_settings):
        details: dict[str, Any] = {"claimsToAddOrOverride": {k: as_string(v) for k, v in claims.items()}, "claimsToSuppress": []}
        if groups is not None:
            details["groupOverrideDetails"] = groups
        return {"claimsOverrideDetails": details}
    overrides: dict[str, Any] = {
        "idTokenGeneration": {"claimsToAddOrOverride": dict(claims), "claimsToSuppress": []},
        "accessTokenGeneration": {
            "claimsToAddOrOverride": dict(claims),
            "claimsToSuppress": [],
            "scopesToAdd": scopes_for(profile, claims_settings),
            "scopesToSuppress": [],
        },
    }
    if groups is not None:
        overrides["groupOverrideDetails"] = groups
    return {"claimsAndScopeOverrideDetails": overrides}


def respond(
    event: TokenGenerationEvent, store: ProfileStore, provisioner: Provisioner, claims_settings: ClaimsSettings, now: int
) -> dict:
    """One read of the profile and the sign-in state, then the claims (an empty response leaves the
    tokens as Cognito made them).

    A missing profile is created here through the same code as PostConfirmation (it failed, or never
    ran: AdminCreateUser and federated users get none). A profile that cannot be read fails the
    token generation: tokens without their authorization claims must not be issued.
    """
    if event.trigger.trigger_source == triggers.TOKEN_CLIENT_CREDENTIALS:
        return {}  # a machine client: no user, no profile
    profile, sign_in = store.read_for_tokens(event.trigger.sub)
    if profile is None:
        profile = provisioner.provision(event.trigger).profile
        count("ProfilesSelfHealed")
        logger.warning("profile was missing at token generation; created", extra={"user": event.trigger.sub})
    return token_response(
        event,
        profile,
        claims_settings,
        accepted_method(event, sign_in, now),
        accepted_factors(event, sign_in, now),
        revocation_seen(sign_in),
    )


def pre_token_generation(event: TokenGenerationEvent, runtime: SignInRuntime) -> dict[str, Any]:
    """PreTokenGeneration's response to this event."""
    return respond(event, runtime.profiles, runtime.provisioner, runtime.claims_settings, runtime.now())
