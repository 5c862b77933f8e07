"""Where moto answers unlike AWS in a way the triggers would notice (its Cognito, its Secrets
Manager), made to answer like AWS. Applied by deploy(), idempotently."""

from __future__ import annotations

import functools
import secrets
import string

from moto.cognitoidp.models import CognitoIdpBackend, CognitoIdpUserPool
from moto.secretsmanager.models import SecretsManagerBackend


def apply() -> None:
    _own_email_is_no_alias_clash()
    _global_sign_out_whatever_name_signed_in()
    _pool_ids_shaped_like_cognitos()
    _moving_awscurrent_moves_the_current_version()


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
        self.id = f"{region}_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(9))
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
