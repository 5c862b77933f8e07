"""The signing key rotates by itself (issue 12): Secrets Manager's four steps through RotateSigningKey,
as the template schedules them, and nothing a user holds or a guesser lacks changes with it.

moto cannot invoke a Python rotation function (that takes Docker), so localpool.rotation plays
Secrets Manager's side: RotateSecret on the signing key runs the template's handler for each step,
in order, with one token, and stops at a step that fails. RotateSecret here is what the schedule
does every SigningKeyRotationDays and `aws secretsmanager rotate-secret` does by hand.
"""

from __future__ import annotations

import base64
import json

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st

from keyless.aws import runtime
from keyless.aws.key_rotation import STEPS, RotationRefused, read_request
from keyless.signin import pseudonyms
from keyless_client import link_secret
from localpool import rotation
from localpool.deployment import REGION
from localpool.template import ParameterError, Template, load_handler
from localpool.triggers import LambdaContext
from testkit.clients import outcome, passwordless, sign_up
from testkit.mail import code_in, emails_to, last_code, last_link, newest_local_mail, ses_report, wrong

APP = "https://app.example.com/welcome"
ALICE, BOB, CAROL, DAVE = "alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com"
GHOST = "ghost@example.com"  # nobody's address
FUNCTIONS = Template().functions()


def secrets_manager():
    return boto3.client("secretsmanager", region_name=REGION)


def rotate(deployment) -> str:
    """RotateSecret on the signing key, as its schedule starts one; the new version's id."""
    return secrets_manager().rotate_secret(SecretId=deployment.secret_id)["VersionId"]


def versions(deployment) -> dict[str, tuple[list[str], str | None]]:
    """Each version of the signing key: its labels, and the key it holds (None: none yet)."""
    client = secrets_manager()
    found = {}
    for version, stages in client.describe_secret(SecretId=deployment.secret_id)["VersionIdsToStages"].items():
        try:
            value = client.get_secret_value(SecretId=deployment.secret_id, VersionId=version)["SecretString"]
        except ClientError:
            value = None
        found[version] = (sorted(stages), value)
    return found


def labelled(state: dict, stage: str) -> str:
    (version,) = [v for v, (stages, _value) in state.items() if stage in stages]
    return version


def link_key_id(link: str) -> str:
    """The key a link names (its payload's `k`)."""
    payload = link_secret(link).split(".")[0]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["k"]


def current_key_id() -> str:
    return pseudonyms.key_id(runtime.default_runtime().keys.current())


# --- what a rotation keeps ----------------------------------------------------------------------------


def test_links_and_codes_sent_before_a_rotation_work_after_it_and_a_second_one_retires_them(client, make_user, clock, deployment):
    for address in (ALICE, BOB, CAROL, DAVE):
        make_user(address)
    client.request_link(client.start(ALICE), APP)
    link = last_link(ALICE)
    code_round = client.request_code(client.start(BOB))
    code = last_code(BOB)
    client.request_link(client.start(CAROL), APP)
    carols = last_link(CAROL)
    old_key = current_key_id()

    rotate(deployment)
    assert rotation.ROTATIONS[deployment.secret_id].failure is None
    # A container that still holds the old key (up to SigningKeyCacheSeconds) signs with it...
    client.request_link(client.start(DAVE), APP)
    daves = last_link(DAVE)
    assert link_key_id(daves) == old_key
    clock.advance(61)
    runtime.reset(clock=clock)  # ... and one started after the rotation takes all of them
    assert current_key_id() != old_key
    assert "AuthenticationResult" in client.sign_in_with_link(link)
    assert "AuthenticationResult" in client.answer_code(code_round, code)
    assert "AuthenticationResult" in client.sign_in_with_link(daves)
    client.request_link(client.start(ALICE), APP)
    assert link_key_id(last_link(ALICE)) == current_key_id()  # new links: the new key
    # A second rotation takes the first key out of AWSPREVIOUS: Carol's link, still unexpired, is
    # refused (why SigningKeyRotationDays has a floor: a link outlives one rotation, not two).
    rotated = rotate(deployment)
    runtime.reset(clock=clock)
    assert outcome(lambda: client.sign_in_with_link(carols)) == "Incorrect username or password."
    # A key written by hand (the README's put-secret-value) becomes current, the rotated one previous.
    written = secrets_manager().put_secret_value(SecretId=deployment.secret_id, SecretString="h" * 64)["VersionId"]
    state = versions(deployment)
    assert (labelled(state, "AWSCURRENT"), labelled(state, "AWSPREVIOUS")) == (written, rotated)


def test_no_link_or_code_can_outlive_two_rotations_whatever_the_parameters():
    """Secrets Manager rotates on a random hour of the date N days after the last rotation, so two
    rotations may be N - 1 days apart. A link or code may be signed up to SigningKeyCacheSeconds
    after a rotation, with the older key, and then lives its lifetime: with every parameter at its
    largest, that still ends before the next rotation can come. Less is refused, as CloudFormation
    refuses it."""
    parameters = Template().body["Parameters"]
    lifetime = max(int(parameters[name]["MaxValue"]) for name in ("MagicLinkLifetimeSeconds", "CodeLifetimeSeconds"))
    signed_until = int(parameters["SigningKeyCacheSeconds"]["MaxValue"]) + lifetime
    days = int(parameters["SigningKeyRotationDays"]["MinValue"])
    assert (days - 1) * 86400 >= signed_until
    with pytest.raises(ParameterError):
        Template(parameters={"SigningKeyRotationDays": str(days - 1)})


def test_a_rotation_gives_no_guesser_fresh_guesses_and_no_bad_address_fresh_emails(client, make_user, clock, deployment):
    """Wrong-code budgets, mailbox budgets and suppressions are keyed under the pseudonym key, which
    does not rotate. Was: every rotation started them all afresh (the counts of a known user went
    with the key too, so that a reset told nobody who exists): a guesser got 10 more guesses per
    rotation, and while containers held different keys each counted apart; a bounced address got
    emails again."""
    make_user(ALICE)
    make_user(DAVE)

    def wrong_codes(address: str, how_many: int) -> None:
        while how_many > 0:
            clock.advance(301)
            challenge = client.request_code(client.start(address))
            for _ in range(min(3, how_many)):
                guess = wrong(last_code(address)) if address != GHOST else "000000"
                how_many -= 1
                try:
                    challenge = client.answer_code(challenge, guess)
                except ClientError:
                    break

    wrong_codes(GHOST, 12)
    wrong_codes(ALICE, 6)  # under the budget of 10, counted by a container holding the old key
    for alias in ("carol+1@example.com", "carol+2@example.com", "carol+3@example.com"):  # Carol's mailbox: 3 emails
        clock.advance(61)
        client.request_code(client.start(alias))
    load_handler(FUNCTIONS["EmailEventsFunction"])(ses_report("bounce_permanent", DAVE, clock()), LambdaContext("EmailEvents"))
    before = {GHOST: outcome(lambda: client.request_code(client.start(GHOST)))}

    rotate(deployment)
    runtime.reset(clock=clock)  # a container that holds the new key
    wrong_codes(ALICE, 6)  # 12 in all
    clock.advance(61)
    after = {
        address: outcome(lambda a=address: client.request_code(client.start(a)))
        for address in (GHOST, ALICE, "carol+4@example.com", DAVE)
    }
    locked = "CreateAuthChallenge failed with error Too many wrong codes. Ask for a sign-in link instead, or try again later."
    assert before[GHOST] == locked
    assert after[GHOST] == after[ALICE] == locked, after
    assert after["carol+4@example.com"].startswith("CreateAuthChallenge failed with error Please wait"), after
    assert after[DAVE] == "sent" and emails_to(DAVE) == [], "answered as usual, and no email to a bounced address"


# --- the four steps -----------------------------------------------------------------------------------


def test_each_step_run_again_changes_nothing_more(deployment, monkeypatch, faults, log_lines):
    """Lambda and Secrets Manager may run a step again: the second run leaves the secret as the
    first did, and the rotation ends as a single run does. No key reaches a log line."""
    rotating = rotation.ROTATIONS[deployment.secret_id]
    handler, repeated = rotating.handler, []

    def twice(event, context):
        handler(event, context)
        first = versions(deployment)
        handler(event, context)
        repeated.append((event["Step"], versions(deployment) == first))

    monkeypatch.setattr(rotating, "handler", twice)
    before = versions(deployment)
    new_version = rotate(deployment)
    after = versions(deployment)
    assert repeated == [(step, True) for step in STEPS]
    old = labelled(before, "AWSCURRENT")
    assert set(after) == {old, new_version}
    assert after[old] == (["AWSPREVIOUS"], before[old][1])
    stages, key = after[new_version]
    assert stages == ["AWSCURRENT"] and key is not None and len(key) == 64 and key != before[old][1]
    logs = log_lines.getvalue()
    assert '"step":"finishSecret"' in logs and key not in logs and before[old][1] not in logs

    # finishSecret moves two labels; when the second move fails (AWS fails the call), the step run
    # again finds the new version current and takes AWSPENDING off it.
    def retried(event, context):
        try:
            return handler(event, context)
        except Exception:
            return handler(event, context)

    monkeypatch.setattr(rotating, "handler", retried)
    fault = faults.fail(
        "secretsmanager", "UpdateSecretVersionStage", "InternalServiceError", when=lambda p: p["VersionStage"] == "AWSPENDING"
    )
    new_version = rotate(deployment)
    assert fault.picked == 1 and rotating.failure is None
    assert versions(deployment)[new_version][0] == ["AWSCURRENT"]


def test_a_failed_test_step_leaves_the_current_key_and_every_sign_in_as_they_were(
    client, make_user, clock, deployment, monkeypatch, log_lines
):
    """A pending version that holds no usable key (here: someone stored a short value under the
    token before createSecret ran, which keeps what it finds) fails testSecret; Secrets Manager
    then stops, AWSCURRENT stays where it was, and links keep working. Secrets Manager starts no
    other rotation while AWSPENDING stays on the failed version; taking it off (the README's
    runbook) lets the next one through."""
    make_user(ALICE)
    client.request_link(client.start(ALICE), APP)
    link = last_link(ALICE)
    rotating = rotation.ROTATIONS[deployment.secret_id]
    handler = rotating.handler

    def short_key_first(event, context):
        if event["Step"] == "createSecret":
            secrets_manager().put_secret_value(
                SecretId=deployment.secret_id,
                ClientRequestToken=event["ClientRequestToken"],
                SecretString="too-short-a-key",
                VersionStages=["AWSPENDING"],
            )
        return handler(event, context)

    monkeypatch.setattr(rotating, "handler", short_key_first)
    before = versions(deployment)
    failed = rotate(deployment)
    assert isinstance(rotating.failure, RotationRefused)
    assert str(rotating.failure) == "The pending key is shorter than 32 bytes"
    after = versions(deployment)
    assert {v: after[v] for v in before} == before and after[failed] == (["AWSPENDING"], "too-short-a-key")
    runtime.reset(clock=clock)
    assert "AuthenticationResult" in client.sign_in_with_link(link)
    logs = log_lines.getvalue()
    assert '"message":"key rotation refused"' in logs and '"step":"testSecret"' in logs
    assert "too-short-a-key" not in logs

    monkeypatch.setattr(rotating, "handler", handler)
    with pytest.raises(ClientError) as unfinished:
        rotate(deployment)
    assert unfinished.value.response["Error"]["Code"] == "InvalidRequestException"
    secrets_manager().update_secret_version_stage(
        SecretId=deployment.secret_id, VersionStage="AWSPENDING", RemoveFromVersionId=failed
    )
    rotated = rotate(deployment)
    assert rotating.failure is None and versions(deployment)[rotated][0] == ["AWSCURRENT"]


def test_the_function_refuses_anything_but_a_step_of_the_signing_key_s_rotation(deployment, monkeypatch):
    """A short, clear error that quotes no key, and the secrets as they were."""
    handler = load_handler(FUNCTIONS["RotateSigningKeyFunction"])
    client = secrets_manager()
    pseudonym_secret = deployment.environment["PSEUDONYM_KEY_SECRET_ID"]
    rotate(deployment)
    previous = labelled(versions(deployment), "AWSPREVIOUS")
    # Locally, RotateSecret without rotating at once records the rules and runs nothing (AWS would
    # run testSecret: docs/local-user-pool.md).
    rotated = versions(deployment)
    client.rotate_secret(SecretId=deployment.secret_id, RotationRules={"AutomaticallyAfterDays": 7}, RotateImmediately=False)
    assert client.describe_secret(SecretId=deployment.secret_id)["RotationRules"]["AutomaticallyAfterDays"] == 7
    assert versions(deployment) == rotated

    def lost(event, context):
        raise TimeoutError  # the function never ran: the new version stays labelled AWSPENDING, with no key

    monkeypatch.setattr(rotation.ROTATIONS[deployment.secret_id], "handler", lost)
    empty = rotate(deployment)
    step = {"Step": "createSecret", "SecretId": deployment.secret_id, "ClientRequestToken": "1" * 36}
    refusals = {
        "Not a rotation event: expected an object": [],
        "Not a rotation event: Step must be one of createSecret, setSecret, testSecret, finishSecret": {
            **step,
            "Step": "rotate",
        },
        "Not a rotation event: SecretId must name a secret": {**step, "SecretId": ""},
        "Not a rotation event: ClientRequestToken must be 32 to 64 characters": {**step, "ClientRequestToken": "x"},
        "This function rotates the signing key only": {**step, "SecretId": pseudonym_secret},
        "The version to rotate to does not exist": step,
        "The version to rotate to is not AWSPENDING": {**step, "ClientRequestToken": previous},
        "The pending version holds no key": {**step, "Step": "finishSecret", "ClientRequestToken": empty},
    }
    secrets = (deployment.secret_id, pseudonym_secret)
    before = {secret_id: client.describe_secret(SecretId=secret_id)["VersionIdsToStages"] for secret_id in secrets}
    for message, event in refusals.items():
        with pytest.raises(RotationRefused) as refused:
            handler(event, LambdaContext("RotateSigningKey"))
        assert str(refused.value) == message
    assert {s: client.describe_secret(SecretId=s)["VersionIdsToStages"] for s in before} == before
    client.cancel_rotate_secret(SecretId=deployment.secret_id)
    with pytest.raises(RotationRefused, match=r"^Rotation is not enabled for the signing key$"):
        handler({**step, "ClientRequestToken": empty}, LambdaContext("RotateSigningKey"))


fields = st.one_of(
    st.none(), st.integers(), st.text(max_size=80), st.sampled_from([*STEPS, "", "x" * 32, "x" * 64, "x" * 65, "x" * 3000])
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.dictionaries(st.sampled_from(["Step", "SecretId", "ClientRequestToken", "RotationToken", "x"]), fields),
        st.lists(fields, max_size=3),
        fields,
    )
)
def test_any_event_is_one_step_or_a_short_refusal(event):
    try:
        request = read_request(event)
    except RotationRefused as refused:
        assert str(refused).startswith("Not a rotation event: ") and len(str(refused)) < 120
    else:
        assert request.step in STEPS and request.secret_id and 32 <= len(request.token) <= 64


# --- end to end, over HTTP ----------------------------------------------------------------------------


def test_through_the_served_local_pool_a_code_sent_before_a_rotation_signs_in_after_it(server):
    sign_up(server, ALICE)
    app = passwordless(server)
    challenge = app.request_code(app.start(ALICE))
    code = code_in(newest_local_mail(server.pool, ALICE))
    secrets_manager().rotate_secret(SecretId=server.pool.deployment.secret_id)
    assert rotation.ROTATIONS[server.pool.deployment.secret_id].failure is None
    assert "AuthenticationResult" in app.answer_code(challenge, code)
