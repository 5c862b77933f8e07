"""Where moto's Cognito answers unlike Cognito in a way the triggers would notice, made to answer
like Cognito. Applied by deploy(), idempotently."""

from __future__ import annotations

import functools
import hashlib
import string

from moto.cognitoidp.models import CognitoIdpBackend, CognitoIdpUserPool
from moto.core.exceptions import JsonRESTError
from moto.secretsmanager.models import SecretsManagerBackend

from localpool.errors import CognitoError
from localpool.passwords import check_password

ID_ALPHABET = string.ascii_letters + string.digits


def apply() -> None:
    _own_email_is_no_alias_clash()
    _global_sign_out_whatever_name_signed_in()
    _pool_ids_shaped_like_cognitos()
    _names_compared_as_the_pool_compares_them()
    _the_pools_password_policy_with_cognitos_messages()
    _moving_awscurrent_moves_the_current_version()


def _names_compared_as_the_pool_compares_them() -> None:
    """In a pool whose user names are not case-sensitive, a user is found by its name or its sign-in
    alias (the email) in any case, however it was first typed: SignUp and AdminCreateUser see
    "Alice@Example.com" taken by "alice@example.com", and every admin call finds either (moto
    compares exactly)."""
    original = CognitoIdpUserPool._get_user
    if getattr(original, "_keyless_fixed", False):
        return

    @functools.wraps(original)
    def _get_user(self, username):
        found = original(self, username)
        if found is not None or self.extended_config.get("UsernameConfiguration", {}).get("CaseSensitive", True):
            return found
        wanted = username.casefold()
        aliases = self.extended_config.get("UsernameAttributes", [])
        for user in self.users.values():
            names = [user.username, *(user.attribute_lookup.get(alias, "") for alias in aliases)]
            if any(name.casefold() == wanted for name in names if name):
                return user
        return None

    _get_user._keyless_fixed = True  # type: ignore[attr-defined]
    CognitoIdpUserPool._get_user = _get_user  # type: ignore[method-assign]  # the fix


def _the_pools_password_policy_with_cognitos_messages() -> None:
    """Passwords moto checks itself (SignUp, AdminSetUserPassword) are checked as Cognito checks them:
    the pool's policy, Cognito's messages, up to the API's 256 characters (moto: its own message, at
    most 98 characters)."""
    original = CognitoIdpBackend._validate_password
    if getattr(original, "_keyless_fixed", False):
        return

    @functools.wraps(original)
    def _validate_password(self, user_pool_id, password):
        pool = self.describe_user_pool(user_pool_id)
        try:
            check_password(password, pool.extended_config.get("Policies", {}).get("PasswordPolicy", {}))
        except CognitoError as refused:
            raise JsonRESTError(error_type=refused.error_type, message=refused.message) from None

    _validate_password._keyless_fixed = True  # type: ignore[attr-defined]
    CognitoIdpBackend._validate_password = _validate_password  # type: ignore[method-assign]  # the fix


def _pool_ids_shaped_like_cognitos() -> None:
    """A pool id is the region, "_" and 9 letters or digits, as Cognito's are (moto: 32 hex digits),
    so clients and validators that check the shape accept the local pool's."""
    original = CognitoIdpUserPool.__init__
    if getattr(original, "_keyless_fixed", False):
        return

    @functools.wraps(original)
    def __init__(self, account_id, region, name, extended_config):
        original(self, account_id, region, name, extended_config)
        moto_id = self.id
        # Derived from moto's id, so an id strategy that gives the same id on every start (make dev's
        # HASH) still does, and an app configured once keeps working.
        digest = int.from_bytes(hashlib.sha256(moto_id.encode()).digest(), "big")
        self.id = f"{region}_" + "".join(ID_ALPHABET[(digest >> (6 * i)) % len(ID_ALPHABET)] for i in range(9))
        self.arn = self.arn.replace(moto_id, self.id)

    __init__._keyless_fixed = True  # type: ignore[attr-defined]
    CognitoIdpUserPool.__init__ = __init__  # type: ignore[method-assign]  # the fix


def _own_email_is_no_alias_clash() -> None:
    """AdminUpdateUserAttributes naming the user's own current email (with email_verified, as
    VerifyAuthChallengeResponse does) is no clash with an existing alias on Cognito; moto compares
    the address with every user of the pool, the user included, and refuses."""
    original = CognitoIdpBackend.admin_update_user_attributes
    if getattr(original, "_keyless_fixed", False):
        return

    @functools.wraps(original)
    def admin_update_user_attributes(self, user_pool_id, username, attributes):
        user = self.admin_get_user(user_pool_id, username)
        email = self._find_attr("email", attributes)
        if email is not None and email == user.attribute_lookup.get("email"):
            user.update_attributes(attributes)
            return None
        return original(self, user_pool_id, username, attributes)

    admin_update_user_attributes._keyless_fixed = True  # type: ignore[attr-defined]
    CognitoIdpBackend.admin_update_user_attributes = admin_update_user_attributes  # type: ignore[method-assign]  # the fix


def _global_sign_out_whatever_name_signed_in() -> None:
    """AdminUserGlobalSignOut ends every session of the user, whether it was started with the user
    name or an alias (the email); moto revokes only the tokens of sessions started with the exact
    name it is given."""
    original = CognitoIdpBackend.admin_user_global_sign_out
    if getattr(original, "_keyless_fixed", False):
        return

    @functools.wraps(original)
    def admin_user_global_sign_out(self, user_pool_id, username):
        original(self, user_pool_id, username)
        user = self.admin_get_user(user_pool_id, username)
        pool = self.describe_user_pool(user_pool_id)
        email = user.attribute_lookup.get("email", "")
        for name in {user.username, email, email.lower()} - {""}:
            pool.sign_out(name)

    admin_user_global_sign_out._keyless_fixed = True  # type: ignore[attr-defined]
    CognitoIdpBackend.admin_user_global_sign_out = admin_user_global_sign_out  # type: ignore[method-assign]  # the fix


def _moving_awscurrent_moves_the_current_version() -> None:
    """After UpdateSecretVersionStage moves AWSCURRENT (a rotation's last step), the next
    PutSecretValue makes the version that carried it AWSPREVIOUS, as on AWS. moto moves the label
    but keeps its own record of the current version, so that PutSecretValue left two versions
    labelled AWSCURRENT."""
    original = SecretsManagerBackend.update_secret_version_stage
    if getattr(original, "_keyless_fixed", False):
        return

    @functools.wraps(original)
    def update_secret_version_stage(self, secret_id, version_stage, remove_from_version_id, move_to_version_id):
        answer = original(self, secret_id, version_stage, remove_from_version_id, move_to_version_id)
        if version_stage == "AWSCURRENT" and move_to_version_id:
            self.secrets[secret_id].set_default_version_id(move_to_version_id)
        return answer

    update_secret_version_stage._keyless_fixed = True  # type: ignore[attr-defined]
    SecretsManagerBackend.update_secret_version_stage = update_secret_version_stage  # type: ignore[method-assign]  # the fix
