"""template.yaml deployed onto moto: the table, the signing and pseudonym keys, the sender, the SES
configuration set, the user pool and its app client are created from the template's own resource
definitions, and each function's environment is resolved as CloudFormation would resolve it. The
signing key's rotation schedule names its rotation function, which RotateSecret then runs
(localpool.rotation). Call inside moto's mock_aws(). Not created: what only AWS acts on (the email
events' topic, its key and the set's event destination: moto's SES reports no bounces or
complaints), nor the functions themselves."""

from __future__ import annotations

import functools
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import boto3
from moto.dynamodb.models import DynamoDBBackend
from moto.secretsmanager.models import secretsmanager_backends

from localpool import moto_fixes, rotation
from localpool.attributes import STANDARD_ATTRIBUTES
from localpool.mailbox import Mailbox
from localpool.orchestrator import AppClient, CustomAuth
from localpool.template import Template, load_handler
from localpool.tokens import ClientTokenSettings, RsaKey, TokenService
from localpool.triggers import TIMEOUT_SECONDS, Handler, TriggerRunner
from localpool.users import CognitoDirectory

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
LOCAL_SENDER = "no-reply@keyless.local"
LOCAL_REDIRECTS = "http://localhost:9229,http://127.0.0.1:9229"
# The key events/ samples are signed with, so a sample "right answer" is right. Local use only.
SAMPLE_SIGNING_KEY = "keyless-sample-signing-key-for-local-use-only-not-secret-0123456789"
# moto's DynamoDBBackend methods that read or write items; the ones this moto lacks are skipped.
DYNAMODB_ITEM_OPERATIONS = (
    "put_item", "update_item", "delete_item", "get_item", "query", "scan",
    "transact_write_items", "transact_get_items", "batch_get_item", "batch_write_item",
)  # fmt: skip
_DYNAMODB_LOCK = threading.RLock()  # re-entrant: moto's batch and transaction calls use its item calls


@dataclass
class Deployment:
    template: Template
    region: str
    pool_id: str
    client: AppClient
    table_name: str
    secret_id: str
    environment: dict[str, str]
    physical: dict[str, str] = field(default_factory=dict)
    # What the template says about the pool that moto does not act on, kept for the local pool's API.
    auto_verified_attributes: tuple[str, ...] = ()
    verify_before_update: tuple[str, ...] = ()  # UserAttributeUpdateSettings.AttributesRequireVerificationBeforeUpdate
    username_attributes: tuple[str, ...] = ()
    custom_attributes: frozenset[str] = frozenset()  # "custom:<name>" for the schema's own attributes
    token_settings: ClientTokenSettings = field(
        default_factory=ClientTokenSettings
    )  # the app client's token lifetimes, revocation, rotation

    def handlers(self) -> dict[str, Handler]:
        """Trigger slot -> the real handler of the function the template puts in it."""
        functions = self.template.functions()
        return {slot: load_handler(functions[logical]) for slot, logical in self.template.trigger_slots().items()}


def deploy(
    template: Template | None = None,
    parameters: Mapping[str, str] | None = None,
    region: str = REGION,
    signing_key: str | None = None,
) -> Deployment:
    """signing_key: the secret's value (SAMPLE_SIGNING_KEY for the sample events); random if None."""
    serialise_dynamodb_item_operations()
    moto_fixes.apply()
    parameters = {"SenderEmail": LOCAL_SENDER, **(parameters or {})}
    template = template or Template(parameters=parameters)
    template.set_parameters(parameters)
    # The template makes a deployment name the pages links open; locally, the local pool's own.
    template.parameters["AllowedRedirectOrigins"] = template.parameters.get("AllowedRedirectOrigins") or LOCAL_REDIRECTS
    session = boto3.session.Session(region_name=region)
    physical: dict[str, str] = {}

    table_name = _create_table(session, template, physical)
    secret_id = _create_secrets(session, template, physical, signing_key)
    _schedule_rotations(session, template, physical)
    session.client("ses").verify_email_identity(EmailAddress=template.parameters["SenderEmail"])
    _create_configuration_sets(session, template, physical)
    pool_id, client, token_settings = _create_pool(session, template, physical)
    environment = _function_environment(template, physical, region)
    ((_, pool_resource),) = template.resources_of_type("AWS::Cognito::UserPool").items()
    props = pool_resource["Properties"]
    return Deployment(
        template,
        region,
        pool_id,
        client,
        table_name,
        secret_id,
        environment,
        physical,
        auto_verified_attributes=tuple(props.get("AutoVerifiedAttributes") or ()),
        verify_before_update=tuple(
            (props.get("UserAttributeUpdateSettings") or {}).get("AttributesRequireVerificationBeforeUpdate") or ()
        ),
        username_attributes=tuple(props.get("UsernameAttributes") or ()),
        custom_attributes=frozenset(
            f"custom:{a['Name']}" for a in props.get("Schema", []) if a["Name"] not in STANDARD_ATTRIBUTES
        ),
        token_settings=token_settings,
    )


def serialise_dynamodb_item_operations() -> None:
    """DynamoDB applies each item operation, condition included, atomically; moto's in-process
    backend takes no lock, so the local pool's threads could interleave a condition check and a
    write (two sign-in emails where the product allows one). One lock around moto's item operations
    gives the guarantee the product relies on. Idempotent."""
    for name in DYNAMODB_ITEM_OPERATIONS:
        original = getattr(DynamoDBBackend, name, None)
        if original is None or getattr(original, "_keyless_locked", False):
            continue

        @functools.wraps(original)
        def locked(self, *args, _original=original, **kwargs):
            with _DYNAMODB_LOCK:
                return _original(self, *args, **kwargs)

        locked._keyless_locked = True  # type: ignore[attr-defined]
        setattr(DynamoDBBackend, name, locked)


def _create_table(session, template: Template, physical: dict) -> str:
    ((logical, resource),) = template.resources_of_type("AWS::DynamoDB::Table").items()
    props = resource["Properties"]
    name = f"keyless-local-{logical.lower()}"
    client = session.client("dynamodb")
    client.create_table(
        TableName=name,
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
    )
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        client.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    physical[logical] = name
    physical[f"{logical}.Arn"] = f"arn:aws:dynamodb:{session.region_name}:{ACCOUNT}:table/{name}"
    return name


SIGNING_KEY_SECRET = "SigningKeySecret"


def _create_secrets(session, template: Template, physical: dict, signing_key: str | None) -> str:
    """Every secret of the template (whose condition holds), with a random value as GenerateSecretString
    makes one: the random string alone, or put in SecretStringTemplate's JSON object under
    GenerateStringKey (the signing key: `signing_key` when given). Returns the signing key's ARN."""
    for logical, resource in template.resources_of_type("AWS::SecretsManager::Secret").items():
        if not template.exists(logical):
            continue
        generate = resource["Properties"].get("GenerateSecretString", {})
        length = int(generate.get("PasswordLength", 64))
        value = signing_key if logical == SIGNING_KEY_SECRET and signing_key else secrets.token_urlsafe(length)[:length]
        if "SecretStringTemplate" in generate:
            value = json.dumps({**json.loads(generate["SecretStringTemplate"]), generate["GenerateStringKey"]: value})
        created = session.client("secretsmanager").create_secret(Name=f"keyless-local-{logical.lower()}", SecretString=value)
        physical[logical] = created["ARN"]
    return physical[SIGNING_KEY_SECRET]


def _schedule_rotations(session, template: Template, physical: dict) -> None:
    """The template's rotation schedules: RotateSecret on their secret runs their function's handler."""
    backend = secretsmanager_backends[ACCOUNT][session.region_name]
    functions = template.functions()
    for logical, resource in template.resources_of_type("AWS::SecretsManager::RotationSchedule").items():
        if not template.exists(logical):
            continue
        props = resource["Properties"]
        spec = functions[props["RotationLambdaARN"]["Fn::GetAtt"][0]]
        function_arn = f"arn:aws:lambda:{session.region_name}:{ACCOUNT}:function:keyless-local-{spec.logical_id}"
        physical[f"{spec.logical_id}.Arn"] = function_arn
        days = int(template.resolve(props["RotationRules"]["AutomaticallyAfterDays"], physical))
        handler = rotation.lazy(functools.partial(load_handler, spec))
        rotating = rotation.Rotation(function_arn, spec.logical_id, handler, spec.timeout)
        rotation.schedule(backend, template.resolve(props["SecretId"], physical), rotating, days)


def _create_configuration_sets(session, template: Template, physical: dict) -> None:
    """The SES configuration sets the template creates (when its conditions hold), so the functions
    send with the set's name as deployed ones do."""
    for logical, resource in template.resources_of_type("AWS::SES::ConfigurationSet").items():
        if "Condition" in resource and not template.condition(resource["Condition"]):
            continue
        name = (resource.get("Properties") or {}).get("Name") or f"keyless-local-{logical.lower()}"
        session.client("sesv2").create_configuration_set(ConfigurationSetName=name)
        physical[logical] = name


def _create_pool(session, template: Template, physical: dict) -> tuple[str, AppClient, ClientTokenSettings]:
    """The pool and its app client, whose token settings are checked (as Cognito checks them) before it is made."""
    pools = template.resources_of_type("AWS::Cognito::UserPool")
    clients = template.resources_of_type("AWS::Cognito::UserPoolClient")
    ((pool_logical, pool),) = pools.items()
    ((client_logical, client_resource),) = clients.items()
    props = pool["Properties"]
    cognito = session.client("cognito-idp")
    # moto keeps these and answers them in DescribeUserPool; the local pool's API acts on them.
    settings = ("AutoVerifiedAttributes", "UserAttributeUpdateSettings", "AccountRecoverySetting", "UserPoolTier")
    optional = {k: template.resolve(props[k], physical, session.region_name, ACCOUNT) for k in settings if k in props}
    created = cognito.create_user_pool(
        PoolName="keyless-local",
        UsernameAttributes=props.get("UsernameAttributes", []),
        UsernameConfiguration=props.get("UsernameConfiguration", {"CaseSensitive": False}),
        Schema=props.get("Schema", []),
        Policies=props.get("Policies", {}),
        **optional,
    )["UserPool"]
    pool_id = created["Id"]
    physical[pool_logical] = pool_id
    physical[f"{pool_logical}.Arn"] = created["Arn"]

    client_props = template.resolve(client_resource["Properties"], physical, session.region_name, ACCOUNT)
    token_settings = ClientTokenSettings.from_client(client_props)
    attribute_lists = {k: client_props[k] for k in ("ReadAttributes", "WriteAttributes") if k in client_props}
    made = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=client_props.get("ClientName", "keyless"),
        GenerateSecret=False,
        ExplicitAuthFlows=client_props.get("ExplicitAuthFlows", []),
        PreventUserExistenceErrors=client_props.get("PreventUserExistenceErrors", "LEGACY"),
        EnableTokenRevocation=token_settings.revocation,
        **attribute_lists,
    )["UserPoolClient"]
    physical[client_logical] = made["ClientId"]
    for group_logical, group in template.resources_of_type("AWS::Cognito::UserPoolGroup").items():
        group_props = template.resolve(group["Properties"], physical, session.region_name, ACCOUNT)
        if group_props.get("GroupName"):  # the template's condition: a DefaultGroup was given
            cognito.create_group(
                UserPoolId=pool_id, GroupName=group_props["GroupName"], Description=group_props.get("Description", "")
            )
            physical[group_logical] = group_props["GroupName"]
    client = AppClient(
        client_id=made["ClientId"],
        prevent_user_existence_errors=client_props.get("PreventUserExistenceErrors") == "ENABLED",
        auth_session_validity_minutes=int(client_props.get("AuthSessionValidity", 3)),
        explicit_auth_flows=tuple(client_props.get("ExplicitAuthFlows", [])),
        write_attributes=tuple(client_props["WriteAttributes"]) if "WriteAttributes" in client_props else None,
    )
    return pool_id, client, token_settings


def _function_environment(template: Template, physical: dict, region: str) -> dict[str, str]:
    """One environment for all functions: they run in one process here, and the template gives a
    variable the same value wherever it sets it (checked, so a drift cannot hide)."""
    merged: dict[str, str] = {"AWS_DEFAULT_REGION": region, "AWS_REGION": region}
    for spec in template.functions().values():
        for name, raw in spec.environment.items():
            value = str(template.resolve(raw, physical, region, ACCOUNT))
            if merged.get(name, value) != value:
                raise ValueError(f"{name} differs between functions ({spec.logical_id})")
            merged[name] = value
    return merged


def apply_environment(environment: Mapping[str, str]) -> None:
    os.environ.update(environment)


def parse_parameters(pairs: Iterable[str]) -> dict[str, str]:
    """--parameter NAME=VALUE options (repeatable) as template parameters; a pair without = is ignored."""
    return dict(p.split("=", 1) for p in pairs if "=" in p)


def deploy_and_start(
    template: Template | None = None,
    parameters: Mapping[str, str] | None = None,
    signing_key: str | None = None,
    clock: Callable[[], float] | None = None,
    echo: Callable[[str], None] | None = None,
) -> tuple[Deployment, Mailbox, boto3.session.Session]:
    """deploy(), then what a Lambda container does before a handler runs: the functions' environment
    applied, and the functions' runtime built on a session whose emails the returned mailbox records.
    clock: the functions' and the mailbox's (time.time if None)."""
    deployment = deploy(template=template, parameters=parameters, signing_key=signing_key)
    apply_environment(deployment.environment)
    from keyless.aws import runtime  # after the environment, as in Lambda (Powertools reads it on import)

    mailbox = Mailbox(clock=clock or time.time, echo=echo)
    session = mailbox.watch(boto3.session.Session(region_name=deployment.region))
    runtime.reset(session=session, **({"clock": clock} if clock else {}))
    return deployment, mailbox, session


def local_pool(
    deployment: Deployment,
    tokens: TokenService | None = None,
    timeout_seconds: float = TIMEOUT_SECONDS,
    handlers: Mapping[str, Handler] | None = None,
    clock=None,
) -> tuple[CustomAuth, TriggerRunner, TokenService]:
    """The custom auth flow of the deployed pool, wired to the template's real handlers."""
    session = boto3.session.Session(region_name=deployment.region)
    directory = CognitoDirectory(session.client("cognito-idp"), deployment.pool_id)
    specs = deployment.template.functions()
    functions = {
        slot: (specs[logical].logical_id, specs[logical].memory_size)
        for slot, logical in deployment.template.trigger_slots().items()
    }
    runner = TriggerRunner(
        handlers if handlers is not None else deployment.handlers(), timeout_seconds=timeout_seconds, functions=functions
    )
    issuer = f"https://cognito-idp.{deployment.region}.amazonaws.com/{deployment.pool_id}"
    tokens = tokens or TokenService(issuer, RsaKey.load_or_create(None), RsaKey.load_or_create(None, "access"))
    tokens.configure_client(deployment.client.client_id, deployment.token_settings)
    kwargs = {"clock": clock} if clock else {}
    uuid_user_names = bool(deployment.username_attributes)
    auth = CustomAuth(deployment.pool_id, deployment.region, directory, runner, tokens, uuid_user_names=uuid_user_names, **kwargs)
    return auth, runner, tokens
