"""Links and codes: what a forger, a guesser or a table reader can and cannot do."""

import base64
import json
import secrets
from collections import Counter

import pytest

from keyless.methods import email_otp, magic_link

KEY = secrets.token_bytes(32)
POOL, CLIENT = "us-east-1_AbCdEf123", "4k2n1e5xampleclientid0a1b2c"


def subject(user: str, sub: str) -> magic_link.Subject:
    return magic_link.Subject(user, sub, POOL, CLIENT)


OTHER = secrets.token_bytes(32)


def test_link_round_trip_and_which_key():
    token = magic_link.issue_token(KEY, subject("user-1", "sub-1"), 2_000_000_000)
    claims, key = magic_link.read(token, [OTHER, KEY])
    assert claims == magic_link.LinkClaims(subject("user-1", "sub-1"), 2_000_000_000) and key == KEY


def test_links_are_unique_and_short():
    sub = "7c1e9a52-3d4b-4e8f-9a61-2b5c8d0e4f13"
    tokens = {magic_link.issue_token(KEY, subject(sub, sub), 2_000_000_000) for _ in range(100)}
    assert len(tokens) == 100
    assert max(map(len, tokens)) <= 360  # the AWS sample's KMS-signed links are about 480


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def test_payload_swap_between_users_breaks_the_signature():
    alice = magic_link.issue_token(KEY, subject("alice", "sub-alice"), 2_000_000_000)
    payload, signature = alice.split(".")
    for field, value in (("userName", "bob"), ("s", "sub-bob"), ("p", "us-east-1_Other"), ("c", "otherclient")):
        forged = b64({**json.loads(base64.urlsafe_b64decode(payload + "==")), field: value}) + "." + signature
        with pytest.raises(magic_link.InvalidLink):
            magic_link.read(forged, [KEY])


def test_extended_expiry_breaks_the_signature():
    token = magic_link.issue_token(KEY, subject("alice", "sub-alice"), 1)
    payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=="))
    with pytest.raises(magic_link.InvalidLink):
        magic_link.read(b64({**data, "exp": 9_999_999_999}) + "." + signature, [KEY])


@pytest.mark.parametrize("bad", ["", ".", "a.b.c", "x" * 2000, "abc", "abc.def", "é.é", None, 42])
def test_garbage_is_refused(bad):
    with pytest.raises(magic_link.InvalidLink):
        magic_link.read(bad, [KEY])


def test_signed_but_wrong_payload_types_are_refused():
    from keyless.methods.magic_link import _serializer

    whole = {"userName": "x", "s": "s", "p": POOL, "c": CLIENT, "exp": 2}
    for payload in (["userName", 1], {**whole, "userName": 1}, {**whole, "exp": "2"}, {**whole, "exp": True}, {**whole, "s": 1}, {**whole, "p": None},
                    {k: v for k, v in whole.items() if k != "c"}, {k: v for k, v in whole.items() if k != "s"}, "text"):  # fmt: skip
        with pytest.raises(magic_link.InvalidLink):
            magic_link.read(_serializer(KEY).dumps(payload), [KEY])


def test_token_hash_is_keyed():
    token = magic_link.issue_token(KEY, subject("alice", "sub-alice"), 2_000_000_000)
    assert magic_link.token_hash(KEY, token) != magic_link.token_hash(OTHER, token)
    assert token not in magic_link.token_hash(KEY, token)


def test_codes_have_the_right_length_and_leading_zeros():
    drawn = [email_otp.new_code(6) for _ in range(5000)]
    assert all(len(c) == 6 and c.isdigit() for c in drawn)
    assert any(c.startswith("0") for c in drawn)
    assert len(email_otp.new_code(8)) == 8


def test_code_digits_are_uniform():
    counts = Counter(d for _ in range(4000) for d in email_otp.new_code(6))
    expected = 4000 * 6 / 10
    chi2 = sum((counts[str(d)] - expected) ** 2 / expected for d in range(10))
    assert set(counts) == set("0123456789")
    assert chi2 < 33.7  # chi-squared, 9 degrees of freedom, p = 0.0001


def test_codes_come_from_secrets(monkeypatch):
    monkeypatch.setattr(email_otp.secrets, "randbelow", lambda n: 42)
    assert email_otp.new_code(6) == "000042"


@pytest.mark.parametrize(
    "answer, expected",
    [
        ("123456", "123456"),
        (" 123456\n", "123456"),
        ("012345", "012345"),
        ("12345", None),
        ("1234567", None),
        ("12 3456", None),
        ("١٢٣٤٥٦", None),
        ("１２３４５６", None),
        ("12345a", None),
        ("+12345", None),
        ("", None),
    ],
)
def test_code_answers_are_normalised_strictly(answer, expected):
    assert email_otp.normalize_answer(answer, 6) == expected


def test_code_hash_is_bound_to_flow_and_key():
    h = email_otp.code_hash(KEY, "flow-1", "123456")
    assert email_otp.matches([KEY], "flow-1", "123456", h)
    assert not email_otp.matches([KEY], "flow-2", "123456", h)
    assert not email_otp.matches([OTHER], "flow-1", "123456", h)
    assert email_otp.matches([OTHER, KEY], "flow-1", "123456", h)
    assert not email_otp.matches([KEY], "flow-1", "123456", "")
