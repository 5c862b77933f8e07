"""The device secret of the browser that asked for a link (SameDeviceLinksOnly): what is sent, what
is stored, and what proves it."""

from __future__ import annotations

import base64
import hashlib

import pytest

from keyless.core import protocol
from keyless.methods import magic_link

KEY = b"k" * 32
SECRET = base64.urlsafe_b64encode(b"\x01" * 32).rstrip(b"=").decode()


def test_the_device_hash_is_base64url_sha256_of_the_secrets_ascii():
    expected = base64.urlsafe_b64encode(hashlib.sha256(SECRET.encode()).digest()).rstrip(b"=").decode()
    assert magic_link.device_hash_of(SECRET) == expected and magic_link.is_device_hash(expected)


def test_the_table_keeps_a_keyed_binding_never_the_hash():
    device_hash = magic_link.device_hash_of(SECRET)
    binding = magic_link.device_binding(KEY, device_hash)
    assert binding and device_hash not in binding and binding != magic_link.device_binding(b"o" * 32, device_hash)


@pytest.mark.parametrize(
    "value", ["", "short", SECRET + "A", SECRET[:-1] + "=", SECRET[:-1] + "\n", SECRET + "\n", 42, None, ["x"]]
)
def test_anything_that_is_not_a_device_value_binds_nothing_and_proves_nothing(value):
    assert magic_link.device_binding(KEY, value) == ""
    metadata = {protocol.META_DEVICE_SECRET: value} if isinstance(value, str) else {}
    assert magic_link.device_proof(KEY, metadata) == ""


def test_the_secret_proves_the_binding_its_hash_made():
    binding = magic_link.device_binding(KEY, magic_link.device_hash_of(SECRET))
    assert magic_link.device_proof(KEY, {protocol.META_DEVICE_SECRET: SECRET}) == binding
    other = base64.urlsafe_b64encode(b"\x02" * 32).rstrip(b"=").decode()
    assert magic_link.device_proof(KEY, {protocol.META_DEVICE_SECRET: other}) != binding
