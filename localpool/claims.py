"""PreTokenGeneration as Cognito runs it: the V1 or V2/V3 event, and its answer applied to the tokens.

V1 changes ID token claims only (string values) and groups; V2/V3 change both tokens (any JSON
value) and the access token's scopes. Suppression wins over override, a group override replaces
`cognito:groups` in both tokens, and the claims Cognito reserves are never changed (an attempt is
ignored and reported in the terminal). An answer of the wrong shape is InvalidLambdaResponseException.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from localpool.errors import invalid_lambda_response
from localpool.orchestrator import PoolUser, trigger_event
from localpool.tokens import ClaimsHook, TokenClaims
from localpool.triggers import TriggerRunner

SLOT = "PreTokenGeneration"
RESERVED = frozenset(
    {
        "sub", "iss", "aud", "client_id", "token_use", "exp", "iat", "nbf", "auth_time", "jti", "origin_jti", "event_id",
        "username", "cognito:username", "nonce", "at_hash", "acr", "amr", "azp", "identities", "device_key", "version",
        "scope",
    }
)  # fmt: skip
GROUP_CLAIMS = ("cognito:groups", "cognito:roles", "cognito:preferred_role")

log = logging.getLogger("localpool.claims")


def is_reserved(claim: str) -> bool:
    return claim in RESERVED or (claim.startswith("cognito:") and claim not in GROUP_CLAIMS)


def event_version(lambda_version: str) -> str:
    """ "V1_0" -> "1", "V2_0" -> "2", "V3_0" -> "3" (the event's `version` field)."""
    return {"V1_0": "1", "V2_0": "2", "V3_0": "3"}.get(lambda_version or "V1_0", "1")


def claims_hook(run: TriggerRunner, pool_id: str, region: str, lambda_version: str = "V1_0") -> ClaimsHook | None:
    """A TokenService claims hook calling the pool's PreTokenGeneration trigger; None without one."""
    if not run.has(SLOT):
        return None
    version = event_version(lambda_version)

    def hook(
        user: PoolUser, client_id: str, trigger_source: str, client_metadata: Mapping[str, str], claims: TokenClaims
    ) -> TokenClaims:
        request: dict = {
            "userAttributes": {**user.attributes, "cognito:user_status": user.status},
            "groupConfiguration": {"groupsToOverride": list(user.groups), "iamRolesToOverride": [], "preferredRole": None},
            "clientMetadata": dict(client_metadata),
        }
        if version == "1":
            response: dict = {"claimsOverrideDetails": None}
        else:
            request["scopes"] = list(claims.scopes)
            response = {"claimsAndScopeOverrideDetails": None}
        answer = run(SLOT, trigger_event(trigger_source, pool_id, region, user.user_name, client_id, request, response, version))
        if version == "1":
            return apply_v1(answer.get("claimsOverrideDetails"), claims)
        return apply_v2(answer.get("claimsAndScopeOverrideDetails"), claims)

    return hook


def apply_v1(details: object, claims: TokenClaims) -> TokenClaims:
    if details is None:
        return claims
    if not isinstance(details, dict):
        raise invalid_lambda_response()
    id_token = dict(claims.id_token)
    _override(id_token, details.get("claimsToAddOrOverride"), strings_only=True)
    _suppress(id_token, details.get("claimsToSuppress"))
    access_token = dict(claims.access_token)
    _groups(details.get("groupOverrideDetails"), id_token, access_token)
    return TokenClaims(id_token, access_token, list(claims.scopes))


def apply_v2(details: object, claims: TokenClaims) -> TokenClaims:
    if details is None:
        return claims
    if not isinstance(details, dict):
        raise invalid_lambda_response()
    id_token, access_token, scopes = dict(claims.id_token), dict(claims.access_token), list(claims.scopes)
    id_part, access_part = _optional_map(details.get("idTokenGeneration")), _optional_map(details.get("accessTokenGeneration"))
    _override(id_token, id_part.get("claimsToAddOrOverride"), strings_only=False)
    _suppress(id_token, id_part.get("claimsToSuppress"))
    _override(access_token, access_part.get("claimsToAddOrOverride"), strings_only=False)
    _suppress(access_token, access_part.get("claimsToSuppress"))
    add, drop = _string_list(access_part.get("scopesToAdd")), set(_string_list(access_part.get("scopesToSuppress")))
    scopes = [s for s in dict.fromkeys(scopes + add) if s not in drop]
    _groups(details.get("groupOverrideDetails"), id_token, access_token)
    return TokenClaims(id_token, access_token, scopes)


def _optional_map(value: object) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid_lambda_response()
    return value


def _string_list(value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid_lambda_response()
    return list(value)


def _override(token: dict, changes: object, strings_only: bool) -> None:
    for claim, value in _optional_map(changes).items():
        if strings_only and not isinstance(value, str):
            raise invalid_lambda_response()
        if is_reserved(claim):
            log.warning("PreTokenGeneration may not change the reserved claim %s: ignored", claim)
            continue
        token[claim] = value


def _suppress(token: dict, claims: object) -> None:
    for claim in _string_list(claims):
        if is_reserved(claim):
            log.warning("PreTokenGeneration may not suppress the reserved claim %s: ignored", claim)
            continue
        token.pop(claim, None)


def _groups(details: object, id_token: dict, access_token: dict) -> None:
    if details is None:
        return
    details = _optional_map(details)
    if "groupsToOverride" in details:
        groups = _string_list(details.get("groupsToOverride"))
        for token in (id_token, access_token):
            if groups:
                token["cognito:groups"] = groups
            else:
                token.pop("cognito:groups", None)
    if "iamRolesToOverride" in details:
        roles = _string_list(details.get("iamRolesToOverride"))
        if roles:
            id_token["cognito:roles"] = roles
        else:
            id_token.pop("cognito:roles", None)
    preferred = details.get("preferredRole")
    if preferred is not None:
        if not isinstance(preferred, str):
            raise invalid_lambda_response()
        id_token["cognito:preferred_role"] = preferred
