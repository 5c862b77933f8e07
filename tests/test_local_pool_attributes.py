"""A user's attributes through the HTTP local pool, with Cognito's semantics as template.yaml sets
them: the client's WriteAttributes, AutoVerifiedAttributes: [email] and
AttributesRequireVerificationBeforeUpdate: [email] (a new email waits for the code sent to it).
Also the admin operations the triggers of that change need: AdminUpdateUserAttributes,
AdminSetUserPassword and AdminUserGlobalSignOut (over HTTP, and a trigger's own call on moto)."""

from __future__ import annotations

import functools
import re

import jwt

from keyless_client import PasswordlessClient
from localpool.template import Template
from testkit.clients import pool_cognito, refused
from testkit.mail import code_in, mailbox, wrong

ALICE = "alice@example.com"
NEW = "alice.new@example.com"
BOB = "bob@example.com"
UNAUTHORIZED = ("NotAuthorizedException", "A client attempted to write unauthorized attribute")
MISMATCH = ("CodeMismatchException", "Invalid verification code provided, please try again.")


def sign_up(server, email: str) -> None:
    pool_cognito(server).sign_up(
        ClientId=server.pool.client_id,
        Username=email,
        Password="Aa1-" + "x" * 24,
        UserAttributes=[{"Name": "email", "Value": email}],
    )


def signed_in(server, email: str = ALICE) -> dict:
    """Signed up, then signed in with an emailed code (which verifies the address): the tokens."""
    sign_up(server, email)
    client = PasswordlessClient(pool_cognito(server), server.pool.client_id)
    sent = client.request_code(client.start(email))
    code = code_in(next(m for m in mailbox(server) if email in m["to"]))
    return client.answer_code(sent, code)["AuthenticationResult"]


def attributes_of(server, access_token: str) -> dict:
    user = pool_cognito(server).get_user(AccessToken=access_token)
    return {a["Name"]: a["Value"] for a in user["UserAttributes"]}


def cognito_code(server, to: str) -> str:
    """The newest verification code Cognito itself emailed to `to`."""
    mail = next(m for m in mailbox(server) if to in m["to"] and m["source"] == "cognito")
    return re.search(r"\b(\d{6})\b", mail["text"]).group(1)


def mails_to(server, to: str) -> list[dict]:
    return [m for m in mailbox(server) if to in m["to"]]


def change_email(server, access_token: str, email: str, *more: dict) -> dict:
    """UpdateUserAttributes with a new email (and any other attributes given)."""
    return pool_cognito(server).update_user_attributes(
        AccessToken=access_token, UserAttributes=[{"Name": "email", "Value": email}, *more]
    )


def template_without(*settings: str) -> Template:
    template = Template()
    props = template.resources["UserPool"]["Properties"]
    for setting in settings:
        props.pop(setting, None)
    return template


# --- UpdateUserAttributes on the template's pool: the new email waits for its code -----------------------


def test_a_new_email_waits_for_the_code_sent_to_it(server):
    tokens = signed_in(server)
    cognito = pool_cognito(server)
    answer = change_email(server, tokens["AccessToken"], NEW, {"Name": "name", "Value": "Alice"})
    assert answer["CodeDeliveryDetailsList"] == [
        {"Destination": "a***@e***", "DeliveryMedium": "EMAIL", "AttributeName": "email"}
    ]
    mail = mails_to(server, NEW)[0]
    assert mail["source"] == "cognito" and mail["subject"] == "Your verification code"
    assert [m["source"] for m in mails_to(server, ALICE)] == ["ses"]  # only the sign-in code; the old address is told nothing

    # Until the code comes back, the old address stays, verified, everywhere; the other attribute applied at once.
    seen = attributes_of(server, tokens["AccessToken"])
    assert (seen["email"], seen["email_verified"], seen["name"]) == (ALICE, "true", "Alice")
    admin_seen = {
        a["Name"]: a["Value"] for a in cognito.admin_get_user(UserPoolId=server.pool.pool_id, Username=ALICE)["UserAttributes"]
    }
    assert admin_seen["email"] == ALICE and NEW not in str(admin_seen)
    refreshed = cognito.initiate_auth(
        ClientId=server.pool.client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]}
    )["AuthenticationResult"]
    assert jwt.decode(refreshed["IdToken"], options={"verify_signature": False})["email"] == ALICE

    code = cognito_code(server, NEW)
    verify = functools.partial(cognito.verify_user_attribute, AccessToken=tokens["AccessToken"], AttributeName="email")
    assert refused(lambda: verify(Code=wrong(code))) == MISMATCH
    assert attributes_of(server, tokens["AccessToken"])["email"] == ALICE
    verify(Code=code)
    seen = attributes_of(server, tokens["AccessToken"])
    assert (seen["email"], seen["email_verified"]) == (NEW, "true")
    assert refused(lambda: verify(Code=code)) == MISMATCH  # used once

    client = PasswordlessClient(cognito, server.pool.client_id)
    sub = seen["sub"]
    assert client.start(NEW)["ChallengeParameters"]["USERNAME"] == sub
    assert client.start(ALICE)["ChallengeParameters"]["USERNAME"] != sub  # the old address is nobody's now


def test_a_code_lasts_a_day_and_can_be_sent_again(server, served_clock):
    tokens = signed_in(server)
    cognito = pool_cognito(server)
    change_email(server, tokens["AccessToken"], NEW)
    first = cognito_code(server, NEW)
    served_clock.advance(24 * 3600 + 1)
    access = cognito.initiate_auth(
        ClientId=server.pool.client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]}
    )["AuthenticationResult"]["AccessToken"]
    assert refused(lambda: cognito.verify_user_attribute(AccessToken=access, AttributeName="email", Code=first)) == (
        "ExpiredCodeException",
        "Invalid code provided, please request a code again.",
    )
    resent = cognito.get_user_attribute_verification_code(AccessToken=access, AttributeName="email")
    assert resent["CodeDeliveryDetails"] == {"Destination": "a***@e***", "DeliveryMedium": "EMAIL", "AttributeName": "email"}
    second = cognito_code(server, NEW)
    assert len(mails_to(server, NEW)) == 2
    cognito.verify_user_attribute(AccessToken=access, AttributeName="email", Code=second)
    assert attributes_of(server, access)["email"] == NEW


def test_wrong_codes_are_limited(server):
    tokens = signed_in(server)
    cognito = pool_cognito(server)
    change_email(server, tokens["AccessToken"], NEW)
    code = cognito_code(server, NEW)
    verify = functools.partial(cognito.verify_user_attribute, AccessToken=tokens["AccessToken"], AttributeName="email")
    for _ in range(4):
        assert refused(lambda: verify(Code=wrong(code))) == MISMATCH
    limit = ("LimitExceededException", "Attempt limit exceeded, please try after some time.")
    assert refused(lambda: verify(Code=wrong(code))) == limit
    assert refused(lambda: verify(Code=code)) == limit  # that code is dead: a million guesses are not an option
    assert attributes_of(server, tokens["AccessToken"])["email"] == ALICE
    cognito.get_user_attribute_verification_code(AccessToken=tokens["AccessToken"], AttributeName="email")
    cognito.verify_user_attribute(AccessToken=tokens["AccessToken"], AttributeName="email", Code=cognito_code(server, NEW))
    assert attributes_of(server, tokens["AccessToken"])["email"] == NEW


# --- without AttributesRequireVerificationBeforeUpdate ------------------------------------------------------


def test_without_the_setting_the_email_changes_at_once_unverified(serve_pool):
    server = serve_pool(template=template_without("UserAttributeUpdateSettings"))
    tokens = signed_in(server)
    answer = change_email(server, tokens["AccessToken"], NEW)
    assert answer["CodeDeliveryDetailsList"] == [
        {"Destination": "a***@e***", "DeliveryMedium": "EMAIL", "AttributeName": "email"}
    ]
    seen = attributes_of(server, tokens["AccessToken"])
    assert (seen["email"], seen["email_verified"]) == (NEW, "false")
    pool_cognito(server).verify_user_attribute(
        AccessToken=tokens["AccessToken"], AttributeName="email", Code=cognito_code(server, NEW)
    )
    assert attributes_of(server, tokens["AccessToken"])["email_verified"] == "true"


def test_without_auto_verification_no_code_is_sent(serve_pool):
    server = serve_pool(template=template_without("UserAttributeUpdateSettings", "AutoVerifiedAttributes"))
    tokens = signed_in(server)
    assert change_email(server, tokens["AccessToken"], NEW)["CodeDeliveryDetailsList"] == []
    seen = attributes_of(server, tokens["AccessToken"])
    assert (seen["email"], seen["email_verified"]) == (NEW, "false")
    assert mails_to(server, NEW) == []
    # The user may still ask for one, and prove the address with it.
    pool_cognito(server).get_user_attribute_verification_code(AccessToken=tokens["AccessToken"], AttributeName="email")
    pool_cognito(server).verify_user_attribute(
        AccessToken=tokens["AccessToken"], AttributeName="email", Code=cognito_code(server, NEW)
    )
    assert attributes_of(server, tokens["AccessToken"])["email_verified"] == "true"


# --- what a client may write --------------------------------------------------------------------------------


def test_a_client_writes_only_its_write_attributes(server):
    tokens = signed_in(server)
    cognito = pool_cognito(server)
    update = lambda name, value: cognito.update_user_attributes(  # noqa: E731
        AccessToken=tokens["AccessToken"], UserAttributes=[{"Name": name, "Value": value}]
    )
    change_email(server, tokens["AccessToken"], NEW)
    assert refused(lambda: update("email_verified", "true")) == UNAUTHORIZED  # cannot skip the code
    assert refused(lambda: update("sub", "someone-else")) == UNAUTHORIZED
    code, message = refused(lambda: update("custom:plan", "pro"))
    assert code == "InvalidParameterException" and "custom:plan" in message
    update("name", "Alice")  # in WriteAttributes
    assert (
        refused(lambda: cognito.update_user_attributes(AccessToken="not-a-token", UserAttributes=[]))[0]
        == "NotAuthorizedException"
    )
    seen = attributes_of(server, tokens["AccessToken"])
    assert (seen["email"], seen["email_verified"], seen["name"]) == (ALICE, "true", "Alice")


def test_sign_up_cannot_claim_a_verified_email(server):
    cognito = pool_cognito(server)
    sign_up_with = lambda attributes: cognito.sign_up(  # noqa: E731
        ClientId=server.pool.client_id, Username=ALICE, Password="Aa1-" + "x" * 24, UserAttributes=attributes
    )
    assert (
        refused(lambda: sign_up_with([{"Name": "email", "Value": ALICE}, {"Name": "email_verified", "Value": "true"}]))
        == UNAUTHORIZED
    )
    assert refused(lambda: sign_up_with([{"Name": "email", "Value": ALICE}, {"Name": "custom:role", "Value": "admin"}]))[0] == (
        "InvalidParameterException"
    )
    assert cognito.list_users(UserPoolId=server.pool.pool_id)["Users"] == []


def test_an_address_another_user_has_is_refused(server):
    tokens = signed_in(server)
    sign_up(server, BOB)
    exists = ("AliasExistsException", "An account with the given email already exists.")
    assert refused(lambda: change_email(server, tokens["AccessToken"], BOB)) == exists
    assert refused(lambda: change_email(server, tokens["AccessToken"], "Bob@Example.com")) == exists
    admin = pool_cognito(server)
    assert (
        refused(
            lambda: admin.admin_update_user_attributes(
                UserPoolId=server.pool.pool_id,
                Username=ALICE,
                UserAttributes=[{"Name": "email", "Value": BOB}, {"Name": "email_verified", "Value": "true"}],
            )
        )
        == exists
    )
    assert mails_to(server, BOB) == []


# --- the admin operations ------------------------------------------------------------------------------------


def admin_attributes(server, username: str) -> dict:
    user = pool_cognito(server).admin_get_user(UserPoolId=server.pool.pool_id, Username=username)
    return {a["Name"]: a["Value"] for a in user["UserAttributes"]}


def test_admin_update_honours_verification_unless_it_sets_email_verified(server):
    sign_up(server, ALICE)
    admin = pool_cognito(server)
    update = lambda attributes: admin.admin_update_user_attributes(  # noqa: E731
        UserPoolId=server.pool.pool_id, Username=ALICE, UserAttributes=attributes
    )
    update([{"Name": "email", "Value": NEW}])  # waits for the code, as the user's own change does
    assert admin_attributes(server, ALICE)["email"] == ALICE
    assert [m["source"] for m in mails_to(server, NEW)] == ["cognito"]

    update([{"Name": "email", "Value": "alice.other@example.com"}, {"Name": "email_verified", "Value": "true"}])
    seen = admin_attributes(server, "alice.other@example.com")
    assert (seen["email"], seen["email_verified"]) == ("alice.other@example.com", "true")
    assert mails_to(server, "alice.other@example.com") == []  # verified by the admin: no code

    unsigned = pool_cognito(server, aws_access_key_id="local", aws_secret_access_key="local")
    assert (
        refused(lambda: unsigned.admin_update_user_attributes(UserPoolId=server.pool.pool_id, Username=ALICE, UserAttributes=[]))[
            0
        ]
        == "UnrecognizedClientException"
    )


def test_admin_set_user_password(server):
    sign_up(server, ALICE)
    admin = pool_cognito(server)
    set_password = lambda password, permanent: admin.admin_set_user_password(  # noqa: E731
        UserPoolId=server.pool.pool_id, Username=ALICE, Password=password, Permanent=permanent
    )
    set_password("Aa1-" + "y" * 24, False)
    assert admin.admin_get_user(UserPoolId=server.pool.pool_id, Username=ALICE)["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    set_password("Aa1-" + "z" * 24, True)
    assert admin.admin_get_user(UserPoolId=server.pool.pool_id, Username=ALICE)["UserStatus"] == "CONFIRMED"
    assert refused(lambda: set_password("short", True))[0] == "InvalidPasswordException"
    stranger = pool_cognito(server, aws_access_key_id="local", aws_secret_access_key="local")
    assert (
        refused(
            lambda: stranger.admin_set_user_password(
                UserPoolId=server.pool.pool_id, Username=ALICE, Password="Aa1-" + "w" * 24, Permanent=True
            )
        )[0]
        == "UnrecognizedClientException"
    )


def assert_signed_out(server, tokens: dict) -> None:
    cognito = pool_cognito(server)
    assert refused(lambda: cognito.get_user(AccessToken=tokens["AccessToken"]))[0] == "NotAuthorizedException"
    assert refused(
        lambda: cognito.initiate_auth(
            ClientId=server.pool.client_id,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]},
        )
    ) == ("NotAuthorizedException", "Invalid Refresh Token")


def test_admin_user_global_sign_out_over_http(server):
    tokens = signed_in(server)
    pool_cognito(server).admin_user_global_sign_out(UserPoolId=server.pool.pool_id, Username=ALICE)
    assert_signed_out(server, tokens)


def test_a_triggers_own_admin_sign_out_on_moto_ends_the_local_tokens(server):
    """The triggers call AdminUserGlobalSignOut with boto3 on moto, not through the endpoint: the
    local pool's tokens must end all the same."""
    tokens = signed_in(server)
    trigger_cognito = server.pool.aws_session.client("cognito-idp")  # the session the functions' clients come from
    trigger_cognito.admin_user_global_sign_out(UserPoolId=server.pool.pool_id, Username=ALICE)
    assert_signed_out(server, tokens)


def test_only_email_is_verified_here(server):
    """A known difference (docs/local-user-pool.md): no SMS, so phone numbers are not verified locally."""
    access_token = signed_in(server)["AccessToken"]
    cognito = pool_cognito(server, retry=False)
    answer = refused(lambda: cognito.get_user_attribute_verification_code(AccessToken=access_token, AttributeName="phone_number"))
    assert answer == ("InvalidParameterException", "The local user pool verifies email only, not phone_number.")
