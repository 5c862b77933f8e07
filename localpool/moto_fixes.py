"""Where moto's Cognito answers unlike Cognito in a way the triggers would notice, made to answer
like Cognito. Applied by deploy(), idempotently."""

from __future__ import annotations

import functools

from moto.cognitoidp.models import CognitoIdpBackend


def apply() -> None:
    _own_email_is_no_alias_clash()
    _global_sign_out_whatever_name_signed_in()


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
