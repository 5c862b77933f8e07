"""Passkeys end to end (issue 15): registered through the management API's real handler (HTTP API
2.0 events carrying the claims of a real ID token of the served pool), used through the served
pool's Cognito API (boto3), with a software authenticator (testkit.passkeys). Each attack is tried
from outside and must fail."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import jwt
import pytest
from botocore.exceptions import ClientError

from keyless.aws import runtime
from keyless_admin.__main__ import main as admin
from localpool.template import Template
from testkit.clients import refresh, sign_up
from testkit.concurrency import run_at_once
from testkit.faults import Faults
from testkit.mail import emails_to, last_code, last_link
from testkit.passkeys import (
    CHALLENGE,
    COMPLETE,
    DELETE,
    FIDO2,
    LIST,
    ORIGIN,
    PARAMETERS,
    RP_ID,
    START,
    UPDATE,
    Passkeys,
    SoftwareAuthenticator,
    b64url,
    claims_of,
    from_b64url,
    pool_without_verified_updates,
)

ALICE, BOB, MALLORY = "alice@example.com", "bob@example.com", "mallory@example.com"


@pytest.fixture
def pk(serve_pool, served_clock):
    return Passkeys(serve_pool(parameters=PARAMETERS), served_clock)


def id_token_claims(result: dict) -> dict:
    return jwt.decode(result["AuthenticationResult"]["IdToken"], options={"verify_signature": False})


def refused(call) -> str:
    with pytest.raises(ClientError) as excinfo:
        call()
    return str(excinfo.value.response["Error"]["Code"])


# --- registering and signing in ---------------------------------------------------------------------


def test_a_registered_passkey_signs_in_with_no_email_and_the_token_says_passkey(pk):
    alice = pk.user(ALICE)
    authenticator, registered = pk.register(alice, "  Laptop  ")
    assert registered["credentialId"] == authenticator.id and registered["friendlyName"] == "Laptop"
    first, options = pk.options(ALICE)
    assert "FIDO2" in first["ChallengeParameters"]["methods"].split(",")
    assert options["relyingPartyId"] == RP_ID and options["userVerification"] == "required"
    assert options["credentials"] == [{"id": authenticator.id, "transports": ["internal"]}]
    result = pk.app.respond(first, json.dumps(authenticator.assert_(options["challenge"], ORIGIN, RP_ID)), FIDO2)
    claims = id_token_claims(result)
    assert claims["sign_in_method"] == "passkey" and claims["sub"] == alice["sub"]
    (listed,) = pk.listed(alice)
    assert listed["signCount"] == 1 and "lastSignIn" in listed


def test_routes_answer_json_never_cached_and_refuse_what_they_do_not_know(pk):
    alice = pk.user(ALICE)
    assert pk.api.call("POST /nothing-here", alice) == (404, {"message": "Not Found"})
    access_like = {**alice, "token_use": "access"}
    assert pk.api.call(LIST, access_like, query={"rpId": RP_ID}) == (401, {"message": "Use your ID token to access this API"})
    assert pk.api.call(LIST, None, query={"rpId": RP_ID}) == (401, {"message": "Use your ID token to access this API"})
    assert pk.api.call(LIST, alice) == (400, {"message": "Missing RP ID"})
    assert pk.api.call(LIST, alice, query={"rpId": "evil.example"}) == (400, {"message": "Unrecognized RP ID"})
    assert pk.api.call(UPDATE, alice, "{not json") == (400, {"message": "Invalid body"})
    assert pk.api.call(UPDATE, alice, "[1, 2]") == (400, {"message": "Invalid body"})


def test_a_wrong_passkey_answer_fails_the_sign_in_and_sends_no_email(pk):
    alice = pk.user(ALICE)
    authenticator, _ = pk.register(alice)
    sent = len(emails_to(ALICE))
    first, options = pk.options(ALICE)
    forged = authenticator.assert_(options["challenge"], ORIGIN, RP_ID)
    forged["signatureB64"] = b64url(b"\x30\x06\x02\x01\x01\x02\x01\x01")
    assert refused(lambda: pk.app.respond(first, json.dumps(forged), FIDO2)) == "NotAuthorizedException"
    assert len(emails_to(ALICE)) == sent


# --- attacks on the sign-in -----------------------------------------------------------------------


def test_a_cloned_authenticator_whose_counter_went_backwards_is_refused(pk):
    alice = pk.user(ALICE)
    authenticator, _ = pk.register(alice)
    clone = authenticator.clone()
    pk.sign_in(ALICE, authenticator)
    pk.sign_in(ALICE, authenticator)  # the original is at 2
    assert refused(lambda: pk.sign_in(ALICE, clone)) == "NotAuthorizedException"  # the clone says 1
    assert "AuthenticationResult" in pk.sign_in(ALICE, authenticator)


def test_two_uses_verified_against_the_same_counter_cannot_both_pass(pk):
    """A cloned authenticator used twice at once: both assertions carry counter 1 over a stored 0."""
    alice = pk.user(ALICE)
    authenticator, _ = pk.register(alice)
    clone = authenticator.clone()
    answers = []
    for device in (authenticator, clone):
        first, options = pk.options(ALICE)
        answers.append((first, authenticator_answer(device, options)))
    outcomes = run_at_once(lambda pair: pk.app.respond(pair[0], pair[1], FIDO2), answers)
    assert sorted("AuthenticationResult" in o if isinstance(o, dict) else False for o in outcomes) == [False, True]


def authenticator_answer(device: SoftwareAuthenticator, options: dict, **kwargs) -> str:
    return json.dumps(device.assert_(options["challenge"], ORIGIN, RP_ID, **kwargs))


def test_another_users_credential_is_refused_even_with_a_valid_signature(pk):
    alice, _bob = pk.user(ALICE), pk.user(BOB)
    alices, _ = pk.register(alice)
    # Bob's sign-in, answered with Alice's authenticator (it signs Bob's round's challenge) and no
    # user handle (a server must not trust one anyway).
    first, options = pk.options(BOB)
    answer = authenticator_answer(alices, options, with_user_handle=False)
    assert refused(lambda: pk.app.respond(first, answer, FIDO2)) == "NotAuthorizedException"
    # ... and with Alice's user handle.
    first, options = pk.options(BOB)
    assert refused(lambda: pk.app.respond(first, authenticator_answer(alices, options), FIDO2)) == "NotAuthorizedException"


def test_a_users_own_passkey_answered_with_another_user_handle_is_refused(pk, log_lines):
    alice = pk.user(ALICE)
    authenticator, _ = pk.register(alice)
    first, options = pk.options(ALICE)
    answer = authenticator.assert_(options["challenge"], ORIGIN, RP_ID)
    answer["userHandleB64"] = b64url(b"s|someone-else")
    assert refused(lambda: pk.app.respond(first, json.dumps(answer), FIDO2)) == "NotAuthorizedException"
    assert '"reason":"wrong_user_handle"' in log_lines.getvalue()
    assert "AuthenticationResult" in pk.sign_in(ALICE, authenticator)


@pytest.mark.parametrize(
    "tampering",
    [
        {"origin": "https://evil.example"},
        {"origin": "https://app.example.com.evil.example"},
        {"rp_id": "evil.example"},
        {"verified": False},
        {"present": False},
        {"kind": "webauthn.create"},
    ],
    ids=["wrong_origin", "lookalike_origin", "wrong_rp_id", "no_user_verification", "no_user_presence", "wrong_type"],
)
def test_an_assertion_made_elsewhere_or_without_the_user_is_refused(pk, tampering):
    alice = pk.user(ALICE)
    authenticator, _ = pk.register(alice)
    first, options = pk.options(ALICE)
    origin, rp_id = tampering.pop("origin", ORIGIN), tampering.pop("rp_id", RP_ID)
    answer = authenticator.assert_(options["challenge"], origin, rp_id, **tampering)
    assert refused(lambda: pk.app.respond(first, json.dumps(answer), FIDO2)) == "NotAuthorizedException"
    assert "AuthenticationResult" in pk.sign_in(ALICE, authenticator)  # the real one still works


def test_a_tampered_signature_or_client_data_is_refused(pk):
    alice = pk.user(ALICE)
    authenticator, _ = pk.register(alice)
    for tamper in ("signatureB64", "clientDataJSON_B64", "authenticatorDataB64"):
        first, options = pk.options(ALICE)
        answer = authenticator.assert_(options["challenge"], ORIGIN, RP_ID)
        raw = bytearray(from_b64url(answer[tamper]))
        raw[-1] ^= 0x01
        answer[tamper] = b64url(bytes(raw))
        assert refused(lambda f=first, a=answer: pk.app.respond(f, json.dumps(a), FIDO2)) == "NotAuthorizedException", tamper


def test_an_assertion_replayed_in_a_new_session_is_refused(pk):
    alice = pk.user(ALICE)
    authenticator, _ = pk.register(alice)
    first, options = pk.options(ALICE)
    answer = authenticator_answer(authenticator, options)
    assert "AuthenticationResult" in pk.app.respond(first, answer, FIDO2)
    again, _ = pk.options(ALICE)
    assert refused(lambda: pk.app.respond(again, answer, FIDO2)) == "NotAuthorizedException"


def test_a_changed_backup_eligibility_is_refused(pk):
    alice = pk.user(ALICE)
    authenticator, _ = pk.register(alice)
    authenticator.backup_eligible = True  # the same key now claims it may be synced
    assert refused(lambda: pk.sign_in(ALICE, authenticator)) == "NotAuthorizedException"


@pytest.mark.parametrize(
    "answer",
    [
        "not json",
        "[]",
        '{"credentialIdB64": 1}',
        json.dumps({"credentialIdB64": "!!", "authenticatorDataB64": "", "clientDataJSON_B64": "", "signatureB64": ""}),
        "x" * 3000,
    ],
    ids=["text", "list", "types", "not_base64url", "too_long"],
)
def test_a_malformed_answer_fails_the_sign_in_safely(pk, answer):
    pk.user(ALICE)
    first, _ = pk.options(ALICE)
    assert refused(lambda: pk.app.respond(first, answer, FIDO2)) == "NotAuthorizedException"


def test_after_its_removal_a_passkey_signs_in_no_more(pk):
    alice = pk.user(ALICE)
    authenticator, _ = pk.register(alice)
    assert pk.api.call(DELETE, alice, {"credentialId": authenticator.id}) == (204, None)
    assert refused(lambda: pk.sign_in(ALICE, authenticator)) == "NotAuthorizedException"


# --- whoever registered an address first keeps nothing ---------------------------------------------


@pytest.fixture
def claimable(serve_pool, served_clock):
    """Passkeys on a pool that lets users change their address without verifying it first: whoever
    registered with their own address can put someone else's on the account."""
    return Passkeys(serve_pool(template=pool_without_verified_updates(PARAMETERS), parameters=PARAMETERS), served_clock)


def passkey_items(pk: Passkeys, sub: str, credential_ids: list[str]) -> list[str]:
    """The table's items of the user's passkeys: each passkey, the user's passkey state, each owner item."""
    table = boto3.client("dynamodb", region_name="us-east-1")
    found = []
    for item in table.scan(TableName=pk.server.pool.deployment.table_name, ConsistentRead=True)["Items"]:
        pk_, sk = item["pk"]["S"], item["sk"]["S"]
        if (pk_ == f"USER#{sub}" and sk.startswith("PASSKEY")) or pk_ in {f"CREDENTIAL#{c}" for c in credential_ids}:
            found.append(f"{pk_.split('#')[0]}/{sk.split('#')[0]}")
    return sorted(found)


def test_the_first_proof_of_an_address_removes_the_passkeys_registered_before_it(claimable):
    """Mallory registers with her own address, adds passkeys, and puts Alice's address on the account;
    Alice's first proof of it takes the account back: Mallory's passkeys go with the password."""
    pk = claimable
    mallory = pk.user(MALLORY)
    laptop, _ = pk.register(mallory, "Laptop")
    phone, _ = pk.register(mallory, "Phone")
    assert pk.api.call(START, mallory, query={"rpId": RP_ID})[0] == 200  # a registration under way
    pk.put_address(mallory, ALICE)
    assert "AuthenticationResult" in pk.sign_in(mallory["cognito:username"], laptop)  # her way in, until Alice proves it
    assert passkey_items(pk, mallory["sub"], [laptop.id, phone.id]) == ["CREDENTIAL/OWNER"] * 2 + ["USER/PASSKEY"] * 2 + [
        "USER/PASSKEYS"
    ]

    alice = pk.signed_in(ALICE)  # the first proof of the address

    assert alice["sub"] == mallory["sub"] and alice["email_verified"] == "true"
    for device in (laptop, phone):
        assert refused(lambda d=device: pk.sign_in(mallory["cognito:username"], d)) == "NotAuthorizedException"
    assert pk.listed(alice) == []
    assert passkey_items(pk, mallory["sub"], [laptop.id, phone.id]) == [], "the passkeys, their owners, the count"
    # Alice's own passkeys work as anyone's: the next sign-ins claim nothing.
    alices, _ = pk.register(alice, "Alice's key")
    assert "AuthenticationResult" in pk.sign_in(ALICE, alices)
    assert [p["friendlyName"] for p in pk.listed(pk.signed_in(ALICE))] == ["Alice's key"]


def test_if_the_passkeys_cannot_be_removed_the_account_is_not_claimed_and_the_proof_works_again(claimable):
    pk = claimable
    mallory = pk.user(MALLORY)
    laptop, _ = pk.register(mallory)
    pk.put_address(mallory, ALICE)
    pk.clock.advance(61)
    pk.app.request_link(pk.app.start(ALICE), ORIGIN + "/")
    link = last_link(ALICE)
    faults = Faults()
    runtime.reset(session=faults.session, clock=pk.clock)  # a Verify container whose DynamoDB fails the removal
    faults.fail("dynamodb", "TransactWriteItems", "InternalServerError")
    assert refused(lambda: pk.app.sign_in_with_link(link)) == "UserLambdaValidationException"
    claims = id_token_claims(pk.app.sign_in_with_link(link))  # the link was given back
    assert claims["sub"] == mallory["sub"] and claims["email_verified"] is True
    assert refused(lambda: pk.sign_in(mallory["cognito:username"], laptop)) == "NotAuthorizedException"


def test_a_passkey_registered_while_the_claim_removes_them_goes_too(claimable):
    """A registration whose token was checked before the claim, and whose write lands between the
    claim's read of the passkeys and its removal of them: the removal, conditional on the count it
    read, is refused, and done again from a new read."""
    pk = claimable
    mallory = pk.user(MALLORY)
    first, _ = pk.register(mallory, "First")
    _status, options = pk.api.call(START, mallory, query={"rpId": RP_ID})
    raced = SoftwareAuthenticator()
    body = {**raced.create(options, ORIGIN), "friendlyName": "Raced"}
    pk.put_address(mallory, ALICE)
    pk.clock.advance(61)
    sent = pk.app.request_code(pk.app.start(ALICE))
    faults = Faults()
    runtime.reset(session=faults.session, clock=pk.clock)  # the management API's and the triggers' AWS
    adds = lambda params: any("Put" in item for item in params["TransactItems"])  # noqa: E731
    removes = lambda params: all("Delete" in item for item in params["TransactItems"])  # noqa: E731
    adding = faults.pause("dynamodb", "TransactWriteItems", when=adds)
    removing = faults.pause("dynamodb", "TransactWriteItems", when=removes)
    with ThreadPoolExecutor(2) as threads:
        registered = threads.submit(pk.api.call, COMPLETE, mallory, body)
        adding.wait_until_reached()  # her token was checked: the claim has not begun
        claimed = threads.submit(pk.app.answer_code, sent, last_code(ALICE))
        removing.wait_until_reached()  # the claim has read one passkey
        adding.release()
        assert registered.result()[0] == 200
        removing.release()
        alice = claims_of(claimed.result()["AuthenticationResult"]["IdToken"])
    assert faults.count("dynamodb", "TransactWriteItems", when=removes) == 2, "refused once, then done again"
    assert pk.listed(alice) == []
    assert passkey_items(pk, mallory["sub"], [first.id, raced.id]) == []
    assert refused(lambda: pk.sign_in(mallory["cognito:username"], raced)) == "NotAuthorizedException"


def test_a_registrants_token_from_before_the_claim_adds_no_passkey_after_it(claimable):
    """Her ID token outlives the claim (Cognito's sign-out ends refresh and access tokens, and an ID
    token is checked by its signature only): the management API refuses it, as after an operator's sign-out."""
    pk = claimable
    mallory = pk.user(MALLORY)  # a fresh sign-in: registering needs one at most 300 s old
    _status, options = pk.api.call(START, mallory, query={"rpId": RP_ID})
    pk.put_address(mallory, ALICE)
    alice = pk.signed_in(ALICE)
    refused_answer = (403, {"message": "Sign in again to do this"})
    late = {**SoftwareAuthenticator().create(options, ORIGIN), "friendlyName": "Still mine"}
    assert pk.api.call(COMPLETE, mallory, late) == refused_answer
    assert pk.api.call(START, mallory, query={"rpId": RP_ID}) == refused_answer
    assert pk.listed(alice) == []
    assert pk.register(alice, "Alice's key")[1]["friendlyName"] == "Alice's key", "the owner's own token works"


# --- the operator's command -----------------------------------------------------------------------------


def test_an_operator_removes_a_lost_devices_passkeys_and_status_shows_them_masked(pk, pool_state_dir):
    from tests.test_admin import local

    alice = pk.user(ALICE)
    laptop, _ = pk.register(alice, "Laptop")
    pk.clock.advance(1)
    phone, _ = pk.register(alice, "Phone")
    pk.clock.advance(5)
    on_the_device = claims_of(pk.sign_in(ALICE, phone)["AuthenticationResult"]["IdToken"])  # a fresh sign-in
    pk.clock.advance(1)
    shown = local(pk.server, pool_state_dir, "status", ALICE)
    assert shown.status == 0 and shown.result is not None and shown.result["passkeyCount"] == 2
    laptops, phones = shown.result["passkeys"]  # oldest first
    assert (
        laptops["name"] == "Laptop"
        and phones["name"] == "Phone"
        and laptops["lastUsed"] is None
        and phones["lastUsed"] > phones["created"]
    )
    assert [p["credentialId"] for p in (laptops, phones)] == [laptop.id[:4] + "***", phone.id[:4] + "***"]
    assert laptop.id not in json.dumps(shown.result) and phone.id not in json.dumps(shown.result), "ids masked"

    removed = local(pk.server, pool_state_dir, "remove-passkeys", ALICE)

    assert removed.status == 0 and (removed.audit["command"], removed.audit["result"]) == ("remove-passkeys", "ok")
    assert removed.audit["user"] == "a***@e***.com" and removed.audit["sub"] == alice["sub"]
    assert removed.result == {"pool": pk.server.pool.pool_id, "email": "a***@e***.com", "sub": alice["sub"], "passkeysRemoved": 2}
    for device in (laptop, phone):
        assert refused(lambda d=device: pk.sign_in(ALICE, d)) == "NotAuthorizedException"
    # The token the device holds registers no new passkey.
    assert pk.api.call(START, on_the_device, query={"rpId": RP_ID}) == (403, {"message": "Sign in again to do this"})
    assert passkey_items(pk, alice["sub"], [laptop.id, phone.id]) == []
    after = local(pk.server, pool_state_dir, "status", ALICE).result
    assert after is not None and (after["passkeyCount"], after["passkeys"]) == (0, [])
    assert local(pk.server, pool_state_dir, "remove-passkeys", ALICE).result["passkeysRemoved"] == 0  # a retry
    new, _ = pk.register(pk.signed_in(ALICE), "New phone")  # the user signs in by email and adds another
    assert "AuthenticationResult" in pk.sign_in(ALICE, new)


# --- unknown users ---------------------------------------------------------------------------------


def test_unknown_users_and_users_without_passkeys_get_options_shaped_like_real_ones(pk):
    alice, _ = pk.user(ALICE), pk.user(BOB)
    authenticator, _ = pk.register(alice)
    shapes, ids = {}, {}
    for who in (ALICE, BOB, "nobody@example.com", "NOBODY@example.com"):
        first, options = pk.options(who)
        assert set(first["ChallengeParameters"]) == {"USERNAME", "step", "methods", "fido2options"}
        shapes[who] = sorted(options), [sorted(c) for c in options["credentials"]], len(from_b64url(options["challenge"]))
        ids[who] = [c["id"] for c in options["credentials"]]
    assert len(set(map(repr, shapes.values()))) == 1
    assert ids[ALICE] == [authenticator.id]
    assert (
        ids["nobody@example.com"]
        == ids["NOBODY@example.com"]
        == [c["id"] for c in pk.options("nobody@example.com")[1]["credentials"]]
    )
    assert ids[BOB] == [c["id"] for c in pk.options(BOB)[1]["credentials"]] != ids["nobody@example.com"]


@pytest.mark.parametrize("case_sensitive", [True, False], ids=["case_sensitive_pool", "case_insensitive_pool"])
def test_case_variants_of_a_name_get_decoys_alike_whether_its_user_exists_or_not(serve_pool, served_clock, case_sensitive):
    """A known user without passkeys must look exactly like an unknown name under every spelling: on a
    case-sensitive pool "Alice@" is another (unknown) name than "alice@", so the three spellings of a
    known name get three decoys, as those of an unknown name do; elsewhere each name gets one."""
    template = Template(parameters=PARAMETERS)
    template.resources["UserPool"]["Properties"]["UsernameConfiguration"]["CaseSensitive"] = case_sensitive
    pk = Passkeys(serve_pool(template=template, parameters=PARAMETERS), served_clock)
    sign_up(pk.server, ALICE)  # known, no passkey

    def decoys(name: str) -> list[str]:
        spellings = (name, name[0].upper() + name[1:], name.upper())
        return [pk.options(spelling)[1]["credentials"][0]["id"] for spelling in spellings]

    def which_are_equal(ids: list[str]) -> list[bool]:
        return [a == b for a in ids for b in ids]

    known, unknown = decoys(ALICE), decoys("zed@example.com")
    assert which_are_equal(known) == which_are_equal(unknown)
    assert len(set(known)) == (3 if case_sensitive else 1)
    assert decoys(ALICE) == known and not set(known) & set(unknown)  # stable, and each name's own


def test_decoys_vary_in_length_as_real_ids_do_and_transports_are_sorted_as_browsers_give_them(pk):
    """A decoy is not told by its shape: its length is one real authenticators' ids have, keyed per
    name (not always 32 bytes), and transports are listed sorted, as getTransports() gives them, the
    real passkeys' as the decoys'."""
    lengths = {len(from_b64url(pk.options(f"user{n}@example.com")[1]["credentials"][0]["id"])) for n in range(24)}
    assert lengths <= {16, 32, 48, 64} and len(lengths) > 1  # all 24 of one length: a chance of 4^-23
    assert pk.options("nobody@example.com")[1]["credentials"][0]["transports"] == ["hybrid", "internal"]
    alice = pk.user(ALICE)
    authenticator = SoftwareAuthenticator()
    status, options = pk.api.call(START, alice, query={"rpId": RP_ID})
    assert status == 200
    body = {**authenticator.create(options, ORIGIN), "transports": ["usb", "nfc", "hybrid"], "friendlyName": "Key"}
    assert pk.api.call(COMPLETE, alice, body)[0] == 200
    assert pk.options(ALICE)[1]["credentials"] == [{"id": authenticator.id, "transports": ["hybrid", "nfc", "usb"]}]


@contextlib.contextmanager
def aws_calls_of_the_functions():
    """The AWS operations the functions make (their runtime's clients), in order, while in the block."""
    seen: list[str] = []
    clients = [getattr(runtime.default_runtime(), name) for name in ("dynamodb", "secretsmanager", "cognito")]

    def record(model, **_):
        seen.append(f"{model.service_model.service_name}.{model.name}")

    for client in clients:
        client.meta.events.register("before-call", record, unique_id="test-aws-calls")
    try:
        yield seen
    finally:
        for client in clients:
            client.meta.events.unregister("before-call", unique_id="test-aws-calls")


@pytest.mark.parametrize(
    "answer",
    [
        {"userHandleB64": b64url(b"x")},  # a user handle that is nobody's
        {"with_user_handle": False},
        {"challenge": b64url(b"\x00" * 32)},  # a challenge this round did not give
    ],
    ids=["wrong_user_handle", "no_user_handle", "wrong_challenge"],
)
def test_a_refused_answer_costs_the_same_aws_calls_for_known_and_unknown_users(pk, answer):
    """No answer tells a known user from an unknown one by the work it costs: the same AWS calls
    (the passkey's read comes before the user handle is compared)."""
    pk.user(ALICE)
    with_passkey = pk.user(BOB)
    pk.register(with_passkey)
    handle = answer.get("userHandleB64")
    options_changed = {k: v for k, v in answer.items() if k == "with_user_handle"}

    def calls_refusing(name: str) -> list[str]:
        first, options = pk.options(name)
        assertion = SoftwareAuthenticator(user_handle=b"s|someone").assert_(
            answer.get("challenge", options["challenge"]), ORIGIN, RP_ID, **options_changed
        )
        if handle:
            assertion["userHandleB64"] = handle
        with aws_calls_of_the_functions() as calls:
            assert refused(lambda: pk.app.respond(first, json.dumps(assertion), FIDO2)) == "NotAuthorizedException"
        return calls

    calls_refusing("warm@example.com")  # a cold container's first reads (keys) are nobody's tell
    seen = {name: calls_refusing(name) for name in (ALICE, BOB, "nobody@example.com")}
    assert seen[ALICE] == seen[BOB] == seen["nobody@example.com"], seen


def test_an_unknown_user_is_refused_whatever_the_answer(pk):
    intruder = SoftwareAuthenticator()
    first, options = pk.options("nobody@example.com")
    answer = intruder.assert_(options["challenge"], ORIGIN, RP_ID)
    assert refused(lambda: pk.app.respond(first, json.dumps(answer), FIDO2)) == "NotAuthorizedException"


# --- usernameless sign-in --------------------------------------------------------------------------


def usernameless(pk: Passkeys, authenticator: SoftwareAuthenticator, challenge: str | None = None) -> tuple[dict, str]:
    """What the npm client does without a user name: the API's challenge, the authenticator's
    assertion, the user name read from its user handle, round 1 as that user, answered with it."""
    if challenge is None:
        status, body = pk.api.call(CHALLENGE)
        assert status == 200, body
        challenge = body["challenge"]
    answer = authenticator.assert_(challenge, ORIGIN, RP_ID)
    username = from_b64url(answer["userHandleB64"]).decode().removeprefix("u|")
    return pk.app.start(username), json.dumps(answer)


def test_a_discoverable_passkey_signs_in_without_a_user_name(pk):
    alice = pk.user(ALICE)
    authenticator, _ = pk.register(alice)
    status, body = pk.api.call(CHALLENGE)
    assert status == 200 and set(body) == {"challenge", "timeout", "userVerification", "relyingPartyId"}
    assert body["relyingPartyId"] == RP_ID and body["timeout"] == 120_000
    first, answer = usernameless(pk, authenticator, body["challenge"])
    assert id_token_claims(pk.app.respond(first, answer, FIDO2))["sign_in_method"] == "passkey"


def test_a_usernameless_challenge_works_once(pk):
    alice = pk.user(ALICE)
    authenticator, _ = pk.register(alice)
    _status, body = pk.api.call(CHALLENGE)
    first, answer = usernameless(pk, authenticator, body["challenge"])
    assert "AuthenticationResult" in pk.app.respond(first, answer, FIDO2)
    again, answer = usernameless(pk, authenticator, body["challenge"])
    assert refused(lambda: pk.app.respond(again, answer, FIDO2)) == "NotAuthorizedException"


def test_an_expired_usernameless_challenge_is_refused(pk):
    alice = pk.user(ALICE)
    authenticator, _ = pk.register(alice)
    _status, body = pk.api.call(CHALLENGE)
    pk.clock.advance(121)
    first, answer = usernameless(pk, authenticator, body["challenge"])
    assert refused(lambda: pk.app.respond(first, answer, FIDO2)) == "NotAuthorizedException"


def test_a_forged_usernameless_challenge_is_refused(pk):
    alice = pk.user(ALICE)
    authenticator, _ = pk.register(alice)
    _status, body = pk.api.call(CHALLENGE)
    raw = bytearray(from_b64url(body["challenge"]))
    raw[20] ^= 0xFF  # a later expiry, under a MAC that no longer matches
    for forged in (b64url(bytes(raw)), b64url(b"\x00" * len(raw))):
        first, answer = usernameless(pk, authenticator, forged)
        assert refused(lambda f=first, a=answer: pk.app.respond(f, a, FIDO2)) == "NotAuthorizedException"


def test_the_usernameless_challenge_writes_nothing(pk):
    table = boto3.client("dynamodb", region_name="us-east-1")
    name = pk.server.pool.deployment.table_name
    before = table.scan(TableName=name)["Count"]
    for _ in range(5):
        assert pk.api.call(CHALLENGE)[0] == 200
    assert table.scan(TableName=name)["Count"] == before


# --- the management API ------------------------------------------------------------------------------


def test_registering_needs_a_fresh_sign_in(pk):
    alice = pk.user(ALICE)
    pk.clock.advance(301)  # FreshSignInSeconds passed since the sign-in: the token itself is still valid
    assert pk.api.call(START, alice, query={"rpId": RP_ID}) == (403, {"message": "Sign in again to do this"})
    assert pk.listed(alice) == []  # listing does not need a fresh sign-in
    fresh = pk.signed_in(ALICE)
    status, options = pk.api.call(START, fresh, query={"rpId": RP_ID})
    assert status == 200
    pk.clock.advance(301)
    body = {**SoftwareAuthenticator().create(options, ORIGIN), "friendlyName": "Late"}
    assert pk.api.call(COMPLETE, alice, body) == (403, {"message": "Sign in again to do this"})
    assert pk.listed(fresh) == []


def test_a_token_from_before_an_operators_sign_out_is_refused(pk, pool_state_dir):
    alice = pk.user(ALICE)
    authenticator, _ = pk.register(alice)
    pk.clock.advance(1)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert admin(["--local", "--endpoint", pk.server.url, "--state-dir", str(pool_state_dir), "sign-out", ALICE]) == 0
    refused_answer = (403, {"message": "Sign in again to do this"})
    assert pk.api.call(START, alice, query={"rpId": RP_ID}) == refused_answer
    assert pk.api.call(LIST, alice, query={"rpId": RP_ID}) == refused_answer
    assert pk.api.call(UPDATE, alice, {"credentialId": authenticator.id, "friendlyName": "Stolen"}) == refused_answer
    assert pk.api.call(DELETE, alice, {"credentialId": authenticator.id}) == refused_answer
    pk.clock.advance(1)
    assert [p["friendlyName"] for p in pk.listed(pk.signed_in(ALICE))] == ["My key"]


# --- tokens from before a revocation (an operator's sign-out, an account's claim) -----------------------

SIGN_IN_AGAIN = (403, {"message": "Sign in again to do this"})


def tokens_of(result: dict) -> tuple[dict[str, str], str]:
    """The ID token's claims as API Gateway hands them over, and the refresh token."""
    return claims_of(result["AuthenticationResult"]["IdToken"]), result["AuthenticationResult"]["RefreshToken"]


def test_a_token_of_the_sign_out_s_own_second_is_refused_and_a_sign_in_after_it_is_not(pk, pool_state_dir):
    """auth_time tells only the second. Sign-ins just before and just after an operator's sign-out,
    all in one second: the token from before is refused, the one from after works, refreshed too
    (its tokens say which revocation they followed: after_revocation)."""
    alice = pk.user(ALICE)
    authenticator, _ = pk.register(alice)
    pk.clock.advance(1)
    before, _ = tokens_of(pk.sign_in(ALICE, authenticator))
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert admin(["--local", "--endpoint", pk.server.url, "--state-dir", str(pool_state_dir), "sign-out", ALICE]) == 0
    after, refresh_token = tokens_of(pk.sign_in(ALICE, authenticator))
    assert before["auth_time"] == after["auth_time"] == str(int(pk.clock()))
    assert pk.api.call(LIST, before, query={"rpId": RP_ID}) == SIGN_IN_AGAIN
    assert pk.api.call(START, before, query={"rpId": RP_ID}) == SIGN_IN_AGAIN
    assert [p["friendlyName"] for p in pk.listed(after)] == ["My key"]
    assert pk.api.call(START, after, query={"rpId": RP_ID})[0] == 200
    pk.clock.advance(3600)
    refreshed = claims_of(refresh(pk.server, refresh_token)["AuthenticationResult"]["IdToken"])
    assert refreshed["auth_time"] == after["auth_time"] and len(pk.listed(refreshed)) == 1


def test_a_token_from_before_the_claim_of_an_address_adds_no_passkey_after_it(claimable):
    """Mallory's token was issued while her own address was verified (email_verified "true"); then she
    puts Alice's address on her account. Alice's first proof of it takes the account back and records
    a revocation: Mallory's token adds no passkey and lists none, while the token of Alice's sign-in,
    of the claim's own second, does."""
    pk = claimable
    mallory = pk.user(MALLORY)
    pk.put_address(mallory, ALICE)
    pk.clock.advance(61)
    alice, _ = tokens_of(pk.app.answer_code(pk.app.request_code(pk.app.start(ALICE)), last_code(ALICE)))
    assert (alice["sub"], alice["email_verified"]) == (mallory["sub"], "true")
    assert pk.api.call(START, mallory, query={"rpId": RP_ID}) == SIGN_IN_AGAIN
    assert pk.api.call(LIST, mallory, query={"rpId": RP_ID}) == SIGN_IN_AGAIN
    authenticator, _ = pk.register(alice, "Alice's key")
    assert [p["friendlyName"] for p in pk.listed(alice)] == ["Alice's key"]
    pk.clock.advance(1)
    assert tokens_of(pk.sign_in(ALICE, authenticator))[0]["sub"] == alice["sub"]


def test_a_claim_whose_revocation_cannot_be_recorded_fails_and_gives_the_proof_back(claimable):
    """The revocation is written before anything else the claim does: if it fails, the sign-in fails
    with nothing changed, and the same link works again."""
    pk = claimable
    mallory = pk.user(MALLORY)
    pk.put_address(mallory, ALICE)
    faults = Faults()
    runtime.reset(session=faults.session, clock=pk.clock)  # a container whose DynamoDB fails that write
    revocation = faults.fail(
        "dynamodb", "UpdateItem", "InternalServerError", when=lambda params: "revokedAt" in params["UpdateExpression"]
    )
    pk.clock.advance(61)
    pk.app.request_link(pk.app.start(ALICE), ORIGIN + "/")
    link = last_link(ALICE)
    assert refused(lambda: pk.app.sign_in_with_link(link)) == "UserLambdaValidationException"
    assert revocation.picked == 1
    assert pk.api.call(LIST, mallory, query={"rpId": RP_ID})[0] == 200  # nothing was claimed
    alice, _ = tokens_of(pk.app.sign_in_with_link(link))
    assert (alice["sub"], alice["email_verified"]) == (mallory["sub"], "true")
    assert pk.api.call(LIST, mallory, query={"rpId": RP_ID}) == SIGN_IN_AGAIN


def test_nobody_lists_renames_or_deletes_another_users_passkeys(pk):
    alice, bob = pk.user(ALICE), pk.user(BOB)
    alices, _ = pk.register(alice, "Alice's key")
    assert pk.listed(bob) == []
    assert pk.api.call(UPDATE, bob, {"credentialId": alices.id, "friendlyName": "Mine now"}) == (
        400,
        {"message": "Unknown credential"},
    )
    assert pk.api.call(DELETE, bob, {"credentialId": alices.id}) == (204, None)  # as for any unknown id
    assert [p["friendlyName"] for p in pk.listed(alice)] == ["Alice's key"]
    assert "AuthenticationResult" in pk.sign_in(ALICE, alices)
    # The body cannot name another owner: the owner is the token's sub.
    assert pk.api.call(UPDATE, bob, {"credentialId": alices.id, "friendlyName": "x", "sub": alice["sub"]})[0] == 400


def test_the_owner_renames_and_deletes_their_own_passkeys(pk):
    alice = pk.user(ALICE)
    first, _ = pk.register(alice, "One")
    second, _ = pk.register(pk.signed_in(ALICE), "Two")
    assert pk.api.call(UPDATE, alice, {"credentialId": first.id, "friendlyName": "  Phone "}) == (200, {})
    assert pk.api.call(DELETE, alice, {"credentialId": second.id}) == (204, None)
    assert [(p["credentialId"], p["friendlyName"]) for p in pk.listed(alice)] == [(first.id, "Phone")]
    assert pk.api.call(DELETE, alice, {"credentialId": second.id}) == (204, None)  # a retried delete


def test_a_credential_id_someone_else_registered_is_refused(pk):
    alice, bob = pk.user(ALICE), pk.user(BOB)
    alices, _ = pk.register(alice)
    stolen = SoftwareAuthenticator(credential_id=alices.credential_id)  # Bob's key under Alice's id
    _status, options = pk.api.call(START, bob, query={"rpId": RP_ID})
    body = {**stolen.create(options, ORIGIN), "friendlyName": "Copy"}
    assert pk.api.call(COMPLETE, bob, body) == (400, {"message": "Credential already registered"})
    assert pk.listed(bob) == []
    assert "AuthenticationResult" in pk.sign_in(ALICE, alices)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"origin": "https://evil.example"}, "Invalid credential"),
        ({"rp_id": "evil.example"}, "Invalid credential"),
        ({"verified": False}, "Invalid credential"),
        ({"challenge": b64url(b"\x01" * 32)}, "Invalid credential"),
        ({"kind": "webauthn.get"}, "Invalid credential"),
    ],
    ids=["wrong_origin", "wrong_rp_id", "no_user_verification", "other_challenge", "wrong_type"],
)
def test_a_registration_made_elsewhere_or_without_the_user_is_refused(pk, change, message):
    alice = pk.user(ALICE)
    _status, options = pk.api.call(START, alice, query={"rpId": RP_ID})
    origin = change.pop("origin", ORIGIN)
    body = {**SoftwareAuthenticator().create(options, origin, **change), "friendlyName": "Key"}
    assert pk.api.call(COMPLETE, alice, body) == (400, {"message": message})
    assert pk.listed(alice) == []


def test_a_registration_challenge_works_once_and_expires(pk):
    alice = pk.user(ALICE)
    _status, options = pk.api.call(START, alice, query={"rpId": RP_ID})
    body = {**SoftwareAuthenticator().create(options, ORIGIN), "friendlyName": "Key"}
    assert pk.api.call(COMPLETE, alice, body)[0] == 200
    replay = {**SoftwareAuthenticator().create(options, ORIGIN), "friendlyName": "Again"}
    assert pk.api.call(COMPLETE, alice, replay) == (400, {"message": "Challenge not found"})
    _status, options = pk.api.call(START, alice, query={"rpId": RP_ID})
    _status, newer = pk.api.call(START, alice, query={"rpId": RP_ID})  # replaces the one before
    stale = {**SoftwareAuthenticator().create(options, ORIGIN), "friendlyName": "Old"}
    assert pk.api.call(COMPLETE, alice, stale) == (400, {"message": "Invalid credential"})
    pk.clock.advance(240)
    fresh = pk.signed_in(ALICE)  # a minute later: the registration's 300 s are over
    late = {**SoftwareAuthenticator().create(newer, ORIGIN), "friendlyName": "Late"}
    assert pk.api.call(COMPLETE, fresh, late) == (400, {"message": "Challenge not found"})
    assert [p["friendlyName"] for p in pk.listed(fresh)] == ["Key"]


def test_the_registration_options_are_the_npm_clients_shape(pk):
    alice = pk.user(ALICE)
    first, _ = pk.register(alice)
    status, options = pk.api.call(START, alice, query={"rpId": RP_ID})
    assert status == 200
    assert options["rp"] == {"name": "Keyless", "id": RP_ID} and options["attestation"] == "none"
    assert options["user"] == {"id": alice["sub"], "name": ALICE, "displayName": ALICE}  # the user name is the sub here
    assert [p["alg"] for p in options["pubKeyCredParams"]] == [-7, -8, -257]
    assert options["authenticatorSelection"] == {
        "residentKey": "preferred",
        "requireResidentKey": False,
        "userVerification": "required",
    }
    assert options["excludeCredentials"] == [{"id": first.id, "type": "public-key", "transports": ["internal"]}]
    assert options["timeout"] == 300_000 and len(from_b64url(options["challenge"])) == 32


def test_an_unverified_address_cannot_add_a_passkey(pk):
    alice = pk.user(ALICE)
    unverified = {**alice, "email_verified": "false"}
    _status, options = pk.api.call(START, unverified, query={"rpId": RP_ID})
    body = {**SoftwareAuthenticator().create(options, ORIGIN), "friendlyName": "Key"}
    assert pk.api.call(COMPLETE, unverified, body) == (400, {"message": "Verify your email address first"})
    assert pk.listed(alice) == []


def test_at_most_ten_passkeys_per_user(pk):
    alice = pk.user(ALICE)
    for n in range(10):
        pk.register(alice, f"Key {n}")
    assert pk.api.call(START, alice, query={"rpId": RP_ID}) == (
        400,
        {"message": "At most 10 passkeys per user: remove one first"},
    )
    assert len(pk.listed(alice)) == 10


@pytest.mark.parametrize(
    "route, body, message",
    [
        (UPDATE, {"credentialId": 5, "friendlyName": "x"}, "credentialId must be a string"),
        (UPDATE, {"credentialId": "AAAA", "friendlyName": ""}, "friendlyName must be 1 to 64 characters"),
        (UPDATE, {"credentialId": "AAAA", "friendlyName": "   "}, "friendlyName must be 1 to 64 characters"),
        (UPDATE, {"credentialId": "AAAA", "friendlyName": "x" * 65}, "friendlyName must be 1 to 64 characters"),
        (UPDATE, {"credentialId": "AAAA", "friendlyName": "bad\nname"}, "friendlyName must be printable text"),
        (UPDATE, {"credentialId": "AAAA", "friendlyName": "rtl\u202ename"}, "friendlyName must be printable text"),
        (UPDATE, {"credentialId": "!!", "friendlyName": "x"}, "Unknown credential"),
        (DELETE, {}, "credentialId must be a string"),
        (DELETE, "null", "Invalid body"),
        (COMPLETE, {"friendlyName": "x"}, "attestationObjectB64 must be a string"),
        (
            COMPLETE,
            {"friendlyName": "x", "attestationObjectB64": "AAAA", "clientDataJSON_B64": "AAAA", "transports": "usb"},
            "transports must be a list",
        ),
        (COMPLETE, {"friendlyName": "x", "attestationObjectB64": "%%", "clientDataJSON_B64": "AAAA"}, "Invalid credential"),
        (COMPLETE, {"friendlyName": "x", "attestationObjectB64": "AAAA", "clientDataJSON_B64": "AAAA"}, "Invalid credential"),
        (
            COMPLETE,
            {"friendlyName": "x", "attestationObjectB64": "A" * 20_000, "clientDataJSON_B64": "AAAA"},
            "Request too large",
        ),
    ],
)
def test_malformed_bodies_get_short_answers_and_change_nothing(pk, route, body, message):
    alice = pk.user(ALICE)
    authenticator, _ = pk.register(alice, "Kept")
    pk.api.call(START, alice, query={"rpId": RP_ID})  # a registration in progress, for COMPLETE
    assert pk.api.call(route, alice, body) == (400, {"message": message})
    assert [p["friendlyName"] for p in pk.listed(alice)] == ["Kept"]
    assert "AuthenticationResult" in pk.sign_in(ALICE, authenticator)


def test_the_management_api_logs_no_credential_id_handle_or_challenge(pk, log_lines, capfd):
    alice = pk.user(ALICE)
    authenticator, _ = pk.register(alice)
    _status, body = pk.api.call(CHALLENGE)
    first, answer = usernameless(pk, authenticator, body["challenge"])
    pk.app.respond(first, answer, FIDO2)
    first, options = pk.options(ALICE)
    pk.api.call(UPDATE, alice, {"credentialId": authenticator.id, "friendlyName": "Phone"})
    wrong = authenticator.assert_(options["challenge"], "https://evil.example", RP_ID)
    with pytest.raises(ClientError):
        pk.app.respond(first, json.dumps(wrong), FIDO2)
    pk.api.call(DELETE, alice, {"credentialId": authenticator.id})
    output = capfd.readouterr()
    logs = output.out + output.err + log_lines.getvalue()
    assert '"message":"passkey registered"' in logs and '"reason":"wrong_origin"' in logs  # the logs were captured
    secrets_ = (
        authenticator.id,
        b64url(authenticator.user_handle),
        alice["sub"] + "|",
        body["challenge"],
        options["challenge"],
        ALICE,
    )
    for secret in secrets_:
        assert secret not in logs, secret


# --- what the passkey path loads, and when ---------------------------------------------------------------

ROUND_ONE_PROBE = """
import json, os, sys
sys.path[:0] = {paths!r}
from moto import mock_aws
from localpool.deployment import deploy
from localpool.template import Template, load_handler
from localpool.triggers import LambdaContext
with mock_aws():
    deployed = deploy(parameters={parameters!r})
    os.environ.update(deployed.environment)
    handler = load_handler(Template().functions()["CreateAuthChallengeFunction"])
    event = json.load(open({event!r}))
    event["userPoolId"] = deployed.pool_id
    answer = handler(event, LambdaContext(function_name="CreateAuthChallengeFunction"))["response"]
    from keyless.aws.runtime import default_runtime
    built = sorted(name for name in ("dynamodb", "secretsmanager", "sesv2", "cognito") if name in vars(default_runtime()))
    print(json.dumps({{"methods": answer["publicChallengeParameters"]["methods"], "clients": built, "webauthn": "webauthn" in sys.modules}}))
"""


@pytest.mark.parametrize(
    "passkeys, expected",
    [
        ("Disabled", {"methods": "MAGIC_LINK,EMAIL_OTP", "clients": [], "webauthn": False}),
        (
            "Enabled",
            {"methods": "MAGIC_LINK,EMAIL_OTP,FIDO2", "clients": ["cognito", "dynamodb", "secretsmanager"], "webauthn": False},
        ),
    ],
)
def test_round_one_loads_no_webauthn_and_with_passkeys_off_calls_no_aws(passkeys, expected):
    """Round 1 with Passkeys=Disabled builds no AWS client (it makes no call); with them on it
    reads the user's passkeys (and the pseudonym key, and how the pool compares names: an unknown
    name's decoy is keyed that way), and neither loads py_webauthn."""
    root = Path(__file__).resolve().parent.parent
    probe = ROUND_ONE_PROBE.format(
        paths=[str(root / "shared"), str(root)],
        parameters={**PARAMETERS, "Passkeys": passkeys},
        event=str(root / "events/create_auth_challenge/first_round.json"),
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    out = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True, env=env, timeout=120, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == expected


def test_a_failure_answers_500_with_no_details_and_logs_an_error_without_its_message(pk, log_lines):
    alice = pk.user(ALICE)
    faults = Faults()
    runtime.reset(session=faults.session, clock=pk.clock)  # a new container whose AWS fails
    faults.fail("dynamodb", "Query", "ProvisionedThroughputExceededException", f"throttled for {ALICE}", times=None)
    assert pk.api.call(LIST, alice, query={"rpId": RP_ID}) == (500, {"message": "Internal Server Error"})
    logs = log_lines.getvalue()
    assert '"message":"management request failed"' in logs and '"level":"ERROR"' in logs
    assert '"error_code":"ProvisionedThroughputExceededException"' in logs and ALICE not in logs


LAYER_LOAD_PROBE = """
import json, sys
sys.path[:0] = {paths!r}
from keyless.aws.runtime import SignInRuntime
SignInRuntime().dynamodb  # botocore's HTTP session is loaded with the first client
before = sorted(name for name in ("webauthn", "OpenSSL", "cryptography", "cbor2") if name in sys.modules)
import webauthn
after = sorted(name for name in ("webauthn", "OpenSSL", "cryptography", "cbor2") if name in sys.modules)
print(json.dumps([before, after]))
"""


def test_the_layer_loads_no_passkey_library_until_the_passkey_path_does():
    """pyOpenSSL ships in the layer for py_webauthn, and botocore would load it (and cryptography)
    into every function that builds a client: keyless keeps botocore off urllib3's pyOpenSSL shim."""
    root = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")} | {"AWS_DEFAULT_REGION": "us-east-1"}
    probe = LAYER_LOAD_PROBE.format(paths=[str(root / "shared")])
    out = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True, env=env, timeout=60, check=True)
    before, after = json.loads(out.stdout.strip().splitlines()[-1])
    assert before == [] and {"webauthn", "OpenSSL", "cryptography", "cbor2"} <= set(after)
