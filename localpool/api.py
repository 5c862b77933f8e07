"""The local user pool's API: Cognito's operations, by name, on JSON bodies, with Cognito's errors.

Users live in moto's cognito-idp (the store the triggers' own admin calls change); sign-in rounds
run in CustomAuth; tokens come from TokenService. The triggers template.yaml wires are called
through TriggerRunner, as Cognito calls them:

- SignUp: PreSignUp_SignUp (autoConfirmUser / autoVerifyEmail honoured), then PostConfirmation
  when the user was confirmed automatically.
- AdminCreateUser: PreSignUp_AdminCreateUser (its auto* flags ignored, no PostConfirmation).
- ConfirmSignUp, AdminConfirmSignUp: PostConfirmation_ConfirmSignUp.
- InitiateAuth / RespondToAuthChallenge, and their Admin twins: PreAuthentication, the custom auth
  triggers, PostAuthentication, then PreTokenGeneration (via the TokenService's claims hook);
  REFRESH_TOKEN_AUTH and GetTokensFromRefreshToken: PreTokenGeneration.

Attribute changes follow the template's pool and client: the client's WriteAttributes, the pool's
AutoVerifiedAttributes and UserAttributeUpdateSettings (a new email waits for its code).

A slot the template leaves empty is skipped. The user exists in moto while PreSignUp runs (moto
chooses the user's name, which Cognito gives PreSignUp as userName) and is removed again if the
trigger refuses.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TypeGuard

from botocore.exceptions import ClientError, ParamValidationError

from localpool.attributes import EmailCodes, attribute_changes, check_in_schema, check_writable, code_delivery
from localpool.deployment import ACCOUNT, Deployment
from localpool.errors import CognitoError, code_mismatch, invalid_lambda_response, invalid_parameter, not_authorized
from localpool.orchestrator import CustomAuth, PoolUser, is_string_map, trigger_event
from localpool.passwords import check_password, temporary_password
from localpool.tokens import ACCESS_SCOPE, TokenService
from localpool.triggers import TriggerRunner
from localpool.validation import validate

NO_CLIENT = "CLIENT_ID_NOT_APPLICABLE"  # callerContext.clientId of admin calls
COGNITO_SENDER = "no-reply@verificationemail.com"

# Cognito authorizes these with IAM (a SigV4-signed request); browsers call the others unsigned.
SIGNED_OPERATIONS = frozenset(
    {
        "AdminCreateUser", "AdminConfirmSignUp", "AdminGetUser", "AdminUpdateUserAttributes", "AdminAddUserToGroup",
        "AdminDeleteUser", "AdminSetUserPassword", "AdminUserGlobalSignOut", "ListUsers", "ListUserPools", "DescribeUserPool",
        "ListUserPoolClients", "DescribeUserPoolClient", "AdminDisableUser", "AdminEnableUser", "ListGroups",
        "AdminListGroupsForUser", "AdminInitiateAuth", "AdminRespondToAuthChallenge",
    }
)  # fmt: skip
# Operations moto's cognito-idp answers as Cognito would, once the pool id is checked and the
# Username is the user's own name (moto matches names and aliases exactly, the pool ignores case).
STORE_OPERATIONS = {
    "AdminGetUser": "admin_get_user",
    "AdminAddUserToGroup": "admin_add_user_to_group",
    "AdminSetUserPassword": "admin_set_user_password",
    "AdminEnableUser": "admin_enable_user",
    "ListUsers": "list_users",
    "ListUserPoolClients": "list_user_pool_clients",
}


class LocalUserPoolApi:
    def __init__(
        self,
        deployment: Deployment,
        cognito,  # a boto3 cognito-idp client on moto
        auth: CustomAuth,
        runner: TriggerRunner,
        tokens: TokenService,
        send_cognito_email: Callable[[str, str, str], None] | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.deployment = deployment
        self.pool_id = deployment.pool_id
        self.region = deployment.region
        self.client = deployment.client
        self._cognito = cognito
        self._auth = auth
        self._run = runner
        self._tokens = tokens
        self._directory = auth.directory
        self._send_cognito_email = send_cognito_email or (lambda to, subject, text: None)
        self._clock = clock
        self._sign_up_codes = EmailCodes()  # ConfirmSignUp's: the same limits as any code proving an address
        self._email_codes = EmailCodes()
        ((_, pool_resource),) = deployment.template.resources_of_type("AWS::Cognito::UserPool").items()
        pool_props = pool_resource["Properties"]
        config = pool_props.get("LambdaConfig", {}).get("PreTokenGenerationConfig", {})
        version = config.get("LambdaVersion", "V1_0") if isinstance(config, dict) else "V1_0"
        self._pre_token_version = str(deployment.template.resolve(version, deployment.physical, self.region))

    # --- dispatch -------------------------------------------------------------------------------

    @classmethod
    def operations(cls) -> list[str]:
        """Every operation the pool serves."""
        return sorted({name.removeprefix("op_") for name in dir(cls) if name.startswith("op_")} | set(STORE_OPERATIONS))

    def call(self, operation: str, body: object, signed: bool) -> dict:
        method = getattr(self, f"op_{operation}", None) if operation.isalnum() else None
        if method is None and operation not in STORE_OPERATIONS:
            raise CognitoError(
                "UnknownOperationException", f"The local user pool does not support {operation or 'this request'}."
            )
        if not isinstance(body, Mapping):
            raise CognitoError("SerializationException", "The request body must be a JSON object.")
        if operation in SIGNED_OPERATIONS and not signed:
            raise CognitoError("MissingAuthenticationTokenException", "Missing Authentication Token", status=403)
        body = validate(operation, body)
        if method is not None:
            return method(body)
        self._check_pool(body)
        params = dict(body)
        if "Username" in body:
            params["Username"] = self._find(_string(body, "Username")).user_name
        return self._store(STORE_OPERATIONS[operation], params)

    # --- users ------------------------------------------------------------------------------------

    def op_SignUp(self, body: Mapping) -> dict:
        self._check_client(body)
        if "UserAttributes" in body:
            self._check_writable(attribute_changes(body))
        if "Password" not in body:  # Cognito's passwordless sign-up is its own (Essentials) sign-in, not this pool's
            raise invalid_parameter("A password is required: this user pool does not offer passwordless sign-up.")
        self._check_password(_string(body, "Password"))
        params = {k: body[k] for k in ("ClientId", "Username", "Password", "UserAttributes") if k in body}
        self._check_name_free(_string(body, "Username"))
        self._store("sign_up", params)
        user_name = self._find(_string(body, "Username")).user_name  # the sub on a pool of email user names
        attributes = self._attributes(user_name)
        answer = self._pre_sign_up("PreSignUp_SignUp", user_name, attributes, body, self.client.client_id)
        confirmed = answer.get("autoConfirmUser") is True
        if answer.get("autoVerifyEmail") is True and "email" in attributes:
            self._set_attributes(user_name, {"email_verified": "true"})
        if answer.get("autoVerifyPhone") is True and "phone_number" in attributes:
            self._set_attributes(user_name, {"phone_number_verified": "true"})
        result: dict = {"UserConfirmed": confirmed, "UserSub": attributes.get("sub", user_name)}
        if confirmed:
            self._cognito.admin_confirm_sign_up(UserPoolId=self.pool_id, Username=user_name)
            self._post_confirmation(user_name, _string_map(body, "ClientMetadata"), self.client.client_id)
        elif "email" in self.deployment.auto_verified_attributes and "email" in attributes:
            result["CodeDeliveryDetails"] = self._send_confirmation_code(user_name, attributes["email"])
        return result

    def op_ConfirmSignUp(self, body: Mapping) -> dict:
        self._check_client(body)
        user = self._directory.find(_string(body, "Username"))
        code = _string(body, "ConfirmationCode")
        if user is None and self.client.prevent_user_existence_errors:
            raise code_mismatch()  # as for a wrong code: the answer tells nobody who has an account
        user = user or self._find(_string(body, "Username"))
        _check_unconfirmed(user)
        self._sign_up_codes.redeem(user.user_name, code, self._clock())
        self._cognito.admin_confirm_sign_up(UserPoolId=self.pool_id, Username=user.user_name)
        self._set_attributes(user.user_name, {"email_verified": "true"})
        self._post_confirmation(user.user_name, _string_map(body, "ClientMetadata"), self.client.client_id)
        return {}

    def op_AdminConfirmSignUp(self, body: Mapping) -> dict:
        self._check_pool(body)
        user = self._find(_string(body, "Username"))
        _check_unconfirmed(user)
        self._cognito.admin_confirm_sign_up(UserPoolId=self.pool_id, Username=user.user_name)
        self._post_confirmation(user.user_name, _string_map(body, "ClientMetadata"), NO_CLIENT)
        return {}

    def op_AdminCreateUser(self, body: Mapping) -> dict:
        self._check_pool(body)
        if body.get("MessageAction") == "RESEND":
            return self._resend_invitation(body)
        self._check_name_free(_string(body, "Username"))
        if "UserAttributes" in body:
            check_in_schema(attribute_changes(body), self.deployment.custom_attributes)
        policy = self._password_policy()
        if "TemporaryPassword" in body:
            check_password(_string(body, "TemporaryPassword"), policy)
        temporary = body.get("TemporaryPassword") or temporary_password(policy)
        params = {k: v for k, v in body.items() if k not in ("ClientMetadata", "ValidationData")}
        created = self._store("admin_create_user", {**params, "TemporaryPassword": temporary})["User"]
        user_name = created["Username"]
        attributes = self._attributes(user_name)
        # Cognito ignores the auto* flags of this call: the answer is checked, not applied.
        self._pre_sign_up("PreSignUp_AdminCreateUser", user_name, attributes, body, NO_CLIENT)
        if body.get("MessageAction") != "SUPPRESS":
            self._invite(body, attributes, temporary)
        return {"User": created}

    def _resend_invitation(self, body: Mapping) -> dict:
        """MessageAction RESEND: a new temporary password and the invitation again, for a user who has
        not yet set a password; PreSignUp does not run (no user is created)."""
        user = self._find(_string(body, "Username"))
        if user.status != "FORCE_CHANGE_PASSWORD":
            raise CognitoError(
                "UnsupportedUserStateException", f"Resend not possible. {body['Username']} status is not FORCE_CHANGE_PASSWORD."
            )
        temporary = temporary_password(self._password_policy())
        self._store(
            "admin_set_user_password",
            {"UserPoolId": self.pool_id, "Username": user.user_name, "Password": temporary, "Permanent": False},
        )
        self._invite(body, dict(user.attributes), temporary)
        got = self._store("admin_get_user", {"UserPoolId": self.pool_id, "Username": user.user_name})
        return {"User": {"Attributes": got.pop("UserAttributes", []), **got}}  # AdminGetUser's answer as a UserType

    def _invite(self, body: Mapping, attributes: Mapping[str, str], temporary: str) -> None:
        """Cognito's invitation, its default text, by email (SMS, Cognito's default medium, is not sent here)."""
        if "EMAIL" in body.get("DesiredDeliveryMediums", []) and "email" in attributes:
            invitation = f"Your username is {body['Username']} and temporary password is {temporary}."
            self._send_cognito_email(attributes["email"], "Your temporary password", invitation)

    def op_AdminDeleteUser(self, body: Mapping) -> dict:
        return self._then_sign_out(body, "admin_delete_user")

    def op_DeleteUser(self, body: Mapping) -> dict:
        """The access token's user deletes themself: AdminDeleteUser of that user."""
        user = self._caller(body)
        return self.op_AdminDeleteUser({"UserPoolId": self.pool_id, "Username": user.user_name})

    def op_AdminDisableUser(self, body: Mapping) -> dict:
        """The user can no longer sign in or refresh ("User is disabled."), and their tokens end, as
        AdminUserGlobalSignOut ends them (Cognito documents that the access tokens are revoked)."""
        return self._then_sign_out(body, "admin_disable_user")

    def op_ListGroups(self, body: Mapping) -> dict:
        self._check_pool(body)
        return self._store("list_groups", body)

    def op_AdminListGroupsForUser(self, body: Mapping) -> dict:
        self._check_pool(body)
        user = self._find(_string(body, "Username"))
        return self._store("admin_list_groups_for_user", {**body, "Username": user.user_name})

    def op_AdminUpdateUserAttributes(self, body: Mapping) -> dict:
        """As moto does it, but a new email in a pool that verifies it first waits for its code,
        unless the same call sets email_verified=true (Cognito's documented way to skip that)."""
        self._check_pool(body)
        user = self._find(_string(body, "Username"))
        changes = attribute_changes(body)
        check_in_schema(changes, self.deployment.custom_attributes)
        self._change_attributes(user, changes)
        return {}

    def op_AdminUserGlobalSignOut(self, body: Mapping) -> dict:
        return self._then_sign_out(body, "admin_user_global_sign_out")

    def _then_sign_out(self, body: Mapping, method: str) -> dict:
        """An admin call on one user that moto answers (`method`), after which the user's refresh
        tokens, and the access tokens they produced, end."""
        self._check_pool(body)
        user = self._find(_string(body, "Username"))
        self._store(method, {"UserPoolId": self.pool_id, "Username": user.user_name})
        self._tokens.sign_out(user.user_name)
        return {}

    def op_DescribeUserPool(self, body: Mapping) -> dict:
        self._check_pool(body)
        pool = self._store("describe_user_pool", {"UserPoolId": self.pool_id})["UserPool"]
        pool["LambdaConfig"] = self._lambda_config()
        return {"UserPool": pool}

    def _lambda_config(self) -> dict:
        """The pool's triggers, as Cognito describes them (the template's functions in their slots)."""
        arn = "arn:aws:lambda:{region}:{account}:function:{name}"
        lambda_config: dict = {}
        for slot, logical in self.deployment.template.trigger_slots().items():
            function_arn = arn.format(region=self.region, account=ACCOUNT, name=logical)
            if slot == "PreTokenGeneration":
                lambda_config["PreTokenGenerationConfig"] = {"LambdaArn": function_arn, "LambdaVersion": self.pre_token_version()}
            lambda_config[slot] = function_arn
        return lambda_config

    def op_DescribeUserPoolClient(self, body: Mapping) -> dict:
        self._check_pool(body)
        self._check_client(body)
        described = self._store("describe_user_pool_client", dict(body))["UserPoolClient"]
        described["AuthSessionValidity"] = self.client.auth_session_validity_minutes
        described.update(self._tokens.settings(self.client.client_id).describe())
        return {"UserPoolClient": described}

    def op_ListUserPools(self, body: Mapping) -> dict:
        listed = self._store("list_user_pools", dict(body))
        for pool in listed.get("UserPools", []):
            if pool.get("Id") == self.pool_id:
                pool["LambdaConfig"] = self._lambda_config()
        return listed

    # --- sign-in ----------------------------------------------------------------------------------

    def op_InitiateAuth(self, body: Mapping) -> dict:
        self._check_client(body)
        flow = _string(body, "AuthFlow")
        parameters = _string_map(body, "AuthParameters")
        if flow == "CUSTOM_AUTH":  # CustomAuth checks the client allows it
            return self._auth.initiate_auth(self.client, parameters.get("USERNAME", ""), _string_map(body, "ClientMetadata"))
        if flow in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"):
            self.client.check_flow("REFRESH_TOKEN_AUTH")
            if self._tokens.settings(self.client.client_id).rotates:
                # Cognito: a client that rotates refresh tokens refreshes with GetTokensFromRefreshToken only.
                raise invalid_parameter(f"{flow} flow not enabled for this client")
            token = parameters.get("REFRESH_TOKEN", "")
            if not token:
                raise invalid_parameter("Missing required parameter REFRESH_TOKEN")
            result = self._tokens.refresh(token, self.client.client_id, self._directory.find)
            return {"ChallengeParameters": {}, "AuthenticationResult": result}
        self.client.check_flow(flow)
        raise invalid_parameter(f"The local user pool does not support the {flow} flow.")

    def op_RespondToAuthChallenge(self, body: Mapping) -> dict:
        self._check_client(body)
        return self._auth.respond_to_auth_challenge(
            self.client,
            _string(body, "Session"),
            _string(body, "ChallengeName"),
            _string_map(body, "ChallengeResponses"),
            _string_map(body, "ClientMetadata"),
        )

    def op_AdminInitiateAuth(self, body: Mapping) -> dict:
        """Server-side sign-in (signed): InitiateAuth's flows and rounds, in the pool named."""
        self._check_pool(body)
        return self.op_InitiateAuth(body)

    def op_AdminRespondToAuthChallenge(self, body: Mapping) -> dict:
        self._check_pool(body)
        return self.op_RespondToAuthChallenge(body)

    def op_GetUser(self, body: Mapping) -> dict:
        user = self._caller(body)
        attributes = [{"Name": k, "Value": v} for k, v in user.attributes.items()]
        return {"Username": user.user_name, "UserAttributes": attributes}

    def op_UpdateUserAttributes(self, body: Mapping) -> dict:
        user = self._caller(body)
        changes = attribute_changes(body)
        self._check_writable(changes)
        _string_map(body, "ClientMetadata")  # checked; it would reach a CustomMessage trigger, which the template has not
        return {"CodeDeliveryDetailsList": self._change_attributes(user, changes)}

    def op_GetUserAttributeVerificationCode(self, body: Mapping) -> dict:
        user = self._caller(body)
        _check_email_attribute(body)
        pending = self._email_codes.pending_address(user.user_name)
        address = pending or user.attributes.get("email")
        if not address:
            raise invalid_parameter("The user has no email address to verify.")
        return {"CodeDeliveryDetails": self._send_email_code(user.user_name, address, pending=pending is not None)}

    def op_VerifyUserAttribute(self, body: Mapping) -> dict:
        user = self._caller(body)
        _check_email_attribute(body)
        proved = self._email_codes.redeem(user.user_name, _string(body, "Code"), self._clock())
        if proved.pending:
            self._check_email_free(user, proved.address)
            self._set_attributes(user.user_name, {"email": proved.address, "email_verified": "true"})
        elif proved.address == user.attributes.get("email"):
            self._set_attributes(user.user_name, {"email_verified": "true"})
        else:  # the email changed since this code was sent: it proves an address the user no longer has
            raise code_mismatch()
        return {}

    def op_GlobalSignOut(self, body: Mapping) -> dict:
        self._tokens.sign_out(self._access_claims(body)["username"])
        return {}

    def op_GetTokensFromRefreshToken(self, body: Mapping) -> dict:
        """New ID and access tokens, and on a client that rotates them a new refresh token; unlike
        InitiateAuth's, this call's ClientMetadata reaches PreTokenGeneration."""
        self._check_client(body)
        token = _string(body, "RefreshToken")
        metadata = _string_map(body, "ClientMetadata")
        return {"AuthenticationResult": self._tokens.refresh(token, self.client.client_id, self._directory.find, metadata)}

    def op_RevokeToken(self, body: Mapping) -> dict:
        """As AWS documents it: only refresh tokens are revoked, on clients with revocation enabled; a
        token that is none of this client's refresh tokens changes nothing (200, as the revocation endpoint answers)."""
        self._check_client(body)
        token = _string(body, "Token")
        if not self._tokens.settings(self.client.client_id).revocation:
            raise CognitoError("UnsupportedOperationException", "Token revocation isn't enabled for this app client.")
        if self._tokens.jwt_use(token) is not None:
            raise CognitoError("UnsupportedTokenTypeException", "Only refresh tokens can be revoked.")
        self._tokens.revoke(token, self.client.client_id)
        return {}

    # --- triggers -----------------------------------------------------------------------------------

    def pre_token_version(self) -> str:
        return self._pre_token_version

    def _pre_sign_up(self, source: str, user_name: str, attributes: dict, body: Mapping, client_id: str) -> dict:
        """PreSignUp's answer. The user is in moto already, and is removed again if this fails."""
        if not self._run.has("PreSignUp"):
            return {}
        try:
            validation = body.get("ValidationData")
            request: dict = {
                "userAttributes": {k: v for k, v in attributes.items() if k != "sub"},
                "validationData": {a["Name"]: a["Value"] for a in validation} if _attribute_list(validation) else None,
            }
            metadata = _string_map(body, "ClientMetadata")
            if metadata:
                request["clientMetadata"] = metadata
            flags = {"autoConfirmUser": False, "autoVerifyEmail": False, "autoVerifyPhone": False}
            event = trigger_event(source, self.pool_id, self.region, user_name, client_id, request, flags)
            answer = self._run("PreSignUp", event)
            if any(not isinstance(answer.get(flag, False), bool) for flag in flags):
                raise invalid_lambda_response()
        except CognitoError:
            self._cognito.admin_delete_user(UserPoolId=self.pool_id, Username=user_name)
            raise
        return answer

    def _post_confirmation(self, user_name: str, metadata: dict, client_id: str) -> None:
        if not self._run.has("PostConfirmation"):
            return
        attributes = {**self._attributes(user_name), "cognito:user_status": "CONFIRMED"}
        request: dict = {"userAttributes": attributes}
        if metadata:
            request["clientMetadata"] = metadata
        event = trigger_event("PostConfirmation_ConfirmSignUp", self.pool_id, self.region, user_name, client_id, request, {})
        self._run("PostConfirmation", event)

    # --- attributes -------------------------------------------------------------------------------

    def _change_attributes(self, user: PoolUser, changes: dict[str, str]) -> list[dict]:
        """Apply `changes` as Cognito does and return where codes were sent. A new email: in a pool
        that verifies it before the update, kept aside until VerifyUserAttribute (the old one and
        its email_verified unchanged); otherwise applied at once, unverified, and a code sent when
        the pool auto-verifies email. email_verified=true in the same call applies it verified."""
        email = changes.pop("email", None)
        verified = changes.get("email_verified") == "true"
        send_to: tuple[str, bool] | None = None  # (address, pending)
        if email is not None and email != user.attributes.get("email"):
            self._check_email_free(user, email)
            self._email_codes.discard(user.user_name)  # a code for an earlier address proves nothing now
            if "email" in self.deployment.verify_before_update and not verified:
                changes.pop("email_verified", None)  # it speaks of the new address, which is not applied yet
                send_to = (email, True)
            else:
                changes = {**changes, "email": email, "email_verified": "true" if verified else "false"}
                if "email" in self.deployment.auto_verified_attributes and not verified:
                    send_to = (email, False)
        # The code first: if no code may be issued now (LimitExceededException), nothing changes.
        code = self._email_codes.issue(user.user_name, *send_to, self._clock()) if send_to else ""
        if changes:
            listed = [{"Name": k, "Value": v} for k, v in changes.items()]
            params = {"UserPoolId": self.pool_id, "Username": user.user_name, "UserAttributes": listed}
            self._store("admin_update_user_attributes", params)
        return [self._email_code(send_to[0], code)] if send_to else []

    def _send_email_code(self, user_name: str, address: str, pending: bool) -> dict:
        return self._email_code(address, self._email_codes.issue(user_name, address, pending, self._clock()))

    def _email_code(self, address: str, code: str) -> dict:
        self._send_cognito_email(address, "Your verification code", f"Your verification code is {code}. ")
        return code_delivery(address)

    def _check_name_free(self, username: str) -> None:
        """A new user's name may not be one the pool already knows (as it compares names: in any case
        unless it is case-sensitive)."""
        if self._directory.find(username) is not None:
            taken = (
                "An account with the given email already exists."
                if self.deployment.username_attributes
                else "User already exists"
            )
            raise CognitoError("UsernameExistsException", taken)

    def _check_email_free(self, user: PoolUser, email: str) -> None:
        """In a pool whose users sign in with their email address, an address belongs to one user."""
        if "email" not in self.deployment.username_attributes:
            return
        holder = self._directory.find(email)
        if holder is not None and holder.user_name != user.user_name:
            raise CognitoError("AliasExistsException", "An account with the given email already exists.")

    def _check_password(self, password: str) -> None:
        check_password(password, self._password_policy())

    def _password_policy(self) -> dict:
        pool = self._store("describe_user_pool", {"UserPoolId": self.pool_id})["UserPool"]
        return dict(pool.get("Policies", {}).get("PasswordPolicy", {}))

    def _check_writable(self, changes: Mapping[str, str]) -> None:
        check_writable(changes, self.deployment.custom_attributes, self.client.write_attributes)

    def _caller(self, body: Mapping) -> PoolUser:
        """The user of the request's access token."""
        user = self._directory.find(self._access_claims(body)["username"])
        if user is None:
            raise not_authorized("User does not exist.")
        return user

    def _access_claims(self, body: Mapping) -> dict:
        """The request's access token, which must carry the scope that lets users manage themselves
        (a V2 PreTokenGeneration may have suppressed it)."""
        claims = self._tokens.read_access_token(_string(body, "AccessToken"))
        if ACCESS_SCOPE not in str(claims.get("scope", "")).split():
            raise not_authorized("Access Token does not have required scopes")
        return claims

    # --- helpers ----------------------------------------------------------------------------------

    def _send_confirmation_code(self, user_name: str, email: str) -> dict:
        """What Cognito does when the pool verifies email addresses: email a code for ConfirmSignUp."""
        return self._email_code(email, self._sign_up_codes.issue(user_name, email, pending=False, now=self._clock()))

    def _check_client(self, body: Mapping) -> None:
        client_id = body.get("ClientId")
        if not isinstance(client_id, str) or not client_id:
            raise invalid_parameter("Missing required parameter ClientId")
        if client_id != self.client.client_id:
            raise CognitoError("ResourceNotFoundException", f"User pool client {client_id} does not exist.")

    def _check_pool(self, body: Mapping) -> None:
        pool_id = body.get("UserPoolId")
        if not isinstance(pool_id, str) or not pool_id:
            raise invalid_parameter("Missing required parameter UserPoolId")
        if pool_id != self.pool_id:
            raise CognitoError("ResourceNotFoundException", f"User pool {pool_id} does not exist.")

    def _find(self, username: str):
        user = self._directory.find(username)
        if user is None:
            raise CognitoError("UserNotFoundException", "User does not exist.")
        return user

    def _attributes(self, user_name: str) -> dict:
        found = self._cognito.admin_get_user(UserPoolId=self.pool_id, Username=user_name)
        return {a["Name"]: a["Value"] for a in found.get("UserAttributes", [])}

    def _set_attributes(self, user_name: str, attributes: Mapping[str, str]) -> None:
        self._cognito.admin_update_user_attributes(
            UserPoolId=self.pool_id, Username=user_name, UserAttributes=[{"Name": k, "Value": v} for k, v in attributes.items()]
        )

    def _store(self, method: str, params: Mapping) -> dict:
        """Call moto's cognito-idp; its errors are Cognito's errors (a NextToken moto does not know is
        Cognito's InvalidParameterException, not moto's own InvalidToken)."""
        try:
            answer = getattr(self._cognito, method)(**params)
        except ParamValidationError as exc:
            raise invalid_parameter(str(exc).replace("\n", " ")) from None
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") == "InvalidToken":
                raise invalid_parameter("Invalid NextToken.") from None
            raise CognitoError(error.get("Code", "InternalErrorException"), error.get("Message", "")) from None
        answer.pop("ResponseMetadata", None)
        return answer


def _string(body: Mapping, name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise invalid_parameter(f"Missing required parameter {name}")
    return value


def _string_map(body: Mapping, name: str) -> dict:
    value = body.get(name) or {}
    if not is_string_map(value):
        raise invalid_parameter(f"{name} must be a map of strings to strings")
    return dict(value)


def _check_email_attribute(body: Mapping) -> None:
    name = _string(body, "AttributeName")
    if name != "email":
        raise invalid_parameter(f"The local user pool verifies email only, not {name}.")


def _check_unconfirmed(user: PoolUser) -> None:
    if user.status != "UNCONFIRMED":
        raise not_authorized(f"User cannot be confirmed. Current status is {user.status}")


def _attribute_list(value: object) -> TypeGuard[list[dict[str, str]]]:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(a, dict) and isinstance(a.get("Name"), str) and isinstance(a.get("Value"), str) for a in value)
    )
